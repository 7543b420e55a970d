"""Issue 13: `import-responses` and `import-tickets` over a generated CSV with one bad row in a
thousand. The import runs in a fresh process (its peak RSS is its own VmHWM); the baseline is a
plain COPY (PostgreSQL) or executemany (SQLite) of the same file's rows into a scratch table of
text columns, in the same run: the floor for getting the rows into the database at all."""
from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, text

from bench.common import bench_app, line
from core.db import db, utcnow

ROOT = Path(__file__).resolve().parent.parent
CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from app import create_app
from core.csvimport import CsvFile, ImportReport
app = create_app({{"SQLALCHEMY_DATABASE_URI": {url!r}}})
with app.app_context(), open({path!r}, "rb") as fh:
    from {module} import {function} as importer
    from bench.common import cpu_seconds, database_backends
    from core.db import db
    before = {{pid: cpu_seconds([pid]) for pid in database_backends(db.session.connection())}}
    db.session.commit()
    report = ImportReport()
    start, cpu = time.perf_counter(), time.process_time()
    importer(CsvFile(fh), report)
    # Every backend serving the import, those its reading thread's connection opened too.
    seconds, cpu, db_cpu = (time.perf_counter() - start, time.process_time() - cpu,
                            sum(cpu_seconds([pid]) - before.get(pid, 0)
                                for pid in database_backends(db.session.connection())))
