"""Batch intake: many validated tickets stored and planned in one transaction, with the same
rules as `intake_ticket` (invitation delay, quiet hours, channel, cap; callback tasks and their
deadlines), for `import-tickets` and `POST /api/v1/tickets/batch`.

Tickets are planned in order in memory (each sees the customer details and invitations of the
ones before it, as one-by-one intake would), then written with COPY / executemany. Should
another writer store one of the same tickets or customers meanwhile, the batch is rolled back
and taken one ticket at a time through `intake_ticket`, which is idempotent."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from callbacks.deadlines import callbacks_for_ticket, deadline
from callbacks.models import KIND_PRIORITY, CallbackTask, TaskEvent
from complaints.services import open_cases_bulk
from core.bulk import in_values, insert_rows, reserve_ids
from core.db import db, is_postgres, utcnow
from core.events import publish_many
from core.settings import get_rules
from surveys.models import Invitation
from surveys.services import QuestionnaireRouter, new_token
from tickets.models import Customer, Ticket
from tickets.rules import plan_invitation
from tickets.services import SHORT_FIELDS, Intake, intake_ticket

CUSTOMER_FIELDS = ("name", "phone", "email", "locale")
STORED_FIELDS = ("id", "external_id", *CUSTOMER_FIELDS, "timezone", "preferred_channel", "opted_out_at")


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

    def capped(self, customer_id: int, send_at: datetime, _rules: dict) -> bool:
        return any(abs(s - send_at) < self.window for s in self.sends[customer_id])


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
        plan.customers[row.external_id] = SimpleNamespace(**row._mapping)
    for customer in plan.customers.values():
        plan.stored[customer.id] = tuple(getattr(customer, name) for name in CUSTOMER_FIELDS)
    if plan.stored:
        plan.since = min(c["handled_at"] for c in cleans) - plan.window
        for customer_id, send_at in db.session.execute(_sends_query(plan)):
            plan.sends[customer_id].append(send_at)
        if carry is not None:
            for invitation in carry.invitations:
                if invitation["state"] == "scheduled" and invitation["customer_id"] in plan.stored:
                    plan.sends[invitation["customer_id"]].append(invitation["send_at"])
    if not lock:
        plan.seen = (_as_read(plan.customers.values()), {c: set(s) for c, s in plan.sends.items() if s})


def _sends_query(plan: _Plan):
    return (select(Invitation.customer_id, Invitation.send_at)
            .where(in_values(Invitation.customer_id, plan.stored), Invitation.state != "suppressed",
                   Invitation.send_at > plan.since))


def _as_read(customers: Iterable[Any]) -> dict[int, tuple]:
    return {c.id: tuple(getattr(c, name) for name in STORED_FIELDS) for c in customers}


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
    if _as_read(found) != customers:
        return False
    now = defaultdict(set)
    for customer_id, send_at in db.session.execute(_sends_query(plan)):
        now[customer_id].add(send_at)
    return now == sends


def _update_customers(plan: _Plan) -> None:
    """Stored customers whose details the batch changed: one executemany UPDATE."""
    changed = []
    for customer in plan.customers.values():
        before = plan.stored.get(customer.id)
        now = tuple(getattr(customer, name) for name in CUSTOMER_FIELDS)
        if before is not None and now != before:
            changed.append({"_id": customer.id, **dict(zip(CUSTOMER_FIELDS, now, strict=True))})
    if changed:
        table = Customer.__table__
        db.session.execute(table.update().where(table.c.id == bindparam("_id"))
                           .values({name: bindparam(name) for name in CUSTOMER_FIELDS}), changed)


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
    rules = plan.rules
    ticket = {"id": ticket_id, "external_id": clean["external_id"], "kind": clean["kind"],
              "handled_at": clean["handled_at"], "customer_id": customer.id, "received_at": plan.now,
              **{name: clean.get(name) or "" for name in SHORT_FIELDS}}
    plan.tickets.append(ticket)
    result = Intake(ticket=SimpleNamespace(**ticket), created=True)
    send_at, channel, reason = plan_invitation(clean["kind"], clean["handled_at"], customer, rules,
                                               capped=plan.capped)
    if reason != "kind":
        invitation = {"token": new_token(), "customer_id": customer.id, "ticket_id": ticket_id,
                      "version_id": router.version_for(clean["kind"], channel or "").id,
                      "channel": channel or "none",
                      "state": "suppressed" if reason else "scheduled", "suppressed_reason": reason,
                      "send_at": send_at, "skipped": [], "created_at": plan.now,
                      "expires_at": send_at + timedelta(days=int(rules["link_expiry_days"]))}
        plan.invitations.append(invitation)
        result.invitation = SimpleNamespace(id=None, **invitation)
        if not reason:
            plan.sends[customer.id].append(send_at)
    for kind in callbacks_for_ticket(clean["kind"], rules):
        task = {"kind": kind, "customer_id": customer.id, "ticket_id": ticket_id, "state": "open",
                "due_at": deadline(kind, clean["handled_at"], rules, customer.timezone),
                "priority": KIND_PRIORITY[kind], "created_at": plan.now}
        plan.tasks.append(task)
        result.tasks.append(SimpleNamespace(id=None, **task))
    return result


_TASK_COLUMNS = {c.name: None for c in CallbackTask.__table__.columns}


def _task_json(row: dict[str, Any], external_id: str) -> dict[str, Any]:
    """What the task.created webhook says of a task: CallbackTask.as_json, as `create_task`
    publishes it, read from the row (an ORM object per task would cost more than the rest)."""
    return CallbackTask.as_json(SimpleNamespace(**{**_TASK_COLUMNS, **row, "tier": 1,
                                                   "ticket": SimpleNamespace(external_id=external_id)}))


def _write(plan: _Plan, results: list[Intake]) -> None:
    ticket_ids = {t["id"]: t["external_id"] for t in plan.tickets}
    insert_rows(Customer.__table__, [vars(c) for c in plan.new_customers])
    _update_customers(plan)
    insert_rows(Ticket.__table__, plan.tickets)
    invitation_ids = reserve_ids(Invitation.__table__, len(plan.invitations))
    task_ids = reserve_ids(CallbackTask.__table__, len(plan.tasks))
    for row, new_id in zip(plan.invitations, invitation_ids, strict=True):
        row["id"] = new_id
    for row, new_id in zip(plan.tasks, task_ids, strict=True):
        row["id"] = new_id
    insert_rows(Invitation.__table__, plan.invitations)
    insert_rows(CallbackTask.__table__, plan.tasks)
    insert_rows(TaskEvent.__table__, [{"task_id": t["id"], "at": plan.now, "kind": "created",
                                       "detail": t["kind"]} for t in plan.tasks])
    publish_many("task.created", [_task_json(t, ticket_ids[t["ticket_id"]]) for t in plan.tasks], plan.now)
    invitations, tasks = iter(plan.invitations), iter(plan.tasks)  # the ids the answer shows
    for result in results:
        if result.invitation is not None:
            result.invitation.id = next(invitations)["id"]
        for task in result.tasks:
            task.id = next(tasks)["id"]
    # One case per complaint (一事一档), as single intake opens it.
    timezones = {c.id: c.timezone for c in plan.customers.values()}
    open_cases_bulk([(r.ticket, timezones[r.ticket.customer_id], r.tasks) for r in results
                     if r.ticket.kind == "complaint"], plan.rules)


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
        _write(plan, list(plan.created.values()))
        db.session.commit()
        return results
    except IntegrityError:
        db.session.rollback()  # another writer stored one of these meanwhile
        return [intake_ticket(clean, rules) for clean in cleans]


def _write_alone(app: Flask, plan: _Plan) -> bool:
    """The writer thread's part: its own app context, session and connection, one transaction.
    False (nothing written) when the plan's customers changed meanwhile or another writer
    stored one of its tickets or customers."""
    with app.app_context():
        try:
            if _still_as_planned(plan):
                _write(plan, list(plan.created.values()))
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
        plan, results = self._plan(cleans)
        stored, replan = self._land()
        if replan:
            plan, results = self._plan(cleans)
        self.flight = (cleans, results, plan, self.writer.submit(_write_alone, self.app, plan))
        return stored

    def finish(self) -> list[tuple[list[dict], list[Intake]]]:
        """Waits for the last chunk; returns it as `feed` does."""
        try:
            return self._land()[0]
        finally:
            self.close()

    def close(self) -> None:
        self.writer.shutdown(wait=True)

    def _plan(self, cleans: list[dict[str, Any]]) -> tuple[_Plan, list[Intake]]:
        carry = self.flight[2] if self.flight else None
        try:
            return _prepare(cleans, self.rules, self.router, carry, lock=False)
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
