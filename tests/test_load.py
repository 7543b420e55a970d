"""Bounded loopback load: many customers answer at once through gunicorn with several
workers (on PostgreSQL in the PostgreSQL run), some double-clicking the last submit. No response
is lost or duplicated. 60 customers x 9 requests, 12 at a time; it stops by itself."""
import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from sqlalchemy import func, select, update

from core.db import db, utcnow
from demo import bulk_due_invitations
from surveys.dispatch import send_due_invitations
from surveys.models import Answer, Invitation, Response

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS, CONCURRENCY = 60, 12
PAGES = [{"overall": "4"}, {"attitude": "5", "efficiency": "4", "stability": "3", "after_sales": "4"},
         {"nps": "9", "resolved": "yes"}, {"comment": "load test 压力测试"}]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answer(base: str, token: str, double_submit: bool) -> list[int]:
    """The statuses of every POST (a double submit adds both of its answers)."""
    session, statuses = requests.Session(), []
    for number, data in enumerate(PAGES, 1):
        page = session.get(f"{base}/s/{token}", timeout=30)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
        form = {"csrf_token": csrf, "page": re.search(r'name="page" value="(\d+)"', page.text).group(1), **data}
        if double_submit and number == len(PAGES):
            def submit(_, form=form):
                return session.post(f"{base}/s/{token}", data=form, timeout=30, allow_redirects=False).status_code
            with ThreadPoolExecutor(2) as pool:  # the same final form posted twice at once
                statuses += sorted(pool.map(submit, range(2)))
        else:
            statuses.append(session.post(f"{base}/s/{token}", data=form, timeout=30, allow_redirects=False).status_code)
    return statuses


def wait_until_serving(base: str, server: subprocess.Popen, timeout: float = 180) -> None:
    """Polls /healthz until gunicorn answers: a busy machine may take long to start its workers,
    and a slow answer is not yet an answer (no fixed read deadline decides)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{base}/healthz", timeout=30).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or busy starting its workers
            pass
        assert server.poll() is None, server.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "gunicorn did not start"
        time.sleep(0.2)


def test_many_customers_answering_at_once_through_gunicorn(ctx, database_url):
    bulk_due_invitations(CUSTOMERS, prefix="LOAD")
    send_due_invitations()
    db.session.execute(update(Invitation).values(expires_at=utcnow().replace(year=utcnow().year + 1)))
    db.session.commit()
    tokens = list(db.session.scalars(select(Invitation.token)))
    db.session.commit()  # hold no lock while the server works
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "load-test-secret"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}",
                               "--timeout", "60", "app:create_app()"], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base, server)
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            statuses = list(pool.map(lambda item: answer(base, item[1], item[0] % 5 == 0), enumerate(tokens)))
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=120)  # gunicorn lets workers finish (up to 30 s)
    assert "Traceback" not in errors, errors[-3000:]
    # Every page answered 302; the second of a double submit may also get 410 (already answered).
    assert all(s[:3] == [302, 302, 302] and s[3] == 302 and set(s[4:]) <= {302, 410} for s in statuses), statuses
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Response)) == CUSTOMERS
    assert db.session.scalar(select(func.count()).select_from(Response).where(Response.completed_at.is_not(None))) == CUSTOMERS
    assert db.session.scalar(select(func.count()).select_from(Answer)) == CUSTOMERS * 8
    assert db.session.scalar(select(func.count(func.distinct(Response.invitation_id)))) == CUSTOMERS
    assert db.session.scalar(select(func.avg(Response.satisfaction_index))) == 75.0
