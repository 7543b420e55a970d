"""Issues 5 and 13: the JSON report, the PDF and the dashboard over `count` raw responses (their
rollups rebuilt from the raw rows, timed), then over `scale` times as many: the rollup rows of
the raw data copied for scale - 1 more agent cohorts (as many rows as that many responses
would make; the raw tables stay at `count`). Baselines in the same run: a plain GROUP BY day
over the raw rows, and a trivial GROUP BY day over the rollup table. Targets: JSON report over
10,000,000 responses <= 1 s, dashboard <= 300 ms. Each timing runs in a fresh process so its
peak RSS is its own, not the data generator's."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import and_, func, insert, select, text, update

from bench.common import bench_app, line, timed
from core.db import db

ROOT = Path(__file__).resolve().parent.parent
START, DAYS = date(2025, 12, 1), 365
COMMENTS = ["网速太慢了", "客服态度很好", "账单扣费不明", "维修师傅上门及时", "Internet keeps dropping",
            "waited too long", "friendly and helpful"]


def generate(count: int) -> None:
    from surveys.models import Answer, Response
    from surveys.services import latest_version

    version_id = latest_version("telecom-default").id
    rng = random.Random(1)
    chunk = 50_000
    for offset in range(0, count, chunk):
        rows, comments = [], []
        for i in range(offset, min(offset + chunk, count)):
            mood = rng.gauss(3.6, 1.0)
            clip = max(1, min(5, round(mood + rng.gauss(0, 0.7))))
            dims = [max(1, min(5, round(mood + rng.gauss(0, 0.8)))) for _ in range(4)]
            when = START + timedelta(days=rng.randrange(DAYS))
            # 00:00-15:59 UTC is the same local day in Asia/Shanghai: every row falls in the range
            completed = f"{when.isoformat()} {rng.randrange(16):02d}:{rng.randrange(60):02d}:00"
            rows.append({"version_id": version_id, "channel": rng.choice(("web", "sms", "voice", "email")),
                         "respondent": f"B{i}", "ticket_kind": rng.choice(("inquiry", "business", "fault", "complaint")),
                         "region": rng.choice(("北京", "上海", "广州", "成都", "武汉")), "agent": f"A{rng.randrange(40):02d}",
                         "started_at": completed, "completed_at": completed, "progress": 0,
                         "overall": clip, "nps": max(0, min(10, round(clip * 2 + rng.gauss(0, 1.2)))),
                         "attitude": dims[0], "efficiency": dims[1], "stability": dims[2], "after_sales": dims[3],
                         "satisfaction_index": sum((d - 1) / 4 * 100 for d in dims) / 4,
                         "resolved": clip >= 3})
        ids = db.session.scalars(insert(Response).returning(Response.id, sort_by_parameter_order=True),
                                 _typed(rows)).all()
        comments = [{"response_id": rid, "question_key": "comment", "value_text": rng.choice(COMMENTS),
                     "answered_at": rows[0]["completed_at"]} for rid in ids if rng.random() < 0.1]
        db.session.execute(insert(Answer), _typed(comments))
        db.session.commit()


def _typed(rows: list[dict]) -> list[dict]:
    from datetime import datetime
    for row in rows:
        for key in ("started_at", "completed_at", "answered_at"):
            if isinstance(row.get(key), str):
                row[key] = datetime.fromisoformat(row[key])
    return rows


CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
def peak_mb():
    # VmHWM is this process's own peak; ru_maxrss would carry the parent's across fork+exec.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
from datetime import date
from app import create_app
app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}}})
with app.app_context():
    from flask_login import login_user
    from core.accounts import User
    from reports.figures import compute_report
    from reports.pdf import render_pdf
    compute_report(date(2025, 12, 1), date(2025, 12, 2), "month")  # imports, first compile
    t = time.perf_counter(); r = compute_report(date(2025, 12, 1), date(2026, 11, 30), "month")
    json_s = time.perf_counter() - t
    t = time.perf_counter(); compute_report(date(2025, 12, 1), date(2026, 11, 30), "month")
    warm_s = time.perf_counter() - t  # the comment themes are clustered once per few minutes
    json_rss = peak_mb()
    t = time.perf_counter(); pdf = render_pdf(r, "zh-CN"); pdf_s = time.perf_counter() - t
    manager = User.query.filter_by(role="manager").first()
    dashboard = []
    query = "date_from=2025-12-01&date_to=2026-11-30"
    for args in (query, query + "&region=北京", query + "&region=上海&channel=sms"):
        with app.test_request_context("/dashboard?" + args):
            login_user(manager)
            t = time.perf_counter(); body, status = app.view_functions["reports.dashboard"]()
            dashboard.append((time.perf_counter() - t, status))
    print(json.dumps({{"json_s": json_s, "warm_s": warm_s, "json_rss": json_rss, "pdf_s": pdf_s, "pdf_bytes": len(pdf),
                      "pdf_rss": peak_mb(), "dashboard": dashboard,
                      "responses": r["responses"]}}))
"""


