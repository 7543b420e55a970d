"""A customer's personal data on request (PIPL art. 45: a copy; art. 47: erasure).

Which rows belong to the person is found through the schema's foreign keys, not a hand-kept
list: the customer row, every row whose foreign key points at one already found (tickets,
invitations, responses, answers, callback tasks, attempts, task events, messages, complaint
cases and their stages...), messages to or from the customer's phone or e-mail, and outbound
webhook events that name the customer's tickets. A table another area adds later is covered as
soon as its foreign key is declared.

Erasure deletes all of those rows except the responses, which stay for the figures (as retention
anonymisation keeps them): they lose the respondent, free text, and every link to the customer,
ticket, invitation and interviewer, so no remaining row leads to the person."""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, Table, cast, or_, select

from admin.retention import anonymise_responses
from complaints.evidence import file_bytes, file_path
from complaints.models import CaseFile
from core.accounts import audit
from core.db import db, utcnow
from core.dump import table_rows
from core.events import Event
from core.text import normalise_phone
from tickets.models import Customer, Ticket

# What each table is, for the people who read the summary and the export.
LABELS = {
    "customers": _l("Customer"), "tickets": _l("Tickets"), "invitations": _l("Survey invitations"),
    "responses": _l("Survey responses"), "answers": _l("Answers"), "callback_tasks": _l("Callback tasks"),
    "attempts": _l("Call attempts"), "task_events": _l("Task history"), "messages": _l("Messages (SMS, calls, e-mails)"),
    "complaint_cases": _l("Complaint cases"), "case_stages": _l("Complaint stages"),
    "case_extensions": _l("Complaint deadline extensions"), "case_recordings": _l("Call recordings"),
    "case_files": _l("Complaint files"), "events": _l("Integration events"),
    "webhook_deliveries": _l("Webhook deliveries"), "webhook_attempts": _l("Webhook delivery attempts"),
}
KEPT_ANONYMISED = {"responses", "answers"}


def label(table: str) -> str:
    return str(LABELS.get(table, _l("Other records")))


def find_customer(reference: str) -> Customer | None:
    """By the operator's customer ID, or by phone number (E.164)."""
    reference = (reference or "").strip()[:64]
    if not reference:
        return None
    customer = db.session.scalar(select(Customer).where(Customer.external_id == reference))
    phone = normalise_phone(reference)
    if customer is None and phone:
        customer = db.session.scalar(select(Customer).where(Customer.phone == phone).order_by(Customer.id))
    return customer


def _key(table: Table):
    return next(iter(table.primary_key.columns))


def personal_rows(customer: Customer) -> dict[str, set[int]]:
    """Primary keys of every row of the person, table by table."""
    from channels.models import Message

    found: dict[str, set[int]] = {"customers": {customer.id}}
    addresses = [a for a in (customer.phone, customer.email) if a]
    if addresses:
        found["messages"] = set(db.session.scalars(select(Message.id).where(
            or_(Message.to.in_(addresses), Message.sender.in_(addresses)))))
    ticket_ids = [t for t in db.session.scalars(select(Ticket.external_id).where(Ticket.customer_id == customer.id))]
    if ticket_ids:  # webhook events name tickets by the operator's id
        found["events"] = set(db.session.scalars(select(Event.id).where(
            or_(*(cast(Event.data, String).contains(f'"{ext}"', autoescape=True) for ext in ticket_ids)))))
    tables = db.metadata.sorted_tables
    grew = True
    while grew:
        grew = False
        for table in tables:
            for fk in table.foreign_keys:
                parents = found.get(fk.column.table.name)
                if not parents:
                    continue
                ids = set(db.session.scalars(select(_key(table)).where(fk.parent.in_(parents))))
                if not ids <= found.get(table.name, set()):
                    found.setdefault(table.name, set()).update(ids)
                    grew = True
    return {name: ids for name, ids in found.items() if ids}


def summary(customer: Customer) -> list[tuple[str, int]]:
    return [(label(name), len(ids)) for name, ids in personal_rows(customer).items()]


def export_customer(customer: Customer) -> bytes:
    """A ZIP: one JSON file per kind of record, and a note in both languages."""
    rows = personal_rows(customer)
    by_name = {t.name: t for t in db.metadata.sorted_tables}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        contents: dict[str, Any] = {}
        for name, ids in rows.items():
            table = by_name[name]
            records = list(table_rows(table, _key(table).in_(ids)))
            archive.writestr(f"{name}.json", json.dumps(records, ensure_ascii=False, indent=2, default=str))
            contents[f"{name}.json"] = {"zh-CN": _zh(name), "en": _en(name), "records": len(records)}
        for row in _case_files(rows):  # the letters and attachments themselves, not only their rows
            archive.writestr(f"case-files/{row.id}-{row.filename}", file_bytes(row))
            contents[f"case-files/{row.id}-{row.filename}"] = {"zh-CN": _zh("case_files"), "en": _en("case_files"),
                                                                "records": 1}
        archive.writestr("README.json", json.dumps({
            "zh-CN": f"客户 {customer.external_id} 在回访系统中的个人信息副本,导出于 {utcnow().isoformat()}Z(UTC)。",
            "en": f"Copy of the personal data of customer {customer.external_id} held by Huifang, "
                  f"exported {utcnow().isoformat()}Z (UTC).",
            "files": contents}, ensure_ascii=False, indent=2))
    audit("export_customer", f"customer:{customer.id}", records=sum(len(ids) for ids in rows.values()))
    db.session.commit()
    return buffer.getvalue()


def _zh(name: str) -> str:
    from flask_babel import force_locale
    with force_locale("zh_CN"):
        return label(name)


def _en(name: str) -> str:
    from flask_babel import force_locale
    with force_locale("en"):
        return label(name)


def erase_customer(customer: Customer) -> dict[str, int]:
    """Deletes the person's rows (children first) and anonymises their responses; audited with
    counts only, under the customer's internal number, which then leads nowhere."""
    rows = personal_rows(customer)
    customer_id = customer.id
    stored = [file_path(row) for row in _case_files(rows)]
    anonymise_responses(sorted(rows.get("responses", set())))  # shared with retention
    db.session.expunge_all()
    for table in reversed(db.metadata.sorted_tables):
        ids = rows.get(table.name)
        if ids and table.name not in KEPT_ANONYMISED:
            for chunk in _chunks(ids):
                db.session.execute(table.delete().where(_key(table).in_(chunk)))
    counts = {name: len(ids) for name, ids in rows.items()}
    audit("erase_customer", f"customer:{customer_id}", records=counts)
    db.session.commit()
    # The bytes go once their rows are gone for good: a failure before the commit keeps both.
    for path in stored:
        path.unlink(missing_ok=True)
    return counts


def _case_files(rows: dict[str, set[int]]) -> list[CaseFile]:
    """The complaint files (letters, attachments) among the person's rows."""
    ids = sorted(rows.get("case_files", set()))
    return list(db.session.scalars(select(CaseFile).where(CaseFile.id.in_(ids)).order_by(CaseFile.id))) if ids else []


def _chunks(ids: set[int], size: int = 1000):
    ordered = sorted(ids)
    for start in range(0, len(ordered), size):
        yield ordered[start:start + size]
