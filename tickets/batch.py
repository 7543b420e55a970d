"""Batch intake: many validated tickets stored and planned in one transaction, with the same
rules as `intake_ticket` (invitation delay, quiet hours, channel, cap; callback tasks and their
deadlines), for `import-tickets` and `POST /api/v1/tickets/batch`.

Tickets are planned in order in memory (each sees the customer details and invitations of the
ones before it, as one-by-one intake would), then written with COPY / executemany. Should
another writer store one of the same tickets or customers meanwhile, the batch is rolled back
and taken one ticket at a time through `intake_ticket`, which is idempotent. import-tickets on
PostgreSQL plans the next chunk while a thread writes this one (`IntakePipeline`)."""
from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from operator import attrgetter
from types import SimpleNamespace
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from callbacks.deadlines import callbacks_for_ticket, deadline
from callbacks.models import KIND_PRIORITY, CallbackTask, TaskEvent
from complaints.models import CaseStage, ComplaintCase
from complaints.services import case_rows
from core.bulk import Write, in_values, prepared_rows, reserve_ids
from core.db import db, is_postgres, utcnow
from core.events import prepared_serialised
from core.settings import get_rules
from core.timeutil import LocalCalendar, iso_utc
from surveys.models import Invitation
from surveys.services import QuestionnaireRouter, new_tokens
from tickets.models import Customer, Ticket
from tickets.rules import plan_invitation
from tickets.services import SHORT_FIELDS, Intake, intake_ticket

CUSTOMER_FIELDS = ("name", "phone", "email", "locale")
STORED_FIELDS = ("id", "external_id", *CUSTOMER_FIELDS, "timezone", "preferred_channel", "opted_out_at")
_details, _as_stored = attrgetter(*CUSTOMER_FIELDS), attrgetter(*STORED_FIELDS)


class _Plan:
    """The rows a batch will write, and the customers and invitations it has seen so far."""

    def __init__(self, rules: dict[str, Any], now: datetime):
        self.rules, self.now = rules, now
        self.window = timedelta(days=int(rules["cap_days"]))
        self.customers: dict[str, Any] = {}   # external id -> a stored or new customer's namespace
        self.stored: dict[int, tuple] = {}     # stored customer id -> CUSTOMER_FIELDS as loaded
        self.sends: dict[int, list[datetime]] = defaultdict(list)  # customer id -> send_at
        self.new_customers: list[SimpleNamespace] = []
        self.tickets: list[dict] = []
        self.invitations: list[dict] = []
        self.tasks: list[dict] = []
        self.created: dict[str, Intake] = {}   # external id -> what this batch stores for it
        self.since = now
        self.seen: tuple[dict[int, tuple], dict[int, set]] = ({}, {})  # what an unlocked plan read
        self.calendar = LocalCalendar(rules["holidays"])
        self.tokens: Iterator[str] = iter(())
        self.expiry = timedelta(days=int(rules["link_expiry_days"]))
        self._versions: dict[tuple[str, str], int] = {}
        self._callbacks: dict[str, list[str]] = {}

    def version_id(self, router: QuestionnaireRouter, ticket_kind: str, channel: str) -> int:
        key = (ticket_kind, channel)
        if key not in self._versions:
            self._versions[key] = router.version_for(ticket_kind, channel).id
        return self._versions[key]

    def callbacks(self, ticket_kind: str) -> list[str]:
        if ticket_kind not in self._callbacks:
            self._callbacks[ticket_kind] = callbacks_for_ticket(ticket_kind, self.rules)
        return self._callbacks[ticket_kind]

    def capped(self, customer_id: int, send_at: datetime, _rules: dict) -> bool:
        sends = self.sends.get(customer_id)
        if not sends:
            return False
        low, high = send_at - self.window, send_at + self.window  # |s - send_at| < window
        return any(low < s < high for s in sends)


