"""The web survey at /s/<token>: pages, languages, resume, validation, one response."""
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from callbacks.models import CallbackTask
from core.db import db, utcnow
from surveys.models import Answer, Invitation, Response
from tests.conftest import csrf_token, sent_invitation


def hidden_fields(client, url: str) -> dict[str, str]:
    """The hidden fields of the survey page at `url` that a browser sends with the answers: its
    CSRF value, its number, its questionnaire version (not the `offered` marks, which the
    page's script enables as it reveals a question)."""
    page = client.get(url).get_data(as_text=True)
    found = {name: value for pattern in (r'<input[^>]*?name="([^"]+)" type="hidden" value="([^"]*)"',
                                         r'<input[^>]*?type="hidden" name="([^"]+)" value="([^"]*)"')
             for name, value in re.findall(pattern, page) if name != "offered"}
    assert {"csrf_token", "page"} <= found.keys(), f"no survey form on {url}"
    return found


def answer_page(client, token, data, page=None):
    url = f"/s/{token}" + (f"?page={page}" if page else "")
    return client.post(f"/s/{token}", data={**hidden_fields(client, url), **data})


def stored_response(invitation_id):
    db.session.expire_all()
    return db.session.scalar(select(Response).where(Response.invitation_id == invitation_id))


def test_renders_in_the_customers_language_with_a_switch(ctx, client):
    invitation = sent_invitation(locale="zh-CN")
    page = client.get(f"/s/{invitation.token}").get_data(as_text=True)
    assert "您对本次服务的总体满意度如何" in page and 'lang="zh-CN"' in page
    english = client.get(f"/s/{invitation.token}?lang=en").get_data(as_text=True)
    assert "How satisfied are you with this service overall?" in english
    # The choice sticks for the next pages of this survey.
    assert "How satisfied" in client.get(f"/s/{invitation.token}").get_data(as_text=True)


def test_english_customer_sees_english(ctx, client):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    page = client.get(f"/s/{invitation.token}").get_data(as_text=True)
    assert "Service satisfaction survey" in page and "Page 1 of 4" in page


def test_full_answer_stores_one_complete_response_with_figures(ctx, client):
    invitation = sent_invitation()
    token = invitation.token
    assert answer_page(client, token, {"overall": "4"}).status_code == 302
    assert answer_page(client, token, {"attitude": "5", "efficiency": "3", "stability": "4",
                                       "after_sales": "4"}).status_code == 302
    assert answer_page(client, token, {"nps": "9", "resolved": "yes"}).status_code == 302
    done = answer_page(client, token, {"comment": "师傅很专业 👍"})
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/s/{token}/thanks")
    assert "感谢您的反馈!" in client.get(f"/s/{token}/thanks").get_data(as_text=True)
    response = stored_response(invitation.id)
    assert response.completed_at is not None and response.channel == "sms"
    assert response.answer_map() == {"overall": 4, "attitude": 5, "efficiency": 3, "stability": 4,
                                     "after_sales": 4, "nps": 9, "resolved": "yes", "comment": "师傅很专业 👍"}
    # SI: mean of item indexes (100, 50, 75, 75) = 75
    assert response.satisfaction_index == 75.0 and response.overall == 4 and response.nps == 9
    assert db.session.get(Invitation, invitation.id).state == "completed"
    assert response.version_id == invitation.version_id


def test_partial_answers_are_kept_and_the_survey_resumes(ctx, client, app):
    invitation = sent_invitation()
    answer_page(client, invitation.token, {"overall": "2"})
    # A new browser (no session) opens the same link later: it resumes at page 2.
    later = app.test_client().get(f"/s/{invitation.token}").get_data(as_text=True)
    assert "第 2 页,共 4 页" in later
    assert 'name="attitude"' in later
    response = stored_response(invitation.id)
    assert response.completed_at is None and response.answer_map() == {"overall": 2}
    assert db.session.get(Invitation, invitation.id).state == "started"
    # Going back shows the saved answer checked.
    back = app.test_client().get(f"/s/{invitation.token}?page=1").get_data(as_text=True)
    assert '<input checked id="overall-1" name="overall" type="radio" value="2">' in back


