from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from callbacks.models import OUTCOMES, RESOLUTION_CATEGORIES, TASK_KINDS

OUTCOME_LABELS = {"reached": _l("Reached"), "no_answer": _l("No answer"), "busy": _l("Busy"),
                  "wrong_number": _l("Wrong number"), "call_back_later": _l("Call back later")}
RESOLUTION_LABELS = {"resolved": _l("Resolved"), "explained": _l("Explained / advised"),
                     "compensated": _l("Compensated"), "transferred": _l("Transferred to another team"),
                     "not_resolved": _l("Not resolved"), "customer_declined": _l("Customer declined")}
STATE_LABELS = {"open": _l("open"), "claimed": _l("claimed"), "in_progress": _l("in progress"),
                "waiting": _l("waiting to call back"), "escalated": _l("escalated"), "done": _l("done"),
                "unreachable": _l("unreachable")}
KIND_LABELS = {"post_handling": _l("Post-handling callback"), "complaint_accept": _l("Complaint: accept"),
               "complaint_investigate": _l("Complaint: investigate"),
               "complaint_feedback": _l("Complaint: feed back result"),
               "complaint_followup": _l("Complaint: second follow-up"),
               "detractor": _l("Unhappy respondent follow-up")}


class AttemptForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES])
    callback_at = DateTimeLocalField(_l("Call back at (customer local time)"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=2000)])


class CloseForm(FlaskForm):
    resolution = SelectField(_l("Resolution"), choices=[(r, RESOLUTION_LABELS[r]) for r in RESOLUTION_CATEGORIES])
    resolved = RadioField(_l("Was the issue resolved?"), choices=[("yes", _l("Yes")), ("no", _l("No"))],
                          validators=[DataRequired()])
    root_cause = TextAreaField(_l("Root cause"), validators=[DataRequired(), Length(max=2000)])


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    kind = SelectField(_l("Kind"), choices=[("", _l("All kinds"))] + [(k, KIND_LABELS[k]) for k in TASK_KINDS])
    tier = SelectField(_l("Tier"), choices=[("", _l("All tiers")), ("1", "1"), ("2", "2"), ("3", "3")])
    region = SelectField(_l("Region"), choices=[("", _l("All regions"))])