def _load_customers(plan: _Plan, cleans: list[dict[str, Any]], carry: _Plan | None, lock: bool) -> None:
    """The batch's known customers and their invitations near the batch's dates: one query each,
    columns, no ORM. `lock` (a batch planned and written in one transaction) locks the stored
    ones, as single intake locks them for the cap. A `carry` (the chunk still being written)
    gives its customers as it left them and its invitations, which the database does not show
    yet; without `lock` the writer re-reads all of it under lock (`_still_as_planned`)."""
    table = Customer.__table__
    wanted = {c["customer"]["id"] for c in cleans}
    if carry is not None:
        for external_id in wanted & carry.customers.keys():
            plan.customers[external_id] = SimpleNamespace(**vars(carry.customers[external_id]))
    query = select(*(table.c[name] for name in STORED_FIELDS)).where(
        in_values(table.c.external_id, wanted - plan.customers.keys()))
    if lock and is_postgres():
        query = query.with_for_update()
    for row in db.session.execute(query):
        plan.customers[row.external_id] = SimpleNamespace(**dict(zip(STORED_FIELDS, row, strict=True)))
    for customer in plan.customers.values():
        plan.stored[customer.id] = _details(customer)
    if plan.stored:
        plan.since = min(c["handled_at"] for c in cleans) - plan.window
        for customer_id, send_at in db.session.execute(_sends_query(plan)):
            plan.sends[customer_id].append(send_at)
        if carry is not None:
            for invitation in carry.invitations:
                if invitation["state"] == "scheduled" and invitation["customer_id"] in plan.stored:
                    plan.sends[invitation["customer_id"]].append(invitation["send_at"])
    if not lock:
        plan.seen = ({c.id: _as_stored(c) for c in plan.customers.values()},
                     {c: set(s) for c, s in plan.sends.items() if s})


def _sends_query(plan: _Plan):
    return (select(Invitation.customer_id, Invitation.send_at)
            .where(in_values(Invitation.customer_id, plan.stored), Invitation.state != "suppressed",
                   Invitation.send_at > plan.since))


def _still_as_planned(plan: _Plan) -> bool:
    """A plan made without locks (`_load_customers(lock=False)`): locks its customers and says
    whether they and their invitations are still what the plan read. Another writer may have
    changed them in between; then the chunk is planned again."""
    customers, sends = plan.seen
    if not customers:
        return True
    table = Customer.__table__
    found = db.session.execute(select(*(table.c[name] for name in STORED_FIELDS))
                               .where(in_values(table.c.id, customers)).order_by(table.c.id).with_for_update())
    if {row[0]: tuple(row) for row in found} != customers:
        return False
    now = defaultdict(set)
    for customer_id, send_at in db.session.execute(_sends_query(plan)):
        now[customer_id].add(send_at)
    return now == sends


def _customer_updates(plan: _Plan) -> Write:
    """Stored customers whose details the batch changed: one executemany UPDATE."""
    changed = []
    for customer in plan.customers.values():
        before = plan.stored.get(customer.id)
        now = _details(customer)
        if before is not None and now != before:
            changed.append({"_id": customer.id, **dict(zip(CUSTOMER_FIELDS, now, strict=True))})
    if not changed:
        return lambda: 0
    table = Customer.__table__
    update = table.update().where(table.c.id == bindparam("_id")).values({name: bindparam(name) for name in CUSTOMER_FIELDS})
    return lambda: db.session.execute(update, changed) and len(changed)


def _customer(plan: _Plan, c: dict[str, Any], new_ids: list[int]) -> Any:
    """The ticket's customer with this ticket's details applied (non-empty ones win)."""
    customer = plan.customers.get(c["id"])
    if customer is None:
        customer = SimpleNamespace(id=new_ids.pop(), external_id=c["id"], name="", phone=None, email=None,
                                   locale="zh-CN", timezone="Asia/Shanghai", preferred_channel=None,
                                   opted_out_at=None)
        plan.customers[c["id"]] = customer
        plan.new_customers.append(customer)
    for attr in CUSTOMER_FIELDS:
        if c.get(attr) and getattr(customer, attr) != c[attr]:
            setattr(customer, attr, c[attr])  # a stored one is updated by _update_customers
    return customer


