from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)
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


# ---- rollups (reports.rollups maintains them) ---------------------------------------------------

ROLLUP_KEYS = ("channel", "ticket_kind", "region", "agent")
FLOAT_MEASURES = ("si_sum", "si_sq")
FILLFACTOR = 60  # percent of a rollup table's page filled by inserts


def response_measures() -> list[str]:
    """The additive sums of completed responses that every response figure is derived from."""
    from reports.themes import THEMES
    from reports.weights import sum_keys
    from surveys.models import DIMENSIONS

    names = ["n", "si_n", "si_sum", "si_sq", "overall_n", "top2", "nps_n", "promoters", "detractors",
             "resolved_n", "resolved_yes", "comments", *(f"theme_{t}" for t in THEMES)]
    for d in DIMENSIONS:
        names += [f"{d}_{s}" for s in ("n", "sum", "sq", "pn", "px", "py", "pxx", "pyy", "pxy")]
    return names + sum_keys()


INVITATION_MEASURES = ("sent", "failed", "completed")


def _rollup_table(name: str, measures: list[str] | tuple[str, ...]) -> Table:
    columns = [Column(m, Float if m in FLOAT_MEASURES else BigInteger, nullable=False, server_default="0")
               for m in measures]
    return db.Table(
        name,
        Column("id", Integer, primary_key=True),
        # grain: which of ROLLUP_KEYS the row is grouped by (bit i = ROLLUP_KEYS[i]); the others hold ''
        Column("grain", Integer, nullable=False),
        Column("day", Date, nullable=False),
        *[Column(k, String(64), nullable=False, server_default="") for k in ROLLUP_KEYS],
        *columns,
        UniqueConstraint("grain", "day", *ROLLUP_KEYS, name=f"uq_{name}_key"),
        # Room on each page for a row's next version: adding to a row rewrites it, and with the
        # new version beside the old one PostgreSQL updates no index (a HOT update). Full pages
        # made most of an import's rollup updates write both indexes again.
        postgresql_with={"fillfactor": FILLFACTOR})


# Completed responses per local day of completed_at (core.timeutil.DEFAULT_TZ) and breakdown.
response_rollups = _rollup_table("response_rollups", response_measures())
# Invitations per local day of sent_at and breakdown: sent, failed after sending, completed.
invitation_rollups = _rollup_table("invitation_rollups", INVITATION_MEASURES)


class ThemeSnapshot(db.Model):
    """Discovered comment themes of one scope (local dates and filters), computed by the
    scheduler (reports.stored_themes): clustering costs seconds, so requests only read these.
    themes_json is NULL while a scope someone asked for waits for the next run."""
    __tablename__ = "theme_snapshots"
    __table_args__ = (UniqueConstraint("date_from", "date_to", "filter_key", name="uq_theme_snapshots_scope"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    date_from: Mapped[date]
    date_to: Mapped[date]
    filter_key: Mapped[str] = mapped_column(String(300), default="")  # "region=北京", "" for no filter
    comments: Mapped[int] = mapped_column(default=0)  # the scope's comment count when computed
    themes_json: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime | None]
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
