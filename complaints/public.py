"""The customer's re-check page (复检): the link in the re-check SMS or e-mail asks whether the
problem stayed solved. The token in the link is the only credential."""
from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request
from flask_wtf import FlaskForm

from complaints.feedback import answer_recheck, case_for_recheck
from complaints.services import CaseError

bp = Blueprint("recheck", __name__)


@bp.route("/c/<token>", methods=["GET", "POST"])
def recheck(token: str):
    case = case_for_recheck(token)
    if case is None:
        abort(404)
    g.locale = case.customer.locale
    form = FlaskForm()
    answered = case.current("rechecked").completed_at is not None
    error = None
    if request.method == "POST" and not answered:
        if not form.validate_on_submit():
            abort(400)
        try:
            answer_recheck(case, request.form.get("answer", ""))
            answered = True
        except CaseError as exc:
            error = str(exc)
    return render_template("complaints/recheck.html", case=case, form=form, answered=answered,
                           error=error), 400 if error else 200
