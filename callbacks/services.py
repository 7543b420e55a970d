"""Callback tasks: creation, claiming, attempts with a retry policy, closing, escalation."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from blinker import Namespace
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update

from callbacks.deadlines import deadline
from callbacks.models import (
    ACTIVE_STATES,
    KIND_PRIORITY,
    MET_BY_CLOSURE,
    OUTCOMES,
    RESOLUTION_CATEGORIES,
    WORKED_STATES,
    Attempt,
    CallbackTask,
    TaskEvent,
)
from core.db import db, is_postgres, utcnow
from core.events import publish
from core.i18n import STAFF_LOCALE, in_locale
from core.labels import label
from core.settings import get_rules
from core.timeutil import to_local

UNREACHED = ("no_answer", "busy")

# Other areas follow a task's milestones without callbacks knowing them: a complaint case
# advances its stage when its work item is met. A receiver may raise TaskError to refuse the
# step (nothing is committed then). Sent with the task; keyword arguments user_id and at.
signals = Namespace()
task_met = signals.signal("task-met")


class TaskError(ValueError):
    """A step the task's state does not allow; the message is shown to staff."""


def create_task(kind: str, customer_id: int, due_at: datetime, *, ticket_id: int | None = None,
                response_id: int | None = None) -> CallbackTask:
    task = CallbackTask(kind=kind, customer_id=customer_id, ticket_id=ticket_id,
                        response_id=response_id, due_at=due_at, priority=KIND_PRIORITY[kind])
    db.session.add(task)
    db.session.flush()
    db.session.add(TaskEvent(task_id=task.id, kind="created", detail=kind))
    publish("task.created", task.as_json())
    return task


def needs_followup(response) -> bool:
    """SPEC flow 4: overall <= 2, NPS <= 6, or "please call me"."""
    return bool((response.overall is not None and response.overall <= 2)
                or (response.nps is not None and response.nps <= 6)
                or response.wants_callback)


def open_followup_if_needed(response) -> CallbackTask | None:
    if response.customer_id is None or not needs_followup(response):
        return None
    rules = get_rules()
    due = deadline("detractor", response.completed_at, rules, None)
    return create_task("detractor", response.customer_id, due, ticket_id=response.ticket_id,
                       response_id=response.id)


def claim(task_id: int, user_id: int, now: datetime | None = None) -> bool:
    """Exactly one of several staff claiming at once wins: a conditional UPDATE."""
    now = now or utcnow()
    won = db.session.execute(
        update(CallbackTask)
        .where(CallbackTask.id == task_id, CallbackTask.state.in_(("open", "escalated")))
        .values(state="claimed", owner_id=user_id, claimed_at=now)).rowcount == 1
    if won:
        db.session.add(TaskEvent(task_id=task_id, kind="claimed", user_id=user_id, at=now))
    db.session.commit()
    return won


def release(task: CallbackTask, user_id: int) -> None:
    if task.state not in WORKED_STATES:
        raise TaskError(_l("only a claimed task can be released"))
    task.state, task.owner_id = "open", None
    db.session.add(TaskEvent(task_id=task.id, kind="released", user_id=user_id))
    db.session.commit()


def is_worked_by(task: CallbackTask, user_id: int) -> bool:
    """Only the owner of a claimed task may call, record and close it (and see the full number)."""
    return task.state in WORKED_STATES and task.owner_id == user_id


def _require_owner(task: CallbackTask, user_id: int) -> None:
    if not is_worked_by(task, user_id):
        raise TaskError(_l("claim the task before working on it"))


def record_attempt(task: CallbackTask, user_id: int, outcome: str, notes: str = "",
                   callback_at: datetime | None = None, now: datetime | None = None,
                   rules: dict[str, Any] | None = None) -> Attempt:
    """Logs a call and applies the retry policy: unreached customers are retried at least
    `retry_gap_hours` apart, and after `retry_max_attempts` the task is unreachable."""
    now = now or utcnow()
    rules = rules or get_rules()
    _require_owner(task, user_id)
    if outcome not in OUTCOMES:
        raise TaskError(_l("choose one of the outcomes in the list"))
    if outcome == "call_back_later" and (callback_at is None or callback_at <= now):
        raise TaskError(_l("give a future time to call back"))
    attempt = Attempt(staff_id=user_id, at=now, outcome=outcome, notes=notes,
                      callback_at=callback_at if outcome == "call_back_later" else None)
    task.attempts.append(attempt)
    unreached = sum(a.outcome in UNREACHED for a in task.attempts)
    if outcome == "reached":
        task.state = "in_progress"
        if task.kind not in MET_BY_CLOSURE and task.met_at is None:
            task.met_at = now
            task_met.send(task, user_id=user_id, at=now)
    elif outcome == "wrong_number" or outcome in UNREACHED and unreached >= int(rules["retry_max_attempts"]):
        _finish(task, "unreachable", now)
    elif outcome in UNREACHED:
        task.state = "waiting"
        task.next_attempt_at = now + timedelta(hours=float(rules["retry_gap_hours"]))
    else:  # call back later
        task.state, task.next_attempt_at = "waiting", callback_at
    db.session.commit()
    return attempt


def _finish(task: CallbackTask, state: str, now: datetime) -> None:
    task.state, task.closed_at, task.next_attempt_at = state, now, None
    db.session.add(TaskEvent(task_id=task.id, kind=state, at=now))
    publish("task.closed", task.as_json(), now=now)


