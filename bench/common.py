"""A fresh database per benchmark: SQLite in a temporary folder, or PostgreSQL with
BENCH_DATABASE_URL. Peak memory and timing helpers."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator

from core.db import fresh_postgres_database


def fresh_database_url(name: str) -> str:
    base = os.environ.get("BENCH_DATABASE_URL")
    if not base:
        return f"sqlite:///{tempfile.mkdtemp(prefix='huifang-bench-')}/{name}.db"
    return fresh_postgres_database(base, f"bench_{name}")


def bench_app(name: str):
    from flask_migrate import upgrade

    from app import create_app
    from surveys.services import ensure_default_questionnaires

    app = create_app({"SQLALCHEMY_DATABASE_URI": fresh_database_url(name), "TESTING": True,
                      "TWILIO_ACCOUNT_SID": "", "SMTP_URL": ""})
    with app.app_context():
        upgrade()
        ensure_default_questionnaires()
    return app


@contextlib.contextmanager
def timed() -> Iterator[dict]:
    result = {}
    start = time.perf_counter()
    yield result
    result["seconds"] = time.perf_counter() - start


def line(label: str, value: str) -> None:
    print(f"  {label:<44} {value}", flush=True)
