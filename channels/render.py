"""What each channel says: invitation and reminder texts in the customer's language."""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template
from flask_babel import gettext as _
from markupsafe import escape

from core.db import db
from core.i18n import in_locale
from surveys.definition import Question
from surveys.models import Invitation, QuestionnaireVersion
from surveys.services import definition_of

SMS_SIGNATURE = "【回访】"


def survey_url(invitation: Invitation) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/s/{invitation.token}"


def sms_prompt(question: Question, locale: str) -> str:
    """One SMS question with how to answer it."""
    with in_locale(locale):
        if question.numeric:
            low, high = question.bounds
            how = _("Reply with a number from %(low)s to %(high)s.", low=low, high=high)
        elif question.type == "yesno":
            how = _("Reply 1 for yes, 2 for no.")
        elif question.type in ("choice", "multi"):
            how = _("Reply with one of: %(values)s", values=", ".join(
                f"{v}={label}" for v, label in question.options(locale)))
        else:
            how = _("Reply with your comment, or 0 to skip.")
        return f"{question.label(locale)} {how}"


def voice_prompt(question: Question, locale: str) -> str:
    """What the call says for one question, with the keys to press."""
    if question.numeric:
        low, high = question.bounds
        how = _("Press a number from %(low)s to %(high)s, then the hash key.", low=low, high=high)
    elif question.type == "yesno":
        how = _("Press 1 for yes, 2 for no.")
    else:
        how = " ".join(_("Press %(n)s for %(label)s.", n=i, label=label)
                       for i, (_v, label) in enumerate(question.options(locale), 1))
    return f"{question.label(locale)} {how}"


def call_transcript(invitation: Invitation) -> list[tuple[str, str]]:
    """The keypad call so far, as (what the call said, what the customer did): answered
    questions in words, and skipped ones said to be skipped, never left out silently."""
    locale = invitation.customer.locale
    definition = definition_of(invitation.version)
    answers = invitation.response.answer_map() if invitation.response else {}
    skipped = set(invitation.skipped or [])
    lines = [(definition.text("intro", locale), "")]
    with in_locale(locale):
        for question in definition.questions:
            if question.key in answers:
                words = dict(question.options(locale)).get(str(answers[question.key]), str(answers[question.key]))
                lines.append((voice_prompt(question, locale), words))
            elif question.key in skipped:
                reason = (_("skipped: a call cannot take a written comment") if question.type == "text"
                          else _("skipped: no valid key after asking twice"))
                lines.append((voice_prompt(question, locale) if question.type != "text" else question.label(locale),
                              reason))
    return lines


def shown_text(body: str, channel: str, invitation: Invitation | None) -> str:
    """A message's text as the person received it: a call's is what it says first, not the
    webhook address Twilio is given."""
    if channel != "voice" or invitation is None:
        return body
    locale = invitation.customer.locale
    definition = definition_of(invitation.version)
    first = definition.next_unanswered({})
    with in_locale(locale):
        return f"{definition.text('intro', locale)} {voice_prompt(first, locale) if first else ''}".strip()


def invitation_message(invitation: Invitation, reminder: bool = False) -> dict:
    """channel, to, subject, body (and body_html for e-mail) of an invitation or reminder."""
    customer = invitation.customer
    locale = customer.locale
    definition = definition_of(invitation.version)
    url = survey_url(invitation)
    with in_locale(locale):
        greeting = _("Hello %(name)s,", name=customer.name) if customer.name else _("Hello,")
        if invitation.channel == "email":
            context = dict(customer=customer, url=url, reminder=reminder, greeting=greeting,
                           title=definition.text("title", locale), intro=definition.text("intro", locale),
                           unsubscribe=f"{current_app.config['PUBLIC_BASE_URL']}/u/{invitation.token}",
                           expires=invitation.expires_at)
            subject = (_("Reminder: %(title)s", title=context["title"]) if reminder else context["title"])
            return dict(channel="email", to=customer.email, subject=subject,
                        body=render_template("emails/invitation.txt", **context),
                        body_html=render_template("emails/invitation.html", **context))
        if invitation.channel == "voice":
            return dict(channel="voice", to=customer.phone, subject="",
                        body=f"/twilio/voice/{invitation.token}/start")
        opt_out = _("Reply STOP to opt out.")
        if reminder:
            body = _("%(greeting)s a reminder: your feedback helps us improve. %(url)s",
                     greeting=greeting, url=url)
        elif definition.sms_mode == "conversation":
            first = definition.next_unanswered({})
            body = f"{greeting} {definition.text('intro', locale)} {sms_prompt(first, locale)}"
        else:
            body = _("%(greeting)s thank you for contacting us. Please rate our service (1 minute): %(url)s",
                     greeting=greeting, url=url)
        return dict(channel="sms", to=customer.phone, subject="",
                    body=f"{SMS_SIGNATURE}{body} {opt_out}")


