"""The time-trend forecaster: the pooled-prior forecaster of :mod:`.forecaster` with the year in
place of log cumulative production.

Model of one series (the pooled time-trend model of :mod:`learnrace_pipeline.lib.models.learning`,
``trend="time"``, Farmer & Lafond 2016's random walk with drift and MA(1) noise), on the first
differences between consecutive observed years ``t`` (``dt`` years apart)::

    dlogc[t] = -m * dt[t] + e[t] + rho * e[t-1],   e[t] ~ N(0, sigma^2 dt[t]) or Student-t

``m`` is the drift (log unit cost lost per year; halving time ``ln 2 / m`` years). This is the
Wright model of :mod:`.forecaster` with ``dlogq`` replaced by ``dt``, so :func:`time_task` sets
``log_q = year`` and :func:`~.forecaster.simulate` runs unchanged: with a prior from a pooled
time-trend fit (:func:`.priors.population_prior`, whose ``w_mu``/``w_sd`` then hold ``m``) the
samples it returns as "exponents" are draws of ``m``, and its forecasts
``y_T - m (year - T) + noise`` are the time-trend forecasts. No production is needed or used.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.forecast.forecaster import quantile_frame
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.types import ForecastSamples, ForecastTask

#: ``model`` label stem of time-trend forecasts (Student-t or normal MA(1) noise).
TIME_MODEL_NAME = "pooled_time_ma1"
TIME_MODEL_NAME_T = "pooled_time_student_t_ma1"


def time_task(obs: pl.DataFrame, targets: pl.DataFrame) -> ForecastTask:
    """A forecast task of the time-trend model: ``log_q`` := the year (float), in both the
    observed points (``series_id, year, log_cost``) and the targets (``series_id, year``)."""
    year = pl.col("year").cast(pl.Float64).alias("log_q")
    return ForecastTask(
        obs.select("series_id", "year", "log_cost").with_columns(year),
        targets.select("series_id", "year").with_columns(year),
        None,
    )


def time_quantile_frame(fs: ForecastSamples, prior: PopulationPrior) -> pl.DataFrame:
    """The output table of time-trend forecasts made with ``prior``: that of
    :func:`.forecaster.quantile_frame` (model ``pooled_time[_student_t]_ma1[<level>]``) without
    the cumulative-production columns (the task's "production" is the year) and with
    ``production = "none"``."""
    frame = quantile_frame(dataclasses.replace(fs, log_q=None), model=time_model_name(prior))
    return frame.with_columns(pl.lit("none").alias("production"))


def drift_summary(series: pl.DataFrame) -> pl.DataFrame:
    """Per-series drift summary from :func:`.series.exponent_summary` of a time-trend forecast:
    ``m_mean, m_sd, m_q05, m_q50, m_q95`` (log unit cost lost per year) and
    ``annual_decline_q05/_q50/_q95`` = ``1 - exp(-m)`` (share of unit cost lost per year; a
    monotone map, so its quantiles are those of ``m`` mapped) and ``halving_years_q50`` =
    ``ln 2 / m_q50`` (null where ``m_q50 <= 0``)."""
    out = series.drop([c for c in series.columns if c.startswith("learning_rate")]).rename(
        {c: "m" + c[1:] for c in series.columns if c.startswith("w_")}
    )
    return out.with_columns(
        *[
            (1 - (-pl.col(f"m_{q}")).exp()).alias(f"annual_decline_{q}")
            for q in ("q05", "q50", "q95")
        ],
        pl.when(pl.col("m_q50") > 0)
        .then(pl.lit(np.log(2.0)) / pl.col("m_q50"))
        .otherwise(None)
        .alias("halving_years_q50"),
    )


def check_time_prior(prior: PopulationPrior) -> None:
    """Refuse a prior that is not from a time-trend fit (its slope would not be per year)."""
    trend = prior.attrs.get("trend")
    if trend != "time":
        raise ModelError(
            f"the time-trend forecaster needs a prior from a pooled time-trend fit; this prior "
            f"is from trend={trend!r}"
        )


def time_model_name(prior: PopulationPrior) -> str:
    """The ``model`` label of time-trend forecasts made with ``prior``."""
    return TIME_MODEL_NAME_T if prior.student_t else TIME_MODEL_NAME
