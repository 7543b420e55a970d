from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import db, utcnow
from surveys.definition import DIMENSIONS  # noqa: F401 - where the figure columns are named

CHANNELS = ("web", "sms", "voice", "email", "interview")


class Questionnaire(db.Model):
    __tablename__ = "questionnaires"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    versions: Mapped[list[QuestionnaireVersion]] = relationship(
        back_populates="questionnaire", order_by="QuestionnaireVersion.number")

    def title(self, locale: str) -> str:
        """The newest version's title in `locale`, for staff pages."""
        title = self.versions[-1].definition.get("title") if self.versions else None
        if isinstance(title, dict):
            return title.get(locale) or title.get("en") or self.key
        return str(title or self.key)


class QuestionnaireVersion(db.Model):
    """Immutable once written: editing a questionnaire writes a new version."""
    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("questionnaire_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    number: Mapped[int]
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    checksum: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A version saved in the builder is a draft until an admin publishes it; only published
    # versions are sent to customers (latest_version).
    published_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="versions")
    questions: Mapped[list[Question]] = relationship(order_by="Question.position")


class Question(db.Model):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("version_id", "key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int]
    type: Mapped[str] = mapped_column(String(16))
    page: Mapped[int] = mapped_column(default=1)


class QuestionnaireRoute(db.Model):
    """Which questionnaire an invitation gets, by ticket kind and channel ("": any). The
    most specific matching route wins; with none, the `questionnaire` rule (telecom-default)."""
    __tablename__ = "questionnaire_routes"
    __table_args__ = (UniqueConstraint("ticket_kind", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_kind: Mapped[str] = mapped_column(String(16), default="")
    channel: Mapped[str] = mapped_column(String(10), default="")
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    questionnaire: Mapped[Questionnaire] = relationship()


class Invitation(db.Model):
    """One personal, single-use invitation to answer a questionnaire."""
    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_due", "state", "send_at"),
        Index("ix_invitations_customer_send", "customer_id", "send_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(43), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    channel: Mapped[str] = mapped_column(String(8))
    # scheduled -> sent -> (started) -> completed; or suppressed / expired / failed
    state: Mapped[str] = mapped_column(String(12), default="scheduled")
    suppressed_reason: Mapped[str | None] = mapped_column(String(32))
    send_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    remind_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    # SMS / voice conversations: the question being asked now and how often it was repeated
    current_question: Mapped[str | None] = mapped_column(String(64))
    retries: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer = relationship("Customer")
    ticket = relationship("Ticket")
    version: Mapped[QuestionnaireVersion] = relationship()
    response: Mapped[Response | None] = relationship(back_populates="invitation", uselist=False)


class Response(db.Model):
    """A customer's answers. The figure columns are written once on completion so that
    reports aggregate one row per response in SQL; `answer_map()` is the full record: the
    `answers` rows, and for an imported response its closed-question answers packed in the
    row itself (`packed_answers`)."""
    __tablename__ = "responses"
    __table_args__ = (Index("ix_responses_completed", "completed_at"),
                      Index("ix_responses_feed", "feed_seq", "id"),
                      # import-responses refuses a second answer of a respondent at one moment
                      Index("ix_responses_respondent", "respondent", "completed_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), unique=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id"))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    channel: Mapped[str] = mapped_column(String(10))
    respondent: Mapped[str] = mapped_column(String(120), default="")
    ticket_kind: Mapped[str] = mapped_column(String(16), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    agent: Mapped[str] = mapped_column(String(64), default="")
    interviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    progress: Mapped[int] = mapped_column(default=0)  # the last web page submitted
    completed_at: Mapped[datetime | None]
    overall: Mapped[int | None]
    nps: Mapped[int | None]
    attitude: Mapped[int | None]
    efficiency: Mapped[int | None]
    stability: Mapped[int | None]
    after_sales: Mapped[int | None]
    satisfaction_index: Mapped[float | None] = mapped_column(Float)
    resolved: Mapped[bool | None]
    wants_callback: Mapped[bool | None]
    anonymized_at: Mapped[datetime | None]
    # Commit order of completions, for the results API's cursor (see surveys.services.feed_stamp).
    feed_seq: Mapped[int | None] = mapped_column(BigInteger)
    # import-responses: the closed-question answers (every type but free text) as {key: value},
    # instead of one `answers` row each. Those rows (~7 a response) and their foreign-key checks
    # were most of a bulk import's database time; free-text answers stay rows (reports, themes
    # and retention read them in SQL). Anonymisation drops the text values here too.
    packed_answers: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    invitation: Mapped[Invitation | None] = relationship(back_populates="response")
    version: Mapped[QuestionnaireVersion] = relationship()
    answers: Mapped[list[Answer]] = relationship(back_populates="response",
                                                 cascade="all, delete-orphan")

    def answer_map(self) -> dict[str, Any]:
        """Every stored answer by question key: the packed ones, then the rows."""
        return {**(self.packed_answers or {}), **{a.question_key: a.value for a in self.answers}}


class Answer(db.Model):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "question_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"))
    question_key: Mapped[str] = mapped_column(String(64))
    value_num: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime] = mapped_column(default=utcnow)

    response: Mapped[Response] = relationship(back_populates="answers")

    @property
    def value(self) -> Any:
        return stored_value(self.value_num, self.value_text)


def answer_columns(value: Any) -> dict[str, Any]:
    """The two columns that store a parsed answer's value."""
    number = isinstance(value, int | float)
    return {"value_num": float(value) if number else None, "value_text": None if number else str(value)}


def stored_value(value_num: float | None, value_text: str | None) -> Any:
    """An answer's value from its two columns: whole numbers as int."""
    if value_num is not None:
        return int(value_num) if float(value_num).is_integer() else value_num
    return value_text
