"""Johnson's relative weights (Johnson 2000): how much of `overall` each dimension explains,
without the double counting of raw correlations when dimensions correlate with each other.

With standardised predictors, R_xx = V diag(λ) Vᵀ has the symmetric square root
Λ = V diag(√λ) Vᵀ; the orthogonal counterparts of the predictors are regressed on `overall`
(β = Λ⁻¹ r_xy) and each predictor's weight is Σ_k Λ_jk² β_k². The weights sum to the R² of
the linear regression of `overall` on the dimensions. Everything is computed from additive sums
over complete cases (n, Σx_i, Σx_i·x_j), so SQL or rollups can provide them."""
from __future__ import annotations

import numpy as np

from surveys.models import DIMENSIONS

VARIABLES = (*DIMENSIONS, "overall")  # the predictors, then the criterion


def sum_keys() -> list[str]:
    """The names of the additive sums this module reads: `cc_n`, `cc_<a>`, `cc_<a>__<b>`."""
    keys = ["cc_n"] + [f"cc_{a}" for a in VARIABLES]
    keys += [f"cc_{a}__{b}" for i, a in enumerate(VARIABLES) for b in VARIABLES[i:]]
    return keys


def correlation_matrix(sums: dict) -> np.ndarray | None:
    """The correlation matrix of VARIABLES from complete-case sums; None when any variable is
    constant or fewer cases than variables + 2 were answered."""
    n = sums.get("cc_n") or 0
    if n < len(VARIABLES) + 2:
        return None
    mean = np.array([sums[f"cc_{a}"] / n for a in VARIABLES], dtype=float)
    cross = np.empty((len(VARIABLES), len(VARIABLES)))
    for i, a in enumerate(VARIABLES):
        for j, b in enumerate(VARIABLES[i:], start=i):
            cross[i, j] = cross[j, i] = sums[f"cc_{a}__{b}"]
    covariance = cross / n - np.outer(mean, mean)
    sd = np.sqrt(np.clip(np.diag(covariance), 0, None))
    if np.any(sd < 1e-12):
        return None
    return covariance / np.outer(sd, sd)


def relative_weights(sums: dict) -> tuple[dict[str, float], float] | None:
    """({dimension: relative weight}, R²), each rounded to three decimals; None when the data
    cannot support the regression (too few complete cases, a constant or collinear dimension)."""
    corr = correlation_matrix(sums)
    if corr is None:
        return None
    p = len(DIMENSIONS)
    r_xx, r_xy = corr[:p, :p], corr[:p, p]
    eigenvalues, vectors = np.linalg.eigh(r_xx)
    if eigenvalues.min() < 1e-9:
        return None  # perfectly collinear dimensions: no unique decomposition
    lam = vectors @ np.diag(np.sqrt(eigenvalues)) @ vectors.T
    beta = np.linalg.solve(lam, r_xy)
    weights = (lam ** 2) @ (beta ** 2)
    r_squared = float(r_xy @ np.linalg.solve(r_xx, r_xy))
    return {d: round(float(w), 3) for d, w in zip(DIMENSIONS, weights, strict=True)}, round(r_squared, 3)
