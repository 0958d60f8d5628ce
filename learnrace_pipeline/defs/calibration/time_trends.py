"""Time trends of every cost series, Moore's law of performance series, and what each fit
leaves out (group ``calibration``).

- ``time_trends`` (one step): the pooled time-trend model (Student-t MA(1)) fitted to every cost
  series with at least 6 years, production or not, one series per technology and nation
  (``calibration/time_all_fit``), and to every performance series taken as its reciprocal
  (``calibration/performance_fit``: Moore's law, ``m`` = improvement rate of performance in
  log units per year); their rates in ``calibration.time_trend_rates``; a blocking convergence
  check per fit.
- ``excluded_series``: ``calibration.excluded_series``, one row per series and fit it is left
  out of, with the reason (no experience, too few points, a copy of a kept series, a metric
  kind the fit does not model).

The time trend fitted beside Wright's law in ``learning_curve_fits`` (``calibration/time_fit``)
stays on the Wright panel, so the two can be compared by PSIS-LOO on the same observations.
"""

import time

import dagster as dg
import polars as pl
import xarray as xr

from learnrace_pipeline.defs.calibration.checks import diagnostics_check
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import (
    HARMONIZED_INS,
    MCMC_POOL,
    fit_out,
    pooled_panel,
    table_out,
    time_panel,
)
from learnrace_pipeline.lib.models import base, diagnostics
from learnrace_pipeline.lib.models.cache import fit_or_load
from learnrace_pipeline.lib.models.learning import LearningConfig, LearningCurveModel, summaries
from learnrace_pipeline.lib.models.learning.config import PERFORMANCE_PRIORS
from learnrace_pipeline.lib.models.learning.panel import Panel
from learnrace_pipeline.lib.models.learning.time_panel import PERFORMANCE_METRIC_KINDS

#: The time-trend model of each fit (Student-t MA(1), as ``learning_curve_fits``' ``time``);
#: the performance fit with priors for improvement rates of tens of percent per year and a
#: centred industry level: its 28 series (2 OWID, 26 Magee et al.) are below the 30 from which
#: ``auto`` centres, and the non-centred level failed (R-hat 1.018 and bulk ESS 256 on
#: ``z_m_industry``; docs/decisions/2026-12-06-magee-performance-series.md).
CONFIGS = {
    "time_all": LearningConfig(trend="time", noise="student_t"),
    "performance": LearningConfig(
        trend="time", noise="student_t", priors=PERFORMANCE_PRIORS, trend_param="centred"
    ),
}
#: Fit name -> (asset key, description).
FITS = {
    "time_all": (
        ["calibration", "time_all_fit"],
        "Pooled time-trend fit of every cost series with >= 6 years (production or not), one "
        "series per technology and nation, Student-t MA(1): dlog c = -m dt + e (m in log cost "
        "per year).",
    ),
    "performance": (
        ["calibration", "performance_fit"],
        "Pooled time-trend fit of performance series (FLOP/s of the fastest supercomputer, "
        "transistors per microprocessor, the Magee et al. 2016 performance series) taken as "
        "1/performance, Student-t MA(1), centred industry level: m = improvement rate of "
        "performance in log units per year (doubling time ln 2 / m).",
    ),
}
EXCLUDED_SCHEMA = {
    "fit": pl.String,
    "series_id": pl.String,
    "nation": pl.String,
    "reason": pl.String,
}


def _sampler(settings: CalibrationSettings) -> base.SamplerConfig:
    return base.SamplerConfig(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        seed=settings.seed,
        target_accept=settings.target_accept,
    )


def _fit(settings: CalibrationSettings, name: str, panel: Panel) -> tuple[xr.DataTree, bool, float]:
    model = LearningCurveModel(panel, CONFIGS[name], _sampler(settings))
    t0 = time.perf_counter()
    dt, reused = fit_or_load(
        settings.fits_dir, f"learning_{name}", model.model_id,
        base.data_version(panel.frame()), model.fit,
    )  # fmt: skip
    return dt, reused, time.perf_counter() - t0


def _rates(dt: xr.DataTree, name: str) -> pl.DataFrame:
    """Learning-rate rows of a time-trend fit with ``fit`` and the doubling (performance) or
    halving (cost) time ``ln 2 / m`` in years of the posterior mean of ``m``."""
    rates = summaries.learning_rates(dt, model=f"{name}_{CONFIGS[name].name}")
    return rates.with_columns(
        pl.lit(name).alias("fit"),
        (pl.lit(0.6931471805599453) / pl.col("m_mean")).alias("halving_or_doubling_years"),
    )


