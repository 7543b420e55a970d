"""Rollups: the per-day sums the reports read must equal a scan of the raw rows, whatever the
order the data arrived in — web answers long after the invitation, answers across local
midnight, failed deliveries, imports and re-imports — and concurrent completions lose nothing."""
import random
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from channels.models import Message
from channels.services import apply_status
from core.db import db
from reports.figures import compute_report
from reports.models import invitation_rollups, response_rollups
from reports.periods import period_of
from reports.rollups import derive_grains, known_values
from reports.stats import pct
from surveys.dispatch import send_due_invitations
from surveys.models import Invitation, Response
from surveys.services import complete_response, response_for, save_answers
from tests.conftest import make_ticket

REGIONS, AGENTS, KINDS = ("北京", "上海", "成都"), ("A01", "A02", "A03", "A04"), ("inquiry", "business", "fault")
START = datetime(2026, 3, 1, 0, 0)  # UTC; the report's days are Asia/Shanghai (UTC+8)
LOCAL_MIDNIGHT = datetime(2026, 3, 5, 16, 0)  # 2026-03-06 00:00 in Shanghai
HEADER = "respondent,channel,answered_at,ticket_kind,region,agent,overall,attitude,efficiency,stability,after_sales,nps,resolved,callback,comment\n"


def random_answers(rng: random.Random) -> dict:
    answers = {"overall": rng.randint(1, 5)}
    for key in ("attitude", "efficiency", "stability", "after_sales"):
        if rng.random() < 0.8:
            answers[key] = rng.randint(1, 5)
    if rng.random() < 0.7:
        answers["nps"] = rng.randint(0, 10)
    if rng.random() < 0.6:
        answers["resolved"] = rng.choice(["yes", "no"])
    if rng.random() < 0.3:
        answers["comment"] = rng.choice(["网速很慢 too slow", "态度很好 friendly", "断网了", "话费 bill wrong", "ok"])
    return answers


def invite_and_answer(rng: random.Random, count: int) -> None:
    """Tickets through the real intake; invitations sent on random days; about half answered,
    some weeks late and some across local midnight; some deliveries fail."""
    invitations = []
    for i in range(count):
        result = make_ticket(f"T-{i}", kind=rng.choice(KINDS), handled_at=START,
                             customer={"id": f"C-{i}", "phone": f"+86138{i:08d}", "email": f"c{i}@example.cn"},
                             region=rng.choice(REGIONS), agent=rng.choice(AGENTS))
        invitations.append(result.invitation.id)
    send_times = sorted(START + timedelta(hours=rng.randrange(24 * 20)) for _ in invitations)
    for invitation_id, sent_at in zip(invitations, send_times, strict=True):
        db.session.execute(update(Invitation).where(Invitation.id == invitation_id).values(
            send_at=sent_at, expires_at=sent_at + timedelta(days=90), channel=rng.choice(["sms", "email"])))
    db.session.commit()
    for sent_at in send_times:
        send_due_invitations(sent_at)
    for invitation_id in invitations:
        invitation = db.session.get(Invitation, invitation_id)
        roll = rng.random()
        if roll < 0.1:
            message = db.session.scalar(select(Message).where(Message.invitation_id == invitation_id))
            apply_status(message, "failed", "unreachable")
            db.session.commit()
        elif roll < 0.6:
            late = timedelta(days=rng.choice([0, 0, 1, 25]), hours=rng.uniform(0, 23))
            completed = invitation.sent_at + late if roll > 0.15 else LOCAL_MIDNIGHT - timedelta(seconds=roll < 0.125)
            response = response_for(invitation)
            save_answers(response, random_answers(rng))
            db.session.flush()
            complete_response(response, completed_at=completed, open_followup=False)


