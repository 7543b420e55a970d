"""The scheduler's job table: which area function runs on which tick. Composition lives here,
beside `app.py`, so `core/` (the scheduler machinery) never imports an area."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import Flask

# Jobs that run on a cron (every ten minutes) rather than on every tick.
CRON_JOBS = ("scheduled_reports", "retention", "overdue_actions", "themes", "prune_events")


def job_table() -> dict[str, Callable[[datetime], int]]:
    from admin.retention import anonymise_old_responses
    from callbacks.services import escalate_overdue, reopen_waiting
    from channels.services import deliver_due
    from complaints.feedback import complete_sent_results, run_rechecks
    from integrations.webhooks import deliver_webhooks, prune_events
    from reports.actions import notify_overdue
    from reports.scheduled import generate_due_reports
    from reports.stored_themes import refresh_themes
    from surveys.dispatch import drain_due_invitations, expire_invitations, send_reminders

    return {
        "send_invitations": drain_due_invitations,
        "send_reminders": send_reminders,
        "deliver_messages": deliver_due,
        "complaint_results": complete_sent_results,  # after delivery: results sent complete feedback
        "complaint_rechecks": run_rechecks,
        "deliver_webhooks": deliver_webhooks,
        "expire_invitations": expire_invitations,
        "reopen_callbacks": reopen_waiting,
        "escalate_overdue": lambda now: len(escalate_overdue(now)),
        "scheduled_reports": generate_due_reports,
        "retention": anonymise_old_responses,
        "overdue_actions": notify_overdue,
        "themes": refresh_themes,  # the discovered comment themes, off the request path
        "prune_events": prune_events,  # the webhook outbox keeps a month
    }


def run_job(name: str) -> int:
    """The APScheduler entry point: takes a job name (pickled args stay plain strings)."""
    from core.scheduler import run_named
    return run_named(name, job_table())


def run_once() -> dict[str, int]:
    return {name: run_job(name) for name in job_table()}


def run_forever(app: Flask) -> None:
    from core.scheduler import run_scheduler
    run_scheduler(app, list(job_table()), entry="jobs:run_job", cron=CRON_JOBS)


def worker_jobs(batch: int) -> dict[str, Callable[[datetime], int]]:
    """What a delivery worker does each round: render due invitations into messages, deliver
    due provider messages; both claim their rows, so any number of workers share the work."""
    from channels.services import deliver_due
    from integrations.webhooks import deliver_webhooks
    from surveys.dispatch import send_due_invitations

    return {"send_invitations": lambda now: send_due_invitations(now, limit=batch),
            "deliver_messages": lambda now: deliver_due(now, limit=batch),
            "deliver_webhooks": lambda now: deliver_webhooks(now, limit=batch)}


def run_worker(app: Flask, batch: int, idle_seconds: float) -> None:
    from core.worker import run_worker as run
    run(app, worker_jobs(batch), idle_seconds)
