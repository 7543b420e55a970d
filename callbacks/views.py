"""The staff work list (/callbacks) and the supervisor's view of overdue tasks."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from callbacks.forms import AttemptForm, CloseForm, FilterForm
from callbacks.models import ACTIVE_STATES, WORKED_STATES, CallbackTask
from callbacks.services import (
    TaskError,
    claim,
    click_to_call,
    close,
    is_worked_by,
    record_attempt,
    release,
    work_list_query,
)
from channels.transports import twilio_configured
from core.accounts import audit
from core.auth import role_required
from core.db import db, utcnow
from core.i18n import current_locale
from core.timeutil import from_local
from core.web import page_arg
from surveys.models import Response
from surveys.services import readable_answers
from tickets.models import Ticket

bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")
PAGE_SIZE = 50


def _regions() -> list[str]:
    return [r for r in db.session.scalars(select(Ticket.region).distinct().order_by(Ticket.region)) if r]


@bp.route("")
@role_required("agent")
def work_list():
    form = FilterForm(request.args)
    form.region.choices += [(r, r) for r in _regions()]
    page = page_arg()
    query = work_list_query(kind=form.kind.data or None,
                            tier=int(form.tier.data) if form.tier.data in ("1", "2", "3") else None,
                            region=form.region.data or None,
                            owner_id=current_user.id if form.mine.data else None)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    tasks = db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    mine = db.session.scalars(work_list_query(states=WORKED_STATES, owner_id=current_user.id)).all()
    return render_template("callbacks/list.html", tasks=tasks, mine=mine, form=form, page=page, total=total,
                           filter_args={k: v for k, v in request.args.items() if k != "page"},
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), now=utcnow())


def _task_or_404(task_id: int) -> CallbackTask:
    return db.get_or_404(CallbackTask, task_id)


def _task_page(task: CallbackTask, attempt_form: AttemptForm | None = None,
               close_form: CloseForm | None = None) -> str:
    """The task with the customer's history; also re-rendered with a form's errors."""
    history = db.session.scalars(select(Response).where(Response.customer_id == task.customer_id)
                                 .order_by(Response.started_at.desc()).limit(20)).all()
    earlier = db.session.scalars(select(CallbackTask).where(CallbackTask.customer_id == task.customer_id,
                                                            CallbackTask.id != task.id)
                                 .order_by(CallbackTask.created_at.desc()).limit(20)).all()
    working = is_worked_by(task, current_user.id)
    if working:  # the full number is shown only to the person working the task, and audited
        audit("view_phone", f"task:{task.id}")
        db.session.commit()
    answers = readable_answers(task.response, current_locale()) if task.response else []
    return render_template("callbacks/task.html", task=task, responses=history, earlier=earlier, answers=answers,
                           working=working, now=utcnow(),
                           attempt_form=attempt_form or AttemptForm(formdata=None),
                           close_form=close_form or CloseForm(formdata=None),
                           can_click_to_call=working and twilio_configured() and bool(current_user.phone))


@bp.route("/<int:task_id>")
@role_required("agent")
def task(task_id: int):
    return _task_page(_task_or_404(task_id))


@bp.post("/<int:task_id>/claim")
@role_required("agent")
def claim_task(task_id: int):
    _task_or_404(task_id)
    if claim(task_id, current_user.id):
        flash(_("Task claimed: it is yours now."), "success")
    else:
        flash(_("Someone else has claimed this task already."), "error")
        return redirect(url_for(".work_list")), 303
    return redirect(url_for(".task", task_id=task_id)), 303


@bp.post("/<int:task_id>/release")
@role_required("agent")
def release_task(task_id: int):
    task = _task_or_404(task_id)
    if task.owner_id != current_user.id and not current_user.has_role("admin"):
        abort(403)
    try:
        release(task, current_user.id)
    except TaskError as exc:
        flash(str(exc), "error")
    return redirect(url_for(".work_list")), 303


@bp.post("/<int:task_id>/call")
@role_required("agent")
def call_customer(task_id: int):
    task = _task_or_404(task_id)
    try:
        click_to_call(task, current_user)
        flash(_("Your phone will ring: answer it to be connected to the customer."), "success")
    except TaskError as exc:
        flash(str(exc), "error")
    return redirect(url_for(".task", task_id=task.id)), 303


@bp.post("/<int:task_id>/attempts")
@role_required("agent")
def add_attempt(task_id: int):
    task = _task_or_404(task_id)
    form = AttemptForm()
    if form.validate_on_submit():
        callback_at = from_local(form.callback_at.data, task.customer.timezone) if form.callback_at.data else None
        try:
            record_attempt(task, current_user.id, form.outcome.data, form.notes.data or "", callback_at)
            audit("record_attempt", f"task:{task.id}", outcome=form.outcome.data)
            db.session.commit()
            flash(_("Call recorded."), "success")
            return redirect(url_for(".task", task_id=task.id)), 303
        except TaskError as exc:
            db.session.rollback()
            form.outcome.errors.append(str(exc))
    return _task_page(task, attempt_form=form), 400


@bp.post("/<int:task_id>/close")
@role_required("agent")
def close_task(task_id: int):
    task = _task_or_404(task_id)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            close(task, current_user.id, form.resolution.data, form.resolved.data == "yes",
                  form.root_cause.data)
            audit("close_task", f"task:{task.id}", resolution=form.resolution.data)
            db.session.commit()
            flash(_("Task closed."), "success")
            return redirect(url_for(".work_list")), 303
        except TaskError as exc:
            db.session.rollback()
            form.resolution.errors.append(str(exc))
    return _task_page(task, close_form=form), 400


@bp.route("/supervisor")
@role_required("manager")
def supervisor():
    now = utcnow()
    overdue = db.session.scalars(select(CallbackTask).where(CallbackTask.state.in_(ACTIVE_STATES),
                                                            CallbackTask.due_at < now)
                                 .order_by(CallbackTask.tier.desc(), CallbackTask.due_at).limit(200)).all()
    counts = dict(db.session.execute(select(CallbackTask.state, func.count()).group_by(CallbackTask.state)).all())
    return render_template("callbacks/supervisor.html", overdue=overdue, counts=counts, now=now)
