"""Each channel end to end: Twilio SMS and voice through the real twilio client (recorded),
signed webhooks, e-mail through a real SMTP server, interviewer entry, CSV import, and
provider failures retried with back-off."""
import re
import time
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from callbacks.models import CallbackTask
from channels.models import Message
from channels.services import deliver_due
from core.db import db, utcnow
from surveys.models import Invitation, Response
from tests.channel_fakes import SmtpServer, signed_post
from tests.conftest import login, post_form, sent_invitation


@pytest.fixture
def smtp(app):
    with SmtpServer() as server:
        app.config["SMTP_URL"] = server.url
        yield server
    app.config["SMTP_URL"] = ""


def response_of(invitation):
    db.session.expire_all()
    return db.session.scalar(select(Response).where(Response.invitation_id == invitation.id))


# ---- SMS -------------------------------------------------------------------------------------

def test_sms_invitation_goes_through_twilio_and_status_callbacks_update_it(ctx, client, twilio):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    message = db.session.scalar(select(Message).where(Message.invitation_id == invitation.id))
    assert message.transport == "twilio" and message.state == "queued"
    assert deliver_due() == 1
    request = twilio.requests[-1]
    assert request["method"] == "POST" and request["url"].endswith("/Messages.json")
    assert request["data"]["To"] == "+447700900123" and request["data"]["From"] == "+15005550006"
    assert "How satisfied are you with this service overall?" in request["data"]["Body"]
    assert request["data"]["StatusCallback"] == f"https://huifang.example.com/twilio/status/{message.id}"
    db.session.refresh(message)
    assert message.state == "sent" and message.provider_id.startswith("SM")
    callback = signed_post(client, f"/twilio/status/{message.id}",
                           {"MessageSid": message.provider_id, "MessageStatus": "delivered"})
    assert callback.status_code == 204
    db.session.refresh(message)
    assert message.state == "delivered" and message.delivered_at is not None
    assert deliver_due() == 0 and len(twilio.requests) == 1  # never sent twice


def test_full_sms_conversation_with_an_invalid_answer(ctx, client, twilio):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    replies = []
    for text in ["9", "2", "3", "4", "2", "5", "4", "no", "yes", "The line drops at night"]:
        response = signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": text})
        assert response.status_code == 200 and response.mimetype == "application/xml"
        replies.append(re.search(r"<Message>(.*)</Message>", response.get_data(as_text=True)).group(1))
    assert replies[0].startswith("Please choose a number from 1 to 5.")  # asked again
    assert "staff's service attitude" in replies[1]
    assert "recommend us" in replies[5] and "0 = not at all" in replies[5]
    assert "May we call you back?" in replies[7]  # skip logic: overall 2 <= 3
    assert replies[-1].startswith("Thank you for your feedback!")
    response = response_of(invitation)
    assert response.channel == "sms" and response.completed_at is not None
    assert response.answer_map() == {"overall": 2, "attitude": 3, "efficiency": 4, "stability": 2,
                                     "after_sales": 5, "nps": 4, "resolved": "no", "callback": "yes",
                                     "comment": "The line drops at night"}
    inbound = db.session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))
    assert inbound == 10
    assert db.session.scalar(select(CallbackTask).where(CallbackTask.kind == "detractor")) is not None


def test_twice_invalid_answer_is_skipped(ctx, client, twilio):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "5"})
    signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "great"})
    reply = signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "very great"})
    assert "handled" in reply.get_data(as_text=True)  # moved on to 'efficiency'
    assert "attitude" not in response_of(invitation).answer_map()


