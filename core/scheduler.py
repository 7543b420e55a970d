"""The machinery of the one scheduler process (`flask --app app scheduler`); the job table is
the application's (`jobs.py`).

Following the outbox pattern, APScheduler does not hold a job per invitation: a few periodic
jobs (stored in the application's database with the SQLAlchemy job store) claim due rows and
move them forward. Only one scheduler may run against a database: a PostgreSQL advisory lock
(works across machines) or, on SQLite, an exclusive flock on the database file itself."""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_PAUSED
from flask import current_app
from sqlalchemy import text

from core.db import db, utcnow

log = logging.getLogger("huifang.scheduler")
LOCK_KEY = 0x48554946  # "HUIF"
_app = None  # the app the jobs run in (set by run_scheduler; APScheduler calls by reference)


def stopping() -> bool:
    """True once the scheduler has been asked to stop: a long job checks it between batches and
    returns after the batch in hand (what it claimed but did not start goes back to the queue)."""
    return _stop.is_set()


def request_stop() -> None:
    """Asks this process to stop: the scheduler's and the delivery workers' signal handlers."""
    _stop.set()


def wait_for_stop(seconds: float) -> bool:
    """Sleeps up to `seconds`, waking at once when asked to stop; True when asked."""
    return _stop.wait(seconds)


def run_named(name: str, table: dict[str, Callable[[datetime], int]]) -> int:
    """Runs one job of the table in an app context; a failing job is logged and runs again
    next tick, it never stops the scheduler."""
    app = _app or current_app._get_current_object()
    with _running, app.app_context():
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


class _RunningJobs:
    """Counts the jobs in progress, so shutdown can wait for them with a deadline."""

    def __init__(self):
        self.count = 0
        self.changed = threading.Condition()

    def __enter__(self):
        with self.changed:
            self.count += 1

    def __exit__(self, *exc):
        with self.changed:
            self.count -= 1
            self.changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.count == 0, timeout)


_running = _RunningJobs()
_stop = threading.Event()


class SchedulerLock:
    """Held for the life of the process; released by the OS if the process dies.

    PostgreSQL: a session advisory lock, which is per database (and works across machines).
    SQLite: an exclusive flock on the database file itself, so the lock follows the file's
    identity (its inode): another path, a symlink or a hard link to the same file conflicts.
    SQLite's own locking uses POSIX record locks, which flock does not touch on Linux."""

    def __init__(self, engine):
        self.engine = engine
        self.connection = None
        self.file = None

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            return self._acquire_advisory()
        database = self.engine.url.database
        if not database or database == ":memory:":
            return True  # a private in-memory database: no other process can reach it
        # Never closed before exit: closing any descriptor of the file would drop the POSIX
        # locks SQLite holds on it in this process.
        self.file = open(os.path.realpath(database), "rb")  # noqa: SIM115
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _acquire_advisory(self) -> bool:
        self.connection = self.engine.connect()
        got = self.connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar()
        self.connection.commit()
        return bool(got)

    def still_held(self) -> bool:
        """PostgreSQL drops an advisory lock with its connection: when the connection is lost,
        take the lock again on a new one (False while another scheduler holds it)."""
        if self.connection is None:
            return True
        try:
            self.connection.execute(text("SELECT 1")).scalar()
            self.connection.commit()
            return True
        except Exception as exc:
            log.warning("the scheduler lock's connection was lost (%s); taking the lock again", exc)
        try:
            self.connection.invalidate()
            self.connection.close()
            return self._acquire_advisory()
        except Exception:
            log.exception("the database is unreachable; retrying")
            return False

    def release(self) -> None:
        try:
            if self.connection is not None:
                self.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
                self.connection.close()
        except Exception:
            log.warning("could not release the advisory lock; it ends with the connection")
        if self.file is not None:
            fcntl.flock(self.file, fcntl.LOCK_UN)


class _Scheduler(BackgroundScheduler):
    """APScheduler's background scheduler whose loop survives database errors: a failure to
    read or update the job store ("database is locked", a lost connection) is logged and the
    loop tries again, where APScheduler would let its thread die."""

    def _process_jobs(self):
        try:
            return super()._process_jobs()
        except Exception:
            log.exception("the job store failed; retrying in %s s", self.jobstore_retry_interval)
            return self.jobstore_retry_interval


def build_scheduler(app, names: list[str], entry: str, cron: tuple[str, ...] = ()) -> BackgroundScheduler:
    """A scheduler whose jobs call `entry` (a "module:function" reference, so the job store
    holds only strings) with each job's name."""
    tick = app.config["SCHEDULER_TICK_SECONDS"]
    scheduler = _Scheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=db.engine)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        jobstore_retry_interval=min(10.0, max(tick, 1.0)), timezone="UTC")
    for name in names:
        if name in cron:
            scheduler.add_job(entry, "cron", minute="*/10", args=[name], id=name, replace_existing=True)
        else:
            scheduler.add_job(entry, "interval", seconds=tick, args=[name], id=name,
                              replace_existing=True, next_run_time=datetime.now(UTC))
    return scheduler


def _start(scheduler: BackgroundScheduler) -> None:
    """Starting writes the job table to the database: retried until the database answers."""
    while not _stop.is_set():
        try:
            scheduler.start()
            return
        except Exception:
            log.exception("the scheduler could not start; retrying")
            _stop.wait(5)


def _follow_lock(scheduler: BackgroundScheduler, lock: SchedulerLock) -> None:
    """No jobs run while the lock is lost (another scheduler may have taken over)."""
    held, paused = lock.still_held(), scheduler.state == STATE_PAUSED
    if held and paused:
        log.info("the scheduler lock is held again; resuming")
        scheduler.resume()
    elif not held and not paused:
        log.warning("the scheduler lock is lost; pausing until it is held again")
        scheduler.pause()


def run_scheduler(app, names: list[str], entry: str, cron: tuple[str, ...] = ()) -> None:
    """Runs until SIGTERM or SIGINT. The signal handler only sets a flag: stopping inside a
    handler, on a thread that may hold a lock a job needs (the logging lock, a connection),
    can deadlock. The main thread then stops scheduling, gives running jobs SHUTDOWN_GRACE
    seconds to finish their batch, and exits; a job still stuck (a hung provider) is abandoned,
    which the outbox makes safe: its claimed messages are taken up again after their lease."""
    global _app
    _app = app
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)  # run_named logs counts
    lock = SchedulerLock(db.engine)
    if not lock.acquire():
        print("another scheduler is running against this database; exiting", file=sys.stderr)
        sys.exit(3)
    _stop.clear()
    signal.signal(signal.SIGTERM, lambda signum, frame: _stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: _stop.set())
    scheduler = build_scheduler(app, names, entry, cron)
    print("scheduler running; Ctrl-C stops it", file=sys.stderr, flush=True)
    _start(scheduler)
    while not _stop.wait(app.config["SCHEDULER_TICK_SECONDS"]):
        _follow_lock(scheduler, lock)
    log.info("stopping: no new jobs; waiting for running ones")
    if scheduler.running:
        scheduler.shutdown(wait=False)
    finished = _running.wait_idle(app.config["SCHEDULER_SHUTDOWN_GRACE_SECONDS"])
    lock.release()
    if not finished:
        log.warning("a job is still running after the grace period; abandoning it (the outbox "
                    "takes its messages up again after their lease)")
        logging.shutdown()
        os._exit(0)  # the executor's threads would otherwise be joined at exit
    log.info("stopped")
