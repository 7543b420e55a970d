"""The web survey's reads and writes in SQLAlchemy Core: an invitation being answered is read as
plain values under its row lock (one joined query, and one for the answers already saved), and
a submitted page is stored with a few statements (INSERT … RETURNING of a new response, one
executemany per kind of answer change, the invitation's state) in the request's transaction.

The ORM's unit of work cost about half of an answer's CPU; the rows stored are the same as
`response_for` and `save_answers` store (tests/test_web_survey.py compares them). Completing a
response stays with `complete_response` (the ORM, the rollups, the events), once per survey."""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from core.db import db, utcnow
from surveys.models import (
    Answer,
    Invitation,
    QuestionnaireVersion,
    Response,
    answer_columns,
    stored_value,
)
from surveys.services import check_answerable, plausible_token

INVITATIONS, RESPONSES, ANSWERS = Invitation.__table__, Response.__table__, Answer.__table__
# Built once: the columns SET are the parameters other than those bound in WHERE.
NEW_RESPONSE = insert(RESPONSES).returning(RESPONSES.c.id)
STARTED = update(INVITATIONS).where(INVITATIONS.c.id == bindparam("invitation_id"))
REMOVED = delete(ANSWERS).where(ANSWERS.c.id.in_(bindparam("answer_ids", expanding=True)))
CHANGED = update(ANSWERS).where(ANSWERS.c.id == bindparam("answer_id"))
ADDED = insert(ANSWERS)
# Read after the lock, in a statement of its own: a joined read would, on PostgreSQL, see the
# invitation row as the transaction that held the lock left it but not the response it created.
SAVED = (select(RESPONSES.c.id, RESPONSES.c.progress, ANSWERS.c.question_key, ANSWERS.c.id, ANSWERS.c.value_num,
                ANSWERS.c.value_text)
         .outerjoin(ANSWERS, ANSWERS.c.response_id == RESPONSES.c.id)
         .where(RESPONSES.c.invitation_id == bindparam("invitation_id")))
PROGRESS = update(RESPONSES).where(RESPONSES.c.id == bindparam("response_id"),
                                   RESPONSES.c.progress < bindparam("page")).values(progress=bindparam("page"))


@dataclass
class Answering:
    """An invitation behind a survey link that can be answered now, and its response so far."""
    token: str
    invitation_id: int
    state: str
    version_id: int
    checksum: str
    locale: str | None
    response_id: int | None
    progress: int
    # what a new response copies: the customer, the ticket's breakdowns, the channel
    copied: dict[str, Any]
    answers: dict[str, Any] = field(default_factory=dict)  # question key -> value (answer_map)
    answer_ids: dict[str, int] = field(default_factory=dict)  # of the answers read


@functools.cache
def _answering_query(lock: bool):
    """Built once per kind (on first use: the mappers must be configured)."""
    from tickets.models import Customer, Ticket  # tickets builds on surveys' tables, not its code
    query = (select(Invitation.id, Invitation.state, Invitation.expires_at, Invitation.version_id,
                    QuestionnaireVersion.checksum, Customer.locale, Invitation.customer_id, Invitation.ticket_id, Invitation.channel, Customer.external_id,
                    Ticket.kind, Ticket.region, Ticket.agent)
             .join(QuestionnaireVersion, QuestionnaireVersion.id == Invitation.version_id)
             .join(Customer, Customer.id == Invitation.customer_id)
             .outerjoin(Ticket, Ticket.id == Invitation.ticket_id)
             .where(Invitation.token == bindparam("token")))
    return query.with_for_update(of=INVITATIONS) if lock else query  # the invitation row only


def answering(token: str, lock: bool = False, now: datetime | None = None) -> Answering:
    """The invitation behind a survey link with its saved answers, or SurveyUnavailable
    (404 / 410). With `lock`, its row is locked until the request's commit, so concurrent
    answers to one invitation (a double click, two tabs) run one after the other and the
    second sees what the first stored. Runs in the ORM session's transaction."""
    plausible_token(token)
    connection = db.session.connection()
    row = connection.execute(_answering_query(lock), {"token": token}).first()
    check_answerable(row and row[1], row and row[2], now)
    (invitation_id, state, _expires, version_id, checksum, locale, customer_id, ticket_id, channel, respondent,
     kind, region, agent) = row
    found = Answering(token, invitation_id, state, version_id, checksum, locale, None, 0,
                      dict(invitation_id=invitation_id, version_id=version_id, customer_id=customer_id,
                           ticket_id=ticket_id, channel=channel, respondent=respondent,
                           ticket_kind=kind or "", region=region or "", agent=agent or ""))
    for response_id, progress, key, answer_id, number, text in connection.execute(
            SAVED, {"invitation_id": invitation_id}):
        found.response_id, found.progress = response_id, progress or 0
        if key is not None:
            found.answer_ids[key] = answer_id
            found.answers[key] = stored_value(number, text)
    return found


def start_response(found: Answering, progress: int = 0) -> int:
    """The invitation's one response, created on its first answer (as `response_for` creates
    it); returns its id. The caller holds the invitation's row lock."""
    if found.response_id is None:
        connection = db.session.connection()
        found.response_id = connection.execute(NEW_RESPONSE, {**found.copied, "progress": progress}).scalar_one()
        found.progress = progress
        if found.state == "sent":
            connection.execute(STARTED, {"invitation_id": found.invitation_id, "state": "started"})
            found.state = "started"
    return found.response_id


def store_page(found: Answering, values: dict[str, Any], page: int) -> None:
    """Stores the answers of a submitted page (None removes one) and the progress, as
    `save_answers` does. Caller commits."""
    if found.response_id is None:
        start_response(found, progress=page)
    elif page > found.progress:
        # in SQL too: progress never goes back, whatever this request read
        db.session.connection().execute(PROGRESS, {"response_id": found.response_id, "page": page})
        found.progress = page
    now, connection = utcnow(), db.session.connection()
    removed = [found.answer_ids[k] for k, v in values.items() if v is None and k in found.answer_ids]
    changed = [{"answer_id": found.answer_ids[k], **answer_columns(v), "answered_at": now}
               for k, v in values.items() if v is not None and k in found.answer_ids]
    added = [{"response_id": found.response_id, "question_key": k, **answer_columns(v), "answered_at": now}
             for k, v in values.items() if v is not None and k not in found.answer_ids]
    if removed:
        connection.execute(REMOVED, {"answer_ids": removed})
    if changed:
        connection.execute(CHANGED, changed)
    if added:  # one row (most pages) as a plain execute: the driver's executemany is a pipeline
        connection.execute(ADDED, added if len(added) > 1 else added[0])
    answers = dict(found.answers)
    for key, value in values.items():
        if value is None:
            answers.pop(key, None)
        else:
            answers[key] = stored_value(**answer_columns(value))
    found.answers = answers
    found.answer_ids = {k: i for k, i in found.answer_ids.items() if k in found.answers}


def stored_response(found: Answering) -> Response:
    """The response as an ORM object (for `complete_response`), read in the same transaction."""
    return db.session.get(Response, found.response_id)
