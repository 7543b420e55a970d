"""Staff pages: the ledger (/complaints), its exports, and the case page where stages
complete, the deadline is extended, the result is written and evidence is attached."""
from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from complaints import ledger
from complaints.evidence import file_bytes, lacks_evidence, store_file
from complaints.feedback import write_result
from complaints.forms import (
    CASE_STATE_LABELS,
    CHANNEL_LABELS,
    FILE_KIND_LABELS,
    MESSAGE_STATE_LABELS,
    RECHECK_LABELS,
    STAGE_LABELS,
    AttachmentForm,
    ContentForm,
    ExtensionForm,
    LedgerFilterForm,
    ResultForm,
    StageForm,
)
from complaints.models import STAGES, CaseFile, ComplaintCase
from complaints.services import (
    CaseError,
    complete_stage,
    extend_feedback,
    feedback_limit,
    next_stage,
)
from core.accounts import User, audit
from core.auth import role_required
from core.db import db, utcnow
from core.export import csv_response, xlsx_response
from core.settings import get_rule
from core.timeutil import from_local
from core.web import MAX_ID, page_arg

bp = Blueprint("complaints", __name__, url_prefix="/complaints")
PAGE_SIZE = 50
STAFF = ("agent", "manager")


@bp.app_context_processor
def labels():
    return {"STAGE_LABELS": STAGE_LABELS, "CASE_STATE_LABELS": CASE_STATE_LABELS,
            "RECHECK_LABELS": RECHECK_LABELS, "FILE_KIND_LABELS": FILE_KIND_LABELS,
            "MESSAGE_STATE_LABELS": MESSAGE_STATE_LABELS, "CHANNEL_LABELS": CHANNEL_LABELS}


def _filters() -> tuple[LedgerFilterForm, dict]:
    form = LedgerFilterForm(request.args)
    known = ledger.known_values()
    form.region.choices += [(r, r) for r in known["regions"]]
    form.category.choices += [(c, c) for c in known["categories"]]
    form.handler.choices += known["handlers"]
    if request.args:
        form.validate()
    values = {name: field.data for name, field in form._fields.items() if not field.errors}
    values["overdue"] = values.get("overdue") == "1"
    if values.get("handler") and not (str(values["handler"]).isdigit() and int(values["handler"]) <= MAX_ID):
        values["handler"] = None
    return form, values


@bp.route("")
@role_required(*STAFF)
def ledger_page():
    form, values = _filters()
    page = page_arg()
    now = utcnow()
    query = ledger.ledger_query(values, now)
    total = db.session.scalar(select(func.count()).select_from(query.with_only_columns(ComplaintCase.id).subquery()))
    cases = db.session.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    days = int(get_rule("evidence_days"))
    return render_template("complaints/list.html", form=form, cases=cases, now=now, total=total, page=page,
                           pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
                           filter_args={k: v for k, v in request.args.items() if k != "page"},
                           overdue={c.id for c in cases if ledger.is_overdue(c, now)},
                           unproven={c.id for c in cases if lacks_evidence(c, days, now)})


@bp.route("/export.<fmt>")
@role_required(*STAFF)
def export(fmt: str):
    if fmt not in ("csv", "xlsx"):
        abort(404)
    _form, values = _filters()
    rows = ledger.export_rows(values, int(get_rule("evidence_days")))
    audit("export_complaints", "complaints", format=fmt)
    db.session.commit()
    if fmt == "xlsx":
        return xlsx_response({_("Complaint ledger"): list(rows)}, "huifang-complaints.xlsx")
    return csv_response(rows, "huifang-complaints.csv")


def _case(case_id: int) -> ComplaintCase:
    return db.get_or_404(ComplaintCase, case_id)


def _page(case: ComplaintCase, status: int = 200, **forms) -> tuple[str, int]:
    """The case page; re-rendered with a form's errors (and a 400) when a step is refused."""
    now = utcnow()
    content = forms.get("content_form") or ContentForm(formdata=None, category=case.category,
                                                       description=case.description,
                                                       handler=str(case.handler_id or ""))
    content.handler.choices = [("", "—")] + [
        (str(u.id), u.name) for u in db.session.scalars(select(User).where(User.active, User.role != "admin")
                                                       .order_by(User.name))]
    result = forms.get("result_form") or ResultForm(formdata=None, reason=case.result_reason,
                                                    measures=case.result_measures, plan=case.result_plan,
                                                    followup=case.result_followup)
    return render_template(
        "complaints/case.html", case=case, now=now, next_stage=next_stage(case), STAGES=STAGES,
        stage_form=forms.get("stage_form") or StageForm(formdata=None), content_form=content,
        extension_form=forms.get("extension_form") or ExtensionForm(formdata=None), result_form=result,
        attachment_form=forms.get("attachment_form") or AttachmentForm(formdata=None),
        error=forms.get("error"), limit=feedback_limit(case),
        unproven=lacks_evidence(case, int(get_rule("evidence_days")), now),
        is_supervisor=current_user.has_role("manager")), status


