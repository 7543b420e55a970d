"""Management dashboard, exports and the report archive."""
from __future__ import annotations

import json

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from wtforms import DateField, SelectField
from wtforms.validators import DataRequired, ValidationError

from core.accounts import audit
from core.auth import role_required
from core.db import db
from core.export import csv_response, xlsx_response
from core.i18n import current_locale
from core.labels import choices
from core.web import ManyOptions
from reports.figures import BREAKDOWNS, Scope, compute_report
from reports.models import GeneratedReport
from reports.present import present
from reports.rollups import known_values
from reports.scope import local_today
from reports.stored_themes import default_range, request_scope
from surveys.models import CHANNELS
from surveys.models import Response as SurveyResponse
from tickets.models import TICKET_KINDS

bp = Blueprint("reports", __name__)
MAX_DAYS = 3 * 366


class ReportFilter(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    date_from = DateField(_l("Start date"), validators=[DataRequired()])
    date_to = DateField(_l("End date"), validators=[DataRequired()])
    period = SelectField(_l("Group by"), choices=choices("period"),
                         default="month")
    channel = SelectField(_l("Channel"), choices=choices("channel", CHANNELS, blank=_l("All channels")), default="")
    ticket_kind = SelectField(_l("Ticket kind"), choices=choices("ticket_kind", TICKET_KINDS, blank=_l("All kinds")), default="")
    region = SelectField(_l("Region"), choices=[("", _l("All regions"))], default="", validate_choice=False,
                         widget=ManyOptions())
    agent = SelectField(_l("Agent"), choices=[("", _l("All agents"))], default="", validate_choice=False,
                        widget=ManyOptions())

    def validate_date_to(self, field):
        if self.date_from.data and field.data:
            if field.data < self.date_from.data:
                raise ValidationError(_l("must not be before the start"))
            if (field.data - self.date_from.data).days > MAX_DAYS:
                raise ValidationError(_l("at most three years at a time"))

    def filters(self) -> dict[str, str]:
        return {k: getattr(self, k).data for k in BREAKDOWNS if getattr(self, k).data}


def _filter_form() -> ReportFilter:
    args = request.args.to_dict()
    # Recent months, and never a range that starts long before the data.
    date_from, date_to = default_range(local_today())
    args.setdefault("date_from", date_from.isoformat())
    args.setdefault("date_to", date_to.isoformat())
    return ReportFilter(formdata=MultiDict(args))


def _offer_known_values(form: ReportFilter) -> None:
    """The region and agent drop-downs list the values completed responses have, from the
    rollups (only for the page that shows them; the filters accept any value)."""
    for name in ("region", "agent"):
        getattr(form, name).choices += [(v, v) for v in known_values(name) if v]


def _report_from_request() -> tuple[ReportFilter, dict | None]:
    form = _filter_form()
    if not form.validate():
        return form, None
    return form, compute_report(form.date_from.data, form.date_to.data, form.period.data, form.filters(),
                                locale=current_locale())


@bp.route("/dashboard")
@role_required("manager")
def dashboard():
    form, report = _report_from_request()
    _offer_known_values(form)
    if report and not (report["themes_source"] or {}).get("exact"):
        request_scope(Scope(form.date_from.data, form.date_to.data, form.filters()))  # for the next scheduler run
    view = present(report, current_locale(), fast_charts=True) if report else None
    query = {k: v for k, v in request.args.items()}
    return render_template("reports/dashboard.html", form=form, r=report, v=view, query=query), 200 if report else 400


def figure_rows(report: dict) -> dict[str, list]:
    trend = [["period", "n", "satisfaction_index", "csat", "csat_ci_low", "csat_ci_high", "nps", "p_value",
              "significant", "low_sample"]]
    trend += [[t[k] for k in trend[0]] for t in report["trend"]]
    dims = [["dimension", "mean", "index", "importance", "priority", "quadrant"]]
    dims += [[k] + [report["dimensions"][k][f] for f in dims[0][1:]] for k in report["drivers"]]
    breakdowns = [["by", "key", "n", "satisfaction_index", "csat", "nps"]]
    for by, rows in report["breakdowns"].items():
        breakdowns += [[by, r["key"], r["n"], r["satisfaction_index"], r["csat"]["value"], r["nps"]] for r in rows]
    sla = [["task_kind", "total", "on_time", "sla"]]
    sla += [[k, v["total"], v["on_time"], v["sla"]] for k, v in sorted(report["callbacks"].items())]
    return {"trend": trend, "drivers": dims, "breakdowns": breakdowns, "callbacks": sla}


@bp.route("/dashboard/figures.<fmt>")
@role_required("manager")
def export_figures(fmt: str):
    form, report = _report_from_request()
    if report is None or fmt not in ("csv", "xlsx"):
        abort(400)
    sheets = figure_rows(report)
    if fmt == "xlsx":
        return xlsx_response(sheets, "huifang-figures.xlsx")
    rows = [row for title, table in sheets.items() for row in [[f"# {title}"], *table, []]]
    return csv_response(rows, "huifang-figures.csv")


def response_rows(form: ReportFilter):
    from surveys.models import DIMENSIONS

    keys = ["overall", *DIMENSIONS, "nps", "resolved", "callback", "comment"]
    yield ["response_id", "completed_at", "channel", "respondent", "ticket_kind", "region", "agent", *keys]
    scope = Scope(form.date_from.data, form.date_to.data, form.filters())
    query = (select(SurveyResponse).where(*scope.where()).order_by(SurveyResponse.completed_at)
             .execution_options(yield_per=1000))
    for response in db.session.scalars(query):
        answers = response.answer_map()
        yield [response.id, response.completed_at.isoformat(), response.channel, response.respondent,
               response.ticket_kind, response.region, response.agent, *[answers.get(k, "") for k in keys]]


@bp.route("/dashboard/responses.<fmt>")
@role_required("manager")
def export_responses(fmt: str):
    """Raw responses hold personal data: manager role only, and every export is audited."""
    form = _filter_form()
    if not form.validate() or fmt not in ("csv", "xlsx"):
        abort(400)
    audit("export_responses", fmt, date_from=form.date_from.data.isoformat(),
          date_to=form.date_to.data.isoformat(), filters=form.filters())
    db.session.commit()
    if fmt == "xlsx":
        return xlsx_response({"responses": list(response_rows(form))}, "huifang-responses.xlsx")
    return csv_response(response_rows(form), "huifang-responses.csv")


@bp.route("/reports")
@role_required("manager")
def archive():
    reports = db.session.scalars(select(GeneratedReport).order_by(GeneratedReport.created_at.desc()).limit(200)).all()
    return render_template("reports/archive.html", reports=reports)


@bp.post("/reports/generate")
@role_required("manager")
def generate():
    from reports.scheduled import generate_report

    form = _filter_form()
    if not form.validate():
        abort(400)
    report = generate_report("adhoc", form.date_from.data, form.date_to.data, form.period.data,
                             current_locale(), user_id=current_user.id)
    audit("generate_report", f"report:{report.id}")
    db.session.commit()
    return redirect(url_for(".download", report_id=report.id, fmt="pdf")), 303


@bp.route("/reports/<int:report_id>.<fmt>")
@role_required("manager")
def download(report_id: int, fmt: str):
    report = db.get_or_404(GeneratedReport, report_id)
    name = f"huifang-{report.kind}-{report.date_from}-{report.date_to}-{report.locale}"
    if fmt == "pdf":
        return Response(report.pdf, mimetype="application/pdf",
                        headers={"Content-Disposition": f"inline; filename={name}.pdf"})
    if fmt == "json":
        return Response(json.dumps(json.loads(report.figures_json), ensure_ascii=False, indent=2),
                        mimetype="application/json", headers={"Content-Disposition": f"attachment; filename={name}.json"})
    abort(404)


