"""Fuzzing the public entry points: the ticket API from its OpenAPI description, the survey
form, the Twilio webhooks and the CSV import. Never a 500, never a partial write."""
import io
import json
from datetime import UTC, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from core.db import db, utcnow
from surveys.models import Answer, Response
from tests.channel_fakes import TWILIO_SETTINGS, signed_post
from tests.conftest import csrf_token, sent_invitation
from tickets.models import Customer, Ticket

SPEC = json.loads((Path(__file__).resolve().parent.parent / "tickets" / "openapi.json").read_text())
SCHEMA = SPEC["components"]["schemas"]["Ticket"]


def from_schema(schema: dict):
    """Values valid for the JSON Schema keywords the API description uses."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("type") == "object":
        props = {k: from_schema(v) for k, v in schema["properties"].items()}
        required = set(schema.get("required", []))
        return st.fixed_dictionaries({k: v for k, v in props.items() if k in required},
                                     optional={k: v for k, v in props.items() if k not in required})
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    if schema.get("format") == "date-time":
        return st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
    if schema.get("format") == "email":
        return st.emails()
    return st.text(max_size=schema.get("maxLength", 50))
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
AUTH = {"Authorization": "Bearer test-api-key"}
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                           max_leaves=12)


def counts():
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Ticket, Customer))


def test_openapi_is_served(client):
    assert client.get("/api/openapi.json").get_json()["paths"]["/tickets"]["post"]


@FUZZ
@given(body=from_schema(SCHEMA))
def test_schema_valid_tickets_never_crash(ctx, client, body):
    before = counts()
    response = client.post("/api/v1/tickets", json=body, headers=AUTH)
    assert response.status_code in (200, 201, 400), response.get_data(as_text=True)
    if response.status_code == 400:  # e.g. a date in the future or a number no country has
        assert response.get_json()["errors"] and counts() == before
    elif response.status_code == 201:
        assert counts()[0] == before[0] + 1


@FUZZ
@given(body=json_values, field=st.sampled_from(["external_id", "kind", "handled_at", "customer", "region"]),
       value=json_values)
def test_arbitrary_json_is_refused_cleanly(ctx, client, body, field, value):
    before = counts()
    almost = {"external_id": "T-1", "kind": "fault", "handled_at": (utcnow() - timedelta(hours=1)).isoformat(),
              "customer": {"id": "C-1"}, field: value}
    for payload in (body, almost):
        response = client.post("/api/v1/tickets", json=payload, headers=AUTH)
        assert response.status_code in (200, 201, 400)
        if response.status_code == 400:
            assert counts() == before


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["overall", "attitude", "nps", "page", "comment", "resolved", "x"]),
                            st.text(max_size=30) | st.sampled_from(["", "0", "5", "11", "-1", "1e9", "\x00"]),
                            max_size=6))
def test_survey_form_fuzz(ctx, client, form):
    from sqlalchemy import delete
    db.session.execute(delete(Answer))
    db.session.execute(delete(Response))
    db.session.commit()
    invitation = _invitation()
    response = client.post(f"/s/{invitation.token}", data={"csrf_token": csrf_token(client, f"/s/{invitation.token}"), **form})
    assert response.status_code in (302, 400)
    stored = db.session.scalar(select(Response).where(Response.invitation_id == invitation.id))
    if response.status_code == 400:
        assert stored is None
    else:
        assert all(1 <= a.value_num <= 5 for a in stored.answers if a.question_key == "overall")


def _invitation():
    """One invitation for all examples, reopened for each (examples share the test's database)."""
    from surveys.models import Invitation
    invitation = db.session.scalar(select(Invitation))
    if invitation is None:
        return sent_invitation()
    invitation.state = "sent"
    db.session.commit()
    return invitation


@FUZZ
@given(body=st.text(max_size=200), sender=st.text(max_size=20) | st.just("+447700900123"))
def test_sms_webhook_fuzz(app, ctx, client, body, sender):
    app.config.update(TWILIO_SETTINGS)
    try:
        response = signed_post(client, "/twilio/sms", {"From": sender, "Body": body})
        assert response.status_code in (200, 400)
    finally:
        app.config.update(TWILIO_ACCOUNT_SID="", TWILIO_AUTH_TOKEN="", TWILIO_FROM="")


@FUZZ
@given(cells=st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
                               min_size=1, max_size=17), max_size=6))
def test_csv_import_fuzz(ctx, cells):
    import csv

    from surveys.importer import import_responses_csv
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["respondent", "channel", "answered_at", "ticket_kind", "region", "agent", "overall", "attitude",
                     "efficiency", "stability", "after_sales", "nps", "resolved", "callback", "comment"])
    writer.writerows(cells)
    before = db.session.scalar(select(func.count()).select_from(Response))
    report = import_responses_csv(io.StringIO(out.getvalue()))
    after = db.session.scalar(select(func.count()).select_from(Response))
    assert after - before == report.imported and report.imported + len(report.errors) <= len(cells)
    half_written = db.session.scalar(select(func.count()).select_from(Response).where(Response.completed_at.is_(None)))
    assert half_written == 0
