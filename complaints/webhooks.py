"""Twilio webhooks of complaint calls: the recording notice the customer hears before the
call connects, and the recording status callback that files the recording as evidence.
Both are signed by Twilio: a forged request gets 403 and changes nothing."""
from __future__ import annotations

from flask import Blueprint, Response, abort, request
from twilio.twiml.voice_response import VoiceResponse

from callbacks.models import CallbackTask
from channels.webhooks import say, twilio_signed
from complaints.evidence import store_recording
from core.db import db
from core.i18n import in_locale
from core.text import has_control

bp = Blueprint("complaint_hooks", __name__)
NOTICE = {"zh-CN": "您好,这里是客服回访,本次通话将被录音。", "en": "Hello, this is customer service. This call will be recorded."}


@bp.post("/twilio/recording-notice/<int:task_id>")
@twilio_signed
def recording_notice(task_id: int):
    task = db.get_or_404(CallbackTask, task_id)
    twiml = VoiceResponse()
    locale = task.customer.locale if task.customer.locale in NOTICE else "zh-CN"
    with in_locale(locale):
        say(twiml, NOTICE[locale], locale)
    return Response(str(twiml), mimetype="application/xml")


@bp.post("/twilio/recording/<int:task_id>")
@twilio_signed
def recording_status(task_id: int):
    task = db.get_or_404(CallbackTask, task_id)
    form = {k: request.form.get(k, "") for k in ("RecordingSid", "RecordingUrl", "RecordingDuration",
                                                   "CallSid", "RecordingStatus")}
    if not form["RecordingStatus"]:
        form.pop("RecordingStatus")
    if (not form["RecordingSid"] or not form["RecordingUrl"].startswith("https://")
            or any(has_control(v) or len(v) > 500 for v in form.values())):
        abort(400)
    store_recording(task, form)
    db.session.commit()
    return "", 204
