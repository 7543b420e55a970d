from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from complaints.models import STAGES
from core.web import plausible_date

STAGE_LABELS = {None: _l("Not yet accepted"), "accepted": _l("Accepted"), "investigated": _l("Investigated"),
                "handled": _l("Handled"), "fed_back": _l("Result fed back"), "rechecked": _l("Re-checked")}
CASE_STATE_LABELS = {"open": _l("In progress"), "reopened": _l("Reopened (second follow-up)"),
                     "closed": _l("Closed")}
RECHECK_LABELS = {None: "—", "yes": _l("Solved"), "no": _l("Not solved"),
                  "no_answer": _l("No answer after the reminder")}
# The result message as staff follow it (channels' codes, named in both languages).
MESSAGE_STATE_LABELS = {"queued": _l("queued, retrying"), "sending": _l("sending"), "sent": _l("sent"),
                        "delivered": _l("delivered"), "undelivered": _l("not delivered"),
                        "failed": _l("failed"), "received": _l("received")}
CHANNEL_LABELS = {"sms": _l("SMS"), "email": _l("e-mail"), "voice": _l("voice call")}
FILE_KIND_LABELS = {"attachment": _l("Attachment"), "letter": _l("Result letter")}


class StageForm(FlaskForm):
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])


class ContentForm(FlaskForm):
    category = StringField(_l("Category"), validators=[Length(max=64)])
    description = TextAreaField(_l("What the customer complains about"), validators=[Length(max=4000)])
    handler = SelectField(_l("Handler"), choices=[], validate_choice=False)


class ExtensionForm(FlaskForm):
    new_due = DateTimeLocalField(_l("New feedback deadline (customer local time)"),
                                 validators=[DataRequired(message=_l("Give the new deadline."))])
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(message=_l("Give the reason for the extension.")),
                                                     Length(max=1000)])


def _required(label):
    return TextAreaField(label, validators=[DataRequired(message=_l("This part of the letter may not be empty.")),
                                            Length(max=500)])


class ResultForm(FlaskForm):
    reason = _required(_l("Reason (what caused the problem)"))
    measures = _required(_l("Measures taken"))
    plan = _required(_l("Rectification plan"))
    followup = _required(_l("Follow-up arrangement"))


class AttachmentForm(FlaskForm):
    file = FileField(_l("File (PDF, image, audio or text; at most 4 MB)"),
                     validators=[FileRequired(message=_l("Choose a file."))])


class LedgerFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    # Unknown values in a GET filter are ignored (ledger_query only knows the real ones).
    stage = SelectField(_l("Stage"), choices=[("", _l("All stages")), ("new", STAGE_LABELS[None])]
                        + [(s, STAGE_LABELS[s]) for s in STAGES], validate_choice=False)
    overdue = SelectField(_l("Overdue"), choices=[("", _l("All")), ("1", _l("Overdue only"))], validate_choice=False)
    region = SelectField(_l("Region"), choices=[("", _l("All regions"))], validate_choice=False)
    category = SelectField(_l("Category"), choices=[("", _l("All categories"))], validate_choice=False)
    handler = SelectField(_l("Handler"), choices=[("", _l("All handlers"))], validate_choice=False)
    date_from = DateField(_l("Received from"), validators=[Optional(), plausible_date])
    date_to = DateField(_l("Received to"), validators=[Optional(), plausible_date])
