"""Issue 3: queue 100,000 invitations, let the scheduler's dispatch job send them through the
outbox, check the count sent against the count queued. Baseline: inserting the same number of
outbox rows with one bulk INSERT (the floor for writing them at all)."""
from __future__ import annotations

from sqlalchemy import func, insert, select

from bench.common import bench_app, line, timed
from core.db import db, utcnow


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
    return {"rate": rate, "loss": loss, "duplicates": messages - distinct,
            "baseline_rate": count / baseline["seconds"]}
