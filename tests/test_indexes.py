"""The hot paths are served by indexes: checked with EXPLAIN on PostgreSQL (sequential scans
switched off, so the plan shows whether an index can serve the query at all) and with
EXPLAIN QUERY PLAN on SQLite."""
import pytest
from sqlalchemy import text

from core.db import db

HOT_PATHS = {
    # SQLite names the index behind a UNIQUE constraint itself.
    "survey token lookup": ("SELECT * FROM invitations WHERE token = 'abc'",
                            ("uq_invitations_token", "sqlite_autoindex_invitations_1")),
    "due invitations": ("SELECT id FROM invitations WHERE state = 'scheduled' AND send_at <= '2026-01-01' "
                        "ORDER BY send_at LIMIT 500", "ix_invitations_due"),
    "invitation cap per customer": ("SELECT count(*) FROM invitations WHERE customer_id = 1 "
                                    "AND send_at > '2026-01-01' AND send_at < '2026-03-01'", "ix_invitations_customer_send"),
    "due messages": ("SELECT id FROM messages WHERE state = 'queued' AND next_attempt_at <= '2026-01-01' "
                     "LIMIT 200", "ix_messages_due"),
    "callback work list": ("SELECT id FROM callback_tasks WHERE state = 'open' AND due_at < '2026-01-01' "
                           "ORDER BY due_at LIMIT 50", "ix_callback_tasks_work"),
    "responses by date": ("SELECT count(*) FROM responses WHERE completed_at >= '2026-01-01' "
                          "AND completed_at < '2026-02-01'", "ix_responses_completed"),
    "customer by phone (inbound SMS)": ("SELECT id FROM customers WHERE phone = '+8613800138000'",
                                        "ix_customers_phone"),
}


def plan(sql: str) -> str:
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET enable_seqscan = off"))
            rows = conn.execute(text("EXPLAIN " + sql)).scalars().all()
        else:
            rows = [r[-1] for r in conn.execute(text("EXPLAIN QUERY PLAN " + sql))]
    return "\n".join(rows)


@pytest.mark.parametrize("name", list(HOT_PATHS))
def test_hot_path_uses_its_index(ctx, name):
    sql, index = HOT_PATHS[name]
    explained = plan(sql)
    names = index if isinstance(index, tuple) else (index,)
    assert any(n in explained for n in names), f"{name}:\n{explained}"
    assert "Seq Scan" not in explained and "SCAN invitations\n" not in explained + "\n"