def scale_rollups(copies: int, factor: int) -> int:
    """The rollup rows of copies × factor times the data: every all-keys row's sums multiplied
    by `factor` (denser days), then copied for copies - 1 more agent cohorts (more rows), then
    the coarser grains recomputed from those rows. Returns the row count."""
    from reports.models import ROLLUP_KEYS, response_rollups
    from reports.rollups import derive_grains, measures_of

    t = response_rollups
    measures = measures_of(t)
    db.session.execute(update(t).where(t.c.grain == 15).values({m: t.c[m] * factor for m in measures}))
    originals = and_(t.c.grain == 15, ~t.c.agent.contains("~"))
    for k in range(1, copies):
        db.session.execute(insert(t).from_select(
            ["grain", "day", *ROLLUP_KEYS, *measures],
            select(t.c.grain, t.c.day, t.c.channel, t.c.ticket_kind, t.c.region, t.c.agent + f"~{k}",
                   *[t.c[m] for m in measures]).where(originals)))
    derive_grains()
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(t))


def timed_report(url: str) -> dict:
    child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), url=url)],
                           capture_output=True, text=True, cwd=ROOT)
    if child.returncode:
        print(child.stderr[-2000:])
        raise SystemExit("report child failed")
    return json.loads(child.stdout.strip().splitlines()[-1])


def _analyze() -> None:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("ANALYZE"))
        db.session.commit()


def _print_report(label: str, result: dict, target_s: float) -> None:
    for key, what in (("json_s", "first"), ("warm_s", "again")):
        ok = result[key] <= target_s
        line(f"JSON report ({what}), {label}", f"{result[key]:.2f} s, peak RSS {result['json_rss']:.0f} MB "
                                               f"(target <= {target_s:g} s: {'met' if ok else 'MISSED'})")
    line(f"PDF report (zh-CN), {label}", f"{result['pdf_s']:.2f} s, {result['pdf_bytes'] / 1024:.0f} KiB")
    for (seconds, status), what in zip(result["dashboard"], ("no filter", "region", "region + channel"), strict=True):
        line(f"dashboard ({what}), {label}", f"{seconds * 1000:.0f} ms, HTTP {status} "
                                               f"(target <= 300 ms: {'met' if seconds <= 0.3 else 'MISSED'})")


def run(count: int = 1_000_000, copies: int = 10, factor: int = 1) -> dict:
    from core.accounts import create_user
    from reports.models import response_rollups
    from reports.rollups import rebuild
    from surveys.models import Response

    app = bench_app("report")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    print(f"report: {count:,} raw responses, then rollups of {count * copies * factor:,} ({url.split(':')[0]})")
    with app.app_context():
        create_user("bench-manager@example.com", "Bench", "manager", "bench-password-1")
        with timed() as gen:
            generate(count)
        line("generate (bulk insert, no rollups)", f"{gen['seconds']:.1f} s")
        with timed() as built:
            rebuild()
            db.session.commit()
        rows = db.session.scalar(select(func.count()).select_from(response_rollups))
        line("rebuild-rollups from the raw rows", f"{built['seconds']:.1f} s, {rows:,} rollup rows")
        _analyze()
        day = func.date(Response.completed_at) if db.engine.dialect.name == "sqlite" else func.date_trunc("day", Response.completed_at)
        start = time.perf_counter()
        db.session.execute(select(day, func.count(), func.avg(Response.overall)).group_by(day)).all()
        baseline = time.perf_counter() - start
        n = db.session.scalar(select(func.count()).select_from(Response))
    small = timed_report(url)
    with app.app_context():
        with timed() as scaled:
            rows_scaled = scale_rollups(copies, factor)
        _analyze()
        t = response_rollups
        start = time.perf_counter()
        db.session.execute(select(t.c.day, func.sum(t.c.n)).where(t.c.grain == 0).group_by(t.c.day)).all()
        rollup_baseline = time.perf_counter() - start
    big = timed_report(url)
    line("raw rows", f"{n:,} (report counted {small['responses']:,})")
    line("baseline: raw SELECT day, count, avg GROUP BY day", f"{baseline:.2f} s")
    _print_report(f"{n:,} responses", small, 5)
    line("ratio JSON report / raw GROUP BY baseline", f"{small['json_s'] / baseline:.1f}x")
    line(f"rollups x{factor}, copied x{copies}", f"{scaled['seconds']:.1f} s, {rows_scaled:,} rollup rows "
                                        f"(report counted {big['responses']:,} responses)")
    line("baseline: rollup SELECT day, sum(n) GROUP BY day", f"{rollup_baseline * 1000:.1f} ms")
    _print_report(f"{big['responses']:,} responses", big, 1)
    return {"small": small, "big": big, "baseline_s": baseline, "rollup_baseline_s": rollup_baseline}
