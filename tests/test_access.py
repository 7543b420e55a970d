"""Every staff route as nobody and as each role: anonymous requests go to /login, the wrong
role gets 403. A new route without a decision here fails the test."""
import re

import pytest

from tests.conftest import csrf_token, login

PUBLIC = {"static", "core.healthz", "core.home", "core.switch_language", "core.openapi", "auth.login", "auth.second_factor", "auth.enrol",
          "surveys.answer", "surveys.thanks", "webhooks.inbound_sms", "webhooks.status_callback",
          "webhooks.voice_start", "webhooks.voice_answer", "webhooks.bridge_call", "webhooks.unsubscribe", "api.create_ticket",
          # API-key routes (scopes: tests/test_results_api.py)
          "results.list_responses", "results.report", "results.list_tasks", "results.complaint",
          "recheck.recheck", "complaint_hooks.recording_notice", "complaint_hooks.recording_status",
          "api.create_tickets"}
ALLOWED = {  # endpoint -> roles besides admin (who may do everything)
    "auth.logout": {"agent", "manager"}, "auth.change_password": {"agent", "manager"},
    "callbacks.work_list": {"agent"}, "callbacks.task": {"agent"}, "callbacks.claim_task": {"agent"},
    "callbacks.release_task": {"agent"}, "callbacks.call_customer": {"agent"}, "callbacks.add_attempt": {"agent"}, "callbacks.close_task": {"agent"},
    "callbacks.supervisor": {"manager"},
    "surveys_staff.interview": {"agent"},
    "channels.outbox": {"agent", "manager"}, "channels.message": {"agent", "manager"},
    "channels.simulator": {"agent", "manager"}, "channels.retry": set(),
    "reports.dashboard": {"manager"}, "reports.export_figures": {"manager"},
    "reports.export_responses": {"manager"}, "reports.archive": {"manager"}, "reports.generate": {"manager"},
    "reports.download": {"manager"},
    "analytics.action_list": {"agent", "manager"}, "analytics.action_detail": {"agent", "manager"},
    "analytics.new_action": {"manager"}, "analytics.scorecards_page": {"agent", "manager"},
    "complaints.ledger_page": {"agent", "manager"}, "complaints.export": {"agent", "manager"},
    "complaints.case_page": {"agent", "manager"}, "complaints.complete": {"agent", "manager"},
    "complaints.edit_content": {"agent", "manager"}, "complaints.extend": {"agent", "manager"},
    "complaints.result": {"agent", "manager"}, "complaints.upload": {"agent", "manager"},
    "complaints.download": {"agent", "manager"},
    "analytics.report_suggestions": {"manager"},
    "admin.index": set(), "admin.rules": set(), "admin.users": set(), "admin.toggle_user": set(), "admin.api_keys": set(),
    "admin.revoke_api_key": set(), "admin.questionnaires": set(), "admin.audit_log": set(),
    "admin.privacy": set(), "admin.privacy_export": set(), "admin.privacy_erase": set(),
    "admin.reset_second_factor": set(),
    "integrations.endpoints": set(), "integrations.endpoint": set(), "integrations.toggle": set(),
    "integrations.redeliver_one": set(),
    # Questionnaires: managers build and preview drafts; only admins publish and route
    "builder.index": {"manager"}, "builder.build": {"manager"}, "builder.version": {"manager"},
    "builder.export": {"manager"}, "builder.publish": set(),
    "admin.questionnaire_routes": set(), "admin.delete_questionnaire_route": set(),
}
ARGS = {"customer_id": 1, "endpoint_id": 1, "delivery_id": 1, "case_id": 1, "file_id": 1, "name": "accepted", "task_id": 1,
        "message_id": 1, "user_id": 99, "key_id": 1, "report_id": 1, "action_id": 1, "fmt": "csv", "code": "en",
        "key": "telecom-default", "number": 1, "route_id": 1}


def staff_routes(app):
    routes = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ARGS[m.group(1)]), rule.rule)
        method = "GET" if "GET" in rule.methods else "POST"
        routes.append((rule.endpoint, method, url))
    return routes


def test_every_staff_route_has_an_access_decision(app):
    assert {endpoint for endpoint, _, _ in staff_routes(app)} == set(ALLOWED)


def call(client, method, url):
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={"csrf_token": csrf_token(client, "/login")})
    response.get_data()  # consume streamed bodies (CSV exports) like a browser would
    return response


def test_anonymous_requests_are_sent_to_login(ctx, app, client):
    for endpoint, method, url in staff_routes(app):
        response = call(client, method, url)
        assert response.status_code == 302, (endpoint, response.status_code)
        assert "/login" in response.headers["Location"], endpoint


@pytest.mark.parametrize("role", ["agent", "manager", "admin"])
def test_each_role_reaches_only_its_pages(ctx, app, client, role):
    login(client, role)
    for endpoint, method, url in staff_routes(app):
        if endpoint == "auth.logout":
            continue
        response = call(client, method, url)
        allowed = role == "admin" or role in ALLOWED[endpoint]
        if allowed:
            assert response.status_code not in (401, 403) and "/login" not in response.headers.get("Location", ""), (endpoint, response.status_code)
        else:
            assert response.status_code == 403, (endpoint, role, response.status_code)


def test_login_is_rate_limited_and_wrong_passwords_fail(ctx, client):
    from core.accounts import create_user
    create_user("agent@example.com", "Agent", "agent", "correct-horse-1")
    for _ in range(10):
        response = client.post("/login", data={"csrf_token": csrf_token(client, "/login"),
                                               "email": "agent@example.com", "password": "wrong"})
        assert response.status_code == 401
    blocked = client.post("/login", data={"csrf_token": csrf_token(client, "/login"),
                                          "email": "agent@example.com", "password": "correct-horse-1"})
    assert blocked.status_code == 429


def test_passwords_are_hashed_and_sessions_hardened(ctx, app, client):
    user = login(client, "agent")
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:")) and "correct-horse-1" not in user.password_hash
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
    headers = client.get("/callbacks").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY" and headers["X-Content-Type-Options"] == "nosniff"


def test_logout_ends_the_session(ctx, client):
    login(client, "agent")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/callbacks")})
    assert client.get("/callbacks").status_code == 302


def test_open_redirect_after_login_is_refused(ctx, client):
    from core.accounts import create_user
    create_user("agent@example.com", "Agent", "agent", "correct-horse-1")
    response = client.post("/login?next=https://evil.example.com/", data={
        "csrf_token": csrf_token(client, "/login"), "email": "agent@example.com", "password": "correct-horse-1"})
    assert response.headers["Location"] == "/"
