from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import db, utcnow
from core.timeutil import iso_utc

TASK_KINDS = ("post_handling", "complaint_accept", "complaint_investigate",
              "complaint_feedback", "complaint_followup", "detractor")
# open -> claimed -> in_progress -> done | unreachable; waiting = "call back later at T";
# escalated = overdue, moved a tier up and back in the pool.
ACTIVE_STATES = ("open", "claimed", "in_progress", "waiting", "escalated")
# Someone owns the task and is on it; "waiting" too: after "no answer" the owner may still call
# again, record, close or release it before the retry time puts it back on the list.
WORKED_STATES = ("claimed", "in_progress", "waiting")
OUTCOMES = ("reached", "no_answer", "busy", "wrong_number", "call_back_later")
RESOLUTION_CATEGORIES = ("resolved", "explained", "compensated", "transferred",
                         "not_resolved", "customer_declined")
# Which milestone meets the deadline: the first reached contact, or the task's closure.
MET_BY_CLOSURE = ("complaint_investigate", "complaint_feedback", "complaint_followup")
KIND_PRIORITY = {"complaint_accept": 1, "complaint_feedback": 1, "complaint_investigate": 2,
                 "complaint_followup": 1,
                 "detractor": 2, "post_handling": 3}


class CallbackTask(db.Model):
    __tablename__ = "callback_tasks"
    __table_args__ = (Index("ix_callback_tasks_work", "state", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"))
    state: Mapped[str] = mapped_column(String(12), default="open")
    priority: Mapped[int] = mapped_column(default=3)   # 1 = most urgent
    tier: Mapped[int] = mapped_column(default=1)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    escalate_after: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    resolution_category: Mapped[str | None] = mapped_column(String(32))
    resolved: Mapped[bool | None]
    root_cause: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    claimed_at: Mapped[datetime | None]

    customer = relationship("Customer")
    ticket = relationship("Ticket")
    response = relationship("Response")
    owner = relationship("User")
    attempts: Mapped[list[Attempt]] = relationship(back_populates="task", order_by="Attempt.at")
    events: Mapped[list[TaskEvent]] = relationship(order_by="TaskEvent.at")

    def as_json(self) -> dict:
        """What integrators see of a task (the tasks API and the task.* webhooks)."""
        return {"id": self.id, "kind": self.kind, "state": self.state, "tier": self.tier,
                "ticket_external_id": self.ticket.external_id if self.ticket else None,
                "response_id": self.response_id, "due_at": iso_utc(self.due_at),
                "created_at": iso_utc(self.created_at), "met_at": iso_utc(self.met_at),
                "closed_at": iso_utc(self.closed_at), "resolution_category": self.resolution_category,
                "resolved": self.resolved}


class Attempt(db.Model):
    __tablename__ = "attempts"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))
    callback_at: Mapped[datetime | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    call_sid: Mapped[str | None] = mapped_column(String(64))

    task: Mapped[CallbackTask] = relationship(back_populates="attempts")
    staff = relationship("User")


class TaskEvent(db.Model):
    """The task's history: created, claimed, escalated, reopened, closed."""
    __tablename__ = "task_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("callback_tasks.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user = relationship("User")
