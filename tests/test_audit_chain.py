"""The audit log is hash-chained: an edit or a deletion by raw SQL is found by
`flask --app app verify-audit`, which names the first broken row; retention never removes
audit rows, so they are kept well beyond six months."""
from datetime import timedelta

from sqlalchemy import func, select, text, update

from core.accounts import AuditEvent, audit
from core.db import db, utcnow
from tests.conftest import login, post_form


def verify(app):
    return app.test_cli_runner().invoke(args=["verify-audit"])


def some_audited_work(client):
    login(client, "admin")
    post_form(client, "/admin/api-keys", {"name": "CRM"})
    audit("phone_view", "task:1")
    audit("export", "responses", rows=3, filters={"from": "2026-01-01"})
    db.session.commit()
    return db.session.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()


def test_an_untouched_log_verifies(ctx, app, client):
    ids = some_audited_work(client)
    assert len(ids) >= 4
    result = verify(app)
    assert result.exit_code == 0 and f"audit log intact: {len(ids)} row(s)" in result.output
    rows = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert rows[0].prev_hash is None and all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))


def test_a_row_edited_with_raw_sql_is_caught(ctx, app, client):
    ids = some_audited_work(client)
    victim = ids[2]
    db.session.execute(text("UPDATE audit_events SET target = 'task:999' WHERE id = :id"), {"id": victim})
    db.session.commit()
    result = verify(app)
    assert result.exit_code == 1 and f"BROKEN at row {victim}: its content does not match" in result.output


def test_a_rehashed_edit_breaks_the_next_link(ctx, app, client):
    ids = some_audited_work(client)
    row = db.session.get(AuditEvent, ids[1])
    row.details = {"forged": True}
    db.session.execute(update(AuditEvent).where(AuditEvent.id == row.id)
                       .values(details={"forged": True}, row_hash=row.digest()))
    db.session.commit()
    result = verify(app)
    assert result.exit_code == 1 and f"BROKEN at row {ids[2]}: its link" in result.output


def test_a_deleted_row_is_caught(ctx, app, client):
    ids = some_audited_work(client)
    db.session.execute(text("DELETE FROM audit_events WHERE id = :id"), {"id": ids[1]})
    db.session.commit()
    result = verify(app)
    assert result.exit_code == 1 and f"BROKEN at row {ids[2]}" in result.output


def test_retention_keeps_audit_rows(ctx, app):
    from core.settings import save_rules

    audit("login", "user:1")
    db.session.commit()
    old = utcnow() - timedelta(days=200)
    db.session.execute(text("UPDATE audit_events SET at = :at"), {"at": old})
    db.session.commit()
    save_rules({"retention_months": 1})
    db.session.commit()
    from jobs import job_table
    assert job_table()["retention"](utcnow()) == 0  # the daily retention job
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.at <= old)) == 1


def test_rows_cut_from_the_end_are_caught_against_a_seal(ctx, app, client):
    ids = some_audited_work(client)
    intact = verify(app)
    seal = intact.output.split("seal now: ")[1].split()[0]
    assert seal == f"{ids[-1]}:{db.session.get(AuditEvent, ids[-1]).row_hash}"
    audit("later", "task:2")  # the log grows after the seal: still fine
    db.session.commit()
    assert app.test_cli_runner().invoke(args=["verify-audit", "--seal", seal]).exit_code == 0
    # The chain alone cannot see the newest rows cut off; the seal can.
    db.session.execute(text("DELETE FROM audit_events WHERE id >= :id"), {"id": ids[-2]})
    db.session.commit()
    assert verify(app).exit_code == 0
    cut = app.test_cli_runner().invoke(args=["verify-audit", "--seal", seal])
    assert cut.exit_code == 1 and f"row {ids[-1]} of the seal is gone" in cut.output
    forged = app.test_cli_runner().invoke(args=["verify-audit", "--seal", f"{ids[0]}:{'0' * 64}"])
    assert forged.exit_code == 1 and "no longer has the sealed hash" in forged.output
    bad = app.test_cli_runner().invoke(args=["verify-audit", "--seal", "yesterday"])
    assert bad.exit_code == 2 and "a seal is ID:HASH" in bad.output


def test_report_emails_carry_the_seal(ctx, app, client):
    from channels.models import Message
    from core.settings import save_rules
    from reports.scheduled import generate_due_reports

    ids = some_audited_work(client)
    save_rules({"manager_emails": ["ceo@example.com"]})
    db.session.commit()
    generate_due_reports(utcnow())
    bodies = db.session.scalars(select(Message.body).where(Message.to == "ceo@example.com")).all()
    assert bodies and all("审计日志封印:" in body for body in bodies)
    seal = bodies[0].split("审计日志封印:")[1].split("。")[0]
    assert int(seal.split(":")[0]) >= ids[-1]
    assert app.test_cli_runner().invoke(args=["verify-audit", "--seal", seal]).exit_code == 0
