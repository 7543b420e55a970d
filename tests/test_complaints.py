"""Complaints as cases: a complaint walked from intake to re-check through the real intake,
callback tasks, pages, outbox / SMTP / Twilio transports and scheduler jobs."""
from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from callbacks.models import CallbackTask
from callbacks.services import TaskError, claim, close, record_attempt
from channels.models import Message
from channels.services import deliver_due
from complaints.evidence import file_bytes, store_file
from complaints.feedback import answer_recheck, complete_sent_results, run_rechecks, write_result
from complaints.models import CaseFile, CaseStage, ComplaintCase, Recording
from complaints.services import CaseError, complete_stage, extend_feedback, feedback_limit
from core.accounts import AuditEvent, create_user
from core.db import db, utcnow
from core.timeutil import DEFAULT_TZ
from tests.channel_fakes import SmtpServer, signed_post
from tests.conftest import csrf_token, login, make_ticket, post_form

RESULT = {"reason": "计费系统重复扣费", "measures": "已退还多扣的 30 元", "plan": "修复计费规则并复核同类账户",
          "followup": "7 天后回访确认"}



@pytest.fixture(autouse=True)
def case_files(app, tmp_path):
    app.config["CASE_FILES_DIR"] = str(tmp_path / "case-files")
    yield tmp_path / "case-files"
    app.config.pop("CASE_FILES_DIR")


@pytest.fixture
def staff(ctx):
    return {"agent": create_user("agent1@example.com", "专员甲", "agent", "correct-horse-1"),
            "manager": create_user("boss@example.com", "主管乙", "manager", "correct-horse-1")}


def complaint(external_id="CMP-1", hours_ago=3, customer=None, **extra) -> ComplaintCase:
    result = make_ticket(external_id=external_id, kind="complaint", category="计费争议",
                         handled_at=utcnow() - timedelta(hours=hours_ago), customer=customer, region="北京", **extra)
    return db.session.scalar(select(ComplaintCase).where(ComplaintCase.ticket_id == result.ticket.id))


def work(task: CallbackTask, user, outcome_at=None):
    """An agent claims the task and reaches the customer."""
    claim(task.id, user.id)
    record_attempt(db.session.get(CallbackTask, task.id), user.id, "reached", "已联系客户", now=outcome_at)


def handle(case: ComplaintCase, staff) -> ComplaintCase:
    """Accepted and investigated through the work items, handled on the case page's service."""
    work(case.current("accepted").task, staff["agent"])
    task = case.current("investigated").task
    work(task, staff["agent"])
    close(db.session.get(CallbackTask, task.id), staff["agent"].id, "explained", True, "计费规则错误")
    complete_stage(case, "handled", staff["agent"], note="已退费")
    db.session.commit()
    return case


def test_a_complaint_ticket_opens_one_case_whose_stages_are_its_tasks(ctx):
    case = complaint()
    assert case.number.startswith("TS") and case.category == "计费争议" and case.state == "open"
    assert [s.name for s in case.stages] == ["accepted", "investigated", "handled", "fed_back", "rechecked"]
    kinds = {s.name: s.task.kind for s in case.stages if s.task}
    assert kinds == {"accepted": "complaint_accept", "investigated": "complaint_investigate",
                     "fed_back": "complaint_feedback"}
    handled_at = case.ticket.handled_at
    assert case.current("accepted").due_at == handled_at + timedelta(hours=24)
    assert case.current("investigated").due_at == handled_at + timedelta(hours=72)
    assert case.current("fed_back").due_at == case.current("fed_back").task.due_at == case.feedback_due_at
    make_ticket(external_id="CMP-1", kind="complaint")  # a repeat of the same ticket
    assert db.session.scalar(select(func.count()).select_from(ComplaintCase)) == 1
    make_ticket(external_id="BIZ-1", kind="business")
    assert db.session.scalar(select(func.count()).select_from(ComplaintCase)) == 1