def test_stop_opts_out_of_every_channel_and_start_opts_back_in(ctx, client, twilio):
    from tests.conftest import make_ticket
    invitation = sent_invitation(id="C-1", phone="+8613800138000")
    pending = make_ticket("T-later", handled_at=utcnow() + timedelta(minutes=5),
                          customer={"id": "C-1", "email": "c1@example.com"}).invitation
    stop = signed_post(client, "/twilio/sms", {"From": "+8613800138000", "Body": " 退订 "})
    assert stop.status_code == 200
    db.session.expire_all()
    customer = db.session.get(Invitation, invitation.id).customer
    assert customer.opted_out_at is not None and customer.opt_out_source == "sms:退订"
    assert db.session.get(Invitation, pending.id).state == "suppressed"
    assert "您将不再收到我们的调查" in stop.get_data(as_text=True)
    start = signed_post(client, "/twilio/sms", {"From": "+8613800138000", "Body": "start"})
    assert "您将重新收到我们的调查" in start.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).customer.opted_out_at is None
    help_reply = signed_post(client, "/twilio/sms", {"From": "+8613800138000", "Body": "HELP"})
    assert "10000" in help_reply.get_data(as_text=True)


def test_unknown_number_gets_a_polite_answer_and_nothing_is_stored(ctx, client, twilio):
    reply = signed_post(client, "/twilio/sms", {"From": "+8613999999999", "Body": "5"})
    assert reply.status_code == 200 and "10000" in reply.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


@pytest.mark.parametrize("how", ["forged", "missing", "wrong_url"])
def test_forged_webhook_gets_403_and_changes_nothing(ctx, client, twilio, how):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    form = {"From": "+447700900123", "Body": "STOP"}
    if how == "forged":
        response = signed_post(client, "/twilio/sms", form, forge=True)
    elif how == "missing":
        response = client.post("/twilio/sms", data=form)
    else:  # signed for the URL a proxy shows Flask, not the public one Twilio called
        response = signed_post(client, "/twilio/sms", form, base="http://localhost")
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).customer.opted_out_at is None
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 0


def test_webhooks_refuse_everything_without_an_auth_token(ctx, client):
    assert client.post("/twilio/sms", data={"From": "+1", "Body": "x"},
                       headers={"X-Twilio-Signature": "abc"}).status_code == 403


# ---- voice -----------------------------------------------------------------------------------

def test_voice_call_asks_with_say_and_gather_and_stores_keypad_answers(ctx, client, twilio):
    invitation = sent_invitation(channel="voice", locale="zh-CN")
    deliver_due()
    call = twilio.requests[-1]
    assert call["url"].endswith("/Calls.json") and call["data"]["To"] == "+8613800138000"
    start_path = f"/twilio/voice/{invitation.token}/start"
    assert call["data"]["Url"] == "https://huifang.example.com" + start_path
    twiml = signed_post(client, start_path, {"CallSid": "CA1"}).get_data(as_text=True)
    assert '<Say language="cmn-CN">' in twiml and "总体满意度" in twiml
    assert '<Gather action="/twilio/voice/' in twiml and 'numDigits="1"' in twiml and 'input="dtmf"' in twiml
    assert "<Redirect" in twiml  # the fallback after Gather when nothing is pressed
    answer = f"/twilio/voice/{invitation.token}/answer/overall"
    twiml = signed_post(client, answer, {"Digits": "7"}).get_data(as_text=True)  # invalid: asked again
    assert "/answer/overall" in twiml
    twiml = signed_post(client, answer, {}).get_data(as_text=True)  # nothing again: skipped
    assert "/answer/attitude" in twiml
    for key, digits in (("attitude", "4"), ("efficiency", "5"), ("stability", "3"), ("after_sales", "4"),
                        ("nps", "10"), ("resolved", "1")):
        twiml = signed_post(client, f"/twilio/voice/{invitation.token}/answer/{key}", {"Digits": digits}).get_data(as_text=True)
    assert "<Hangup" in twiml  # the free-text comment is skipped on the phone
    response = response_of(invitation)
    assert response.channel == "voice" and response.completed_at is not None
    assert response.answer_map() == {"attitude": 4, "efficiency": 5, "stability": 3, "after_sales": 4,
                                     "nps": 10, "resolved": "yes"}


# ---- e-mail ----------------------------------------------------------------------------------

