"""Improvement actions (guide 7.3–7.4, SPEC "Improvement actions"): a suggestion becomes work
with an owner, a due date and a target metric; once done, its effect is the metric in the
period after it was done against its baseline period, tested as the trend is (two-proportion z
for percentages, Welch's t for indexes) and flagged `low_sample` under 30."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, case, func, or_, select

from callbacks.models import TASK_KINDS, CallbackTask
from core.db import db, utcnow
from core.i18n import in_locale
from core.timeutil import from_local, to_local
from reports.models import ImprovementAction, response_rollups
from reports.periods import period_of
from reports.rollups import sums
from reports.scope import local_today
from reports.stats import two_proportion_p
from surveys.models import DIMENSIONS

LOW_SAMPLE = 30
STATES = ("open", "done", "dropped")
PROPORTION_METRICS = ("csat", "resolution_rate")
INDEX_METRICS = ("satisfaction_index", "nps")
METRICS = (*PROPORTION_METRICS, *INDEX_METRICS, *(f"dimension:{d}" for d in DIMENSIONS),
           *(f"sla:{k}" for k in TASK_KINDS))
PERIOD_PATTERNS = {"month": re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$"),
                   "quarter": re.compile(r"^(\d{4})-Q([1-4])$"),
                   "week": re.compile(r"^(\d{4})-W(0[1-9]|[1-4]\d|5[0-3])$")}


class ActionError(ValueError):
    """A refused change, with a message for the person who asked for it."""


# ---- periods ---------------------------------------------------------------------------------

def parse_period(label: str) -> tuple[str, date, date]:
    """'2026-06' → ('month', 2026-06-01, 2026-06-30); also '2026-Q2' and '2026-W23'."""
    for kind, pattern in PERIOD_PATTERNS.items():
        match = pattern.match(label or "")
        if not match:
            continue
        year, part = int(match.group(1)), int(match.group(2))
        if not 2000 <= year <= 2100:
            break
        if kind == "month":
            start = date(year, part, 1)
            end = (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        elif kind == "quarter":
            start = date(year, 3 * part - 2, 1)
            end = (date(year + (part == 4), 1 if part == 4 else 3 * part + 1, 1)) - timedelta(days=1)
        else:
            try:
                start = date.fromisocalendar(year, part, 1)
            except ValueError:
                break
            end = start + timedelta(days=6)
        return kind, start, end
    raise ActionError(_("Give the baseline period as 2026-06 (month), 2026-Q2 (quarter) or 2026-W23 (week)."))


def period_label(kind: str, day: date) -> str:
    return period_of(day, kind)


def after_period(action: ImprovementAction) -> tuple[str, date, date] | None:
    """The period of the baseline's kind that follows the one in which the action was done."""
    if action.done_at is None:
        return None
    kind = parse_period(action.baseline_period)[0]
    done_day = to_local(action.done_at, None).date()
    end_of_done = parse_period(period_label(kind, done_day))[2]
    return parse_period(period_label(kind, end_of_done + timedelta(days=1)))


# ---- measuring a metric over a period ------------------------------------------------------------

@dataclass
class Sample:
    """A metric over one period: a proportion (k of n) or a mean with its variance."""
    n: int
    value: float | None
    k: int = 0
    variance: float | None = None