def test_a_stage_cannot_complete_before_the_one_before_it(ctx, staff, client):
    case = complaint()
    with pytest.raises(CaseError, match="不能在“已受理”之前完成"):
        complete_stage(case, "investigated", staff["agent"])
    db.session.rollback()
    # Through the work item: closing the investigation task first is refused, nothing changes.
    task = case.current("investigated").task
    claim(task.id, staff["agent"].id)
    with pytest.raises(TaskError, match="不能在“已受理”之前完成"):
        close(db.session.get(CallbackTask, task.id), staff["agent"].id, "explained", True, "x")
    db.session.rollback()
    assert db.session.get(CallbackTask, task.id).state == "claimed"
    # On the page, in Chinese: a clear error, a 400, nothing changed.
    login(client, "agent", email="agent1@example.com")
    url = f"/complaints/{case.id}"
    response = post_form(client, f"{url}/stages/handled", {"note": "x"}, token_from=url)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "不能在" in page and "之前完成" in page
    response = post_form(client, f"{url}/stages/handled?lang=en", {}, token_from=url)
    assert "cannot complete before" in response.get_data(as_text=True)
    db.session.expire_all()
    assert all(s.completed_at is None for s in db.session.get(ComplaintCase, case.id).stages)


def test_completing_a_stage_on_the_case_page_closes_its_work_item(ctx, staff, client):
    case = complaint()
    login(client, "agent", email="agent1@example.com")
    url = f"/complaints/{case.id}"
    response = post_form(client, f"{url}/stages/accepted", {"note": "电话已受理"}, token_from=url)
    assert response.status_code == 303
    db.session.expire_all()
    case = db.session.get(ComplaintCase, case.id)
    accepted = case.current("accepted")
    assert accepted.completed_by.email == "agent1@example.com" and accepted.on_time is True
    assert accepted.task.state == "done" and accepted.task.met_at == accepted.completed_at
    assert case.handler.email == "agent1@example.com" and case.stage == "accepted"
    assert "电话已受理" in client.get(url).get_data(as_text=True)


def test_the_whole_loop_from_intake_to_recheck(ctx, staff, client, app):
    case = handle(complaint(), staff)
    assert [case.current(n).completed_at is not None for n in ("accepted", "investigated", "handled")] == [True] * 3
    assert case.current("accepted").task.met_at is not None and case.current("accepted").on_time
    # The feedback task cannot be closed before the written result went out.
    feedback_task = case.current("fed_back").task
    claim(feedback_task.id, staff["agent"].id)
    with pytest.raises(TaskError, match="反馈环节才算完成"):
        close(db.session.get(CallbackTask, feedback_task.id), staff["agent"].id, "resolved", True, "x")
    db.session.rollback()
    # Written through the page: outbox SMS at once, letter filed, feedback complete, task closed.
    login(client, "agent", email="agent1@example.com")
    url = f"/complaints/{case.id}"
    assert post_form(client, f"{url}/result", RESULT, token_from=url).status_code == 303
    db.session.expire_all()
    case = db.session.get(ComplaintCase, case.id)
    message = case.result_message
    assert message.channel == "sms" and message.to == "+8613800138000" and message.state == "sent"
    assert "计费系统重复扣费" in message.body and "修复计费规则" in message.body and case.number in message.body
    fed_back = case.current("fed_back")
    assert fed_back.completed_at == message.sent_at and fed_back.on_time and fed_back.task.state == "done"
    letter = next(f for f in case.files if f.kind == "letter")
    text = subprocess.run(["pdftotext", "-", "-"], input=file_bytes(letter), capture_output=True,
                          check=True).stdout.decode()
    assert "投诉处理结果" in text and "已退还多扣的 30 元" in text and case.number in text
    # Seven days later the scheduler asks; the customer answers "yes" by the link.
    assert case.recheck_due_at == message.sent_at + timedelta(days=7)
    assert run_rechecks(message.sent_at + timedelta(days=6)) == 0
    assert run_rechecks(message.sent_at + timedelta(days=7, minutes=1)) == 1
    ask = db.session.scalars(select(Message).where(Message.purpose == "recheck")).one()
    token = db.session.get(ComplaintCase, case.id).recheck_token
    assert f"https://huifang.example.com/c/{token}" in ask.body and ask.to == "+8613800138000"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/complaints")})
    page = client.get(f"/c/{token}").get_data(as_text=True)
    assert "问题是否已经彻底解决" in page
    answered = post_form(client, f"/c/{token}", {"answer": "yes"})
    assert answered.status_code == 200 and "很高兴" in answered.get_data(as_text=True)
    db.session.expire_all()
    case = db.session.get(ComplaintCase, case.id)
    assert case.state == "closed" and case.stage == "rechecked" and case.recheck_answer == "yes"
    assert case.current("rechecked").on_time
    again = post_form(client, f"/c/{token}", {"answer": "no"}, token_from="/login")  # answered already
    assert again.status_code == 200 and "很高兴" in again.get_data(as_text=True)
    assert db.session.get(ComplaintCase, case.id).state == "closed"


