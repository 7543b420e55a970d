"""`flask seed-demo`, the second half of `make demo`: it fills the database and prints the way in."""
from sqlalchemy import func, select, text

from core.db import db, is_postgres, unsynced_sqlite
from surveys.models import Response


def synchronous() -> int | None:
    return None if is_postgres() else db.session.execute(text("PRAGMA synchronous")).scalar()


def test_seed_demo_fills_the_database_and_prints_the_way_in(app, ctx):
    result = app.test_cli_runner().invoke(args=["seed-demo", "--customers", "12", "--months", "1"])
    assert result.exit_code == 0, result.output
    assert "staff logins (password huifang-demo)" in result.output and "/s/" in result.output
    stored = db.session.scalar(select(func.count()).select_from(Response))
    assert f"{stored} responses" in result.output


def test_only_generated_data_is_written_without_fsync(ctx):
    full, off = 2, 0  # SQLite's PRAGMA synchronous values
    before = synchronous()
    with unsynced_sqlite():
        assert synchronous() == (None if is_postgres() else off)
    assert synchronous() == before == (None if is_postgres() else full)
