"""Staff accounts, API keys and the audit log."""
from __future__ import annotations

import hashlib
import itertools
import json
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, String, event, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import db, utcnow
from core.sealing import Sealed
from core.text import normalise_phone

ROLES = ("admin", "agent", "manager")


class User(UserMixin, db.Model):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str | None] = mapped_column(String(20))  # for click-to-call: Twilio rings it first
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Sessions carry this number; bumping it (logout, deactivation, password change) ends every
    # session of the account at its next request, replayed cookies included.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    password_changed_at: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(Sealed)  # the second factor's seed, sealed
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]  # the last time step accepted: a code works only once

    def get_id(self) -> str:  # Flask-Login's "alternative token": id and session version
        return f"{self.id}:{self.session_version}"

    def revoke_sessions(self) -> None:
        self.session_version = (self.session_version or 0) + 1

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def has_role(self, *roles: str) -> bool:
        return self.role == "admin" or self.role in roles


def create_user(email: str, name: str, role: str, password: str, phone: str | None = None) -> User:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if phone:
        phone = normalise_phone(phone)
        if phone is None:
            raise ValueError("phone must be an E.164 number, e.g. +8613800138000")
    email = email.strip().lower()
    from core.passwords import require_strong
    require_strong(password, email, name)
    if db.session.scalar(select(User).where(User.email == email)):
        raise ValueError(f"a user with e-mail {email} exists already")
    user = User(email=email, name=name, role=role, phone=phone or None)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def _digest(key: str) -> str:
    # API keys are long random strings, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(db.Model):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(12))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    # Space-separated, OAuth style. Keys made before scopes existed were intake keys.
    scopes: Mapped[str] = mapped_column(String(120), default="tickets:write", server_default="tickets:write")

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


# What an API key may do: report tickets (the intake) and read results (responses, reports,
# tasks, complaints). Keys from HUIFANG_API_KEYS hold every scope.
API_SCOPES = ("tickets:write", "results:read")


def issue_api_key(name: str, created_by: User | None = None,
                  scopes: tuple[str, ...] | list[str] = ("tickets:write",)) -> tuple[ApiKey, str]:
    """Returns the stored key and the secret, which is shown once and never stored."""
    if not scopes or any(s not in API_SCOPES for s in scopes):
        raise ValueError(f"scopes must be some of {', '.join(API_SCOPES)}")
    secret = "hf_" + secrets.token_urlsafe(32)
    key = ApiKey(name=name, prefix=secret[:10], key_hash=_digest(secret), scopes=" ".join(scopes),
                 created_by_id=created_by.id if created_by else None)
    db.session.add(key)
    db.session.commit()
    return key, secret


def api_key_scopes(secret: str, env_keys: list[str]) -> tuple[str, ...] | None:
    """The scopes of a valid key (marking it used), or None for an unknown or revoked one."""
    if any(secrets.compare_digest(secret, k) for k in env_keys):
        return API_SCOPES
    key = db.session.scalar(select(ApiKey).where(ApiKey.key_hash == _digest(secret),
                                                 ApiKey.revoked_at.is_(None)))
    if key is None:
        return None
    key.last_used_at = utcnow()
    return tuple(key.scope_list)


class RecoveryCode(db.Model):
    """One-time codes for a lost authenticator; stored as digests, like API keys (80 random bits
    each, so a fast hash is enough)."""
    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]


_audit_order = itertools.count()


class AuditEvent(db.Model):
    """Hash-chained: each row stores the digest of its content and of the row before it, so an
    edit or deletion by raw SQL breaks the chain (`flask --app app verify-audit`)."""
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(120), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    row_hash: Mapped[str | None] = mapped_column(String(64))

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._order = next(_audit_order)  # rows of one flush are chained in the order written

    def digest(self) -> str:
        return audit_digest(self.prev_hash, self.at, self.user_id, self.action, self.target, self.details)


def audit_digest(prev_hash: str | None, at: datetime, user_id: int | None, action: str, target: str,
                 details: dict | None) -> str:
    content = [prev_hash or "", at.isoformat(timespec="microseconds"), user_id, action, target or "",
               details or {}]
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


AUDIT_CHAIN_LOCK = 7_150_001  # PostgreSQL advisory lock: one writer extends the chain at a time


@event.listens_for(Session, "before_flush")
def _chain_audit_rows(session: Session, _context, _instances) -> None:
    new = sorted((o for o in session.new if isinstance(o, AuditEvent)), key=lambda o: o._order)
    if not new:
        return
    with session.no_autoflush:
        if session.get_bind().dialect.name == "postgresql":
            # Held until commit; SQLite writers are already serialised by BEGIN IMMEDIATE.
            session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": AUDIT_CHAIN_LOCK})
        prev = session.scalar(select(AuditEvent.row_hash).order_by(AuditEvent.id.desc()).limit(1))
    for row in new:
        row.at = row.at or utcnow()
        row.target = row.target or ""
        row.details = row.details or {}
        row.prev_hash = prev
        row.row_hash = prev = row.digest()


def first_broken_audit_link(batch: int = 5000) -> tuple[int, str] | None:
    """(id, what is wrong) for the first row whose content or link does not match, or None."""
    table, prev, last_id = AuditEvent.__table__, None, 0
    while True:
        rows = db.session.execute(select(table).where(table.c.id > last_id)
                                  .order_by(table.c.id).limit(batch)).all()
        if not rows:
            return None
        for row in rows:
            if row.prev_hash != prev:
                return row.id, "its link to the previous row does not match: a row before it was removed or edited"
            if row.row_hash != audit_digest(row.prev_hash, row.at, row.user_id, row.action, row.target, row.details):
                return row.id, "its content does not match its hash: the row was edited"
            prev, last_id = row.row_hash, row.id


def audit_seal() -> str | None:
    """`ID:HASH` of the newest audit row: kept outside the database (the scheduled reports'
    e-mails carry it), it lets `verify-audit --anchor` prove later that no row up to it was cut
    or rewritten, which the chain alone cannot show for rows cut from its end."""
    row = db.session.execute(select(AuditEvent.id, AuditEvent.row_hash)
                             .order_by(AuditEvent.id.desc()).limit(1)).first()
    return f"{row.id}:{row.row_hash}" if row else None


def seal_mismatch(seal: str) -> str | None:
    """What is wrong with the log against a seal taken earlier, or None. ValueError when the
    seal is not of the form ID:HASH."""
    number, _, digest = seal.strip().partition(":")
    if not (number.isdigit() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise ValueError("a seal is ID:HASH, the row id and its 64-character hash")
    stored = db.session.scalar(select(AuditEvent.row_hash).where(AuditEvent.id == int(number)))
    if stored is None:
        return f"row {number} of the seal is gone: rows were removed from the log"
    if stored != digest:
        return f"row {number} no longer has the sealed hash: it or a row before it was rewritten"
    return None


def audit(action: str, target: str = "", user: User | None = None, **details) -> None:
    """Adds an audit row to the current transaction: it lands only if the change does."""
    from flask_login import current_user

    if user is None and current_user and getattr(current_user, "is_authenticated", False):
        user = current_user
    db.session.add(AuditEvent(action=action, target=target, details=details,
                              user_id=user.id if user else None))