def import_csv(app, tmp_path, rng: random.Random, count: int, respondent: str = "R") -> str:
    lines = []
    for i in range(count):
        answered = START + timedelta(minutes=rng.randrange(60 * 24 * 30))
        if i < 2:
            answered = LOCAL_MIDNIGHT - timedelta(seconds=i)  # one each side of local midnight
        a = random_answers(rng)
        cells = [a.get(k, "") for k in ("overall", "attitude", "efficiency", "stability", "after_sales", "nps",
                                        "resolved")]
        lines.append(",".join(map(str, [f"{respondent}{i}", rng.choice(["web", "sms", "voice", "interview"]),
                                        answered.isoformat() + "Z", rng.choice(KINDS), rng.choice(REGIONS),
                                        rng.choice(AGENTS), *cells, "", a.get("comment", "")])))
    path = tmp_path / f"responses-{rng.random()}.csv"
    path.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-responses", str(path)])
    assert f"imported {count} responses" in result.output, result.output
    return str(path)


def stored(table) -> dict:
    keys = ("grain", "day", "channel", "ticket_kind", "region", "agent")
    return {tuple(row[k] for k in keys): {k: v for k, v in row.items() if k not in ("id", *keys) and v}
            for row in db.session.execute(select(table)).mappings()}


def assert_same(maintained: dict, rebuilt: dict) -> None:
    assert maintained.keys() == rebuilt.keys()
    for key, values in rebuilt.items():
        assert maintained[key] == pytest.approx(values, rel=1e-9), key


def local_date(utc: datetime) -> date:
    return (utc + timedelta(hours=8)).date()


def raw_figures(date_from: date, date_to: date, filters: dict) -> dict:
    """The headline figures computed in Python from the stored rows, without any SQL sums."""
    def keep(channel, kind, region, agent):
        values = {"channel": channel, "ticket_kind": kind, "region": region, "agent": agent}
        return all(values[k] == v for k, v in filters.items())

    responses = [r for r in db.session.scalars(select(Response).where(Response.completed_at.is_not(None)))
                 if date_from <= local_date(r.completed_at) <= date_to
                 and keep(r.channel, r.ticket_kind, r.region, r.agent)]
    overall = [r.overall for r in responses if r.overall is not None]
    nps = [r.nps for r in responses if r.nps is not None]
    si = [r.satisfaction_index for r in responses if r.satisfaction_index is not None]
    cohort = [i for i in db.session.scalars(select(Invitation).where(Invitation.sent_at.is_not(None)))
              if date_from <= local_date(i.sent_at) <= date_to and i.state != "failed"
              and keep(i.channel, i.ticket.kind, i.ticket.region, i.ticket.agent)]
    return {"responses": len(responses), "csat": pct(sum(s >= 4 for s in overall), len(overall)),
            "nps": round(100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps), 1) if nps else None,
            "satisfaction_index": round(sum(si) / len(si), 1) if si else None,
            "delivered": len(cohort), "completed": sum(i.state == "completed" for i in cohort)}


def completed_in(date_from: date, date_to: date, filters: dict) -> list[Response]:
    return [r for r in db.session.scalars(select(Response).where(Response.completed_at.is_not(None)))
            if date_from <= local_date(r.completed_at) <= date_to
            and all(getattr(r, k) == v for k, v in filters.items())]


def raw_breakdowns(date_from: date, date_to: date, filters: dict) -> dict:
    """Per breakdown and value, n, CSAT, NPS and resolution rate counted in Python from the rows."""
    responses = completed_in(date_from, date_to, filters)
    out = {}
    for by in ("channel", "ticket_kind", "region", "agent"):
        groups: dict[str, list] = {}
        for r in responses:
            groups.setdefault(getattr(r, by) or "—", []).append(r)
        out[by] = {key: summarize(rows) for key, rows in groups.items()}
    return out


def summarize(rows: list) -> dict:
    overall = [r.overall for r in rows if r.overall is not None]
    nps = [r.nps for r in rows if r.nps is not None]
    resolved = [r.resolved for r in rows if r.resolved is not None]
    return {"n": len(rows), "csat": pct(sum(s >= 4 for s in overall), len(overall)),
            "nps": round(100 * (sum(s >= 9 for s in nps) - sum(s <= 6 for s in nps)) / len(nps), 1) if nps else None,
            "resolution": pct(sum(resolved), len(resolved))}


