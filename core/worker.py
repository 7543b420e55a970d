"""The machinery of delivery workers (`flask --app app worker`); which jobs they run is the
application's (`jobs.py`). Any number of workers may run, on any machine: each job claims its
rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite every write transaction begins
IMMEDIATE, which serialises the claims), so no two workers take the same row. Unlike the
scheduler, workers keep no clock and hold no lock: they take what is due, or wait a moment.

SIGTERM or SIGINT asks a worker to stop: it finishes the batch in hand (each message is
committed as sent before the next is tried, so nothing is left half-sent) and exits 0. A worker
killed outright leaves its claimed messages `sending`; another worker takes them up once
MESSAGE_LEASE_SECONDS have passed."""
from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime

from core.db import db, utcnow

log = logging.getLogger("huifang.worker")
_stop = threading.Event()


def stopping() -> bool:
    """True once this worker has been asked to stop (long jobs check it between items)."""
    return _stop.is_set()


def _run(name: str, job: Callable[[datetime], int]) -> int:
    try:
        return job(utcnow())
    except Exception:  # a database hiccup or a bug in one job never stops the worker
        db.session.rollback()
        log.exception("%s failed; the worker goes on", name)
        return 0
    finally:
        db.session.remove()


def run_worker(app, jobs: dict[str, Callable[[datetime], int]], idle_seconds: float) -> None:
    """Runs the jobs round after round until asked to stop; waits `idle_seconds` after a
    round that found nothing to do."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    signal.signal(signal.SIGTERM, lambda *_: _stop.set())
    signal.signal(signal.SIGINT, lambda *_: _stop.set())
    print("worker running; SIGTERM or Ctrl-C stops it after the batch in hand",
          file=sys.stderr, flush=True)
    while not _stop.is_set():
        done = 0
        for name, job in jobs.items():
            with app.app_context():
                done += _run(name, job)
            if _stop.is_set():
                break
        if not done:
            _stop.wait(idle_seconds)
    log.info("worker stopped")