def _fed_back(case, staff, now=None) -> ComplaintCase:
    handle(case, staff)
    write_result(case, staff["agent"], RESULT, now=now)
    return case


def test_no_reopens_the_case_with_a_second_follow_up_one_tier_up(ctx, staff, client):
    case = _fed_back(complaint(), staff)
    sent = case.result_message.sent_at
    run_rechecks(sent + timedelta(days=8))
    answer_recheck(case, "no", now=sent + timedelta(days=8, hours=1))
    db.session.expire_all()
    case = db.session.get(ComplaintCase, case.id)
    assert case.state == "reopened" and case.reopened_count == 1 and case.round == 2 and case.recheck_answer == "no"
    followup = db.session.scalars(select(CallbackTask).where(CallbackTask.kind == "complaint_followup")).one()
    assert followup.tier == 2 and followup.ticket_id == case.ticket_id and followup.state == "open"
    assert case.current("handled").round == 2 and case.current("handled").task_id == followup.id
    assert case.current("rechecked").round == 2 and case.current("rechecked").completed_at is None
    first = db.session.scalars(select(CaseStage).where(CaseStage.case_id == case.id, CaseStage.round == 1,
                                                       CaseStage.name == "rechecked")).one()
    assert first.note == "no" and first.completed_at is not None
    # The second follow-up, when closed, completes the new round's handling.
    claim(followup.id, staff["agent"].id)
    close(db.session.get(CallbackTask, followup.id), staff["agent"].id, "resolved", True, "二次处理")
    db.session.expire_all()
    case = db.session.get(ComplaintCase, case.id)
    assert case.current("handled").completed_at is not None and case.stage == "handled"
    login(client, "agent", email="agent1@example.com")
    assert "重新打开" in client.get(f"/complaints/{case.id}").get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "complaint_reopened")) == 1
    from core.events import Event
    events = db.session.scalars(select(Event).order_by(Event.id)).all()
    stages = [e.data["stage"] for e in events if e.type == "complaint.stage_completed"]
    assert stages == ["accepted", "investigated", "handled", "fed_back", "handled"]
    reopened = next(e for e in events if e.type == "complaint.reopened")
    assert reopened.data == {"case": case.number, "external_id": "CMP-1", "state": "reopened", "answer": "no",
                             "round": 2, "followup_task": followup.id, "tier": 2}


def test_silence_after_the_reminder_reopens_the_case(ctx, staff):
    case = _fed_back(complaint(), staff)
    asked = case.recheck_due_at + timedelta(minutes=1)
    assert run_rechecks(asked) == 1
    assert run_rechecks(asked + timedelta(hours=47)) == 0
    assert run_rechecks(asked + timedelta(hours=48)) == 1  # the reminder
    texts = db.session.scalars(select(Message.body).where(Message.purpose == "recheck").order_by(Message.id)).all()
    assert len(texts) == 2 and texts[1].startswith("提醒")
    assert run_rechecks(asked + timedelta(hours=96)) == 1  # no answer: reopened
    db.session.expire_all()
    case = db.session.get(ComplaintCase, case.id)
    assert case.state == "reopened" and case.recheck_answer == "no_answer"
    assert db.session.scalar(select(CallbackTask.tier).where(CallbackTask.kind == "complaint_followup")) == 2


