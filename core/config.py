"""Configuration from the environment (twelve-factor), with safe local defaults."""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _instance_secret(instance: Path) -> str:
    """A stable local secret so sessions survive restarts when SECRET_KEY is unset."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def database_url(url: str) -> str:
    """postgres:// and postgresql:// URLs name the psycopg 3 driver, as SQLAlchemy wants."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def from_environment(instance: Path) -> dict:
    env = os.environ
    db_url = database_url(env.get("DATABASE_URL") or f"sqlite:///{instance / 'huifang.db'}")
    tick = float(env.get("SCHEDULER_TICK_SECONDS", "15"))
    return {
        "SECRET_KEY": env.get("SECRET_KEY") or _instance_secret(instance),
        # The keys that seal the secrets stored in the database (core/sealing.py).
        "DATA_KEYS": [k.strip() for k in env.get("HUIFANG_DATA_KEYS", "").split(",") if k.strip()],
        "SQLALCHEMY_DATABASE_URI": db_url,
        "HUIFANG_API_KEYS": [k.strip() for k in env.get("HUIFANG_API_KEYS", "").split(",") if k.strip()],
        "TWILIO_ACCOUNT_SID": env.get("TWILIO_ACCOUNT_SID", ""),
        "TWILIO_AUTH_TOKEN": env.get("TWILIO_AUTH_TOKEN", ""),
        "TWILIO_FROM": env.get("TWILIO_FROM", ""),
        "SMTP_URL": env.get("SMTP_URL", ""),
        "MAIL_FROM": env.get("MAIL_FROM", "Huifang <huifang@localhost>"),
        "PUBLIC_BASE_URL": env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        "SESSION_COOKIE_SECURE": env.get("SESSION_COOKIE_SECURE", "0") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_KEY_PREFIX": env.get("RATELIMIT_KEY_PREFIX", "huifang"),
        # Failed logins (core/loginlimits.py): per account and client, per account from unknown
        # clients, per client across accounts; and second-factor codes per account.
        "LOGIN_LIMIT_ACCOUNT_CLIENT": env.get("HUIFANG_LOGIN_LIMIT_ACCOUNT_CLIENT", "10 per minute;40 per day"),
        "LOGIN_LIMIT_ACCOUNT": env.get("HUIFANG_LOGIN_LIMIT_ACCOUNT", "30 per hour;100 per day"),
        "LOGIN_LIMIT_CLIENT": env.get("HUIFANG_LOGIN_LIMIT_CLIENT", "30 per minute;200 per day"),
        "LOGIN_LIMIT_CODE": env.get("HUIFANG_LOGIN_LIMIT_CODE", "5 per minute;20 per hour"),
        # How many reverse proxies in front set X-Forwarded-For (0: trust no such header).
        "PROXY_HOPS": int(env.get("HUIFANG_PROXY_HOPS", "0")),
        "IDLE_MINUTES": int(env.get("HUIFANG_IDLE_MINUTES", "30")),
        "PASSWORD_MIN_SCORE": int(env.get("HUIFANG_PASSWORD_MIN_SCORE", "3")),
        # "production" turns off what only serves trying the product (the outbox simulator).
        "HUIFANG_ENV": env.get("HUIFANG_ENV", "development"),
        "SCHEDULER_TICK_SECONDS": tick,
        "DISPATCH_BATCH": int(env.get("HUIFANG_DISPATCH_BATCH", "500")),
        # How long one tick may keep draining a backlog of invitations (default: half a tick).
        "DRAIN_SECONDS": float(env.get("HUIFANG_DRAIN_SECONDS") or tick / 2),
        # After SIGTERM, how long running jobs may take to finish their batch before they are
        # abandoned (the outbox makes that safe).
        "SCHEDULER_SHUTDOWN_GRACE_SECONDS": float(env.get("HUIFANG_SHUTDOWN_GRACE_SECONDS", "20")),
        "MESSAGE_BACKOFF_SECONDS": float(env.get("HUIFANG_BACKOFF_SECONDS", "60")),
        "MESSAGE_LEASE_SECONDS": float(env.get("HUIFANG_SENDING_LEASE_SECONDS", "600")),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).resolve().parent.parent / "translations"),
        "WTF_CSRF_TIME_LIMIT": None,
    }