def _plan_ticket(plan: _Plan, clean: dict[str, Any], ticket_id: int, customer: Any,
                 router: QuestionnaireRouter) -> Intake:
    rules, kind, handled_at = plan.rules, clean["kind"], clean["handled_at"]
    ticket = {"id": ticket_id, "external_id": clean["external_id"], "kind": kind, "handled_at": handled_at,
              "customer_id": customer.id, "received_at": plan.now,
              **{name: clean.get(name) or "" for name in SHORT_FIELDS}}
    plan.tickets.append(ticket)
    result = Intake(ticket=SimpleNamespace(**ticket), created=True)
    send_at, channel, reason = plan_invitation(kind, handled_at, customer, rules,
                                               capped=plan.capped, within=plan.calendar.within_allowed_hours)
    if reason != "kind":
        invitation = {"token": next(plan.tokens), "customer_id": customer.id, "ticket_id": ticket_id,
                      "version_id": plan.version_id(router, kind, channel or ""), "channel": channel or "none",
                      "state": "suppressed" if reason else "scheduled", "suppressed_reason": reason,
                      "send_at": send_at, "skipped": [], "created_at": plan.now, "expires_at": send_at + plan.expiry}
        plan.invitations.append(invitation)
        result.invitation = SimpleNamespace(id=None, **invitation)
        if not reason:
            plan.sends[customer.id].append(send_at)
    for task_kind in plan.callbacks(kind):
        task = {"kind": task_kind, "customer_id": customer.id, "ticket_id": ticket_id, "state": "open",
                "due_at": deadline(task_kind, handled_at, rules, customer.timezone, plan.calendar.add_working_days),
                "priority": KIND_PRIORITY[task_kind], "created_at": plan.now}
        plan.tasks.append(task)
        result.tasks.append(SimpleNamespace(id=None, **task))
    return result


@functools.cache
def _task_created_shape() -> str:
    """What the task.created webhook says of a new task (CallbackTask.as_json as `create_task`
    publishes it) as JSON text with stand-ins for what differs by task: rendered once, then
    filled in (a dict and json.dumps per task cost more than the rest of its event). The
    filled-in values need no JSON escaping: ids, a task kind code, a ticket id as
    validate_ticket allows it (letters, digits, . _ : / -), ISO times."""
    marks = {"id": 918273645546372819, "kind": "\x01", "external_id": "\x02",
             "due_at": datetime(1901, 2, 3, 4, 5, 6, 7), "created_at": datetime(1902, 3, 4, 5, 6, 7, 8)}
    task = SimpleNamespace(**{c.name: None for c in CallbackTask.__table__.columns})
    vars(task).update(state="open", tier=1, ticket=SimpleNamespace(external_id=marks["external_id"]),
                      **{k: v for k, v in marks.items() if k != "external_id"})
    shape = json.dumps(CallbackTask.as_json(task)).replace("{", "{{").replace("}", "}}")
    for name, value in marks.items():
        shape = shape.replace(json.dumps(iso_utc(value) if isinstance(value, datetime) else value),
                              f'"{{{name}}}Z"' if isinstance(value, datetime) else
                              "{id}" if name == "id" else f'"{{{name}}}"')
    return shape


def _task_created(row: dict[str, Any], external_id: str) -> str:
    return _task_created_shape().format(id=row["id"], kind=row["kind"], external_id=external_id,
                                        due_at=row["due_at"].isoformat(), created_at=row["created_at"].isoformat())