def test_email_invitation_arrives_and_its_link_answers_the_survey(ctx, client, smtp):
    invitation = sent_invitation(channel="email", locale="en", id="C-MAIL", phone="+447700900777",
                                 email="mail@example.com")
    assert deliver_due() == 1
    mail = smtp.mailbox.messages[-1]
    assert mail["To"] == "mail@example.com" and mail["Subject"] == "Service satisfaction survey"
    assert mail["List-Unsubscribe"].strip() == f"<https://huifang.example.com/u/{invitation.token}>"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    link = re.search(r"https://huifang\.example\.com(/s/[\w-]+)", text).group(1)
    assert link in html and "/u/" in text
    from tests.test_web_survey import answer_page
    token = link.rsplit("/", 1)[1]
    for data in ({"overall": "5"}, {"attitude": "5"}, {"nps": "10", "resolved": "yes"}, {}):
        answer_page(client, token, data)
    response = response_of(invitation)
    assert response.completed_at is not None and response.channel == "email" and response.overall == 5


def test_email_unsubscribe_link_opts_out(ctx, client):
    invitation = sent_invitation(channel="email", locale="zh-CN", email="x@example.com")
    assert "确认退订调查?" in client.get(f"/u/{invitation.token}").get_data(as_text=True)
    assert client.post(f"/u/{invitation.token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).customer.opted_out_at is not None
    assert client.post("/u/not-a-token").status_code == 404


# ---- provider failures -----------------------------------------------------------------------

def test_twilio_outage_keeps_the_message_queued_with_back_off_and_sends_once(ctx, twilio):
    sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    twilio.fail = [500, requests.exceptions.Timeout("read timed out")]
    now = utcnow()
    assert deliver_due(now) == 0
    message = db.session.scalar(select(Message).where(Message.purpose == "invitation"))
    assert message.state == "queued" and message.attempts == 1 and "500" in message.error
    assert message.next_attempt_at == now + timedelta(minutes=1)
    assert deliver_due(now + timedelta(seconds=30)) == 0 and len(twilio.requests) == 1  # backing off
    assert deliver_due(now + timedelta(minutes=1)) == 0
    db.session.refresh(message)
    assert message.attempts == 2 and "Timeout" in message.error
    assert message.next_attempt_at == now + timedelta(minutes=1) + timedelta(minutes=2)
    assert deliver_due(now + timedelta(minutes=3)) == 1
    db.session.refresh(message)
    assert message.state == "sent" and message.error is None and len(twilio.requests) == 3


def test_smtp_refusal_keeps_the_email_queued_and_retries(ctx, smtp):
    sent_invitation(channel="email", locale="en", id="C-MAIL", phone="+447700900777", email="mail@example.com")
    smtp.mailbox.refuse = 1
    now = utcnow()
    assert deliver_due(now) == 0
    message = db.session.scalar(select(Message).where(Message.purpose == "invitation"))
    assert message.state == "queued" and "451" in message.error and smtp.mailbox.messages == []
    assert deliver_due(now + timedelta(minutes=1)) == 1
    assert len(smtp.mailbox.messages) == 1


def test_smtp_server_down_is_retried_not_dropped(app, ctx):
    app.config["SMTP_URL"] = "smtp://127.0.0.1:1"  # nothing listens there
    try:
        sent_invitation(channel="email", locale="en", id="C-MAIL", phone="+447700900777", email="m@example.com")
        deliver_due()
        message = db.session.scalar(select(Message).where(Message.purpose == "invitation"))
        assert message.state == "queued" and "ConnectionRefused" in message.error
    finally:
        app.config["SMTP_URL"] = ""


# ---- outbox and simulator --------------------------------------------------------------------

def test_without_credentials_messages_stay_in_the_outbox_and_the_simulator_answers(ctx, client):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    message = db.session.scalar(select(Message).where(Message.invitation_id == invitation.id))
    assert message.transport == "outbox" and message.state == "sent"
    login(client, "agent")
    outbox = client.get("/outbox").get_data(as_text=True)
    assert "+4477****0123" in outbox and "+447700900123" not in outbox and "调查邀请" in outbox
    url = f"/outbox/{message.id}/simulator"
    post_form(client, url, {"text": "4"})
    page = client.get(url).get_data(as_text=True)
    assert "staff&#39;s service attitude" in page
    assert response_of(invitation).answer_map() == {"overall": 4}



def test_keypad_simulator_answers_a_voice_invitation(ctx, client):
    invitation = sent_invitation(channel="voice", locale="en", id="C-EN", phone="+447700900123")
    message = db.session.scalar(select(Message).where(Message.invitation_id == invitation.id))
    login(client, "agent")
    url = f"/outbox/{message.id}/simulator"
    assert "Press a number from 1 to 5" in client.get(url).get_data(as_text=True)
    post_form(client, url, {"text": "9"})  # invalid: asked again
    post_form(client, url, {"text": "3"})
    assert "staff&#39;s service attitude" in client.get(url).get_data(as_text=True)
    assert response_of(invitation).answer_map() == {"overall": 3}

# ---- interview and CSV -----------------------------------------------------------------------

def test_interviewer_enters_an_offline_interview(ctx, client):
    agent = login(client, "agent")
    form = {"customer": "", "ticket_kind": "fault", "region": "成都", "agent": "A03", "overall": "3",
            "attitude": "4", "efficiency": "2", "stability": "2", "after_sales": "3", "nps": "6",
            "resolved": "no", "callback": "no", "comment": "上门太慢"}
    response = post_form(client, "/interviews/new", form)
    assert response.status_code == 303
    stored = db.session.scalar(select(Response))
    assert stored.channel == "interview" and stored.interviewer_id == agent.id and stored.region == "成都"
    assert stored.answer_map()["comment"] == "上门太慢" and stored.completed_at is not None
    bad = post_form(client, "/interviews/new", {**form, "overall": "9"})
    assert bad.status_code == 400 and db.session.scalar(select(func.count()).select_from(Response)) == 1


CSV_HEADER = "respondent,channel,answered_at,ticket_kind,region,agent,overall,attitude,efficiency,stability,after_sales,nps,resolved,callback,comment\n"


def test_import_responses_csv_good_and_bad_rows(app, ctx, tmp_path):
    path = tmp_path / "responses.csv"
    path.write_text(CSV_HEADER +
                    "R1,web,2026-10-01T10:00:00+08:00,fault,上海,A01,4,5,4,3,4,9,yes,,很好\n"
                    "R2,fax,2026-10-01T11:00:00+08:00,fault,上海,A01,4,5,4,3,4,9,yes,,\n"
                    "R3,sms,2026-10-02T09:00:00Z,complaint,北京,A02,2,,,,,3,no,yes,\"太慢, 不满意\"\n"
                    "R4,voice,2026-10-03,inquiry,北京,A02,6,5,4,3,4,11,maybe,,\n"
                    "R5,interview,not-a-date,business,,,5,,,,,,,,\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-responses", str(path)])
    assert "line 3: channel must be one of" in result.output
    assert "line 5: overall: must be a whole number from 1 to 5; nps: must be a whole number from 0 to 10; resolved: must be yes or no" in result.output
    assert "line 6: answered_at must be an ISO 8601 date-time" in result.output
    assert "imported 2 responses, skipped 3 bad row(s)" in result.output
    rows = {r.respondent: r for r in db.session.scalars(select(Response))}
    assert set(rows) == {"R1", "R3"}
    assert rows["R3"].answer_map() == {"overall": 2, "nps": 3, "resolved": "no", "callback": "yes",
                                       "comment": "太慢, 不满意"}
    assert rows["R3"].completed_at.isoformat() == "2026-10-02T09:00:00"
    assert rows["R1"].completed_at.isoformat() == "2026-10-01T02:00:00"
    assert rows["R1"].satisfaction_index == pytest.approx((100 + 75 + 50 + 75) / 4)
    assert db.session.scalar(select(func.count()).select_from(CallbackTask)) == 0  # history opens no tasks


