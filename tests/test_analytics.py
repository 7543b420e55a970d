"""Management analytics on generated data with planted truths: Johnson's relative weights,
scorecards ranked by the lower confidence bound."""
import itertools
import random
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert, select

from core.db import db
from reports import rollups
from reports.figures import Scope, compute_report
from reports.stored_themes import compute_scope
from surveys.models import Response
from surveys.services import latest_version
from tests.conftest import csrf_token, login, post_form

JUNE = datetime(2026, 6, 10, 4, 0)  # UTC, inside June in Asia/Shanghai


def add_responses(rows: list[dict], at: datetime = JUNE) -> None:
    """Completed responses stored directly, then added to the rollups as a bulk import does
    (the figures read only these columns)."""
    version_id = latest_version("telecom-default").id
    ids = db.session.scalars(insert(Response).returning(Response.id), [
        {"version_id": version_id, "channel": "web", "respondent": f"R{i}", "ticket_kind": "business",
         "region": "北京", "agent": "A01", "started_at": at, "completed_at": at + timedelta(minutes=i % 600),
         **row} for i, row in enumerate(rows)]).all()
    rollups.add_responses(ids)
    db.session.commit()


def june_report(**kwargs):
    return compute_report(date(2026, 6, 1), date(2026, 6, 30), "month", **kwargs)


def test_relative_weights_match_the_hand_computation_on_uncorrelated_dimensions(ctx):
    # A full factorial design: the four dimensions are exactly uncorrelated, so each weight is
    # the squared correlation with overall. overall = 1 + 2a + e + s (a, e, s = 1 when the
    # dimension is 5): var(overall) = 1.5, r²(attitude) = 4·0.25²·4/(4·1.5)... worked out:
    # cov(attitude, overall) = 4·2·0.25 = 2, sd(attitude) = 2 → r² = 1/1.5 = 0.667;
    # efficiency and stability: r² = 0.25/1.5 = 0.167; after-sales 0. R² = 1 (exact fit).
    rows = []
    for a, e, s, f in itertools.product((0, 1), repeat=4):
        rows.append({"attitude": 1 + 4 * a, "efficiency": 1 + 4 * e, "stability": 1 + 4 * s,
                     "after_sales": 1 + 4 * f, "overall": 1 + 2 * a + e + s})
    add_responses(rows)
    report = june_report()
    weights = {d: v["relative_weight"] for d, v in report["dimensions"].items()}
    assert weights == {"attitude": 0.667, "efficiency": 0.167, "stability": 0.167, "after_sales": 0.0}
    assert report["r_squared"] == 1.0


def test_relative_weights_sum_to_the_regressions_r_squared_with_correlated_dimensions(ctx):
    rng = random.Random(7)
    rows = []
    for _ in range(300):
        service = rng.gauss(0, 1)  # attitude and efficiency share a factor: they correlate
        dims = {"attitude": service + rng.gauss(0, 0.5), "efficiency": service + rng.gauss(0, 0.5),
                "stability": rng.gauss(0, 1), "after_sales": rng.gauss(0, 1)}
        overall = 0.8 * dims["attitude"] + 0.5 * dims["stability"] + rng.gauss(0, 0.7)
        scale = {k: min(5, max(1, round(3 + v))) for k, v in dims.items()}
        rows.append({**scale, "overall": min(5, max(1, round(3 + overall)))})
    rows.append({"attitude": 4, "overall": 4})  # incomplete: left out of the complete cases
    add_responses(rows)
    report = june_report()
    complete = rows[:-1]
    x = np.array([[r[d] for d in ("attitude", "efficiency", "stability", "after_sales")] for r in complete], float)
    y = np.array([r["overall"] for r in complete], float)
    design = np.column_stack([np.ones(len(y)), x])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    r_squared = 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))
    weights = [v["relative_weight"] for v in report["dimensions"].values()]
    assert report["r_squared"] == pytest.approx(r_squared, abs=0.001)
    assert sum(weights) == pytest.approx(r_squared, abs=0.003)
    # Efficiency correlates with overall only through attitude: squared raw correlations
    # double-count that shared part (they add up to more than R²), relative weights do not.
    dims = report["dimensions"]
    assert sum(d["importance"] ** 2 for d in dims.values()) > r_squared + 0.05
    assert dims["efficiency"]["relative_weight"] < dims["efficiency"]["importance"] ** 2
    assert dims["attitude"]["relative_weight"] > dims["efficiency"]["relative_weight"]


