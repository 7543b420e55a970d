"""A customer's data on request (PIPL): exported as a ZIP of JSON by command and admin page,
or erased so that no remaining row holds or leads to the person, while the report's figures
stay. Both are audited."""
import io
import json
import zipfile

from sqlalchemy import func, select

from callbacks.models import Attempt, CallbackTask
from channels.models import Message
from core.accounts import AuditEvent
from core.db import db
from core.dump import table_rows
from surveys.models import Answer, Response
from tests.conftest import login, make_ticket, post_form, sent_invitation
from tests.test_web_survey import answer_page
from tickets.models import Customer

PERSON = {"id": "C-1", "name": "王芳", "phone": "+8613800138000"}
TRACES = ("王芳", "13800138000", "C-1", "T-C-1", "退订请联系我")


def person_with_history(client):
    """王芳 answered unhappily (a follow-up task, an attempt with notes), wrote an SMS, and has a
    complaint; 李雷 is someone else, who must not be touched."""
    from callbacks.services import claim, record_attempt
    from core.accounts import create_user

    invitation = sent_invitation(**PERSON)
    for data in ({"overall": "2"}, {"attitude": "2"}, {"nps": "3", "resolved": "no"}, {"comment": "退订请联系我 王芳"}):
        answer_page(client, invitation.token, data)
    db.session.add(Message(direction="in", channel="sms", transport="outbox", purpose="reply",
                           to="+10000000000", sender=PERSON["phone"], body="王芳: 请回电", state="received"))
    make_ticket("T-C-1-complaint", kind="complaint", customer=dict(PERSON))
    sent_invitation(id="C-2", name="李雷", phone="+8613900139000")
    agent = create_user("caller@example.com", "Caller", "agent", "correct-horse-1")
    task = db.session.scalar(select(CallbackTask).join(Customer).where(Customer.external_id == "C-1")
                             .order_by(CallbackTask.id))
    claim(task.id, agent.id)
    record_attempt(db.session.get(CallbackTask, task.id), agent.id, "no_answer", notes="王芳 没接")
    db.session.commit()
    return db.session.scalar(select(Customer).where(Customer.external_id == "C-1"))


def everything() -> str:
    """Every row of every table but the audit log, as text."""
    return "\n".join(json.dumps(row, ensure_ascii=False, default=str) for table in db.metadata.sorted_tables
                     if table.name != "audit_events" for row in table_rows(table))


def test_export_by_command_holds_everything_about_the_person(ctx, app, client, tmp_path):
    customer = person_with_history(client)
    out = tmp_path / "c1.zip"
    result = app.test_cli_runner().invoke(args=["customer-export", "--customer", "C-1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    archive = zipfile.ZipFile(out)
    files = {name: json.loads(archive.read(name)) for name in archive.namelist()}
    assert files["customers.json"][0]["name"] == "王芳"
    assert {"tickets.json", "invitations.json", "responses.json", "answers.json", "messages.json",
            "callback_tasks.json", "attempts.json"} <= set(files)
    assert any(a["value_text"] == "退订请联系我 王芳" for a in files["answers.json"])
    assert any(m["body"] == "王芳: 请回电" for m in files["messages.json"])
    assert any(a["notes"] == "王芳 没接" for a in files["attempts.json"])
    assert "李雷" not in json.dumps(files, ensure_ascii=False)
    assert files["README.json"]["files"]["attempts.json"]["zh-CN"] == "通话尝试"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "export_customer",
                                                      AuditEvent.target == f"customer:{customer.id}"))


def test_erasure_from_the_admin_page_leaves_no_trace_and_keeps_the_figures(ctx, app, client):
    from reports.figures import compute_report
    from tests.test_backup import counts

    customer = person_with_history(client)
    day = db.session.scalar(select(Response.completed_at).where(Response.customer_id == customer.id)).date()
    figures = compute_report(day, day, "month")
    other_before = everything().count("李雷")
    admin = app.test_client()
    login(admin, "admin")
    page = post_form(admin, "/admin/privacy", {"reference": "+8613800138000"}).get_data(as_text=True)
    assert "通话尝试" in page and "客户 C-1" in page
    download = post_form(admin, f"/admin/privacy/{customer.id}/export", {}, token_from="/admin/privacy")
    assert zipfile.ZipFile(io.BytesIO(download.data)).read("customers.json")

    before = counts()
    refused = post_form(admin, f"/admin/privacy/{customer.id}/erase", {"confirm": "C-2"}, token_from="/admin/privacy")
    assert refused.status_code == 303 and counts() == before

    post_form(admin, f"/admin/privacy/{customer.id}/erase", {"confirm": "C-1"}, token_from="/admin/privacy")
    db.session.expire_all()
    text = everything()
    assert [trace for trace in TRACES if trace in text] == []
    assert text.count("李雷") == other_before  # the other customer is untouched
    response = db.session.scalar(select(Response).where(Response.overall == 2))
    assert (response.customer_id, response.ticket_id, response.invitation_id, response.respondent) == (None, None, None, "")
    assert db.session.scalar(select(func.count()).select_from(Answer).where(Answer.response_id == response.id,
                                                                             Answer.value_text.is_not(None))) == 0
    assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
    assert compute_report(day, day, "month")["responses"] == figures["responses"]
    assert compute_report(day, day, "month")["csat"] == figures["csat"]
    erased = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "erase_customer"))
    assert erased.details["records"]["customers"] == 1
    assert app.test_cli_runner().invoke(args=["verify-audit"]).exit_code == 0


def test_erase_command_and_unknown_customers(ctx, app, client):
    person_with_history(client)
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["customer-erase", "--customer", "C-404", "--yes"])
    assert missing.exit_code != 0 and "no customer" in missing.output
    result = runner.invoke(args=["customer-erase", "--customer", "C-1", "--yes"])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Customer.external_id).order_by(Customer.id)) == "C-2"
    assert [trace for trace in TRACES if trace in everything()] == []


def test_complaint_files_are_exported_and_erased_from_disk(ctx, app, client, tmp_path):
    """The letter and attachments of a case hold the person too: the export carries their
    bytes, and erasure removes them from disk, not only their rows."""
    from complaints.evidence import files_dir, store_file
    from complaints.models import CaseFile, ComplaintCase

    customer = person_with_history(client)
    case = db.session.scalar(select(ComplaintCase).join(ComplaintCase.ticket).where(
        ComplaintCase.ticket.has(customer_id=customer.id)))
    store_file(case, "attachment", "核查记录.txt", "王芳 的话单核查记录".encode(), None)
    db.session.commit()
    path = files_dir() / db.session.scalar(select(CaseFile.stored_name))
    runner = app.test_cli_runner()
    out = tmp_path / "c1.zip"
    assert runner.invoke(args=["customer-export", "--customer", "C-1", "--out", str(out)]).exit_code == 0
    archive = zipfile.ZipFile(out)
    attached = [name for name in archive.namelist() if name.startswith("case-files/")]
    assert [archive.read(name).decode() for name in attached] == ["王芳 的话单核查记录"]
    assert json.loads(archive.read("README.json"))["files"][attached[0]]["zh-CN"] == "投诉附件"

    assert runner.invoke(args=["customer-erase", "--customer", "C-1", "--yes"]).exit_code == 0
    assert not path.exists()
    assert db.session.scalar(select(func.count()).select_from(CaseFile)) == 0
