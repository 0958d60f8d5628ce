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


def exponent_stats(draws: np.ndarray) -> np.ndarray:
    """Per row of ``draws`` (``(n_series, n_samples)``): mean, sd (ddof 1) and the quantiles at
    :data:`SUMMARY_LEVELS` -> ``(n_series, 2 + len(SUMMARY_LEVELS))``."""
    draws = np.asarray(draws, dtype=float)
    q = np.quantile(draws, SUMMARY_LEVELS, axis=1).T
    return np.column_stack([draws.mean(axis=1), draws.std(axis=1, ddof=1), q])


def exponent_summary(
    series_ids: Sequence[str],
    levels: Sequence[str],
    n_costs: np.ndarray,
    w: np.ndarray,
    m: np.ndarray | None = None,
) -> pl.DataFrame:
    """One row per series from posterior draws ``w`` (``(n_series, n_samples)``) and, for an
    experience+time forecast, of the drift ``m`` (same shape).

    Columns: ``series_id``, ``level`` (the prior used), ``n_costs`` (observed costs),
    ``w_mean``, ``w_sd``, ``w_q05``, ``w_q50``, ``w_q95`` (Wright exponent, unit-free) and
    ``learning_rate_q05``, ``learning_rate_q50``, ``learning_rate_q95`` (share of unit cost lost
    per doubling of cumulative production, in [0, 1) for ``w > 0``); with ``m`` also
    ``m_mean``, ``m_sd``, ``m_q05``, ``m_q50``, ``m_q95`` (log unit cost lost per year besides
    experience).
    """
    return summary_frame(
        series_ids,
        levels,
        n_costs,
        exponent_stats(w),
        None if m is None else exponent_stats(m),
    )


def summary_frame(
    series_ids: Sequence[str],
    levels: Sequence[str],
    n_costs: np.ndarray,
    w_stats: np.ndarray,
    m_stats: np.ndarray | None = None,
) -> pl.DataFrame:
    """The frame of :func:`exponent_summary` from :func:`exponent_stats` of ``w`` (and of
    ``m``)."""
    cols: dict[str, object] = {
        "series_id": list(series_ids),
        "level": list(levels),
        "n_costs": np.asarray(n_costs, dtype=np.int64),
        "w_mean": w_stats[:, 0],
        "w_sd": w_stats[:, 1],
    }
    for j, v in enumerate(SUMMARY_LEVELS):
        cols[f"w_q{round(v * 100):02d}"] = w_stats[:, 2 + j]
    for j, v in enumerate(SUMMARY_LEVELS):
        cols[f"learning_rate_q{round(v * 100):02d}"] = learning_rate(w_stats[:, 2 + j])
    if m_stats is not None:
        cols["m_mean"] = m_stats[:, 0]
        cols["m_sd"] = m_stats[:, 1]
        for j, v in enumerate(SUMMARY_LEVELS):
            cols[f"m_q{round(v * 100):02d}"] = m_stats[:, 2 + j]
    return pl.DataFrame(cols)


def attribution_summary(series: pl.DataFrame, attribution: pl.DataFrame) -> pl.DataFrame:
    """``series`` (one row per series) with the channel attribution of its furthest forecast
    year joined on: ``attribution_year``, ``decline_total_mean`` (mean deterministic fall of
    log unit cost from the last observation to that year, noise excluded) and its two parts
    ``decline_experience_mean`` (``w`` times the growth of log cumulative production) and
    ``decline_time_mean`` (the drift ``m`` times the years ahead), which add up to it, each part's
    5/50/95% quantiles, ``share_experience`` and ``share_time`` (the parts' shares of the mean
    decline, summing to 1; null where the mean decline is not positive) and the 5/50/95%
    quantiles of the experience share over the samples whose decline is positive
    (``share_experience_q05/_q50/_q95``). Series with no year to forecast get nulls."""
    last = (
        attribution.sort("series_id", "year")
        .group_by("series_id", maintain_order=True)
        .last()
        .rename({"year": "attribution_year"})
        .drop("horizon")
    )
    total = pl.col("decline_experience_mean") + pl.col("decline_time_mean")
    last = last.with_columns(total.alias("decline_total_mean")).with_columns(
        pl.when(pl.col("decline_total_mean") > 0)
        .then(pl.col("decline_experience_mean") / pl.col("decline_total_mean"))
        .otherwise(None)
        .alias("share_experience"),
    )
    last = last.with_columns((1.0 - pl.col("share_experience")).alias("share_time"))
    order = [
        "series_id",
        "attribution_year",
        "decline_total_mean",
        *[c for c in last.columns if c.startswith("decline_") and c != "decline_total_mean"],
        "share_experience",
        "share_time",
        "share_experience_q05",
        "share_experience_q50",
        "share_experience_q95",
    ]
    return series.join(last.select(order), on="series_id", how="left")
