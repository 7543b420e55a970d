from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import db, utcnow

# queued -> sending -> sent -> delivered | undelivered; failed after the last retry.
MESSAGE_STATES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "received")


class Message(db.Model):
    """Every message in or out. With no provider configured, `transport` is `outbox` and the
    row itself is the delivered message, browsable by staff."""
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_due", "state", "next_attempt_at"),
                      # A provider's id of an inbound message (Twilio's MessageSid) is handled once.
                      Index("ux_messages_inbound_provider_id", "provider_id", unique=True,
                            postgresql_where=text("direction = 'in'"), sqlite_where=text("direction = 'in'")))
    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[str] = mapped_column(String(3), default="out")
    channel: Mapped[str] = mapped_column(String(8))     # sms | voice | email
    transport: Mapped[str] = mapped_column(String(8))   # outbox | twilio | smtp
    purpose: Mapped[str] = mapped_column(String(16))    # invitation | reminder | reply | escalation | report | notice
    to: Mapped[str] = mapped_column(String(254))
    sender: Mapped[str] = mapped_column(String(254), default="")
    subject: Mapped[str] = mapped_column(String(255), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("callback_tasks.id"))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("generated_reports.id"))
    state: Mapped[str] = mapped_column(String(12), default="queued")
    provider_id: Mapped[str | None] = mapped_column(String(64), index=True)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    invitation = relationship("Invitation")

    @property
    def locale(self) -> str | None:
        """The language the text is in, when the message is a customer's."""
        if self.invitation is not None:
            return self.invitation.customer.locale
        if self.purpose in ("result", "recheck") and self.to:  # a complaint's letters to its customer
            return db.session.execute(text("SELECT locale FROM customers WHERE phone = :to OR email = :to"),
                                      {"to": self.to}).scalar()
        return None

    @property
    def shown_text(self) -> str:
        from channels.render import shown_text
        return shown_text(self.body, self.channel, self.invitation)
