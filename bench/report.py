"""Issue 5: 1,000,000 responses; time the JSON report and the PDF, peak memory, and the ratio
to a plain SQL GROUP BY over the same rows. Targets: JSON <= 5 s and <= 300 MB RSS.
The report runs in a fresh process so its peak RSS is its own, not the data generator's."""
from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, text

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
    from reports.figures import compute_report
    from reports.pdf import render_pdf
    t = time.perf_counter(); r = compute_report(date(2025, 12, 1), date(2026, 11, 30), "month")
    json_s = time.perf_counter() - t
    json_rss = peak_mb()
    t = time.perf_counter(); pdf = render_pdf(r, "zh-CN"); pdf_s = time.perf_counter() - t
    print(json.dumps({{"json_s": json_s, "json_rss": json_rss, "pdf_s": pdf_s, "pdf_bytes": len(pdf),
                      "pdf_rss": peak_mb(),
                      "responses": r["responses"]}}))
"""


def run(count: int = 1_000_000) -> dict:
    from surveys.models import Response

    app = bench_app("report")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    print(f"report: {count:,} responses ({url.split(':')[0]})")
    with app.app_context():
        with timed() as gen:
            generate(count)
        line("generate (bulk insert)", f"{gen['seconds']:.1f} s")
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE"))
            db.session.commit()
        day = func.date(Response.completed_at) if db.engine.dialect.name == "sqlite" else func.date_trunc("day", Response.completed_at)
        start = time.perf_counter()
        db.session.execute(select(day, func.count(), func.avg(Response.overall)).group_by(day)).all()
        baseline = time.perf_counter() - start
        n = db.session.scalar(select(func.count()).select_from(Response))
    child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), url=url)],
                           capture_output=True, text=True, cwd=ROOT)
    if child.returncode:
        print(child.stderr[-2000:])
        raise SystemExit("report child failed")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    ok_json = result["json_s"] <= 5 and result["json_rss"] <= 300
    line("rows", f"{n:,} (report counted {result['responses']:,})")
    line("baseline: SELECT day, count, avg GROUP BY day", f"{baseline:.2f} s")
    line("JSON report", f"{result['json_s']:.2f} s, peak RSS {result['json_rss']:.0f} MB "
                        f"(target <= 5 s, <= 300 MB: {'met' if ok_json else 'MISSED'})")
    line("ratio JSON report / baseline", f"{result['json_s'] / baseline:.1f}x")
    line("PDF report (zh-CN)", f"{result['pdf_s']:.2f} s, {result['pdf_bytes'] / 1024:.0f} KiB, peak RSS {result['pdf_rss']:.0f} MB")
    return {**result, "baseline_s": baseline}
