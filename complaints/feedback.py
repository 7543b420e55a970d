"""The written result (guide 5.3) and the re-check (5.4). The result goes to the customer by
their channel and a PDF letter is kept in the case file; the feedback stage completes when the
message was actually sent (at once through the outbox, after deliver_due's retries through a
provider). The re-check asks by a link N days later, reminds once, and reopens on "no" or
silence."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import gettext as _
from sqlalchemy import select

from channels.models import Message
from channels.services import queue_message
from complaints.evidence import store_file
from complaints.models import CaseStage, ComplaintCase
from complaints.services import CaseError, complete_stage, reopen
from core.accounts import User, audit
from core.db import db, utcnow
from core.i18n import in_locale
from core.settings import get_rules
from core.timeutil import to_local

RESULT_PARTS = ("reason", "measures", "plan", "followup")
PENDING = ("queued", "sending")


def channel_for(customer) -> tuple[str, str]:
    """SMS or e-mail, the customer's preference first; CaseError when neither is known."""
    if customer.preferred_channel == "email" and customer.email:
        return "email", customer.email
    if customer.phone:
        return "sms", customer.phone
    if customer.email:
        return "email", customer.email
    raise CaseError(_("The customer has neither a phone number nor an e-mail address."))


def _letter_text(case: ComplaintCase) -> tuple[str, str]:
    """(subject, body) in the customer's language."""
    with in_locale(case.customer.locale):
        subject = _("The result of your complaint %(number)s", number=case.number)
        body = "\n".join([
            _("Dear %(name)s, this is the result of your complaint %(number)s.",
              name=case.customer.name or _("customer"), number=case.number),
            _("Reason: %(text)s", text=case.result_reason),
            _("Measures taken: %(text)s", text=case.result_measures),
            _("Rectification plan: %(text)s", text=case.result_plan),
            _("Follow-up arrangement: %(text)s", text=case.result_followup),
            _("We will ask you in a few days whether the problem stayed solved. Thank you."),
        ])
    return subject, body


def render_letter(case: ComplaintCase, when: datetime) -> bytes:
    """The PDF letter (WeasyPrint, CJK font) in the customer's language."""
    from weasyprint import HTML

    locale = case.customer.locale
    with in_locale(locale):
        html = render_template("complaints/letter_pdf.html", case=case, locale=locale,
                               date=to_local(when, case.customer.timezone))
    return HTML(string=html).write_pdf()


def write_result(case: ComplaintCase, user: User, parts: dict[str, str], now: datetime | None = None) -> Message:
    """Stores the result, files the letter and queues it to the customer. Refused when
    handling is not done, the letter is incomplete, or a result is already on its way. Commits."""
    now = now or utcnow()
    texts = {k: (parts.get(k) or "").strip() for k in RESULT_PARTS}
    if not all(texts.values()):
        raise CaseError(_("The result letter is incomplete: reason, measures, rectification plan and "
                          "follow-up arrangement are all needed."))
    if case.current("handled").completed_at is None:
        raise CaseError(_("Complete the handling stage before feeding back the result."))
    if case.current("fed_back").completed_at is not None:
        raise CaseError(_("The result has been fed back already."))
    if case.result_message is not None and case.result_message.state in PENDING + ("sent", "delivered"):
        raise CaseError(_("The result is on its way to the customer already."))
    channel, address = channel_for(case.customer)
    case.result_reason, case.result_measures = texts["reason"], texts["measures"]
    case.result_plan, case.result_followup = texts["plan"], texts["followup"]
    case.result_by_id, case.result_written_at = user.id, now
    subject, body = _letter_text(case)
    with in_locale(case.customer.locale):
        name = _("result-letter") + f"-{case.number}-{case.round}.pdf"
    store_file(case, "letter", name, render_letter(case, now), user, content_type="application/pdf")
    message = queue_message(channel, address, "result", body, subject=subject, now=now)
    db.session.flush()
    case.result_message_id = message.id
    audit("complaint_result", f"case:{case.id}", user=user, channel=channel, message=message.id)
    _complete_if_sent(case, message)
    db.session.commit()
    return message


