"""Public endpoints that are authenticated by a signature or a token instead of a session:
Twilio webhooks (SMS, voice, status callbacks) and the e-mail unsubscribe link."""
from __future__ import annotations

import functools
import re

from flask import Blueprint, Response, abort, current_app, g, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from channels.conversation import Step, answer, current_question, handle_inbound_sms, set_opt_out
from channels.models import Message
from channels.render import voice_prompt
from channels.services import apply_status, record_inbound
from core.db import db, utcnow
from core.i18n import in_locale
from core.text import has_control, strip_control
from surveys.services import SurveyUnavailable, definition_of, invitation_for_answering

bp = Blueprint("webhooks", __name__)
VOICE_LANG = {"zh-CN": "cmn-CN", "en": "en-US"}
SID = re.compile(r"[A-Za-z0-9]{2,64}")  # Twilio's MessageSid: SM + 32 hex digits


def twilio_signed(view):
    """403 unless X-Twilio-Signature validates for the public URL Twilio called."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        token = current_app.config["TWILIO_AUTH_TOKEN"]
        signature = request.headers.get("X-Twilio-Signature", "")
        # Twilio signs the URL it called: PUBLIC_BASE_URL, not what a proxy shows Flask.
        url = current_app.config["PUBLIC_BASE_URL"] + request.full_path.rstrip("?")
        if not token or not signature or not RequestValidator(token).validate(url, request.form, signature):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _twiml(response) -> Response:
    return Response(str(response), mimetype="application/xml")


@bp.post("/twilio/sms")
@twilio_signed
def inbound_sms():
    phone, body = request.form.get("From", ""), strip_control(request.form.get("Body", ""))[:1600]
    sid = request.form.get("MessageSid") or None
    if not phone or has_control(phone) or len(phone) > 32 or (sid and not SID.fullmatch(sid)):
        abort(400)
    twiml = MessagingResponse()
    try:
        reply = handle_inbound_sms(phone, body, provider_id=sid)
    except IntegrityError:  # the same MessageSid handled at this very moment by another request
        db.session.rollback()
        return _twiml(twiml)
    if reply:
        db.session.add(Message(channel="sms", transport="twiml", purpose="reply", to=phone,
                               body=reply, state="sent", sent_at=utcnow()))
        db.session.commit()
        twiml.message(reply)
    return _twiml(twiml)


@bp.post("/twilio/status/<int:message_id>")
@twilio_signed
def status_callback(message_id: int):
    message = db.get_or_404(Message, message_id)
    status = request.form.get("MessageStatus") or request.form.get("CallStatus") or ""
    apply_status(message, status, request.form.get("ErrorCode"))
    db.session.commit()
    return "", 204


def say(twiml: VoiceResponse, text: str, locale: str) -> None:
    twiml.say(text, language=VOICE_LANG.get(locale, "cmn-CN"))


def _ask(twiml: VoiceResponse, invitation, question, locale: str) -> None:
    token = invitation.token
    action = url_for(".voice_answer", token=token, key=question.key)
    gather = twiml.gather(input="dtmf", num_digits=2 if question.type == "scale" else 1,
                          finish_on_key="#", timeout=5, action=action, method="POST")
    gather.say(voice_prompt(question, locale), language=VOICE_LANG.get(locale, "cmn-CN"))
    # No input: Twilio falls through to the next verb, so send the empty answer on.
    twiml.redirect(action, method="POST")


def voice_call(view):
    """A voice webhook for one invitation: hangs up on an unknown or finished one, otherwise
    lets the view add its verbs, in the customer's language."""
    @functools.wraps(view)
    def wrapped(token: str, **kwargs):
        twiml = VoiceResponse()
        try:  # locked: a webhook Twilio retries runs after the first, not beside it
            invitation = invitation_for_answering(token)
        except SurveyUnavailable:
            twiml.hangup()
            return _twiml(twiml)
        with in_locale(invitation.customer.locale):
            view(invitation, twiml, invitation.customer.locale, **kwargs)
        return _twiml(twiml)
    return wrapped


@bp.post("/twilio/voice/<token>/start")
@twilio_signed
@voice_call
def voice_start(invitation, twiml: VoiceResponse, locale: str) -> None:
    say(twiml, definition_of(invitation.version).text("intro", locale), locale)
    question = current_question(invitation)
    if question is not None:
        _ask(twiml, invitation, question, locale)


@bp.post("/twilio/voice/<token>/answer/<key>")
@twilio_signed
@voice_call
def voice_answer(invitation, twiml: VoiceResponse, locale: str, key: str) -> None:
    current = current_question(invitation)
    if current is not None and current.key == key:
        step = answer(invitation, request.form.get("Digits", ""), "voice")
    else:  # a retried webhook for a question already answered: just go on
        step = Step(question=current, done=current is None)
    if step.done:
        say(twiml, _("Thank you for your feedback. Goodbye."), locale)
        twiml.hangup()
        return
    if step.error:
        say(twiml, _("Sorry, that was not a valid answer."), locale)
    _ask(twiml, invitation, step.question, locale)


@bp.post("/twilio/bridge/<int:task_id>")
@twilio_signed
def bridge_call(task_id: int):
    """Click-to-call, second leg: the agent answered, now dial the customer."""
    from callbacks.models import WORKED_STATES, CallbackTask

    task = db.session.get(CallbackTask, task_id)
    twiml = VoiceResponse()
    if task is None or task.state not in WORKED_STATES or not task.customer.phone:
        twiml.say("This callback task is no longer open.", language="en-US")
        twiml.hangup()
        return _twiml(twiml)
    twiml.say("正在为您接通客户。", language="cmn-CN")
    if not task.kind.startswith("complaint_"):
        twiml.dial(task.customer.phone, caller_id=current_app.config["TWILIO_FROM"], timeout=30)
        return _twiml(twiml)
    # Complaint calls are recorded (evidence): the agent hears so here, the customer from the
    # notice Twilio plays them before connecting.
    say(twiml, "本次通话将被录音。", "zh-CN")
    notice = current_app.config["PUBLIC_BASE_URL"] + url_for("complaint_hooks.recording_notice", task_id=task.id)
    dial = twiml.dial(caller_id=current_app.config["TWILIO_FROM"], timeout=30)
    dial.number(task.customer.phone, url=notice)
    return _twiml(twiml)


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """E-mail unsubscribe: GET asks, POST (the page's button or RFC 8058 one-click) opts out."""
    from sqlalchemy import select

    from surveys.models import Invitation
    invitation = db.session.scalar(select(Invitation).where(Invitation.token == token)) if len(token) <= 64 else None
    if invitation is None:
        abort(404)
    g.locale = invitation.customer.locale
    if request.method == "POST":
        set_opt_out(None, True, "email", customer_id=invitation.customer_id)
        record_inbound("email", invitation.customer.email or "", "unsubscribe", invitation.id)
        db.session.commit()
        return render_template("surveys/unsubscribed.html", done=True)
    return render_template("surveys/unsubscribed.html", done=False, token=token)
