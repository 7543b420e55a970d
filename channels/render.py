"""What each channel says: invitation and reminder texts in the customer's language."""
from __future__ import annotations

from flask import current_app, render_template
from flask_babel import gettext as _

from core.i18n import in_locale
from surveys.definition import Question
from surveys.models import Invitation
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
