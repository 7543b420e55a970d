"""Anonymisation that anonymises: after retention runs, no join from the response reaches the
customer. The walk follows every foreign key of the schema (both ways), so a table added later
that points at responses or customers is covered without changing this test."""
from datetime import timedelta

from sqlalchemy import select

from callbacks.models import CallbackTask
from core.db import db, utcnow
from core.settings import save_rules
from surveys.models import Response
from tests.conftest import sent_invitation
from tests.test_web_survey import answer_page

PERSON = "customers"
# Shared reference rows every response points at: they describe the questionnaire or the staff,
# not the respondent, so the walk does not spread through them to everyone else.
SHARED = {"questionnaire_versions", "questionnaires", "users"}


def _row(table, key):
    (pk,) = table.primary_key.columns
    return db.session.execute(select(table).where(pk == key)).mappings().first()


def reachable(table_name: str, key) -> dict[str, set]:
    """Every row joined to the start row through any chain of foreign keys, by table."""
    tables = db.metadata.tables
    seen: dict[str, set] = {table_name: {key}}
    frontier = [(tables[table_name], key)]
    while frontier:
        table, key = frontier.pop()
        row = _row(table, key)
        found = []
        for other in tables.values():
            for fk in other.foreign_keys:
                if fk.parent.table is table and row[fk.parent.name] is not None:  # this row points out
                    found += [(fk.column.table, row[fk.parent.name])]
                if fk.column.table is table and row[fk.column.name] is not None:  # rows point at this one
                    (pk,) = other.primary_key.columns
                    found += [(other, k) for k in db.session.scalars(select(pk).where(fk.parent == row[fk.column.name]))]
        for target, target_key in found:
            if target_key not in seen.setdefault(target.name, set()):
                seen[target.name].add(target_key)
                if target.name not in SHARED:
                    frontier.append((target, target_key))
    return seen


def text_in(rows: dict[str, set], needles: tuple[str, ...]) -> list[str]:
    tables = db.metadata.tables
    return [f"{name}.{column}" for name, keys in rows.items() if name not in SHARED for key in keys
            for column, value in _row(tables[name], key).items()
            if isinstance(value, str) and any(n in value for n in needles)]


def test_no_join_leads_from_an_anonymised_response_to_the_customer(app, ctx, client):
    invitation = sent_invitation(id="C-42", name="王芳", phone="+8613800138000")
    for data in ({"overall": "1"}, {"attitude": "1"}, {"nps": "0", "resolved": "no", "callback": "yes"},
                 {"comment": "王芳 13800138000"}):
        answer_page(client, invitation.token, data)
    response = db.session.scalar(select(Response))
    assert db.session.scalar(select(CallbackTask).where(CallbackTask.response_id == response.id)) is not None
    before = reachable("responses", response.id)
    assert PERSON in before and text_in(before, ("王芳", "13800138000"))  # the walk does find the person
    response.completed_at = utcnow() - timedelta(days=400)
    save_rules({"retention_months": 12})
    db.session.commit()
    assert "anonymised 1 response(s)" in app.test_cli_runner().invoke(args=["anonymise"]).output
    db.session.expire_all()
    after = reachable("responses", response.id)
    assert PERSON not in after, after
    assert text_in(after, ("王芳", "13800138000", "C-42")) == []
    kept = db.session.get(Response, response.id)
    assert (kept.overall, kept.nps) == (1, 0)  # the figures stay
    assert db.session.scalar(select(CallbackTask)).customer_id is not None  # the task itself is kept
