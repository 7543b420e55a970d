"""Issue 13: batch intake `POST /api/v1/tickets/batch`, 1,000 tickets a request, served by
gunicorn (4 sync workers) to 4 concurrent clients. Baselines in the same run: the same
bodies posted to a bare Flask app's /hello (bench/hello.py) under the same gunicorn, and the
single-ticket endpoint `POST /api/v1/tickets`, 16 concurrent clients. CPU time of the workers
and the database's server processes is measured too (the figure that holds under load). Target
(PostgreSQL): >= 2,000 tickets/s, each planned (invitation, callback tasks, complaint case)."""
from __future__ import annotations

import json
import os
from datetime import timedelta

from sqlalchemy import func, select

from bench.common import bench_app, child_pids, cpu_seconds, database_backends, line, peak_rss_mb
from bench.load import Gunicorn, run_load, warm
from core.db import db, utcnow

PER_REQUEST = 1000
KINDS = ("business",) * 8 + ("fault",) * 6 + ("inquiry",) * 5 + ("complaint",)
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer bench-key"}


def ticket(prefix: str, i: int) -> dict:
    customer = i // 2  # two tickets a customer: the cap and the customer upsert are exercised
    return {"external_id": f"{prefix}-{i}", "kind": KINDS[i % len(KINDS)],
            "handled_at": (utcnow() - timedelta(hours=1, seconds=i)).isoformat() + "Z",
            "customer": {"id": f"{prefix}C-{customer}", "name": f"客户{customer}",
                         "phone": f"+8613{customer:09d}", "locale": "zh-CN"},
            "region": "上海", "agent": "A01"}


def run(count: int = 100_000) -> dict:
    from surveys.models import Invitation
    from tickets.models import Ticket

    app = bench_app("batch")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    singles = max(count // 50, 200)
    print(f"batch intake: {count:,} tickets in requests of {PER_REQUEST:,} ({url.split(':')[0]}), "
          f"load {os.getloadavg()[0]:.1f}")
    batches = [("POST", "/api/v1/tickets/batch",
                json.dumps({"tickets": [ticket("B", i) for i in range(start, min(start + PER_REQUEST, count))]}).encode(),
                HEADERS) for start in range(0, count, PER_REQUEST)]
    one_by_one = [("POST", "/api/v1/tickets", json.dumps(ticket("S", i)).encode(), HEADERS) for i in range(singles)]
    env = {"DATABASE_URL": url, "SECRET_KEY": "bench", "HUIFANG_API_KEYS": "bench-key"}
    with Gunicorn("bench.hello:create_app()", {}) as server:  # the floor: the same bodies, no work
        warm(server.port, "/healthz")
        hello = run_load(server.port, [("POST", "/hello", body, h) for _, _, body, h in batches], 4, (200,))
    with Gunicorn("app:create_app()", env) as server:
        warm(server.port, "/healthz")
        single = run_load(server.port, one_by_one, 16, (201,))
        with app.app_context():
            backends = database_backends(db.session.connection())
            db.session.rollback()
        workers = child_pids(server.process.pid)
        before = cpu_seconds(workers), cpu_seconds(backends)
        batch = run_load(server.port, batches, 4, (200,))
        cpu = cpu_seconds(workers) - before[0], cpu_seconds(backends) - before[1]
        peak = max(peak_rss_mb(pid) for pid in workers)
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.external_id.like("B-%")))
        planned = db.session.scalar(select(func.count()).select_from(Invitation).join(Ticket)
                                    .where(Ticket.external_id.like("B-%")))
    rate, single_rate = count / batch.seconds, single.rate
    errors = batch.errors + single.errors + int(stored != count or planned != count)
    line("baseline: POST /api/v1/tickets, one a request", f"{singles:,} in {single.seconds:.1f} s = {single_rate:,.0f} tickets/s")
    line("POST /api/v1/tickets/batch", f"{count:,} in {batch.seconds:.1f} s = {rate:,.0f} tickets/s, "
                                       f"p50 {batch.percentile(50):.0f} ms a request")
    line("baseline: POST /hello of the same bodies (bare Flask)", f"{count / hello.seconds:,.0f} tickets/s")
    line("CPU time: gunicorn workers + database server", f"{cpu[0]:.1f} s + {cpu[1]:.1f} s = "
                                                          f"{count / sum(cpu):,.0f} tickets per CPU-second")
    line("peak RSS of a worker", f"{peak:.0f} MB")
    line("stored / invitations planned", f"{stored:,} / {planned:,} {'OK' if not errors else 'FAIL'}")
    line("ratio batch / single", f"{rate / single_rate:.1f}x (target >= 2,000 tickets/s: "
                                 f"{'met' if rate >= 2000 else 'MISSED'})")
    line("load average after", f"{os.getloadavg()[0]:.1f}")
    return {"rate": rate, "single_rate": single_rate, "errors": errors}
