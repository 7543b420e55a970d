"""The results API: scopes, JSON errors, and a cursor that neither skips nor repeats a response
while others are being completed."""
import threading
from datetime import timedelta

from sqlalchemy import create_engine, func, select, text

from core.accounts import issue_api_key
from core.bulk import insert_rows, reserve_ids
from core.db import db, is_postgres, utcnow
from surveys.feed import current_feed_stamp
from surveys.models import Answer, Response
from surveys.services import complete_response, latest_version, response_for, save_answers
from tests.conftest import make_ticket, sent_invitation

READ = {"Authorization": "Bearer test-api-key"}  # HUIFANG_API_KEYS keys hold every scope


def key_with(*scopes) -> dict:
    _, secret = issue_api_key("warehouse", scopes=scopes)
    return {"Authorization": f"Bearer {secret}"}


def bulk_completed(count: int, completed_at=None) -> list[int]:
    """`count` completed responses in one transaction, written as the CSV import writes them."""
    version = latest_version("telecom-default")
    ids = reserve_ids(Response.__table__, count)
    stamp = current_feed_stamp()
    at = completed_at or utcnow()
    insert_rows(Response.__table__, [
        {"id": i, "version_id": version.id, "channel": "web", "respondent": f"R{i}", "started_at": at,
         "completed_at": at - timedelta(seconds=i % 7), "feed_seq": stamp, "overall": 1 + i % 5}
        for i in ids])
    insert_rows(Answer.__table__, [{"response_id": i, "question_key": "overall", "value_num": 1 + i % 5,
                                    "answered_at": at} for i in ids])
    db.session.commit()
    return ids


def read_all(client, cursor=None, limit=1000) -> tuple[list[int], str | None]:
    """Pages until next_cursor is null; returns the ids and the cursor to poll from later."""
    seen = []
    while True:
        query = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/responses", query_string=query, headers=READ).get_json()
        seen += [r["id"] for r in body["responses"]]
        cursor = body["poll_cursor"] or cursor
        if body["next_cursor"] is None:
            return seen, cursor


def test_scopes_are_enforced_with_json_errors(ctx, client):
    intake, results = key_with("tickets:write"), key_with("results:read")
    assert client.get("/api/v1/responses").status_code == 401
    refused = client.get("/api/v1/responses", headers=intake)
    assert refused.status_code == 403 and refused.get_json()["error"] == "this API key lacks the scope results:read"
    assert client.get("/api/v1/tasks", headers=results).status_code == 200
    ticket = {"external_id": "T-9", "kind": "fault", "handled_at": "2026-01-05T10:00:00Z", "customer": {"id": "C-9"}}
    assert client.post("/api/v1/tickets", json=ticket, headers=results).status_code == 403
    assert client.post("/api/v1/tickets", json=ticket, headers=intake).status_code == 201
    both = key_with("tickets:write", "results:read")
    assert client.get("/api/v1/responses", headers=both).status_code == 200


def test_bad_parameters_get_field_errors(ctx, client):
    for query, field in (({"limit": "0"}, "limit"), ({"limit": "1001"}, "limit"),
                         ({"since": "yesterday"}, "since"), ({"since": "1899-12-31T00:00:00Z"}, "since")):
        response = client.get("/api/v1/responses", query_string=query, headers=READ)
        assert response.status_code == 400 and field in response.get_json()["errors"], query
    forged = client.get("/api/v1/responses", query_string={"cursor": "xyz"}, headers=READ)
    assert forged.status_code == 422 and forged.get_json()["errors"] == {"cursor": "is not a cursor this API returned"}
    response = client.get("/api/v1/reports", query_string={"from": "2026-02-01"}, headers=READ)
    assert response.status_code == 400 and response.get_json()["errors"] == {"to": "is required: a date from 1900-01-01 on, e.g. 2026-01-01"}
    backwards = client.get("/api/v1/reports", query_string={"from": "2026-02-01", "to": "2026-01-01"}, headers=READ)
    assert backwards.status_code == 422 and "to" in backwards.get_json()["errors"]
    assert client.get("/api/v1/complaints/NOPE", headers=READ).get_json() == {"error": "no complaint with external_id NOPE"}
    not_allowed = client.delete("/api/v1/responses", headers=READ)
    assert not_allowed.status_code == 405 and set(not_allowed.headers["Allow"].split(", ")) >= {"GET", "HEAD"}
    assert not_allowed.is_json


