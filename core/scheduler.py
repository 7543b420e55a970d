"""The machinery of the one scheduler process (`flask --app app scheduler`); the job table is
the application's (`jobs.py`).

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
_app = None  # the app the jobs run in (set by run_scheduler; APScheduler calls by reference)


def run_named(name: str, table: dict[str, Callable[[datetime], int]]) -> int:
    """Runs one job of the table in an app context; a failing job is logged and runs again
    next tick, it never stops the scheduler."""
    app = _app or current_app._get_current_object()
    with app.app_context():
        try:
            count = table[name](utcnow())
        except Exception:
            db.session.rollback()
            log.exception("job %s failed; it runs again next tick", name)
            return 0
        finally:
            db.session.remove()
        if count:
            log.info("%s: %d", name, count)
        return count


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





def build_scheduler(app, names: list[str], entry: str, cron: tuple[str, ...] = ()):
    """A BlockingScheduler whose jobs call `entry` (a "module:function" reference, so the job
    store holds only strings) with each job's name."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.blocking import BlockingScheduler

    tick = app.config["SCHEDULER_TICK_SECONDS"]
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC")
    for name in names:
        if name in cron:
            scheduler.add_job(entry, "cron", minute="*/10", args=[name], id=name, replace_existing=True)
        else:
            scheduler.add_job(entry, "interval", seconds=tick, args=[name], id=name,
                              replace_existing=True, next_run_time=datetime.now(UTC))
    return scheduler


def run_scheduler(app, names: list[str], entry: str, cron: tuple[str, ...] = ()) -> None:
    global _app
    _app = app
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    lock = SchedulerLock(db.engine)
    if not lock.acquire():
        print("another scheduler is running against this database; exiting", file=sys.stderr)
        sys.exit(3)
    scheduler = build_scheduler(app, names, entry, cron)

    def stop(signum, frame):
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("scheduler running; Ctrl-C stops it", file=sys.stderr, flush=True)
    try:
        scheduler.start()
    finally:
        lock.release()
