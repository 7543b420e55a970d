"""The managers' dashboard, exports of figures and personal data, and scheduled reports."""
import csv
import io
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from channels.models import Message
from core.accounts import AuditEvent
from core.db import db
from core.settings import save_rules
from reports.models import GeneratedReport
from reports.scheduled import generate_due_reports, previous_month, previous_quarter
from tests.conftest import login
from tests.test_reports import dataset  # noqa: F401  (fixture)

QUERY = "date_from=2026-01-01&date_to=2026-04-30&period=month"


def test_dashboard_shows_the_figures_with_filters(client, dataset):  # noqa: F811
    login(client, "manager")
    page = client.get(f"/dashboard?{QUERY}&lang=en").get_data(as_text=True)
    assert "53.2%" in page and "49.0" in page and "significant (p = " in page
    assert "data:image/svg+xml;base64," in page  # trend and driver charts
    # The imported answers count in Responses but not in the response rate: the page says why.
    assert "(0/0)" in page and "interviews and imported answers included" in page
    assert '<option value="北京">北京</option>' in page and '<option value="A02">A02</option>' in page
    filtered = client.get(f"/dashboard?{QUERY}&region=上海").get_data(as_text=True)
    assert "<div class=\"value\">2</div>" in filtered
    bad = client.get("/dashboard?date_from=2026-05-01&date_to=2026-01-01")
    assert bad.status_code == 400


def test_figure_exports_csv_and_excel(client, dataset):  # noqa: F811
    login(client, "manager")
    text = client.get(f"/dashboard/figures.csv?{QUERY}").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[rows.index(["# trend"]) + 4][:4] == ["2026-03", "40", "", "30.0"]
    workbook = load_workbook(io.BytesIO(client.get(f"/dashboard/figures.xlsx?{QUERY}").data))
    drivers = list(workbook["drivers"].values)
    assert drivers[1][0] == "stability" and drivers[1][4] == 72.1


def test_raw_response_export_is_audited(client, dataset):  # noqa: F811
    user = login(client, "manager")
    text = client.get(f"/dashboard/responses.csv?{QUERY}").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 94 and rows[0]["respondent"] == "R1" and rows[0]["comment"].startswith("网速很快")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export_responses"))
    assert event.user_id == user.id and event.details["date_from"] == "2026-01-01"
    xlsx = load_workbook(io.BytesIO(client.get(f"/dashboard/responses.xlsx?{QUERY}").data))
    assert xlsx["responses"].max_row == 95


def test_agents_cannot_see_the_dashboard_or_export(client, dataset):  # noqa: F811
    login(client, "agent")
    assert client.get(f"/dashboard?{QUERY}").status_code == 403
    assert client.get(f"/dashboard/responses.csv?{QUERY}").status_code == 403


def test_report_periods():
    from datetime import date
    assert previous_month(date(2026, 3, 1)) == (date(2026, 2, 1), date(2026, 2, 28))
    assert previous_quarter(date(2026, 5, 10)) == (date(2026, 1, 1), date(2026, 3, 31))
    assert previous_quarter(date(2026, 1, 2)) == (date(2025, 10, 1), date(2025, 12, 31))


def test_an_empty_archive_says_how_to_get_a_report(ctx, client):
    login(client, "manager")
    archive = client.get("/reports").get_data(as_text=True)
    assert "还没有报告:每月结束后调度程序会自动生成。" in archive and 'href="/dashboard"' in archive


def test_scheduled_reports_are_kept_and_mailed_once(client, dataset):  # noqa: F811
    save_rules({"manager_emails": ["ceo@example.com", "cx@example.com"]})
    db.session.commit()
    assert generate_due_reports(datetime(2026, 4, 1, 1, 0)) == 3  # March, Q1 and the year 2025
    assert generate_due_reports(datetime(2026, 4, 1, 2, 0)) == 0
    reports = {r.kind: r for r in db.session.scalars(select(GeneratedReport))}
    assert reports["monthly"].date_from.isoformat() == "2026-03-01" and reports["monthly"].pdf.startswith(b"%PDF")
    assert reports["quarterly"].date_to.isoformat() == "2026-03-31"
    mails = db.session.scalars(select(Message).where(Message.purpose == "report")).all()
    assert sorted(m.to for m in mails) == ["ceo@example.com"] * 3 + ["cx@example.com"] * 3
    login(client, "manager")
    archive = client.get("/reports").get_data(as_text=True)
    assert "2026-01-01 – 2026-03-31" in archive
    pdf = client.get(f"/reports/{reports['quarterly'].id}.pdf")
    assert pdf.mimetype == "application/pdf" and pdf.data == reports["quarterly"].pdf