def test_second_submit_of_a_used_token_stores_nothing(ctx, client):
    invitation = sent_invitation()
    token = invitation.token
    answer_page(client, token, {"overall": "5"})
    answer_page(client, token, {"attitude": "5"})
    answer_page(client, token, {"nps": "10", "resolved": "yes"})
    answer_page(client, token, {})
    assert stored_response(invitation.id).completed_at is not None
    answers_before = db.session.scalar(select(func.count()).select_from(Answer))
    again = client.post(f"/s/{token}", data={"overall": "1", "page": "1",
                                             "csrf_token": csrf_token(client, "/login")})
    assert again.status_code == 410
    assert "谢谢,您已经作答过了" in again.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Answer)) == answers_before
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1
    assert stored_response(invitation.id).overall == 5


def test_unknown_and_forged_tokens_get_404(ctx, client):
    invitation = sent_invitation()
    for token in ("nope", invitation.token[:-1] + ("A" if invitation.token[-1] != "A" else "B"),
                  "x" * 500, "'; DROP TABLE responses; --"):
        response = client.get(f"/s/{token}")
        assert response.status_code == 404
        assert "Traceback" not in response.get_data(as_text=True)


def test_expired_token_gets_410_and_stores_nothing(ctx, client):
    invitation = sent_invitation()
    token = csrf_token(client, f"/s/{invitation.token}")
    db.session.execute(update(Invitation).where(Invitation.id == invitation.id)
                       .values(expires_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    assert client.get(f"/s/{invitation.token}").status_code == 410
    posted = client.post(f"/s/{invitation.token}", data={"overall": "3", "page": "1", "csrf_token": token})
    assert posted.status_code == 410
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_invalid_values_are_rejected_next_to_the_field_and_nothing_is_stored(ctx, client):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    missing = answer_page(client, invitation.token, {}, page=1)
    assert missing.status_code == 400
    assert "Please answer this question." in missing.get_data(as_text=True)
    out_of_range = answer_page(client, invitation.token, {"overall": "7"}, page=1)
    body = out_of_range.get_data(as_text=True)
    assert out_of_range.status_code == 400 and "Please choose a number from 1 to 5." in body
    assert 'class="question has-error" id="q-overall"' in body
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0
    no_csrf = client.post(f"/s/{invitation.token}", data={"overall": "3", "page": "1"})
    assert no_csrf.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


def test_a_page_with_a_mistake_comes_back_as_sent_and_a_page_sent_again_keeps_what_it_leaves_out(ctx, client):
    """A submit is checked without building the form (surveys.forms.PageAnswers): the page that
    comes back shows what was sent and the message next to it, and a field left out of a page
    sent again keeps its saved answer, as the form prefilled with it always did."""
    invitation = sent_invitation()
    token = invitation.token
    answer_page(client, token, {"overall": "2"})
    answer_page(client, token, {"attitude": "4", "efficiency": "3"})
    rejected = answer_page(client, token, {"attitude": "5", "efficiency": "9"}, page=2)
    body = rejected.get_data(as_text=True)
    assert rejected.status_code == 400 and "请选择 1 到 5 之间的数字。" in body
    assert '<input checked id="attitude-4" name="attitude" type="radio" value="5">' in body
    assert 'class="question has-error" id="q-efficiency"' in body and 'id="q-attitude"' in body
    assert 'class="question has-error" id="q-attitude"' not in body
    assert stored_response(invitation.id).answer_map() == {"overall": 2, "attitude": 4, "efficiency": 3}
    assert answer_page(client, token, {"efficiency": "1"}, page=2).status_code == 302
    assert stored_response(invitation.id).answer_map() == {"overall": 2, "attitude": 4, "efficiency": 1}


def test_a_nul_anywhere_in_the_url_is_a_400(ctx, client):
    token = sent_invitation().token
    for url in (f"/s/{token}?lang=%00", f"/s/{token}?%00=1", f"/s/{token}?page=1%00", f"/s/%00{token}",
                f"/s/{token}/thanks?lang=%00", "/login?next=%00"):
        assert client.get(url).status_code == 400, url
    assert client.get(f"/s/{token}?lang=en&page=1").status_code == 200


def test_skipping_ahead_is_not_possible(ctx, client):
    invitation = sent_invitation()
    response = answer_page(client, invitation.token, {"nps": "3", "resolved": "no"}, page=3)
    assert response.status_code == 400  # page 1 is served instead: 'overall' is missing
    assert stored_response(invitation.id) is None


def test_skip_logic_hides_callback_for_happy_customers_and_drops_stale_answers(ctx, client):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    token = invitation.token
    answer_page(client, token, {"overall": "2"})
    answer_page(client, token, {"attitude": "2"})
    page3 = client.get(f"/s/{token}").get_data(as_text=True)
    assert "May we call you back?" in page3
    answer_page(client, token, {"nps": "5", "resolved": "no", "callback": "yes"})
    # The customer goes back and changes their mind: now happy, so 'callback' no longer applies.
    answer_page(client, token, {"overall": "5"}, page=1)
    answer_page(client, token, {"attitude": "5"}, page=2)
    answer_page(client, token, {"nps": "9", "resolved": "yes"}, page=3)
    answer_page(client, token, {"comment": ""}, page=4)
    response = stored_response(invitation.id)
    assert response.completed_at is not None
    assert "callback" not in response.answer_map() and response.wants_callback is None


def test_low_score_opens_a_follow_up_callback_due_in_24h(ctx, client):
    invitation = sent_invitation()
    token = invitation.token
    answer_page(client, token, {"overall": "1"})
    answer_page(client, token, {})
    answer_page(client, token, {"nps": "2", "resolved": "no", "callback": "yes"})
    answer_page(client, token, {})
    task = db.session.scalar(select(CallbackTask).where(CallbackTask.kind == "detractor"))
    response = stored_response(invitation.id)
    assert task is not None and task.response_id == response.id
    assert abs((task.due_at - response.completed_at) - timedelta(hours=24)) < timedelta(seconds=1)


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"


def test_survey_pages_set_no_session_cookie(ctx, client):
    """The token is the capability: answering keeps no server session in the browser."""
    invitation = sent_invitation()
    token = invitation.token
    first = client.get(f"/s/{token}")
    assert first.status_code == 200 and "Set-Cookie" not in first.headers
    posted = answer_page(client, token, {"overall": "4"})
    assert posted.status_code == 302 and "Set-Cookie" not in posted.headers
    resumed = client.get(posted.headers["Location"])
    assert "第 2 页,共 4 页" in resumed.get_data(as_text=True) and "Set-Cookie" not in resumed.headers
    # Switching language sets only the language, for this survey's paths.
    english = client.get(f"/s/{token}?lang=en")
    assert english.headers.getlist("Set-Cookie") == [f"survey_lang=en; HttpOnly; Path=/s/{token}; SameSite=Lax"]
    assert client.get_cookie("session") is None
    assert client.get_cookie("survey_lang", path=f"/s/{token}").value == "en"


def test_forged_or_missing_csrf_on_a_survey_post_is_refused_and_stores_nothing(ctx, client):
    invitation = sent_invitation()
    other = sent_invitation(id="C-2", phone="+8613800138001")
    page_one_value = csrf_token(client, f"/s/{invitation.token}")
    forged = [{},  # missing
              {"csrf_token": "0" * 64},  # made up
              {"csrf_token": csrf_token(client, f"/s/{other.token}")},  # another invitation's page
              {"csrf_token": csrf_token(client, "/login")}]  # a staff session's token
    for extra in forged:
        refused = client.post(f"/s/{invitation.token}", data={"overall": "3", "page": "1", **extra})
        assert refused.status_code == 400
        assert "表单已过期,请返回并刷新页面后重试。" in refused.get_data(as_text=True)
    # page 1's value does not answer page 2
    assert client.post(f"/s/{invitation.token}", data={"attitude": "5", "page": "2",
                                                        "csrf_token": page_one_value}).status_code == 400
    assert stored_response(invitation.id) is None
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 0
    assert db.session.get(Invitation, invitation.id).state == "sent"
    # the page's own value is accepted
    assert answer_page(client, invitation.token, {"overall": "3"}).status_code == 302
    assert stored_response(invitation.id).answer_map() == {"overall": 3}


def _stored_rows(invitation) -> dict:
    """What answering stored for `invitation`, without what differs between invitations (ids,
    the customer and ticket, the moments)."""
    db.session.expire_all()
    response = stored_response(invitation.id)
    row = {c.key: getattr(response, c.key) for c in Response.__table__.columns}
    assert (row.pop("customer_id"), row.pop("ticket_id"), row.pop("invitation_id")) == (
        invitation.customer_id, invitation.ticket_id, invitation.id)
    assert row.pop("respondent") == invitation.customer.external_id and row.pop("started_at")
    for moment in ("id", "completed_at", "feed_seq"):
        row.pop(moment)
    answers = sorted((a.question_key, a.value_num, a.value_text) for a in response.answers)
    return {"response": row, "answers": answers, "state": db.session.get(Invitation, invitation.id).state}


def test_the_web_surveys_core_statements_store_the_rows_the_orm_stores(ctx):
    """surveys/answering.py writes a page in Core statements; the channels (SMS, voice) and the
    interview keep the ORM's response_for / save_answers. The same answers store the same rows."""
    from surveys.answering import answering, store_page
    from surveys.answering import stored_response as core_response
    from surveys.services import (
        complete_response,
        invitation_for_answering,
        response_for,
        save_answers,
    )

    pages = [(1, {"overall": 2}), (2, {"attitude": 3, "efficiency": None}),
             (3, {"nps": 9, "resolved": "no", "callback": "yes"}), (1, {"overall": 5}),  # changed
             (3, {"nps": 9, "resolved": "yes", "callback": None}), (4, {"comment": "信号 ok"})]  # removed
    from tickets.models import Ticket

    through_orm = sent_invitation()
    through_core = sent_invitation(id="C-2", phone="+8613800138001")
    db.session.execute(update(Ticket).where(Ticket.id.in_([through_orm.ticket_id, through_core.ticket_id]))
                       .values(region="华东", agent="A-7"))  # copied into the response
    db.session.commit()
    for page, values in pages:
        invitation = invitation_for_answering(through_orm.token)
        response = response_for(invitation)
        save_answers(response, values)
        response.progress = max(response.progress or 0, page)
        db.session.commit()
        found = answering(through_core.token, lock=True)
        store_page(found, values, page)
        db.session.commit()
        assert _stored_rows(through_core) == _stored_rows(through_orm)
    complete_response(stored_response(through_orm.id))
    complete_response(core_response(answering(through_core.token, lock=True)))
    done = _stored_rows(through_core)
    assert done == _stored_rows(through_orm) and done["state"] == "completed"
    assert done["response"]["overall"] == 5 and done["response"]["resolved"] is True


def test_two_submits_of_one_page_at_once_store_one_response(ctx, app, client):
    """A double click: both requests answer (the second after the first, behind the
    invitation's row lock), one response and one answer are stored, the second's value last."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    token = sent_invitation().token
    value = csrf_token(client, f"/s/{token}")
    db.session.rollback()  # the test's own transaction holds SQLite's write lock
    together = threading.Barrier(2)

    def submit(overall: str) -> int:
        together.wait(timeout=30)
        return app.test_client().post(f"/s/{token}", data={"csrf_token": value, "page": "1",
                                                           "overall": overall}).status_code

    with ThreadPoolExecutor(2) as pool:
        assert list(pool.map(submit, ["2", "4"])) == [302, 302]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1
    assert db.session.scalar(select(func.count()).select_from(Answer)) == 1
    assert db.session.scalar(select(Invitation.state).where(Invitation.token == token)) == "started"
