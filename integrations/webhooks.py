"""Outbound webhooks following the Standard Webhooks specification.

Events are committed by the areas (core.events.publish); `deliver_webhooks` (a scheduler job,
also callable by a worker) fans new events out into one delivery row per subscribed endpoint,
claims due deliveries (FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers never take the
same row), commits the claim, and only then POSTs, outside any database transaction. A
failed POST is retried with exponential back-off for 24 hours; a crash mid-POST leaves the
claim's lease to expire and the delivery is tried again (at least once; the `webhook-id`
is stable, so receivers drop repeats)."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import requests
from sqlalchemy import delete, insert, literal, select, update
from standardwebhooks.webhooks import Webhook

from core.bulk import in_values
from core.db import db, is_postgres, utcnow
from core.events import Event
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

RETRY_FOR = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
LONGEST_GAP = timedelta(hours=2)
LEASE = timedelta(minutes=2)  # a claim older than this was lost with its worker
TIMEOUT_SECONDS = 10
BATCH = 100
FAN_OUT_BATCH = 5000
# Receivers had 24 h of retries and the admin a month to read the log and redeliver; past that
# an event is history the results API (not the outbox) serves.
KEEP_EVENTS = timedelta(days=30)
PRUNE_BATCH = 5000


@dataclass
class Claimed:
    """What one POST needs, copied out of the session so no lazy load runs during I/O."""
    delivery_id: int
    url: str
    secret: str
    msg_id: str
    body: str


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, … doubling up to 2 h between tries."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_GAP)


def _locked(query):
    return query.with_for_update(skip_locked=True) if is_postgres() else query


def fan_out(now: datetime | None = None, batch: int = FAN_OUT_BATCH) -> int:
    """New events become one delivery per endpoint subscribed to their type. Set-based: an
    import publishes a million `response.completed` events, which one ORM object each would
    take hours to fan out. Commits; returns the deliveries created."""
    now = now or utcnow()
    ids = list(db.session.scalars(_locked(
        select(Event.id).where(Event.fanned_out.is_(False)).order_by(Event.id).limit(batch))))
    created = 0
    if ids:
        for endpoint_id, types in db.session.execute(
                select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(WebhookEndpoint.active.is_(True))):
            created += db.session.execute(insert(WebhookDelivery.__table__).from_select(
                ["event_id", "endpoint_id", "state", "attempts", "next_attempt_at", "retry_until", "created_at"],
                select(Event.id, literal(endpoint_id), literal("pending"), literal(0), literal(now),
                       literal(now + RETRY_FOR), literal(now))
                .where(in_values(Event.id, ids), Event.type.in_(types or [""]))),
                execution_options={"preserve_rowcount": True}).rowcount  # else -1 for INSERT … SELECT
        db.session.execute(update(Event.__table__).where(in_values(Event.id, ids)).values(fanned_out=True))
    db.session.commit()
    return created


def prune_events(now: datetime | None = None) -> int:
    """The cron job keeping the event outbox bounded: events older than KEEP_EVENTS whose every
    delivery is over (delivered, or failed after its 24 h) go, with their deliveries and their
    log. A pending delivery keeps its event. Returns the events removed."""
    cutoff = (now or utcnow()) - KEEP_EVENTS
    still_pending = select(WebhookDelivery.id).where(WebhookDelivery.event_id == Event.id,
                                                     WebhookDelivery.state == "pending").exists()
    removed = 0
    while ids := list(db.session.scalars(select(Event.id).where(
            Event.fanned_out.is_(True), Event.created_at < cutoff, ~still_pending).limit(PRUNE_BATCH))):
        deliveries = select(WebhookDelivery.id).where(in_values(WebhookDelivery.event_id, ids))
        db.session.execute(delete(WebhookAttempt.__table__).where(WebhookAttempt.delivery_id.in_(deliveries)))
        db.session.execute(delete(WebhookDelivery.__table__).where(in_values(WebhookDelivery.event_id, ids)))
        removed += db.session.execute(delete(Event.__table__).where(in_values(Event.id, ids))).rowcount
        db.session.commit()  # a batch at a time: no long lock on the outbox the web writes to
    return removed


def claim_due(now: datetime, limit: int = BATCH) -> list[Claimed]:
    """Takes due deliveries for LEASE and commits, so the POSTs run outside a transaction."""
    rows = list(db.session.scalars(_locked(
        select(WebhookDelivery).where(WebhookDelivery.state == "pending",
                                      WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit))))
    claimed = []
    for row in rows:
        row.next_attempt_at = now + LEASE
        row.attempts += 1
        body = json.dumps(row.event.payload(), ensure_ascii=False, separators=(",", ":"))
        claimed.append(Claimed(row.id, row.endpoint.url, row.endpoint.secret, row.event.uid, body))
    db.session.commit()
    return claimed


def signed_headers(secret: str, msg_id: str, body: str) -> dict[str, str]:
    # The signature's timestamp is the real clock's: receivers refuse ones 5 minutes off.
    signed_at = datetime.now(UTC)
    return {"Content-Type": "application/json", "User-Agent": "Huifang-Webhooks/1",
            "webhook-id": msg_id, "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, signed_at, body)}


def post(item: Claimed) -> tuple[int | None, str | None, int]:
    """(status, error, milliseconds). Redirects are not followed: a 3xx is a failure."""
    started = time.monotonic()
    try:
        reply = requests.post(item.url, data=item.body.encode(), timeout=TIMEOUT_SECONDS,
                              headers=signed_headers(item.secret, item.msg_id, item.body),
                              allow_redirects=False)
        status, error = reply.status_code, None if 200 <= reply.status_code < 300 else reply.text[:300]
    except requests.RequestException as exc:
        status, error = None, f"{type(exc).__name__}: {exc}"[:300]
    return status, error, int((time.monotonic() - started) * 1000)


def record(delivery_id: int, status: int | None, error: str | None, ms: int, now: datetime) -> None:
    row = db.session.get(WebhookDelivery, delivery_id)
    db.session.add(WebhookAttempt(delivery_id=row.id, at=now, status=status, error=error, duration_ms=ms))
    row.last_status, row.last_error = status, error
    if status is not None and 200 <= status < 300:
        row.state, row.delivered_at = "delivered", now
    elif now >= row.retry_until:
        row.state = "failed"
    else:
        row.next_attempt_at = min(now + backoff(row.attempts), row.retry_until)
    db.session.commit()


def deliver_webhooks(now: datetime | None = None, limit: int = BATCH) -> int:
    """The job (the scheduler's, and each `flask worker`'s): fan out new events, then POST up to
    `limit` due deliveries. Returns the POSTs made."""
    now = now or utcnow()
    fan_out(now)
    claimed = claim_due(now, limit)
    for item in claimed:
        record(item.delivery_id, *post(item), now)
    return len(claimed)


def redeliver(delivery: WebhookDelivery, now: datetime | None = None) -> None:
    """An admin's manual retry: due now, with a fresh 24 hours. Caller audits and commits."""
    now = now or utcnow()
    delivery.state, delivery.next_attempt_at, delivery.retry_until = "pending", now, now + RETRY_FOR
