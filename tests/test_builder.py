"""Issue 14, questionnaires: routing rules choose an invitation's questionnaire; a
questionnaire whose questions are named differently still reaches the report through its
`dimension:` mapping; the builder saves drafts (managers) and publishes (admins only),
previews every channel and round-trips through YAML."""
from datetime import date, timedelta

from sqlalchemy import func, select

from core.accounts import AuditEvent
from core.db import db
from reports.figures import compute_report
from surveys.definition import load_yaml
from surveys.models import QuestionnaireRoute, Response
from surveys.services import latest_version, newest_version, set_route
from tests.conftest import login, make_ticket, post_form, sent_invitation
from tests.test_web_survey import answer_page


def _around(day: date) -> tuple[date, date]:
    """The report's local days around a UTC date."""
    return day - timedelta(days=1), day + timedelta(days=1)


def _questionnaire_of(kind: str, external_id: str, **customer) -> str:
    person = {"id": f"C-{external_id}", "name": "李雷", "phone": "+8613800138111", "locale": "zh-CN", **customer}
    invitation = make_ticket(external_id=external_id, kind=kind, customer=person).invitation
    return invitation.version.questionnaire.key


def test_routing_rules_choose_the_questionnaire_most_specific_first(ctx):
    assert _questionnaire_of("complaint", "T-R1") == "telecom-default"  # no rule: the default
    set_route("complaint", "", "complaint-short")
    db.session.commit()
    assert _questionnaire_of("complaint", "T-R2", id="C-R2", phone="+8613800138112") == "complaint-short"
    assert _questionnaire_of("fault", "T-R3", id="C-R3", phone="+8613800138113") == "telecom-default"
    set_route("complaint", "sms", "telecom-default")  # kind and channel beats kind alone
    db.session.commit()
    assert _questionnaire_of("complaint", "T-R4", id="C-R4", phone="+8613800138114") == "telecom-default"


def test_admin_edits_routes_on_a_page_and_each_change_is_audited(ctx, client):
    login(client, "admin")
    page = client.get("/admin/questionnaires/routes").get_data(as_text=True)
    assert "投诉处理回访 (complaint-short)" in page or "Complaint follow-up survey (complaint-short)" in page
    response = post_form(client, "/admin/questionnaires/routes",
                         {"ticket_kind": "complaint", "channel": "", "questionnaire": "complaint-short"})
    assert response.status_code == 303
    route = db.session.scalar(select(QuestionnaireRoute))
    assert (route.ticket_kind, route.channel, route.questionnaire.key) == ("complaint", "", "complaint-short")
    bad = post_form(client, "/admin/questionnaires/routes",
                    {"ticket_kind": "complaint", "channel": "", "questionnaire": "nope"})
    assert bad.status_code == 400 and db.session.scalar(select(func.count()).select_from(QuestionnaireRoute)) == 1
    post_form(client, f"/admin/questionnaires/routes/{route.id}/delete", {}, token_from="/admin/questionnaires/routes")
    assert db.session.scalar(select(func.count()).select_from(QuestionnaireRoute)) == 0
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"questionnaire_route", "questionnaire_route_deleted"} <= actions


def test_differently_named_questions_reach_the_report_through_their_mapping(ctx, client):
    set_route("complaint", "", "complaint-short")
    db.session.commit()
    invitation = sent_invitation(locale="en", id="C-MAP", phone="+447700900771")
    invitation.version_id = latest_version("complaint-short").id
    db.session.commit()
    token = invitation.token
    first = answer_page(client, token, {"complaint_overall": "4", "complaint_fixed": "no"})
    assert first.status_code == 200 and "Would you like someone to call you back?" in first.get_data(as_text=True)
    answer_page(client, token, {"complaint_overall": "4", "complaint_fixed": "no", "call_me": "yes", "offered": "call_me"})
    answer_page(client, token, {"handling_speed": "2", "handler_attitude": "5"})
    db.session.expire_all()
    response = db.session.scalar(select(Response).where(Response.invitation_id == invitation.id))
    assert (response.overall, response.efficiency, response.attitude) == (4, 2, 5)
    assert response.resolved is False and response.wants_callback is True and response.nps is None
    report = compute_report(*_around(response.completed_at.date()))
    assert report["responses"] == 1 and report["csat"]["value"] == 100.0
    assert report["dimensions"]["efficiency"]["mean"] == 2 and report["dimensions"]["attitude"]["mean"] == 5


