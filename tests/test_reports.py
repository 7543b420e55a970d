"""Report figures against values computed by hand on a small fixed data set, the JSON contract
of the report command, and the PDF's text (pdftotext) in both languages."""
import json
import re
import subprocess
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from callbacks.models import CallbackTask
from core.db import db
from reports.figures import compute_report
from reports.stats import pearson, two_proportion_p, wilson
from tests.conftest import make_ticket

HEADER = "respondent,channel,answered_at,ticket_kind,region,agent,overall,attitude,efficiency,stability,after_sales,nps,resolved,callback,comment\n"
# January: four full answers (the hand computation below); later months: overall only.
JANUARY = [
    "R1,web,2026-01-10T10:00:00+08:00,fault,北京,A01,5,5,4,3,5,10,yes,,网速很快 service was friendly",
    "R2,sms,2026-01-11T10:00:00+08:00,business,北京,A01,4,4,4,,4,9,yes,,",
    "R3,voice,2026-01-12T10:00:00+08:00,complaint,上海,A02,2,3,1,2,3,3,no,yes,等了很久才办好 too slow",
    "R4,web,2026-01-13T10:00:00+08:00,complaint,上海,A02,1,2,1,1,,6,no,yes,断网三天 network outage",
]


def month_rows(month: int, scores: list[int]) -> list[str]:
    return [f"M{month}-{i},web,2026-{month:02d}-{1 + i % 27:02d}T09:00:00+08:00,inquiry,成都,A03,{s},,,,,,,,"
            for i, s in enumerate(scores)]


@pytest.fixture
def dataset(app, ctx, tmp_path):
    rows = JANUARY + month_rows(2, [5] * 30 + [2] * 10) + month_rows(3, [4] * 12 + [2] * 28) \
        + month_rows(4, [5] * 6 + [1] * 4)
    path = tmp_path / "responses.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import-responses", str(path)])
    assert "imported 94 responses" in result.output, result.output
    return path


def test_statistics_by_hand():
    assert wilson(0, 10)[0] == 0 and wilson(0, 10)[1] == pytest.approx(0.27753, abs=1e-5)
    assert wilson(10, 10)[0] == pytest.approx(0.72247, abs=1e-5) and wilson(10, 10)[1] == 1
    assert wilson(1, 10) == pytest.approx((0.01788, 0.40415), abs=1e-4)
    assert wilson(0, 0) is None
    assert two_proportion_p(30, 40, 12, 40) == pytest.approx(5.6e-5, rel=0.05)
    assert two_proportion_p(0, 10, 0, 10) is None
    # x = [5,4,3,2], y = [5,4,2,1]: r = 7 / sqrt(5 * 10)
    assert pearson(4, 14, 12, 54, 46, 49) == pytest.approx(7 / 50 ** 0.5)


def test_january_figures_match_the_hand_computation(dataset):
    r = compute_report(date(2026, 1, 1), date(2026, 1, 31), "month", locale="en")
    assert r["responses"] == 4
    # SI: (81.25 + 75 + 31.25 + 8.33) / 4 = 48.96
    assert r["satisfaction_index"] == 49.0
    # CSAT 2 of 4 with the Wilson interval 15.0–85.0
    assert r["csat"] == {"value": 50.0, "ci_low": 15.0, "ci_high": 85.0}
    assert r["nps"] == 0.0  # two promoters, two detractors
    dims = r["dimensions"]
    assert (dims["attitude"]["mean"], dims["attitude"]["index"], dims["attitude"]["importance"],
            dims["attitude"]["priority"]) == (3.5, 62.5, 0.99, 37.1)
    assert (dims["efficiency"]["index"], dims["efficiency"]["importance"], dims["efficiency"]["priority"]) == (37.5, 0.949, 59.3)
    assert (dims["stability"]["mean"], dims["stability"]["index"], dims["stability"]["importance"],
            dims["stability"]["priority"]) == (2.0, 25.0, 0.961, 72.1)
    assert (dims["after_sales"]["index"], dims["after_sales"]["importance"], dims["after_sales"]["priority"]) == (75.0, 0.982, 24.5)
    assert r["drivers"] == ["stability", "efficiency", "attitude", "after_sales"]
    assert r["suggestions"][0]["reason"].startswith("Key driver network and system stability: priority 72.1")


def test_trend_significance_and_low_sample(dataset):
    r = compute_report(date(2026, 1, 1), date(2026, 4, 30), "month", locale="en")
    trend = {t["period"]: t for t in r["trend"]}
    assert [t["period"] for t in r["trend"]] == ["2026-01", "2026-02", "2026-03", "2026-04"]
    assert [trend[p]["n"] for p in trend] == [4, 40, 40, 10]
    assert [trend[p]["csat"] for p in trend] == [50.0, 75.0, 30.0, 60.0]
    assert trend["2026-01"]["low_sample"] and trend["2026-04"]["low_sample"]
    assert not trend["2026-02"]["low_sample"] and not trend["2026-03"]["low_sample"]
    assert trend["2026-02"]["p_value"] == pytest.approx(0.2844, abs=2e-4) and not trend["2026-02"]["significant"]
    assert trend["2026-03"]["significant"] and trend["2026-03"]["p_value"] < 0.001
    assert trend["2026-04"]["p_value"] == pytest.approx(0.0771, abs=2e-4) and not trend["2026-04"]["significant"]
    assert any("CSAT fell from 75.0% to 30.0%" in s["text"] for s in r["suggestions"])
    assert r["csat"]["value"] == 53.2  # 50 of 94
    assert r["satisfaction_index"] == 49.0  # only January answered the dimensions


