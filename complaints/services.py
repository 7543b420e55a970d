"""The complaint case and its stages: opening on intake, completing stages in order (from the
case page or through their callback tasks), the supervisor's extension, reopening."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from callbacks.deadlines import deadline
from callbacks.models import ACTIVE_STATES, CallbackTask
from callbacks.services import TaskError, create_task, finish_for_case, task_met
from complaints.models import (
    REPEATED_STAGES,
    STAGE_TASK_KINDS,
    STAGES,
    CaseStage,
    ComplaintCase,
    Extension,
)
from core.accounts import User, audit
from core.db import db, utcnow
from core.events import publish
from core.settings import get_rules
from core.timeutil import add_working_days, iso_utc, to_local


class CaseError(TaskError):
    """A step the case does not allow; the message (zh-CN or en) is shown to staff. A TaskError,
    so the callbacks pages show it too when a work item's step is refused."""


# ---- opening ---------------------------------------------------------------------------------

def case_number(ticket) -> str:
    """TS (投诉) + the local date of the complaint + the ticket's id: unique, sortable, short."""
    return f"TS{to_local(ticket.handled_at, None):%Y%m%d}-{ticket.id:06d}"


def plan_case(ticket, timezone: str | None, tasks: list, rules: dict[str, Any],
              add_days: Callable[[datetime, int, str | None, list[str]], datetime] = add_working_days,
              ) -> tuple[dict, list[dict]]:
    """The case row and its five stage rows (without ids) for a complaint ticket: deadlines
    from handled_at, the ticket's complaint tasks as the stages' work items. Used by single
    intake (ORM) and by batch intake (bulk rows) alike; `add_days` as callbacks.deadlines has it."""
    by_kind = {t.kind: t for t in tasks}
    feedback_due = deadline("complaint_feedback", ticket.handled_at, rules, timezone, add_days)
    case = {"number": case_number(ticket), "ticket_id": ticket.id, "customer_id": ticket.customer_id,
            "category": ticket.category or "", "received_at": ticket.handled_at,
            "feedback_due_at": feedback_due}
    dues = {"accepted": deadline("complaint_accept", ticket.handled_at, rules, timezone),
            "investigated": deadline("complaint_investigate", ticket.handled_at, rules, timezone),
            "handled": feedback_due, "fed_back": feedback_due, "rechecked": None}
    stages = []
    for position, name in enumerate(STAGES):
        task = by_kind.get(STAGE_TASK_KINDS.get(name, ""))
        stages.append({"round": 1, "name": name, "position": position, "due_at": dues[name],
                       "task_id": task.id if task else None})
    return case, stages


def open_case(ticket, tasks: list[CallbackTask], rules: dict[str, Any] | None = None) -> ComplaintCase:
    """One case per complaint ticket (一事一档). Caller commits."""
    row, stages = plan_case(ticket, ticket.customer.timezone, tasks, rules or get_rules())
    case = ComplaintCase(**row)
    db.session.add(case)
    db.session.flush()
    db.session.add_all(CaseStage(case_id=case.id, **stage) for stage in stages)
    db.session.flush()
    db.session.refresh(case)
    return case


def open_cases_bulk(items: list[tuple[Any, str | None, list]], rules: dict[str, Any]) -> int:
    """Batch intake's complaints: (ticket, customer timezone, tasks) each, written as bulk rows
    in the caller's transaction."""
    from core.bulk import insert_rows

    cases, stages = case_rows(items, rules)
    insert_rows(ComplaintCase.__table__, cases)
    insert_rows(CaseStage.__table__, stages)
    return len(cases)


def case_rows(items: list[tuple[Any, str | None, list]], rules: dict[str, Any],
              add_days: Callable[[datetime, int, str | None, list[str]], datetime] = add_working_days,
              ) -> tuple[list[dict], list[dict]]:
    """The case rows (ids reserved) and stage rows of `open_cases_bulk`'s items."""
    from core.bulk import reserve_ids

    cases, stages = [], []
    for (ticket, timezone, tasks), case_id in zip(items, reserve_ids(ComplaintCase.__table__, len(items)),
                                                  strict=True):
        row, rows = plan_case(ticket, timezone, tasks, rules, add_days)
        cases.append({"id": case_id, **row})
        stages += [{"case_id": case_id, **stage} for stage in rows]
    return cases, stages


