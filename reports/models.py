from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import db, utcnow


class GeneratedReport(db.Model):
    """Every report produced (scheduled or on demand) is kept and downloadable."""
    __tablename__ = "generated_reports"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))   # monthly | quarterly | adhoc
    period: Mapped[str] = mapped_column(String(8))  # week | month | quarter
    date_from: Mapped[date]
    date_to: Mapped[date]
    locale: Mapped[str] = mapped_column(String(8))
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    figures_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ImprovementAction(db.Model):
    """A suggestion turned into tracked work (guide 7.3–7.4): who does what by when, aimed at
    which figure, measured against which baseline period."""
    __tablename__ = "improvement_actions"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_date: Mapped[date]
    metric: Mapped[str] = mapped_column(String(40))          # csat | nps | dimension:<key> | sla:<kind> ...
    baseline_period: Mapped[str] = mapped_column(String(10))  # 2026-06 | 2026-Q2 | 2026-W23
    state: Mapped[str] = mapped_column(String(8), default="open")  # open | done | dropped
    source: Mapped[str] = mapped_column(Text, default="")    # the suggestion (text and reason) it came from
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None]
    overdue_notified_at: Mapped[datetime | None]

    owner = relationship("User", foreign_keys=[owner_id])
