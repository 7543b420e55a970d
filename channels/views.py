"""Staff view of every message in and out (the outbox), with retry of failed ones."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from channels.models import MESSAGE_STATES, Message
from channels.services import retry_now
from core.accounts import audit
from core.auth import role_required
from core.db import db
from core.web import page_arg

bp = Blueprint("channels", __name__)
PAGE_SIZE = 50


@bp.route("/outbox")
@role_required("agent", "manager")
def outbox():
    page = page_arg()
    query = select(Message)
    for name in ("channel", "state", "purpose"):
        if request.args.get(name):
            query = query.where(getattr(Message, name) == request.args[name])
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    messages = db.session.scalars(query.order_by(Message.id.desc())
                                  .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template("channels/outbox.html", messages=messages, page=page, states=MESSAGE_STATES,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), total=total,
                           filter_args={k: v for k, v in request.args.items() if k != "page"})


@bp.route("/outbox/<int:message_id>")
@role_required("agent", "manager")
def message(message_id: int):
    return render_template("channels/message.html", message=db.get_or_404(Message, message_id),
                           simulator=simulator_available())


def simulator_available() -> bool:
    """The simulator answers and opts out in a customer's name: it exists only for trying the
    product with no provider, never in production or once Twilio or SMTP is configured (its
    replies would go out as real SMS)."""
    config = current_app.config
    return not (config["HUIFANG_ENV"] == "production" or config["TWILIO_ACCOUNT_SID"] or config["SMTP_URL"])


@bp.post("/outbox/<int:message_id>/retry")
@role_required("admin")
def retry(message_id: int):
    msg = db.get_or_404(Message, message_id)
    if msg.state in ("failed", "undelivered") and msg.transport != "outbox":
        retry_now(msg)
        audit("retry_message", f"message:{msg.id}")
        db.session.commit()
        flash(_("The message is queued again."), "success")
    return redirect(url_for(".message", message_id=msg.id)), 303


@bp.route("/outbox/<int:message_id>/simulator", methods=["GET", "POST"])
@role_required("agent", "manager")
def simulator(message_id: int):
    """Plays an SMS conversation or a keypad call from the outbox, through the same code as
    the Twilio webhooks, so the whole product can be tried with no provider account."""
    from channels.conversation import answer, current_question, handle_inbound_sms
    from channels.render import call_transcript, voice_prompt
    from core.i18n import in_locale
    from surveys.models import Invitation

    if not simulator_available():
        abort(404)
    msg = db.get_or_404(Message, message_id)
    invitation = db.get_or_404(Invitation, msg.invitation_id or 0)
    locale = invitation.customer.locale
    notice = ""
    if request.method == "POST":
        text = (request.form.get("text") or "")[:1600]
        if msg.channel == "sms":
            reply = handle_inbound_sms(invitation.customer.phone, text)
            if reply:
                queue_reply(invitation, reply)
        else:
            # The voice webhook's row lock, so answers to one invitation run one at a time.
            db.session.refresh(invitation, with_for_update=True)
            if invitation.state in ("sent", "started") and current_question(invitation) is not None:
                step = answer(invitation, text, "voice")
                with in_locale(locale):
                    notice = step.error
        return redirect(url_for(".simulator", message_id=msg.id, notice=notice or None)), 303
    question = current_question(invitation) if invitation.state in ("sent", "started") else None
    with in_locale(locale):
        prompt = voice_prompt(question, locale) if question is not None and msg.channel == "voice" else ""
    thread = db.session.scalars(select(Message).where(
        (Message.invitation_id == invitation.id)
        | ((Message.purpose == "reply") & (Message.to == invitation.customer.phone)))
        .order_by(Message.id)).all()
    transcript = call_transcript(invitation) if msg.channel == "voice" else []
    return render_template("channels/simulator.html", message=msg, invitation=invitation,
                           thread=thread, prompt=prompt, transcript=transcript, notice=request.args.get("notice", ""))


def queue_reply(invitation, text: str) -> None:
    from channels.services import queue_message

    queue_message("sms", invitation.customer.phone, "reply", text, invitation_id=invitation.id)
    db.session.commit()