# ---- many invitations at once ------------------------------------------------------------------
# Rendering one message through Flask-Babel and Jinja costs more than storing it. An invitation's
# text depends only on its shape: questionnaire version, channel, language, reminder or not, and
# whether the customer has a name; the rest (name, contacts, token, expiry) is substituted. So
# each shape is rendered once with marked stand-ins and cut at the marks, and every message of
# that shape is the pieces joined with its own values. A mark carries "&", so the cut tells a
# slot the template HTML-escaped ("&amp;") from a raw one. A shape whose rendering reads anything
# else, or changes a stand-in in some other way, is rendered message by message instead.

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: no template or translation has them
_SLOT = re.compile(f"{_OPEN}(\\w+)(&amp;|&){_CLOSE}")
_shapes: dict[tuple, _Shape | None] = {}


class _Unfit(Exception):
    """The shape's rendering needs something the stand-ins do not offer."""


def _mark(slot: str) -> str:
    return f"{_OPEN}{slot}&{_CLOSE}"


class _StandIn:
    """Only the attributes it is given; reading any other one makes the shape unfit (Jinja would
    otherwise render it as empty without a word)."""

    def __init__(self, **attributes) -> None:
        self.__dict__.update(attributes)

    def __getattr__(self, name: str):
        raise _Unfit(name)


class _Expiry:
    """Stands in for expires_at: each strftime format it is asked for becomes a slot."""

    def __init__(self) -> None:
        self.formats: list[str] = []

    def strftime(self, fmt: str) -> str:
        self.formats.append(fmt)
        return _mark(f"expires{len(self.formats) - 1}")


@dataclass(frozen=True)
class _Shape:
    """Each message field as a str.format template over the slots ("{name}", "{name_html}" where
    the template escaped it), or a bare slot when the field is one value (a None address stays
    None)."""
    fields: dict[str, tuple[str | None, str | None]]  # field -> (template, bare slot)
    formats: tuple[str, ...]                            # expires_at's strftime formats: slot expires<i>
    escaped: frozenset[str]                             # slots the HTML needs escaped

    def fill(self, values: dict[str, Any]) -> dict[str, Any]:
        for slot in self.escaped:
            values[f"{slot}_html"] = escape(values[slot])
        return {field: values[bare] if bare else template and template.format_map(values)
                for field, (template, bare) in self.fields.items()}


def _cut(text: str | None, escaped: set[str]) -> tuple[str | None, str | None]:
    if text is None:
        return None, None
    whole = _SLOT.fullmatch(text)
    if whole and whole[2] == "&":
        return None, whole[1]
    template = _SLOT.sub(lambda found: "{%s}" % (found[1] + ("_html" if found[2] == "&amp;" else "")),
                         text.replace("{", "{{").replace("}", "}}"))
    if _OPEN in template or _CLOSE in template:
        raise _Unfit(text)
    escaped.update(found[1] for found in _SLOT.finditer(text) if found[2] == "&amp;")
    return template, None


def _shape(version: QuestionnaireVersion, channel: str, locale: str, named: bool, reminder: bool) -> _Shape | None:
    expiry = _Expiry()
    customer = _StandIn(name=_mark("name") if named else "", phone=_mark("phone"), email=_mark("email"),
                        locale=locale)
    stand_in = _StandIn(customer=customer, version=version, channel=channel, token=_mark("token"),
                        expires_at=expiry)
    try:
        message = invitation_message(stand_in, reminder)  # type: ignore[arg-type]
        escaped: set[str] = set()
        fields = {field: _cut(value, escaped) for field, value in message.items()}
        return _Shape(fields, tuple(expiry.formats), frozenset(escaped))
    except _Unfit:
        return None


def invitation_messages(rows: Sequence[Any], reminder: bool = False) -> list[dict]:
    """`invitation_message` of many invitations: each row has the invitation's id, token,
    channel, expires_at, version_id and version_checksum, and its customer's name, phone, email
    and locale. Returns the messages in the order of the rows."""
    base = current_app.config["PUBLIC_BASE_URL"]
    messages = []
    for row in rows:
        # Versions are immutable: id and checksum name one (ids repeat across databases).
        key = (base, row.version_id, row.version_checksum, row.channel, row.locale, bool(row.name), reminder)
        if key not in _shapes:
            _shapes[key] = _shape(db.session.get(QuestionnaireVersion, row.version_id), row.channel,
                                  row.locale, bool(row.name), reminder)
        shape = _shapes[key]
        if shape is None:
            messages.append(invitation_message(db.session.get(Invitation, row.id), reminder))
            continue
        values = {"name": row.name, "phone": row.phone, "email": row.email, "token": row.token}
        for i, fmt in enumerate(shape.formats):
            values[f"expires{i}"] = row.expires_at.strftime(fmt)
        messages.append(shape.fill(values))
    return messages
