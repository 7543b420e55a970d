"""Discovered comment themes are computed by the scheduler and stored; the dashboard and the
report read the stored result (saying when it was computed) and never cluster on a request."""
import json
from datetime import date, datetime

import pytest
from sqlalchemy import select

from core.db import db
from jobs import CRON_JOBS, job_table
from reports import rollups
from reports.figures import compute_report
from reports.models import ThemeSnapshot
from reports.stored_themes import refresh_themes
from surveys.models import Answer, Response
from tests.conftest import login
from tests.test_analytics import JUNE, add_commented_responses, add_responses

NOW = datetime(2026, 7, 15, 2, 0)  # the dashboard's default dates are then 2026-04-01 – 2026-07-15
DEFAULT = "date_from=2026-04-01&date_to=2026-07-15&period=month"


@pytest.fixture
def commented(ctx):
    """120 June responses in 北京, each with a comment on one of four planted topics."""
    return add_commented_responses()


def no_clustering(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("clustered on a request")
    monkeypatch.setattr("reports.textmining.discover", refuse)


def test_the_job_computes_the_standard_scopes_once_until_comments_change(commented):
    assert "themes" in job_table() and "themes" in CRON_JOBS
    assert refresh_themes(NOW) == 6  # default dates, June, Q2: without a filter and for 北京
    stored = {(s.date_from, s.date_to, s.filter_key) for s in db.session.scalars(select(ThemeSnapshot))}
    assert (date(2026, 4, 1), date(2026, 7, 15), "") in stored
    assert (date(2026, 6, 1), date(2026, 6, 30), "region=北京") in stored
    assert (date(2026, 4, 1), date(2026, 6, 30), "") in stored
    assert refresh_themes(NOW) == 0  # nothing changed: nothing clustered again
    add_responses([{"overall": 4}], at=JUNE)
    response = db.session.scalar(select(Response).order_by(Response.id.desc()))
    db.session.add(Answer(response_id=response.id, question_key="comment", value_text="宽带经常断网", answered_at=JUNE))
    rollups.rebuild()
    db.session.commit()
    assert refresh_themes(NOW) == 6


def test_dashboard_reads_the_stored_themes_without_clustering(client, commented, monkeypatch):
    refresh_themes(NOW)
    no_clustering(monkeypatch)
    login(client, "manager")
    page = client.get(f"/dashboard?{DEFAULT}&lang=en").get_data(as_text=True)
    assert "Computed 2026-07-15 10:00 (China time) by the scheduler." in page  # 02:00 UTC
    snapshot = db.session.scalar(select(ThemeSnapshot).where(ThemeSnapshot.date_to == date(2026, 7, 15),
                                                             ThemeSnapshot.filter_key == ""))
    assert "宽带" in snapshot.themes_json
    labels = [t["label"] for t in json.loads(snapshot.themes_json)]
    assert all(label in page for label in labels) and len(labels) >= 3
    themes = compute_report(date(2026, 4, 1), date(2026, 7, 15), "month")["themes"]
    assert sum(t["n"] for t in themes) == len(commented)  # every planted comment in a theme
    assert {p["period"] for t in themes for p in t["trend"]} == {"2026-06"}  # grouped by the report's period
    zh = client.get(f"/dashboard?{DEFAULT}&lang=zh-CN").get_data(as_text=True)
    assert "由定时任务于 2026-07-15 10:00(北京时间)计算。" in zh


def test_a_scope_not_stored_shows_the_nearest_and_is_computed_by_the_next_run(client, commented, monkeypatch):
    refresh_themes(NOW)
    no_clustering(monkeypatch)
    login(client, "manager")
    query = "date_from=2026-06-01&date_to=2026-06-20&period=week&region=北京&channel=web"
    page = client.get(f"/dashboard?{query}&lang=en").get_data(as_text=True)
    assert "Shown: the themes of 2026-06-01 – 2026-06-30 (Region: 北京), computed 2026-07-15 10:00" in page
    assert "This view's own themes are being computed" in page
    waiting = db.session.scalar(select(ThemeSnapshot).where(ThemeSnapshot.themes_json.is_(None)))
    assert (waiting.date_from, waiting.date_to, waiting.filter_key) == (
        date(2026, 6, 1), date(2026, 6, 20), "channel=web&region=北京")
    monkeypatch.undo()
    assert refresh_themes(NOW) == 1  # the scheduler's next run: the asked-for scope only
    no_clustering(monkeypatch)
    page = client.get(f"/dashboard?{query}&lang=en").get_data(as_text=True)
    assert "Computed 2026-07-15 10:00 (China time) by the scheduler." in page


def test_before_the_first_run_the_page_says_themes_are_being_computed(client, commented, monkeypatch):
    no_clustering(monkeypatch)
    login(client, "manager")
    page = client.get(f"/dashboard?{DEFAULT}&lang=en").get_data(as_text=True)
    assert "Themes are being computed and appear after the scheduler" in page


def test_compute_themes_command(app, commented):
    result = app.test_cli_runner().invoke(args=["compute-themes"])
    assert result.exit_code == 0, result.output
    assert "themes computed for" in result.output
    assert db.session.scalar(select(ThemeSnapshot).where(ThemeSnapshot.themes_json.is_not(None))) is not None


def test_the_report_command_reports_its_own_scopes_themes(app, commented, tmp_path):
    """A command may wait for clustering: with nothing stored, the JSON report still carries the
    themes of exactly its dates (not "being computed", not a neighbouring scope's)."""
    out = tmp_path / "june.json"
    result = app.test_cli_runner().invoke(args=["report", "--from", "2026-06-01", "--to", "2026-06-30",
                                                "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text(encoding="utf-8"))
    source = report["themes_source"]
    assert (source["date_from"], source["date_to"]) == ("2026-06-01", "2026-06-30")
    assert sum(t["n"] for t in report["themes"]) == len(commented)
