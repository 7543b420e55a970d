"""Issue 13: dispatch of 1,000,000 invitations through the outbox by WORKERS `flask --app app
worker` processes sharing the queue (claims with FOR UPDATE SKIP LOCKED; on SQLite serialised
by BEGIN IMMEDIATE), counted for loss and duplicates; beside it the scheduler's own drain (one
process) over a smaller queue, and the baseline: one INSERT … SELECT of as many outbox rows,
the database's floor for writing them at all (same table, same indexes, no Python).

Rates are timed from the first message written to the last, so the workers' start-up (seconds
on a busy machine) is not counted. CPU time is counted per message, for the Python processes
and, on PostgreSQL, for their server backends (read from /proc: the server runs on this
machine); on a machine shared with other work it is the figure to compare, not the rate."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flask import current_app
from sqlalchemy import text

from bench.common import bench_app, line, timed
from core.db import READ_ONLY, db, utcnow

WORKERS = 4
BATCH = 500
WORKER_APP_NAME = "huifang-bench-worker"
ROOT = Path(__file__).resolve().parent.parent


def run(count: int = 1_000_000, scheduler_count: int = 200_000) -> dict:
    app = bench_app("dispatch")
    with app.app_context():
        dialect = db.engine.dialect.name
        print(f"dispatch: {count:,} invitations through the outbox by {WORKERS} workers, "
              f"{scheduler_count:,} by the scheduler alone ({dialect}), load {os.getloadavg()[0]:.1f}")
        baseline = _baseline(count)
        line("baseline: INSERT … SELECT of outbox rows", f"{count:,} in {baseline:.1f} s = {count / baseline:,.0f} rows/s")
        alone = _scheduler_alone(scheduler_count)
        fleet = _fleet(app, count)
    for name, result in (("scheduler alone", alone), (f"{WORKERS} workers", fleet)):
        line(f"ratio {name} / baseline", f"{result['rate'] / (count / baseline):.2f}")
    return {"rate": fleet["rate"], "scheduler_rate": alone["rate"], "baseline_rate": count / baseline,
            "loss": alone["loss"] + fleet["loss"], "duplicates": alone["duplicates"] + fleet["duplicates"]}


# ---- the queue ---------------------------------------------------------------------------------

def _queue(count: int, prefix: str) -> tuple[int, int]:
    """`count` customers with one SMS invitation each, due now, written by the database itself
    (a million rows in seconds); one in ten customers reads English, one in twenty has no name.
    Returns the range of invitation ids."""
    from surveys.services import latest_version

    version = latest_version("telecom-default").id
    random_token = "md5(random()::text || n)" if db.engine.dialect.name == "postgresql" else "lower(hex(randomblob(16)))"
    numbers = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) "
    first_customer = db.session.scalar(text("SELECT coalesce(max(id), 0) FROM customers"))
    first_invitation = db.session.scalar(text("SELECT coalesce(max(id), 0) FROM invitations"))
    now = utcnow()
    db.session.execute(text(
        numbers + "INSERT INTO customers (external_id, name, phone, email, locale, timezone, created_at) "
        "SELECT :prefix || n, CASE WHEN n % 20 = 0 THEN '' ELSE '客户' || n END, '+8613' || (100000000 + n), "
        ":prefix || n || '@example.com', CASE WHEN n % 10 = 0 THEN 'en' ELSE 'zh-CN' END, 'Asia/Shanghai', :now "
        "FROM g"), {"count": count, "prefix": prefix, "now": now})
    db.session.execute(text(
        "INSERT INTO invitations (token, customer_id, version_id, channel, state, send_at, expires_at, "
        "skipped, retries, created_at) "
        f"SELECT {random_token.replace('n)', 'id)')}, id, :version, 'sms', 'scheduled', :due, :expires, '[]', 0, :now "
        "FROM customers WHERE id > :first ORDER BY id"),
        {"version": version, "due": now - _minutes(1), "expires": now + _minutes(7 * 24 * 60), "now": now,
         "first": first_customer})
    last_invitation = db.session.scalar(text("SELECT max(id) FROM invitations"))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        db.session.connection().exec_driver_sql("ANALYZE customers, invitations")
        db.session.commit()
    return first_invitation + 1, last_invitation


def _minutes(n: float):
    from datetime import timedelta
    return timedelta(minutes=n)


def _baseline(count: int) -> float:
    """Seconds for one INSERT … SELECT of `count` outbox rows like those dispatch writes."""
    now = utcnow()
    body = "【回访】客户1 您好, 感谢您使用我们的服务。请花一分钟告诉我们您的感受。 您对本次服务的总体满意度如何? 请回复 1 到 5 之间的数字。 回复退订不再接收。"
    with timed() as baseline:
        db.session.execute(text(
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :count) "
            'INSERT INTO messages (direction, channel, transport, purpose, "to", sender, subject, body, state, '
            "attempts, next_attempt_at, created_at, sent_at, updated_at) "
            "SELECT 'out', 'sms', 'outbox', 'baseline', '+8613' || (100000000 + n), '', '', :body, 'sent', 0, "
            ":now, :now, :now, :now FROM g"), {"count": count, "body": body, "now": now})
        db.session.commit()
    return baseline["seconds"]


def _outcome(first: int, last: int) -> tuple[int, int, int]:
    """(invitations in [first, last] sent, their messages, distinct invitations among them)."""
    with db.engine.connect().execution_options(**READ_ONLY) as conn:
        return tuple(conn.execute(text(
            "SELECT (SELECT count(*) FROM invitations WHERE id BETWEEN :first AND :last AND state = 'sent'), "
            "count(*), count(DISTINCT invitation_id) FROM messages WHERE invitation_id BETWEEN :first AND :last"),
            {"first": first, "last": last}).one())


def _report(name: str, count: int, sent: int, messages: int, distinct: int) -> tuple[int, int]:
    loss, duplicates = count - distinct, messages - distinct
    ok = "OK" if loss == 0 and duplicates == 0 and sent == count else "FAIL"
    line(f"{name}: loss / duplicates", f"{loss} / {duplicates} {ok} ({sent:,} sent, {messages:,} messages)")
    return loss, duplicates


# ---- CPU time ----------------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this machine (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _backends(application_name: str | None = None) -> list[int]:
    """Server processes of this benchmark's connections (PostgreSQL on this machine)."""
    if db.engine.dialect.name != "postgresql":
        return []
    if application_name is None:
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.commit()
        return [pid]
    with db.engine.connect() as conn:
        return list(conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE application_name = :name"),
                                 {"name": application_name}))


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a backend that ended meanwhile
            total += _cpu_seconds(pid)
    return total