@bp.route("/<int:case_id>")
@role_required(*STAFF)
def case_page(case_id: int):
    return _page(_case(case_id))


def _done(case: ComplaintCase, message: str):
    flash(message, "success")
    return redirect(url_for(".case_page", case_id=case.id)), 303


def _refused(case: ComplaintCase, exc: Exception, **forms):
    db.session.rollback()
    return _page(db.session.get(ComplaintCase, case.id), 400, error=str(exc), **forms)


@bp.post("/<int:case_id>/stages/<name>")
@role_required(*STAFF)
def complete(case_id: int, name: str):
    case = _case(case_id)
    form = StageForm()
    if not form.validate_on_submit():
        return _page(case, 400, stage_form=form)
    try:
        complete_stage(case, name, current_user, note=form.note.data or "")
        db.session.commit()
    except CaseError as exc:
        return _refused(case, exc, stage_form=form)
    return _done(case, _("Stage completed: %(stage)s.", stage=STAGE_LABELS.get(name)))


@bp.post("/<int:case_id>/content")
@role_required(*STAFF)
def edit_content(case_id: int):
    case = _case(case_id)
    form = ContentForm()
    if not form.validate_on_submit():
        return _page(case, 400, content_form=form)
    handler = db.session.get(User, int(form.handler.data)) if (form.handler.data or "").isdigit() else None
    case.category, case.description = form.category.data.strip(), form.description.data.strip()
    case.handler_id = handler.id if handler else None
    audit("complaint_content", f"case:{case.id}", handler=case.handler_id)
    db.session.commit()
    return _done(case, _("Case saved."))


@bp.post("/<int:case_id>/extend")
@role_required(*STAFF)
def extend(case_id: int):
    case = _case(case_id)
    form = ExtensionForm()
    if not form.validate_on_submit():
        return _page(case, 400, extension_form=form)
    try:
        extend_feedback(case, current_user, from_local(form.new_due.data, case.customer.timezone), form.reason.data)
        db.session.commit()
    except CaseError as exc:
        return _refused(case, exc, extension_form=form)
    return _done(case, _("Extension approved."))


@bp.post("/<int:case_id>/result")
@role_required(*STAFF)
def result(case_id: int):
    case = _case(case_id)
    form = ResultForm()
    if not form.validate_on_submit():
        return _page(case, 400, result_form=form)
    try:
        message = write_result(case, current_user, {k: form[k].data for k in ("reason", "measures", "plan", "followup")})
    except CaseError as exc:
        return _refused(case, exc, result_form=form)
    sent = message.state in ("sent", "delivered")
    return _done(case, _("The result was sent to the customer.") if sent else
                 _("The result is queued for the customer; the feedback stage completes once it is sent."))


@bp.post("/<int:case_id>/files")
@role_required(*STAFF)
def upload(case_id: int):
    case = _case(case_id)
    form = AttachmentForm()
    if not form.validate_on_submit():
        return _page(case, 400, attachment_form=form)
    upload = form.file.data
    try:
        store_file(case, "attachment", upload.filename or "file", upload.read(), current_user)
        db.session.commit()
    except CaseError as exc:
        return _refused(case, exc, attachment_form=form)
    return _done(case, _("File attached."))


@bp.route("/<int:case_id>/files/<int:file_id>")
@role_required(*STAFF)
def download(case_id: int, file_id: int):
    row = db.session.get(CaseFile, file_id)
    if row is None or row.case_id != case_id:
        abort(404)
    audit("complaint_file_download", f"case:{case_id}", file=row.id)
    db.session.commit()
    # Always a download, never rendered in the browser: an uploaded file cannot run as a page.
    return send_file(io.BytesIO(file_bytes(row)), mimetype=row.content_type, as_attachment=True,
                     download_name=row.filename)
