"""The outbox pattern: every outgoing message is a row first. The outbox transport is the
row itself (stored in the same transaction as the state change that caused it, so it exists
exactly once); Twilio and SMTP messages are delivered by `deliver_due`, retried with back-off."""
from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from channels.models import Message
from channels.transports import TransportError, outgoing, send_smtp, send_twilio, transport_for
from core.bulk import insert_rows
from core.db import db, is_postgres, utcnow
from core.scheduler import stopping

MAX_ATTEMPTS = 8
# Every column a bulk insert leaves to its default (all rows of an executemany need the same keys).
MESSAGE_DEFAULTS = {"direction": "out", "sender": "", "subject": "", "body_html": None, "invitation_id": None,
                    "task_id": None, "report_id": None, "provider_id": None, "error": None, "attempts": 0,
                    "delivered_at": None}


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes (MESSAGE_BACKOFF_SECONDS doubling), at most 64 times that: a
    provider outage is ridden out, not dropped."""
    base = current_app.config["MESSAGE_BACKOFF_SECONDS"]
    return timedelta(seconds=base * min(2 ** max(attempts - 1, 0), 64))


def queue_message(channel: str, to: str, purpose: str, body: str, *, subject: str = "",
                  body_html: str | None = None, invitation_id: int | None = None,
                  task_id: int | None = None, report_id: int | None = None,
                  now: datetime | None = None) -> Message:
    """Adds a message to the current transaction (the caller commits with its own change)."""
    now = now or utcnow()
    transport = transport_for(channel)
    message = Message(channel=channel, transport=transport, purpose=purpose, to=to, subject=subject,
                      body=body, body_html=body_html, invitation_id=invitation_id, task_id=task_id,
                      report_id=report_id, next_attempt_at=now, created_at=now)
    if transport == "outbox":
        message.state, message.sent_at = "sent", now
    db.session.add(message)
    return message


def queue_messages(messages: list[dict], now: datetime) -> None:
    """`queue_message` of many at once, in one COPY (SQLite: executemany) of plain rows:
    each dict has channel, to, purpose, subject, body, body_html and invitation_id."""
    if not messages:
        return
    transports = {channel: transport_for(channel) for channel in {m["channel"] for m in messages}}
    rows = []
    for message in messages:
        transport = transports[message["channel"]]
        outbox = transport == "outbox"
        rows.append({**MESSAGE_DEFAULTS, **message, "transport": transport, "state": "sent" if outbox else "queued",
                     "sent_at": now if outbox else None, "next_attempt_at": now, "created_at": now, "updated_at": now})
    insert_rows(Message.__table__, rows)


def record_inbound(channel: str, sender: str, body: str, invitation_id: int | None = None,
                   provider_id: str | None = None) -> Message:
    message = Message(direction="in", channel=channel, transport=transport_for(channel),
                      purpose="answer", to="", sender=sender, body=body, state="received",
                      invitation_id=invitation_id, provider_id=provider_id or None)
    db.session.add(message)
    return message


def inbound_seen(provider_id: str) -> bool:
    """Whether the provider's inbound message (Twilio's MessageSid) was handled already."""
    return db.session.scalar(select(Message.id).where(Message.direction == "in",
                                                      Message.provider_id == provider_id)) is not None


def _claim_due(now: datetime, limit: int) -> list[int]:
    """Moves due queued messages (and stale `sending` ones whose worker died) to `sending`
    and commits, so no two dispatchers send the same row: one UPDATE … WHERE id IN (SELECT …
    FOR UPDATE SKIP LOCKED LIMIT n) RETURNING id."""
    # A row left `sending` by a dispatcher that died is taken up again after the lease.
    stale = now - timedelta(seconds=current_app.config["MESSAGE_LEASE_SECONDS"])
    messages = Message.__table__
    due = (select(messages.c.id)
           .where(messages.c.transport != "outbox",
                  ((messages.c.state == "queued") & (messages.c.next_attempt_at <= now))
                  | ((messages.c.state == "sending") & (messages.c.updated_at <= stale)))
           .order_by(messages.c.next_attempt_at).limit(limit))
    if is_postgres():
        due = due.with_for_update(skip_locked=True)
    ids = sorted(db.session.scalars(update(messages).where(messages.c.id.in_(due.scalar_subquery()))
                                    .values(state="sending", updated_at=now).returning(messages.c.id)))
    db.session.commit()
    return ids


def deliver(message: Message, now: datetime | None = None) -> bool:
    """One delivery attempt; records the outcome on the row and commits; True when sent. The
    provider is called outside any transaction."""
    now = now or utcnow()
    payload, transport, message_id = outgoing(message), message.transport, message.id
    db.session.commit()
    try:
        provider_id = (send_twilio if transport == "twilio" else send_smtp)(payload)
        error = None
    except TransportError as exc:
        provider_id, error = None, str(exc)
    message = db.session.get(Message, message_id)
    message.attempts += 1
    if error is None:
        message.state, message.sent_at, message.error, message.provider_id = "sent", now, None, provider_id
    elif message.attempts >= MAX_ATTEMPTS:
        message.state, message.error = "failed", error
        _mark_invitation_failed(message)
    else:
        message.state, message.error = "queued", error
        message.next_attempt_at = now + backoff(message.attempts)
    db.session.commit()
    return error is None


def _mark_invitation_failed(message: Message) -> None:
    if message.invitation_id and message.purpose == "invitation":
        from reports.rollups import add_invitations
        from surveys.models import Invitation
        failed = db.session.execute(update(Invitation).where(Invitation.id == message.invitation_id,
                                                             Invitation.state == "sent")
                                    .values(state="failed")).rowcount
        if failed:
            add_invitations([message.invitation_id], "failed")


def deliver_due(now: datetime | None = None, limit: int = 200) -> int:
    """Delivers due provider messages; returns how many went out."""
    now = now or utcnow()
    sent, claimed = 0, _claim_due(now, limit)
    for done, message_id in enumerate(claimed):
        if stopping():  # shutting down: what was claimed but not tried goes back to the queue
            _unclaim(claimed[done:])
            break
        if _still_ours(message_id, now):
            sent += deliver(db.session.get(Message, message_id), now)
    return sent


def _still_ours(message_id: int, claimed_at: datetime) -> bool:
    """Renews the claim just before the send. The lease then covers one send, not a whole
    batch: when a busy dispatcher takes longer than MESSAGE_LEASE_SECONDS over its batch,
    another may have taken the rest up, and this one must not send them too."""
    renewed = db.session.execute(update(Message).where(
        Message.id == message_id, Message.state == "sending", Message.updated_at == claimed_at)
        .values(updated_at=utcnow())).rowcount
    db.session.commit()
    return bool(renewed)


def _unclaim(ids: list[int]) -> None:
    db.session.execute(update(Message).where(Message.id.in_(ids), Message.state == "sending")
                       .values(state="queued"))
    db.session.commit()


def retry_now(message: Message) -> None:
    """Staff may push a failed message back into the queue."""
    message.state, message.next_attempt_at, message.attempts = "queued", utcnow(), 0


def apply_status(message: Message, status: str, error: str | None = None) -> None:
    """Twilio status callback: delivered / undelivered / failed / call states."""
    now = utcnow()
    if status in ("delivered", "completed"):
        message.state, message.delivered_at = "delivered", now
    elif status in ("undelivered", "failed", "busy", "no-answer", "canceled"):
        message.state = "undelivered" if status != "failed" else "failed"
        message.error = error or status
        _mark_invitation_failed(message)
    elif message.state in ("queued", "sending"):  # sent, ringing, in-progress, answered ...
        message.state = "sent"
