"""What the PDF and the dashboard show of a report: names, charts and tables in one locale."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.i18n import in_locale
from core.labels import label
from core.timeutil import parse_iso, to_local
from reports.charts import data_uri, driver_chart, trend_chart
from reports.labels import METRIC_LABELS, STATE_LABELS
from reports.suggestions import DIMENSION_NAMES, TASK_NAMES, THEME_NAMES
from reports.svgcharts import driver_svg, trend_svg

QUADRANTS = {"key_strength": _l("key strength"), "key_weakness": _l("key weakness"),
             "mixed_strength": _l("secondary strength"), "mixed_weakness": _l("secondary weakness")}
BREAKDOWN_NAMES = {"channel": _l("By channel"), "ticket_kind": _l("By ticket kind"),
                   "region": _l("By region"), "agent": _l("By agent")}
BREAKDOWN_HEADS = {"channel": _l("Channel"), "ticket_kind": _l("Ticket kind"), "region": _l("Region"),
                   "agent": _l("Agent")}


def themes_source(source: dict | None) -> dict[str, str] | None:
    """When the stored themes were computed (local time) and, if they are another scope's,
    which dates and filters they cover, in the reader's words."""
    if source is None:
        return None
    filters = ", ".join(f"{BREAKDOWN_HEADS[k]}: {label(k, v) if k in ('channel', 'ticket_kind') else v}"
                        for k, v in source["filters"].items())
    scope = f"{source['date_from']} – {source['date_to']}" + (f" ({filters})" if filters else "")
    return {"when": to_local(parse_iso(source["computed_at"]), None).strftime("%Y-%m-%d %H:%M"),
            "scope": scope, "exact": source["exact"]}


def present(report: dict[str, Any], locale: str, fast_charts: bool = False) -> dict[str, Any]:
    """fast_charts: SVG written directly (the dashboard, on every view) instead of matplotlib's
    (the PDF, rendered once)."""
    trend, drivers = (trend_svg, driver_svg) if fast_charts else (trend_chart, driver_chart)
    with in_locale(locale):
        names = {k: str(v) for k, v in DIMENSION_NAMES.items()}
        charts = {
            "trend": data_uri(trend(report["trend"], {"si": _("Satisfaction index"),
                                                      "ci": _("CSAT 95% interval"), "title": _("Trend")})),
            "drivers": data_uri(drivers(report["dimensions"], names, {
                "x": _("Importance (correlation with overall satisfaction)"),
                "y": _("Performance (index 0–100)"),
                "weakness": _("improve first: important, low score"),
                "strength": _("keep: important, high score")})),
        }
        return {"charts": charts, "dimension_names": names, "themes_source": themes_source(report.get("themes_source")),
                "quadrants": {k: str(v) for k, v in QUADRANTS.items()},
                "task_names": {k: str(v) for k, v in TASK_NAMES.items()},
                "theme_names": {k: str(v) for k, v in THEME_NAMES.items()},
                "breakdown_names": {k: str(v) for k, v in BREAKDOWN_NAMES.items()},
                "breakdown_heads": {k: str(v) for k, v in BREAKDOWN_HEADS.items()},
                "metric_labels": {k: str(v) for k, v in METRIC_LABELS.items()},
                "state_labels": {k: str(v) for k, v in STATE_LABELS.items()}}