def report_breakdowns(date_from: date, date_to: date, filters: dict) -> dict:
    """The same from the report: its breakdowns, and its agent and team scorecards."""
    r = compute_report(date_from, date_to, "month", filters, locale="en")
    out = {by: {row["key"]: {"n": row["n"], "csat": row["csat"]["value"], "nps": row["nps"]} for row in rows}
           for by, rows in r["breakdowns"].items()}
    cards = {"agent": r["scorecards"], "region": r["team_scorecards"]}
    for by, rows in cards.items():
        for card in rows:
            if card["n"]:  # (a card with callbacks only has no responses)
                out[by][card[by]] |= {"card_n": card["n"], "card_csat": card["csat"]["value"],
                                      "resolution": card["resolution_rate"]["value"]}
    return out


def raw_trend(date_from: date, date_to: date, filters: dict, period: str) -> dict:
    """Per period with responses, n, CSAT, NPS and satisfaction index counted in Python."""
    periods: dict[str, list] = {}
    for r in completed_in(date_from, date_to, filters):
        periods.setdefault(period_of(local_date(r.completed_at), period), []).append(r)
    out = {}
    for label, rows in periods.items():
        si = [r.satisfaction_index for r in rows if r.satisfaction_index is not None]
        figures = summarize(rows)
        out[label] = {"n": figures["n"], "csat": figures["csat"], "nps": figures["nps"],
                      "satisfaction_index": round(sum(si) / len(si), 1) if si else None}
    return out


def report_trend(date_from: date, date_to: date, filters: dict, period: str) -> dict:
    r = compute_report(date_from, date_to, period, filters, locale="en")
    return {t["period"]: {k: t[k] for k in ("n", "csat", "nps", "satisfaction_index")} for t in r["trend"] if t["n"]}


def report_figures(date_from: date, date_to: date, filters: dict) -> dict:
    r = compute_report(date_from, date_to, "week", filters, locale="en")
    return {"responses": r["responses"], "csat": r["csat"]["value"], "nps": r["nps"],
            "satisfaction_index": r["satisfaction_index"], "delivered": r["response_rate"]["delivered"],
            "completed": r["response_rate"]["completed"]}


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_a_raw_scan_on_random_data(app, ctx, tmp_path, seed):
    rng = random.Random(seed)
    invite_and_answer(rng, 40)
    path = import_csv(app, tmp_path, rng, 60)
    result = app.test_cli_runner().invoke(args=["import-responses", path])  # the same file again: refused
    assert "imported 0 responses" in result.output, result.output
    import_csv(app, tmp_path, rng, 30, respondent="S")  # and a second batch on the same days
    maintained = stored(response_rollups), stored(invitation_rollups)
    assert maintained[0] and maintained[1]
    result = app.test_cli_runner().invoke(args=["rebuild-rollups"])
    assert "rollups rebuilt" in result.output
    assert_same(maintained[0], stored(response_rollups))
    assert_same(maintained[1], stored(invitation_rollups))
    derive_grains()  # every other grain from the all-keys day rows (the migration's way) gives the same
    assert_same(maintained[0], stored(response_rollups))
    assert_same(maintained[1], stored(invitation_rollups))
    completed = db.session.scalars(select(Response).where(Response.completed_at.is_not(None))).all()
    for key in ("region", "agent", "channel"):  # the dashboard's drop-downs
        assert known_values(key) == sorted({getattr(r, key) for r in completed})

    periods = [(date(2026, 3, 1), date(2026, 4, 30)), (date(2026, 3, 6), date(2026, 3, 6)),
               (date(2026, 3, 1), date(2026, 3, 5)), (date(2026, 3, 10), date(2026, 3, 24))]
    filters = [{}, {"region": "上海"}, {"agent": "A02"}, {"channel": "sms", "region": "北京"},
               {"ticket_kind": "fault", "agent": "A01"}, {"channel": "email"}, {"channel": "web"}]
    for date_from, date_to in periods:
        for f in filters:
            assert report_figures(date_from, date_to, f) == raw_figures(date_from, date_to, f), (date_from, f)
    # Breakdowns and scorecards, from day rows, month rows (March, and March-April, whole) and both.
    for date_from, date_to in [*periods, (date(2026, 2, 20), date(2026, 3, 31)), (date(2026, 3, 1), date(2026, 3, 31))]:
        for f in filters:
            raw = raw_breakdowns(date_from, date_to, f)
            for by, rows in report_breakdowns(date_from, date_to, f).items():
                assert rows.keys() == raw[by].keys(), (date_from, f, by)
                for key, figures in rows.items():
                    expected = raw[by][key] | {"card_n": raw[by][key]["n"], "card_csat": raw[by][key]["csat"]}
                    assert figures == {k: expected[k] for k in figures}, (date_from, f, by, key)
                    assert by not in ("agent", "region") or "resolution" in figures
    # The trend: by month and quarter from month rows where the dates cover whole months (filters
    # with the agent), from day rows for the days of partial months and by week.
    for date_from, date_to in [*periods, (date(2026, 2, 20), date(2026, 3, 31)), (date(2026, 3, 6), date(2026, 4, 15))]:
        for f in filters:
            for period in ("week", "month", "quarter"):
                assert report_trend(date_from, date_to, f, period) == raw_trend(date_from, date_to, f, period), \
                    (date_from, date_to, f, period)


