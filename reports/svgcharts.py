"""The dashboard's charts as SVG written directly: a few hundred bytes of markup each, built in
well under a millisecond. matplotlib (reports.charts) takes a second or more per chart, which
the PDF can afford once and the dashboard cannot on every view. Same content as the PDF's:
trend with the CSAT interval band, significant changes and low samples; the driver quadrants."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from reports.charts import BLUE, GREY, ORANGE, RED

FONT = 'font-family="Noto Sans CJK SC, WenQuanYi Micro Hei, sans-serif" font-size="11"'
GRID = "#e6e9ee"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" {FONT}><title>{escape(title)}</title>{"".join(body)}</svg>')


def _text(x: float, y: float, words: str, anchor: str = "start", color: str = "#333", extra: str = "") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" fill="{color}" {extra}>{escape(words)}</text>'


def _runs(points: Sequence[tuple[float, float | None]]) -> list[list[tuple[float, float]]]:
    """Unbroken stretches of known values: a period without a figure is a gap in the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in points:
        if y is None:
            runs.append([])
        else:
            runs[-1].append((x, y))
    return [run for run in runs if run]


def _polyline(run: list[tuple[float, float]], color: str) -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
    return f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>'


def trend_svg(trend: list[dict], labels: dict[str, str]) -> str:
    """SI and CSAT per period, CSAT's 95 % interval as a band, * over significant changes,
    hollow markers on low-sample periods."""
    count = max(len(trend), 1)
    # Room for the period labels at the ends: up to 8 are centred under their points (half the
    # last one sticks out right); more are slanted and end at their point (the first sticks
    # out left, under the axis labels).
    width, height, top, bottom = 720, 300, 28, 46
    left, right = (40, 34) if count <= 8 else (72, 12)
    step = (width - left - right) / max(count - 1, 1)
    x_of: Callable[[int], float] = lambda i: left + (step * i if count > 1 else (width - left - right) / 2)  # noqa: E731
    y_of: Callable[[float], float] = lambda v: top + (height - top - bottom) * (1 - v / 100)  # noqa: E731
    body = []
    for v in range(0, 101, 20):
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y_of(v):.1f}" y2="{y_of(v):.1f}" stroke="{GRID}"/>')
        body.append(_text(left - 6, y_of(v) + 4, str(v), "end", GREY))
    band = [(x_of(i), t["csat_ci_low"], t["csat_ci_high"]) for i, t in enumerate(trend)]
    for run in _runs([(i, None if low is None or high is None else i) for i, (_x, low, high) in enumerate(band)]):
        upper = [f"{band[i][0]:.1f},{y_of(band[i][2]):.1f}" for _x, i in run]
        lower = [f"{band[i][0]:.1f},{y_of(band[i][1]):.1f}" for _x, i in reversed(run)]
        body.append(f'<polygon points="{" ".join(upper + lower)}" fill="{ORANGE}" fill-opacity="0.15"/>')
    for key, color in (("csat", ORANGE), ("satisfaction_index", BLUE)):
        points = [(x_of(i), None if t[key] is None else y_of(t[key])) for i, t in enumerate(trend)]
        for run in _runs(points):
            body.append(_polyline(run, color))
        for i, t in enumerate(trend):
            if t[key] is None:
                continue
            hollow = key == "csat" and t["low_sample"]
            fill = "white" if hollow else color
            if key == "csat":
                body.append(f'<circle cx="{x_of(i):.1f}" cy="{y_of(t[key]):.1f}" r="{5 if hollow else 3.5}" '
                            f'fill="{fill}" stroke="{color}" stroke-width="1.5"/>')
            else:
                body.append(f'<rect x="{x_of(i) - 3.5:.1f}" y="{y_of(t[key]) - 3.5:.1f}" width="7" height="7" '
                            f'fill="{color}"/>')
    for i, t in enumerate(trend):
        if t["significant"] and t["csat"] is not None:
            body.append(_text(x_of(i), y_of(t["csat"]) - 9, "*", "middle", RED, 'font-size="18" font-weight="bold"'))
        rotate = f'transform="rotate(-30 {x_of(i):.1f} {height - bottom + 16})"' if count > 8 else ""
        body.append(_text(x_of(i), height - bottom + 16, t["period"], "end" if count > 8 else "middle", "#333", rotate))
    legend = ((ORANGE, labels["ci"], True), (ORANGE, "CSAT %", False), (BLUE, labels["si"], False))
    x = left
    for color, name, is_band in legend:
        mark = (f'<rect x="{x}" y="8" width="14" height="10" fill="{color}" fill-opacity="0.15"/>' if is_band
                else f'<line x1="{x}" x2="{x + 14}" y1="13" y2="13" stroke="{color}" stroke-width="2"/>')
        body += [mark, _text(x + 18, 17, name)]
        x += 30 + 7 * len(name.encode())  # CJK characters take three bytes and about twice the width
    return _svg(width, height, labels.get("title", "CSAT %"), body)


