"""Respondents who answer a questionnaire on each channel the way a person would, and report
which questions they were offered: the web page (what is visible, without JavaScript), the
interviewer form, the SMS conversation (the texts sent) and the voice keypad (the prompts)."""
from __future__ import annotations

import itertools
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import select, update

from core.db import db, utcnow
from surveys.definition import Definition, Question, condition_holds, condition_keys
from surveys.models import Invitation, Response
from tests.channel_fakes import signed_post
from tests.conftest import make_ticket

VOID = {"input", "br", "img", "meta", "link", "hr", "source", "col", "wbr"}


class VisiblePage(HTMLParser):
    """The form fields a person sees (not inside a `hidden` element) and what a browser
    would send besides the answers: CSRF token, page number, enabled `offered` fields."""

    def __init__(self, html: str):
        super().__init__()
        self._hidden: list[bool] = []
        self.visible: set[str] = set()
        self.fields: dict[str, Any] = {"offered": []}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        hidden = bool(self._hidden and self._hidden[-1]) or "hidden" in a
        if tag not in VOID:
            self._hidden.append(hidden)
        name = a.get("name")
        if tag not in ("input", "textarea", "select") or not name:
            return
        if a.get("type") == "hidden":
            if "disabled" not in a:
                if name == "offered":
                    self.fields["offered"].append(a["value"])
                else:
                    self.fields[name] = a.get("value", "")
        elif not hidden:
            self.visible.add(name)

    def handle_endtag(self, tag):
        if tag not in VOID and self._hidden:
            self._hidden.pop()


def default_answers(definition: Definition) -> dict[str, Any]:
    """What a respondent answers to a question no skip logic depends on."""
    values = {"rating": 4, "scale": 8, "yesno": "yes", "text": "fine"}
    return {q.key: values.get(q.type, q.choices[0][0] if q.choices else None) for q in definition.questions}


def _atoms(cond: Any) -> list[str]:
    if cond is None:
        return []
    if isinstance(cond, dict):
        return [a for part in cond.get("all", cond.get("any")) for a in _atoms(part)]
    return [cond]


SIDES = {"<=": (0, 1), "<": (-1, 0), ">=": (-1, 0), ">": (0, 1), "==": (-1, 0, 1), "!=": (-1, 0, 1)}


def _candidates(definition: Definition, q: Question) -> list[Any]:
    """Values of a deciding question on either side of each threshold it is compared with."""
    if not q.numeric:
        return [value for value, _label in q.options("en")]
    low, high = q.bounds
    values = set()
    for atom in (a for other in definition.questions for a in _atoms(other.show_if)):
        key, op, threshold = re.match(r"\s*(\w+)\s*([<>=!]+)\s*(\S+)", atom).groups()
        if key == q.key:
            values |= {int(float(threshold)) + d for d in SIDES[op]}
    return sorted(v for v in values if low <= v <= high)


def deciding_combinations(definition: Definition) -> list[dict[str, Any]]:
    """Every combination of answers that decides the show_ifs differently, answered on top
    of the defaults: one per distinct set of condition outcomes (an answer that skip logic
    hides decides nothing)."""
    keys = {k for q in definition.questions for k in condition_keys(q.show_if)}
    deciding = [q for q in definition.questions if q.key in keys]
    atoms = [a for q in definition.questions for a in _atoms(q.show_if)]
    seen, combinations = set(), []
    for values in itertools.product(*(_candidates(definition, q) for q in deciding)):
        answers = {**default_answers(definition), **dict(zip([q.key for q in deciding], values, strict=True))}
        effective = {q.key: answers[q.key] for q in definition.visible(answers)}
        outcome = tuple(condition_holds(a, effective) for a in atoms)
        if outcome not in seen:
            seen.add(outcome)
            combinations.append(answers)
    return combinations


def expected_offered(definition: Definition, answers: dict[str, Any], channel: str) -> set[str]:
    return {q.key for q in definition.visible(answers) if not (channel == "voice" and q.type == "text")}