@dg.multi_asset(
    name="time_trends",
    outs={
        "time_all_fit": fit_out(*FITS["time_all"]),
        "performance_fit": fit_out(*FITS["performance"]),
        "time_trend_rates": table_out(
            ["calibration", "time_trend_rates"],
            "Time-trend rates per level (all, industry, series) of the fits time_all (m: log "
            "cost decline per year) and performance (m: log performance gain per year, Moore's "
            "law), mean, sd, q05..q95, and ln 2 / m_mean in years.",
        ),
    },
    ins={k: HARMONIZED_INS[k] for k in ("cost_observations", "technologies")},
    pool=MCMC_POOL,
    check_specs=[
        dg.AssetCheckSpec("converged", asset=key, blocking=True) for key, _ in FITS.values()
    ],
)
def time_trends(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Pooled time trends (Moore) of every cost series and of every performance series.

    ``dlog c = -m dt + e``, e Student-t MA(1), ``m`` partially pooled (series within industry
    within all); ``m`` in log units per year: cost decline (``time_all``) or, with c =
    1/performance, performance gain (``performance``).
    """
    panels = {
        "time_all": time_panel(cost_observations, technologies, calibration),
        "performance": time_panel(cost_observations, technologies, calibration, performance=True),
    }
    rates = []
    for name, panel in panels.items():
        key = FITS[name][0]
        dt, reused, secs = _fit(calibration, name, panel)
        context.log.info(
            f"{name}: {panel.n_series} series, {panel.n_obs} differences, "
            f"{'reused saved fit' if reused else 'sampled'} in {secs:.1f} s"
        )
        yield dg.Output(
            dt,
            output_name=f"{name}_fit",
            metadata={
                "seconds": dg.MetadataValue.float(round(secs, 2)),
                "reused_saved_fit": dg.MetadataValue.bool(reused),
                "n_series": dg.MetadataValue.int(panel.n_series),
                "n_technologies": dg.MetadataValue.int(len(panel.technologies)),
                "model_id": dt.attrs["model_id"],
                "data_version": dt.attrs["data_version"],
            },
        )
        yield diagnostics_check(key, "converged", diagnostics.check_fit(dt))
        rates.append(_rates(dt, name))
    table = pl.concat(rates, how="diagonal_relaxed")
    overall = table.filter(pl.col("level") == "all")
    yield dg.Output(
        table,
        output_name="time_trend_rates",
        metadata={
            f"{r['fit']}_m_all_mean": dg.MetadataValue.float(float(r["m_mean"]))
            for r in overall.iter_rows(named=True)
        },
    )


@dg.multi_asset(
    name="excluded_series",
    outs={
        "excluded_series": table_out(
            ["calibration", "excluded_series"],
            "Series left out of a pooled fit, one row per fit (wright: the Wright and "
            "experience+time panel; time_all; performance), series and nation, with the reason.",
        )
    },
    ins=HARMONIZED_INS,
)
def excluded_series(
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Which series each pooled fit leaves out and why: no experience (no production under its
    id and no entry in ``lib/vocab/experience_map.csv``), too few points, a copy of the series
    kept for its technology and nation, or a metric kind the fit does not model."""
    wright = pooled_panel(cost_observations, production, technologies, calibration)
    time_all = time_panel(cost_observations, technologies, calibration)
    perf = time_panel(cost_observations, technologies, calibration, performance=True)
    perf_ids = technologies.filter(pl.col("metric_kind").is_in(PERFORMANCE_METRIC_KINDS))
    frames = [
        wright.excluded.with_columns(pl.lit("wright").alias("fit")),
        time_all.excluded.with_columns(pl.lit("time_all").alias("fit")),
        perf.excluded.filter(pl.col("series_id").is_in(perf_ids["series_id"].to_list()))
        .with_columns(pl.lit("performance").alias("fit")),
    ]  # fmt: skip
    table = (
        pl.concat(frames, how="diagonal_relaxed")
        .select(list(EXCLUDED_SCHEMA))
        .cast(EXCLUDED_SCHEMA)
        .sort("fit", "series_id", "nation")
    )
    counts = table.group_by("fit").len()
    yield dg.Output(
        table,
        output_name="excluded_series",
        metadata={
            **{f"n_excluded_{f}": dg.MetadataValue.int(int(n)) for f, n in counts.iter_rows()},
            "n_series_wright": dg.MetadataValue.int(wright.n_series),
            "n_series_time_all": dg.MetadataValue.int(time_all.n_series),
            "n_series_performance": dg.MetadataValue.int(perf.n_series),
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[time_trends, excluded_series])