def test_breakdowns_and_comment_themes(dataset):
    r = compute_report(date(2026, 1, 1), date(2026, 1, 31), "month")
    regions = {b["key"]: b for b in r["breakdowns"]["region"]}
    assert regions["北京"]["n"] == 2 and regions["北京"]["csat"]["value"] == 100.0
    assert regions["上海"]["csat"]["value"] == 0.0
    channels = {b["key"]: b["n"] for b in r["breakdowns"]["channel"]}
    assert channels == {"web": 2, "sms": 1, "voice": 1}
    themes = {t["theme"]: t for t in r["comment_themes"]["themes"]}
    assert r["comment_themes"]["comments"] == 3
    assert themes["stability"]["count"] == 2  # 网速 / 断网 ... network outage
    assert themes["efficiency"]["count"] == 1 and "too slow" in themes["efficiency"]["quotes"][0]
    filtered = compute_report(date(2026, 1, 1), date(2026, 1, 31), "month", {"region": "上海"})
    assert filtered["responses"] == 2


def test_callback_sla_per_kind(ctx):
    handled = datetime(2026, 3, 2, 2, 0)
    tasks = make_ticket("T-1", kind="business", handled_at=handled).tasks  # due 48 h later
    late = make_ticket("T-2", kind="business", handled_at=handled,
                       customer={"id": "C-2", "phone": "+8613800000002"}).tasks
    tasks[0].met_at = handled + timedelta(hours=30)
    late[0].met_at = handled + timedelta(hours=50)
    db.session.commit()
    r = compute_report(date(2026, 3, 1), date(2026, 3, 31), "month", locale="en")
    assert r["callbacks"]["post_handling"] == {"total": 2, "on_time": 1, "sla": 50.0}
    assert any("post-handling callbacks (48 h): 1 of 2 on time (50.0%" in s["reason"] for s in r["suggestions"])
    assert db.session.query(CallbackTask).count() == 2


def test_report_command_writes_the_json_contract(app, dataset, tmp_path):
    out = tmp_path / "q1.json"
    result = app.test_cli_runner().invoke(args=["report", "--from", "2026-01-01", "--to", "2026-04-30",
                                                "--period", "month", "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["period"]["from"] == "2026-01-01" and data["period"]["to"] == "2026-04-30"
    for key in ("responses", "satisfaction_index", "csat", "nps", "dimensions", "trend", "drivers",
                "callbacks", "suggestions"):
        assert key in data
    assert set(data["csat"]) == {"value", "ci_low", "ci_high"}
    assert set(data["dimensions"]) == {"attitude", "efficiency", "stability", "after_sales"}
    assert {"mean", "index", "importance", "priority"} <= set(data["dimensions"]["stability"])
    assert {"period", "n", "satisfaction_index", "csat", "nps", "significant", "low_sample"} <= set(data["trend"][0])
    assert all(set(s) >= {"text", "reason"} for s in data["suggestions"])
    bad = app.test_cli_runner().invoke(args=["report", "--from", "2026-05-01", "--to", "2026-04-30",
                                             "--format", "json", "--out", str(out)])
    assert bad.exit_code != 0 and "--to is before --from" in bad.output


def pdf_text(path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


@pytest.mark.parametrize("locale, title, drivers, why", [
    ("en", "Customer satisfaction report", "Key drivers", "Why: Key driver network and system stability: priority"),
    ("zh-CN", "客户满意度报告", "关键驱动因素", "依据: 关键驱动因素 网络与系统稳定性:优先级")])
def test_pdf_has_the_figures_in_both_languages(app, dataset, tmp_path, locale, title, drivers, why):
    out = tmp_path / f"report-{locale}.pdf"
    result = app.test_cli_runner().invoke(args=["report", "--from", "2026-01-01", "--to", "2026-04-30",
                                                "--period", "month", "--format", "pdf", "--locale", locale,
                                                "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = pdf_text(out)
    assert title in text and drivers in text
    assert why in text  # the suggestions are written in the report's language too
    # The header's time is the local time of the zone the method notes name, not UTC.
    stamp = re.search(r"(?:generated|生成于) (\d{4}-\d\d-\d\d \d\d:\d\d) \(Asia/Shanghai\)", text)
    shanghai = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
    assert stamp and abs(datetime.fromisoformat(stamp.group(1)) - shanghai) < timedelta(minutes=10)
    assert {"en": "Dates are in Asia/Shanghai.", "zh-CN": "日期按 Asia/Shanghai 时区。"}[locale] in text
    assert "49.0" in text and "53.2%" in text and "2026-03" in text
    assert "p = 0.0771" in text  # the trend table shows the test behind each change
    assert "断网三天 network outage" in text  # quotes keep CJK glyphs
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True, check=True).stdout
    assert "Noto-Sans-CJK" in fonts  # a CJK font is embedded: glyphs, not boxes


def test_hostile_comment_is_escaped_in_the_pdf(app, ctx, tmp_path):
    from reports.pdf import render_html
    path = tmp_path / "evil.csv"
    path.write_text(HEADER + 'E1,web,2026-01-10T10:00:00Z,,,,3,,,,,,,,"<script>alert(1)</script> 网速 慢"\n', encoding="utf-8")
    app.test_cli_runner().invoke(args=["import-responses", str(path)])
    html = render_html(compute_report(date(2026, 1, 1), date(2026, 1, 31), "month"), "en")
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
