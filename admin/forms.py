from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    FloatField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, ValidationError

from core.accounts import ROLES
from core.labels import choices
from tickets.models import TICKET_KINDS


class Checkboxes(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]


CHANNEL_ORDER_CODES = ("sms", "voice", "email")
CHANNEL_FIELDS = ("channel_1", "channel_2", "channel_3")


class RulesForm(FlaskForm):
    invitation_delay_hours = FloatField(_l("Invitation delay after handling (hours)"), validators=[NumberRange(0, 240)])
    quiet_hours_start = IntegerField(_l("Invitations allowed from (hour, customer local time)"), validators=[NumberRange(0, 23)])
    quiet_hours_end = IntegerField(_l("Invitations allowed until (hour)"), validators=[NumberRange(1, 24)])
    cap_days = IntegerField(_l("At most one invitation per customer every (days)"), validators=[NumberRange(0, 365)])
    reminder_after_hours = FloatField(_l("Reminder if not answered after (hours, 0 = none)"), validators=[NumberRange(0, 720)])
    link_expiry_days = IntegerField(_l("Survey link expires after (days)"), validators=[NumberRange(1, 90)])
    survey_kinds = Checkboxes(_l("Ticket kinds that get a survey"), choices=choices("ticket_kind", TICKET_KINDS))
    callback_kinds = Checkboxes(_l("Ticket kinds that get a post-handling callback (complaints always do)"),
                                choices=choices("ticket_kind", [k for k in TICKET_KINDS if k != "complaint"]))
    # The channel order as three choices a person reads, not a list of codes to type.
    channel_1 = SelectField(_l("Channel tried first when the customer has no preference"),
                            choices=choices("channel", CHANNEL_ORDER_CODES))
    channel_2 = SelectField(_l("Channel tried second"), choices=choices("channel", CHANNEL_ORDER_CODES, _l("none")))
    channel_3 = SelectField(_l("Channel tried third"), choices=choices("channel", CHANNEL_ORDER_CODES, _l("none")))
    deadline_post_handling_hours = FloatField(_l("Post-handling callback within (hours)"), validators=[NumberRange(1, 720)])
    deadline_complaint_accept_hours = FloatField(_l("Complaint accepted within (hours)"), validators=[NumberRange(1, 720)])
    deadline_complaint_investigate_hours = FloatField(_l("Complaint investigated within (hours)"), validators=[NumberRange(1, 720)])
    deadline_complaint_feedback_working_days = IntegerField(_l("Complaint result fed back within (working days)"), validators=[NumberRange(1, 30)])
    deadline_detractor_hours = FloatField(_l("Unhappy respondent follow-up within (hours)"), validators=[NumberRange(1, 720)])
    holidays = TextAreaField(_l("Holidays (one ISO date per line)"))
    retry_max_attempts = IntegerField(_l("Call attempts before 'unreachable'"), validators=[NumberRange(1, 10)])
    retry_gap_hours = FloatField(_l("Hours between attempts"), validators=[NumberRange(0, 72)])
    escalation_interval_hours = FloatField(_l("Escalate again after (hours)"), validators=[NumberRange(1, 720)])
    recheck_after_days = IntegerField(_l("Complaint re-check after the result (days)"), validators=[NumberRange(1, 90)])
    recheck_reminder_hours = FloatField(_l("Re-check reminder, then reopen, after (hours without answer)"),
                                        validators=[NumberRange(1, 720)])
    evidence_days = IntegerField(_l("Flag complaints without evidence after acceptance (days)"),
                                 validators=[NumberRange(1, 90)])
    supervisor_emails = TextAreaField(_l("Supervisors notified of escalations (e-mails)"))
    manager_emails = TextAreaField(_l("Managers who receive every scheduled report (one e-mail per line; add \"en\" after the address for English)"))
    report_recipients_monthly = TextAreaField(_l("Also receive the monthly report"))
    report_recipients_quarterly = TextAreaField(_l("Also receive the quarterly report"))
    report_recipients_annual = TextAreaField(_l("Also receive the annual report"))
    retention_months = IntegerField(_l("Anonymise responses older than (months, 0 = never)"), validators=[NumberRange(0, 120)])

    def validate_quiet_hours_end(self, field):
        if self.quiet_hours_start.data is not None and field.data <= self.quiet_hours_start.data:
            raise ValidationError(_l("must be later than the start hour"))

    def validate_channel_3(self, field):
        chosen = self.channel_order()
        if len(set(chosen)) != len(chosen):
            raise ValidationError(_l("choose each channel once"))

    def channel_order(self) -> list[str]:
        return [self[name].data for name in CHANNEL_FIELDS if self[name].data]

    def validate_holidays(self, field):
        for line in _lines(field.data):
            try:
                date.fromisoformat(line)
            except ValueError as exc:
                raise ValidationError(_l("%(value)s is not a date like 2026-10-01", value=line)) from exc

    def _validate_emails(self, field):
        for line in _lines(field.data):
            if "@" not in line or " " in line:
                raise ValidationError(_l("%(value)s is not an e-mail address", value=line))

    def _validate_recipients(self, field):
        """Report recipients: an address, optionally followed by its language (zh-CN or en)."""
        for line in _lines(field.data):
            parts = line.split()
            if "@" not in parts[0] or len(parts) > 2 or (len(parts) == 2 and parts[1] not in ("zh-CN", "en")):
                raise ValidationError(_l("%(value)s is not an e-mail address, optionally followed by zh-CN or en",
                                         value=line))

    validate_supervisor_emails = _validate_emails
    validate_manager_emails = _validate_recipients
    validate_report_recipients_monthly = _validate_recipients
    validate_report_recipients_quarterly = _validate_recipients
    validate_report_recipients_annual = _validate_recipients

    LIST_FIELDS = ("holidays", "supervisor_emails", "manager_emails", "report_recipients_monthly",
                   "report_recipients_quarterly", "report_recipients_annual")

    def to_rules(self) -> dict:
        rules = {}
        for name, field in self._fields.items():
            if name == "csrf_token" or name in CHANNEL_FIELDS:
                continue
            rules[name] = _lines(field.data) if name in self.LIST_FIELDS else field.data
        rules["channel_order"] = self.channel_order()
        # Complaints always get their callback: the box is not offered, the rule keeps it.
        rules["callback_kinds"] = [k for k in TICKET_KINDS if k in (rules["callback_kinds"] or []) or k == "complaint"]
        return rules

    def load(self, rules: dict) -> None:
        for name, field in self._fields.items():
            if name in rules:
                field.data = self._joined(field, rules[name]) if name in self.LIST_FIELDS else rules[name]
        order = list(rules.get("channel_order", []))
        for position, name in enumerate(CHANNEL_FIELDS):
            self[name].data = order[position] if position < len(order) else ""

    @staticmethod
    def _joined(field, values: list[str]) -> str:
        """A one-line box gets "sms, email" (a line feed would be lost by the browser and the
        page could not be saved unchanged); a text area gets one value per line."""
        return ("\n" if isinstance(field, TextAreaField) else ", ").join(values)


class UserForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Email()])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    role = SelectField(_l("Role"), choices=choices("role", ROLES))
    phone = StringField(_l("Phone for click-to-call (E.164, optional)"), validators=[Length(max=20)])
    password = PasswordField(_l("Initial password"), validators=[DataRequired(), Length(min=8, max=128)])


SCOPE_LABELS = {"tickets:write": _l("Report tickets (tickets:write)"),
                "results:read": _l("Read results: responses, reports, tasks, complaints (results:read)")}


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Which system uses this key"), validators=[DataRequired(), Length(max=120)])
    scopes = Checkboxes(_l("What the key may do"), choices=list(SCOPE_LABELS.items()),
                        default=["tickets:write"], validators=[DataRequired(_l("choose at least one scope"))])


class QuestionnaireForm(FlaskForm):
    definition = TextAreaField(_l("Definition (YAML)"), validators=[DataRequired(), Length(max=100_000)])


class CustomerLookupForm(FlaskForm):
    reference = StringField(_l("Customer ID or phone number"), validators=[DataRequired(), Length(max=64)])


class EraseForm(FlaskForm):
    confirm = StringField(_l("Type the customer's ID to confirm"), validators=[DataRequired(), Length(max=64)])


TICKET_KIND_LABELS = {"inquiry": _l("Inquiry"), "business": _l("Business request"), "fault": _l("Fault repair"),
                      "complaint": _l("Complaint")}
INVITATION_CHANNEL_LABELS = {"sms": _l("SMS"), "voice": _l("Voice call"), "email": _l("E-mail")}


class RouteForm(FlaskForm):
    """Which questionnaire invitations for a ticket kind and channel get."""
    ticket_kind = SelectField(_l("Ticket kind"), choices=[("", _l("any kind"))] + list(TICKET_KIND_LABELS.items()))
    channel = SelectField(_l("Channel"), choices=[("", _l("any channel"))] + list(INVITATION_CHANNEL_LABELS.items()))
    questionnaire = SelectField(_l("Questionnaire"), choices=[])
