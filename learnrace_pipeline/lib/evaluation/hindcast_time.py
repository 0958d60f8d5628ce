"""Rolling-origin hindcast of time-only series: the pooled time-trend forecaster against the
random walk with drift.

**Time-only series** (:func:`time_only_cost`) are the cost series of the time-trend panel (every
cost series with >= 6 years, one per technology and nation) whose technology and nation have no
series in the pooled Wright panel: no production and no experience series in
``lib/vocab/experience_map.csv``. They are scored separately from the Wright hindcast of
:mod:`.hindcast`, on the same design (origins, training views, horizons 1..``max_horizon``
years, scores), with these models:

- ``pooled_time``: the pooled time-trend model ``dlog c = -m dt + e`` (Student-t MA(1) noise,
  ``m`` partially pooled: series within industry within all) refitted at each origin on the
  training view of the time-only panel with one compiled model
  (:class:`.hindcast_fit.PooledFitter` with ``trend="time"``); each eligible series gets the
  population prior of a new series of its industry and is updated by its own training points and
  forecast by :func:`learnrace_pipeline.lib.forecast.forecaster.simulate` with ``log_q = year``
  (:mod:`learnrace_pipeline.lib.forecast.time_trend`), the code path of
  ``learnrace forecast --model time``;
- the baselines (b) ``rw_drift`` (random walk with drift, MA(1) noise, Farmer & Lafond 2016;
  theta pooled over the training series at the origin) and (c) ``no_change``, fitted to each
  series' training points (:mod:`.baselines`). Baseline (a) needs production and is absent.

No future cost reaches a fit: as in :mod:`.hindcast`, the fit sees :func:`.hindcast.training_view`
of the panel and the baselines only the training points
(``tests/lib/evaluation/test_eval_hindcast_leak.py`` poisons future costs).

Outputs of :func:`run_time_hindcast`: the frames of :func:`.hindcast_scores.summarise` (the
``scores`` table adds ``log_pinball_ratio_rw`` and ``crps_ratio_rw``: the model's mean score
over ``rw_drift``'s on the same forecasts) and ``origins``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import polars as pl

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.evaluation import baselines as bl
from learnrace_pipeline.lib.evaluation.hindcast import HindcastConfig, origins, training_view
from learnrace_pipeline.lib.evaluation.hindcast_fit import OriginFitter, PooledFitter
from learnrace_pipeline.lib.evaluation.hindcast_scores import (
    FORECAST_COLUMNS,
    baseline_rows,
    forecast_rows,
    ratios_to,
    summarise,
)
from learnrace_pipeline.lib.evaluation.scores import (
    HINDCAST_LEVELS,
    crps_samples,
    sample_pit,
    sample_quantiles,
)
from learnrace_pipeline.lib.forecast.forecaster import simulate
from learnrace_pipeline.lib.forecast.priors import ALL
from learnrace_pipeline.lib.forecast.time_trend import time_task
from learnrace_pipeline.lib.models.learning.panel import Panel

POOLED_TIME = "pooled_time"
#: The models of the time-only hindcast.
TIME_ONLY_MODELS = (POOLED_TIME, bl.RW_DRIFT, bl.NO_CHANGE)


def time_only_config() -> HindcastConfig:
    """Settings of the time-only hindcast: as :class:`.hindcast.HindcastConfig` but origins
    every 4 years (9 origins on the shipped snapshot instead of 17; each refit of the pooled
    time-trend model takes about 2 s, see
    docs/decisions/2026-12-06-time-only-hindcast-and-forecast.md)."""
    return HindcastConfig(origin_step=4)


def time_only_cost(
    cost_observations: pl.DataFrame, time_panel: Panel, wright_panel: Panel
) -> pl.DataFrame:
    """The rows of ``cost_observations`` of the time-only series: the ``(series_id, nation)``
    pairs of ``time_panel`` whose ``(technology, nation)`` has no series in ``wright_panel``."""
    with_experience = wright_panel.series.select("technology", "nation").unique()
    keep = time_panel.series.join(with_experience, on=["technology", "nation"], how="anti")
    return cost_observations.join(
        keep.select("series_id", "nation").unique(), on=["series_id", "nation"], how="semi"
    )


def run_time_hindcast(
    panel: Panel,
    config: HindcastConfig | None = None,
    *,
    fitter: OriginFitter | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pl.DataFrame]:
    """Hindcast the time-only ``panel`` (a time-trend panel, ``has_experience=False``).

    Args:
        panel: the time-only panel (:func:`time_only_cost` ->
            :func:`learnrace_pipeline.lib.models.learning.time_panel.build_time_panel`).
        config: origins, horizons, sampler and forecaster settings (default
            :func:`time_only_config`; ``production`` and ``theta`` as in :mod:`.hindcast`).
        fitter: fits the population model per origin (default: :class:`PooledFitter` with
            ``trend="time"``, compiled once); tests pass their own.
        progress: called with a short message after each origin.

    Returns:
        Frames ``forecasts``, ``scores_by_horizon``, ``scores_by_industry``, ``scores``, ``pit``
        and ``origins``.
    """
    config = config or time_only_config()
    t_start = time.perf_counter()
    years = origins(panel, config)
    if not years:
        raise ModelError("no time-only hindcast origin: no series has enough training points")
    if fitter is None:
        fitter = PooledFitter(
            panel, config.sampler, max_prior_draws=config.forecast.max_prior_draws,
            noise=config.noise, trend="time",
        )  # fmt: skip
    info = panel.series.select("series", "series_id", "technology", "industry", "nation")
    industry_of = dict(zip(info["series"], info["industry"], strict=True))
    frames: list[pl.DataFrame] = []
    origin_rows: list[dict] = []
    for o in years:
        t0 = time.perf_counter()
        train_panel = training_view(panel, o)
        lv = train_panel.levels.with_columns(pl.col("year").cast(pl.Float64).alias("log_q"))
        counts = lv.group_by("series").len()
        elig_train = counts.filter(pl.col("len") >= config.min_train_points)["series"]
        future = panel.levels.filter(
            (pl.col("year") > o)
            & (pl.col("year") <= o + config.max_horizon)
            & pl.col("series").is_in(elig_train.implode())
        )
        eligible = future["series"].unique().sort().to_list()
        if not eligible:
            continue
        priors, diag = fitter(o, train_panel, panel.origin_mask(o))
        train = lv.filter(pl.col("series").is_in(eligible)).sort("series", "year")
        meta = (
            future.select("series", "year", pl.col("log_cost").alias("log_actual"))
            .with_columns(pl.col("year").cast(pl.Float64).alias("log_q"))
            .join(info, on="series")
            .with_columns((pl.col("year") - o).cast(pl.Int32).alias("horizon"))
            .sort("series", "year")
        )
        history = [
            (g["year"].to_numpy(), g["log_cost"].to_numpy())
            for _, g in lv.sort("series", "year").group_by("series", maintain_order=True)
        ]
        theta = config.theta if config.theta is not None else bl.pooled_theta(history)
        frames += [
            f
            for f in baseline_rows(o, train, meta, theta, 0.0)
            if f["model"][0] in TIME_ONLY_MODELS
        ]
        level_of = {s: (industry_of[s] if config.prior_level == "industry" else ALL)
                    for s in eligible}  # fmt: skip
        level_of = {s: (lev if lev in priors else ALL) for s, lev in level_of.items()}
        obs = train.select(pl.col("series").alias("series_id"), "year", "log_cost")
        targets = meta.select(pl.col("series").alias("series_id"), "year")
        fs = simulate(time_task(obs, targets), priors, level_of, config.forecast)
        if (
            not fs.targets.select("series_id", "year")
            .rename({"series_id": "series"})
            .equals(meta.select("series", "year"))
        ):
            raise ModelError("internal: forecast rows out of order")
        y = meta["log_actual"].to_numpy()
        frames.append(
            forecast_rows(
                POOLED_TIME, o, meta.drop("log_q"),
                sample_quantiles(fs.samples, HINDCAST_LEVELS),
                sample_pit(fs.samples, y), crps_samples(fs.samples, y), "none",
            )
        )  # fmt: skip
        origin_rows.append(
            {
                "origin": o,
                "n_series_fit": int(counts.filter(pl.col("len") >= 3).height),
                "n_series_forecast": len(eligible),
                "n_targets": meta.height,
                "theta_rw": float(theta),
                **{k: float(v) for k, v in diag.items()},
                "seconds": time.perf_counter() - t0,
            }
        )
        if progress:
            progress(f"time-only origin {o}: {len(eligible)} series, {meta.height} targets, "
                     f"{time.perf_counter() - t0:.1f} s")  # fmt: skip
    forecasts = pl.concat(frames, how="diagonal_relaxed").select(FORECAST_COLUMNS)
    out = summarise(forecasts.sort("model", "origin", "series", "year"))
    out["scores"] = _ratios_to_rw(out["forecasts"], out["scores"])
    out["origins"] = pl.DataFrame(origin_rows).with_columns(
        pl.lit(time.perf_counter() - t_start).alias("total_seconds")
    )
    return out


def _ratios_to_rw(forecasts: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """``scores`` plus each model's mean log-pinball and CRPS over ``rw_drift``'s on the same
    forecasts (origin, series, year); below 1 beats the random walk with drift."""
    ratios = ratios_to(forecasts, bl.RW_DRIFT, "rw")
    if ratios is None:
        ratios = pl.DataFrame(
            schema={"model": pl.String, "log_pinball_ratio_rw": pl.Float64,
                    "crps_ratio_rw": pl.Float64}
        )  # fmt: skip
    return scores.join(ratios, on="model", how="left").sort("model")