def case_for_ticket(ticket_id: int) -> ComplaintCase | None:
    return db.session.scalar(select(ComplaintCase).where(ComplaintCase.ticket_id == ticket_id))


# ---- stages ----------------------------------------------------------------------------------

def next_stage(case: ComplaintCase) -> str | None:
    """The first stage whose current row is not completed: the only one that may complete."""
    for name in STAGES:
        row = case.current(name)
        if row is not None and row.completed_at is None:
            return name
    return None


def complete_stage(case: ComplaintCase, name: str, user: User | None, *, at: datetime | None = None,
                   note: str = "", from_task: bool = False) -> CaseStage:
    """Completes stage `name` of the current round; refused unless it is the next one.
    Closes the stage's work item too (unless the work item is what completed it). Caller commits."""
    at = at or utcnow()
    if name not in STAGES:
        raise CaseError(_("Unknown stage."))
    row = case.current(name)
    expected = next_stage(case)
    if row is None or row.completed_at is not None:
        raise CaseError(_("This stage is already completed."))
    if name != expected:
        raise CaseError(_("Stage “%(stage)s” cannot complete before “%(before)s”.",
                          stage=stage_label(name), before=stage_label(expected)))
    row.completed_at, row.note = at, note
    row.completed_by_id = user.id if user else None
    row.on_time = row.due_at is None or at <= row.due_at
    case.stage = name
    if case.handler_id is None and user is not None:
        case.handler_id = user.id  # first question responsibility (首问负责): who took it up
    if row.task is not None and not from_task:
        finish_for_case(row.task, user.id if user else None, f"case {case.number}: {name}", at)
    if name == "fed_back":
        _schedule_recheck(case, at)
    if name == "rechecked":
        case.state = "closed"
    audit("complaint_stage", f"case:{case.id}", user=user, stage=name, round=case.round,
          on_time=row.on_time)
    publish("complaint.stage_completed", {**_event_data(case), "stage": name, "round": case.round,
                                          "completed_at": iso_utc(at), "on_time": row.on_time}, now=at)
    return row


def _event_data(case: ComplaintCase) -> dict[str, Any]:
    """What webhooks say of a case: ids and codes, no personal data."""
    return {"case": case.number, "external_id": case.ticket.external_id, "state": case.state}


def stage_label(name: str | None) -> str:
    from complaints.forms import STAGE_LABELS
    return str(STAGE_LABELS.get(name, name or "—"))


def _schedule_recheck(case: ComplaintCase, fed_back_at: datetime) -> None:
    rules = get_rules()
    case.recheck_due_at = fed_back_at + timedelta(days=int(rules["recheck_after_days"]))
    # The re-check is on time if the customer answers before silence would reopen the case.
    window = timedelta(hours=2 * float(rules["recheck_reminder_hours"]))
    case.current("rechecked").due_at = case.recheck_due_at + window


@task_met.connect
def _work_item_met(task: CallbackTask, user_id: int | None = None, at: datetime | None = None) -> None:
    """A complaint task's milestone (first contact, or closure) completes its stage. The
    feedback task completes only with the written result sent, so it is refused before."""
    row = db.session.scalar(select(CaseStage).where(CaseStage.task_id == task.id))
    if row is None or row.completed_at is not None:
        return
    case = row.case
    if row.name == "fed_back":
        raise CaseError(_("Send the written result from case %(number)s first: the feedback stage "
                          "completes when the customer has been sent it.", number=case.number))
    user = db.session.get(User, user_id) if user_id else None
    complete_stage(case, row.name, user, at=at, from_task=True)


# ---- extension -------------------------------------------------------------------------------

