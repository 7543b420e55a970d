"""Complaint cases (一事一档): one file per complaint, its ordered stages, the supervisor's
extensions of the feedback deadline, and its evidence (call recordings and staff files)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import db, utcnow

# The guide's loop (5.1–5.4), in order: a stage completes only after the one before it.
STAGES = ("accepted", "investigated", "handled", "fed_back", "rechecked")
# The stages a reopened case runs again (二次跟踪): first contact and investigation stand.
REPEATED_STAGES = ("handled", "fed_back", "rechecked")
# The callback task kind that is each stage's work item.
STAGE_TASK_KINDS = {"accepted": "complaint_accept", "investigated": "complaint_investigate",
                    "fed_back": "complaint_feedback"}
CASE_STATES = ("open", "reopened", "closed")
RECHECK_ANSWERS = ("yes", "no", "no_answer")


class ComplaintCase(db.Model):
    __tablename__ = "complaint_cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    category: Mapped[str] = mapped_column(String(64), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime] = mapped_column(index=True)  # the ticket's handled_at
    state: Mapped[str] = mapped_column(String(12), default="open")
    stage: Mapped[str | None] = mapped_column(String(16))      # the last completed stage
    round: Mapped[int] = mapped_column(default=1)               # 2 after the first reopening ...
    feedback_due_at: Mapped[datetime]
    extended: Mapped[bool] = mapped_column(default=False)
    reopened_count: Mapped[int] = mapped_column(default=0)
    # The written result (guide 5.3) of the current round.
    result_reason: Mapped[str] = mapped_column(Text, default="")
    result_measures: Mapped[str] = mapped_column(Text, default="")
    result_plan: Mapped[str] = mapped_column(Text, default="")
    result_followup: Mapped[str] = mapped_column(Text, default="")
    result_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    result_written_at: Mapped[datetime | None]
    result_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    # The re-check (guide 5.4): asked by a link, reminded once, then taken as "no answer".
    recheck_due_at: Mapped[datetime | None] = mapped_column(index=True)
    recheck_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    recheck_asked_at: Mapped[datetime | None]
    recheck_reminded_at: Mapped[datetime | None]
    recheck_answer: Mapped[str | None] = mapped_column(String(12))
    recheck_answered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    ticket = relationship("Ticket")
    customer = relationship("Customer")
    handler = relationship("User", foreign_keys=[handler_id])
    result_by = relationship("User", foreign_keys=[result_by_id])
    result_message = relationship("Message")
    stages: Mapped[list[CaseStage]] = relationship(back_populates="case",
                                                   order_by="(CaseStage.round, CaseStage.position)")
    extensions: Mapped[list[Extension]] = relationship(order_by="Extension.approved_at")
    recordings: Mapped[list[Recording]] = relationship(order_by="Recording.at")
    files: Mapped[list[CaseFile]] = relationship(order_by="CaseFile.uploaded_at")

    def current(self, name: str) -> CaseStage | None:
        """The stage row of the latest round that has one."""
        rows = [s for s in self.stages if s.name == name]
        return rows[-1] if rows else None


class CaseStage(db.Model):
    __tablename__ = "case_stages"
    __table_args__ = (UniqueConstraint("case_id", "round", "name", name="uq_case_stages_round_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("complaint_cases.id"), index=True)
    round: Mapped[int] = mapped_column(default=1)
    name: Mapped[str] = mapped_column(String(16))
    position: Mapped[int]
    due_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_time: Mapped[bool | None]
    note: Mapped[str] = mapped_column(Text, default="")
    task_id: Mapped[int | None] = mapped_column(ForeignKey("callback_tasks.id"), index=True)

    case: Mapped[ComplaintCase] = relationship(back_populates="stages")
    completed_by = relationship("User")
    task = relationship("CallbackTask")


class Extension(db.Model):
    """A supervisor's approval of a later feedback deadline: who, when, why, the new deadline."""
    __tablename__ = "case_extensions"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("complaint_cases.id"), index=True)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    old_due_at: Mapped[datetime]
    new_due_at: Mapped[datetime]

    approved_by = relationship("User")


class Recording(db.Model):
    """A click-to-call recording, reported by Twilio's recording status callback."""
    __tablename__ = "case_recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("complaint_cases.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("callback_tasks.id"))
    recording_sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(500))
    duration: Mapped[int] = mapped_column(default=0)  # seconds
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseFile(db.Model):
    """A document in the case file: a staff attachment or the result letter. The bytes live
    under instance/case-files/, outside anything the web server serves."""
    __tablename__ = "case_files"
    __table_args__ = (Index("ix_case_files_case", "case_id", "kind"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("complaint_cases.id"))
    kind: Mapped[str] = mapped_column(String(12))  # attachment | letter
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    uploaded_by = relationship("User")