def test_responses_come_with_answers_and_the_report_and_tasks_are_served(ctx, client):
    invitation = sent_invitation()
    response = response_for(invitation)
    save_answers(response, {"overall": 4, "nps": 9, "comment": "很好"})
    db.session.commit()
    complete_response(response)
    body = client.get("/api/v1/responses", headers=READ).get_json()
    assert body["next_cursor"] is None and len(body["responses"]) == 1
    item = body["responses"][0]
    assert item["answers"] == {"overall": 4, "nps": 9, "comment": "很好"}
    assert item["ticket_external_id"] == "T-C-1" and item["questionnaire"]["key"] == "telecom-default"
    days = {"from": (utcnow() - timedelta(days=1)).date().isoformat(),
            "to": (utcnow() + timedelta(days=1)).date().isoformat(), "period": "month"}
    report = client.get("/api/v1/reports", query_string=days, headers=READ)
    assert report.status_code == 200 and report.get_json()["responses"] == 1
    make_ticket("T-CMP", kind="complaint")
    tasks = client.get("/api/v1/tasks", query_string={"state": "open"}, headers=READ).get_json()["tasks"]
    assert {t["kind"] for t in tasks} >= {"complaint_accept"}
    case = client.get("/api/v1/complaints/T-CMP", headers=READ).get_json()
    assert case["state"] == "open" and case["case"] and case["stage"] is None
    assert [s["name"] for s in case["stages"]] == ["accepted", "investigated", "handled", "fed_back", "rechecked"]
    assert case["stages"][0]["due_at"] and case["stages"][0]["completed_at"] is None
    assert case["tasks"][0]["kind"] == "complaint_accept"


def test_paging_10000_while_others_complete_returns_each_once(app, ctx, client):
    first = set(bulk_completed(10_000))
    added: list[int] = []

    def insert_more():
        with app.app_context():
            for _ in range(20):  # each a late commit stamped with an earlier completed_at
                added.extend(bulk_completed(25, completed_at=utcnow() - timedelta(days=30)))
            db.session.remove()

    writer = threading.Thread(target=insert_more)
    writer.start()
    seen, cursor = read_all(client)
    writer.join()
    later, _ = read_all(client, cursor)
    seen += later
    assert len(seen) == len(set(seen)) == 10_000 + len(added)
    assert set(seen) == first | set(added)


def test_a_late_commit_is_served_after_it_commits(app, ctx, client):
    """A transaction that completes a response and commits late: a reader that moved on in
    the meantime still gets it (PostgreSQL also holds back rows committed after it began)."""
    bulk_completed(3)
    version = latest_version("telecom-default").id
    db.session.commit()
    with db.engine.connect() as late:  # closed even when an assertion fails: never left open
        late_tx = late.begin()
        stamp = late.execute(select(func.coalesce(func.max(Response.feed_seq), 0) + 1)).scalar() \
            if not is_postgres() else late.execute(select(func.cast(func.pg_current_xact_id(), db.Text))).scalar()
        late.execute(Response.__table__.insert().values(version_id=version, channel="web", respondent="late",
                                                        completed_at=utcnow() - timedelta(days=1),
                                                        feed_seq=int(stamp), started_at=utcnow()))
        on_time = bulk_completed(2) if is_postgres() else []  # SQLite would wait for the open writer
        seen, cursor = read_all(client)
        assert len(seen) == 3  # neither the open one nor (PostgreSQL) the ones committed after it began
        late_tx.commit()
    later, _ = read_all(client, cursor)
    assert len(later) == 1 + len(on_time) and set(on_time) <= set(later)


def test_a_transaction_in_another_database_does_not_hold_the_feed_back(app, ctx, client, tmp_path):
    """Another application's long transaction on the same server (transaction ids are shared by
    every database on it) must not stop this database's feed."""
    other_url = (db.engine.url.set(database="postgres") if is_postgres()
                 else f"sqlite:///{tmp_path / 'other.db'}")
    other = create_engine(other_url)
    try:
        with other.connect() as conn, conn.begin():
            if is_postgres():
                conn.execute(select(func.pg_current_xact_id()))  # holds a running transaction id
            else:
                conn.execute(text("CREATE TABLE held (id INTEGER)"))  # holds its write lock
            ids = bulk_completed(3)
            seen, _ = read_all(client)
            assert sorted(seen) == sorted(ids)
    finally:
        other.dispose()


def test_imported_responses_come_in_completed_at_order(app, ctx, client, tmp_path):
    """SPEC: responses in `completed_at, id` order; one import's rows share a commit."""
    header = "respondent,channel,answered_at,ticket_kind,region,agent,overall,attitude,efficiency,stability,after_sales,nps,resolved,callback,comment\n"
    rows = ["R3,web,2026-03-01T10:00:00+08:00,fault,北京,A01,5,,,,,,,,",
            "R1,web,2026-01-01T10:00:00+08:00,fault,北京,A01,4,,,,,,,,",
            "R2,web,2026-02-01T10:00:00+08:00,fault,北京,A01,3,,,,,,,,"]
    path = tmp_path / "responses.csv"
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    assert "imported 3" in app.test_cli_runner().invoke(args=["import-responses", str(path)]).output
    headers = {"Authorization": "Bearer test-api-key"}
    first = client.get("/api/v1/responses?limit=2", headers=headers).get_json()
    rest = client.get(f"/api/v1/responses?limit=2&cursor={first['next_cursor']}", headers=headers).get_json()
    order = [r["respondent"] for r in first["responses"] + rest["responses"]]
    assert order == ["R1", "R2", "R3"] and rest["next_cursor"] is None
