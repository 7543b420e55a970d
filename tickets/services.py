"""Ticket intake: validate what the operator's systems report, then schedule what follows."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from callbacks.deadlines import callbacks_for_ticket, deadline
from callbacks.models import CallbackTask
from callbacks.services import create_task
from complaints.services import open_case
from core.db import db, utcnow
from core.settings import get_rules
from core.text import has_control, without_surrogates
from core.timeutil import parse_iso, parse_rfc3339
from surveys.models import Invitation
from surveys.services import QuestionnaireRouter, new_token
from tickets.models import LOCALES, TICKET_KINDS, Customer, Ticket
from tickets.rules import plan_invitation

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
SHORT_FIELDS = ("category", "region", "agent", "channel")
# What `_text` refuses or replaces: control characters (core.text.CONTROL) and lone surrogates.
_SUSPECT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # = customer.phone's pattern in openapi.json
# = customer.email's pattern there (the HTML living standard's e-mail, with a dotted domain)
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
EARLIEST = datetime(1900, 1, 1)
IN_THE_FUTURE = "is in the future"  # well-formed but contradicting the clock: 422 from the API


@dataclass
class Intake:
    ticket: Ticket
    created: bool
    invitation: Invitation | None = None
    tasks: list[CallbackTask] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        inv = self.invitation
        return {
            "ticket": {"id": self.ticket.id, "external_id": self.ticket.external_id},
            "created": self.created,
            "invitation": None if inv is None else {
                "id": inv.id, "state": inv.state, "channel": inv.channel,
                "send_at": inv.send_at.isoformat() + "Z",
                "suppressed_reason": inv.suppressed_reason},
            "callback_tasks": [{"id": t.id, "kind": t.kind, "due_at": t.due_at.isoformat() + "Z"}
                               for t in self.tasks],
        }


def _text(value: Any, name: str, errors: dict, *, required: bool = False, max_len: int = 64,
          pattern: re.Pattern | None = None) -> str:
    if value is None or value == "":
        if required:
            errors[name] = "is required"
        return ""
    if not isinstance(value, str):
        errors[name] = "must be a string"
        return ""
    if len(value) <= max_len and not _SUSPECT.search(value) and (pattern is None or pattern.match(value)):
        return value.strip()  # the usual case, one scan: nothing to refuse, nothing to replace
    # Checked as sent, then trimmed: what the API description (openapi.json) refuses, this does.
    if has_control(value):
        errors[name] = "contains control characters"
    elif len(value) > max_len:
        errors[name] = f"must be at most {max_len} characters"
    elif pattern and not pattern.match(value):
        errors[name] = "may hold letters, digits and . _ : / - only"
    return without_surrogates(value.strip())


def validate_ticket(body: Any, rfc3339: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """Returns (clean ticket, field errors). Errors are keyed by field path, e.g. customer.phone.
    The API passes `rfc3339`: handled_at must then carry its offset, as its description says;
    CSV files may give local-less times, read as UTC."""
    errors: dict[str, str] = {}
    if not isinstance(body, dict):
        return {}, {"body": "must be a JSON object"}
    clean: dict[str, Any] = {"external_id": _text(body.get("external_id"), "external_id", errors,
                                                  required=True, pattern=_ID)}
    kind = body.get("kind")
    if kind not in TICKET_KINDS:
        errors["kind"] = f"must be one of {', '.join(TICKET_KINDS)}"
    clean["kind"] = kind
    handled = body.get("handled_at")
    try:
        parse = parse_rfc3339 if rfc3339 else parse_iso
        clean["handled_at"] = parse(handled) if isinstance(handled, str) else None
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-08:00 overflows in UTC
        clean["handled_at"] = None
    if clean["handled_at"] is None or clean["handled_at"] < EARLIEST:
        errors["handled_at"] = "must be an ISO 8601 date-time from 1900 on, e.g. 2026-11-25T09:30:00+08:00"
    elif clean["handled_at"] > utcnow() + timedelta(minutes=10):
        errors["handled_at"] = IN_THE_FUTURE
    for name in SHORT_FIELDS:
        clean[name] = _text(body.get(name), name, errors)
    customer = body.get("customer")
    if not isinstance(customer, dict):
        errors["customer"] = "must be an object with id, name, phone, email, locale"
        return clean, errors
    c: dict[str, Any] = {"id": _text(customer.get("id"), "customer.id", errors, required=True, pattern=_ID),
                         "name": _text(customer.get("name"), "customer.name", errors, max_len=120)}
    phone = customer.get("phone")
    c["phone"] = None
    if phone not in (None, ""):
        # The description's pattern, no more: a number it allows is stored (the provider has
        # the last word on whether it rings).
        c["phone"] = phone if isinstance(phone, str) and E164.fullmatch(phone) else None
        if c["phone"] is None:
            errors["customer.phone"] = "must be an E.164 number, e.g. +8613800138000"
    email = customer.get("email")
    c["email"] = None
    if email not in (None, ""):
        if isinstance(email, str) and len(email) <= 254 and EMAIL.fullmatch(email):
            c["email"] = email
        else:
            errors["customer.email"] = "must be an e-mail address like name@example.cn"
    locale = customer.get("locale")
    locale = "zh-CN" if locale in (None, "") else locale
    if locale not in LOCALES:
        errors["customer.locale"] = f"must be one of {', '.join(LOCALES)}"
    c["locale"] = locale
    clean["customer"] = c
    return clean, errors


def upsert_customer(c: dict[str, Any]) -> Customer:
    """The customer, created or updated; locked until commit (PostgreSQL), so two tickets of
    one customer at once cannot both pass the invitation cap (_schedule_invitation). The lock
    comes first: taken after the ticket's foreign key had taken its share of the row, two such
    requests waited for each other (a deadlock, a 500)."""
    customer = db.session.scalar(select(Customer).where(Customer.external_id == c["id"]).with_for_update())
    if customer is None:
        customer = Customer(external_id=c["id"])
        db.session.add(customer)
    for attr in ("name", "phone", "email", "locale"):
        if c.get(attr):
            setattr(customer, attr, c[attr])
    db.session.flush()
    return customer


def intake_ticket(clean: dict[str, Any], rules: dict[str, Any] | None = None, *,
                  retried: bool = False) -> Intake:
    """Stores a validated ticket and schedules its invitation and callback tasks in one
    transaction. Idempotent on external_id: a repeat returns what was scheduled first."""
    existing = db.session.scalar(select(Ticket).where(Ticket.external_id == clean["external_id"]))
    if existing is not None:
        return _existing(existing)
    rules = rules or get_rules()
    try:
        customer = upsert_customer(clean["customer"])
        ticket = Ticket(external_id=clean["external_id"], kind=clean["kind"],
                        handled_at=clean["handled_at"], customer_id=customer.id,
                        **{name: clean.get(name) or "" for name in SHORT_FIELDS})
        db.session.add(ticket)
        db.session.flush()
        result = Intake(ticket=ticket, created=True)
        result.invitation = _schedule_invitation(ticket, customer, rules)
        for kind in callbacks_for_ticket(ticket.kind, rules):
            due = deadline(kind, ticket.handled_at, rules, customer.timezone)
            result.tasks.append(create_task(kind, customer.id, due, ticket_id=ticket.id))
        if ticket.kind == "complaint":  # one file per complaint; its tasks are the work items
            open_case(ticket, result.tasks, rules)
        db.session.commit()
    except IntegrityError:
        # The same ticket arrived twice at once (the other request stored it), or another
        # ticket of the same new customer did: then once more, with the customer stored.
        db.session.rollback()
        stored = db.session.scalar(select(Ticket).where(Ticket.external_id == clean["external_id"]))
        if stored is None:
            if retried:
                raise
            return intake_ticket(clean, rules, retried=True)
        return _existing(stored)
    return result


def _existing(ticket: Ticket) -> Intake:
    invitation = db.session.scalar(select(Invitation).where(Invitation.ticket_id == ticket.id))
    tasks = list(db.session.scalars(select(CallbackTask).where(CallbackTask.ticket_id == ticket.id)
                                    .order_by(CallbackTask.id)))
    return Intake(ticket=ticket, created=False, invitation=invitation, tasks=tasks)


def _schedule_invitation(ticket: Ticket, customer: Customer, rules: dict[str, Any]) -> Invitation | None:
    # The customer's row is locked (upsert_customer): the cap below counts under that lock.
    send_at, channel, reason = plan_invitation(ticket.kind, ticket.handled_at, customer, rules)
    if reason == "kind":
        return None
    version = QuestionnaireRouter(rules["questionnaire"]).version_for(ticket.kind, channel or "")
    invitation = Invitation(token=new_token(), customer_id=customer.id, ticket_id=ticket.id,
                            version_id=version.id, channel=channel or "none",
                            state="suppressed" if reason else "scheduled", suppressed_reason=reason,
                            send_at=send_at,
                            expires_at=send_at + timedelta(days=int(rules["link_expiry_days"])))
    db.session.add(invitation)
    db.session.flush()
    return invitation
