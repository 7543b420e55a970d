"""The API description is the truth: schemathesis, with every check, against a live server
(werkzeug on a free loopback port, started here), finds nothing; and the code's own rules are
the description's."""
import json
import subprocess
import sys
from pathlib import Path

from callbacks.models import TASK_KINDS
from complaints.models import CASE_STATES, STAGES
from integrations.api import TASK_STATES
from tickets.models import TICKET_KINDS
from tickets.services import E164, EMAIL

ROOT = Path(__file__).resolve().parent.parent
# 422 is documented on every operation that answers it: well-formed values that contradict
# each other or the clock (a report ending before it starts, a ticket handled tomorrow, a
# cursor this API never issued). Schema-valid input never gets 400.
CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"""


def test_schemathesis_with_all_checks_finds_nothing(live_server, tmp_path):
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    run = subprocess.run(
        [str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(config), "run",
         f"{live_server}/api/openapi.json", "--url", f"{live_server}/api/v1", "--checks", "all",
         "-H", "Authorization: Bearer test-api-key", "--max-examples", "8", "--seed", "7",
         "--no-color", "--wait-for-schema", "30"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-6000:]
    assert "6 selected / 6 total" in run.stdout and "passed" in run.stdout


def test_every_api_route_is_described(app, client):
    document = client.get("/api/openapi.json").get_json()
    described = {"/api/v1" + path for path in document["paths"]}
    routes = {rule.rule.replace("<external_id>", "{external_id}") for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/")}
    assert described == routes
    phone = document["components"]["schemas"]["Ticket"]["properties"]["customer"]["properties"]["phone"]
    assert phone["pattern"] == f"^({E164.pattern[1:-1]})?$"  # the code's pattern, or empty
    email = document["components"]["schemas"]["Ticket"]["properties"]["customer"]["properties"]["email"]
    assert email["pattern"] == "^$|" + EMAIL.pattern
    schemas = document["components"]["schemas"]
    assert schemas["Ticket"]["properties"]["kind"]["enum"] == list(TICKET_KINDS)
    assert schemas["Task"]["properties"]["kind"]["enum"] == list(TASK_KINDS)
    assert schemas["Task"]["properties"]["state"]["enum"] == list(TASK_STATES)
    stages = schemas["Complaint"]["properties"]["stages"]["items"]["properties"]["name"]["enum"]
    assert stages == list(STAGES)
    assert schemas["Complaint"]["properties"]["state"]["enum"] == list(CASE_STATES)


def test_the_description_and_the_intake_agree_at_the_edges(ctx, client):
    auth = {"Authorization": "Bearer test-api-key"}
    base = {"external_id": "T-1", "kind": "fault", "customer": {"id": "C-1", "phone": ""}}
    for handled_at, status in (("1900-01-01T00:00:00+00:00", 201), ("1899-12-31T23:00:00Z", 400),
                               ("2026-01-05", 400), ("2999-01-01T00:00:00Z", 422)):
        response = client.post("/api/v1/tickets", json={**base, "handled_at": handled_at}, headers=auth)
        assert response.status_code == status, (handled_at, response.get_json())
    possible_or_not = {**base, "external_id": "T-2", "handled_at": "2026-01-05T10:00:00+08:00",
                       "customer": {"id": "C-2", "phone": "+1000000"}}
    assert client.post("/api/v1/tickets", json=possible_or_not, headers=auth).status_code == 201
    wrong = client.get("/api/v1/tickets", headers=auth)
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"] and wrong.is_json
    assert json.loads(wrong.get_data())["error"]
