"""Management analytics on generated data with planted truths: Johnson's relative weights,
scorecards ranked by the lower confidence bound."""
import itertools
import random
from datetime import date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert

from core.db import db
from reports.figures import compute_report
from surveys.models import Response
from surveys.services import latest_version

JUNE = datetime(2026, 6, 10, 4, 0)  # UTC, inside June in Asia/Shanghai


def add_responses(rows: list[dict], at: datetime = JUNE) -> None:
    """Completed responses stored directly (the figures read only these columns)."""
    version_id = latest_version("telecom-default").id
    db.session.execute(insert(Response), [
        {"version_id": version_id, "channel": "web", "respondent": f"R{i}", "ticket_kind": "business",
         "region": "北京", "agent": "A01", "started_at": at, "completed_at": at + timedelta(minutes=i % 600),
         **row} for i, row in enumerate(rows)])
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