def test_relative_weights_are_null_without_enough_complete_cases(ctx):
    add_responses([{"attitude": 5, "efficiency": 4, "stability": 3, "after_sales": 2, "overall": 4}] * 3)
    report = june_report()
    assert report["r_squared"] is None
    assert all(d["relative_weight"] is None for d in report["dimensions"].values())


def test_scorecards_rank_a_lucky_small_sample_below_a_large_good_one(ctx):
    add_responses([{"overall": 5, "resolved": True, "agent": "小样本 Lucky"} for _ in range(5)])
    add_responses([{"overall": 5 if i < 360 else 2, "resolved": i < 300, "agent": "A-400"}
                   for i in range(400)])
    cards = june_report()["scorecards"]
    assert [c["agent"] for c in cards] == ["A-400", "小样本 Lucky"]
    big, lucky = cards
    assert lucky["csat"]["value"] == 100.0 and lucky["low_sample"] is True
    assert big["csat"]["value"] == 90.0 and big["low_sample"] is False
    assert big["csat"]["ci_low"] > lucky["csat"]["ci_low"]
    assert big["resolution_rate"] == {"value": 75.0, "ci_low": 70.5, "ci_high": 79.0, "n": 400}


# ---- improvement actions ---------------------------------------------------------------------

def efficiency_month(month: int, scores: list[int]) -> None:
    add_responses([{"efficiency": s, "overall": 4} for s in scores], at=datetime(2026, month, 10, 4, 0))


def done_action(metric: str = "dimension:efficiency", baseline: str = "2026-06"):
    from core.accounts import create_user
    from reports.actions import create_action, set_state

    owner = create_user("owner@example.com", "负责人 Owner", "agent", "correct-horse-1")
    action = create_action("缩短办理时长 Shorten handling", owner.id, date(2026, 6, 30), metric, baseline, None)
    set_state(action, "done", now=datetime(2026, 6, 20, 2, 0))
    db.session.commit()
    return action


@pytest.mark.parametrize("raised", [True, False])
def test_action_effect_shows_a_significant_rise_only_when_the_data_rose(ctx, raised):
    from reports.actions import effect

    june = [2, 3, 4] * 20  # mean 3: item index 50
    efficiency_month(6, june)
    efficiency_month(7, [3, 4, 5] * 20 if raised else list(reversed(june)))
    action = done_action()
    measured = effect(action, today=date(2026, 8, 5))
    assert measured["baseline_period"] == "2026-06" and measured["after_period"] == "2026-07"
    assert measured["baseline"] == 50.0 and measured["low_sample"] is False
    if raised:
        assert measured["after"] == 75.0 and measured["change"] == 25.0
        assert measured["significant"] is True and measured["p_value"] < 0.001
    else:
        assert measured["after"] == 50.0 and measured["change"] == 0.0
        assert measured["significant"] is False and measured["p_value"] == 1.0
    # The report's follow-up plan carries the same effect.
    plan = june_report()["actions"]
    assert [a["title"] for a in plan] == ["缩短办理时长 Shorten handling"]
    assert plan[0]["state"] == "done" and plan[0]["metric"] == "dimension:efficiency"
    assert plan[0]["effect"]["significant"] is raised


