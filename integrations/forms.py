from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length, ValidationError

# Every event type integrators can subscribe to, with the label staff read.
EVENT_LABELS = {
    "response.completed": _l("A survey response is completed"),
    "task.created": _l("A callback task is created"),
    "task.closed": _l("A callback task is closed"),
    "complaint.stage_completed": _l("A complaint stage is completed"),
    "complaint.reopened": _l("A complaint is reopened"),
}
STATE_LABELS = {"pending": _l("retrying"), "delivered": _l("delivered"), "failed": _l("failed")}


class WebhookForm(FlaskForm):
    url = StringField(_l("Receiver URL (https://…)"), validators=[DataRequired(), Length(max=500)])
    description = StringField(_l("Which system receives these events"), validators=[Length(max=120)])
    event_types = SelectMultipleField(_l("Events to send"), choices=list(EVENT_LABELS.items()),
                                      widget=widgets.ListWidget(prefix_label=False),
                                      option_widget=widgets.CheckboxInput(),
                                      validators=[DataRequired(_l("choose at least one event"))])

    def validate_url(self, field):
        from urllib.parse import urlsplit
        parts = urlsplit(field.data or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(_l("enter an http:// or https:// address"))
