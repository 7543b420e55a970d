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
