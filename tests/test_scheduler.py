"""The scheduler process: dispatch, reminders, expiry, the single-instance lock, and the
kill-and-restart proof that nothing due is lost or sent twice."""
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text, update

from channels.models import Message
from core.db import db, utcnow
from demo import bulk_due_invitations
from jobs import CRON_JOBS
from surveys.dispatch import expire_invitations, send_due_invitations, send_reminders
from surveys.models import Invitation
from tests.conftest import make_ticket, sent_invitation

ROOT = Path(__file__).resolve().parent.parent


def scheduler_process(database_url: str, slow: bool = False, **env) -> subprocess.Popen:
    """A real scheduler process; `slow` dispatches one batch of 5 per 0.3 s tick, so a kill
    reliably lands mid-dispatch. Its output goes to a file, never to a pipe nobody reads (a
    full pipe blocks the process on its next log line)."""
    environment = {**os.environ, "DATABASE_URL": database_url, "SCHEDULER_TICK_SECONDS": "0.3",
                   "HUIFANG_DISPATCH_BATCH": "5", "HUIFANG_DRAIN_SECONDS": "0" if slow else "",
                   "TWILIO_ACCOUNT_SID": "", "SMTP_URL": "", **env}
    with tempfile.NamedTemporaryFile("w", prefix="huifang-scheduler-", suffix=".log", delete=False) as log:
        process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "scheduler"], cwd=ROOT,
                                   env=environment, stdout=log, stderr=subprocess.STDOUT, text=True)
    process.log_path = Path(log.name)
    return process


def output(process: subprocess.Popen) -> str:
    return process.log_path.read_text(errors="replace")


def stop_scheduler(process: subprocess.Popen) -> str:
    """SIGTERM, then a clean exit (status 0) within a deadline generous for a busy machine;
    returns what the process wrote."""
    process.send_signal(signal.SIGTERM)
    try:
        status = process.wait(timeout=90)
    finally:
        process.kill()
    text = output(process)
    process.log_path.unlink()
    assert status == 0 and "stopped" in text, text[-3000:]
    return text


def ticked_after(moment: float) -> bool:
    """True once every interval job of the running scheduler has been started after `moment`
    (a time.time()): the job store then holds a next run time beyond moment + one tick."""
    runs = db.session.execute(text("SELECT id, next_run_time FROM apscheduler_jobs")).all()
    db.session.commit()
    interval_jobs = [when for name, when in runs if name not in CRON_JOBS]
    return bool(interval_jobs) and min(interval_jobs) > moment + 0.3


def invitation_messages() -> int:
    """Polled while a scheduler process writes: each read ends its transaction so the test
    never holds a lock the scheduler waits for."""
    count = db.session.scalar(select(func.count()).select_from(Message).where(Message.purpose == "invitation"))
    db.session.commit()
    return count


def wait_for(predicate, timeout=60.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def test_due_invitation_is_sent_once_in_the_customers_language(ctx):
    invitation = make_ticket(handled_at=utcnow() - timedelta(days=1)).invitation
    db.session.execute(update(Invitation).values(send_at=utcnow() - timedelta(minutes=5)))
    db.session.commit()
    assert send_due_invitations() == 1 and send_due_invitations() == 0
    message = db.session.scalar(select(Message))
    assert message.channel == "sms" and message.to == "+8613800138000" and message.transport == "outbox"
    assert message.body.startswith("【回访】") and "回复退订" in message.body
    db.session.refresh(invitation)
    assert invitation.state == "sent" and invitation.current_question == "overall"


def test_future_invitation_waits(ctx):
    make_ticket(handled_at=utcnow())  # due in two hours at the earliest
    assert send_due_invitations() == 0 and invitation_messages() == 0


def test_reminder_goes_once_to_those_who_have_not_answered(ctx):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    answered = sent_invitation(id="C-2", phone="+8613800000002")
    db.session.execute(update(Invitation).where(Invitation.id == answered.id).values(state="completed"))
    db.session.commit()
    later = utcnow() + timedelta(hours=25)
    assert send_reminders(later) == 1 and send_reminders(later + timedelta(hours=30)) == 0
    reminder = db.session.scalar(select(Message).where(Message.purpose == "reminder"))
    assert reminder.to == "+447700900123" and "reminder" in reminder.body
    assert f"/s/{invitation.token}" in reminder.body


def test_invitations_expire(ctx):
    invitation = sent_invitation()
    assert expire_invitations(invitation.expires_at + timedelta(seconds=1)) == 1
    db.session.refresh(invitation)
    assert invitation.state == "expired"


def test_opted_out_customer_gets_nothing_even_if_already_scheduled(ctx):
    invitation = make_ticket().invitation
    invitation.customer.opted_out_at = utcnow()
    invitation.send_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    send_due_invitations()
    db.session.refresh(invitation)
    assert invitation.state == "suppressed" and invitation_messages() == 0


def test_scheduler_once_runs_every_job(app, ctx):
    bulk_due_invitations(3)
    result = app.test_cli_runner().invoke(args=["scheduler", "--once"])
    assert "send_invitations: 3" in result.output and invitation_messages() == 3


def test_killed_scheduler_loses_nothing_and_sends_nothing_twice(ctx, database_url):
    total = 1000
    ids = bulk_due_invitations(total)
    first = scheduler_process(database_url, slow=True)
    try:
        assert wait_for(lambda: invitation_messages() > 0, timeout=120), output(first)
        first.send_signal(signal.SIGKILL)  # mid-dispatch: no clean shutdown
        first.wait(timeout=60)
    finally:
        first.kill()
    sent_at_kill = invitation_messages()
    assert 0 < sent_at_kill < total, "the kill must land mid-dispatch for this test to mean anything"
    restarted = scheduler_process(database_url)
    try:
        # Once it holds the lock, a second scheduler on the same database refuses to start.
        assert wait_for(lambda: "scheduler running" in output(restarted), timeout=120), output(restarted)
        second = scheduler_process(database_url)
        assert second.wait(timeout=120) == 3
        assert "another scheduler is running" in output(second)
        assert wait_for(lambda: invitation_messages() >= total, timeout=300), output(restarted)
        all_sent = time.time()
        assert wait_for(lambda: ticked_after(all_sent), timeout=120)  # more ticks: nothing more is sent
    finally:
        stop_scheduler(restarted)
    db.session.expire_all()
    per_invitation = db.session.execute(
        select(Message.invitation_id, func.count()).where(Message.purpose == "invitation")
        .group_by(Message.invitation_id)).all()
    assert len(per_invitation) == total and {n for _, n in per_invitation} == {1}
    assert {i for i, _ in per_invitation} == set(ids)
    states = db.session.execute(select(Invitation.state, func.count()).group_by(Invitation.state)).all()
    assert states == [("sent", total)]


def test_a_stopping_scheduler_puts_claimed_messages_back_in_the_queue(ctx, monkeypatch):
    from channels import services
    from core import scheduler

    db.session.add_all([Message(channel="email", transport="smtp", purpose="invitation", to=f"c{n}@example.cn",
                                next_attempt_at=utcnow() - timedelta(minutes=1)) for n in range(3)])
    db.session.commit()
    monkeypatch.setattr(scheduler, "_stop", scheduler.threading.Event())
    scheduler._stop.set()  # SIGTERM arrived: nothing more is sent, nothing stays claimed
    assert services.deliver_due() == 0
    db.session.expire_all()
    assert db.session.execute(select(Message.state, Message.attempts)).all() == [("queued", 0)] * 3