def close(task: CallbackTask, user_id: int, resolution_category: str, resolved: bool,
          root_cause: str = "", now: datetime | None = None) -> None:
    now = now or utcnow()
    _require_owner(task, user_id)
    if resolution_category not in RESOLUTION_CATEGORIES:
        raise TaskError(_l("choose one of the resolutions in the list"))
    if task.kind not in MET_BY_CLOSURE and not any(a.outcome == "reached" for a in task.attempts):
        raise TaskError(_l("record the call that reached the customer before closing"))
    task.resolution_category, task.resolved, task.root_cause = resolution_category, resolved, root_cause
    if task.kind in MET_BY_CLOSURE:
        task.met_at = now
        task_met.send(task, user_id=user_id, at=now)
    _finish(task, "done", now)
    db.session.commit()


def finish_for_case(task: CallbackTask, user_id: int | None, detail: str, now: datetime | None = None) -> None:
    """The case's stage was completed on the case page: its work item is done too (the
    caller commits). A task already finished stays as it is."""
    now = now or utcnow()
    if task.state not in ACTIVE_STATES:
        return
    if task.met_at is None:
        task.met_at = now
    task.state, task.closed_at, task.next_attempt_at = "done", now, None
    db.session.add(TaskEvent(task_id=task.id, kind="done", at=now, detail=detail, user_id=user_id))


def reopen_waiting(now: datetime | None = None) -> int:
    """'Call back later' and retry times that have come: the task is back on the list."""
    now = now or utcnow()
    tasks = list(db.session.scalars(select(CallbackTask).where(
        CallbackTask.state == "waiting", CallbackTask.next_attempt_at <= now)))
    for task in tasks:
        task.state = "open"
        db.session.add(TaskEvent(task_id=task.id, kind="reopened", at=now))
    db.session.commit()
    return len(tasks)


def escalate_overdue(now: datetime | None = None) -> list[CallbackTask]:
    """Overdue tasks move up a tier (at most 3), leave their owner and notify supervisors;
    a task escalates again only after `escalation_interval_hours`."""
    from channels.services import queue_message

    now = now or utcnow()
    rules = get_rules()
    query = select(CallbackTask).where(
        CallbackTask.state.in_(ACTIVE_STATES), CallbackTask.due_at < now, CallbackTask.tier < 3,
        or_(CallbackTask.escalate_after.is_(None), CallbackTask.escalate_after <= now))
    if is_postgres():
        query = query.with_for_update(skip_locked=True)
    tasks = list(db.session.scalars(query))
    for task in tasks:
        task.tier += 1
        task.state, task.owner_id = "escalated", None
        task.escalate_after = now + timedelta(hours=float(rules["escalation_interval_hours"]))
        db.session.add(TaskEvent(task_id=task.id, kind="escalated", at=now, detail=f"tier {task.tier}"))
        subject, body = _escalation_notice(task)
        for address in rules["supervisor_emails"]:
            queue_message("email", address, "escalation", body, subject=subject, task_id=task.id, now=now)
    db.session.commit()
    return tasks


def _escalation_notice(task: CallbackTask) -> tuple[str, str]:
    """Subject and text of the supervisors' e-mail, in the operator's language (zh-CN)."""
    from flask import current_app

    with in_locale(STAFF_LOCALE):
        subject = _("[Huifang] Task #%(id)s escalated to tier %(tier)s", id=task.id, tier=task.tier)
        body = _("Callback task #%(id)s (%(kind)s) was due at %(due)s and is overdue: it is now at tier %(tier)s.",
                 id=task.id, kind=label("task_kind", task.kind), tier=task.tier,
                 due=to_local(task.due_at, None).strftime("%Y-%m-%d %H:%M"))
    return subject, f"{body}\n{current_app.config['PUBLIC_BASE_URL']}/callbacks/{task.id}"


def work_list_query(*, kind: str | None = None, tier: int | None = None, region: str | None = None,
                    states: tuple[str, ...] = ("open", "escalated", "claimed", "in_progress", "waiting"),
                    owner_id: int | None = None):
    """Due first, then the most urgent kind; filters by kind, tier and region."""
    from tickets.models import Ticket

    query = select(CallbackTask).where(CallbackTask.state.in_(states))
    if kind:
        query = query.where(CallbackTask.kind == kind)
    if tier:
        query = query.where(CallbackTask.tier == tier)
    if region:
        query = query.join(Ticket, CallbackTask.ticket_id == Ticket.id).where(Ticket.region == region)
    if owner_id:
        query = query.where(CallbackTask.owner_id == owner_id)
    return query.order_by(CallbackTask.due_at, CallbackTask.priority, CallbackTask.id)


def click_to_call(task: CallbackTask, agent) -> str:
    """Twilio rings the agent's phone first, then bridges to the customer (see the bridge
    webhook), so the customer sees the operator's number. Returns the call SID. Commits."""
    from flask import current_app

    from channels.transports import twilio_client, twilio_configured

    _require_owner(task, agent.id)
    if not twilio_configured():
        raise TaskError(_l("click-to-call needs Twilio settings; call the number by hand"))
    if not agent.phone:
        raise TaskError(_l("add your own phone number to your account to use click-to-call"))
    base = current_app.config["PUBLIC_BASE_URL"]
    extra = {}
    if task.kind.startswith("complaint_"):
        # Complaint calls are evidence (guide 5.2): recorded, and both sides are told so.
        extra = {"record": True, "recording_status_callback": f"{base}/twilio/recording/{task.id}",
                 "recording_status_callback_event": ["completed"]}
    try:
        call = twilio_client().calls.create(to=agent.phone, from_=current_app.config["TWILIO_FROM"],
                                            url=f"{base}/twilio/bridge/{task.id}", **extra)
    except Exception as exc:  # the provider's error, shown to the agent
        raise TaskError(_l("Twilio could not place the call: %(error)s", error=str(exc)[:250])) from exc
    db.session.add(TaskEvent(task_id=task.id, kind="call_started", detail=call.sid, user_id=agent.id))
    db.session.commit()
    return call.sid
