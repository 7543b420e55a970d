"""`flask --app app backup` and `restore`: a backup restored into a fresh database made by
init-db has the same rows in every table and gives the same report figures."""
import os
from datetime import date

from sqlalchemy import func, select

from app import create_app
from core.db import db, fresh_postgres_database
from tests.test_reports import dataset  # noqa: F401,F811  (the fixture)


def fresh_database_url(tmp_path, name):
    base = os.environ.get("TEST_DATABASE_URL")
    if not base:
        return f"sqlite:///{tmp_path / name}.db"
    return fresh_postgres_database(base, f"{base.rpartition('/')[2]}_{name}")


def counts() -> dict[str, int]:
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables}


def figures():
    from reports.figures import compute_report
    return compute_report(date(2026, 1, 1), date(2026, 4, 30), "month")


def test_backup_restores_into_a_fresh_database_with_the_same_rows_and_figures(ctx, app, client, dataset, tmp_path,  # noqa: F811
                                                                              worker_id):
    from tests.conftest import login, make_ticket, sent_invitation

    sent_invitation(locale="en", id="C-9", name="Li Lei")
    make_ticket("T-2", kind="complaint", customer={"id": "C-2", "name": "张伟", "phone": "+8613800138002"})
    login(client, "admin")  # a second factor, recovery codes and chained audit rows too
    before, report = counts(), figures()
    assert before["responses"] == 94 and before["recovery_codes"] == 10 and before["callback_tasks"] >= 1
    assert report["responses"] == 94
    dump = tmp_path / "huifang-backup.jsonl.gz"
    result = app.test_cli_runner().invoke(args=["backup", "--out", str(dump)])
    assert result.exit_code == 0, result.output

    fresh = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": fresh_database_url(tmp_path, f"restore_{worker_id}")})
    runner = fresh.test_cli_runner()
    with fresh.app_context():  # the commands run in the context they find
        assert runner.invoke(args=["init-db"]).exit_code == 0
        result = runner.invoke(args=["restore", str(dump), "--yes"])
        assert result.exit_code == 0, result.output
        after = counts()
        assert after == {**before, "audit_events": before["audit_events"] + 1}  # + the restore itself
        assert figures() == report
        assert runner.invoke(args=["verify-audit"]).exit_code == 0
        from sqlalchemy import insert

        from tickets.models import Customer
        db.session.execute(insert(Customer).values(external_id="after-restore", name="新客户"))  # ids continue
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_restore_refuses_a_file_that_is_not_a_backup_and_changes_nothing(ctx, app, tmp_path):
    from tests.conftest import make_ticket
    make_ticket()
    before = counts()
    bogus = tmp_path / "bogus.jsonl"
    bogus.write_text('{"hello": "world"}\n')
    result = app.test_cli_runner().invoke(args=["restore", str(bogus), "--yes"])
    assert result.exit_code != 0 and "not a Huifang backup" in result.output
    assert counts() == before


def test_restore_refuses_another_schema_revision(ctx, app, tmp_path):
    dump = tmp_path / "old.jsonl"
    dump.write_text('{"format": "huifang-backup/1", "revision": "000000000000"}\n')
    result = app.test_cli_runner().invoke(args=["restore", str(dump), "--yes"])
    assert result.exit_code != 0 and "schema revision 000000000000" in result.output
