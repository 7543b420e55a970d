"""Interviewer entry: staff type in the answers of an offline or phone interview."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from core.accounts import audit
from core.auth import role_required
from core.db import db
from core.i18n import current_locale
from core.labels import choices
from core.settings import get_rule
from core.text import one_line
from surveys.forms import PageAnswers
from surveys.models import Response
from surveys.services import complete_response, definition_of, latest_version, save_answers
from tickets.models import TICKET_KINDS, Customer

bp = Blueprint("surveys_staff", __name__, url_prefix="/interviews")


class InterviewForm(FlaskForm):
    customer = StringField(_l("Customer id (optional)"), validators=[Optional(), Length(max=64)],
                           filters=[one_line])
    ticket_kind = SelectField(_l("Ticket kind"), choices=choices("ticket_kind", TICKET_KINDS, blank="—"),
                              validators=[Optional()])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=64)], filters=[one_line])
    agent = StringField(_l("Agent who handled the ticket"), validators=[Optional(), Length(max=64)],
                        filters=[one_line])


@bp.route("/new", methods=["GET", "POST"])
@role_required("agent")
def interview():
    version = latest_version(get_rule("questionnaire"))
    definition = definition_of(version)
    locale = current_locale()
    meta = InterviewForm()
    # Every question on one page, skip logic applied as on the web survey: a follow-up is
    # revealed as the interviewer enters the answer that asks for it (or on submit, without
    # JavaScript), and answers to questions it hides are not stored.
    sheet = PageAnswers(definition, list(definition.questions), locale, {},
                        formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        return _page(meta, sheet, definition, locale)
    meta_ok, answers_ok = meta.validate_on_submit(), sheet.submit(request.form.getlist("offered"))
    customer = None
    if meta_ok and meta.customer.data:
        customer = db.session.scalar(select(Customer).where(Customer.external_id == meta.customer.data.strip()))
        if customer is None:
            meta.customer.errors.append(_("No customer with this id."))
            meta_ok = False
    if not (meta_ok and answers_ok):
        return _page(meta, sheet, definition, locale), 200 if meta_ok and sheet.revealed else 400
    response = Response(version_id=version.id, channel="interview", interviewer_id=current_user.id,
                        customer_id=customer.id if customer else None,
                        respondent=customer.external_id if customer else "",
                        ticket_kind=meta.ticket_kind.data or "", region=meta.region.data or "",
                        agent=meta.agent.data or "")
    db.session.add(response)
    save_answers(response, sheet.answers())
    db.session.flush()  # the audit names the stored response
    audit("interview", f"response:{response.id}")
    complete_response(response)
    flash(_("Interview saved as response #%(id)s.", id=response.id), "success")
    return redirect(url_for(".interview")), 303


def _page(meta: InterviewForm, sheet: PageAnswers, definition, locale: str) -> str:
    return render_template("surveys/interview.html", meta=meta, sheet=sheet, form=sheet.form,
                           definition=definition, locale=locale)
