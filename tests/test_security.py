"""Hostile input shown back to staff is escaped everywhere; personal data is masked and
expires by the retention rule; answers commit atomically."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callbacks.models import CallbackTask
from core.accounts import AuditEvent
from core.db import db, utcnow
from core.settings import save_rules
from surveys.models import Answer, Response
from tests.conftest import login, sent_invitation
from tests.test_web_survey import answer_page

HOSTILE = [
    "<script>alert('x')</script><img src=x onerror=alert(1)>",
    "'; DROP TABLE responses; -- \" OR 1=1",
    "很好 👍🏽 " + "长" * 1990,
    "\u202eالخدمة ممتازة\u202c شكرا",
]


@pytest.mark.parametrize("comment", HOSTILE)
def test_hostile_comment_is_stored_as_is_and_escaped_on_every_page(ctx, client, app, comment):
    invitation = sent_invitation()
    for data in ({"overall": "1"}, {}, {"nps": "0", "resolved": "no", "callback": "yes"}, {"comment": comment}):
        assert answer_page(client, invitation.token, data).status_code == 302
    response = db.session.scalar(select(Response))
    assert response.answer_map()["comment"] == comment.strip()
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1  # the DROP did nothing
    task = db.session.scalar(select(CallbackTask).where(CallbackTask.kind == "detractor"))
    staff = app.test_client()
    login(staff, "admin")
    for url in (f"/callbacks/{task.id}", f"/dashboard?date_from={(utcnow() - timedelta(days=1)).date()}"
                                          f"&date_to={(utcnow() + timedelta(days=1)).date()}"):
        page = staff.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
        if comment.startswith("<script>") and "callbacks" in url:
            assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page


def test_too_long_comment_is_refused_with_a_message(ctx, client):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    for data in ({"overall": "4"}, {}, {"resolved": "yes"}):
        answer_page(client, invitation.token, data)
    response = answer_page(client, invitation.token, {"comment": "x" * 2001})
    assert response.status_code == 400 and "Please keep it under 2000 characters." in response.get_data(as_text=True)
    assert db.session.scalar(select(Answer).where(Answer.question_key == "comment")) is None


def test_retention_anonymises_old_responses_but_keeps_figures(app, ctx, client):
    invitation = sent_invitation()
    for data in ({"overall": "2"}, {"attitude": "3"}, {"nps": "4", "resolved": "yes"}, {"comment": "王芳 13800138000"}):
        answer_page(client, invitation.token, data)
    response = db.session.scalar(select(Response))
    response.completed_at = utcnow() - timedelta(days=400)
    db.session.commit()
    assert app.test_cli_runner().invoke(args=["anonymise"]).output.strip() == "anonymised 0 response(s)"
    save_rules({"retention_months": 12})
    db.session.commit()
    assert "anonymised 1 response(s)" in app.test_cli_runner().invoke(args=["anonymise"]).output
    db.session.expire_all()
    response = db.session.scalar(select(Response))
    assert response.respondent == "" and response.customer_id is None and response.anonymized_at is not None
    assert "comment" not in response.answer_map() and response.answer_map()["overall"] == 2
    assert (response.overall, response.nps, response.satisfaction_index) == (2, 4, 50.0)
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "anonymise_responses")).details["count"] == 1


def test_full_phone_number_only_on_the_task_being_worked(ctx, client):
    from callbacks.services import claim
    from tests.conftest import make_ticket
    task = make_ticket(kind="complaint").tasks[0]
    agent = login(client, "agent")
    assert "+8613800138000" not in client.get(f"/callbacks/{task.id}").get_data(as_text=True)
    claim(task.id, agent.id)
    page = client.get(f"/callbacks/{task.id}").get_data(as_text=True)
    assert 'href="tel:+8613800138000"' in page
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "view_phone")).target == f"task:{task.id}"


def test_rules_page_validates_and_audits(ctx, client):
    from tests.conftest import post_form
    login(client, "admin")
    page = client.get("/admin/rules").get_data(as_text=True)
    form = {m[0]: m[1] for m in __import__("re").findall(r'name="(\w+)" [^>]*value="([^"]*)"', page)}
    form.update({"quiet_hours_start": "9", "quiet_hours_end": "8", "holidays": "2026-10-01\nnot-a-date",
                 "channel_1": "sms", "channel_2": "email", "channel_3": "", "survey_kinds": ["business", "fault"], "callback_kinds": ["business"]})
    bad = post_form(client, "/admin/rules", form)
    assert bad.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "change_rules")) == 0
    form.update({"quiet_hours_end": "20", "holidays": "2026-10-01"})
    assert post_form(client, "/admin/rules", form).status_code == 303
    from core.settings import get_rules
    rules = get_rules()
    assert rules["quiet_hours_start"] == 9 and rules["holidays"] == ["2026-10-01"]
    assert rules["survey_kinds"] == ["business", "fault"]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "change_rules"))
    assert event.details["changes"]["quiet_hours_start"] == [8, 9]
