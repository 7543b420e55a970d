"""Charts as SVG (matplotlib), with a CJK font so Chinese labels show as glyphs."""
from __future__ import annotations

import base64
import functools
import io

BLUE, ORANGE, RED, GREY = "#0b6bcb", "#ef6c00", "#c62828", "#8a94a3"


@functools.cache
def pyplot():
    """matplotlib on first use only: it is the heaviest import of the app (~60 MB)."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update({
        "font.family": "sans-serif",
        "font.sans-serif": ["Noto Sans CJK SC", "Noto Sans CJK JP", "WenQuanYi Micro Hei", "DejaVu Sans"],
        "axes.unicode_minus": False, "svg.fonttype": "none", "font.size": 9,
        "axes.spines.top": False, "axes.spines.right": False,
    })
    import matplotlib.pyplot as plt
    return plt


def _svg(fig) -> str:
    plt = pyplot()
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def _series(trend: list[dict], key: str) -> list[float]:
    """A figure per period; a period without one is a gap (NaN) in the line."""
    return [float("nan") if t[key] is None else t[key] for t in trend]


def trend_chart(trend: list[dict], labels: dict[str, str]) -> str:
    """SI and CSAT per period; CSAT with its 95 % interval band; significant changes marked;
    low-sample periods hollow."""
    periods = [t["period"] for t in trend]
    x = list(range(len(periods)))
    fig, ax = pyplot().subplots(figsize=(7.2, 3.0))
    ax.fill_between(x, _series(trend, "csat_ci_low"), _series(trend, "csat_ci_high"), color=ORANGE,
                    alpha=0.15, label=labels["ci"])
    ax.plot(x, _series(trend, "csat"), color=ORANGE, marker="o", label="CSAT %")
    ax.plot(x, _series(trend, "satisfaction_index"), color=BLUE, marker="s", label=labels["si"])
    for i, t in enumerate(trend):
        if t["low_sample"] and t["csat"] is not None:
            ax.plot(i, t["csat"], marker="o", markersize=9, markerfacecolor="white", markeredgecolor=ORANGE)
        if t["significant"]:
            ax.annotate("*", (i, t["csat"]), textcoords="offset points", xytext=(0, 8), ha="center",
                        color=RED, fontsize=16, fontweight="bold")
    ax.set_xticks(x, periods, rotation=30 if len(periods) > 8 else 0)
    ax.set_ylim(0, 100)
    ax.grid(axis="y", color="#e6e9ee")
    ax.legend(loc="lower left", frameon=False, ncol=3)
    return _svg(fig)


def driver_chart(dimensions: dict[str, dict], names: dict[str, str], labels: dict[str, str]) -> str:
    """Importance (correlation with overall) against performance (index), split at the means."""
    points = {k: v for k, v in dimensions.items() if v["importance"] is not None and v["index"] is not None}
    fig, ax = pyplot().subplots(figsize=(5.6, 3.6))
    if points:
        xs = [v["importance"] for v in points.values()]
        ys = [v["index"] for v in points.values()]
        mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
        ax.axvline(mean_x, color=GREY, linestyle="--", linewidth=0.8)
        ax.axhline(mean_y, color=GREY, linestyle="--", linewidth=0.8)
        ax.scatter(xs, ys, s=60, color=BLUE, zorder=3)
        for key, v in points.items():
            ax.annotate(names.get(key, key), (v["importance"], v["index"]), textcoords="offset points",
                        xytext=(6, 4))
        pad_x = max(0.05, (max(xs) - min(xs)) * 0.3)
        pad_y = max(5.0, (max(ys) - min(ys)) * 0.3)
        ax.set_xlim(min(xs) - pad_x, max(xs) + pad_x)
        ax.set_ylim(max(0, min(ys) - pad_y), min(100, max(ys) + pad_y))
        ax.text(0.99, 0.02, labels["weakness"], transform=ax.transAxes, ha="right", color=RED)
        ax.text(0.99, 0.95, labels["strength"], transform=ax.transAxes, ha="right", color=BLUE)
    ax.set_xlabel(labels["x"])
    ax.set_ylabel(labels["y"])
    return _svg(fig)

