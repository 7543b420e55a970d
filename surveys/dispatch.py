"""Scheduler and worker jobs for invitations. Each batch claims due rows and moves them forward
in the same transaction that queues their messages, so a crash can neither lose nor double a
send: a batch that dies before its commit leaves its invitations due, and no message behind.

A batch is a handful of statements whatever its size (this is the hot path of a national
dispatch, a million invitations a day): one SELECT … FOR UPDATE SKIP LOCKED of plain tuples
(concurrent workers skip each other's rows), texts filled in from shapes rendered once
(channels.render.invitation_messages), one UPDATE per outcome, one bulk INSERT of the messages,
one upsert of the rollup rows the batch adds to (counted here), one commit."""
from __future__ import annotations

import functools
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Row, select, update

from channels.render import invitation_messages
from channels.services import queue_messages
from core.bulk import in_values
from core.db import db, is_postgres, utcnow
from core.scheduler import stopping
from core.settings import get_rules
from surveys.models import Invitation, QuestionnaireVersion
from surveys.services import definition_of
from tickets.models import Customer, Ticket

BATCH = 500
INVITATIONS, CUSTOMERS, VERSIONS = Invitation.__table__, Customer.__table__, QuestionnaireVersion.__table__
TICKETS = Ticket.__table__
# What rendering and the rollups need of an invitation, its customer, version and ticket, as
# plain tuples.
DUE_COLUMNS = (INVITATIONS.c.id, INVITATIONS.c.token, INVITATIONS.c.channel, INVITATIONS.c.expires_at,
               INVITATIONS.c.version_id, VERSIONS.c.checksum.label("version_checksum"), CUSTOMERS.c.name,
               CUSTOMERS.c.phone, CUSTOMERS.c.email, CUSTOMERS.c.locale, CUSTOMERS.c.opted_out_at,
               TICKETS.c.kind, TICKETS.c.region, TICKETS.c.agent)


def _claim(where: list, order_by, limit: int) -> list[Row]:
    """Locks up to `limit` rows that match until commit; another dispatcher skips them."""
    query = (select(*DUE_COLUMNS)
             .join_from(INVITATIONS, CUSTOMERS, CUSTOMERS.c.id == INVITATIONS.c.customer_id)
             .join(VERSIONS, VERSIONS.c.id == INVITATIONS.c.version_id)
             .outerjoin(TICKETS, TICKETS.c.id == INVITATIONS.c.ticket_id)
             .where(*where).order_by(order_by).limit(limit))
    if is_postgres():
        query = query.with_for_update(skip_locked=True, of=INVITATIONS)
    return db.session.execute(query).all()


def _update(ids: list[int], **values: Any) -> None:
    if ids:
        db.session.execute(update(INVITATIONS).where(in_values(INVITATIONS.c.id, ids)).values(**values))


@functools.cache
def _first_sms_question(version_id: int, checksum: str) -> str | None:
    """The question an SMS conversation opens with (none for link-mode SMS). Versions are
    immutable: id and checksum name one."""
    definition = definition_of(db.session.get(QuestionnaireVersion, version_id))
    return definition.next_unanswered({}).key if definition.sms_mode == "conversation" else None


def send_due_invitations(now: datetime | None = None, limit: int = BATCH) -> int:
    """Queues the message of each due invitation and marks it sent; returns how many were
    handled (sent, suppressed or expired)."""
    now = now or utcnow()
    reminder_hours = float(get_rules()["reminder_after_hours"])
    # Ordered by send_at alone: the index (state, send_at) then yields the batch directly. With
    # a tie-break on id, a million invitations due at the same minute (quiet hours ending)
    # would be read and sorted in full for every batch.
    due = _claim([INVITATIONS.c.state == "scheduled", INVITATIONS.c.send_at <= now], INVITATIONS.c.send_at, limit)
    _update([r.id for r in due if r.opted_out_at], state="suppressed", suppressed_reason="opted_out")
    _update([r.id for r in due if not r.opted_out_at and r.expires_at <= now], state="expired")
    sending = [r for r in due if not r.opted_out_at and r.expires_at > now]
    by_first_question: dict[str | None, list[int]] = defaultdict(list)
    for row in sending:
        sms = row.channel == "sms"
        by_first_question[_first_sms_question(row.version_id, row.version_checksum) if sms else None].append(row.id)
    remind_at = now + timedelta(hours=reminder_hours) if reminder_hours else None
    for question, ids in by_first_question.items():
        _update(ids, state="sent", sent_at=now, remind_at=remind_at, current_question=question)
    queue_messages([{**message, "purpose": "invitation", "invitation_id": row.id}
                    for row, message in zip(sending, invitation_messages(sending), strict=True)], now)
    from reports.rollups import add_invitation_counts  # reports builds on surveys
    # Last: it holds the rollup rows every dispatcher adds to until commit.
    add_invitation_counts(Counter((r.channel, r.kind or "", r.region or "", r.agent or "") for r in sending),
                          now, "sent")
    db.session.commit()
    return len(due)


def drain_due_invitations(now: datetime | None = None) -> int:
    """The scheduler's tick: due invitations in batches of DISPATCH_BATCH, each batch its own
    transaction, for up to DRAIN_SECONDS, so a backlog drains without starving other jobs."""
    now = now or utcnow()
    batch, budget = current_app.config["DISPATCH_BATCH"], current_app.config["DRAIN_SECONDS"]
    started, total = time.monotonic(), 0
    while True:
        sent = send_due_invitations(now, limit=batch)
        total += sent
        if sent < batch or time.monotonic() - started > budget or stopping():
            return total


def send_reminders(now: datetime | None = None, limit: int = BATCH) -> int:
    """One reminder to those who have not answered (LimeSurvey's rule), not after expiry."""
    now = now or utcnow()
    due = _claim([INVITATIONS.c.state.in_(("sent", "started")), INVITATIONS.c.remind_at <= now,
                  INVITATIONS.c.reminded_at.is_(None), INVITATIONS.c.expires_at > now], INVITATIONS.c.remind_at, limit)
    _update([r.id for r in due], reminded_at=now)
    # No second unsolicited call; opted-out customers hear nothing more.
    reminding = [r for r in due if not r.opted_out_at and r.channel != "voice"]
    queue_messages([{**message, "purpose": "reminder", "invitation_id": row.id}
                    for row, message in zip(reminding, invitation_messages(reminding, reminder=True), strict=True)],
                   now)
    db.session.commit()
    return len(reminding)


def expire_invitations(now: datetime | None = None) -> int:
    now = now or utcnow()
    done = db.session.execute(update(Invitation)
                              .where(Invitation.state.in_(("scheduled", "sent", "started")),
                                     Invitation.expires_at <= now)
                              .values(state="expired")).rowcount
    db.session.commit()
    return done