def test_local_midnight_splits_the_days(app, ctx, tmp_path):
    import_csv(app, tmp_path, random.Random(3), 2)  # 15:59:59 UTC and 16:00:00 UTC
    days = {t["period"]: t["n"] for t in compute_report(date(2026, 3, 5), date(2026, 3, 6), "week")["trend"]}
    assert compute_report(date(2026, 3, 5), date(2026, 3, 5))["responses"] == 1
    assert compute_report(date(2026, 3, 6), date(2026, 3, 6))["responses"] == 1
    assert sum(days.values()) == 2


def test_concurrent_completions_lose_no_increment(app, ctx):
    """Eight responses of the same day and breakdown complete at once, each in its own
    session: every upsert of the same rollup rows must add, none overwrite."""
    ids = []
    for i in range(8):
        result = make_ticket(f"T-{i}", customer={"id": f"C-{i}", "phone": f"+86139{i:08d}"}, region="北京", agent="A01")
        invitation = result.invitation
        db.session.execute(update(Invitation).where(Invitation.id == invitation.id)
                           .values(send_at=START, expires_at=datetime(2099, 1, 1), channel="sms"))
    db.session.commit()
    send_due_invitations(START + timedelta(minutes=1))
    for invitation in db.session.scalars(select(Invitation)).all():
        save_answers(response_for(invitation), {"overall": 5, "nps": 10})
        db.session.commit()
        ids.append(invitation.response.id)
    db.session.remove()
    barrier = threading.Barrier(len(ids))
    errors = []

    def complete(response_id: int) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=60)  # before any transaction: SQLite's BEGIN IMMEDIATE would hold the others
                response = db.session.get(Response, response_id)
                complete_response(response, completed_at=START + timedelta(hours=2), open_followup=False)
            except Exception as exc:  # reported below: a thread's exception would vanish
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=complete, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    report = compute_report(date(2026, 3, 1), date(2026, 3, 1), "week", {"region": "北京", "channel": "sms"})
    assert report["responses"] == 8 and report["csat"]["value"] == 100.0 and report["nps"] == 100.0
    assert report["response_rate"] == {"delivered": 8, "completed": 8, "value": 100.0}
    assert compute_report(date(2026, 3, 1), date(2026, 3, 1))["responses"] == 8
