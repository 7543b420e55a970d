"""A fresh database per benchmark: SQLite in a temporary folder, or PostgreSQL with
BENCH_DATABASE_URL. Peak memory and timing helpers."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from core.db import fresh_postgres_database


def fresh_database_url(name: str) -> str:
    base = os.environ.get("BENCH_DATABASE_URL")
    if not base:
        return f"sqlite:///{tempfile.mkdtemp(prefix='huifang-bench-')}/{name}.db"
    # Named after BENCH_DATABASE_URL's own database, so two people benchmarking on one server
    # (each with their own URL) never drop each other's database mid-run.
    own = base.rstrip("/").rpartition("/")[2].partition("?")[0] or "bench"
    return fresh_postgres_database(base, f"{own}_{name}")


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


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes (from /proc; 0 for one that is gone): under
    load, the figure that does not depend on what else the machine runs."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child_pids(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def database_backends(connection) -> list[int]:
    """The PostgreSQL server processes serving this database, when the server runs on this
    machine (their CPU is the database's share of the work); [] on SQLite, which works inside
    the measured process."""
    if connection.dialect.name != "postgresql":
        return []
    pids = list(connection.exec_driver_sql(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()").scalars())
    return [pid for pid in pids if Path(f"/proc/{pid}").exists()]
