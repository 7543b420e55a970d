"""The single-scheduler lock follows the database's identity, and database errors never stop
the scheduler: it logs them and tries again."""
import os

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from core.db import db
from core.scheduler import SchedulerLock, build_scheduler


def other_ways_to_the_same_database(database_url: str, tmp_path) -> list[str]:
    """SQLite: the file through a symlink, a hard link and a path with `.` and `..` in it;
    PostgreSQL: the same database (its advisory lock is per database)."""
    if not database_url.startswith("sqlite"):
        return [database_url]
    path = database_url.removeprefix("sqlite:///")
    (tmp_path / "symlink.db").symlink_to(path)
    os.link(path, tmp_path / "hardlink.db")
    dotted = os.path.join(os.path.dirname(path), ".", "..", os.path.basename(os.path.dirname(path)),
                          os.path.basename(path))
    return [f"sqlite:///{tmp_path / 'symlink.db'}", f"sqlite:///{tmp_path / 'hardlink.db'}", f"sqlite:///{dotted}"]


def test_a_second_scheduler_on_the_same_database_is_refused_whatever_the_path(ctx, database_url, tmp_path):
    held = SchedulerLock(db.engine)
    assert held.acquire()
    try:
        for url in other_ways_to_the_same_database(database_url, tmp_path):
            engine = create_engine(url)
            second = SchedulerLock(engine)
            assert not second.acquire(), url
            second.release()
            engine.dispose()
    finally:
        held.release()
    again = SchedulerLock(db.engine)
    assert again.acquire()  # released: the next scheduler may start
    again.release()


def test_job_store_errors_do_not_stop_the_scheduler_loop(app, ctx, monkeypatch, caplog):
    scheduler = build_scheduler(app, ["send_invitations"], entry="jobs:run_job")
    store = scheduler._lookup_jobstore("default")

    def locked(*args):
        raise OperationalError("UPDATE apscheduler_jobs", {}, Exception("database is locked"))

    monkeypatch.setattr(store, "get_due_jobs", lambda now: [])
    monkeypatch.setattr(store, "get_next_run_time", locked)
    assert scheduler._process_jobs() == scheduler.jobstore_retry_interval  # logged, tried again later
    assert "the job store failed" in caplog.text and "database is locked" in caplog.text


def test_a_failing_job_is_logged_and_runs_again(app, ctx, caplog):
    from core.scheduler import run_named

    def lost(now):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))

    assert run_named("deliver_messages", {"deliver_messages": lost}) == 0
    assert "job deliver_messages failed" in caplog.text
    assert run_named("deliver_messages", {"deliver_messages": lambda now: 2}) == 2


def test_a_lost_lock_connection_is_noticed_and_the_lock_taken_again(ctx, database_url):
    lock = SchedulerLock(db.engine)
    assert lock.acquire()
    if not database_url.startswith("postgresql"):  # a file lock held by the process: no connection to lose
        assert lock.connection is None and lock.still_held()
        return lock.release()
    try:
        pid = lock.connection.execute(text("SELECT pg_backend_pid()")).scalar()
        lock.connection.commit()
        with db.engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        assert lock.still_held()  # reconnected and locked again
        with db.engine.connect() as other:
            assert other.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": 0x48554946}).scalar() is False
    finally:
        lock.release()
