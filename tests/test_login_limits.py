"""Login limiting (core/loginlimits.py): an attacker is slowed per account and client, a
distributed attack caps the account for unknown clients only, the real user keeps logging in,
addresses come from the configured proxies only, and gunicorn workers share the count in Redis."""
import os
import re
import subprocess
import sys
import uuid

import pytest
import redis
import requests

from app import create_app
from core.accounts import create_user
from tests.conftest import csrf_token
from tests.test_load import ROOT, free_port, wait_until_serving


def attempt(client, password, address, headers=None):
    environ = {"REMOTE_ADDR": address}
    token = csrf_token(client, "/login")
    return client.post("/login", data={"csrf_token": token, "email": "agent@example.com", "password": password},
                       environ_base=environ, headers=headers or {}).status_code


@pytest.fixture
def agent(ctx):
    return create_user("agent@example.com", "Agent", "agent", "correct-horse-1")


def test_attacker_is_limited_but_the_real_user_logs_in_from_their_own_address(app, agent):
    attacker, user = app.test_client(), app.test_client()
    statuses = [attempt(attacker, f"guess-{n}", "203.0.113.66") for n in range(11)]
    assert statuses == [401] * 10 + [429]
    assert attempt(attacker, "correct-horse-1", "203.0.113.66") == 429  # even the right one, from there
    assert attempt(user, "correct-horse-1", "198.51.100.20") == 302


def test_a_distributed_attack_leaves_the_users_own_browser_working(app, agent, monkeypatch):
    user = app.test_client()
    assert attempt(user, "correct-horse-1", "198.51.100.20") == 302  # the browser the user always uses
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_ACCOUNT", "5 per hour")
    botnet = app.test_client()
    statuses = [attempt(botnet, "guess", f"203.0.113.{n}") for n in range(1, 8)]
    assert statuses == [401] * 5 + [429, 429]  # the account is closed to unknown clients
    assert attempt(app.test_client(), "correct-horse-1", "198.51.100.99") == 429
    assert attempt(user, "correct-horse-1", "198.51.100.20") == 302  # but open to the user's device


def test_forged_forwarded_for_headers_do_not_help_without_a_proxy(app, agent):
    attacker = app.test_client()
    statuses = [attempt(attacker, "guess", "203.0.113.66", {"X-Forwarded-For": f"10.0.0.{n}"}) for n in range(11)]
    assert statuses[-1] == 429


def test_behind_a_configured_proxy_clients_are_told_apart(app, database_url, agent):
    proxied = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": database_url, "PROXY_HOPS": 1})
    attacker, user = proxied.test_client(), proxied.test_client()
    statuses = [attempt(attacker, "guess", "10.0.0.2", {"X-Forwarded-For": "203.0.113.66"}) for _ in range(11)]
    assert statuses[-1] == 429
    assert attempt(user, "correct-horse-1", "10.0.0.2", {"X-Forwarded-For": "198.51.100.20"}) == 302


def test_four_gunicorn_workers_share_the_count_in_redis(ctx, database_url, agent):
    from core.db import db
    db.session.commit()
    prefix = f"hf-accounts-test-{uuid.uuid4().hex}"
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "limit-test-secret",
           "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "RATELIMIT_KEY_PREFIX": prefix,
           "HUIFANG_LOGIN_LIMIT_ACCOUNT_CLIENT": "6 per hour"}
    # --preload imports the app once and forks: quicker to start on a busy machine, and still four
    # processes whose memory:// storage would each count alone; only Redis makes one count.
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "4", "--preload", "-b", f"127.0.0.1:{port}",
                               "--timeout", "60", "app:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base, store = f"http://127.0.0.1:{port}", redis.Redis.from_url("redis://127.0.0.1:6379/0")
    try:
        wait_until_serving(base, server)

        def post(password):
            # A new connection each time, so the requests spread over the workers.
            session = requests.Session()
            page = session.get(f"{base}/login", timeout=30, headers={"Connection": "close"})
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
            return session.post(f"{base}/login", timeout=30, allow_redirects=False, headers={"Connection": "close"},
                                data={"csrf_token": token, "email": "agent@example.com", "password": password}).status_code

        statuses = [post(f"guess-{n}") for n in range(6)] + [post("correct-horse-1")]
        assert statuses == [401] * 6 + [429]
        counted = [int(store.get(key)) for key in store.scan_iter(f"*{prefix}*login-account-client*")]
        assert counted == [6]  # one count in Redis, whichever worker served each attempt
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=60)
        for key in store.scan_iter(f"*{prefix}*"):
            store.delete(key)
    assert "Traceback" not in errors, errors[-3000:]