def _complete_if_sent(case: ComplaintCase, message: Message) -> bool:
    if message.state not in ("sent", "delivered") or case.current("fed_back").completed_at is not None:
        return False
    from complaints.forms import CHANNEL_LABELS
    complete_stage(case, "fed_back", case.result_by, at=message.sent_at or utcnow(),
                   note=_("sent by %(channel)s", channel=CHANNEL_LABELS.get(message.channel, message.channel)))
    return True


def complete_sent_results(now: datetime | None = None) -> int:
    """The scheduler's job, after deliver_due: results a provider has now sent complete their
    feedback stage at the time they went out."""
    cases = db.session.scalars(
        select(ComplaintCase).join(Message, ComplaintCase.result_message_id == Message.id)
        .join(CaseStage, (CaseStage.case_id == ComplaintCase.id) & (CaseStage.round == ComplaintCase.round)
              & (CaseStage.name == "fed_back"))
        .where(Message.state.in_(("sent", "delivered")), CaseStage.completed_at.is_(None))).all()
    done = sum(_complete_if_sent(case, case.result_message) for case in cases)
    db.session.commit()
    return done


# ---- re-check --------------------------------------------------------------------------------

def _ask(case: ComplaintCase, reminder: bool, now: datetime) -> None:
    channel, address = channel_for(case.customer)
    link = f"{current_app.config['PUBLIC_BASE_URL']}/c/{case.recheck_token}"
    with in_locale(case.customer.locale):
        body = _("Your complaint %(number)s was handled a few days ago. Has the problem stayed solved? "
                 "Please tell us: %(link)s", number=case.number, link=link)
        if reminder:
            body = _("Reminder:") + " " + body
        subject = _("Has your problem stayed solved? (%(number)s)", number=case.number)
    queue_message(channel, address, "recheck", body, subject=subject, now=now)


def run_rechecks(now: datetime | None = None) -> int:
    """The scheduler's job: ask when the re-check is due, remind once after
    `recheck_reminder_hours`, and after as long again without an answer reopen the case."""
    now = now or utcnow()
    wait = timedelta(hours=float(get_rules()["recheck_reminder_hours"]))
    open_cases = select(ComplaintCase).where(ComplaintCase.state != "closed",
                                             ComplaintCase.recheck_due_at <= now,
                                             ComplaintCase.recheck_answered_at.is_(None)
                                             | (ComplaintCase.recheck_answered_at < ComplaintCase.recheck_due_at))
    count = 0
    for case in db.session.scalars(open_cases).all():
        if case.recheck_asked_at is None:
            case.recheck_token, case.recheck_asked_at = secrets.token_urlsafe(24), now
            _ask(case, False, now)
        elif case.recheck_reminded_at is None and case.recheck_asked_at + wait <= now:
            case.recheck_reminded_at = now
            _ask(case, True, now)
        elif case.recheck_reminded_at is not None and case.recheck_reminded_at + wait <= now:
            _record_answer(case, "no_answer", now)
        else:
            continue
        count += 1
    db.session.commit()
    return count


def _record_answer(case: ComplaintCase, answer: str, now: datetime) -> None:
    case.recheck_answer, case.recheck_answered_at = answer, now
    if answer == "yes":
        complete_stage(case, "rechecked", None, at=now, note=answer)
    else:
        reopen(case, answer, now)


def case_for_recheck(token: str) -> ComplaintCase | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(select(ComplaintCase).where(ComplaintCase.recheck_token == token))


def answer_recheck(case: ComplaintCase, answer: str, now: datetime | None = None) -> None:
    """The customer's answer by the link: "yes" closes the case, "no" reopens it. Commits."""
    now = now or utcnow()
    if answer not in ("yes", "no"):
        raise CaseError(_("Choose yes or no."))
    if case.recheck_asked_at is None or case.current("rechecked").completed_at is not None:
        raise CaseError(_("This question has been answered already."))
    _record_answer(case, answer, now)
    audit("complaint_recheck", f"case:{case.id}", answer=answer)
    db.session.commit()
