"""Questionnaire store, answering and completing responses: plain functions over the models."""
from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import joinedload

from core.db import db, read_first, utcnow
from core.events import publish
from surveys.definition import Definition, load_yaml, parse_definition
from surveys.feed import feed_stamp, response_event
from surveys.models import (
    DIMENSIONS,
    Answer,
    Invitation,
    Question,
    Questionnaire,
    QuestionnaireRoute,
    QuestionnaireVersion,
    Response,
    answer_columns,
)

DEFINITIONS_DIR = Path(__file__).parent / "definitions"


class SurveyUnavailable(Exception):
    """The token names no invitation (404) or one that can no longer be answered (410)."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# ---- questionnaires -------------------------------------------------------------------------

def import_questionnaire(raw: dict[str, Any], publish: bool = True,
                         author_id: int | None = None) -> tuple[QuestionnaireVersion, bool]:
    """Stores a definition; returns (version, created). An unchanged definition reuses the
    latest version; a changed one becomes a new version and old ones are never touched.
    With `publish` False the new version is a draft that no customer gets until published."""
    definition = parse_definition(raw)
    questionnaire = db.session.scalar(select(Questionnaire).where(Questionnaire.key == definition.key))
    if questionnaire is None:
        questionnaire = Questionnaire(key=definition.key)
        db.session.add(questionnaire)
        db.session.flush()
    latest = newest_version(definition.key)
    checksum = definition.checksum()
    if latest is not None and latest.checksum == checksum:
        if publish and latest.published_at is None:
            publish_version(latest)
        return latest, False
    version = QuestionnaireVersion(questionnaire_id=questionnaire.id,
                                   number=(latest.number + 1) if latest else 1,
                                   definition=definition.raw, checksum=checksum,
                                   published_at=utcnow() if publish else None, created_by_id=author_id)
    db.session.add(version)
    db.session.flush()
    for position, q in enumerate(definition.questions):
        db.session.add(Question(version_id=version.id, key=q.key, position=position,
                                type=q.type, page=q.page))
    db.session.commit()
    return version, True


def publish_version(version: QuestionnaireVersion) -> None:
    """New invitations get this version from now on. Commits."""
    version.published_at = version.published_at or utcnow()
    db.session.commit()


def import_questionnaire_file(path: str | Path) -> tuple[QuestionnaireVersion, bool]:
    return import_questionnaire(load_yaml(Path(path).read_text(encoding="utf-8")))


def ensure_default_questionnaires() -> None:
    for path in sorted(DEFINITIONS_DIR.glob("*.yaml")):
        import_questionnaire_file(path)


def latest_version(key: str) -> QuestionnaireVersion | None:
    """The version customers get: the newest published one."""
    return db.session.scalar(
        select(QuestionnaireVersion).join(Questionnaire)
        .where(Questionnaire.key == key, QuestionnaireVersion.published_at.is_not(None))
        .order_by(QuestionnaireVersion.number.desc()).limit(1))


def newest_version(key: str) -> QuestionnaireVersion | None:
    """The newest version, draft or published: what the builder edits next."""
    return db.session.scalar(
        select(QuestionnaireVersion).join(Questionnaire)
        .where(Questionnaire.key == key).order_by(QuestionnaireVersion.number.desc()).limit(1))


class QuestionnaireRouter:
    """Chooses the questionnaire version of an invitation by ticket kind and channel: the
    most specific route (kind and channel, then kind, then channel) whose questionnaire has a
    published version, else the `questionnaire` rule. Loads the routes once: one per batch."""

    def __init__(self, default_key: str):
        self.default_key = default_key
        self.routes = {(r.ticket_kind, r.channel): r.questionnaire.key
                       for r in db.session.scalars(select(QuestionnaireRoute)
                                                   .options(joinedload(QuestionnaireRoute.questionnaire)))}
        self._versions: dict[str, QuestionnaireVersion | None] = {}

    def _version(self, key: str) -> QuestionnaireVersion | None:
        if key not in self._versions:
            self._versions[key] = latest_version(key)
        return self._versions[key]

    def version_for(self, ticket_kind: str, channel: str) -> QuestionnaireVersion:
        for match in ((ticket_kind, channel), (ticket_kind, ""), ("", channel)):
            key = self.routes.get(match)
            if key and self._version(key) is not None:
                return self._version(key)
        version = self._version(self.default_key)
        if version is None:
            raise RuntimeError(f"questionnaire {self.default_key!r} is not imported: run init-db")
        return version


def set_route(ticket_kind: str, channel: str, questionnaire_key: str) -> QuestionnaireRoute:
    """Adds or changes the routing rule for a ticket kind and channel ("": any). Caller commits."""
    questionnaire = db.session.scalar(select(Questionnaire).where(Questionnaire.key == questionnaire_key))
    if questionnaire is None:
        raise ValueError(f"no questionnaire {questionnaire_key!r}")
    route = db.session.scalar(select(QuestionnaireRoute).where(
        QuestionnaireRoute.ticket_kind == ticket_kind, QuestionnaireRoute.channel == channel))
    if route is None:
        route = QuestionnaireRoute(ticket_kind=ticket_kind, channel=channel)
        db.session.add(route)
    route.questionnaire = questionnaire
    db.session.flush()
    return route


_parsed: dict[tuple[int, str], Definition] = {}


def definition_of(version: QuestionnaireVersion) -> Definition:
    """Parsed definition, cached: versions are immutable, so id and checksum identify one."""
    key = (version.id, version.checksum)
    if key not in _parsed:
        _parsed[key] = parse_definition(version.definition)
    return _parsed[key]


def definition_by_id(version_id: int, checksum: str) -> Definition:
    """The same, loading the version only when this process has not parsed it yet."""
    cached = cached_definition(version_id, checksum)
    return cached if cached is not None else definition_of(db.session.get(QuestionnaireVersion, version_id))


def cached_definition(version_id: int, checksum: str) -> Definition | None:
    """The version's definition if this process has parsed it already (no database, no app)."""
    return _parsed.get((version_id, checksum))


