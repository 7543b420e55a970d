"""The web survey's reads and writes in SQLAlchemy Core: an invitation being answered is read as
plain values under its row lock (one joined query, and one for the answers already saved), and
a submitted page is stored with a few statements (INSERT … RETURNING of a new response, one per
answer changed, the invitation's state) in the request's transaction. Each step's statements
go to PostgreSQL together (core.db.execute_together): the read is a round trip, and so is the
write with its COMMIT when the page is not the last.

The ORM's unit of work cost about half of an answer's CPU; the rows stored are the same as
`response_for` and `save_answers` store (tests/test_web_survey.py compares them). Completing a
response stays with `complete_response` (the ORM, the rollups, the events), once per survey."""
from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update

from core.db import Statement, db, execute_together, utcnow
from surveys.models import (
    Answer,
    Invitation,
    QuestionnaireVersion,
    Response,
    answer_columns,
    stored_value,
)
from surveys.services import CLOSED, check_answerable, plausible_token

INVITATIONS, RESPONSES, ANSWERS = Invitation.__table__, Response.__table__, Answer.__table__


def _written(table, *columns: str) -> dict:
    """A bindparam per column written: the statements run on the driver, which fills in no
    defaults (core.db.execute_together)."""
    return {column: bindparam(column, type_=table.c[column].type) for column in columns}


COPIED = ("invitation_id", "version_id", "customer_id", "ticket_id", "channel", "respondent", "ticket_kind",
          "region", "agent")
NEW_RESPONSE = (insert(RESPONSES).values(_written(RESPONSES, *COPIED, "started_at", "progress"))
                .returning(RESPONSES.c.id))
STARTED = (update(INVITATIONS).where(INVITATIONS.c.id == bindparam("invitation_id"))
           .values(_written(INVITATIONS, "state")))
REMOVED = delete(ANSWERS).where(ANSWERS.c.id == bindparam("answer_id"))
CHANGED = (update(ANSWERS).where(ANSWERS.c.id == bindparam("answer_id"))
           .values(_written(ANSWERS, "value_num", "value_text", "answered_at")))
# The response by its invitation: a new one is created in the same round trip. Inline: no
# RETURNING of the new id, which nothing reads.
ADDED = insert(ANSWERS).inline().values(
    response_id=select(RESPONSES.c.id).where(RESPONSES.c.invitation_id == bindparam("invitation_id"))
    .scalar_subquery(), **_written(ANSWERS, "question_key", "value_num", "value_text", "answered_at"))
# Run after the locking read, as a statement of its own: a joined read would, on PostgreSQL,
# see the invitation row as the transaction that held the lock left it but not the response it
# created. Sent with the lock, it runs once the lock is held, with a snapshot of its own.
SAVED = (select(RESPONSES.c.id, RESPONSES.c.progress, ANSWERS.c.question_key, ANSWERS.c.id, ANSWERS.c.value_num,
                ANSWERS.c.value_text)
         .join(INVITATIONS, INVITATIONS.c.id == RESPONSES.c.invitation_id)
         .outerjoin(ANSWERS, ANSWERS.c.response_id == RESPONSES.c.id)
         .where(INVITATIONS.c.token == bindparam("token")))
PROGRESS = update(RESPONSES).where(RESPONSES.c.id == bindparam("response_id"),
                                   RESPONSES.c.progress < bindparam("page")).values(progress=bindparam("page"))


# A survey's first answer as one statement (surveys/front.py; PostgreSQL): the invitation locked,
# its response created, the invitation started and the answers added, the rows store_page
# stores for a new response (tests/test_survey_front.py compares them). Nothing is written
# unless the invitation can be answered (check_answerable's rule), has no response, and has
# the questionnaire version the answers were checked against: any other request, an answer
# that came first or one that runs alongside, is left to the view. An invitation locked by
# another request fails it at once (NOWAIT): the view waits for that lock, the front never
# does. Run in autocommit, the statement is a transaction of its own.
FIRST_ANSWER = text("""
WITH invitation AS (
    SELECT i.id, i.version_id, i.customer_id, i.ticket_id, i.channel, c.external_id AS respondent,
           coalesce(t.kind, '') AS ticket_kind, coalesce(t.region, '') AS region, coalesce(t.agent, '') AS agent
    FROM invitations AS i
    JOIN questionnaire_versions AS v ON v.id = i.version_id
    JOIN customers AS c ON c.id = i.customer_id
    LEFT JOIN tickets AS t ON t.id = i.ticket_id
    WHERE i.token = :token AND i.version_id = :version_id AND v.checksum = :checksum
          AND i.state NOT IN (CLOSED) AND i.expires_at > :now
    FOR UPDATE OF i NOWAIT
), response AS (
    INSERT INTO responses (invitation_id, version_id, customer_id, ticket_id, channel, respondent,
                           ticket_kind, region, agent, started_at, progress)
    SELECT id, version_id, customer_id, ticket_id, channel, respondent, ticket_kind, region, agent, :now, :page
    FROM invitation
    ON CONFLICT (invitation_id) DO NOTHING
    RETURNING id, invitation_id
), started AS (
    UPDATE invitations SET state = 'started' FROM response
    WHERE invitations.id = response.invitation_id AND invitations.state = 'sent'
), answered AS (
    INSERT INTO answers (response_id, question_key, value_num, value_text, answered_at)
    SELECT response.id, answer.key, answer.num, answer.text, :now
    FROM response, jsonb_to_recordset(CAST(:answers AS jsonb)) AS answer (key text, num float8, text text)
)
SELECT id FROM response
""".replace("CLOSED", ", ".join(f"'{state}'" for state in CLOSED)))  # constants: no parameter