def invite(version_id: int, channel: str, n: int) -> Invitation:
    """A sent invitation to an English-speaking customer for one questionnaire version."""
    from surveys.dispatch import send_due_invitations

    person = {"id": f"C-SKIP-{channel}-{n}", "name": "Test", "phone": f"+4477009{n:05d}", "locale": "en",
              "email": f"skip{n}@example.com"}
    invitation = make_ticket(external_id=f"T-SKIP-{channel}-{n}", customer=person).invitation
    db.session.execute(update(Invitation).where(Invitation.id == invitation.id).values(
        channel="email" if channel == "web" else channel, version_id=version_id,
        send_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()
    send_due_invitations()
    db.session.refresh(invitation)
    assert invitation.state == "sent"
    return invitation


def _fill(client, url: str, first, answers: dict, keys: set[str], finished) -> set[str]:
    """Answers a page form until it moves on; returns the questions it showed."""
    offered: set[str] = set()
    page = first
    for _ in range(30):
        seen = VisiblePage(page.get_data(as_text=True))
        shown = seen.visible & keys
        offered |= shown
        data = {**seen.fields, **{k: str(answers[k]) for k in shown}}
        page = client.post(url, data=data)
        if finished(page):
            return offered
        if page.status_code == 302:
            page = client.get(page.headers["Location"])
        else:
            assert page.status_code == 200, page.get_data(as_text=True)[:2000]
    raise AssertionError("the form never finished")


def answer_on_web(client, invitation: Invitation, definition: Definition, answers: dict) -> set[str]:
    url = f"/s/{invitation.token}"
    keys = {q.key for q in definition.questions}
    return _fill(client, url, client.get(url), answers, keys,
                 lambda r: r.status_code == 302 and r.headers["Location"].endswith("/thanks"))


def answer_in_interview(client, definition: Definition, answers: dict) -> set[str]:
    url = "/interviews/new"
    keys = {q.key for q in definition.questions}
    return _fill(client, url, client.get(url), answers, keys, lambda r: r.status_code == 303)


def _asked(definition: Definition, text: str) -> Question | None:
    found = [q for q in definition.questions if q.label("en") in text]
    assert len(found) <= 1, text
    return found[0] if found else None


def answer_by_sms(client, invitation: Invitation, definition: Definition, answers: dict) -> set[str]:
    from channels.models import Message

    first = db.session.scalar(select(Message).where(Message.invitation_id == invitation.id))
    text, offered = first.body, set()
    phone = invitation.customer.phone
    while (question := _asked(definition, text)) is not None:
        offered.add(question.key)
        reply = signed_post(client, "/twilio/sms", {"From": phone, "Body": str(answers[question.key])})
        text = re.search(r"<Message>(.*)</Message>", reply.get_data(as_text=True), re.S).group(1)
    assert "Thank you for your feedback" in text
    return offered


def _keypad(question: Question, value: Any) -> str:
    if question.numeric:
        return str(value)
    return str([v for v, _label in question.options("en")].index(value) + 1)


def answer_by_voice(client, invitation: Invitation, definition: Definition, answers: dict) -> set[str]:
    twiml = signed_post(client, f"/twilio/voice/{invitation.token}/start", {"CallSid": "CA1"}).get_data(as_text=True)
    offered = set()
    while match := re.search(r'<Gather action="[^"]*/answer/([a-z_0-9]+)"', twiml):
        question = definition.question(match.group(1))
        assert question.label("en") in twiml
        offered.add(question.key)
        twiml = signed_post(client, f"/twilio/voice/{invitation.token}/answer/{question.key}",
                            {"Digits": _keypad(question, answers[question.key])}).get_data(as_text=True)
    assert "<Hangup" in twiml
    return offered


def stored_answers(**where) -> dict[str, Any]:
    db.session.expire_all()
    query = select(Response).filter_by(**where).order_by(Response.id.desc()).limit(1)
    return db.session.scalar(query).answer_map()