def test_import_responses_refuses_an_unknown_column(app, ctx, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(CSV_HEADER.strip() + ",overal\nR1,web,2026-10-01T10:00:00Z,,,,4,,,,,,,,,4\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-responses", str(path)])
    assert "unknown column(s): overal" in result.output and result.exit_code != 0
    assert db.session.scalar(select(func.count()).select_from(Response)) == 0


# ---- click-to-call ---------------------------------------------------------------------------

def test_click_to_call_rings_the_agent_then_bridges_to_the_customer(ctx, client, twilio):
    from callbacks.services import claim
    from core.accounts import create_user
    from tests.conftest import make_ticket
    task = make_ticket(kind="complaint").tasks[0]
    agent = create_user("caller@example.com", "Caller", "agent", "correct-horse-1", phone="+8613912345678")
    login(client, "agent", email="caller@example.com")
    refused = post_form(client, f"/callbacks/{task.id}/call", {}, token_from=f"/callbacks/{task.id}")
    assert refused.status_code == 303 and twilio.requests == []  # not claimed: no call
    claim(task.id, agent.id)
    page = client.get(f"/callbacks/{task.id}?lang=en").get_data(as_text=True)
    assert "Call via Twilio" in page
    post_form(client, f"/callbacks/{task.id}/call", {}, token_from=f"/callbacks/{task.id}")
    call = twilio.requests[-1]
    assert call["url"].endswith("/Calls.json") and call["data"]["To"] == "+8613912345678"
    assert call["data"]["Url"] == f"https://huifang.example.com/twilio/bridge/{task.id}"
    bridge = signed_post(client, f"/twilio/bridge/{task.id}", {"CallSid": "CA1"}).get_data(as_text=True)
    assert "<Dial" in bridge and "+8613800138000</Number></Dial>" in bridge and 'callerId="+15005550006"' in bridge
    assert "本次通话将被录音" in bridge and f"/twilio/recording-notice/{task.id}" in bridge  # a complaint: recorded
    assert signed_post(client, f"/twilio/bridge/{task.id}", {}, forge=True).status_code == 403


