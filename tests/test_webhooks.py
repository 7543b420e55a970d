"""Outbound webhooks: events are committed with the change they announce, fanned out to the
endpoints subscribed to them, signed per Standard Webhooks and retried through an outage."""
from datetime import timedelta

from sqlalchemy import func, select

from callbacks.services import claim, close, record_attempt
from core.accounts import create_user
from core.db import db, utcnow
from core.events import EVENT_TYPES, Event
from integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, new_secret
from integrations.webhooks import deliver_webhooks
from surveys.services import complete_response, response_for, save_answers
from tests.conftest import make_ticket, sent_invitation
from tests.webhook_receiver import Receiver
from tickets.models import Customer

SECRET = new_secret()


def endpoint(url: str, events=EVENT_TYPES) -> WebhookEndpoint:
    row = WebhookEndpoint(url=url, event_types=list(events), secret=SECRET)
    db.session.add(row)
    db.session.commit()
    return row


def produce_events() -> set[str]:
    """A completed answer, a complaint's tasks, a closed task and so a completed complaint stage."""
    invitation = sent_invitation()
    response = response_for(invitation)
    save_answers(response, {"overall": 5, "nps": 10})
    db.session.commit()
    assert complete_response(response)
    task = make_ticket("T-complaint", kind="complaint").tasks[0]
    agent = create_user("a@example.com", "Agent", "agent", "correct-horse-1")
    claim(task.id, agent.id)
    record_attempt(task, agent.id, "reached")
    close(task, agent.id, "resolved", True, "explained")
    return set(db.session.scalars(select(Event.uid)))


def test_an_event_exists_only_if_its_change_committed(ctx):
    invitation = sent_invitation()
    response = response_for(invitation)
    save_answers(response, {"overall": 1})
    db.session.commit()
    before = db.session.scalar(select(func.max(Event.id))) or 0
    assert complete_response(response)
    assert not complete_response(response)  # the second completion changes nothing
    # The detractor task the answer opened is announced in the same transaction.
    assert sorted(db.session.scalars(select(Event.type).where(Event.id > before))) == \
        ["response.completed", "task.created"]
    event = db.session.scalar(select(Event).where(Event.type == "response.completed"))
    assert event.data["response_id"] == response.id and event.data["overall"] == 1
    assert event.data["ticket_external_id"] == "T-C-1"
    task_event = db.session.scalar(select(Event).where(Event.type == "task.created", Event.id > before))
    assert task_event.data["kind"] == "detractor" and task_event.data["response_id"] == response.id


def test_a_rolled_back_change_publishes_nothing(ctx):
    make_ticket("T-rollback", kind="complaint")
    before = db.session.scalar(select(func.count()).select_from(Event))
    from callbacks.services import create_task
    create_task("detractor", db.session.scalar(select(Customer.id)), utcnow())
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Event)) == before


def test_receiver_down_for_an_hour_gets_every_event_signed(ctx):
    with Receiver(SECRET) as receiver:
        endpoint(receiver.url)
        expected = produce_events()
        assert {db.session.scalar(select(Event.type).where(Event.uid == uid)) for uid in expected} == \
            {"response.completed", "task.created", "task.closed", "complaint.stage_completed"}
        start, now = utcnow(), utcnow()
        receiver.down = True
        while now < start + timedelta(hours=3):
            receiver.down = now < start + timedelta(hours=1)
            deliver_webhooks(now)
            due = db.session.scalar(select(func.min(WebhookDelivery.next_attempt_at))
                                    .where(WebhookDelivery.state == "pending"))
            if due is None:
                break
            now = max(due, now + timedelta(seconds=1))
        assert not receiver.refused
        assert {msg_id for msg_id, _ in receiver.received} == expected
        assert len(receiver.received) == len(expected)  # each once: delivered rows are not retried
        for msg_id, payload in receiver.received:
            event = db.session.scalar(select(Event).where(Event.uid == msg_id))
            assert payload == {"type": event.type, "timestamp": event.created_at.isoformat() + "Z",
                               "data": event.data}
        deliveries = list(db.session.scalars(select(WebhookDelivery)))
        assert {d.state for d in deliveries} == {"delivered"}
        assert all(d.delivered_at >= start + timedelta(hours=1) for d in deliveries)
        log = [a.status for a in db.session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id))]
        assert log.count(503) >= len(expected) * 5 and log.count(204) == len(expected)


def test_deliveries_give_up_after_24_hours_and_only_subscribed_events_go_out(ctx):
    with Receiver(SECRET) as receiver:
        receiver.down = True
        endpoint(receiver.url, events=["task.closed"])
        produce_events()
        start = now = utcnow()
        while now <= start + timedelta(hours=25):
            deliver_webhooks(now)
            now += timedelta(hours=1)
        deliveries = list(db.session.scalars(select(WebhookDelivery)))
        assert len(deliveries) == 1 and deliveries[0].state == "failed"
        assert deliveries[0].last_status == 503 and deliveries[0].attempts > 10


