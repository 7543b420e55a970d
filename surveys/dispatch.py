"""Scheduler jobs for invitations. Each claims due rows and moves them forward in the same
transaction that queues their message, so a crash can neither lose nor double a send."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload

from channels.render import invitation_message
from channels.services import queue_message
from core.db import db, is_postgres, utcnow
from core.scheduler import stopping
from core.settings import get_rules
from surveys.models import Invitation
from surveys.services import definition_of

BATCH = 500


def _claim(query, limit: int):
    query = query.limit(limit).options(joinedload(Invitation.customer))
    if is_postgres():
        # Another dispatcher (there should be none) skips rows this one holds.
        query = query.with_for_update(skip_locked=True, of=Invitation)
    return list(db.session.scalars(query).unique())


def send_due_invitations(now: datetime | None = None, limit: int = BATCH) -> int:
    """Queues the message of each due invitation and marks it sent; returns how many."""
    now = now or utcnow()
    reminder_hours = float(get_rules()["reminder_after_hours"])
    due = _claim(select(Invitation).where(Invitation.state == "scheduled", Invitation.send_at <= now)
                 .order_by(Invitation.send_at, Invitation.id), limit)
    for invitation in due:
        if invitation.customer.opted_out_at:
            invitation.state, invitation.suppressed_reason = "suppressed", "opted_out"
            continue
        if invitation.expires_at <= now:
            invitation.state = "expired"
            continue
        message = invitation_message(invitation)
        queue_message(purpose="invitation", invitation_id=invitation.id, now=now, **message)
        invitation.state, invitation.sent_at = "sent", now
        invitation.remind_at = now + timedelta(hours=reminder_hours) if reminder_hours else None
        definition = definition_of(invitation.version)
        if invitation.channel == "sms" and definition.sms_mode == "conversation":
            invitation.current_question = definition.next_unanswered({}).key
    db.session.flush()
    from reports.rollups import add_invitations  # reports builds on surveys
    add_invitations([i.id for i in due if i.state == "sent"], "sent")
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
    due = _claim(select(Invitation).where(Invitation.state.in_(("sent", "started")),
                                          Invitation.remind_at <= now, Invitation.reminded_at.is_(None),
                                          Invitation.expires_at > now)
                 .order_by(Invitation.remind_at), limit)
    count = 0
    for invitation in due:
        invitation.reminded_at = now
        if invitation.customer.opted_out_at or invitation.channel == "voice":
            continue  # no second unsolicited call; opted-out customers hear nothing more
        queue_message(purpose="reminder", invitation_id=invitation.id, now=now,
                      **invitation_message(invitation, reminder=True))
        count += 1
    db.session.commit()
    return count


def expire_invitations(now: datetime | None = None) -> int:
    now = now or utcnow()
    done = db.session.execute(update(Invitation)
                              .where(Invitation.state.in_(("scheduled", "sent", "started")),
                                     Invitation.expires_at <= now)
                              .values(state="expired")).rowcount
    db.session.commit()
    return done
