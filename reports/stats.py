"""The statistics of SPEC "Figures": Wilson interval, two-proportion z-test, Pearson r."""
from __future__ import annotations

import math

Z95 = 1.959963984540054


def wilson(k: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """95 % Wilson score interval of k successes in n, as proportions; exact at k = 0 and k = n."""
    if n <= 0:
        return None
    p = k / n
    denominator = 1 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    # At k = 0 and k = n one bound is exactly 0 or 1; floating point would miss it by 1e-16.
    low = 0.0 if k == 0 else (centre - margin) / denominator
    high = 1.0 if k == n else (centre + margin) / denominator
    return low, high


def two_proportion_p(k1: int, n1: int, k2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when undefined."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (k1 + k2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return None
    z = (k2 / n2 - k1 / n1) / math.sqrt(variance)
    return math.erfc(abs(z) / math.sqrt(2))


def pearson(n: int, sx: float, sy: float, sxx: float, syy: float, sxy: float) -> float | None:
    """Pearson r from running sums (so SQL can compute the sums); None when a side is constant."""
    if n < 3:
        return None
    cov = n * sxy - sx * sy
    vx, vy = n * sxx - sx * sx, n * syy - sy * sy
    if vx <= 0 or vy <= 0:
        return None
    return cov / math.sqrt(vx * vy)


def pct(part: float, whole: float) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def percent_interval(k: int, n: int) -> dict[str, float | int | None]:
    """k of n as the JSON report writes a percentage: value with its 95 % Wilson interval
    (one decimal) and n."""
    ci = wilson(k, n)
    return {"value": pct(k, n), "ci_low": round(100 * ci[0], 1) if ci else None,
            "ci_high": round(100 * ci[1], 1) if ci else None, "n": n}


def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default, Excel's
    PERCENTILE.INC), q in 0..1."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def hours_summary(hours: list[float]) -> dict[str, float | None]:
    """Median and 90th percentile, one decimal (None when there are none)."""
    if not hours:
        return {"median": None, "p90": None}
    return {"median": round(percentile(hours, 0.5), 1), "p90": round(percentile(hours, 0.9), 1)}
