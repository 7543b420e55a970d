"""POST /api/v1/tickets and import-tickets: the operator's systems report handled tickets."""
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from callbacks.models import CallbackTask
from core.accounts import issue_api_key
from core.db import db, utcnow
from surveys.models import Invitation
from tickets.models import Customer, Ticket

AUTH = {"Authorization": "Bearer test-api-key"}


def ticket_body(**overrides):
    body = {"external_id": "WO-20261125-001", "kind": "business",
            "handled_at": (utcnow() - timedelta(hours=1)).isoformat() + "Z",
            "customer": {"id": "C-42", "name": "李雷", "phone": "+8613912345678",
                         "email": "lilei@example.cn", "locale": "zh-CN"},
            "category": "套餐变更", "region": "北京", "agent": "A01", "channel": "10000"}
    body.update(overrides)
    return body


def count(model):
    return db.session.scalar(select(func.count()).select_from(model))


def test_good_ticket_is_stored_and_answers_what_was_scheduled(ctx, client):
    response = client.post("/api/v1/tickets", json=ticket_body(), headers=AUTH)
    assert response.status_code == 201
    data = response.get_json()
    assert data["created"] is True
    assert data["invitation"]["state"] == "scheduled" and data["invitation"]["channel"] == "sms"
    assert [t["kind"] for t in data["callback_tasks"]] == ["post_handling"]
    ticket = db.session.scalar(select(Ticket))
    assert ticket.external_id == "WO-20261125-001" and ticket.region == "北京"
    assert db.session.scalar(select(Customer)).phone == "+8613912345678"
    task = db.session.scalar(select(CallbackTask))
    assert task.due_at == ticket.handled_at + timedelta(hours=48)


def test_repeat_is_idempotent(ctx, client):
    first = client.post("/api/v1/tickets", json=ticket_body(), headers=AUTH)
    again = client.post("/api/v1/tickets", json=ticket_body(kind="complaint"), headers=AUTH)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json()["created"] is False
    assert again.get_json()["invitation"]["id"] == first.get_json()["invitation"]["id"]
    assert count(Ticket) == 1 and count(Invitation) == 1 and count(CallbackTask) == 1


def test_the_same_ticket_and_a_new_customers_tickets_sent_at_once_are_stored_once(ctx, live_server):
    """Operators' systems retry and run in parallel: six copies of one ticket at once store it
    once and all answer with it; six tickets of one new customer at once store one customer."""
    import requests

    def post(body):
        return requests.post(f"{live_server}/api/v1/tickets", json=body, headers=AUTH, timeout=60)

    with ThreadPoolExecutor(6) as pool:
        same = list(pool.map(post, [ticket_body()] * 6))
        new_customer = {"id": "C-NEW", "name": "韩梅梅", "phone": "+8613912345679", "locale": "zh-CN"}
        several = list(pool.map(post, [ticket_body(external_id=f"WO-NEW-{i}", customer=new_customer)
                                       for i in range(6)]))
    assert sorted(r.status_code for r in same) == [200] * 5 + [201], [r.text for r in same]
    assert len({r.json()["ticket"]["id"] for r in same}) == 1
    assert len({json.dumps(r.json()["invitation"], sort_keys=True) for r in same}) == 1
    assert [r.status_code for r in several] == [201] * 6, [r.text for r in several]
    db.session.expire_all()
    assert count(Ticket) == 7 and count(Customer) == 2
    assert db.session.scalar(select(func.count()).select_from(Customer).where(Customer.external_id == "C-NEW")) == 1


@pytest.mark.parametrize("overrides, field", [
    ({"external_id": ""}, "external_id"),
    ({"kind": "praise"}, "kind"),
    ({"handled_at": "yesterday"}, "handled_at"),
    ({"handled_at": (datetime.now() + timedelta(days=2)).isoformat()}, "handled_at"),
    ({"customer": {"id": "C-1", "phone": "13800138000"}}, "customer.phone"),
    ({"customer": {"id": "C-1", "email": "not-an-email"}}, "customer.email"),
    ({"customer": {"id": "C-1", "locale": "fr"}}, "customer.locale"),
    ({"customer": "C-1"}, "customer"),
    ({"region": "x" * 65}, "region"),
])
def test_malformed_ticket_gets_field_errors_and_changes_nothing(ctx, client, overrides, field):
    response = client.post("/api/v1/tickets", json=ticket_body(**overrides), headers=AUTH)
    assert response.status_code == 400
    assert field in response.get_json()["errors"]
    assert count(Ticket) == 0 and count(Customer) == 0 and count(Invitation) == 0


