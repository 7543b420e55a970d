"""The one scheduler process (`flask --app app scheduler`).

Following the outbox pattern, APScheduler does not hold a job per invitation: a few periodic
jobs (stored in the application's database with the SQLAlchemy job store) claim due rows and
move them forward. Only one scheduler may run against a database: a PostgreSQL advisory lock
(works across machines) or, on SQLite, an exclusive file lock beside the database file."""
from __future__ import annotations

import fcntl
import logging
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from core.db import db, utcnow

log = logging.getLogger("huifang.scheduler")
LOCK_KEY = 0x48554946  # "HUIF"


def _jobs() -> dict[str, Callable[[datetime], int]]:
    from admin.retention import anonymise_old_responses
    from callbacks.services import escalate_overdue, reopen_waiting
    from channels.services import deliver_due
    from reports.scheduled import generate_due_reports
    from surveys.dispatch import drain_due_invitations, expire_invitations, send_reminders

    return {
        "send_invitations": drain_due_invitations,
        "send_reminders": send_reminders,
        "deliver_messages": deliver_due,
        "expire_invitations": expire_invitations,
        "reopen_callbacks": reopen_waiting,
        "escalate_overdue": lambda now: len(escalate_overdue(now)),
        "scheduled_reports": generate_due_reports,
        "retention": anonymise_old_responses,
    }


def run_job(name: str) -> int:
    """The APScheduler entry point: takes a job name (pickled args stay plain strings)."""
    app = _app or current_app._get_current_object()
    with app.app_context():
        try:
            count = _jobs()[name](utcnow())
        except Exception:
            db.session.rollback()
            log.exception("job %s failed; it runs again next tick", name)
            return 0
        finally:
            db.session.remove()
        if count:
            log.info("%s: %d", name, count)
        return count


def run_once() -> dict[str, int]:
    return {name: run_job(name) for name in _jobs()}


class SchedulerLock:
    """Held for the life of the process; released by the OS if the process dies."""

    def __init__(self, engine):
        self.engine = engine
        self.connection = None
        self.file = None

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            self.connection = self.engine.connect()
            got = self.connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
            self.connection.commit()
            return bool(got)
        path = (self.engine.url.database or "huifang") + ".scheduler.lock"
        self.file = open(path, "w")  # noqa: SIM115 - kept open: the lock lives with the file
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        if self.connection is not None:
            self.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            self.connection.close()
        if self.file is not None:
            self.file.close()


_app = None


def build_scheduler(app):
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    tick = app.config["SCHEDULER_TICK_SECONDS"]
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC")
    for name in _jobs():
        if name in ("scheduled_reports", "retention"):
            scheduler.add_job("core.scheduler:run_job", "cron", minute="*/10", args=[name],
                              id=name, replace_existing=True)
        else:
            scheduler.add_job("core.scheduler:run_job", "interval", seconds=tick, args=[name],
                              id=name, replace_existing=True, next_run_time=datetime.now(UTC))
    return scheduler


def run_forever() -> None:
    global _app
    _app = current_app._get_current_object()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lock = SchedulerLock(db.engine)
    if not lock.acquire():
        print("another scheduler is running against this database; exiting", file=sys.stderr)
        sys.exit(3)
    scheduler = build_scheduler(_app)

    def stop(signum, frame):
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("scheduler running; Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        scheduler.start()
    finally:
        lock.release()
