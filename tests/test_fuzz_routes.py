"""No input gives a 500: every route of the URL map, as nobody and as each role, with fuzzed
path parameters and query strings (hypothesis), plus the hostile values the issue found
(years 1 and 9999, lone surrogates, ?tier=x, huge pages and ids, deep JSON). Real error
handling is on (PROPAGATE_EXCEPTIONS off), so the error page itself is exercised too."""
import re
from urllib.parse import quote

import pytest
from flask import got_request_exception
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import db
from tests.conftest import csrf_token, login

SKIP = {"auth.logout", "static"}  # logging out would end the session the walk is using
PARAMS = ["page", "tier", "kind", "region", "category", "handler", "stage", "overdue", "date_from", "date_to",
          "period", "channel", "ticket_kind", "agent", "state", "purpose", "lang", "next", "notice", "q", "since",
          "cursor", "limit", "from", "to", "status", "format", "locale", "id", "token"]
HOSTILE = ["x", "-1", "0", "99999999999999999999999", "1e400", "NaN", "0001-01-01", "9999-12-31",
           "9999-12-31T23:59:59-08:00", "\ud800", "\udfff", "\x00", "'--", "<script>", "x" * 3000, "%", ""]
AUTH = {"Authorization": "Bearer test-api-key"}


def encode(value: str) -> str:
    """Percent-encoded as raw UTF-8, lone surrogates included (what an attacker can send)."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def url_for_rule(rule, values: dict) -> str:
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: encode(str(values[m.group(2)])), rule.rule)


@pytest.fixture
def walker(app, client):
    """Requests with real error handling; an exception in a view fails the test with its trace."""
    crashes = []

    def record(sender, exception, **extra):
        crashes.append(repr(exception))

    app.config["PROPAGATE_EXCEPTIONS"] = False
    got_request_exception.connect(record, app)
    state = {"token": None}

    def call(rule, path_values: dict, query: str = ""):
        url = url_for_rule(rule, path_values) + ("?" + query if query else "")
        if "GET" in rule.methods:
            response = client.get(url, headers=AUTH)
        else:
            state["token"] = state["token"] or csrf_token(client, "/login")
            response = client.post(url, data={"csrf_token": state["token"]}, headers=AUTH)
        body = response.get_data()
        assert response.status_code < 500 and not crashes, (url[:300], response.status_code, crashes)
        if response.status_code >= 400:
            assert body, url  # an error page, not an empty answer
        db.session.rollback()
        return response

    yield call
    got_request_exception.disconnect(record, app)
    app.config["PROPAGATE_EXCEPTIONS"] = None


def routes(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIP]


def path_values(rule, int_value, text_value) -> dict:
    return {name: int_value if type(conv).__name__ in ("DatabaseId", "IntegerConverter") else text_value
            for name, conv in rule._converters.items()}


@pytest.mark.parametrize("role", [None, "admin"])
def test_every_route_survives_the_values_that_broke_it(app, ctx, client, walker, role):
    """Admins reach every staff page; nobody reaches only the public ones."""
    if role:
        login(client, role)
    for index, rule in enumerate(routes(app)):
        value = HOSTILE[index % len(HOSTILE)]
        walker(rule, path_values(rule, 2**31, value))
        walker(rule, path_values(rule, 10**30, "\ud800"))
        walker(rule, path_values(rule, 1, "csv"), "&".join(f"{p}={encode(value)}" for p in PARAMS))


path_text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
query = st.lists(st.tuples(st.one_of(st.sampled_from(PARAMS), st.text(min_size=1, max_size=8)),
                           st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                                     st.integers().map(str), st.dates().map(str))), max_size=6)


@pytest.mark.parametrize("role", [None, "agent", "manager", "admin"])
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_fuzzed_paths_and_query_strings_never_give_a_500(app, ctx, client, walker, role, data):
    if role and not getattr(client, "_logged_in_as", None):
        login(client, role)
        client._logged_in_as = role
    rule = data.draw(st.sampled_from(routes(app)), label="route")
    values = path_values(rule, data.draw(st.integers(min_value=100, max_value=10**25), label="id"),
                         data.draw(path_text, label="text"))
    pairs = data.draw(query, label="query")
    walker(rule, values, "&".join(f"{encode(k)}={encode(v)}" for k, v in pairs))


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, '{"a":' * 5000 + "1" + "}" * 5000,
                                  '{"external_id": "T-1", "kind": "fault", "customer": {"id": "C-1", "name": "\\ud800"}}',
                                  '{"external_id": "T-1", "handled_at": "9999-12-31T23:59:59-08:00"}',
                                  '{"external_id": "T-1", "handled_at": "0001-01-01T00:00:00+08:00"}'])
def test_hostile_json_bodies_are_refused_cleanly(app, ctx, client, walker, body):
    for rule in routes(app):
        if "POST" in rule.methods and rule.rule.startswith("/api/"):
            response = client.post(url_for_rule(rule, path_values(rule, 1, "x")), data=body,
                                   content_type="application/json", headers=AUTH)
            assert response.status_code in (400, 401, 403, 404, 413, 422), (rule.rule, response.status_code)
            assert response.is_json


def test_the_error_page_survives_a_failed_transaction(app, ctx, client, monkeypatch):
    from sqlalchemy import text

    def broken():
        try:
            db.session.execute(text("SELECT no_such_column FROM users"))  # PostgreSQL aborts the transaction
        finally:
            raise RuntimeError("a bug")

    login(client, "admin")
    monkeypatch.setitem(app.view_functions, "core.home", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    response = client.get("/")
    assert response.status_code == 500 and "系统出现问题,请稍后再试。" in response.get_data(as_text=True)

