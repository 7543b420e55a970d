"""Issue 7: survey page GET and answer POST throughput under a loopback load generator, as a
ratio to a bare Flask "hello" served the same way (gunicorn, 4 sync workers, same machine,
same run). Targets: GET >= 50 %, POST >= 30 %. Also the ticket API intake rate."""
from __future__ import annotations

import json
import re
import urllib.parse
from datetime import timedelta

from bench.common import bench_app, line
from bench.load import Gunicorn, Result, run_load, warm
from core.db import db, utcnow

CONCURRENCY = 16


def _report(label: str, result: Result, baseline: Result | None = None) -> str:
    text = f"{result.rate:,.0f} req/s, p50 {result.percentile(50):.1f} ms, p99 {result.percentile(99):.1f} ms"
    if result.errors:
        text += f", {result.errors} ERRORS"
    if baseline:
        text += f" = {result.rate / baseline.rate:.0%} of hello"
    line(label, text)
    return text


def _sessions(port: int, tokens: list[str]) -> list[tuple[str, str, str]]:
    """A browser's first GET per token: its session cookie and CSRF token (not timed)."""
    import http.client
    out = []
    for token in tokens:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", f"/s/{token}")
        response = conn.getresponse()
        cookie = response.getheader("Set-Cookie").split(";")[0]
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', response.read().decode()).group(1)
        conn.close()
        out.append((token, cookie, csrf))
    return out


def run(requests: int = 3000, seconds: float | None = None) -> dict:
    from demo import bulk_due_invitations
    from surveys.dispatch import send_due_invitations
    from surveys.models import Invitation

    if seconds:  # --small
        requests = 600
    app = bench_app("web")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        bulk_due_invitations(requests)
        while send_due_invitations(limit=5000):
            pass
        db.session.query(Invitation).update({"expires_at": utcnow() + timedelta(days=30)})
        db.session.commit()
        tokens = [t for (t,) in db.session.query(Invitation.token).all()]
    env = {"DATABASE_URL": url, "SECRET_KEY": "bench", "HUIFANG_API_KEYS": "bench-key"}
    print(f"web: gunicorn -w 4 (sync), {CONCURRENCY} concurrent clients, {requests:,} requests each ({url.split(':')[0]})")
    with Gunicorn("bench.hello:create_app()", env) as hello:
        warm(hello.port, "/hello")
        hello_get = run_load(hello.port, [("GET", "/hello", None, {})] * requests, CONCURRENCY, (200,))
        hello_post = run_load(hello.port, [("POST", "/hello", b"x=1", {"Content-Type": "application/x-www-form-urlencoded"})] * requests,
                              CONCURRENCY, (200,))
    with Gunicorn("app:create_app()", env) as huifang:
        warm(huifang.port, f"/s/{tokens[0]}")
        survey_get = run_load(huifang.port, [("GET", f"/s/{t}", None, {}) for t in tokens], CONCURRENCY, (200,))
        sessions = _sessions(huifang.port, tokens)
        posts = [("POST", f"/s/{token}", urllib.parse.urlencode({"csrf_token": csrf, "page": "1", "overall": "4"}).encode(),
                  {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
                 for token, cookie, csrf in sessions]
        survey_post = run_load(huifang.port, posts, CONCURRENCY, (302,))
        tickets = [("POST", "/api/v1/tickets", json.dumps({
            "external_id": f"BENCH-{i}", "kind": ("business", "complaint", "fault")[i % 3],
            "handled_at": (utcnow() - timedelta(hours=1)).isoformat() + "Z",
            "customer": {"id": f"BC-{i}", "phone": f"+8613{i:09d}", "locale": "zh-CN"}}).encode(),
            {"Content-Type": "application/json", "Authorization": "Bearer bench-key"}) for i in range(requests // 2)]
        intake = run_load(huifang.port, tickets, CONCURRENCY, (201,))
    _report("hello GET (baseline)", hello_get)
    _report("survey page GET /s/<token>", survey_get, hello_get)
    _report("hello POST (baseline)", hello_post)
    _report("answer POST /s/<token> (page 1)", survey_post, hello_post)
    _report("ticket intake POST /api/v1/tickets", intake)
    get_ratio, post_ratio = survey_get.rate / hello_get.rate, survey_post.rate / hello_post.rate
    line("targets", f"GET {get_ratio:.0%} (>= 50%: {'met' if get_ratio >= 0.5 else 'MISSED'}), "
                    f"POST {post_ratio:.0%} (>= 30%: {'met' if post_ratio >= 0.3 else 'MISSED'})")
    return {"get_ratio": get_ratio, "post_ratio": post_ratio, "intake_rate": intake.rate,
            "errors": survey_get.errors + survey_post.errors + intake.errors}
