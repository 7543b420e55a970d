"""Retention: responses older than `retention_months` lose their personal data (who answered,
free text, the link to the customer and ticket) but keep every figure column.

Anonymised means no join leads from the response to a person: the response's own links
(customer, ticket, invitation, interviewer) go, and so does every nullable link other tables
hold to the response (a callback task, and whatever table later points at responses), found
from the schema's foreign keys so a new table cannot reopen a path unnoticed.
`tests/test_retention.py` walks every foreign key from an anonymised response."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update

from core.accounts import audit
from core.db import db, utcnow
from core.settings import get_rule
from surveys.models import Answer, Response


def _unlink_from_others(response_ids: list[int]) -> None:
    """Clears every nullable column of another table that points at these responses."""
    responses = Response.__table__
    for table in db.metadata.sorted_tables:
        for key in table.foreign_keys:
            if key.column.table is responses and key.parent.nullable and table is not responses:
                db.session.execute(update(table).where(key.parent.in_(response_ids)).values({key.parent.name: None}))


def _drop_packed_texts(response_ids: list[int]) -> None:
    """Imported responses' packed answers keep their numbers only, as their rows would."""
    packed = db.session.execute(select(Response.id, Response.packed_answers).where(
        Response.id.in_(response_ids), Response.packed_answers.is_not(None))).all()
    kept = [{"id": rid, "packed_answers": {k: v for k, v in answers.items() if not isinstance(v, str)}}
            for rid, answers in packed if any(isinstance(v, str) for v in answers.values())]
    if kept:
        db.session.execute(update(Response), kept)  # by primary key, one executemany


def anonymise_responses(ids: list[int]) -> None:
    """Strips these responses of the person (retention, and a customer's erasure request)."""
    for start in range(0, len(ids), 1000):
        chunk = ids[start:start + 1000]
        db.session.execute(delete(Answer).where(Answer.response_id.in_(chunk),
                                                Answer.value_text.is_not(None)))
        _drop_packed_texts(chunk)
        _unlink_from_others(chunk)
        db.session.execute(update(Response).where(Response.id.in_(chunk)).values(
            respondent="", customer_id=None, ticket_id=None, invitation_id=None, interviewer_id=None,
            anonymized_at=utcnow()))


def anonymise_old_responses(now: datetime | None = None) -> int:
    months = int(get_rule("retention_months") or 0)
    if months <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=30 * months)
    ids = select(Response.id).where(Response.completed_at < cutoff, Response.anonymized_at.is_(None))
    targets = list(db.session.scalars(ids))
    if not targets:
        return 0
    anonymise_responses(targets)
    audit("anonymise_responses", "responses", count=len(targets), older_than=cutoff.isoformat())
    db.session.commit()
    return len(targets)