def feedback_limit(case: ComplaintCase, rules: dict[str, Any] | None = None) -> datetime:
    """The legal limit (guide 5.1): 30 working days from handled_at, never later."""
    rules = rules or get_rules()
    return add_working_days(case.received_at, int(rules["deadline_complaint_max_working_days"]),
                            case.customer.timezone, rules["holidays"])


def extend_feedback(case: ComplaintCase, user: User, new_due: datetime, reason: str,
                    now: datetime | None = None) -> Extension:
    """Only a supervisor (manager or admin) moves the feedback deadline, with a reason, never
    past the legal limit. Audited. Caller commits."""
    now = now or utcnow()
    reason = (reason or "").strip()
    if not user.has_role("manager"):
        raise CaseError(_("Only a supervisor (manager) may approve an extension."))
    if not reason:
        raise CaseError(_("Give the reason for the extension."))
    row = case.current("fed_back")
    if row.completed_at is not None or case.state == "closed":
        raise CaseError(_("The result has been fed back already: there is nothing to extend."))
    if new_due <= case.feedback_due_at:
        raise CaseError(_("The new deadline must be later than the current one."))
    limit = feedback_limit(case)
    if new_due > limit:
        raise CaseError(_("Refused: the feedback deadline can never be later than 30 working days "
                          "after handling (%(limit)s).",
                          limit=to_local(limit, case.customer.timezone).strftime("%Y-%m-%d %H:%M")))
    extension = Extension(case_id=case.id, approved_by_id=user.id, approved_at=now, reason=reason,
                          old_due_at=case.feedback_due_at, new_due_at=new_due)
    db.session.add(extension)
    case.feedback_due_at, case.extended = new_due, True
    for name in ("handled", "fed_back"):
        if case.current(name).completed_at is None:
            case.current(name).due_at = new_due
    if row.task is not None and row.task.state in ACTIVE_STATES:
        row.task.due_at = new_due  # the work item escalates by the approved deadline
    audit("complaint_extension", f"case:{case.id}", user=user, reason=reason,
          old=extension.old_due_at.isoformat(), new=new_due.isoformat())
    return extension


# ---- reopening -------------------------------------------------------------------------------

def reopen(case: ComplaintCase, answer: str, now: datetime | None = None) -> CallbackTask:
    """The re-check said "not solved" (or nothing): the round's re-check is recorded, a new
    round of handling, feedback and re-check begins, and a second follow-up task opens one tier
    above the feedback task (二次跟踪). Caller commits."""
    now = now or utcnow()
    rules = get_rules()
    row = case.current("rechecked")
    row.completed_at, row.on_time = now, row.due_at is None or now <= row.due_at
    row.note = answer
    feedback_task = case.current("fed_back").task
    tier = min((feedback_task.tier if feedback_task else 1) + 1, 3)
    task = create_task("complaint_followup", case.customer_id,
                       deadline("complaint_followup", now, rules, case.customer.timezone),
                       ticket_id=case.ticket_id)
    task.tier = tier
    case.round += 1
    case.state, case.stage = "reopened", "investigated"
    case.reopened_count += 1
    case.feedback_due_at = add_working_days(now, int(rules["deadline_complaint_feedback_working_days"]),
                                            case.customer.timezone, rules["holidays"])
    for name in REPEATED_STAGES:
        db.session.add(CaseStage(case_id=case.id, round=case.round, name=name, position=STAGES.index(name),
                                 due_at=None if name == "rechecked" else case.feedback_due_at,
                                 task_id=task.id if name == "handled" else None))
    case.result_message_id = case.recheck_due_at = case.recheck_token = None
    case.recheck_asked_at = case.recheck_reminded_at = None
    audit("complaint_reopened", f"case:{case.id}", answer=answer, round=case.round, task=task.id)
    publish("complaint.reopened", {**_event_data(case), "answer": answer, "round": case.round,
                                   "followup_task": task.id, "tier": task.tier}, now=now)
    db.session.flush()
    db.session.expire(case, ["stages"])
    return task