# ---- invitations ----------------------------------------------------------------------------

def new_token() -> str:
    return new_tokens(1)[0]


def new_tokens(count: int) -> list[str]:
    """`count` tokens like new_token's, from one read of the random source (bulk intake): 24
    random bytes each, URL-safe base64 without padding (32 characters)."""
    text = base64.urlsafe_b64encode(secrets.token_bytes(24 * count)).decode("ascii")
    return [text[i:i + 32] for i in range(0, 32 * count, 32)]


@functools.cache
def _locked_by_token():
    """One locking query for what an answer needs (instead of a lazy load each), built once
    (on first use: the mappers must all be configured). The answer creates the response, which
    copies the ticket's breakdowns. The response is not joined: on PostgreSQL a read that
    waited for the lock sees the invitation as the holder left it but not the response the
    holder created, and would create a second one (a Twilio retry beside the first delivery).
    Loaded after the lock by its own statement, it is seen."""
    return (select(Invitation).where(Invitation.token == bindparam("token"))
            .options(joinedload(Invitation.customer), joinedload(Invitation.version), joinedload(Invitation.ticket))
            .with_for_update(of=Invitation))  # lock the invitation row only


UNSENT = ("scheduled", "suppressed")  # the link was never sent: unknown to whoever has it
CLOSED = (*UNSENT, "completed", "expired")  # states that take no answer (and see expires_at)


def check_answerable(state: str | None, expires_at: datetime | None, now: datetime | None) -> None:
    """SurveyUnavailable(404 / 410) unless an invitation in `state` (None: there is none) can
    be answered now."""
    if state is None or state in UNSENT:
        raise SurveyUnavailable(404, "unknown")
    if state == "completed":
        raise SurveyUnavailable(410, "used")
    if state == "expired" or expires_at <= (now or utcnow()):
        raise SurveyUnavailable(410, "expired")


def plausible_token(token: str) -> None:
    if not token or len(token) > 64:
        raise SurveyUnavailable(404, "unknown")


def invitation_for_answering(token: str, now: datetime | None = None) -> Invitation:
    """The invitation behind a survey link, locked until commit, or SurveyUnavailable(404 /
    410): concurrent answers to one invitation (a double click, two tabs, a retried webhook)
    run one after the other and the second sees what the first stored."""
    plausible_token(token)
    invitation = db.session.scalar(_locked_by_token(), {"token": token})
    check_answerable(invitation and invitation.state, invitation and invitation.expires_at, now)
    return invitation


@dataclass(frozen=True)
class Unanswered:
    """What the first page of a survey needs of an invitation nobody has answered yet."""
    token: str
    version_id: int
    checksum: str
    locale: str | None


@functools.cache
def _unanswered_query():
    from tickets.models import Customer
    return (select(Invitation.state, Invitation.expires_at, Invitation.version_id, QuestionnaireVersion.checksum,
                   Customer.locale, Response.id.label("response_id"))
            .join(QuestionnaireVersion, QuestionnaireVersion.id == Invitation.version_id)
            .join(Customer, Customer.id == Invitation.customer_id)
            .outerjoin(Response, Response.invitation_id == Invitation.id)
            .where(Invitation.token == bindparam("token")))


def unanswered_invitation(token: str, now: datetime | None = None,
                          read: Callable[..., tuple | None] = read_first) -> Unanswered | None:
    """The invitation behind a survey link as plain values when it has no response yet (the
    common first visit), None when it has one (load it with invitation_for_answering), or
    SurveyUnavailable(404 / 410). One query on a connection of its own, outside the ORM
    session: no objects, no transaction round trips, no write lock on SQLite. `read`: how,
    read_first or a ReservedConnection's `first`."""
    plausible_token(token)
    row = read(_unanswered_query(), {"token": token})
    state, expires_at, version_id, checksum, locale, response_id = row or (None,) * 6
    check_answerable(state, expires_at, now)
    return Unanswered(token, version_id, checksum, locale) if response_id is None else None


