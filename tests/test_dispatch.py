"""Batch dispatch (surveys.dispatch): every message stored is, field for field, what rendering
that invitation on its own says (channels.render.invitation_message), whatever the channel,
language, name (none, Chinese, one full of HTML) and questionnaire mode; opted-out and expired
invitations in the same batch get nothing."""
from __future__ import annotations

import itertools
from datetime import timedelta

import yaml
from sqlalchemy import select

from channels.models import Message
from channels.render import invitation_message
from core.db import db, utcnow
from surveys.dispatch import send_due_invitations, send_reminders
from surveys.models import Invitation
from surveys.services import DEFINITIONS_DIR, import_questionnaire, latest_version, new_token
from tickets.models import Customer

NAMES = ("王芳", "", "O'Brien <b>&amp;</b> \"Co\"")


def link_mode_version():
    raw = yaml.safe_load((DEFINITIONS_DIR / "telecom-default.yaml").read_text(encoding="utf-8"))
    version, _ = import_questionnaire({**raw, "key": "telecom-link", "sms_mode": "link"})
    return version


def invite(n: int, channel: str, locale: str, name: str, version, **extra) -> Invitation:
    now = utcnow()
    customer = Customer(external_id=f"C-{n}", name=name, phone=f"+86138{n:08d}", email=f"c{n}@example.cn",
                        locale=locale, **extra.pop("customer", {}))
    invitation = Invitation(token=new_token(), customer=customer, version_id=version.id, channel=channel,
                            state="scheduled", send_at=now - timedelta(minutes=1),
                            **{"expires_at": now + timedelta(days=7), **extra})
    db.session.add(invitation)
    return invitation


def stored(purpose: str) -> dict[int, dict]:
    return {m.invitation_id: {"channel": m.channel, "to": m.to, "subject": m.subject, "body": m.body,
                              "body_html": m.body_html}
            for m in db.session.scalars(select(Message).where(Message.purpose == purpose))}


def expected(invitation: Invitation, reminder: bool = False) -> dict:
    return {"body_html": None, **invitation_message(invitation, reminder)}


def test_batch_texts_equal_one_by_one_rendering(ctx):
    versions = [latest_version("telecom-default"), link_mode_version()]
    grid = itertools.product(("sms", "email", "voice"), ("zh-CN", "en"), NAMES, versions)
    invitations = [invite(n, *shape) for n, shape in enumerate(grid)]
    db.session.commit()
    assert send_due_invitations(limit=1000) == len(invitations) == 36
    messages = stored("invitation")
    for invitation in invitations:
        db.session.refresh(invitation)
        assert invitation.state == "sent"
        assert messages[invitation.id] == expected(invitation), (invitation.channel, invitation.customer.locale)
    html = next(messages[i.id] for i in invitations if i.channel == "email" and i.customer.name == NAMES[2])
    assert "O&#39;Brien &lt;b&gt;&amp;amp;&lt;/b&gt;" in html["body_html"] and NAMES[2] in html["body"]
    conversation = next(i for i in invitations if i.channel == "sms" and i.version_id == versions[0].id)
    assert conversation.current_question == "overall"
    assert all(i.current_question is None for i in invitations if i.version_id == versions[1].id)

    later = utcnow() + timedelta(days=2)
    assert send_reminders(later, limit=1000) == 24  # no second call
    reminders = stored("reminder")
    for invitation in invitations:
        if invitation.channel != "voice":
            assert reminders[invitation.id] == expected(invitation, reminder=True)
    assert len(reminders) == 24


def test_opted_out_and_expired_in_a_batch_get_nothing(ctx):
    version = latest_version("telecom-default")
    now = utcnow()
    sent = invite(1, "sms", "zh-CN", "王芳", version)
    opted_out = invite(2, "sms", "zh-CN", "李雷", version, customer={"opted_out_at": now})
    expired = invite(3, "email", "en", "Ann", version, expires_at=now - timedelta(seconds=1))
    db.session.commit()
    assert send_due_invitations() == 3
    states = dict(db.session.execute(select(Invitation.id, Invitation.state)).all())
    assert states == {sent.id: "sent", opted_out.id: "suppressed", expired.id: "expired"}
    assert list(stored("invitation")) == [sent.id]
    assert db.session.get(Invitation, opted_out.id).sent_at is None
