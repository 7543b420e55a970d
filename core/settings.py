"""Business rules, stored in the database with the service guide's defaults."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, mapped_column

from core.db import db, utcnow

# Every default comes from SPEC.md's "Deadlines from the guide" table.
DEFAULTS: dict[str, Any] = {
    "invitation_delay_hours": 2.0,
    "quiet_hours_start": 8,   # invitations only from 08:00 ...
    "quiet_hours_end": 21,    # ... until 21:00, customer local time
    "cap_days": 30,           # at most one invitation per customer per 30 days
    "reminder_after_hours": 24.0,
    "link_expiry_days": 7,
    "survey_kinds": ["inquiry", "business", "fault", "complaint"],
    "callback_kinds": ["business", "complaint"],
    "channel_order": ["sms", "email"],
    "questionnaire": "telecom-default",
    "deadline_post_handling_hours": 48,
    "deadline_complaint_accept_hours": 24,
    "deadline_complaint_investigate_hours": 72,
    "deadline_complaint_feedback_working_days": 3,
    "deadline_complaint_max_working_days": 30,
    "deadline_detractor_hours": 24,
    "holidays": [],           # ISO dates excluded from working days
    "recheck_after_days": 7,       # complaint re-check (复检) this long after the result
    "recheck_reminder_hours": 48,  # remind once, then take silence as "not solved"
    "evidence_days": 7,            # a case without evidence this long after acceptance is flagged
    "retry_max_attempts": 3,
    "retry_gap_hours": 2.0,
    "escalation_interval_hours": 24.0,
    "supervisor_emails": [],
    "manager_emails": [],     # every scheduled report, zh-CN unless a line says "address en"
    "report_recipients_monthly": [],
    "report_recipients_quarterly": [],
    "report_recipients_annual": [],
    "retention_months": 0,    # 0 keeps personal data in responses forever
}


class Setting(db.Model):
    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def get_rules() -> dict[str, Any]:
    rules = dict(DEFAULTS)
    for row in db.session.scalars(select(Setting)):
        if row.key in DEFAULTS:
            rules[row.key] = row.value
    return rules


def get_rule(key: str) -> Any:
    row = db.session.get(Setting, key)
    return row.value if row is not None else DEFAULTS[key]


def save_rules(changes: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Stores changed rules; returns {key: (old, new)} for the audit log. Caller commits."""
    current = get_rules()
    changed = {}
    for key, value in changes.items():
        if key not in DEFAULTS:
            raise KeyError(key)
        if current[key] != value:
            changed[key] = (current[key], value)
            row = db.session.get(Setting, key)
            if row is None:
                db.session.add(Setting(key=key, value=value))
            else:
                row.value = value
    return changed
