"""The machinery of delivery workers (`flask --app app worker`); which jobs they run is the
application's (`jobs.py`). Any number of workers may run, on any machine: each job claims its
rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite every write transaction begins
IMMEDIATE, which serialises the claims), so no two workers take the same row. Unlike the
scheduler, workers keep no clock and hold no lock: they take what is due, or wait a moment.

SIGTERM or SIGINT asks a worker to stop, with the scheduler's flag (`core.scheduler.stopping`,
which `deliver_due` checks between messages): it finishes the message in hand, puts back what
it claimed but did not start, and exits 0. A worker killed outright leaves its claimed messages
`sending`; another worker takes them up once MESSAGE_LEASE_SECONDS have passed."""
from __future__ import annotations

import logging
import signal
import sys
from collections.abc import Callable
from datetime import datetime

from core.db import db, utcnow
from core.scheduler import request_stop, stopping, wait_for_stop

log = logging.getLogger("huifang.worker")


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
    # The handler only sets a flag: stopping inside it could deadlock on a lock the interrupted
    # code holds (see core.scheduler.run_scheduler).
    signal.signal(signal.SIGTERM, lambda *_: request_stop())
    signal.signal(signal.SIGINT, lambda *_: request_stop())
    print("worker running; SIGTERM or Ctrl-C stops it after the message in hand",
          file=sys.stderr, flush=True)
    while not stopping():
        done = 0
        for name, job in jobs.items():
            with app.app_context():
                done += _run(name, job)
            if stopping():
                break
        if not done:
            wait_for_stop(idle_seconds)
    log.info("worker stopped")