def _writes(plan: _Plan, results: list[Intake]) -> list[Write]:
    """The batch's rows made ready to write (core.bulk.prepared_rows), in the order they are
    written; the ids they take are reserved and filled into the answers."""
    ticket_ids = {t["id"]: t["external_id"] for t in plan.tickets}
    for rows, table in ((plan.invitations, Invitation.__table__), (plan.tasks, CallbackTask.__table__)):
        for row, new_id in zip(rows, reserve_ids(table, len(rows)), strict=True):
            row["id"] = new_id
    invitations, tasks = iter(plan.invitations), iter(plan.tasks)  # the ids the answer shows
    for result in results:
        if result.invitation is not None:
            result.invitation.id = next(invitations)["id"]
        for task in result.tasks:
            task.id = next(tasks)["id"]
    # One case per complaint (一事一档), as single intake opens it.
    timezones = {c.id: c.timezone for c in plan.customers.values()}
    cases, stages = case_rows([(r.ticket, timezones[r.ticket.customer_id], r.tasks) for r in results
                               if r.ticket.kind == "complaint"], plan.rules, plan.calendar.add_working_days)
    return [prepared_rows(Customer.__table__, [vars(c) for c in plan.new_customers]),
            _customer_updates(plan),
            prepared_rows(Ticket.__table__, plan.tickets),
            prepared_rows(Invitation.__table__, plan.invitations),
            prepared_rows(CallbackTask.__table__, plan.tasks),
            prepared_rows(TaskEvent.__table__, [{"task_id": t["id"], "at": plan.now, "kind": "created",
                                                 "detail": t["kind"]} for t in plan.tasks]),
            prepared_serialised("task.created", [_task_created(t, ticket_ids[t["ticket_id"]]) for t in plan.tasks],
                                plan.now),
            prepared_rows(ComplaintCase.__table__, cases),
            prepared_rows(CaseStage.__table__, stages)]


def _write(writes: list[Write]) -> None:
    for write in writes:
        write()


def _existing(cleans: list[dict[str, Any]]) -> dict[str, Intake]:
    """What was scheduled for the tickets already stored (a repeat gets the first answer). One
    indexed query finds them; only those found (rare in an import) are loaded as objects."""
    found = list(db.session.scalars(select(Ticket.id).where(
        in_values(Ticket.external_id, {c["external_id"] for c in cleans}))))
    if not found:
        return {}
    by_id = {t.id: Intake(ticket=t, created=False)
             for t in db.session.scalars(select(Ticket).where(Ticket.id.in_(found)))}
    for invitation in db.session.scalars(select(Invitation).where(Invitation.ticket_id.in_(by_id))):
        by_id[invitation.ticket_id].invitation = invitation
    for task in db.session.scalars(select(CallbackTask).where(CallbackTask.ticket_id.in_(by_id))
                                   .order_by(CallbackTask.id)):
        by_id[task.ticket_id].tasks.append(task)
    return {r.ticket.external_id: r for r in by_id.values()}


def _prepare(cleans: list[dict[str, Any]], rules: dict[str, Any], router: QuestionnaireRouter,
             carry: _Plan | None = None, lock: bool = True) -> tuple[_Plan, list[Intake]]:
    """Plans the batch in memory: the rows to write, and one Intake per item in order."""
    done = _existing(cleans)
    if carry is not None:  # a repeat of a ticket the chunk in flight stores
        done.update({c["external_id"]: replace(carry.created[c["external_id"]], created=False)
                     for c in cleans if c["external_id"] in carry.created})
    fresh, seen = [], set(done)
    for clean in cleans:  # the first of repeats, in order
        if clean["external_id"] not in seen:
            seen.add(clean["external_id"])
            fresh.append(clean)
    plan = _Plan(rules, utcnow())
    plan.tokens = iter(new_tokens(len(fresh)))
    _load_customers(plan, fresh, carry, lock)
    new_ids = reserve_ids(Customer.__table__, len({c["customer"]["id"] for c in fresh}
                                                  - set(plan.customers)))[::-1]
    ticket_ids = reserve_ids(Ticket.__table__, len(fresh))
    for clean, ticket_id in zip(fresh, ticket_ids, strict=True):
        customer = _customer(plan, clean["customer"], new_ids)
        plan.created[clean["external_id"]] = _plan_ticket(plan, clean, ticket_id, customer, router)
    done.update(plan.created)
    results, seen = [], set()
    for clean in cleans:
        result = done[clean["external_id"]]
        results.append(replace(result, created=False) if clean["external_id"] in seen else result)
        seen.add(clean["external_id"])
    return plan, results