def _utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Local dates [start, end] in the reporting zone as a half-open UTC range."""
    return (from_local(datetime.combine(start, time.min), None),
            from_local(datetime.combine(end + timedelta(days=1), time.min), None))


def _proportion(k: int, n: int) -> Sample:
    return Sample(n=n, k=k, value=round(100 * k / n, 1) if n else None)


def _moments(n: int, total: float, squares: float, scale: float = 1.0, shift: float = 0.0) -> Sample:
    """Mean and sample variance of a linear transform (x + shift) * scale from raw sums."""
    if not n:
        return Sample(n=0, value=None)
    mean = total / n
    variance = (squares - n * mean * mean) / (n - 1) if n > 1 else None
    return Sample(n=n, value=round((mean + shift) * scale, 1),
                  variance=max(variance, 0.0) * scale * scale if variance is not None else None)


def measure(metric: str, start: date, end: date) -> Sample:
    """The metric over local dates [start, end]: response metrics from the rollups' sums (exact:
    a count, a sum and a sum of squares per day), callback SLAs from the tasks."""
    if metric.startswith("sla:"):
        low, high = _utc_bounds(start, end)
        task = CallbackTask
        judged = or_(task.met_at.is_not(None), task.due_at < utcnow())
        row = db.session.execute(select(
            func.count(), func.sum(case((and_(task.met_at.is_not(None), task.met_at <= task.due_at), 1), else_=0)))
            .where(task.kind == metric[4:], task.due_at >= low, task.due_at < high, judged)).one()
        return _proportion(row[1] or 0, row[0])
    s = sums(response_rollups, start, end)[0]
    if metric == "csat":
        return _proportion(s["top2"], s["overall_n"])
    if metric == "resolution_rate":
        return _proportion(s["resolved_yes"], s["resolved_n"])
    if metric == "nps":
        # Each answer scores +100 (promoter), 0 (passive) or −100 (detractor): NPS is their mean;
        # the codes' sum is promoters − detractors, their squares' sum promoters + detractors.
        return _moments(s["nps_n"], s["promoters"] - s["detractors"], s["promoters"] + s["detractors"], scale=100)
    if metric == "satisfaction_index":
        return _moments(s["si_n"], s["si_sum"], s["si_sq"])
    d = metric.split(":", 1)[1]
    return _moments(s[f"{d}_n"], s[f"{d}_sum"], s[f"{d}_sq"], scale=25, shift=-1)  # item index = (s − 1) / 4 × 100


def compare(metric: str, before: Sample, after: Sample) -> dict[str, Any]:
    """The effect: both values, the change, the test's p-value and flags."""
    p_value = None
    if metric in PROPORTION_METRICS or metric.startswith("sla:"):
        p_value = two_proportion_p(before.k, before.n, after.k, after.n)
    elif before.variance is not None and after.variance is not None and before.variance + after.variance > 0:
        # scipy.stats takes 80 MB: loaded by the reports that test an effect, not by every process
        from scipy.stats import ttest_ind_from_stats
        result = ttest_ind_from_stats(before.value, math.sqrt(before.variance), before.n,
                                      after.value, math.sqrt(after.variance), after.n, equal_var=False)
        p_value = float(result.pvalue) if not math.isnan(result.pvalue) else None
    change = round(after.value - before.value, 1) if before.value is not None and after.value is not None else None
    return {"baseline": before.value, "after": after.value, "change": change,
            "p_value": round(p_value, 4) if p_value is not None else None,
            "significant": p_value is not None and p_value < 0.05,
            "low_sample": min(before.n, after.n) < LOW_SAMPLE,
            "n_baseline": before.n, "n_after": after.n}


def effect(action: ImprovementAction, today: date | None = None) -> dict[str, Any] | None:
    """Measured once the action is done and the period after it has ended; None before."""
    if action.state != "done":
        return None
    following = after_period(action)
    today = today or local_today()
    if following is None or following[2] >= today:
        return None
    _kind, base_start, base_end = parse_period(action.baseline_period)
    result = compare(action.metric, measure(action.metric, base_start, base_end),
                     measure(action.metric, following[1], following[2]))
    return {**result, "baseline_period": action.baseline_period,
            "after_period": period_label(following[0], following[1])}


# ---- changes ---------------------------------------------------------------------------------

def create_action(title: str, owner_id: int, due_date: date, metric: str, baseline_period: str,
                  created_by_id: int | None, source: str = "") -> ImprovementAction:
    """Validates and adds an action to the session (the caller commits)."""
    title = (title or "").strip()
    if not title:
        raise ActionError(_("Give the action a title."))
    if metric not in METRICS:
        raise ActionError(_("Choose one of the listed metrics."))
    parse_period(baseline_period)
    action = ImprovementAction(title=title[:200], owner_id=owner_id, due_date=due_date, metric=metric,
                               baseline_period=baseline_period, state="open", source=source[:2000],
                               created_by_id=created_by_id, created_at=utcnow())
    db.session.add(action)
    return action


def set_state(action: ImprovementAction, state: str, note: str = "", now: datetime | None = None) -> None:
    if state not in STATES:
        raise ActionError(_("Choose one of the listed states."))
    action.state = state
    action.done_at = (now or utcnow()) if state == "done" else None
    if note.strip():
        action.note = note.strip()[:2000]


def notify_overdue(now: datetime | None = None) -> int:
    """Scheduler job: one e-mail to the owner of each open action past its due date."""
    from channels.services import queue_message

    now = now or utcnow()
    today = to_local(now, None).date()
    due = db.session.scalars(select(ImprovementAction).where(
        ImprovementAction.state == "open", ImprovementAction.due_date < today,
        ImprovementAction.overdue_notified_at.is_(None))).all()
    for action in due:
        with in_locale(getattr(action.owner, "locale", None) or "zh-CN"):
            subject = _("Improvement action overdue: %(title)s", title=action.title)
            body = _("The improvement action “%(title)s” was due on %(due)s and is still open. "
                     "Mark it done or dropped, or agree a new date with your manager.",
                     title=action.title, due=action.due_date.isoformat())
        queue_message("email", action.owner.email, "action_overdue", body, subject=subject, now=now)
        action.overdue_notified_at = now
    db.session.commit()
    return len(due)


def follow_up_plan(today: date | None = None) -> list[dict[str, Any]]:
    """The report's follow-up plan (后续计划): open actions, and done ones with their effect."""
    actions = db.session.scalars(select(ImprovementAction).where(ImprovementAction.state.in_(("open", "done")))
                                 .order_by(ImprovementAction.state.desc(), ImprovementAction.due_date)).all()
    return [{"title": a.title, "metric": a.metric, "state": a.state,
             "owner": a.owner.name if a.owner else "", "due_date": a.due_date.isoformat(),
             "baseline_period": a.baseline_period, "effect": effect(a, today)} for a in actions]