peak = next(int(l.split()[1]) / 1024 for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print(json.dumps({{"seconds": seconds, "imported": report.imported, "skipped": report.skipped,
                  "first_errors": report.errors[:3], "peak_mb": peak, "cpu": cpu, "db_cpu": db_cpu}}))
"""


def write_responses(path: Path, count: int) -> int:
    """Returns how many rows are bad (a wrong channel, or a repeat of the row before)."""
    rng, start, bad = random.Random(1), utcnow() - timedelta(days=365), 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["respondent", "channel", "answered_at", "ticket_kind", "region", "agent", "overall",
                      "attitude", "efficiency", "stability", "after_sales", "nps", "resolved", "callback", "comment"])
        previous = None
        for i in range(count):
            mood = rng.randint(1, 5)
            row = [f"B{i}", rng.choice(("web", "sms", "voice", "email")),
                   (start + timedelta(seconds=i * 31)).isoformat() + "Z",
                   rng.choice(("inquiry", "business", "fault", "complaint")),
                   rng.choice(("北京", "上海", "广州", "成都", "武汉")), f"A{rng.randrange(40):02d}",
                   mood, *(max(1, min(5, mood + rng.randint(-1, 1))) for _ in range(4)),
                   min(10, mood * 2), rng.choice(("yes", "no")), "", "网速太慢了" if rng.random() < 0.1 else ""]
            if i % 1000 == 999:
                row[1], bad = "fax", bad + 1
            elif i % 1000 == 500 and previous:
                row[0], row[2], bad = previous[0], previous[2], bad + 1
            out.writerow(row)
            previous = row
    return bad


def write_tickets(path: Path, count: int) -> int:
    rng, now, bad = random.Random(2), utcnow(), 0
    kinds = ["business"] * 8 + ["fault"] * 6 + ["inquiry"] * 5 + ["complaint"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["external_id", "kind", "handled_at", "customer_id", "customer_name", "phone", "email",
                      "locale", "category", "region", "agent", "channel"])
        for i in range(count):
            customer = rng.randrange(count // 2 + 1)
            row = [f"WO-{i:08d}", rng.choice(kinds),
                   (now - timedelta(days=30) + timedelta(seconds=i * 30 * 86400 // count)).isoformat() + "Z",
                   f"C{customer:08d}", f"客户{customer}", f"+86138{customer:08d}",
                   f"c{customer}@example.cn" if customer % 5 == 0 else "", "zh-CN" if customer % 9 else "en",
                   "宽带断网", rng.choice(("北京", "上海", "广州")), f"A{rng.randrange(40):02d}", "10000"]
            if i % 1000 == 999:
                row[1], bad = "praise", bad + 1
            out.writerow(row)
    return bad


def baseline(path: Path) -> float:
    """Seconds to COPY / executemany the file's rows, as text, into a scratch table."""
    with path.open(encoding="utf-8", newline="") as fh:
        columns = next(csv.reader(fh))
    db.session.execute(text(f"CREATE TABLE scratch ({', '.join(f'{c} text' for c in columns)})"))
    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    start = time.perf_counter()
    with path.open("rb") as fh:
        if db.engine.dialect.name == "postgresql":
            with raw.cursor() as cursor, cursor.copy("COPY scratch FROM STDIN (FORMAT csv, HEADER true)") as copy:
                while block := fh.read(1 << 20):
                    copy.write(block)
        else:
            reader = csv.reader(line.decode("utf-8") for line in fh)
            next(reader)
            raw.executemany(f"INSERT INTO scratch VALUES ({', '.join('?' * len(columns))})", reader)
    db.session.commit()
    return time.perf_counter() - start


def run_import(kind: str, count: int) -> dict:
    module, function, writer = {"responses": ("surveys.importer", "import_responses_csv", write_responses),
                                "tickets": ("tickets.importer", "import_tickets_csv", write_tickets)}[kind]
    app = bench_app(f"import_{kind}")
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    print(f"import-{kind}: {count:,} rows ({url.split(':')[0]}), load {os.getloadavg()[0]:.1f}")
    path = Path(tempfile.mkdtemp(prefix="huifang-bench-")) / f"{kind}.csv"
    bad = writer(path, count)
    line("CSV file", f"{path.stat().st_size / 1e6:.0f} MB, {bad:,} bad rows")
    child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), url=url, path=str(path),
                                                               module=module, function=function)],
                           capture_output=True, text=True, cwd=ROOT)
    if child.returncode:
        print(child.stderr[-3000:])
        raise SystemExit(f"import-{kind} child failed")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    with app.app_context():
        stored = _stored(kind)
        floor = baseline(path)
    path.unlink()
    rate, floor_rate = result["imported"] / result["seconds"], count / floor
    errors = int(result["imported"] != count - bad or result["skipped"] != bad
                 or stored["rows"] != result["imported"])
    line("imported / skipped (expected)", f"{result['imported']:,} / {result['skipped']:,} "
                                          f"({count - bad:,} / {bad:,}) {'OK' if not errors else 'FAIL'}")
    line("stored", ", ".join(f"{k} {v:,}" for k, v in stored.items()))
    line(f"import-{kind}", f"{result['seconds']:.1f} s = {rate:,.0f} rows/s, peak RSS {result['peak_mb']:.0f} MB")
    cpu = result["cpu"] + result["db_cpu"]  # the database's share is 0 on SQLite (in-process)
    line("CPU time: import process + database server", f"{result['cpu']:.1f} s + {result['db_cpu']:.1f} s = "
                                                         f"{result['imported'] / cpu:,.0f} rows per CPU-second")
    line("baseline: plain copy of the rows into a scratch table", f"{floor:.1f} s = {floor_rate:,.0f} rows/s")
    line("ratio import / baseline", f"{rate / floor_rate:.2f}")
    line("load average after", f"{os.getloadavg()[0]:.1f}")
    return {"rate": rate, "baseline_rate": floor_rate, "peak_mb": result["peak_mb"], "errors": errors}


def _stored(kind: str) -> dict[str, int]:
    from callbacks.models import CallbackTask
    from surveys.models import Answer, Invitation, Response
    from tickets.models import Customer, Ticket

    models = {"responses": {"rows": Response, "answers": Answer},
              "tickets": {"rows": Ticket, "customers": Customer, "invitations": Invitation,
                          "callback tasks": CallbackTask}}[kind]
    return {name: db.session.scalar(select(func.count()).select_from(model)) for name, model in models.items()}
