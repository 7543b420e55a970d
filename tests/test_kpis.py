"""The KPIs (SPEC "KPIs") against hand computations on a small data set built through the real
intake, callbacks, complaint cases and response import."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from callbacks.services import claim, record_attempt
from complaints.feedback import answer_recheck, run_rechecks, write_result
from complaints.services import complete_stage, extend_feedback, feedback_limit
from core.accounts import create_user
from core.db import db, utcnow
from core.timeutil import to_local
from reports.figures import compute_report
from tests.conftest import login, make_ticket

HEADER = "respondent,channel,answered_at,ticket_kind,region,agent,overall,attitude,efficiency,stability,after_sales,nps,resolved,callback,comment\n"
RESULT = {"reason": "原因", "measures": "措施", "plan": "整改", "followup": "跟进"}


def _case(external_id, hours_ago, person):
    from complaints.services import case_for_ticket
    result = make_ticket(external_id=external_id, kind="complaint", handled_at=utcnow() - timedelta(hours=hours_ago),
                         customer={"id": person, "name": "客户", "phone": f"+8613800{person[-6:]}"})
    return case_for_ticket(result.ticket.id), result.ticket.handled_at


@pytest.fixture
def data(app, ctx, tmp_path):
    agent = create_user("kpi-agent@example.com", "专员", "agent", "correct-horse-1")
    boss = create_user("kpi-boss@example.com", "主管", "manager", "correct-horse-1")
    # Ten answers of `resolved` in the period: 7 yes, 3 no; two responses leave it blank.
    today = to_local(utcnow(), None).date()
    answered = (utcnow() - timedelta(hours=1)).isoformat() + "Z"
    rows = [f"R{i},web,{answered},fault,北京,A01,4,,,,,,{v},," for i, v in
            enumerate(["yes"] * 7 + ["no"] * 3 + [""] * 2)]
    path = tmp_path / "r.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    assert "imported 12 responses" in app.test_cli_runner().invoke(args=["import-responses", str(path)]).output
    # Tickets: 3 business, 2 inquiry, 3 complaints = 8 handled in the period.
    for i, hours in enumerate((2, 4, 10)):  # post-handling callbacks first attempted 2, 4, 10 h after handling
        result = make_ticket(external_id=f"B{i}", kind="business", handled_at=utcnow() - timedelta(hours=12),
                             customer={"id": f"CB{i}", "name": "客户", "phone": f"+861380000010{i}"})
        task = result.tasks[0]
        claim(task.id, agent.id)
        record_attempt(task, agent.id, "no_answer", now=result.ticket.handled_at + timedelta(hours=hours))
    for i in range(2):
        make_ticket(external_id=f"I{i}", kind="inquiry", customer={"id": f"CI{i}", "name": "客户"})
    # A: accepted by a call 1 h after handling, fed back on time, then "not solved": reopened.
    a, handled = _case("CA", 5, "C00000001")
    accept = a.current("accepted").task
    claim(accept.id, agent.id)
    record_attempt(accept, agent.id, "reached", now=handled + timedelta(hours=1))
    complete_stage(a, "investigated", agent, at=handled + timedelta(hours=2))
    complete_stage(a, "handled", agent, at=handled + timedelta(hours=3))
    write_result(a, agent, RESULT, now=handled + timedelta(hours=4))
    run_rechecks(a.recheck_due_at + timedelta(minutes=1))
    answer_recheck(a, "no", now=a.recheck_due_at + timedelta(hours=1))
    # B: handled ten days ago, never fed back: its deadline passed, late.
    _case("CB", 24 * 10, "C00000002")
    # C: handled two days ago, the deadline extended: not yet judged.
    c, _ = _case("CC", 48, "C00000003")
    extend_feedback(c, boss, feedback_limit(c), "等待话单")
    db.session.commit()
    return today


def test_kpis_match_the_hand_computation(data):
    k = compute_report(data - timedelta(days=30), data, "month")["kpis"]
    # 7 of 10: 70.0 %, Wilson 95 %: 39.7–89.2
    assert k["resolution_rate"] == {"value": 70.0, "ci_low": 39.7, "ci_high": 89.2, "n": 10}
    # 3 complaints of 8 tickets: 375.0 per 1,000
    assert k["complaint_rate"] == 375.0
    # hours to the first attempt: 1, 2, 4, 10 -> median 3.0; p90 at rank 2.7: 4 + 0.7 × 6 = 8.2
    assert k["first_contact_hours"] == {"median": 3.0, "p90": 8.2, "n": 4}
    # feedback: A on time, B late, C (extended) and A's second round not yet judged -> 50.0 %
    assert k["complaints"] == {"total": 3, "feedback_on_time": 50.0, "feedback_judged": 2, "reopened": 1,
                               "extended": 1}


def test_kpis_of_an_empty_period_are_empty_not_zero(data):
    k = compute_report(data - timedelta(days=400), data - timedelta(days=370), "month")["kpis"]
    assert k["resolution_rate"] == {"value": None, "ci_low": None, "ci_high": None, "n": 0}
    assert k["complaint_rate"] is None and k["first_contact_hours"] == {"median": None, "p90": None, "n": 0}
    assert k["complaints"]["total"] == 0 and k["complaints"]["feedback_on_time"] is None


def test_the_json_report_the_dashboard_and_the_pdf_carry_the_kpis(app, data, client, tmp_path):
    import subprocess
    out = tmp_path / "r.json"
    args = ["report", "--from", (data - timedelta(days=30)).isoformat(), "--to", data.isoformat(),
            "--period", "month", "--format", "json", "--out", str(out)]
    assert app.test_cli_runner().invoke(args=args).exit_code == 0
    kpis = json.loads(out.read_text())["kpis"]
    assert kpis["complaint_rate"] == 375.0 and kpis["resolution_rate"]["value"] == 70.0
    pdf = tmp_path / "r.pdf"
    args[args.index("json")] = "pdf"
    args[-1] = str(pdf)
    assert app.test_cli_runner().invoke(args=args).exit_code == 0
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "问题解决率" in text and "70.0%" in text and "375.0‰" in text and "投诉按时反馈率" in text
    login(client, "manager")
    page = client.get(f"/dashboard?date_from={(data - timedelta(days=30)).isoformat()}&date_to={data.isoformat()}")
    html = page.get_data(as_text=True)
    assert "问题解决率" in html and "39.7–89.2%" in html and "3 件投诉 · 1 件重开 · 1 件延期" in html