def test_action_effect_on_a_percentage_uses_the_two_proportion_test_and_flags_low_samples(ctx):
    from reports.actions import effect

    add_responses([{"overall": 5}] * 6 + [{"overall": 2}] * 4, at=datetime(2026, 6, 10, 4, 0))
    add_responses([{"overall": 5}] * 9 + [{"overall": 2}] * 1, at=datetime(2026, 7, 10, 4, 0))
    measured = effect(done_action(metric="csat"), today=date(2026, 8, 5))
    assert (measured["baseline"], measured["after"], measured["change"]) == (60.0, 90.0, 30.0)
    assert measured["p_value"] == pytest.approx(0.1213, abs=1e-3)  # pooled z = 1.549
    assert measured["significant"] is False and measured["low_sample"] is True


def test_effect_waits_for_the_period_after_to_end(ctx):
    from reports.actions import effect

    action = done_action()
    assert effect(action, today=date(2026, 7, 15)) is None
    action.state = "open"
    assert effect(action, today=date(2026, 8, 5)) is None


def test_manager_turns_a_suggestion_into_an_action_and_the_owner_closes_it(ctx, app, client):
    owner = login(client, "agent", email="owner@example.com")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/actions")})
    manager = login(client, "manager")
    form = client.get("/actions/new?text=提升办理效率&reason=关键驱动因素&metric=dimension:efficiency")
    page = form.get_data(as_text=True)
    assert "提升办理效率" in page and 'selected value="dimension:efficiency"' in page
    refused = post_form(client, "/actions/new", {"title": "x", "owner_id": owner.id, "due_date": "2026-12-31",
                                                 "metric": "dimension:efficiency", "baseline_period": "June"})
    assert refused.status_code == 400 and "2026-Q2" in refused.get_data(as_text=True)
    created = post_form(client, "/actions/new", {
        "title": "提升办理效率", "owner_id": owner.id, "due_date": "2026-12-31", "metric": "dimension:efficiency",
        "baseline_period": "2026-10", "source": "关键驱动因素"})
    assert created.status_code == 302
    from reports.models import ImprovementAction
    action = db.session.scalar(select(ImprovementAction))
    assert (action.title, action.owner_id, action.created_by_id, action.state) == ("提升办理效率", owner.id, manager.id, "open")
    # The owner sees it among theirs and marks it done; another agent cannot open it.
    client.post("/logout", data={"csrf_token": csrf_token(client, "/actions")})
    login(client, "agent", email="other@example.com")
    assert client.get(f"/actions/{action.id}").status_code == 403
    assert "提升办理效率" not in client.get("/actions").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/actions")})
    login(client, "agent", email="owner@example.com")
    assert "提升办理效率" in client.get("/actions").get_data(as_text=True)
    done = post_form(client, f"/actions/{action.id}", {"state": "done", "note": "流程已简化"})
    assert done.status_code == 302
    db.session.refresh(action)
    assert action.state == "done" and action.done_at is not None and action.note == "流程已简化"
    assert "行动完成后的下一期结束后测量" in client.get(f"/actions/{action.id}").get_data(as_text=True)


def test_overdue_actions_are_mailed_to_their_owner_once(ctx):
    from channels.models import Message
    from core.accounts import create_user
    from reports.actions import create_action, notify_overdue

    owner = create_user("owner@example.com", "Owner", "agent", "correct-horse-1")
    create_action("提升办理效率", owner.id, date(2026, 6, 30), "csat", "2026-05", None)
    create_action("not yet due", owner.id, date(2026, 7, 30), "csat", "2026-05", None)
    db.session.commit()
    assert notify_overdue(datetime(2026, 7, 2, 4, 0)) == 1
    assert notify_overdue(datetime(2026, 7, 3, 4, 0)) == 0
    message = db.session.scalar(select(Message))
    assert message.channel == "email" and message.to == "owner@example.com"
    assert "提升办理效率" in message.subject and "2026-06-30" in message.body


# ---- comment themes --------------------------------------------------------------------------

PLANTED = {  # topic → (words a comment is built from, its sentiment sign)
    "broadband": (["宽带经常断网", "网速太慢", "晚上掉线", "光猫故障", "信号弱"], -1),
    "billing": (["话费乱扣费", "账单看不懂", "资费不明", "扣费错误"], -1),
    "praise": (["客服态度很好", "师傅很耐心", "办理很快", "服务周到"], 1),
    "english": (["the bill was wrong", "charged twice on my bill", "wrong charge on the bill"], -1),
}


