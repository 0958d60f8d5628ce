"""Rolling-origin hindcasts: the pooled Wright forecaster against three baselines.

Design
------
- **Origins** are calendar years ``o`` every ``origin_step`` years (aligned so the last origin
  is the last year that still has an outcome after it). An origin is used when at least one
  series is *eligible* (``>= min_train_points`` observed points with year <= o and at least one
  point in ``(o, o + max_horizon]``) and at least ``min_fit_series`` series have 3 or more
  training points, so the pooled fit has a population to learn from.
- **No future cost reaches a fit.** At each origin the panel is replaced by a *training view*
  (:func:`training_view`): every difference after the origin has its ``dlogc`` and ``dlogq`` set
  to 0 and its mask to 0, and every level point after the origin is dropped. The pooled model
  and the baselines only ever see that view; the outcomes are read from the full panel after
  the forecasts are made. ``tests/lib/evaluation/test_eval_hindcast_leak.py`` poisons future costs
  and checks the forecasts do not move.
- **Pooled model** (``pooled_wright``): the pooled hierarchical Wright model with Student-t
  MA(1) noise (``HindcastConfig.noise``; normal is available) of
  :class:`learnrace_pipeline.lib.models.learning.LearningCurveModel`, compiled once for the
  whole panel and refitted per origin by swapping the data (same shapes) without recompiling
  (:class:`.hindcast_fit.PooledFitter`). From each origin's posterior, every eligible series gets the
  population prior of a new series of its industry (or of any industry, ``prior_level="all"``)
  and is forecast by :func:`learnrace_pipeline.lib.forecast.forecaster.simulate`, i.e. exactly
  the code path of ``learnrace forecast``; the hindcast therefore scores what users get.
- **Experience+time and the pool** (``HindcastConfig.experience_time``): the pooled
  experience+time model (``pooled_experience_time``: log cost falls with log cumulative
  production and with calendar time, the drift shrunk hard to its population value) is refitted
  the same way with its own compiled model, and ``pool_wright_experience_time`` is the
  equal-weight linear pool of it and ``pooled_wright`` (the union of their samples), i.e. the
  three production-conditioned choices of ``learnrace forecast --model``.
- **Refits** (``refit``, ``experience_time_refit``): a population model may be refitted at every
  ``k``-th origin only; the origins between reuse the latest fit, which saw less data, so
  nothing leaks. Each series' own points up to the origin still reach its forecast through the
  per-series update. :func:`warehouse_config` is the warehouse's setting.
- **Production**: ``"realised"`` conditions every Wright forecast (pooled and baseline (a)) on
  the cumulative production that actually followed (Lafond et al. 2018); ``"projected"`` adds a
  model ``pooled_wright_projected`` whose production is projected from the series' own annual
  production up to the origin (random walk with drift), as for a user who gives no production.
- **Baselines** from :mod:`.baselines`, fitted to each series' training points only:
  ``ols_wright`` (a), ``rw_drift`` (b, with theta pooled over the training series at the
  origin) and ``no_change`` (c); and a diagnostic, ``ols_wright_shared_drift`` (d): (a) plus a
  time drift shared by all series, estimated from every series' training points at the origin
  (``evaluation.origins.shared_drift``, log cost per year).
- **Horizon** is ``target year - origin`` (1 to ``max_horizon``).

Outputs of :func:`run_hindcast` (Polars frames for DuckDB tables ``evaluation.*``, rows and
tables built by :mod:`.hindcast_scores`):
``forecasts`` (one row per model, origin, series and target year, with quantiles in cost units,
interval hits, log-pinball, CRPS and PIT of log cost), ``scores_by_horizon``,
``scores_by_industry``, ``scores`` (per model, with ratios to baseline (a)), ``pit``
(histograms) and ``origins`` (per origin: series fitted and forecast, sampler diagnostics and
seconds).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.evaluation import baselines as bl
from learnrace_pipeline.lib.evaluation.hindcast_fit import (
    OriginFitter,
    PooledFitter,
    default_sampler,
    experience_time_sampler,
)
from learnrace_pipeline.lib.evaluation.hindcast_scores import (
    FORECAST_COLUMNS,
    POOL,
    POOLED,
    POOLED_EXPERIENCE_TIME,
    POOLED_PROJECTED,
    baseline_rows,
    forecast_rows,
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
from learnrace_pipeline.lib.forecast.types import ForecastConfig, ForecastTask
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.learning.panel import Panel


def _default_forecast() -> ForecastConfig:
    return ForecastConfig(n_samples=1000, max_prior_draws=400, seed=20240601)


@dataclass(frozen=True)
class HindcastConfig:
    """Settings of a rolling-origin hindcast (years are calendar years).

    Attributes:
        min_train_points: observed points up to the origin a series needs to be forecast.
        origin_step: years between origins (1 or 2).
        max_horizon: forecast horizons 1..max_horizon years after the origin.
        min_fit_series: series with >= 3 training points an origin needs for a pooled fit.
        first_origin, last_origin: optional bounds on the origins.
        prior_level: ``"industry"`` (a new series of the series' industry) or ``"all"``.
        production: ``"realised"`` (condition on actual cumulative production) or
            ``"projected"`` (also score forecasts with projected production).
        theta: MA(1) theta of baseline (b); None pools it over the training series per origin.
        noise: innovations of the pooled model (``student_t``, the LOO-preferred default, or
            ``normal``); the forecaster follows the fit.
        sampler: NUTS settings of each per-origin fit.
        forecast: settings of the pooled forecaster.
        experience_time: also score ``pooled_experience_time``: the pooled experience+time
            model refitted per origin (its own compiled model and ``experience_time_sampler``)
            and the forecaster with its prior (``w`` and the drift ``m``), production realised;
            and ``pool_wright_experience_time``, the equal-weight linear pool of it and
            ``pooled_wright`` (:mod:`learnrace_pipeline.lib.forecast.pool`: the union of both
            forecasters' samples).
        experience_time_sampler: NUTS settings of its per-origin fits.
        refit: refit the pooled (Wright) population model at every ``k``-th origin only; the
            origins between reuse the latest fit, which saw less data (no leak). Each series'
            own points up to the origin still enter its forecast through the per-series
            update, so only the population prior lags (``evaluation.origins.fit_origin``).
        experience_time_refit: refit the experience+time model at every ``k``-th origin only;
            the origins between reuse the latest fit, which saw less data (no leak), because
            each fit costs tens of seconds (``evaluation.origins`` records the origin of the
            fit each origin used, ``et_fit_origin``).
    """

    min_train_points: int = 8
    origin_step: int = 2
    max_horizon: int = 10
    min_fit_series: int = 10
    first_origin: int | None = None
    last_origin: int | None = None
    prior_level: Literal["industry", "all"] = "industry"
    production: Literal["realised", "projected"] = "realised"
    theta: float | None = None
    noise: Literal["student_t", "normal"] = "student_t"
    sampler: SamplerConfig = field(default_factory=default_sampler)
    forecast: ForecastConfig = field(default_factory=_default_forecast)
    experience_time: bool = False
    experience_time_sampler: SamplerConfig = field(default_factory=experience_time_sampler)
    experience_time_refit: int = 1
    refit: int = 1

    def __post_init__(self) -> None:
        if self.refit < 1 or self.experience_time_refit < 1:
            raise ModelError(f"refit intervals must be >= 1: {self}")
        if self.origin_step < 1 or self.max_horizon < 1 or self.min_train_points < 3:
            raise ModelError(f"invalid hindcast config: {self}")
        if self.prior_level not in ("industry", "all"):
            raise ModelError(f"unknown prior_level {self.prior_level!r}")
        if self.production not in ("realised", "projected"):
            raise ModelError(f"unknown production mode {self.production!r}")


def warehouse_config() -> HindcastConfig:
    """The hindcast of the warehouse (asset ``hindcast``): every forecaster of ``learnrace
    forecast`` that conditions on production (pooled Wright, experience+time and their pool)
    beside the baselines, both population models refitted at every 4th origin."""
    return HindcastConfig(experience_time=True, refit=4, experience_time_refit=4)


# --------------------------------------------------------------------------------------------
# origins and the training view
# --------------------------------------------------------------------------------------------


def origins(panel: Panel, config: HindcastConfig = HindcastConfig()) -> list[int]:
    """The origin years of a hindcast of ``panel`` (see the module docstring)."""
    lv = panel.levels.select("series", "year")
    years = np.sort(lv["year"].unique().to_numpy())
    if years.size < 2:
        return []
    last = int(years[-1]) - 1
    if config.last_origin is not None:
        last = min(last, config.last_origin)
    first = int(years[0]) + config.min_train_points - 1
    if config.first_origin is not None:
        first = max(first, config.first_origin)
    per_series = {
        s: np.sort(g["year"].to_numpy()) for (s,), g in lv.group_by("series", maintain_order=True)
    }
    out = []
    for o in range(last, first - 1, -config.origin_step):
        n_fit = sum(int(np.sum(y <= o) >= 3) for y in per_series.values())
        if n_fit < config.min_fit_series:
            continue
        if any(
            np.sum(y <= o) >= config.min_train_points
            and np.any((y > o) & (y <= o + config.max_horizon))
            for y in per_series.values()
        ):
            out.append(o)
    return sorted(out)


def training_view(panel: Panel, origin: int) -> Panel:
    """The panel as known at the end of ``origin``: later differences zeroed, later points gone.

    Shapes of the difference arrays are kept (so a compiled model can be refitted); every value
    after the origin is replaced by 0 and masked, so no future cost or production remains.
    """
    after = pl.col("year") > origin
    obs = panel.obs.with_columns(
        pl.when(after).then(0.0).otherwise(pl.col("dlogc")).alias("dlogc"),
        pl.when(after).then(0.0).otherwise(pl.col("dlogq")).alias("dlogq"),
        *(
            [pl.when(after).then(0.0).otherwise(pl.col("dlogq_world")).alias("dlogq_world")]
            if "dlogq_world" in panel.obs.columns
            else []
        ),
    )
    levels = panel.levels.filter(~after)
    return dataclasses.replace(panel, obs=obs, levels=levels)


# --------------------------------------------------------------------------------------------
# the hindcast
# --------------------------------------------------------------------------------------------


def _annual_history(levels: pl.DataFrame) -> pl.DataFrame:
    """Log annual production from consecutive-year differences of cumulative production."""
    return (
        levels.sort("series", "year")
        .with_columns(
            (pl.col("cumulative_production") - pl.col("cumulative_production").shift(1))
            .over("series")
            .alias("_q"),
            (pl.col("year") - pl.col("year").shift(1)).over("series").alias("_k"),
        )
        .filter((pl.col("_k") == 1) & (pl.col("_q") > 0))
        .select(pl.col("series").alias("series_id"), "year", pl.col("_q").log().alias("log_annual"))
    )


def run_hindcast(
    panel: Panel,
    config: HindcastConfig = HindcastConfig(),
    *,
    fitter: OriginFitter | None = None,
    experience_time_fitter: OriginFitter | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, pl.DataFrame]:
    """Run the rolling-origin hindcast of ``panel`` and score every model.

    Args:
        panel: a :class:`~learnrace_pipeline.lib.models.learning.panel.Panel` (all series to evaluate).
        config: origins, horizons, sampler and forecaster settings.
        fitter: fits the population model per origin (default: :class:`PooledFitter`,
            compiled once). Tests pass their own to inspect what a fit receives.
        experience_time_fitter: the same for the experience+time model (used only with
            ``config.experience_time``; default a :class:`PooledFitter` with ``trend="both"``).
        progress: called with a short message after each origin.

    Returns:
        Frames ``forecasts``, ``scores_by_horizon``, ``scores_by_industry``, ``scores``,
        ``pit`` and ``origins`` (see the module docstring).
    """
    t_start = time.perf_counter()
    years = origins(panel, config)
    if not years:
        raise ModelError("no hindcast origin: no series has enough training points")
    fitter, et_fitter = origin_fitters(panel, config, fitter, experience_time_fitter)
    forecasts, origin_frame = hindcast_origins(
        panel, config, years, fitter, et_fitter, progress=progress
    )
    return assemble(forecasts, origin_frame, time.perf_counter() - t_start)


def origin_fitters(
    panel: Panel,
    config: HindcastConfig,
    fitter: OriginFitter | None = None,
    experience_time_fitter: OriginFitter | None = None,
) -> tuple[OriginFitter, OriginFitter | None]:
    """The population models' fitters of a hindcast of ``panel``: the ones given, else
    :class:`PooledFitter` s compiled (lazily, at their first fit) for the whole panel; the
    experience+time one only with ``config.experience_time``."""
    if fitter is None:
        fitter = PooledFitter(
            panel,
            config.sampler,
            max_prior_draws=config.forecast.max_prior_draws,
            noise=config.noise,
        )
    et_fitter = experience_time_fitter or (
        PooledFitter(
            panel,
            config.experience_time_sampler,
            max_prior_draws=config.forecast.max_prior_draws,
            noise=config.noise,
            trend="both",
        )
        if config.experience_time
        else None
    )
    return fitter, et_fitter


def eligible_series(panel: Panel, origin: int, config: HindcastConfig) -> list[str]:
    """The series forecast at ``origin``: >= ``min_train_points`` points up to the origin and
    at least one outcome in ``(origin, origin + max_horizon]``, sorted."""
    return _origin_data(panel, origin, config)[3]


def used_origins(panel: Panel, config: HindcastConfig = HindcastConfig()) -> list[int]:
    """The origins :func:`run_hindcast` forecasts at (those of :func:`origins` with an eligible
    series), in order; the ``k``-th of them (from 0) refits the population models when ``k`` is
    a multiple of ``config.refit`` (``config.experience_time_refit``)."""
    return [o for o in origins(panel, config) if eligible_series(panel, o, config)]


def _origin_data(
    panel: Panel, o: int, config: HindcastConfig
) -> tuple[Panel, pl.DataFrame, pl.DataFrame, list[str]]:
    """The training view at origin ``o``, its points per series, the eligible series'
    outcomes within the horizon and the eligible series."""
    train_panel = training_view(panel, o)
    counts = train_panel.levels.group_by("series").len()
    elig_train = counts.filter(pl.col("len") >= config.min_train_points)["series"]
    future = panel.levels.filter(
        (pl.col("year") > o)
        & (pl.col("year") <= o + config.max_horizon)
        & pl.col("series").is_in(elig_train.implode())
    )
    return train_panel, counts, future, future["series"].unique().sort().to_list()


def hindcast_origins(
    panel: Panel,
    config: HindcastConfig,
    years: list[int],
    fitter: OriginFitter,
    experience_time_fitter: OriginFitter | None = None,
    *,
    progress: Callable[[str], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Forecast and score every model at the origins ``years``, in order.

    The population models are fitted at the first origin with an eligible series and then at
    every ``config.refit`` (``config.experience_time_refit``)-th such origin; the origins
    between reuse the latest fit. :func:`run_hindcast` passes all origins; a run split at
    refit boundaries (:mod:`learnrace_pipeline.lib.distributed.hindcast`) passes each group's.

    Returns:
        The forecast rows (columns ``FORECAST_COLUMNS``, in the order made) and one row per
        origin (series fitted and forecast, sampler diagnostics, seconds).
    """
    et_fitter = experience_time_fitter
    info = panel.series.select("series", "series_id", "technology", "industry", "nation")
    industry_of = dict(zip(info["series"], info["industry"], strict=True))
    frames: list[pl.DataFrame] = []
    origin_rows: list[dict] = []
    fit: tuple | None = None  # (origin fitted, priors, diagnostics) of the latest pooled fit
    et_fit: tuple | None = None  # the same for the experience+time model
    n_origin = 0
    for o in years:
        t0 = time.perf_counter()
        train_panel, counts, future, eligible = _origin_data(panel, o, config)
        if not eligible:
            continue
        mask = panel.origin_mask(o)
        lv = train_panel.levels
        if fit is None or n_origin % config.refit == 0:
            fit = (o, *fitter(o, train_panel, mask))
        priors, diag = fit[1], {"fit_origin": fit[0], **fit[2]}
        model_priors = {POOLED: priors, POOLED_PROJECTED: priors}
        if et_fitter is not None:
            if et_fit is None or n_origin % config.experience_time_refit == 0:
                et_fit = (o, *et_fitter(o, train_panel, mask))
            model_priors[POOLED_EXPERIENCE_TIME] = et_fit[1]
            diag |= {"et_fit_origin": et_fit[0]} | {f"et_{k}": v for k, v in et_fit[2].items()}
        n_origin += 1
        train = lv.filter(pl.col("series").is_in(eligible)).sort("series", "year")
        meta = (
            future.select("series", "year", "log_q", pl.col("log_cost").alias("log_actual"))
            .join(info, on="series")
            .with_columns((pl.col("year") - o).cast(pl.Int32).alias("horizon"))
            .sort("series", "year")
        )
        # every series' training points: (b)'s pooled theta and (d)'s shared drift use them all
        history = [
            (g["year"].to_numpy(), g["log_cost"].to_numpy(), g["log_q"].to_numpy())
            for _, g in lv.sort("series", "year").group_by("series", maintain_order=True)
        ]
        theta = (
            config.theta
            if config.theta is not None
            else bl.pooled_theta([(yrs, y) for yrs, y, _ in history])
        )
        drift = bl.shared_drift(history)
        frames += baseline_rows(o, train, meta, theta, drift)

        level_of = {
            s: (industry_of[s] if config.prior_level == "industry" else ALL) for s in eligible
        }
        level_of = {s: (lev if lev in priors else ALL) for s, lev in level_of.items()}
        obs = train.select(pl.col("series").alias("series_id"), "year", "log_cost", "log_q")
        modes = [(POOLED, True)]
        if config.production == "projected":
            modes.append((POOLED_PROJECTED, False))
        if et_fitter is not None:
            modes.append((POOLED_EXPERIENCE_TIME, True))
        given_samples: dict[str, object] = {}
        n_projected = 0
        for name, given in modes:
            targets = meta.select(
                pl.col("series").alias("series_id"),
                "year",
                pl.col("log_q") if given else pl.lit(None, pl.Float64).alias("log_q"),
            )
            annual = None
            use_obs, use_meta = obs, meta
            if not given:
                annual = _annual_history(train)
                ok = _projectable(obs, annual)
                use_obs = obs.filter(pl.col("series_id").is_in(ok))
                targets = targets.filter(pl.col("series_id").is_in(ok))
                use_meta = meta.filter(pl.col("series").is_in(ok))
                n_projected = len(ok)
                if not ok:
                    continue
            fs = simulate(
                ForecastTask(use_obs, targets, annual),
                model_priors[name],
                level_of,
                config.forecast,
            )
            # simulate returns targets sorted by series then year, like meta
            order_check = fs.targets.select("series_id", "year").rename({"series_id": "series"})
            if not order_check.equals(use_meta.select("series", "year")):
                raise ModelError("internal: forecast rows out of order")
            runs = [(name, fs.samples)]
            if given:
                given_samples[name] = fs.samples
            if name == POOLED_EXPERIENCE_TIME:
                # the equal-weight linear pool: the union of both forecasters' samples
                pool = np.concatenate([given_samples[POOLED], fs.samples], axis=1)
                runs.append((POOL, pool))
            y = use_meta["log_actual"].to_numpy()
            for label, samples in runs:
                frames.append(
                    forecast_rows(
                        label,
                        o,
                        use_meta.drop("log_q"),
                        sample_quantiles(samples, HINDCAST_LEVELS),
                        sample_pit(samples, y),
                        crps_samples(samples, y),
                        fs.targets["production"].to_list(),
                    )
                )
        origin_rows.append(
            {
                "origin": o,
                "n_series_fit": int(counts.filter(pl.col("len") >= 3).height),
                "n_series_forecast": len(eligible),
                "n_series_projected": n_projected,
                "n_targets": meta.height,
                "theta_rw": float(theta),
                "shared_drift": float(drift),
                **{k: float(v) for k, v in diag.items()},
                "seconds": time.perf_counter() - t0,
            }
        )
        if progress:
            progress(
                f"origin {o}: {len(eligible)} series, {meta.height} targets, "
                f"{time.perf_counter() - t0:.1f} s"
            )
    forecasts = pl.concat(frames, how="diagonal_relaxed").select(FORECAST_COLUMNS)
    return forecasts, pl.DataFrame(origin_rows)


def assemble(
    forecasts: pl.DataFrame, origin_rows: pl.DataFrame, total_seconds: float
) -> dict[str, pl.DataFrame]:
    """The hindcast's frames from its forecast rows and origin rows (:func:`hindcast_origins`,
    of all origins): forecasts sorted by model, origin, series and year, the score tables
    computed from them (:func:`.hindcast_scores.summarise`) and the origins with the run's
    ``total_seconds``."""
    forecasts = forecasts.sort("model", "origin", "series", "year")
    out = summarise(forecasts)
    out["origins"] = origin_rows.with_columns(pl.lit(total_seconds).alias("total_seconds"))
    return out


def _projectable(obs: pl.DataFrame, annual: pl.DataFrame) -> list[str]:
    """Series whose annual production history allows a projection (>= 3 years, incl. last)."""
    last = obs.group_by("series_id").agg(pl.col("year").max().alias("last"))
    hist = annual.group_by("series_id").agg(
        pl.len().alias("n"), pl.col("year").max().alias("last_annual")
    )
    ok = last.join(hist, on="series_id").filter(
        (pl.col("n") >= 3) & (pl.col("last_annual") == pl.col("last"))
    )
    return sorted(ok["series_id"].to_list())
