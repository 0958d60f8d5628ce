"""Per-series posterior summaries of a forecast: how fast each of the user's series learns.

:func:`exponent_summary` condenses the posterior draws of each series' Wright exponent ``w``
(unit-free: cost ~ cumulative production^-w), which :func:`.forecaster.simulate` draws anyway, into
one row per series: mean, sd and 5/50/95% quantiles of ``w`` and the matching quantiles of the
learning rate ``1 - 2^-w`` (the share of unit cost lost per doubling of cumulative production;
a monotone map, so its quantiles are those of ``w`` mapped). The posterior is the population
prior updated by the series' own points, so a short series' exponent stays near its industry's
and a long one's follows its data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from learnrace_pipeline.lib.models.learning.config import learning_rate

#: Quantile levels of the per-series summary.
SUMMARY_LEVELS: tuple[float, ...] = (0.05, 0.5, 0.95)


def exponent_summary(
    series_ids: Sequence[str],
    levels: Sequence[str],
    n_costs: np.ndarray,
    w: np.ndarray,
) -> pl.DataFrame:
    """One row per series from posterior draws ``w`` (``(n_series, n_samples)``).

    Columns: ``series_id``, ``level`` (the prior used), ``n_costs`` (observed costs),
    ``w_mean``, ``w_sd``, ``w_q05``, ``w_q50``, ``w_q95`` (Wright exponent, unit-free) and
    ``learning_rate_q05``, ``learning_rate_q50``, ``learning_rate_q95`` (share of unit cost lost
    per doubling of cumulative production, in [0, 1) for ``w > 0``).
    """
    w = np.asarray(w, dtype=float)
    q = np.quantile(w, SUMMARY_LEVELS, axis=1).T
    cols: dict[str, object] = {
        "series_id": list(series_ids),
        "level": list(levels),
        "n_costs": np.asarray(n_costs, dtype=np.int64),
        "w_mean": w.mean(axis=1),
        "w_sd": w.std(axis=1, ddof=1),
    }
    for j, v in enumerate(SUMMARY_LEVELS):
        cols[f"w_q{round(v * 100):02d}"] = q[:, j]
    for j, v in enumerate(SUMMARY_LEVELS):
        cols[f"learning_rate_q{round(v * 100):02d}"] = learning_rate(q[:, j])
    return pl.DataFrame(cols)