def intake_batch(cleans: list[dict[str, Any]], rules: dict[str, Any] | None = None) -> list[Intake]:
    """Stores validated tickets (`validate_ticket`'s output) and schedules what follows each, in
    one transaction; returns one Intake per item, in order. Idempotent on external_id: a ticket
    already stored, or repeated in the batch, comes back with created=False and what it got."""
    rules = rules or get_rules()
    if not cleans:
        return []
    try:
        plan, results = _prepare(cleans, rules, QuestionnaireRouter(rules["questionnaire"]))
        _write(_writes(plan, list(plan.created.values())))
        db.session.commit()
        return results
    except IntegrityError:
        db.session.rollback()  # another writer stored one of these meanwhile
        return [intake_ticket(clean, rules) for clean in cleans]


def _write_alone(app: Flask, plan: _Plan, writes: list[Write]) -> bool:
    """The writer thread's part: its own app context, session and connection, one transaction.
    False (nothing written) when the plan's customers changed meanwhile or another writer
    stored one of its tickets or customers."""
    with app.app_context():
        try:
            if _still_as_planned(plan):
                _write(writes)
                db.session.commit()
                return True
        except IntegrityError:
            pass
        db.session.rollback()
        return False


class IntakePipeline:
    """`intake_batch` for a stream of chunks (import-tickets on PostgreSQL): chunk N+1 is
    planned in Python while a thread writes chunk N, so the import's Python and the database
    server work at once. The plan of N+1 reads without locks what is committed and takes from
    chunk N (`carry`) what is not yet; the writer then locks the customers and checks they and
    their invitations are as planned. A chunk whose plan no longer holds is written again
    through `intake_batch`, and the next one planned again after it."""

    def __init__(self, rules: dict[str, Any]):
        self.rules, self.router = rules, QuestionnaireRouter(rules["questionnaire"])
        self.app = current_app._get_current_object()
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="ticket-writer")
        self.flight: tuple[list[dict], list[Intake], _Plan, Future] | None = None

    def feed(self, cleans: list[dict[str, Any]]) -> list[tuple[list[dict], list[Intake]]]:
        """Plans `cleans` and hands them to the writer; returns the chunks (items, results)
        stored meanwhile, in order."""
        plan, results, writes = self._plan(cleans)
        stored, replan = self._land()
        if replan:
            plan, results, writes = self._plan(cleans)
        self.flight = (cleans, results, plan, self.writer.submit(_write_alone, self.app, plan, writes))
        return stored

    def finish(self) -> list[tuple[list[dict], list[Intake]]]:
        """Waits for the last chunk; returns it as `feed` does."""
        try:
            return self._land()[0]
        finally:
            self.close()

    def close(self) -> None:
        self.writer.shutdown(wait=True)

    def _plan(self, cleans: list[dict[str, Any]]) -> tuple[_Plan, list[Intake], list[Write]]:
        carry = self.flight[2] if self.flight else None
        try:
            plan, results = _prepare(cleans, self.rules, self.router, carry, lock=False)
            return plan, results, _writes(plan, list(plan.created.values()))
        finally:
            db.session.commit()  # a read, without locks: end it

    def _land(self) -> tuple[list[tuple[list[dict], list[Intake]]], bool]:
        if self.flight is None:
            return [], False
        cleans, results, _plan, written = self.flight
        self.flight = None
        if written.result():
            return [(cleans, results)], False
        return [(cleans, intake_batch(cleans, self.rules))], True
