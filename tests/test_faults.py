"""Fault injection: the scheduler is killed mid-dispatch while the mail provider is down, the
provider comes back, everything restarts: every queued invitation is delivered exactly once."""
import signal
import time

from sqlalchemy import func, select

from channels.models import Message
from core.db import db
from demo import bulk_due_invitations
from surveys.models import Invitation
from tests.channel_fakes import SmtpServer
from tests.test_scheduler import (
    invitation_messages,
    output,
    scheduler_process,
    stop_scheduler,
    ticked_after,
    wait_for,
)


def delivered() -> int:
    count = db.session.scalar(select(func.count()).select_from(Message).where(
        Message.purpose == "invitation", Message.state == "sent"))
    db.session.commit()  # end the read: the scheduler process is writing
    return count


def test_kill_during_provider_outage_then_recover_sends_each_invitation_once(ctx, database_url):
    total = 300
    bulk_due_invitations(total, channel="email", prefix="FAULT")
    with SmtpServer() as smtp:
        smtp.mailbox.down = True
        env = {"SMTP_URL": smtp.url, "HUIFANG_BACKOFF_SECONDS": "0.2", "HUIFANG_SENDING_LEASE_SECONDS": "2"}
        first = scheduler_process(database_url, slow=True, **env)
        try:
            # Invitations are being queued and the provider is refusing their e-mails.
            assert wait_for(lambda: invitation_messages() > 10 and smtp.mailbox.refused > 5, timeout=120), \
                output(first)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=60)
        finally:
            first.kill()
        queued_at_kill = invitation_messages()
        assert 0 < queued_at_kill < total, "the kill must land mid-dispatch"
        errors = db.session.scalars(select(Message.error).where(Message.error.is_not(None)).limit(1)).all()
        db.session.commit()
        assert errors and "451" in errors[0]  # the outage is recorded on the message
        assert smtp.mailbox.messages == []
        smtp.mailbox.down = False  # the provider recovers
        second = scheduler_process(database_url, **env)
        try:
            assert wait_for(lambda: delivered() >= total, timeout=300, step=0.2), \
                f"{delivered()} of {total} delivered\n{output(second)[-3000:]}"
            # More ticks, past the sending lease (2 s): nothing more may go out.
            past_lease = time.time() + 2
            assert wait_for(lambda: ticked_after(past_lease), timeout=120)
        finally:
            stop_scheduler(second)
        recipients = [m["To"] for m in smtp.mailbox.messages]
    assert len(recipients) == total and len(set(recipients)) == total  # each exactly once
    db.session.expire_all()
    per_invitation = db.session.execute(select(Message.invitation_id, func.count())
                                        .where(Message.purpose == "invitation").group_by(Message.invitation_id)).all()
    assert len(per_invitation) == total and {n for _, n in per_invitation} == {1}
    assert db.session.scalar(select(func.count()).select_from(Invitation).where(Invitation.state == "sent")) == total
