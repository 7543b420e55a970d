"""Callback tasks: claiming races, attempts and the retry policy, closing, escalation."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from callbacks.models import CallbackTask, TaskEvent
from callbacks.services import (
    TaskError,
    claim,
    close,
    escalate_overdue,
    record_attempt,
    reopen_waiting,
)
from channels.models import Message
from core.accounts import create_user
from core.db import db, utcnow
from core.settings import save_rules
from tests.conftest import make_ticket


@pytest.fixture
def agents(ctx):
    return [create_user(f"agent{i}@example.com", f"Agent {i}", "agent", "correct-horse-1") for i in range(2)]


@pytest.fixture
def task(ctx):
    return make_ticket(kind="business").tasks[0]


def test_two_staff_claiming_at_once_exactly_one_wins(app, agents, task):
    task_id, user_ids = task.id, [a.id for a in agents]
    db.session.commit()  # the test holds no lock while the two staff race
    barrier, results = threading.Barrier(len(user_ids)), {}

    def grab(user_id):
        with app.app_context():
            barrier.wait()
            results[user_id] = claim(task_id, user_id)
            db.session.remove()

    threads = [threading.Thread(target=grab, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results.values()) == [False, True]
    db.session.expire_all()
    winner = [uid for uid, won in results.items() if won][0]
    stored = db.session.get(CallbackTask, task_id)
    assert stored.state == "claimed" and stored.owner_id == winner


def test_unreached_customer_is_retried_then_unreachable(agents, task):
    agent = agents[0]
    now = utcnow()
    assert claim(task.id, agent.id, now)
    record_attempt(task, agent.id, "no_answer", now=now)
    assert task.state == "waiting" and task.next_attempt_at == now + timedelta(hours=2)
    # Not yet time: it stays waiting; at its time the scheduler puts it back on the list.
    assert reopen_waiting(now + timedelta(hours=1)) == 0
    assert reopen_waiting(now + timedelta(hours=2)) == 1
    db.session.refresh(task)
    assert task.state == "open"
    claim(task.id, agent.id, now + timedelta(hours=2))
    record_attempt(task, agent.id, "busy", now=now + timedelta(hours=2))
    reopen_waiting(now + timedelta(hours=4))
    claim(task.id, agent.id, now + timedelta(hours=4))
    record_attempt(task, agent.id, "no_answer", now=now + timedelta(hours=4))
    assert task.state == "unreachable" and task.closed_at is not None
    assert [a.outcome for a in task.attempts] == ["no_answer", "busy", "no_answer"]


def test_call_back_later_reopens_at_the_time_asked(agents, task):
    agent, now = agents[0], utcnow()
    claim(task.id, agent.id, now)
    with pytest.raises(TaskError):
        record_attempt(task, agent.id, "call_back_later", now=now)  # needs a time
    later = now + timedelta(hours=5)
    record_attempt(task, agent.id, "call_back_later", "after work", callback_at=later, now=now)
    assert task.state == "waiting" and task.next_attempt_at == later
    assert reopen_waiting(later - timedelta(minutes=1)) == 0 and reopen_waiting(later) == 1


def test_working_a_task_needs_the_claim(agents, task):
    with pytest.raises(TaskError, match="请先领取任务"):
        record_attempt(task, agents[0].id, "reached")
    claim(task.id, agents[0].id)
    with pytest.raises(TaskError, match="请先领取任务"):
        record_attempt(task, agents[1].id, "reached")


def test_closing_records_resolution_and_meets_the_deadline(agents, task):
    agent, now = agents[0], utcnow()
    claim(task.id, agent.id, now)
    with pytest.raises(TaskError, match="记录接通客户的通话"):
        close(task, agent.id, "resolved", True, "billing error")
    record_attempt(task, agent.id, "reached", now=now)
    close(task, agent.id, "resolved", True, "套餐已更正", now=now + timedelta(minutes=10))
    assert task.state == "done" and task.met_at == now and task.resolution_category == "resolved"
    assert task.met_at <= task.due_at


def test_overdue_task_escalates_one_tier_and_notifies_supervisors(agents, ctx):
    save_rules({"supervisor_emails": ["boss@example.com"]})
    db.session.commit()
    overdue = make_ticket("T-old", kind="business", handled_at=utcnow() - timedelta(hours=50)).tasks[0]
    fresh = make_ticket("T-new", kind="business", customer={"id": "C-9", "phone": "+8613800000009"}).tasks[0]
    claim(overdue.id, agents[0].id)
    now = utcnow()
    escalated = escalate_overdue(now)
    assert [t.id for t in escalated] == [overdue.id]
    db.session.refresh(overdue)
    assert overdue.tier == 2 and overdue.state == "escalated" and overdue.owner_id is None
    assert db.session.get(CallbackTask, fresh.id).tier == 1
    mail = db.session.scalar(select(Message).where(Message.purpose == "escalation"))
    assert mail.to == "boss@example.com" and f"#{overdue.id}" in mail.subject and mail.transport == "outbox"
    # Not again until the escalation interval has passed; then tier 3, and never beyond.
    assert escalate_overdue(now + timedelta(hours=1)) == []
    assert len(escalate_overdue(now + timedelta(hours=25))) == 1
    assert overdue.id not in [t.id for t in escalate_overdue(now + timedelta(hours=60))]
    db.session.refresh(overdue)
    assert overdue.tier == 3
    kinds = db.session.scalars(select(TaskEvent.kind).where(TaskEvent.task_id == overdue.id)).all()
    assert kinds.count("escalated") == 2


def test_work_list_shows_due_first_and_filters(app, ctx, client):
    from tests.conftest import login

    make_ticket("T-a", kind="business", handled_at=utcnow() - timedelta(hours=10), region="上海",
                customer={"id": "C-a", "name": "张伟", "phone": "+8613800000001"})
    make_ticket("T-b", kind="complaint", handled_at=utcnow() - timedelta(hours=2), region="北京",
                customer={"id": "C-b", "name": "李娜", "phone": "+8613800000002"})
    login(client, "agent")
    page = client.get("/callbacks?lang=en").get_data(as_text=True)
    # Complaint accept (due in 22 h) comes before the business callback (due in 38 h).
    assert page.index("李娜") < page.index("张伟")
    assert "+8613800000001" not in page and "+86138****0001" in page
    filtered = client.get("/callbacks?region=上海").get_data(as_text=True)
    assert "张伟" in filtered and "李娜" not in filtered


def test_task_page_shows_the_customers_history(app, ctx, client):
    from tests.conftest import login
    first = make_ticket("T-old", kind="fault", handled_at=utcnow() - timedelta(days=40), category="宽带断网")
    task = make_ticket("T-new", kind="complaint", category="计费争议").tasks[0]
    assert first.ticket.customer_id == task.customer_id
    login(client, "agent")
    page = client.get(f"/callbacks/{task.id}?lang=en").get_data(as_text=True)
    assert "The customer's tickets" in page and "T-old" in page and "宽带断网" in page
    assert "T-new" in page and "this task" in page