def test_extension_only_by_a_supervisor_never_past_thirty_working_days(ctx, staff, client):
    case = complaint()
    # Received on a weekday (the last Wednesday, 10:00 in the operator's zone): counted from a
    # weekend day, 30 working days are not six weeks, and the test would depend on the hour.
    local = datetime.now(ZoneInfo(DEFAULT_TZ))
    wednesday = (local - timedelta(days=(local.weekday() - 2) % 7)).replace(hour=10, minute=0, second=0,
                                                                            microsecond=0)
    case.received_at = wednesday.astimezone(UTC).replace(tzinfo=None)
    db.session.commit()
    limit = feedback_limit(case)
    with pytest.raises(CaseError, match="只有主管"):
        extend_feedback(case, staff["agent"], limit, "需要调查话单")
    with pytest.raises(CaseError, match="30 个工作日"):
        extend_feedback(case, staff["manager"], limit + timedelta(hours=1), "需要调查话单")
    with pytest.raises(CaseError, match="延期理由"):
        extend_feedback(case, staff["manager"], limit, "  ")
    db.session.rollback()
    assert db.session.get(ComplaintCase, case.id).extended is False
    # 30 working days: six weeks of weekdays from handling, same time of day.
    handled = case.received_at
    assert (limit - handled).days == 42 and limit.time() == handled.time()
    # On the page: the agent is told, the manager at limit + 1 h is refused, at the limit approved.
    login(client, "agent", email="agent1@example.com")
    url = f"/complaints/{case.id}"
    form = {"new_due": (limit + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M"), "reason": "调查话单"}
    refused = post_form(client, f"{url}/extend", form, token_from=url)
    assert refused.status_code == 400 and "只有主管" in refused.get_data(as_text=True)
    login(client, "manager", email="boss@example.com")
    local_limit = limit + timedelta(hours=8)  # Asia/Shanghai
    over = post_form(client, f"{url}/extend", {**form, "new_due": (local_limit + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")},
                     token_from=url)
    assert over.status_code == 400 and "30 个工作日" in over.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(ComplaintCase, case.id).feedback_due_at != limit
    ok = post_form(client, f"{url}/extend", {**form, "new_due": local_limit.strftime("%Y-%m-%dT%H:%M")}, token_from=url)
    assert ok.status_code == 303
    db.session.expire_all()
    case = db.session.get(ComplaintCase, case.id)
    approved = limit.replace(second=0, microsecond=0)  # the form's precision: minutes
    assert case.extended and case.feedback_due_at == approved and case.current("fed_back").task.due_at == approved
    assert case.extensions[0].approved_by.email == "boss@example.com" and case.extensions[0].reason == "调查话单"
    audit = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "complaint_extension")).one()
    assert audit.details["reason"] == "调查话单" and audit.target == f"case:{case.id}"


def test_an_empty_result_letter_is_refused(ctx, staff, client):
    case = handle(complaint(), staff)
    with pytest.raises(CaseError, match="不完整"):
        write_result(case, staff["agent"], {**RESULT, "plan": "   "})
    db.session.rollback()
    login(client, "agent", email="agent1@example.com")
    url = f"/complaints/{case.id}"
    response = post_form(client, f"{url}/result", {**RESULT, "measures": ""}, token_from=url)
    assert response.status_code == 400 and "不能为空" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0
    assert db.session.scalar(select(func.count()).select_from(CaseFile)) == 0


def test_result_by_email_survives_an_smtp_outage_and_completes_only_once_sent(ctx, staff, app):
    customer = {"id": "C-9", "name": "Alice Chen", "email": "alice@example.com", "locale": "en"}
    case = handle(complaint(customer=customer), staff)
    with SmtpServer() as server:
        app.config["SMTP_URL"] = server.url
        try:
            server.mailbox.down = True
            now = utcnow()
            message = write_result(case, staff["agent"], RESULT, now=now)
            assert message.transport == "smtp" and message.state == "queued"
            assert deliver_due(now) == 0 and complete_sent_results(now) == 0
            assert db.session.get(ComplaintCase, case.id).current("fed_back").completed_at is None
            server.mailbox.down = False
            later = now + timedelta(minutes=5)
            assert deliver_due(later) == 1 and complete_sent_results(later) == 1
        finally:
            app.config["SMTP_URL"] = ""
        received = server.mailbox.messages
    assert len(received) == 1 and received[0]["To"] == "alice@example.com"
    assert case.number in received[0]["Subject"] and "The result of your complaint" in received[0]["Subject"]
    body = received[0].get_content()
    assert "Reason: 计费系统重复扣费" in body and "Follow-up arrangement: 7 天后回访确认" in body
    db.session.expire_all()
    fed_back = db.session.get(ComplaintCase, case.id).current("fed_back")
    assert fed_back.completed_at == later and fed_back.task.state == "done"


def test_result_by_sms_through_the_twilio_client(ctx, staff, twilio):
    case = handle(complaint(), staff)
    now = utcnow()
    write_result(case, staff["agent"], RESULT, now=now)
    twilio.fail = [503]  # the provider is down once: retried, feedback waits
    assert deliver_due(now) == 0 and complete_sent_results(now) == 0
    assert deliver_due(now + timedelta(minutes=2)) == 1 and complete_sent_results(now + timedelta(minutes=2)) == 1
    sms = twilio.requests[-1]
    assert sms["url"].endswith("/Messages.json") and sms["data"]["To"] == "+8613800138000"
    assert "已退还多扣的 30 元" in sms["data"]["Body"]
    assert db.session.get(ComplaintCase, case.id).current("fed_back").completed_at is not None


def test_click_to_call_is_recorded_and_the_recording_callback_is_signed(ctx, client, twilio):
    agent = create_user("caller@example.com", "Caller", "agent", "correct-horse-1", phone="+8613912345678")
    case = complaint()
    task = case.current("accepted").task
    claim(task.id, agent.id)
    login(client, "agent", email="caller@example.com")
    post_form(client, f"/callbacks/{task.id}/call", {}, token_from=f"/callbacks/{task.id}")
    call = twilio.requests[-1]["data"]
    assert call["Record"] == "True" or call["Record"] is True or call["Record"] == "true"
    assert call["RecordingStatusCallback"] == f"https://huifang.example.com/twilio/recording/{task.id}"
    notice = signed_post(client, f"/twilio/recording-notice/{task.id}", {"CallSid": "CA1"}).get_data(as_text=True)
    assert "本次通话将被录音" in notice
    form = {"RecordingSid": "RE" + "1" * 32, "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
            "RecordingDuration": "95", "CallSid": "CA" + "2" * 32, "RecordingStatus": "completed"}
    assert signed_post(client, f"/twilio/recording/{task.id}", form, forge=True).status_code == 403
    assert client.post(f"/twilio/recording/{task.id}", data=form).status_code == 403  # unsigned
    assert db.session.scalar(select(func.count()).select_from(Recording)) == 0
    assert signed_post(client, f"/twilio/recording/{task.id}", form).status_code == 204
    assert signed_post(client, f"/twilio/recording/{task.id}", form).status_code == 204  # Twilio retries
    recording = db.session.scalars(select(Recording)).one()
    assert (recording.case_id, recording.duration, recording.call_sid) == (case.id, 95, "CA" + "2" * 32)
    assert recording.url == form["RecordingUrl"]
    page = client.get(f"/complaints/{case.id}").get_data(as_text=True)
    assert "RE" + "1" * 32 in page and "95" in page


def test_attachments_have_limits_and_are_served_only_to_staff(ctx, staff, client, case_files):
    case = complaint()
    login(client, "agent", email="agent1@example.com")
    url = f"/complaints/{case.id}"

    def upload(name, data):
        from io import BytesIO
        return client.post(f"{url}/files", data={"csrf_token": csrf_token(client, url), "file": (BytesIO(data), name)},
                           content_type="multipart/form-data")

    big = upload("big.pdf", b"%PDF-" + b"0" * (4 * 1024 * 1024))
    assert big.status_code == 400 and "文件太大" in big.get_data(as_text=True)
    fake = upload("evil.pdf", b"MZ\x90\x00 this is an exe")
    assert fake.status_code == 400 and "内容与类型不符" in fake.get_data(as_text=True)
    html = upload("page.html", b"<script>alert(1)</script>")
    assert html.status_code == 400 and "不接受" in html.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(CaseFile)) == 0
    ok = upload("../../发票.pdf", b"%PDF-1.4 receipt")
    assert ok.status_code == 303
    row = db.session.scalars(select(CaseFile)).one()
    assert row.filename == "发票.pdf" and row.size == len(b"%PDF-1.4 receipt")
    assert (case_files / row.stored_name).read_bytes() == b"%PDF-1.4 receipt"
    download = client.get(f"{url}/files/{row.id}")
    assert download.status_code == 200 and download.data == b"%PDF-1.4 receipt"
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert client.get(f"/complaints/999/files/{row.id}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token(client, url)})
    assert client.get(f"{url}/files/{row.id}").status_code == 302  # to the login page


def test_a_case_without_evidence_a_week_after_acceptance_is_flagged(ctx, staff, client):
    old = complaint("CMP-OLD", hours_ago=24 * 9)
    complete_stage(old, "accepted", staff["agent"], at=old.received_at + timedelta(hours=2))
    recent = complaint("CMP-NEW", hours_ago=5)
    db.session.commit()
    login(client, "agent", email="agent1@example.com")
    page = client.get("/complaints").get_data(as_text=True)
    rows = {line.split("</a>")[0].rsplit(">", 1)[-1]: line for line in page.split("<tr>") if "TS" in line}
    assert "无证据" in rows[old.number] and "无证据" not in rows[recent.number]
    store_file(old, "attachment", "call.txt", "通话记录摘要".encode(), staff["agent"])
    db.session.commit()
    page = client.get("/complaints").get_data(as_text=True)
    assert "无证据" not in page.split(old.number, 1)[1].split("</tr>")[0]


def test_the_ledger_filters_and_its_exports_match_the_cases(ctx, staff, client):
    from io import BytesIO

    from openpyxl import load_workbook

    first = complaint("CMP-A", customer={"id": "C-A", "name": "=HYPERLINK(\"http://evil\")", "phone": "+8613800138001"})
    second = _fed_back(complaint("CMP-B", customer={"id": "C-B", "name": "李四", "phone": "+8613800138002"}), staff)
    late = complaint("CMP-C", hours_ago=30, customer={"id": "C-C", "name": "赵六", "phone": "+8613800138003"})
    late.category = "服务态度"
    db.session.commit()
    login(client, "agent", email="agent1@example.com")
    page = client.get("/complaints").get_data(as_text=True)
    assert all(c.number in page for c in (first, second, late))
    page = client.get("/complaints?overdue=1").get_data(as_text=True)
    assert late.number in page and first.number not in page and second.number not in page
    page = client.get("/complaints?stage=fed_back").get_data(as_text=True)
    assert second.number in page and first.number not in page
    page = client.get("/complaints?category=服务态度").get_data(as_text=True)
    assert late.number in page and first.number not in page
    page = client.get(f"/complaints?handler={staff['agent'].id}").get_data(as_text=True)
    assert second.number in page and late.number not in page
    today = utcnow().date().isoformat()
    assert late.number not in client.get("/complaints?date_to=2020-01-01").get_data(as_text=True)
    assert client.get(f"/complaints?date_from=bad&region=北京&date_to={today}").status_code == 200

    csv_text = client.get("/complaints/export.csv").get_data(as_text=True).lstrip("\ufeff")
    import csv
    rows = list(csv.reader(csv_text.splitlines()))
    header, body = rows[0], {r[0]: dict(zip(rows[0], r, strict=True)) for r in rows[1:]}
    assert set(body) == {first.number, second.number, late.number}
    assert "受理时间" in " ".join(header) or "已受理:时间" in header
    b = body[second.number]
    assert b["处理结果:原因"] == RESULT["reason"] and b["处理结果:整改计划"] == RESULT["plan"]
    assert b["已反馈结果:按时"] == "按时" and b["处理人"] == "专员甲" and b["反馈时间"]
    assert body[first.number]["客户"].startswith("'=")  # formula injection neutralised
    assert body[late.number]["已受理:时间"] == ""

    xlsx = client.get("/complaints/export.xlsx?lang=en")
    sheet = load_workbook(BytesIO(xlsx.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "Case number" and {r[0] for r in values[1:]} == {first.number, second.number, late.number}
    name_cell = next(r for r in sheet.iter_rows() if r[0].value == first.number)[2]
    assert name_cell.data_type == "s" and name_cell.value.startswith("=HYPERLINK") and name_cell.quotePrefix


def test_batch_intake_opens_the_same_cases_as_single_intake(ctx):
    from tickets.batch import intake_batch
    from tickets.services import validate_ticket

    handled = (utcnow() - timedelta(hours=2)).isoformat() + "Z"
    cleans = [validate_ticket({"external_id": f"B-{i}", "kind": kind, "handled_at": handled, "category": "计费争议",
                               "customer": {"id": f"BC-{i}", "name": "客户", "phone": f"+861380013800{i}"}})[0]
              for i, kind in enumerate(("complaint", "business", "complaint"))]
    results = intake_batch(cleans)
    single = complaint("S-1")
    cases = db.session.scalars(select(ComplaintCase).where(ComplaintCase.id != single.id)
                               .order_by(ComplaintCase.id)).all()
    assert [c.ticket.external_id for c in cases] == ["B-0", "B-2"]
    for case, result in zip(cases, (results[0], results[2]), strict=True):
        assert [s.name for s in case.stages] == [s.name for s in single.stages]
        assert case.current("accepted").task_id == next(t.id for t in result.tasks if t.kind == "complaint_accept")
        assert case.feedback_due_at == case.current("fed_back").task.due_at
        assert case.number == f"TS{case.number[2:10]}-{case.ticket_id:06d}"


def test_the_recheck_delay_is_a_rule(ctx, staff):
    from core.settings import save_rules
    save_rules({"recheck_after_days": 3})
    db.session.commit()
    case = _fed_back(complaint(), staff)
    assert case.recheck_due_at == case.result_message.sent_at + timedelta(days=3)
