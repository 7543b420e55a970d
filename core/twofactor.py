"""Second factor for admins and managers: TOTP (RFC 6238, pyotp) from an authenticator app, and
single-use recovery codes for a lost phone. Agents log in with a password only: they work the
callback list all day on shared call-centre desks, see one claimed customer at a time, and can
change nothing outside their tasks (see SECURITY.md)."""
from __future__ import annotations

import hashlib
import secrets
import time

import pyotp
import segno
from sqlalchemy import delete, select

from core.accounts import RecoveryCode, User
from core.db import db, utcnow

SECOND_FACTOR_ROLES = ("admin", "manager")
ISSUER = "Huifang 回访"
RECOVERY_CODES = 10
BASE32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1 to misread when typing a code


def needs_second_factor(user: User) -> bool:
    return user.role in SECOND_FACTOR_ROLES


def has_second_factor(user: User) -> bool:
    return user.totp_confirmed_at is not None


def enrolment_secret(user: User) -> str:
    """The secret being enrolled; kept across page reloads until a code confirms it."""
    if not user.totp_secret or has_second_factor(user):
        user.totp_secret = pyotp.random_base32()
        user.totp_confirmed_at = None
        db.session.commit()
    return user.totp_secret


def enrolment_qr_svg(user: User) -> str:
    uri = pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return segno.make(uri, error="m").svg_inline(scale=4, title=ISSUER)


def verify_totp(user: User, code: str, now: float | None = None) -> bool:
    """A six-digit code of the current 30-second step (or one step either side, for clock drift),
    never one at or before a step already used: a code overheard or replayed is refused."""
    code = "".join(ch for ch in (code or "") if ch.isdigit())
    if not user.totp_secret or len(code) != 6:
        return False
    totp, now = pyotp.TOTP(user.totp_secret), now or time.time()
    current = totp.timecode(now)
    for step in (current - 1, current, current + 1):
        if step > (user.totp_last_step or -1) and secrets.compare_digest(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


def confirm_enrolment(user: User, code: str) -> list[str] | None:
    """Turns the second factor on if `code` is right; returns the new recovery codes."""
    if not verify_totp(user, code):
        return None
    user.totp_confirmed_at = utcnow()
    return issue_recovery_codes(user)


def _digest(code: str) -> str:
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _normalise(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def issue_recovery_codes(user: User) -> list[str]:
    """Ten fresh codes (the old ones stop working), shown once: 16 base32 characters each."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(BASE32) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_digest(raw)))
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    if len(_normalise(code)) != 16:
        return False
    row = db.session.scalar(select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _digest(code),
        RecoveryCode.used_at.is_(None)).with_for_update())
    if row is None:
        return False
    row.used_at = utcnow()
    return True


def unused_recovery_codes(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def demo_enrolment(user: User) -> str:
    """For the demo only: the account's key, enrolled without the app's confirmation."""
    if not has_second_factor(user):
        user.totp_secret, user.totp_confirmed_at = pyotp.random_base32(), utcnow()
        db.session.commit()
    return user.totp_secret


def reset_second_factor(user: User) -> None:
    """An admin's remedy for a lost phone and no codes left: enrol again at the next login."""
    user.totp_secret = user.totp_confirmed_at = user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.revoke_sessions()
