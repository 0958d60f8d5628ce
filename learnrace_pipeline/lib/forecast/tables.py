"""The output tables of one forecast run, whatever the model: the quantile table and the
per-series summary that ``learnrace forecast`` and the drop folder write."""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.lib.forecast import forecaster, outputs, pool, series, time_trend
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.types import ForecastSamples, ForecastSummary


def result_tables(
    result: ForecastSamples | ForecastSummary, model: str, prior: PopulationPrior
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """(quantile table, per-series summary or None) of ``result``, the samples of ``model``
    (``wright``, ``experience_time``, ``pool`` or ``time``; not ``auto``) drawn with ``prior``,
    or their summary (:class:`~.types.ForecastSummary`, from :func:`.pool.pool_summary`).

    The quantile table has one row per series and forecast year with q05..q95 of unit cost in
    the input's cost units (for ``time``, without production); the summary gives each series'
    exponent (or drift, for ``time``) and, where the samples carry it, the channel attribution
    of its furthest forecast year. Non-finite samples or quantiles are refused
    (:class:`~learnrace_pipeline.lib.errors.DataError` naming the series); the caller checks
    the summary when it writes it.
    """
    forecaster.check_finite(result)
    per_series = result.series
    if model == "time":
        table = time_trend.time_quantile_frame(result, prior)
        per_series = time_trend.drift_summary(per_series) if per_series is not None else None
    else:
        label = pool.POOL_MODEL_NAME if model == "pool" else forecaster.model_name(prior)
        table = forecaster.quantile_frame(result, model=label)
        if per_series is not None and result.attribution is not None:
            per_series = series.attribution_summary(per_series, result.attribution)
    outputs.check_finite_output(table)
    return table, per_series
