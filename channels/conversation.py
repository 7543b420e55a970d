"""One question at a time, for SMS and the voice keypad: the same questionnaire, skip logic
and answer validation as the web form. An invalid or missing answer is asked once more,
then skipped."""
from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select, update

from channels.render import sms_prompt
from core.db import db, utcnow
from core.i18n import in_locale
from core.text import command_word
from surveys.definition import AnswerError, Question
from surveys.forms import error_text
from surveys.models import Invitation
from surveys.services import complete_response, definition_of, response_for, save_answers
from tickets.models import Customer

# Whole replies, compared after core.text.command_word ("STOP.", "Ｓｔｏｐ", "退订。" all match);
# TD is the opt-out reply Chinese carriers' marketing SMS teach ("回复TD退订").
STOP_WORDS = {"stop", "unsubscribe", "end", "quit", "stopall", "revoke", "optout", "cancel", "td",
              "退订", "取消订阅"}
START_WORDS = {"start", "unstop", "yes", "开始"}
HELP_WORDS = {"help", "info", "帮助"}


@dataclass
class Step:
    """What to say next; `question` is None when the questionnaire is finished."""
    question: Question | None
    error: str = ""
    done: bool = False


def current_question(invitation: Invitation) -> Question | None:
    definition = definition_of(invitation.version)
    answers = invitation.response.answer_map() if invitation.response else {}
    if invitation.current_question:
        question = definition.question(invitation.current_question)
        if question.key not in answers and question in definition.visible(answers):
            return question
    return definition.next_unanswered(answers, set(invitation.skipped or []))


def _parse(question: Question, raw: str, channel: str):
    if channel == "voice" and question.type in ("choice", "multi"):
        options = question.options("en")
        if raw.isdigit() and 1 <= int(raw) <= len(options):
            return options[int(raw) - 1][0]
        raise AnswerError("choice")
    if question.type == "text" and raw.strip() == "0":
        return None  # "0 to skip" for free text
    return question.parse(raw)


def answer(invitation: Invitation, raw: str | None, channel: str) -> Step:
    """Applies one reply to the current question and returns the next step. Commits."""
    question = current_question(invitation)
    if question is None:
        return _finish(invitation)
    locale = invitation.customer.locale
    try:
        value = _parse(question, raw or "", channel)
        if value is None and question.required:
            raise AnswerError("required")
    except AnswerError as exc:
        if invitation.retries == 0:
            invitation.retries = 1
            db.session.commit()
            with in_locale(locale):
                return Step(question=question, error=error_text(exc))
        value = None  # asked twice: skip it
    response = response_for(invitation)
    if value is None:
        invitation.skipped = [*(invitation.skipped or []), question.key]
    else:
        save_answers(response, {question.key: value})
    invitation.retries = 0
    db.session.flush()
    following = current_question_after(invitation, response)
    if following is None:
        return _finish(invitation)
    invitation.current_question = following.key
    db.session.commit()
    return Step(question=following)


def current_question_after(invitation: Invitation, response) -> Question | None:
    definition = definition_of(invitation.version)
    skipped = set(invitation.skipped or [])
    nxt = definition.next_unanswered(response.answer_map(), skipped)
    # Voice cannot take free text: skip it there.
    while nxt is not None and invitation.channel == "voice" and nxt.type == "text":
        skipped.add(nxt.key)
        invitation.skipped = sorted(skipped)
        nxt = definition.next_unanswered(response.answer_map(), skipped)
    return nxt


def _finish(invitation: Invitation) -> Step:
    invitation.current_question = None
    complete_response(response_for(invitation))
    return Step(question=None, done=True)


def sms_reply(invitation: Invitation, step: Step) -> str:
    locale = invitation.customer.locale
    with in_locale(locale):
        if step.done:
            return _("Thank you for your feedback! Your answers have been recorded.")
        prompt = sms_prompt(step.question, locale)
        return f"{step.error} {prompt}".strip()


def open_sms_invitation(phone: str) -> Invitation | None:
    now = utcnow()
    return db.session.scalar(
        select(Invitation).join(Customer, Invitation.customer_id == Customer.id)
        .where(Customer.phone == phone, Invitation.channel == "sms",
               Invitation.state.in_(("sent", "started")), Invitation.expires_at > now)
        .order_by(Invitation.sent_at.desc()).limit(1).with_for_update(of=Invitation))


def set_opt_out(phone: str | None, opted_out: bool, source: str, customer_id: int | None = None) -> int:
    """Opt-out applies to every channel: the customer and all their pending invitations."""
    condition = Customer.id == customer_id if customer_id else Customer.phone == phone
    customers = list(db.session.scalars(select(Customer).where(condition)))
    for customer in customers:
        customer.opted_out_at = utcnow() if opted_out else None
        customer.opt_out_source = source if opted_out else None
        if opted_out:
            db.session.execute(update(Invitation).where(Invitation.customer_id == customer.id,
                                                        Invitation.state == "scheduled")
                               .values(state="suppressed", suppressed_reason="opted_out"))
    return len(customers)


def handle_inbound_sms(phone: str, body: str, provider_id: str | None = None) -> str | None:
    """The reply to an inbound SMS (None: say nothing). Records the inbound message. Commits.
    A message the provider delivers again (same `provider_id`, e.g. a replayed webhook) is
    answered with nothing and changes nothing; a concurrent replay fails on the unique index
    (IntegrityError, before anything is written) and the caller rolls back."""
    from channels.services import inbound_seen, record_inbound

    if provider_id and inbound_seen(provider_id):
        return None
    word = command_word(body)
    invitation = open_sms_invitation(phone)
    record_inbound("sms", phone, body or "", invitation.id if invitation else None, provider_id=provider_id)
    db.session.flush()  # the unique MessageSid is claimed first
    customer = db.session.scalar(select(Customer).where(Customer.phone == phone).limit(1))
    locale = customer.locale if customer else "zh-CN"
    with in_locale(locale):
        if word in STOP_WORDS:
            set_opt_out(phone, True, f"sms:{word}")
            db.session.commit()
            return _("You will receive no more surveys from us. Reply START to receive them again.")
        if word in START_WORDS and (customer is None or customer.opted_out_at):
            set_opt_out(phone, False, "sms")
            db.session.commit()
            return _("You will receive our surveys again. Reply STOP to opt out.")
        if word in HELP_WORDS:
            db.session.commit()
            return _("Huifang customer surveys. For help call 10000. Reply STOP to opt out.")
        if invitation is None:
            db.session.commit()
            return _("We have no open survey for this number. For help call 10000.")
        if definition_of(invitation.version).sms_mode != "conversation":
            db.session.commit()
            from channels.render import survey_url
            return _("Please answer with this link: %(url)s", url=survey_url(invitation))
    return sms_reply(invitation, answer(invitation, body, "sms"))
