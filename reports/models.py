from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

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
