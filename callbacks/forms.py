from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from callbacks.models import OUTCOMES, RESOLUTION_CATEGORIES, TASK_KINDS
from core.labels import choices


class AttemptForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=choices("outcome", OUTCOMES))
    callback_at = DateTimeLocalField(_l("Call back at (customer local time)"), validators=[Optional()])
    notes = TextAreaField(_l("Notes"), validators=[Length(max=2000)])


class CloseForm(FlaskForm):
    resolution = SelectField(_l("Resolution"), choices=choices("resolution", RESOLUTION_CATEGORIES))
    resolved = RadioField(_l("Was the issue resolved?"), choices=[("yes", _l("Yes")), ("no", _l("No"))],
                          validators=[DataRequired()])
    root_cause = TextAreaField(_l("Root cause"), validators=[DataRequired(), Length(max=2000)])


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    kind = SelectField(_l("Kind"), choices=choices("task_kind", TASK_KINDS, blank=_l("All kinds")))
    tier = SelectField(_l("Tier"), choices=[("", _l("All tiers")), ("1", "1"), ("2", "2"), ("3", "3")])
    region = SelectField(_l("Region"), choices=[("", _l("All regions"))])
    mine = BooleanField(_l("Only my tasks"))