def _cpu_line(name: str, count: int, python: float, server: float) -> None:
    server_text = f" + server {server / count * 1e6:,.0f} µs" if server else ""
    line(f"{name}: CPU a message", f"Python {python / count * 1e6:,.0f} µs{server_text} = "
                                      f"{(python + server) / count * 1e6:,.0f} µs")


# ---- the two runs ------------------------------------------------------------------------------

def _scheduler_alone(count: int) -> dict:
    from surveys.dispatch import drain_due_invitations

    first, last = _queue(count, "ALONE")
    current_app.config["DRAIN_SECONDS"] = 1e9  # one tick drains everything
    backends = _backends()
    python, server = time.process_time(), _cpu(backends)
    with timed() as dispatch:
        done = drain_due_invitations()
    python, server = time.process_time() - python, _cpu(backends) - server
    rate = done / dispatch["seconds"]
    line("scheduler alone (one process)", f"{done:,} in {dispatch['seconds']:.1f} s = {rate:,.0f} /s, "
                                          f"load {os.getloadavg()[0]:.1f}")
    _cpu_line("scheduler alone", done, python, server)
    loss, duplicates = _report("scheduler alone", count, *_outcome(first, last))
    return {"rate": rate, "loss": loss, "duplicates": duplicates}


def _max_message_id() -> int:
    with db.engine.connect().execution_options(**READ_ONLY) as conn:
        return conn.scalar(text("SELECT coalesce(max(id), 0) FROM messages"))


def _all_sent() -> bool:
    with db.engine.connect().execution_options(**READ_ONLY) as conn:
        return conn.scalar(text("SELECT count(*) FROM invitations WHERE state = 'scheduled'")) == 0


def _fleet(app, count: int) -> dict:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if db.engine.dialect.name == "postgresql":
        url += ("&" if "?" in url else "?") + f"application_name={WORKER_APP_NAME}"
    env = {**os.environ, "DATABASE_URL": url, "TWILIO_ACCOUNT_SID": "", "SMTP_URL": ""}
    with tempfile.NamedTemporaryFile("w", prefix="huifang-workers-", suffix=".log", delete=False) as log:
        workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--batch", str(BATCH)],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
                   for _ in range(WORKERS)]
    try:
        # The queue is written once every worker runs, so their start-up is in no figure.
        while Path(log.name).read_text().count("worker running") < WORKERS or \
                len(_backends(WORKER_APP_NAME)) < (WORKERS if db.engine.dialect.name == "postgresql" else 0):
            _check_running(workers, log.name)
            time.sleep(0.1)
        processes, backends = [w.pid for w in workers], _backends(WORKER_APP_NAME)
        python, server = _cpu(processes), _cpu(backends)
        start_id = _max_message_id()
        first, last = _queue(count, "FLEET")
        # Polled cheaply (the newest message id, through the primary key): a count over a
        # million rows every moment would take CPU from the workers being measured.
        while _max_message_id() == start_id:
            _check_running(workers, log.name)
            time.sleep(0.05)
        started = time.perf_counter()
        while _max_message_id() - start_id < count or not _all_sent():
            _check_running(workers, log.name)
            time.sleep(0.25)
        seconds = time.perf_counter() - started
        python, server = _cpu(processes) - python, _cpu(backends) - server
    finally:
        for worker in workers:
            worker.terminate()
        codes = [worker.wait(timeout=120) for worker in workers]
    rate = count / seconds
    line(f"{WORKERS} workers (flask worker --batch {BATCH})", f"{count:,} in {seconds:.1f} s = {rate:,.0f} /s, "
                                                              f"load {os.getloadavg()[0]:.1f}, exit codes {codes}")
    _cpu_line(f"{WORKERS} workers", count, python, server)
    loss, duplicates = _report(f"{WORKERS} workers", count, *_outcome(first, last))
    if loss or duplicates:
        print(f"  worker log: {log.name}")
    else:
        os.unlink(log.name)
    return {"rate": rate, "loss": loss, "duplicates": duplicates}


def _check_running(workers: list[subprocess.Popen], log: str) -> None:
    if any(w.poll() is not None for w in workers):
        raise SystemExit(f"a worker exited: {[w.returncode for w in workers]}\n{Path(log).read_text()[-3000:]}")
