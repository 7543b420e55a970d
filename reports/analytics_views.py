"""Improvement actions: managers turn suggestions into actions; owners see and close theirs."""
from __future__ import annotations

from datetime import date, timedelta

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from core.accounts import User, audit
from core.auth import role_required
from core.db import db
from reports.actions import (
    STATES,
    ActionError,
    create_action,
    effect,
    parse_period,
    period_label,
    set_state,
)
from reports.labels import METRIC_LABELS, STATE_LABELS
from reports.models import ImprovementAction
from reports.scope import local_today

bp = Blueprint("analytics", __name__)


def _previous_month(today: date) -> str:
    return period_label("month", today.replace(day=1) - timedelta(days=1))


class ActionForm(FlaskForm):
    title = StringField(_l("What will be done"), validators=[DataRequired(), Length(max=200)])
    owner_id = SelectField(_l("Owner"), coerce=int, validators=[DataRequired()])
    due_date = DateField(_l("Due date"), validators=[DataRequired()])
    metric = SelectField(_l("Target metric"), choices=list(METRIC_LABELS.items()))
    baseline_period = StringField(_l("Baseline period (2026-06, 2026-Q2 or 2026-W23)"),
                                  validators=[DataRequired(), Length(max=10)])
    source = TextAreaField(_l("From the suggestion"), validators=[Length(max=2000)])

    def validate_baseline_period(self, field):
        try:
            parse_period(field.data.strip())
        except ActionError as exc:
            raise ValidationError(str(exc)) from exc


class StateForm(FlaskForm):
    state = SelectField(_l("State"), choices=list(STATE_LABELS.items()))
    note = TextAreaField(_l("Note"), validators=[Length(max=2000)])


def _staff_choices() -> list[tuple[int, str]]:
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)).all()
    return [(u.id, f"{u.name} <{u.email}>") for u in users]


@bp.route("/actions")
@login_required
def action_list():
    query = select(ImprovementAction).order_by(ImprovementAction.state.desc(), ImprovementAction.due_date)
    mine_only = not current_user.has_role("manager") or request.args.get("mine") == "1"
    if mine_only:
        query = query.where(ImprovementAction.owner_id == current_user.id)
    actions = db.session.scalars(query.limit(500)).all()
    today = local_today()
    return render_template("reports/actions.html", actions=actions, mine_only=mine_only, today=today,
                           metric_labels=METRIC_LABELS, state_labels=STATE_LABELS)


@bp.route("/actions/new", methods=["GET", "POST"])
@role_required("manager")
def new_action():
    form = ActionForm(data=None if request.method == "POST" else {
        "title": request.args.get("text", "")[:200], "metric": request.args.get("metric", "csat"),
        "source": request.args.get("reason", "")[:2000], "owner_id": current_user.id,
        "due_date": local_today() + timedelta(days=30), "baseline_period": _previous_month(local_today())})
    form.owner_id.choices = _staff_choices()
    if form.metric.data not in METRIC_LABELS:
        form.metric.data = "csat"
    if form.validate_on_submit():
        action = create_action(form.title.data, form.owner_id.data, form.due_date.data, form.metric.data,
                               form.baseline_period.data.strip(), current_user.id, form.source.data or "")
        db.session.flush()
        audit("action_create", f"action:{action.id}", metric=action.metric, owner=action.owner_id)
        db.session.commit()
        flash(_("Action created."))
        return redirect(url_for("analytics.action_detail", action_id=action.id))
    return render_template("reports/action_form.html", form=form), 400 if form.errors else 200


def _visible_action(action_id: int) -> ImprovementAction:
    action = db.session.get(ImprovementAction, action_id) if 0 < action_id < 2**31 else None
    if action is None:
        abort(404)
    if action.owner_id != current_user.id and not current_user.has_role("manager"):
        abort(403)
    return action


@bp.route("/actions/<int:action_id>", methods=["GET", "POST"])
@login_required
def action_detail(action_id: int):
    action = _visible_action(action_id)
    form = StateForm(data={"state": action.state, "note": action.note} if request.method == "GET" else None)
    if form.validate_on_submit():
        if form.state.data not in STATES:
            abort(400)
        set_state(action, form.state.data, form.note.data or "")
        audit("action_state", f"action:{action.id}", state=action.state)
        db.session.commit()
        flash(_("Saved."))
        return redirect(url_for("analytics.action_detail", action_id=action.id))
    return render_template("reports/action.html", action=action, form=form, effect=effect(action),
                           metric_labels=METRIC_LABELS, state_labels=STATE_LABELS), 400 if form.errors else 200


@bp.route("/scorecards")
@login_required
def scorecards_page():
    """Managers see every agent's and team's card; a callback agent sees their own."""
    from reports.figures import Scope
    from reports.scorecards import scorecards, staff_scorecard

    today = local_today()
    start = (today.replace(day=1) - timedelta(days=62)).replace(day=1)  # this month and the two before
    scope = Scope(start, today)
    manager = current_user.has_role("manager")
    return render_template(
        "reports/scorecards.html", start=start, end=today, manager=manager,
        agents=scorecards(scope, "agent") if manager else None,
        teams=scorecards(scope, "region") if manager else None,
        mine=staff_scorecard(scope, current_user.id))


@bp.route("/reports/<int:report_id>/suggestions")
@role_required("manager")
def report_suggestions(report_id: int):
    """The suggestions of an archived report, each ready to become an action."""
    import json

    from reports.models import GeneratedReport
    report = db.session.get(GeneratedReport, report_id) if 0 < report_id < 2**31 else None
    if report is None:
        abort(404)
    figures = {"suggestions": json.loads(report.figures_json).get("suggestions", [])}
    return render_template("reports/report_suggestions.html", report=report, r=figures)