def test_report_email_carries_the_pdf(app, client, dataset):  # noqa: F811
    from channels.services import deliver_due
    from tests.channel_fakes import SmtpServer

    save_rules({"manager_emails": ["ceo@example.com"]})
    db.session.commit()
    with SmtpServer() as smtp:
        app.config["SMTP_URL"] = smtp.url
        try:
            generate_due_reports(datetime(2026, 2, 1, 1, 0))
            assert deliver_due() == 3  # January, Q4 and the year 2025
        finally:
            app.config["SMTP_URL"] = ""
    attachments = [part for mail in smtp.mailbox.messages for part in mail.iter_attachments()]
    assert len(attachments) == 3 and all(a.get_content().startswith(b"%PDF") for a in attachments)
    assert attachments[0].get_filename().startswith("huifang-report-")


def test_each_recipient_gets_the_reports_of_their_kinds_in_their_language(client, dataset):  # noqa: F811
    save_rules({"manager_emails": ["ceo@example.com"], "report_recipients_annual": ["board@example.com en"]})
    db.session.commit()
    assert generate_due_reports(datetime(2026, 4, 1, 1, 0)) == 4  # three in zh-CN, the annual one in English too
    annual = {r.locale: r for r in db.session.scalars(select(GeneratedReport).where(GeneratedReport.kind == "annual"))}
    assert set(annual) == {"zh-CN", "en"} and annual["en"].date_from.isoformat() == "2025-01-01"
    mails = db.session.scalars(select(Message).where(Message.purpose == "report")).all()
    board = [m for m in mails if m.to == "board@example.com"]
    assert len(board) == 1 and board[0].report_id == annual["en"].id
    assert board[0].subject == "[Huifang] Annual customer satisfaction report 2025-01-01 – 2025-12-31"
    ceo = sorted(m.subject for m in mails if m.to == "ceo@example.com")
    assert len(ceo) == 3 and all("客户满意度报告" in subject for subject in ceo)
    assert any("年度" in subject for subject in ceo)


def test_rules_refuse_a_report_recipient_in_an_unknown_language(app):
    from werkzeug.datastructures import MultiDict

    from admin.forms import RulesForm
    with app.test_request_context("/admin/rules", headers={"Accept-Language": "en"}):
        form = RulesForm(meta={"csrf": False}, formdata=MultiDict({
            "report_recipients_annual": "board@example.com fr", "report_recipients_monthly": "ops@example.com en"}))
        form.validate()
        assert form.errors["report_recipients_annual"] == [
            "board@example.com fr is not an e-mail address, optionally followed by zh-CN or en"]
        assert "report_recipients_monthly" not in form.errors
        assert form.to_rules()["report_recipients_monthly"] == ["ops@example.com en"]


def test_long_drop_downs_write_the_same_html_as_wtforms(app):
    """The region and agent drop-downs (thousands of agents) write their options directly:
    the HTML must be WTForms' own, selected option, escaping and Chinese included."""
    from wtforms import Form, SelectField
    from wtforms.widgets import Select

    from core.web import ManyOptions

    values = [("", "全部坐席"), ("A01", "A01"), ('x"<&>', 'l"<&>'), ("北京", "北京"), ("A02", "")]

    class Filters(Form):
        usual = SelectField(choices=values, widget=Select())
        many = SelectField(choices=values, widget=ManyOptions())

    with app.test_request_context():
        for chosen in ("", "A01", 'x"<&>', "北京", "not listed"):
            form = Filters(data={"usual": chosen, "many": chosen})
            assert str(form.many()).replace("many", "usual") == str(form.usual())


def test_start_up_objects_are_left_out_of_garbage_collections():
    """A full collection in the middle of a view walks only what was made since start-up: over
    the ~140,000 objects of the imports it cost a 10M dashboard's first view ~100 ms. In a
    process of its own: the suite's apps are built after its first."""
    build = 'create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True}); print(gc.get_freeze_count())'
    child = subprocess.run([sys.executable, "-c", f"import gc\nfrom app import create_app\n{build}\n{build}"],
                           capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent, check=True)
    first, second = map(int, child.stdout.split())
    assert first > 50_000
    assert second <= first  # once per process: later apps' garbage stays collectable
