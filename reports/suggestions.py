"""Improvement suggestions generated from the figures; each names the figure that triggered it."""
from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from core.i18n import in_locale

SLA_TARGET = 90.0  # % of tasks on time below which a suggestion is made

DIMENSION_NAMES = {"attitude": _l("staff service attitude"), "efficiency": _l("handling efficiency"),
                   "stability": _l("network and system stability"), "after_sales": _l("after-sales service")}
THEME_NAMES = {"attitude": _l("service attitude"), "efficiency": _l("speed and waiting"),
               "stability": _l("network stability"), "billing": _l("billing and charges"),
               "after_sales": _l("after-sales and repairs")}
TASK_NAMES = {"post_handling": _l("post-handling callbacks (48 h)"),
              "complaint_accept": _l("complaint acceptance (24 h)"),
              "complaint_investigate": _l("complaint investigation (72 h)"),
              "complaint_feedback": _l("complaint result feedback (3 working days)"),
              "complaint_followup": _l("second follow-up of reopened complaints (72 h)"),
              "detractor": _l("follow-up of unhappy respondents (24 h)")}
DRIVER_ACTIONS = {"attitude": _l("coach front-line staff on courtesy and patience, and review recorded calls with low attitude scores"),
                  "efficiency": _l("shorten handling time: fewer hand-offs, first-contact resolution, clear time promises"),
                  "stability": _l("work with network operations on the regions and faults behind the low stability scores"),
                  "after_sales": _l("tighten after-sales follow-up: repair appointments kept and a callback after every visit")}


def _driver_suggestions(report: dict) -> list[dict]:
    out = []
    for key in report["drivers"][:2]:
        d = report["dimensions"][key]
        if d["priority"] is None or d["importance"] is None or d["importance"] <= 0:
            continue
        out.append({"text": _("Improve %(dimension)s: %(action)s.", dimension=DIMENSION_NAMES[key],
                              action=DRIVER_ACTIONS[key]),
                    "reason": _("Key driver %(key)s: priority %(priority)s = importance %(importance)s × (100 − performance %(index)s).",
                                key=DIMENSION_NAMES[key], priority=d["priority"], importance=d["importance"], index=d["index"]),
                    "metric": f"dimension:{key}"})
    return out


def _trend_suggestions(report: dict) -> list[dict]:
    out = []
    trend = report["trend"]
    for previous, current in zip(trend, trend[1:], strict=False):
        if current["significant"] and current["csat"] is not None and previous["csat"] is not None \
                and current["csat"] < previous["csat"]:
            out.append({"text": _("Find out what changed in %(period)s: CSAT fell from %(before)s%% to %(after)s%%.",
                                  period=current["period"], before=previous["csat"], after=current["csat"]),
                        "reason": _("Trend: two-proportion z-test on CSAT, p = %(p)s < 0.05.", p=current["p_value"]),
                        "metric": "csat"})
    return out


def _sla_suggestions(report: dict) -> list[dict]:
    out = []
    for kind, s in sorted(report["callbacks"].items(), key=lambda kv: kv[1]["sla"] or 0):
        if s["sla"] is not None and s["sla"] < SLA_TARGET:
            out.append({"text": _("Meet the deadline of %(task)s: add staff at peak times and act on the escalations.",
                                  task=TASK_NAMES.get(kind, kind)),
                        "reason": _("Callback SLA %(kind)s: %(on_time)s of %(total)s on time (%(sla)s%%, target %(target)s%%).",
                                    kind=TASK_NAMES.get(kind, kind), on_time=s["on_time"], total=s["total"], sla=s["sla"], target=SLA_TARGET),
                        "metric": f"sla:{kind}"})
    return out


def _complaint_suggestions(report: dict) -> list[dict]:
    categories = report["complaint_categories"]
    if not categories:
        return []
    top = categories[0]
    total = sum(c["count"] for c in categories)
    return [{"text": _("Tackle the most frequent complaint, “%(category)s”, at its root cause.", category=top["category"]),
             "reason": _("Complaint categories: %(category)s is %(count)s of %(total)s complaints.",
                         category=top["category"], count=top["count"], total=total),
             "metric": "resolution_rate"}]


def _theme_suggestions(report: dict) -> list[dict]:
    themes = report["comment_themes"]["themes"]
    if not themes:
        return []
    top = themes[0]
    return [{"text": _("Read what customers write about %(theme)s: it is the most frequent comment theme.",
                       theme=THEME_NAMES.get(top["theme"], top["theme"])),
             "reason": _("Comment themes: %(theme)s in %(count)s of %(comments)s comments.",
                         theme=THEME_NAMES.get(top["theme"], top["theme"]), count=top["count"], comments=report["comment_themes"]["comments"]),
             "metric": "satisfaction_index"}]


def suggestions(report: dict[str, Any], locale: str) -> list[dict[str, str]]:
    with in_locale(locale):
        found = (_driver_suggestions(report) + _trend_suggestions(report) + _sla_suggestions(report)
                 + _complaint_suggestions(report) + _theme_suggestions(report))
        # `metric` names the figure a manager would aim an improvement action at.
        return [{"text": str(s["text"]), "reason": str(s["reason"]), "metric": s["metric"]} for s in found]