def driver_svg(dimensions: dict[str, dict], names: dict[str, str], labels: dict[str, str]) -> str:
    """Importance (correlation with overall) against performance (index), split at the means."""
    width, height, left, right, top, bottom = 560, 360, 52, 16, 16, 42
    points = {k: v for k, v in dimensions.items() if v["importance"] is not None and v["index"] is not None}
    body = [_text((left + width - right) / 2, height - 6, labels["x"], "middle"),
            _text(14, (top + height - bottom) / 2, labels["y"], "middle", "#333",
                  f'transform="rotate(-90 14 {(top + height - bottom) / 2:.1f})"'),
            f'<line x1="{left}" x2="{left}" y1="{top}" y2="{height - bottom}" stroke="#333"/>',
            f'<line x1="{left}" x2="{width - right}" y1="{height - bottom}" y2="{height - bottom}" stroke="#333"/>']
    if points:
        xs = [v["importance"] for v in points.values()]
        ys = [v["index"] for v in points.values()]
        pad_x, pad_y = max(0.05, (max(xs) - min(xs)) * 0.3), max(5.0, (max(ys) - min(ys)) * 0.3)
        x0, x1 = min(xs) - pad_x, max(xs) + pad_x
        y0, y1 = max(0, min(ys) - pad_y), min(100, max(ys) + pad_y)
        if y1 <= y0:
            y0, y1 = y0 - 5, y1 + 5
        px = lambda v: left + (width - left - right) * (v - x0) / (x1 - x0)  # noqa: E731
        py = lambda v: top + (height - top - bottom) * (1 - (v - y0) / (y1 - y0))  # noqa: E731
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        dash = f'stroke="{GREY}" stroke-dasharray="4 3"'
        body += [f'<line x1="{px(mean_x):.1f}" x2="{px(mean_x):.1f}" y1="{top}" y2="{height - bottom}" {dash}/>',
                 f'<line x1="{left}" x2="{width - right}" y1="{py(mean_y):.1f}" y2="{py(mean_y):.1f}" {dash}/>']
        for tick in (x0, (x0 + x1) / 2, x1):
            body.append(_text(px(tick), height - bottom + 14, f"{tick:.2f}", "middle", GREY))
        for tick in (y0, (y0 + y1) / 2, y1):
            body.append(_text(left - 4, py(tick) + 4, f"{tick:.0f}", "end", GREY))
        for key, v in points.items():
            body.append(f'<circle cx="{px(v["importance"]):.1f}" cy="{py(v["index"]):.1f}" r="6" fill="{BLUE}"/>')
            body.append(_text(px(v["importance"]) + 8, py(v["index"]) - 5, names.get(key, key)))
        body += [_text(width - right, height - bottom - 6, labels["weakness"], "end", RED),
                 _text(width - right, top + 10, labels["strength"], "end", BLUE)]
    return _svg(width, height, labels["x"], body)
