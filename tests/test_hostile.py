"""Hostile input on the channels and the interview form: replayed SMS webhooks, opt-out
however it is typed, control characters, and the outbox simulator beside real providers."""
import re

import pytest
from sqlalchemy import func, select

from channels.models import Message
from core.accounts import AuditEvent
from core.db import db
from surveys.models import Invitation, Response
from tests.channel_fakes import signed_post
from tests.conftest import login, post_form, sent_invitation
from tests.test_channels import response_of

SID = "SM" + "0123456789abcdef" * 2


def inbound() -> int:
    return db.session.scalar(select(func.count()).select_from(Message).where(Message.direction == "in"))


def test_a_replayed_sms_webhook_is_handled_once(ctx, client, twilio):  # noqa: F811
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    first = signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "4", "MessageSid": SID})
    assert "staff's service attitude" in first.get_data(as_text=True)
    # The same signed request again (a replay, or Twilio retrying): 200, empty TwiML, nothing changes.
    replay = signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "4", "MessageSid": SID})
    assert replay.status_code == 200 and "<Message>" not in replay.get_data(as_text=True)
    assert response_of(invitation).answer_map() == {"overall": 4} and inbound() == 1
    # The next real message (a new MessageSid) answers the next question.
    signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "5", "MessageSid": SID[:-1] + "0"})
    assert response_of(invitation).answer_map() == {"overall": 4, "attitude": 5} and inbound() == 2
    bad = signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "5", "MessageSid": "SM'--"})
    assert bad.status_code == 400 and inbound() == 2


def test_a_concurrent_replay_loses_on_the_unique_message_sid(ctx, client, twilio, monkeypatch):  # noqa: F811
    from channels import services

    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "4", "MessageSid": SID})
    # As if the replay had checked before the first request committed: the index refuses it.
    monkeypatch.setattr(services, "inbound_seen", lambda sid: False)
    replay = signed_post(client, "/twilio/sms", {"From": "+447700900123", "Body": "2", "MessageSid": SID})
    assert replay.status_code == 200 and "<Message>" not in replay.get_data(as_text=True)
    assert response_of(invitation).answer_map() == {"overall": 4} and inbound() == 1


@pytest.mark.parametrize("body", ["STOP.", "stop!", "Ｓｔｏｐ", "退订。", " Stop all ", "TD", "opt-out"])
def test_opt_out_however_it_is_typed(ctx, client, twilio, body):  # noqa: F811
    invitation = sent_invitation(id="C-1", phone="+8613800138000")
    reply = signed_post(client, "/twilio/sms", {"From": "+8613800138000", "Body": body})
    assert "您将不再收到我们的调查" in reply.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).customer.opted_out_at is not None
    assert response_of(invitation) is None  # not taken as an answer


def test_interview_drops_control_characters_and_audits_the_response(ctx, client):
    login(client, "agent")
    form = {"customer": "", "ticket_kind": "fault", "region": "成都\x07\t\r\n区", "agent": "A\x1b[31m03\x00",
            "overall": "3", "attitude": "4", "efficiency": "2", "stability": "2", "after_sales": "3",
            "nps": "6", "resolved": "no", "callback": "no", "comment": "上门\x08太慢\x1f"}
    assert post_form(client, "/interviews/new", form).status_code == 303
    stored = db.session.scalar(select(Response))
    assert (stored.region, stored.agent, stored.answer_map()["comment"]) == ("成都 区", "A [31m03", "上门太慢")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "interview"))
    assert event.target == f"response:{stored.id}"


@pytest.mark.parametrize("setting", [{"TWILIO_ACCOUNT_SID": "AC" + "0" * 32}, {"SMTP_URL": "smtp://mail:25"},
                                     {"HUIFANG_ENV": "production"}])
def test_the_outbox_simulator_is_off_beside_real_providers_and_in_production(app, ctx, client, setting):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    message = db.session.scalar(select(Message).where(Message.invitation_id == invitation.id))
    login(client, "agent")
    url = f"/outbox/{message.id}/simulator"
    assert "simulator" in client.get(f"/outbox/{message.id}").get_data(as_text=True)  # try-out: on
    saved = {name: app.config[name] for name in setting}
    app.config.update(setting)
    try:
        assert client.get(url).status_code == 404
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/outbox").get_data(as_text=True))
        refused = client.post(url, data={"text": "STOP", "csrf_token": token.group(1) if token else ""})
        assert refused.status_code == 404
        assert "simulator" not in client.get(f"/outbox/{message.id}").get_data(as_text=True)
    finally:
        app.config.update(saved)
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).customer.opted_out_at is None and inbound() == 0
