"""Test fixtures: a real database (SQLite file, or PostgreSQL with TEST_DATABASE_URL), built
by the Alembic migrations, emptied between tests; CSRF stays on as in production."""
from __future__ import annotations

import os
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from app import create_app
from core.db import db, fresh_postgres_database, is_postgres, utcnow


def _database_url(tmp_path_factory, worker: str) -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'huifang.db'}"
    # One PostgreSQL database per xdist worker, created fresh for the session.
    return fresh_postgres_database(base, f"{base.rpartition('/')[2]}_{worker}")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory, worker_id):
    return _database_url(tmp_path_factory, worker_id)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "PUBLIC_BASE_URL": "https://huifang.example.com",
        "HUIFANG_API_KEYS": ["test-api-key"],
        "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "TWILIO_FROM": "", "SMTP_URL": "",
        "RATELIMIT_ENABLED": True,
    })

    @app.teardown_request
    def forget_request_globals(_exc):
        # Tests hold an app context while they make requests, and Flask then reuses it for
        # each request: drop what a real request's own app context would take with it.
        from flask import g
        for name in ("csrf_token", "locale", "_flask_babel", "_login_user"):
            g.pop(name, None)

    with app.app_context():
        from flask_migrate import upgrade
        upgrade()
    return app


def drop_abandoned_transactions(conn) -> None:
    """A test that failed while holding a transaction open on its own connection leaves it open
    (its locks would make every later test wait forever): end such leftovers, and wait for a lock
    a bounded time so a hang becomes an error that names it."""
    conn.execute(text("SET LOCAL lock_timeout = '60s'"))
    conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                      " AND state LIKE 'idle in transaction%'"))


@pytest.fixture(autouse=True)
def clean_db(app):
    """Every test starts from an empty database with the shipped questionnaire imported."""
    with app.app_context():
        from core.auth import limiter
        from surveys.services import ensure_default_questionnaires

        tables = [t for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if is_postgres():
                drop_abandoned_transactions(conn)
            for table in tables:
                conn.execute(table.delete())
        limiter.reset()
        ensure_default_questionnaires()
        db.session.remove()
    yield


@pytest.fixture
def twilio(app):
    """Twilio configured, its REST calls recorded instead of sent (the real client's HTTP layer)."""
    from tests.channel_fakes import TWILIO_SETTINGS, RecordingHttpClient

    http = RecordingHttpClient()
    app.config.update(TWILIO_SETTINGS, TWILIO_HTTP_CLIENT=http)
    yield http
    app.config.update(TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="", TWILIO_FROM="", TWILIO_HTTP_CLIENT=None)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(app):
    """The test app on a free loopback port (werkzeug, threaded), for real HTTP clients."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def csrf_token(client, url: str) -> str:
    page = client.get(url)
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(as_text=True)) or \
        re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert match, f"no CSRF token on {url} ({page.status_code})"
    return match.group(1)


def post_form(client, url: str, data: dict, token_from: str | None = None, **kwargs):
    """Posts a form the way a browser does: with the CSRF token of the page it came from."""
    data = {"csrf_token": csrf_token(client, token_from or url), **data}
    return client.post(url, data=data, **kwargs)


# ---- builders --------------------------------------------------------------------------------

def make_ticket(external_id: str = "T-1", kind: str = "business", handled_at: datetime | None = None,
                customer: dict | None = None, **extra):
    """Stores a ticket through the real intake and returns the Intake result."""
    from tickets.services import intake_ticket, validate_ticket

    body = {"external_id": external_id, "kind": kind,
            "handled_at": ((handled_at or utcnow() - timedelta(hours=3)).isoformat() + "Z"),
            "customer": customer or {"id": "C-1", "name": "王芳", "phone": "+8613800138000",
                                     "locale": "zh-CN"}, **extra}
    clean, errors = validate_ticket(body)
    assert not errors, errors
    return intake_ticket(clean)


def sent_invitation(channel: str = "sms", locale: str = "zh-CN", kind: str = "business", **customer):
    """A ticket whose invitation has been dispatched: ready to answer."""
    from sqlalchemy import update

    from surveys.dispatch import send_due_invitations
    from surveys.models import Invitation

    person = {"id": customer.pop("id", "C-1"), "name": customer.pop("name", "王芳"),
              "phone": customer.pop("phone", "+8613800138000"), "locale": locale, **customer}
    result = make_ticket(customer=person, external_id=f"T-{person['id']}", kind=kind)
    invitation = result.invitation
    db.session.execute(update(Invitation).where(Invitation.id == invitation.id)
                       .values(channel=channel, send_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    send_due_invitations()
    db.session.refresh(invitation)
    assert invitation.state == "sent"
    return invitation


def login(client, role: str = "agent", email: str | None = None, password: str = "correct-horse-1"):
    """Logs in as a person would: password, then for admins and managers the second factor
    (enrolling the authenticator at the first login, from the key the page shows)."""
    from sqlalchemy import select

    from core.accounts import User, create_user

    email = email or f"{role}@example.com"
    if db.session.scalar(select(User).where(User.email == email)) is None:
        create_user(email, f"{role.title()} User", role, password)
    response = post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    if response.headers["Location"].endswith(("/login/enrol", "/login/code")):
        response = answer_second_factor(client, email, response.headers["Location"])
        assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == email))


def answer_second_factor(client, email: str, url: str):
    """Posts a real TOTP code (pyotp) to the enrolment or second-step page."""
    from sqlalchemy import select

    from core.accounts import User

    page = client.get(url).get_data(as_text=True)
    if url.endswith("/login/enrol"):
        secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)
    else:
        secret = db.session.scalar(select(User.totp_secret).where(User.email == email))
    db.session.commit()
    return post_form(client, url, {"code": fresh_totp_code(email, secret)})


def fresh_totp_code(email: str, secret: str) -> str:
    """A code the server has not seen yet: each 30-second step is accepted once per account, so a
    test that logs in again within the same step uses the next step's code (one step of clock
    drift is allowed), and a third login in one step waits for the next."""
    import time

    import pyotp
    from sqlalchemy import select

    from core.accounts import User

    totp = pyotp.TOTP(secret)
    deadline = time.monotonic() + 70
    while True:
        db.session.expire_all()
        used = db.session.scalar(select(User.totp_last_step).where(User.email == email))
        db.session.commit()
        step = totp.timecode(time.time())
        for candidate in (step, step + 1):
            if used is None or candidate > used:
                return totp.generate_otp(candidate)
        assert time.monotonic() < deadline, "no fresh TOTP step"
        time.sleep(0.5)
