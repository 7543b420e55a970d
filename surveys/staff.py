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
from surveys.forms import page_form, parsed_answers
from surveys.models import Response
from surveys.services import complete_response, definition_of, latest_version, save_answers
from tickets.models import TICKET_KINDS, Customer

bp = Blueprint("surveys_staff", __name__, url_prefix="/interviews")


class InterviewForm(FlaskForm):
    customer = StringField(_l("Customer id (optional)"), validators=[Optional(), Length(max=64)])
    ticket_kind = SelectField(_l("Ticket kind"), choices=choices("ticket_kind", TICKET_KINDS, blank="—"),
                              validators=[Optional()])
    region = StringField(_l("Region"), validators=[Optional(), Length(max=64)])
    agent = StringField(_l("Agent who handled the ticket"), validators=[Optional(), Length(max=64)])


@bp.route("/new", methods=["GET", "POST"])
@role_required("agent")
def interview():
    version = latest_version(get_rule("questionnaire"))
    definition = definition_of(version)
    locale = current_locale()
    meta = InterviewForm()
    # Every question on one page: the interviewer follows the skip logic on the phone, and
    # answers to questions it hides are dropped on completion.
    answers_form = page_form(list(definition.questions), locale, {},
                             formdata=request.form if request.method == "POST" else None)
    if request.method == "POST":
        meta_ok, answers_ok = meta.validate_on_submit(), answers_form.validate()
        customer = None
        if meta_ok and meta.customer.data:
            customer = db.session.scalar(select(Customer).where(Customer.external_id == meta.customer.data.strip()))
            if customer is None:
                meta.customer.errors.append(_("No customer with this id."))
                meta_ok = False
        if meta_ok and answers_ok:
            response = Response(version_id=version.id, channel="interview", interviewer_id=current_user.id,
                                customer_id=customer.id if customer else None,
                                respondent=customer.external_id if customer else "",
                                ticket_kind=meta.ticket_kind.data or "", region=meta.region.data or "",
                                agent=meta.agent.data or "")
            db.session.add(response)
            save_answers(response, parsed_answers(answers_form, list(definition.questions)))
            audit("interview", f"response:{response.id}")
            db.session.flush()
            complete_response(response)
            flash(_("Interview saved as response #%(id)s.", id=response.id), "success")
            return redirect(url_for(".interview")), 303
        return render_template("surveys/interview.html", meta=meta, form=answers_form,
                               definition=definition, locale=locale), 400
    return render_template("surveys/interview.html", meta=meta, form=answers_form,
                           definition=definition, locale=locale)