def response_for(invitation: Invitation) -> Response:
    """The invitation's one response, created on the first answer. Callers hold the
    invitation's row lock (invitation_for_answering), so two requests never
    create it twice; the unique invitation_id would refuse a second one anyway."""
    if invitation.response is not None:
        return invitation.response
    ticket = invitation.ticket
    response = Response(invitation_id=invitation.id, version_id=invitation.version_id,
                        customer_id=invitation.customer_id, ticket_id=invitation.ticket_id,
                        channel=invitation.channel, respondent=invitation.customer.external_id,
                        ticket_kind=ticket.kind if ticket else "", region=ticket.region if ticket else "",
                        agent=ticket.agent if ticket else "",
                        answers=[])  # a new response has none: no lazy SELECT to find that out
    invitation.response = response
    db.session.add(response)
    if invitation.state == "sent":
        invitation.state = "started"
    return response


def save_answers(response: Response, values: dict[str, Any]) -> None:
    """Upserts parsed answers (None removes one). Caller commits."""
    existing = {a.question_key: a for a in response.answers}
    now = utcnow()
    if response.packed_answers and values.keys() & response.packed_answers.keys():  # an imported response
        response.packed_answers = {k: v for k, v in response.packed_answers.items() if k not in values} or None
    for key, value in values.items():
        answer = existing.get(key)
        if value is None:
            if answer is not None:
                response.answers.remove(answer)
            continue
        if answer is None:
            answer = Answer(question_key=key)
            response.answers.append(answer)
        for column, stored in answer_columns(value).items():
            setattr(answer, column, stored)
        answer.answered_at = now


def figures(definition: Definition, answers: dict[str, Any]) -> dict[str, Any]:
    """The per-response figure columns (SPEC "Figures"): item scores and the SI of its items."""
    answers = definition.measured(answers)  # by measure, whatever the questions are called
    out: dict[str, Any] = {k: answers.get(k) if isinstance(answers.get(k), int) else None
                           for k in ("overall", "nps", *DIMENSIONS)}
    weights = {d: definition.weights.get(d, 1.0) for d in DIMENSIONS}
    scored = [(weights[d], (out[d] - 1) / 4 * 100) for d in DIMENSIONS if out[d] is not None]
    total = sum(w for w, _ in scored)
    out["satisfaction_index"] = sum(w * i for w, i in scored) / total if total else None
    out["resolved"] = {"yes": True, "no": False}.get(answers.get("resolved"))
    out["wants_callback"] = {"yes": True, "no": False}.get(answers.get("callback"))
    return out


def count_in_rollups(response: Response) -> None:
    """The report's per-day sums take the completed response (and its invitation, for the
    response rate): last before commit, so the rows they lock are held briefly."""
    from reports import rollups  # reports builds on surveys
    rollups.add_responses([response.id])
    if response.invitation_id:
        rollups.add_invitations([response.invitation_id], "completed")


def complete_response(response: Response, completed_at: datetime | None = None,
                      open_followup: bool = True) -> bool:
    """Marks the response complete exactly once (a conditional UPDATE, so two concurrent
    submits store one completion). Drops answers that skip logic now hides, writes the
    figure columns and opens a follow-up callback when the answers ask for one (not for
    historical imports, whose 24 h would be long past).
    Returns False when it was already complete. Commits."""
    definition = definition_of(response.version)
    answers = response.answer_map()
    visible = {q.key for q in definition.visible(answers)}
    save_answers(response, {k: None for k in answers if k not in visible})
    answers = {k: v for k, v in answers.items() if k in visible}
    completed_at = completed_at or utcnow()
    db.session.flush()
    done = db.session.execute(
        update(Response).where(Response.id == response.id, Response.completed_at.is_(None))
        .values(completed_at=completed_at, feed_seq=feed_stamp(), **figures(definition, answers))).rowcount
    if not done:
        db.session.rollback()
        return False
    if response.invitation_id:
        db.session.execute(update(Invitation).where(Invitation.id == response.invitation_id)
                           .values(state="completed", completed_at=completed_at))
    db.session.refresh(response)
    ticket = response.invitation.ticket if response.invitation else None
    publish("response.completed", response_event(response, ticket.external_id if ticket else None))
    if open_followup:
        from callbacks.services import open_followup_if_needed  # callbacks builds on surveys
        open_followup_if_needed(response)
    count_in_rollups(response)
    db.session.commit()
    return True


def readable_answers(response: Response, locale: str) -> list[tuple[str, str]]:
    """(question text, answer in words) in the questionnaire's order, for staff pages."""
    definition = definition_of(response.version)
    answers = response.answer_map()
    out = []
    for question in definition.questions:
        value = answers.get(question.key)
        if value is None:
            continue
        options = dict(question.options(locale)) if question.type in ("yesno", "choice", "multi") else {}
        words = ", ".join(options.get(v, v) for v in str(value).split(",")) if options else str(value)
        out.append((question.label(locale), words))
    return out