def planted_comments(rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for topic, (phrases, _sign) in PLANTED.items():
        for i in range(30):
            text = ",".join(rng.sample(phrases, 2))
            if i % 10 == 0 and topic != "english":
                text += ",我的电话13812345678,王芳"  # personal data the quotes must not show
            out.append((topic, text))
    rng.shuffle(out)
    return out


def test_planted_themes_are_discovered_with_their_sentiment_and_masked_quotes(ctx):
    from reports.textmining import Comment, discover

    comments = planted_comments(random.Random(3))
    themes = discover([Comment(text, JUNE, ("王芳",)) for _topic, text in comments], lambda at: "2026-06")
    found = {}
    for topic, (phrases, sign) in PLANTED.items():
        vocabulary = " ".join(phrases)
        matching = [t for t in themes if t["n"] >= 20 and all(term in vocabulary for term in t["terms"][:2])]
        assert matching, (topic, [(t["label"], t["n"]) for t in themes])
        theme = max(matching, key=lambda t: t["n"])
        found[topic] = theme
        assert 27 <= theme["n"] <= 33, (topic, theme["label"], theme["n"])
        assert theme["sentiment"] * sign > 0.3, (topic, theme["sentiment"])
        assert theme["trend"] == [{"period": "2026-06", "n": theme["n"]}]
    assert len({t["label"] for t in found.values()}) == 4
    quotes = " ".join(q for t in themes for q in t["quotes"])
    assert "13812345678" not in quotes and "王芳" not in quotes


def test_masking_and_sentiment_of_single_comments():
    from reports.textmining import mask, sentiment, terms

    assert mask("王芳的电话13812345678,李师傅说 wang@x.cn", ["王芳"]) == "王某某的电话138****5678,某师傅说 w***@x.cn"
    assert sentiment("客服态度很好,耐心解答") > 0.5 and sentiment("办理速度太慢,等了很久") < -0.5
    assert sentiment("问题没有解决") < 0  # negated
    assert sentiment("The agent was friendly and helpful") > 0.5
    assert "宽带" in terms("宽带经常断网") and "携号转网" in terms("我要携号转网")


def add_commented_responses() -> list[tuple[str, str]]:
    """120 June responses, each with a comment on one of four planted topics."""
    from sqlalchemy import insert as sql_insert

    from surveys.models import Answer
    comments = planted_comments(random.Random(5))
    add_responses([{"overall": 3} for _ in comments])
    ids = db.session.scalars(select(Response.id).order_by(Response.id)).all()
    db.session.execute(sql_insert(Answer), [{"response_id": rid, "question_key": "comment", "value_text": text,
                                             "answered_at": JUNE} for rid, (_t, text) in zip(ids, comments, strict=True)])
    rollups.rebuild()  # the comments came after the responses were counted: count them again
    db.session.commit()
    return comments


def test_report_carries_discovered_themes(ctx):
    comments = add_commented_responses()
    compute_scope(Scope(date(2026, 6, 1), date(2026, 6, 30)))  # the scheduler's work
    db.session.commit()
    themes = june_report()["themes"]
    assert sum(t["n"] for t in themes) == len(comments)
    assert {"label", "n", "sentiment", "quotes"} <= set(themes[0])


# ---- what managers read ----------------------------------------------------------------------

@pytest.mark.parametrize("locale, headings", [
    ("zh-CN", ["后续计划", "坐席评分卡", "团队评分卡", "从评论中发现的主题", "相对权重", "缩短办理时长"]),
    ("en", ["Follow-up plan", "Agent scorecards", "Team scorecards", "Themes found in the comments",
            "Relative weight", "Shorten"])])
def test_pdf_carries_the_analytics_sections(app, ctx, tmp_path, locale, headings):
    from reports.pdf import render_pdf
    from tests.test_reports import pdf_text

    june = [2, 3, 4] * 20
    efficiency_month(6, june)
    efficiency_month(7, [3, 4, 5] * 20)
    done_action()
    out = tmp_path / "report.pdf"
    out.write_bytes(render_pdf(compute_report(date(2026, 6, 1), date(2026, 7, 31), "month", locale=locale), locale))
    text = pdf_text(out)
    for heading in headings:
        assert heading in text, heading
    assert "50.0 → 75.0" in text and "2026-06 → 2026-07" in text  # the action's measured effect


def test_dashboard_shows_scorecards_and_links_suggestions_to_actions(ctx, client):
    add_responses([{"overall": 5 if i % 3 else 2, "attitude": 1 + i % 5, "efficiency": 1 + (i * 2) % 5,
                    "stability": 3, "after_sales": 1 + (i * 3) % 5, "agent": "A-7"} for i in range(40)],
                  at=datetime(2026, 6, 3, 4, 0))
    login(client, "manager")
    page = client.get("/dashboard?date_from=2026-06-01&date_to=2026-06-30").get_data(as_text=True)
    assert "坐席评分卡" in page and "A-7" in page and "后续计划" in page
    assert "/actions/new?text=" in page and "metric=dimension" in page


def test_agents_see_their_own_scorecard_and_managers_see_everyones(ctx, client):
    from callbacks.services import claim, close, record_attempt
    from tests.conftest import make_ticket

    add_responses([{"overall": 5, "agent": "A-9"} for _ in range(3)], at=datetime.utcnow() - timedelta(days=1))
    agent = login(client, "agent")
    task = make_ticket(external_id="T-SC", kind="business").tasks[0]
    claim(task.id, agent.id)
    db.session.refresh(task)
    record_attempt(task, agent.id, "reached", notes="已解决")
    close(task, agent.id, resolution_category="resolved", resolved=True)
    db.session.commit()
    page = client.get("/scorecards").get_data(as_text=True)
    assert "我的回访" in page and "A-9" not in page  # an agent sees only their own card
    assert "100.0%" in page  # one task, on time
    client.post("/logout", data={"csrf_token": csrf_token(client, "/scorecards")})
    login(client, "manager")
    page = client.get("/scorecards").get_data(as_text=True)
    assert "坐席评分卡" in page and "A-9" in page


def test_an_archived_reports_suggestions_can_become_actions(ctx, client):
    from reports.scheduled import generate_report

    add_responses([{"overall": 5 if i % 3 else 2, "attitude": 1 + i % 5, "efficiency": 1 + (i * 2) % 5,
                    "stability": 3, "after_sales": 1 + (i * 3) % 5} for i in range(40)])
    report = generate_report("monthly", date(2026, 6, 1), date(2026, 6, 30), "week")
    db.session.commit()
    login(client, "manager")
    assert f"/reports/{report.id}/suggestions" in client.get("/reports").get_data(as_text=True)
    page = client.get(f"/reports/{report.id}/suggestions").get_data(as_text=True)
    assert "/actions/new?text=" in page and "转为改进行动" in page
    assert client.get("/reports/999999/suggestions").status_code == 404


@pytest.mark.parametrize("utc, local", [(datetime(2026, 11, 27, 15, 59), "2026-11-27"),
                                        (datetime(2026, 11, 27, 16, 0), "2026-11-28")])
def test_pages_end_their_default_range_on_todays_date_in_the_reporting_time_zone(ctx, client, monkeypatch, utc, local):
    """Reports count local days (Asia/Shanghai): from 16:00 UTC on it is the next day there,
    and a default range ending on the UTC date left the day's work out (an agent's callback
    closed at 00:30 local time did not count on their scorecard)."""
    import reports.scope
    monkeypatch.setattr(reports.scope, "utcnow", lambda: utc)
    assert reports.scope.local_today().isoformat() == local
    login(client, "manager")
    assert f"至 {local}。" in client.get("/scorecards").get_data(as_text=True)
    assert f'value="{local}"' in client.get("/dashboard").get_data(as_text=True)  # the date_to field