def store_first_answer(run: Callable[..., tuple | None], token: str, version_id: int, checksum: str, page: int,
                       values: dict[str, Any]) -> bool:
    """Stores the first page answered (`page`, its `values` checked against the questionnaire
    version `version_id` whose checksum is `checksum`) of the survey of `token` with FIRST_ANSWER,
    run by `run` (a ReservedConnection's `first`); False, with nothing stored, when FIRST_ANSWER
    leaves the answer to the view."""
    # one parameter of JSON text for the answers: the driver adapts arrays in Python, slowly
    answers = json.dumps([{"key": key, "num": columns["value_num"], "text": columns["value_text"]}
                          for key, value in values.items() if value is not None
                          for columns in (answer_columns(value),)])
    return run(FIRST_ANSWER, {"token": token, "version_id": version_id, "checksum": checksum, "now": utcnow(),
                              "page": page, "answers": answers}) is not None


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
    invitations, saved = execute_together([(_answering_query(lock), {"token": token}), (SAVED, {"token": token})])
    row = invitations[0] if invitations else None
    check_answerable(row and row[1], row and row[2], now)
    (invitation_id, state, _expires, version_id, checksum, locale, customer_id, ticket_id, channel, respondent,
     kind, region, agent) = row
    found = Answering(token, invitation_id, state, version_id, checksum, locale, None, 0,
                      dict(invitation_id=invitation_id, version_id=version_id, customer_id=customer_id,
                           ticket_id=ticket_id, channel=channel, respondent=respondent,
                           ticket_kind=kind or "", region=region or "", agent=agent or ""))
    for response_id, progress, key, answer_id, number, words in saved:
        found.response_id, found.progress = response_id, progress or 0
        if key is not None:
            found.answer_ids[key] = answer_id
            found.answers[key] = stored_value(number, words)
    return found


def _new_response(found: Answering, progress: int, now: datetime) -> list[Statement]:
    """The statements that create the invitation's one response (as `response_for` does)."""
    new = [(NEW_RESPONSE, {**found.copied, "started_at": now, "progress": progress})]
    if found.state == "sent":
        new.append((STARTED, {"invitation_id": found.invitation_id, "state": "started"}))
    return new


def _response_created(found: Answering, rows: list[tuple], progress: int) -> None:
    """`found` as the statements of _new_response left it: `rows` are NEW_RESPONSE's."""
    found.response_id, found.progress = rows[0][0], progress
    found.state = "started" if found.state == "sent" else found.state


def start_response(found: Answering, progress: int = 0) -> int:
    """The invitation's one response, created on its first answer (as `response_for` creates
    it); returns its id. The caller holds the invitation's row lock."""
    if found.response_id is None:
        rows = execute_together(_new_response(found, progress, utcnow()))[0]
        _response_created(found, rows, progress)
    return found.response_id


def _answer_changes(found: Answering, values: dict[str, Any], now: datetime) -> list[Statement]:
    """A statement per answer added, changed or removed (None) by `values`."""
    changes = []
    for key, value in values.items():
        known = found.answer_ids.get(key)
        if value is None:
            if known is not None:
                changes.append((REMOVED, {"answer_id": known}))
            continue
        written = {**answer_columns(value), "answered_at": now}
        changes.append((CHANGED, {"answer_id": known, **written}) if known is not None else
                       (ADDED, {"invitation_id": found.invitation_id, "question_key": key, **written}))
    return changes


def store_page(found: Answering, values: dict[str, Any], page: int, commit: bool = False) -> None:
    """Stores the answers of a submitted page (None removes one) and the progress, as
    `save_answers` does, in one round trip; with `commit`, the COMMIT goes with them."""
    now, created = utcnow(), found.response_id is None
    if created:
        statements = _new_response(found, page, now)
    elif page > found.progress:  # in SQL too: progress never goes back, whatever this request read
        statements = [(PROGRESS, {"response_id": found.response_id, "page": page})]
    else:
        statements = []
    statements += _answer_changes(found, values, now)
    results = execute_together(statements, commit=commit)
    if created:
        _response_created(found, results[0], page)
    found.progress = max(found.progress, page)
    found.answers = answers_after(found.answers, values)
    found.answer_ids = {k: i for k, i in found.answer_ids.items() if k in found.answers}


def answers_after(answers: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """`answers` (question key -> value) as a page's `values` leave them, once stored."""
    after = dict(answers)
    for key, value in values.items():
        if value is None:
            after.pop(key, None)
        else:
            after[key] = stored_value(**answer_columns(value))
    return after


def stored_response(found: Answering) -> Response:
    """The response as an ORM object (for `complete_response`), read in the same transaction."""
    return db.session.get(Response, found.response_id)
