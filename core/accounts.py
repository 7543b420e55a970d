"""Staff accounts, API keys and the audit log."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from core.db import db, utcnow
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

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

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
    if len(password) < 8:
        raise ValueError("password must have at least 8 characters")
    email = email.strip().lower()
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


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(120), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)


def audit(action: str, target: str = "", user: User | None = None, **details) -> None:
    """Adds an audit row to the current transaction: it lands only if the change does."""
    from flask_login import current_user

    if user is None and current_user and getattr(current_user, "is_authenticated", False):
        user = current_user
    db.session.add(AuditEvent(action=action, target=target, details=details,
                              user_id=user.id if user else None))
