"""Issue 3: queue 100,000 invitations, let the scheduler's dispatch job send them through the
outbox, check the count sent against the count queued. Baseline: inserting the same number of
outbox rows with one bulk INSERT (the floor for writing them at all).
Issue 13: the same again with WORKERS `flask --app app worker` processes sharing the queue
(claims with FOR UPDATE SKIP LOCKED); timed from the first invitation sent to the last, so the
workers' start-up (seconds on a busy machine) is not counted."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, insert, select

from bench.common import bench_app, line, timed
from core.db import READ_ONLY, db, utcnow

WORKERS = 4
ROOT = Path(__file__).resolve().parent.parent


def run(count: int = 100_000) -> dict:
    from channels.models import Message
    from demo import bulk_due_invitations
    from surveys.dispatch import drain_due_invitations
    from surveys.models import Invitation

    app = bench_app("dispatch")
    print(f"dispatch: {count:,} invitations through the outbox ({app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]})")
    with app.app_context():
        with timed() as queueing:
            bulk_due_invitations(count)
        line("queue (bulk insert of customers + invitations)", f"{queueing['seconds']:.1f} s")
        app.config["DRAIN_SECONDS"] = 1e9  # one tick drains everything
        with timed() as dispatch:
            sent = drain_due_invitations()
        messages = db.session.scalar(select(func.count()).select_from(Message).where(Message.purpose == "invitation"))
        distinct = db.session.scalar(select(func.count(func.distinct(Message.invitation_id))))
        still_due = db.session.scalar(select(func.count()).select_from(Invitation).where(Invitation.state == "scheduled"))
        now = utcnow()
        with timed() as baseline:
            db.session.execute(insert(Message), [
                {"channel": "sms", "transport": "outbox", "purpose": "baseline", "to": "+8613000000000",
                 "body": "【回访】" + "x" * 120, "state": "sent", "sent_at": now, "next_attempt_at": now,
                 "created_at": now, "updated_at": now, "attempts": 0, "direction": "out", "sender": "",
                 "subject": ""} for _ in range(count)])
            db.session.commit()
    rate = sent / dispatch["seconds"]
    loss = count - distinct
    line("dispatched", f"{sent:,} in {dispatch['seconds']:.1f} s = {rate:,.0f} invitations/s")
    line("messages written / distinct invitations", f"{messages:,} / {distinct:,}")
    line("loss (queued - sent)", f"{loss} {'OK' if loss == 0 and still_due == 0 else 'FAIL'}")
    line("duplicates", f"{messages - distinct} {'OK' if messages == distinct else 'FAIL'}")
    line("baseline: bulk INSERT of the same rows", f"{baseline['seconds']:.1f} s = {count / baseline['seconds']:,.0f} rows/s")
    line("ratio dispatch / baseline", f"{rate / (count / baseline['seconds']):.2f}")
    fleet = run_workers(app, count)
    line(f"ratio {WORKERS} workers / baseline", f"{fleet['rate'] / (count / baseline['seconds']):.2f}")
    return {"rate": rate, "loss": loss + fleet["loss"], "duplicates": messages - distinct + fleet["duplicates"],
            "baseline_rate": count / baseline["seconds"], "workers_rate": fleet["rate"]}


def _queue(count: int, prefix: str) -> None:
    from demo import bulk_due_invitations
    for start in range(0, count, 100_000):  # bounded statements: a million rows at once is GBs
        bulk_due_invitations(min(100_000, count - start), prefix=f"{prefix}{start}-")


def _sent(prefix: str) -> tuple[int, int]:
    """(invitations of this run sent, their messages), read without taking SQLite's write lock
    (READ_ONLY), so polling never holds up the workers."""
    from channels.models import Message
    from surveys.models import Invitation
    from tickets.models import Customer
    mine = select(Invitation.id).join(Customer).where(Customer.external_id.like(f"{prefix}%"))
    with db.engine.connect().execution_options(**READ_ONLY) as conn:
        sent = conn.scalar(select(func.count()).select_from(Invitation)
                           .where(Invitation.id.in_(mine), Invitation.state == "sent"))
        messages = conn.scalar(select(func.count()).select_from(Message).where(Message.invitation_id.in_(mine)))
    return sent, messages


def run_workers(app, count: int) -> dict:
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        _queue(count, "FLEET")
        log = tempfile.NamedTemporaryFile("w", prefix="huifang-workers-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "DATABASE_URL": url, "TWILIO_ACCOUNT_SID": "", "SMTP_URL": ""}
        batch = str(min(500, max(count // 100, 20)))
        workers = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "worker", "--batch", batch],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT) for _ in range(WORKERS)]
        try:
            started = first = None
            while True:
                sent, _ = _sent("FLEET")
                now = time.perf_counter()
                if sent and started is None:
                    started, first = now, sent
                if sent >= count:
                    break
                time.sleep(0.2)
        finally:
            for worker in workers:
                worker.terminate()
            codes = [worker.wait(timeout=120) for worker in workers]
        sent, messages = _sent("FLEET")
    rate = (count - first) / (now - started) if now > started else float("nan")
    line(f"{WORKERS} workers (flask worker, SIGTERM after)", f"{count - first:,} in {now - started:.1f} s = {rate:,.0f} invitations/s, "
                                                            f"exit codes {codes}, load {os.getloadavg()[0]:.1f}")
    loss = count - sent
    line("workers: loss / duplicates", f"{loss} / {messages - count} {'OK' if not loss and messages == count else 'FAIL'}")
    return {"rate": rate, "loss": loss, "duplicates": messages - count}
