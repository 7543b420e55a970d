"""No dead ends: every settings form saves back unchanged, and every callback task state offers
its next action."""
from werkzeug.datastructures import MultiDict

from core.db import db
from tests.conftest import login, make_ticket, post_form
from tests.screens import unchanged_form


def test_rules_page_saves_back_unchanged(ctx, client):
    login(client, "admin")
    page = client.get("/admin/rules").get_data(as_text=True)
    fields = unchanged_form(page)
    assert [pair for pair in fields if pair[0].startswith("channel_")] == [
        ("channel_1", "sms"), ("channel_2", "email"), ("channel_3", "")]  # the default order, as chosen
    response = client.post("/admin/rules", data=MultiDict(fields), follow_redirects=True)
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "没有变化。" in text and 'class="error"' not in text


def test_rules_page_labels_channels_and_saves_their_order(ctx, client):
    from core.settings import get_rules

    login(client, "admin")
    page = client.get("/admin/rules").get_data(as_text=True)
    assert "首先尝试的渠道" in page and ">短信<" in page and "sms, email" not in page
    chosen = {"channel_1": "email", "channel_2": "", "channel_3": "email"}
    fields = MultiDict([pair for pair in unchanged_form(page) if pair[0] not in chosen] + list(chosen.items()))
    refused = client.post("/admin/rules", data=fields)
    assert refused.status_code == 400 and "每个渠道只能选择一次" in refused.get_data(as_text=True)
    assert get_rules()["channel_order"] == ["sms", "email"]
    fields.setlist("channel_3", ["sms"])
    assert client.post("/admin/rules", data=fields).status_code == 303
    assert get_rules()["channel_order"] == ["email", "sms"]


def _no_answer_task(client):
    """A post-handling callback (a business ticket gets one), claimed, its first call unanswered."""
    from sqlalchemy import select

    from callbacks.models import CallbackTask

    make_ticket("T-CB", kind="business")
    task = db.session.scalar(select(CallbackTask))
    agent = login(client, "agent")
    post_form(client, f"/callbacks/{task.id}/claim", {}, token_from="/callbacks")
    post_form(client, f"/callbacks/{task.id}/attempts", {"outcome": "no_answer", "notes": ""},
              token_from=f"/callbacks/{task.id}")
    db.session.refresh(task)
    return task, agent


def test_after_no_answer_the_agent_can_still_work_the_task(ctx, client):
    task, _agent = _no_answer_task(client)
    assert task.state == "waiting"
    page = client.get(f"/callbacks/{task.id}").get_data(as_text=True)
    assert "重新回到列表" in page  # says when it comes back
    for action in (f"/callbacks/{task.id}/attempts", f"/callbacks/{task.id}/close", f"/callbacks/{task.id}/release"):
        assert f'action="{action}"' in page, action
    # Calling again and reaching the customer moves on; the task can then be closed.
    post_form(client, f"/callbacks/{task.id}/attempts", {"outcome": "reached", "notes": "接通"},
              token_from=f"/callbacks/{task.id}")
    response = post_form(client, f"/callbacks/{task.id}/close",
                         {"resolution": "resolved", "resolved": "yes", "root_cause": "网络故障已修复"},
                         token_from=f"/callbacks/{task.id}")
    assert response.status_code == 303
    db.session.refresh(task)
    assert task.state == "done"


def test_a_waiting_task_can_be_released(ctx, client):
    task, _agent = _no_answer_task(client)
    response = post_form(client, f"/callbacks/{task.id}/release", {}, token_from=f"/callbacks/{task.id}")
    assert response.status_code == 303
    db.session.refresh(task)
    assert task.owner_id is None and task.state == "open"
    assert f'action="/callbacks/{task.id}/claim"' in client.get(f"/callbacks/{task.id}").get_data(as_text=True)


def test_a_page_view_audits_the_phone_once(ctx, client):
    from sqlalchemy import func, select

    from core.accounts import AuditEvent
    task, _agent = _no_answer_task(client)
    before = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "view_phone"))
    client.get(f"/callbacks/{task.id}")
    after = db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "view_phone"))
    assert after - before == 1


def test_admin_index_leads_to_every_admin_page(ctx, client):
    login(client, "admin")
    page = client.get("/admin/").get_data(as_text=True)
    for href in ('href="/admin/rules"', 'href="/admin/users"', 'href="/admin/api-keys"', 'href="/admin/audit"'):
        assert href in page, href
    assert "规则" in page and "审计日志" in page