def test_not_json_is_a_400(ctx, client):
    response = client.post("/api/v1/tickets", data="external_id=1", headers=AUTH)
    assert response.status_code == 400 and "errors" in response.get_json()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"},
                                     {"Authorization": "Basic dGVzdC1hcGkta2V5"},
                                     {"Authorization": "Bearer "}])
def test_unauthorised_requests_get_401(ctx, client, headers):
    response = client.post("/api/v1/tickets", json=ticket_body(), headers=headers)
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(Ticket) == 0


def test_admin_created_keys_work_until_revoked(ctx, client):
    key, secret = issue_api_key("CRM")
    assert client.post("/api/v1/tickets", json=ticket_body(),
                       headers={"Authorization": f"Bearer {secret}"}).status_code == 201
    key.revoked_at = utcnow()
    db.session.commit()
    assert client.post("/api/v1/tickets", json=ticket_body(external_id="WO-2"),
                       headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_complaint_gets_three_staged_tasks(ctx, client):
    handled = datetime(2026, 11, 24, 2, 0)  # Tuesday 10:00 Beijing
    body = ticket_body(kind="complaint", handled_at=handled.isoformat() + "Z")
    data = client.post("/api/v1/tickets", json=body, headers=AUTH).get_json()
    due = {t["kind"]: t["due_at"] for t in data["callback_tasks"]}
    assert due == {"complaint_accept": "2026-11-25T02:00:00Z",
                   "complaint_investigate": "2026-11-27T02:00:00Z",
                   "complaint_feedback": "2026-11-27T02:00:00Z"}  # Tue + 3 working days = Fri


def test_import_tickets_csv_reports_bad_rows_by_line_and_imports_the_rest(app, ctx, tmp_path):
    handled = (utcnow() - timedelta(hours=5)).isoformat()
    path = tmp_path / "tickets.csv"
    path.write_text(
        "external_id,kind,handled_at,customer_id,customer_name,phone,email,locale,category,region,agent,channel\n"
        f"T1,fault,{handled},C1,张三,+8613800000001,,zh-CN,宽带断网,上海,A02,APP\n"
        f"T2,praise,{handled},C2,李四,+8613800000002,,zh-CN,,,,\n"
        f"T3,inquiry,{handled},C3,Ann,+447700900001,ann@example.com,en,,London,,\n"
        f"T4,fault,not-a-date,C4,王五,+8613800000004,,zh-CN,,,,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-tickets", str(path)])
    assert "line 3: kind must be one of" in result.output
    assert "line 5: handled_at" in result.output
    assert "imported 2 tickets, skipped 2 bad row(s)" in result.output
    assert sorted(db.session.scalars(select(Ticket.external_id))) == ["T1", "T3"]


def test_import_tickets_refuses_an_unknown_column(app, ctx, tmp_path):
    path = tmp_path / "tickets.csv"
    path.write_text("external_id,kind,handled_at,customer_id,phon\nT1,fault,2026-11-01T10:00:00Z,C1,+8613800000001\n",
                    encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-tickets", str(path)])
    assert "line 1: unknown column(s): phon" in result.output and result.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0


def test_a_lone_surrogate_in_a_batch_is_stored_as_the_replacement_character(ctx, client):
    item = json.dumps(ticket_body(region="上海"))  # ASCII with \u escapes; the second one made lone
    raw = '{"tickets": [' + item.replace("\\u6d77", "\\ud800") + "]}"
    assert "\\ud800" in raw
    response = client.post("/api/v1/tickets/batch", data=raw, content_type="application/json", headers=AUTH)
    assert response.status_code == 200 and response.get_json()["created"] == 1
    assert db.session.scalar(select(Ticket.region)) == "上\ufffd"