def test_admin_manages_endpoints_reads_the_log_and_redelivers(ctx, client):
    from core.accounts import ApiKey, AuditEvent
    from tests.conftest import login, post_form

    login(client, "admin")
    refused = post_form(client, "/admin/webhooks", {"url": "ftp://crm", "event_types": ["task.created"]})
    assert refused.status_code == 400 and "请输入 http:// 或 https:// 地址" in refused.get_data(as_text=True)
    with Receiver(SECRET) as receiver:
        added = post_form(client, "/admin/webhooks", {"url": receiver.url, "description": "CRM",
                                                      "event_types": ["task.created"]})
        assert added.status_code == 303
        hooks = db.session.scalar(select(WebhookEndpoint))
        hooks.secret = SECRET  # the receiver was built with it
        db.session.commit()
        page = client.get(added.headers["Location"]).get_data(as_text=True)
        assert "回访任务已创建" in page and SECRET in page
        receiver.down = True
        make_ticket("T-hook", kind="complaint")
        deliver_webhooks()
        page = client.get(f"/admin/webhooks/{hooks.id}").get_data(as_text=True)
        assert "HTTP 503" in page and "重试中" in page
        receiver.down = False
        delivery = db.session.scalar(select(WebhookDelivery))
        assert post_form(client, f"/admin/webhooks/deliveries/{delivery.id}/redeliver", {},
                         token_from=f"/admin/webhooks/{hooks.id}").status_code == 303
        deliver_webhooks()
        assert len(receiver.received) == 1
        page = client.get(f"/admin/webhooks/{hooks.id}").get_data(as_text=True)
        assert "HTTP 204" in page and "已送达" in page
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"create_webhook", "redeliver_webhook"} <= actions
    created = post_form(client, "/admin/api-keys", {"name": "Warehouse", "scopes": ["results:read"]})
    assert "读取结果" in created.get_data(as_text=True)
    assert db.session.scalar(select(ApiKey.scopes).where(ApiKey.name == "Warehouse")) == "results:read"


def test_fan_out_of_an_import_sized_batch_is_exact_per_subscription(ctx):
    """Thousands of events (as an import publishes) fan out in set-based batches: one delivery
    per event and subscribed active endpoint, none for the rest, every event marked once."""
    from core.events import publish_many
    from integrations.webhooks import fan_out

    completed = endpoint("https://crm.example/completed", events=["response.completed"])
    everything = endpoint("https://bi.example/all")
    paused = endpoint("https://old.example/all")
    paused.active = False
    publish_many("response.completed", [{"response_id": i} for i in range(7000)])
    publish_many("task.created", [{"task_id": i} for i in range(300)])
    db.session.commit()
    created = fan_out(batch=5000) + fan_out(batch=5000)
    assert created == 7000 + 7300
    counts = dict(db.session.execute(select(WebhookDelivery.endpoint_id, func.count())
                                     .group_by(WebhookDelivery.endpoint_id)).all())
    assert counts == {completed.id: 7000, everything.id: 7300}
    assert db.session.scalar(select(func.count()).where(Event.fanned_out.is_(False))) == 0
    assert fan_out() == 0  # nothing fans out twice
    assert db.session.scalar(select(func.count()).select_from(WebhookDelivery)) == 14300


def test_the_outbox_keeps_a_month_and_every_pending_delivery(ctx):
    from integrations.webhooks import fan_out
    from jobs import job_table

    with Receiver(SECRET) as receiver:
        endpoint(receiver.url, events=["task.closed", "response.completed"])
        produce_events()
        month_ago = utcnow() - timedelta(days=31)
        deliver_webhooks(month_ago)  # delivered a month ago: the task.closed and response events
    pending = Event(uid="msg_pending", type="task.closed", data={}, created_at=month_ago)
    db.session.add(pending)
    db.session.commit()
    fan_out(month_ago)  # its delivery is still pending: never tried yet, so it must stay
    old = set(db.session.scalars(select(Event.uid)))
    db.session.execute(Event.__table__.update().values(created_at=month_ago))
    recent = Event(uid="msg_recent", type="task.closed", data={}, fanned_out=True, created_at=utcnow())
    db.session.add(recent)
    db.session.commit()
    delivered = db.session.scalar(select(func.count()).where(WebhookDelivery.state == "delivered"))
    assert delivered == 2

    removed = job_table()["prune_events"](utcnow())

    assert removed == len(old) - 1
    assert set(db.session.scalars(select(Event.uid))) == {"msg_pending", "msg_recent"}
    assert [d.state for d in db.session.scalars(select(WebhookDelivery))] == ["pending"]
    assert db.session.scalar(select(func.count()).select_from(WebhookAttempt)) == 0
    assert job_table()["prune_events"](utcnow()) == 0


def test_event_ids_are_unique_and_sort_by_when_they_were_made(monkeypatch):
    """The webhook-id of an event: unique, and later ones sort later (a bulk import's events
    then add to the end of the unique index)."""
    import re

    from core import events

    monkeypatch.setattr(events.time, "time_ns", lambda: 1_764_000_000_000_000_000)
    earlier = events.new_uids(1000)
    monkeypatch.setattr(events.time, "time_ns", lambda: 1_764_000_000_001_000_000)  # a millisecond later
    later = events.new_uids(1000)
    assert len(set(earlier + later)) == 2000
    assert all(re.fullmatch(r"msg_[0-9a-f]{32}", uid) for uid in earlier + later)
    assert max(earlier) < min(later)