FORM = {"key": "install-check", "title_zh": "装机回访", "title_en": "Installation survey", "intro_zh": "",
        "intro_en": "", "sms_mode": "conversation",
        "questions-0-position": "20", "questions-0-key": "fixed", "questions-0-type": "yesno",
        "questions-0-page": "1", "questions-0-dimension": "resolved",
        "questions-0-text_zh": "问题解决了吗?", "questions-0-text_en": "Is it working now?",
        "questions-1-position": "10", "questions-1-key": "install_score", "questions-1-type": "rating",
        "questions-1-page": "1", "questions-1-dimension": "overall", "questions-1-required": "y",
        "questions-1-text_zh": "您对装机满意吗?", "questions-1-text_en": "How was the installation?",
        "questions-1-low_zh": "很差", "questions-1-low_en": "awful", "questions-1-high_zh": "很好",
        "questions-1-high_en": "great"}


def test_manager_saves_a_draft_that_no_customer_gets_and_cannot_publish(ctx, client):
    login(client, "manager")
    assert post_form(client, "/questionnaires/build", {**FORM, "publish": "1"}).status_code == 403
    response = post_form(client, "/questionnaires/build", {**FORM, "save": "1"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/questionnaires/install-check/1")
    version = newest_version("install-check")
    assert version.published_at is None and latest_version("install-check") is None
    # reordered by the order numbers, scale ends kept, mapped onto the report's measures
    assert [q["key"] for q in version.definition["questions"]] == ["install_score", "fixed"]
    assert version.definition["questions"][0]["labels"] == {"low": {"zh-CN": "很差", "en": "awful"},
                                                           "high": {"zh-CN": "很好", "en": "great"}}
    page = client.get("/questionnaires/install-check/1?lang=en").get_data(as_text=True)
    assert "Publish this version" not in page and "draft" in page
    refused = post_form(client, "/questionnaires/install-check/1/publish", {}, token_from="/questionnaires/install-check/1")
    assert refused.status_code == 403 and latest_version("install-check") is None


def test_admin_publishes_and_the_preview_shows_every_channel(ctx, client):
    login(client, "admin")
    post_form(client, "/questionnaires/build", {**FORM, "save": "1"})
    preview = client.get("/questionnaires/install-check/1?lang=en").get_data(as_text=True)
    assert 'class="phone"' in preview
    assert "How was the installation? (1 = awful, 5 = great) Reply with a number from 1 to 5." in preview  # SMS
    assert "How was the installation? (1 = awful, 5 = great) Press a number from 1 to 5, then the hash key." in preview
    assert "Is it working now? Press 1 for yes, 2 for no." in preview
    post_form(client, "/questionnaires/install-check/1/publish", {}, token_from="/questionnaires/install-check/1")
    assert latest_version("install-check").number == 1
    exported = client.get("/questionnaires/install-check/1.yaml")
    assert load_yaml(exported.get_data(as_text=True)) == newest_version("install-check").definition


def test_builder_adds_a_row_previews_and_refuses_logic_no_channel_can_honour(ctx, client):
    login(client, "manager")
    more = post_form(client, "/questionnaires/build", {**FORM, "add": "1"}, token_from="/questionnaires/build")
    assert more.status_code == 200 and 'name="questions-2-key"' in more.get_data(as_text=True)
    shown = post_form(client, "/questionnaires/build", {**FORM, "preview": "1"}, token_from="/questionnaires/build")
    assert shown.status_code == 200 and "短信对话" in shown.get_data(as_text=True)  # the SMS preview
    assert newest_version("install-check") is None  # a preview stores nothing
    broken = {**FORM, "questions-1-show_if": "fixed == no", "save": "1"}  # fixed comes later
    refused = post_form(client, "/questionnaires/build", broken, token_from="/questionnaires/build")
    assert refused.status_code == 400
    assert "第 1 题(install_score):show_if 引用的 &#39;fixed&#39; 不是前面的题目" in refused.get_data(as_text=True)
    assert newest_version("install-check") is None


def test_editing_a_shipped_questionnaire_starts_from_its_newest_version(ctx, client):
    login(client, "manager")
    page = client.get("/questionnaires/build?from=complaint-short").get_data(as_text=True)
    assert 'value="complaint_overall"' in page and 'value="any: complaint_overall &lt;= 3; complaint_fixed == no"' in page
    assert client.get("/questionnaires/nope/3").status_code == 404
    assert client.get("/questionnaires/build?from=" + "x" * 5000).status_code == 200