def test_a_keypad_answer_delivered_twice_at_once_stores_one_response(ctx, app, twilio):
    """Twilio retries a webhook that seemed slow: the retry and the first delivery wait on the
    invitation's lock together, and the second must see the response the first created."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine, text

    from core.db import is_postgres

    invitation = sent_invitation(channel="voice")
    token, url = invitation.token, str(db.engine.url.render_as_string(hide_password=False))
    db.session.commit()
    holder = create_engine(url).connect()  # holds the row while both deliveries queue behind it
    holder.execute(text("SELECT id FROM invitations WHERE token = :t FOR UPDATE" if is_postgres()
                        else "UPDATE invitations SET state = state WHERE token = :t"), {"t": token})
    arrived = threading.Barrier(3)

    def deliver() -> int:
        arrived.wait(timeout=60)
        return signed_post(app.test_client(), f"/twilio/voice/{token}/answer/overall", {"Digits": "2"}).status_code

    with ThreadPoolExecutor(2) as pool:
        results = [pool.submit(deliver) for _ in range(2)]
        arrived.wait(timeout=60)
        # (pg_stat_activity is read once per transaction: the snapshot is cleared each time)
        waiting = ("SELECT count(*) FROM pg_stat_activity, pg_stat_clear_snapshot() "
                   "WHERE wait_event_type = 'Lock' AND datname = current_database()")
        deadline = time.monotonic() + 120
        while is_postgres() and holder.execute(text(waiting)).scalar() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        holder.rollback()
        holder.close()
        assert [r.result(timeout=120) for r in results] == [200, 200]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Response)) == 1
    assert db.session.scalar(select(Invitation.state).where(Invitation.token == token)) == "started"
