"""Domain events for integrations (outbound webhooks), written by the transactional outbox
pattern: an area calls `publish` in the same transaction as the change it announces, so an
event row exists if and only if the change committed. The integrations area fans committed
events out to subscribed webhook endpoints; nothing here does any network I/O."""
from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import db, is_postgres, utcnow
from core.timeutil import iso_utc

# The catalogue integrators can subscribe to (SPEC "Results API and webhooks").
EVENT_TYPES = ("response.completed", "task.created", "task.closed",
               "complaint.stage_completed", "complaint.reopened")


class Event(db.Model):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_pending", "fanned_out", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    # The Standard Webhooks `webhook-id`: the same for every endpoint and every retry, so
    # receivers can drop repeats of an at-least-once delivery.
    uid: Mapped[str] = mapped_column(String(40), unique=True)
    type: Mapped[str] = mapped_column(String(48))
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    fanned_out: Mapped[bool] = mapped_column(default=False)

    def payload(self) -> dict[str, Any]:
        """The body receivers get (Standard Webhooks' recommended shape)."""
        return {"type": self.type, "timestamp": iso_utc(self.created_at), "data": self.data}


def new_uids(count: int) -> list[str]:
    """`count` new event ids (the Standard Webhooks `webhook-id`): `msg_`, the millisecond in
    hex, then 80 random bits. Ids made later sort later, so a bulk import's million events add
    to the end of the unique index instead of to a random page of it each (about a tenth of the
    database's work per imported row)."""
    stamp = f"msg_{time.time_ns() // 1_000_000:012x}"
    randoms = secrets.token_hex(10 * count)  # one call for all
    return [stamp + randoms[20 * i:20 * i + 20] for i in range(count)]


def publish(event: str, data: dict[str, Any], now: datetime | None = None) -> Event:
    """Adds `event` to the current transaction; the caller's commit makes it real. `data` must
    be JSON: ids, codes and ISO times, no personal data beyond what the API serves."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event!r}; add it to core.events.EVENT_TYPES")
    row = Event(uid=new_uids(1)[0], type=event, data=data, created_at=now or utcnow())
    db.session.add(row)
    return row


def publish_many(event: str, datas: list[dict[str, Any]], now: datetime | None = None) -> int:
    """`publish` for bulk intake: the event rows written in one COPY / executemany, in the
    caller's transaction."""
    from core.bulk import insert_rows

    if event not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event!r}; add it to core.events.EVENT_TYPES")
    now = now or utcnow()
    return insert_rows(Event.__table__, [{"uid": uid, "type": event, "data": data, "created_at": now, "fanned_out": False}
                                         for uid, data in zip(new_uids(len(datas)), datas, strict=True)])


def publish_serialised(event: str, datas: list[str], now: datetime | None = None) -> int:
    """`publish_many` for the bulk import: `datas` already JSON text (built from templates,
    not a dict per row), written by COPY / executemany in the caller's transaction."""
    return prepared_serialised(event, datas, now)()


def prepared_serialised(event: str, datas: list[str], now: datetime | None = None) -> Callable[[], int]:
    """`publish_serialised` in two halves (core.bulk.prepared_tuples): the rows are made now,
    written in the then-current transaction when the returned function is called."""
    from core.bulk import copy_lines, copy_text, prepared_tuples

    if event not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event!r}; add it to core.events.EVENT_TYPES")
    if not datas:
        return lambda: 0
    uids, now = new_uids(len(datas)), now or utcnow()
    columns = ("uid", "type", "data", "created_at", "fanned_out")
    if not is_postgres():
        return prepared_tuples(Event.__table__, columns, [(uid, event, data, now, False)
                                                         for uid, data in zip(uids, datas, strict=True)],
                               json_text=("data",))
    # COPY text made here, a line a row: every value but the data is the same or plain hex, so
    # nothing needs the driver's adaptation (a third of an import's work in Python for events).
    tail = f"\t{copy_text(str(now))}\tf\n"
    lines = "".join(f"{uid}\t{event}\t{copy_text(data)}{tail}" for uid, data in zip(uids, datas, strict=True))
    return lambda: copy_lines(Event.__tablename__, columns, [lines]) or len(datas)
