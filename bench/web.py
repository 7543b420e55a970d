"""Issues 7 and 13: survey page GET and answer POST throughput under `wrk`, as a ratio to a bare
Flask "hello" served the same way (gunicorn, WORKERS sync workers, same machine, same run).
Targets: GET >= 50 %, POST >= 30 % of hello. Also the ticket API intake rate.

Both servers run side by side; the runs alternate (hello GET, survey GET, hello POST, survey
POST, each `seconds` long) for `rounds` rounds, so a change in the machine's load hits every
figure alike. Every survey GET opens another invitation's first page; every POST answers page 1
of another invitation with that page's CSRF value (a real answer: a response and an answer row
are stored). Any socket error or response outside 2xx/3xx counts as an error."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.parse
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from statistics import median

from bench.common import bench_app, line
from bench.load import Gunicorn, Result
from core.db import db, utcnow

WORKERS, THREADS, CONNECTIONS = 4, 2, 16
SCRIPT = Path(__file__).with_name("requests.lua")
FORM = "Content-Type: application/x-www-form-urlencoded"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


@dataclass
class Runs(Result):
    """The rounds of one target: their sums, and each round's rate and latency percentiles (ms)
    as wrk reports them (wrk keeps the latencies)."""
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    cpu: float = 0.0  # the server's workers' CPU seconds over the runs


class Target:
    """One kind of request, pre-built into a file that bench/requests.lua walks through."""

    def __init__(self, folder: Path, name: str, server: Gunicorn, lines: list[str]):
        self.server, self.path, self.start, self.runs = server, folder / f"{name}.tsv", 0, Runs()
        self.path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.size = len(lines)

    def run(self, seconds: float, record: bool = True) -> None:
        """One wrk run; `record` False warms the workers up (imports, templates, caches) only."""
        cpu = self.server.cpu_seconds()
        out = subprocess.run(
            ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "30s", "--latency",
             "-s", str(SCRIPT), f"http://127.0.0.1:{self.server.port}", "--", str(self.path), str(self.start),
             str(THREADS)], capture_output=True, text=True, check=True).stdout
        done = re.search(r"(\d+) requests in ([\d.]+)(m?s)", out)
        if not done or "Latency Distribution" not in out:
            raise RuntimeError(f"wrk's output is not what was expected:\n{out}")
        count, elapsed = int(done.group(1)), float(done.group(2)) / (1000 if done.group(3) == "ms" else 1)
        errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
        errors += int((re.search(r"Non-2xx or 3xx responses: (\d+)", out) or [0, 0])[1])
        self.start = int(re.search(r"next-start (\d+)", out).group(1))
        runs = self.runs
        if not record:  # a warm-up's errors count all the same
            runs.errors += errors
            return
        runs.cpu += self.server.cpu_seconds() - cpu
        runs.requests, runs.errors, runs.seconds = runs.requests + count, runs.errors + errors, runs.seconds + elapsed
        runs.rates.append(count / elapsed)
        for p, into in (("50", runs.p50), ("99", runs.p99)):
            found = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\b", out, re.M)
            if not found:
                raise RuntimeError(f"wrk's output is not what was expected:\n{out}")
            value, unit = found.groups()
            into.append(float(value) * UNITS[unit])


def _line(method: str, path: str, headers: str = "", body: str = "") -> str:
    return f"{method}\t{path}\t{headers}\t{body}"


def _invitations(count: int) -> list[str]:
    """`count` invitations as the scheduler leaves them after sending (the outbox is not what
    is measured here); returns their tokens."""
    from sqlalchemy import select, update

    from demo import bulk_due_invitations
    from surveys.models import Invitation

    ids = bulk_due_invitations(count)
    now = utcnow()
    tokens = []
    for start in range(0, len(ids), 10_000):  # a statement takes at most 65,535 parameters
        chunk = ids[start:start + 10_000]
        db.session.execute(update(Invitation).where(Invitation.id.in_(chunk))
                           .values(state="sent", sent_at=now, expires_at=now + timedelta(days=30)))
        tokens += db.session.scalars(select(Invitation.token).where(Invitation.id.in_(chunk))
                                     .order_by(Invitation.id))
    db.session.commit()
    return tokens


def _answers(app, tokens: list[str]) -> list[str]:
    """Page 1 answered, with the hidden fields the page itself carries (its CSRF value, its
    number and questionnaire version), as a browser sends them."""
    from surveys.services import latest_version
    from surveys.views import VERSION_FIELD, survey_csrf, version_value

    version = latest_version("telecom-default")  # the one bulk_due_invitations invites to
    hidden = {"page": "1", VERSION_FIELD: version_value(version.id, version.checksum)}
    with app.test_request_context():
        return [_line("POST", f"/s/{token}", FORM, urllib.parse.urlencode(
            {"csrf_token": survey_csrf(token, 1), **hidden, "overall": str(1 + i % 5)}))
            for i, token in enumerate(tokens)]


def _tickets(count: int) -> list[str]:
    handled = (utcnow() - timedelta(hours=1)).isoformat() + "Z"
    return [_line("POST", "/api/v1/tickets", "Content-Type: application/json|Authorization: Bearer bench-key",
                  json.dumps({"external_id": f"BENCH-{i}", "kind": ("business", "complaint", "fault")[i % 3],
                              "handled_at": handled,
                              "customer": {"id": f"BC-{i}", "phone": f"+8612{i:09d}", "locale": "zh-CN"}}))
            for i in range(count)]


def _report(label: str, runs: Runs, baseline: Runs | None = None) -> None:
    text = (f"{runs.rate:,.0f} req/s, p50 {median(runs.p50):.1f} ms, p99 {median(runs.p99):.1f} ms"
            f", server CPU {runs.cpu / runs.requests * 1000:.2f} ms/request"
            f" ({runs.requests:,} requests, {runs.errors} errors)")
    if baseline:
        per_round = ", ".join(f"{mine / theirs:.0%}" for mine, theirs in zip(runs.rates, baseline.rates, strict=True))
        text += (f" = {runs.rate / baseline.rate:.0%} of hello (rounds: {per_round}); CPU per request"
                 f" {baseline.cpu / baseline.requests / (runs.cpu / runs.requests):.0%} of hello's")
    line(label, text)


def _vacuumed() -> None:
    """The invitations as a running installation keeps them (PostgreSQL). Sending them updated
    every row, which leaves a dead copy of each behind, found by every look-up of a token until
    VACUUM removes it; autovacuum does that in a running installation, and may be off on a
    benchmarking machine (it is on this project's)."""
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM ANALYZE invitations, customers, tickets")


def _stored() -> int:
    """Responses in the database: only the answer POSTs create them."""
    from sqlalchemy import func, select

    from surveys.models import Response
    return db.session.scalar(select(func.count()).select_from(Response))


def run(seconds: float = 10, rounds: int = 3, invitations: int = 150_000) -> dict:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: ./scripts/system-deps.sh test installs it")
    if seconds < 10:  # --small
        invitations = 4_000
    app = bench_app("web")
    app.config["SECRET_KEY"] = "bench"  # the servers' key: the CSRF values below must match
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    with app.app_context():
        tokens = _invitations(invitations)
        # A first page looks the same every time it is opened, so GETs may come round again;
        # each POST must answer an invitation nobody answered yet (~2,500/s for 32 s or more).
        get_tokens, post_tokens = tokens[: invitations // 12], tokens[invitations // 12:]
        posts = _answers(app, post_tokens)
        _vacuumed()
    env = {"DATABASE_URL": url, "SECRET_KEY": "bench", "HUIFANG_API_KEYS": "bench-key"}
    print(f"web: gunicorn -w {WORKERS} (sync), wrk -t{THREADS} -c{CONNECTIONS}, {rounds} round(s) of "
          f"{seconds:g} s per target, alternating ({url.split(':')[0]})")
    folder = Path(tempfile.mkdtemp(prefix="huifang-wrk-"))
    with Gunicorn("bench.hello:create_app()", env, WORKERS) as hello, \
            Gunicorn("app:create_app()", env, WORKERS) as huifang:
        targets = {
            "hello_get": Target(folder, "hello_get", hello, [_line("GET", "/hello")]),
            "survey_get": Target(folder, "survey_get", huifang, [_line("GET", f"/s/{t}") for t in get_tokens]),
            "hello_post": Target(folder, "hello_post", hello, [_line("POST", "/hello", FORM, "x=1")]),
            "survey_post": Target(folder, "survey_post", huifang, posts),
        }
        for target in targets.values():
            target.run(2, record=False)
        for _round in range(rounds):
            for target in targets.values():
                target.run(seconds)
        intake = Target(folder, "tickets", huifang, _tickets(20_000))
        intake.run(seconds)
    shutil.rmtree(folder)
    with app.app_context():
        stored = _stored()
    runs = {name: target.runs for name, target in targets.items()}
    _report("hello GET (baseline)", runs["hello_get"])
    _report("survey page GET /s/<token>", runs["survey_get"], runs["hello_get"])
    _report("hello POST (baseline)", runs["hello_post"])
    _report("answer POST /s/<token> (page 1)", runs["survey_post"], runs["hello_post"])
    sent = targets["survey_post"].start  # POSTs made, warm-up included (those in flight at a run's end too)
    line("responses stored by the POSTs", f"{stored:,} of at most {sent:,} POSTs (distinct invitations answered; "
                                          f"{len(post_tokens):,} in the pool"
                                          f"{'' if sent <= len(post_tokens) else ': TOO SMALL, some answered again'})")
    _report("ticket intake POST /api/v1/tickets", intake.runs)
    get_ratio = runs["survey_get"].rate / runs["hello_get"].rate
    post_ratio = runs["survey_post"].rate / runs["hello_post"].rate
    line("targets", f"GET {get_ratio:.0%} (>= 50%: {'met' if get_ratio >= 0.5 else 'MISSED'}), "
                    f"POST {post_ratio:.0%} (>= 30%: {'met' if post_ratio >= 0.3 else 'MISSED'})")
    return {"get_ratio": get_ratio, "post_ratio": post_ratio, "intake_rate": intake.runs.rate,
            "errors": sum(r.errors for r in runs.values()) + intake.runs.errors}
