"""Rolling-origin hindcasts (group ``evaluation``): does the pooled model's uncertainty mean
what it says?

At each origin every series with at least 8 training points is forecast 1-10 years ahead using
only data up to the origin, by the three production-conditioned forecasters of ``learnrace
forecast`` (pooled Wright, experience+time and their equal-weight pool; each population model
compiled once and refitted at every 4th origin:
:func:`learnrace_pipeline.lib.evaluation.hindcast.warehouse_config`), against three baselines
in the same run: (a) per-series OLS Wright with a Student-t predictive,
(b) random walk with drift with MA(1) noise, (c) no change; and a diagnostic, (d) baseline (a)
plus a time drift shared by all series (does cost fall faster than each series' Wright's law
says, by a common amount?). Tables ``evaluation.forecasts``,
``evaluation.scores`` (overall, per model), ``evaluation.scores_by_horizon``,
``evaluation.scores_by_industry``, ``evaluation.pit`` and ``evaluation.origins``.

``LEARNRACE_DASK_SCHEDULER`` (``local:N`` or a scheduler address; unset: in this process, the
default) runs the hindcast as one Dask task per group of origins sharing a population fit
(:mod:`learnrace_pipeline.lib.distributed.hindcast`, equal frames); the workers write Parquet
files under ``<instance storage>/<run id>/hindcast`` (or ``LEARNRACE_DASK_STORAGE``) and only
this step's process writes the warehouse, through the IO manager.

``time_only_hindcast`` scores the cost series without any experience series (time-only: most of
Farmer & Lafond 2016, DNA sequencing, IRENA's national series) separately: the pooled
time-trend model refitted per origin against the random walk with drift and no change
(:mod:`learnrace_pipeline.lib.evaluation.hindcast_time`); tables ``evaluation.time_only_*``.
"""

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.calibration.checks import warn_check
from learnrace_pipeline.defs.metadata import REPORT, plot
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import (
    HARMONIZED_INS,
    MCMC_POOL,
    pooled_panel,
    table_out,
    time_panel,
)
from learnrace_pipeline.lib.distributed.engine import (
    dask_client,
    engine_from_env,
    partition_folder,
)
from learnrace_pipeline.lib.distributed.hindcast import run_partitions
from learnrace_pipeline.lib.evaluation.hindcast import run_hindcast, warehouse_config
from learnrace_pipeline.lib.evaluation.hindcast_scores import (
    FORECASTER_MODELS,
    POOLED,
    auto_model_check,
    coverage_check,
    horizon_group_check,
)
from learnrace_pipeline.lib.evaluation.hindcast_time import (
    POOLED_TIME,
    run_time_hindcast,
    time_only_cost,
)
from learnrace_pipeline.lib.forecast.types import AUTO_MODEL
from learnrace_pipeline.lib.models.learning.time_panel import build_time_panel
from learnrace_pipeline.lib.report.images import save_png
from learnrace_pipeline.lib.report.plots_evaluation import hindcast_plots

SCORES_KEY = ["evaluation", "scores"]
#: What each hindcast plot shows.
PLOT_TEXT = {
    "coverage_by_horizon": "Interval coverage (share) by horizon (years ahead), per model",
    "pit_histogram": "PIT histogram per model (flat = calibrated)",
    "pinball_by_horizon": "Log-pinball loss (ln units) by horizon, per model",
    "rmse_by_horizon": "RMS ln error of the median by horizon, per model",
}
GROUP_KEY = ["evaluation", "scores_by_horizon_group"]
TIME_ONLY_SCORES_KEY = ["evaluation", "time_only_scores"]

#: The scores every score table holds (per model and one more key).
_SCORES = (
    "forecasts and series scored, coverage of the central 50/80/90/95% intervals (shares), "
    "log-pinball and CRPS of ln cost (ln units), the median's bias and RMS ln error, PIT mean "
    "and sd."
)

#: The hindcast's tables (asset ``evaluation/<name>`` = table ``evaluation.<name>``).
TABLES = {
    "forecasts": "Every hindcast forecast: model, origin, series, horizon (years), quantiles "
    "q025..q975 of unit cost (the series' cost unit), the outcome, interval hits, log-pinball, "
    "log error of the median, CRPS and PIT.",
    "scores": "Scores per model over all forecasts: coverage of the central 50/80/90/95% "
    "intervals (shares), log-pinball and CRPS (log units), the median's bias and RMS log error, "
    "PIT mean and sd, ratios to baseline (a), RMS log error growth per year of horizon.",
    "scores_by_horizon": "Hindcast scores per model and horizon (1-10 years ahead): " + _SCORES,
    "scores_by_horizon_group": "Hindcast scores per model and horizon group (1-2, 3-5 and 6-10 "
    "years ahead): " + _SCORES,
    "scores_by_industry": "Hindcast scores per model and industry: " + _SCORES,
    "pit": "PIT histogram per model (10 equal bins, share of forecasts per bin).",
    "origins": "Per origin: series fitted and forecast, sampler diagnostics of the per-origin fit "
    "(max R-hat, min bulk ESS, divergences), seconds, and the shared time drift (log per year).",
}


@dg.multi_asset(
    name="hindcast",
    outs={name: table_out(["evaluation", name], text, None) for name, text in TABLES.items()},
    ins=HARMONIZED_INS,
    pool=MCMC_POOL,
    check_specs=[
        dg.AssetCheckSpec("coverage_in_band", asset=SCORES_KEY, blocking=False),
        dg.AssetCheckSpec("horizon_groups_in_band", asset=GROUP_KEY, blocking=False),
        *(
            dg.AssetCheckSpec(f"{name}_horizon_groups_in_band", asset=GROUP_KEY, blocking=False)
            for name in ("experience_time", "pool")
        ),
        dg.AssetCheckSpec("auto_model_scores_best", asset=GROUP_KEY, blocking=False),
    ],
)
def hindcast(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Hindcast scores by horizon and industry: empirical coverage of the central 50/80/90/95%
    intervals, log-pinball loss (mean quantile loss of log cost over 7 quantiles), CRPS of log
    cost, PIT values."""
    panel = pooled_panel(cost_observations, production, technologies, calibration)
    engine = engine_from_env()
    if engine.kind == "in_process":
        results = run_hindcast(panel, warehouse_config(), progress=context.log.info)
    else:
        folder = partition_folder(context.instance.storage_directory(), context.run_id, "hindcast")
        context.log.info(f"hindcast on {engine.describe()}; partition files under {folder}")
        with dask_client(engine) as client:
            run = run_partitions(
                panel, warehouse_config(), folder, client=client, progress=context.log.info
            )
        results = run.frames
    ok, message = coverage_check(results["scores"])
    meta: dict = {
        "engine": dg.MetadataValue.text(engine.describe()),
        "n_forecasts": dg.MetadataValue.int(results["forecasts"].height),
        "n_origins": dg.MetadataValue.int(results["origins"].height),
        "full_view": dg.MetadataValue.text(REPORT),
    }
    pooled = results["scores"].filter(pl.col("model") == POOLED)
    for col in pooled.columns:
        if col != "model" and pooled.schema[col].is_numeric():
            meta[f"pooled/{col}"] = dg.MetadataValue.float(float(pooled[col][0]))
    for name, png in hindcast_plots(results).items():
        save_png(png, calibration.plots_dir, f"hindcast_{name}")
        meta[f"plot_{name}"] = plot(png, PLOT_TEXT[name])
    for name in TABLES:
        yield dg.Output(
            results[name], output_name=name, metadata=meta if name == "scores" else None
        )
    yield warn_check(SCORES_KEY, "coverage_in_band", ok, message)
    by_group = results["scores_by_horizon_group"]
    group_ok, group_message = horizon_group_check(by_group)
    yield warn_check(GROUP_KEY, "horizon_groups_in_band", group_ok, group_message)
    for name in ("experience_time", "pool"):
        group_ok, group_message = horizon_group_check(by_group, FORECASTER_MODELS[name])
        yield warn_check(GROUP_KEY, f"{name}_horizon_groups_in_band", group_ok, group_message)
    auto_ok, auto_message = auto_model_check(by_group, AUTO_MODEL)
    yield warn_check(GROUP_KEY, "auto_model_scores_best", auto_ok, auto_message)


#: The time-only hindcast's tables (asset ``evaluation/time_only_<name>``).
TIME_ONLY_TABLES = {
    "forecasts": "Every time-only hindcast forecast (cost series without experience): model "
    "(pooled_time, rw_drift, no_change), origin, series, horizon (years), quantiles q025..q975 of "
    "unit cost (the series' cost unit), the outcome, interval hits, log-pinball, log error of the "
    "median, CRPS and PIT.",
    "scores": "Time-only hindcast scores per model: coverage of the central 50/80/90/95% "
    "intervals (shares), log-pinball and CRPS (log units), the median's bias and RMS log error, "
    "PIT mean and sd, ratios of log-pinball and CRPS to the random walk with drift (rw_drift), RMS "
    "log error growth per year of horizon.",
    "scores_by_horizon": "Time-only hindcast scores per model (pooled_time, rw_drift, "
    "no_change) and horizon (years ahead): " + _SCORES,
    "origins": "Per time-only origin: series fitted and forecast, sampler diagnostics of the "
    "per-origin time-trend fit (max R-hat, min bulk ESS, divergences), MA(1) theta of rw_drift, "
    "seconds.",
}


@dg.multi_asset(
    name="time_only_hindcast",
    outs={
        f"time_only_{name}": table_out(["evaluation", f"time_only_{name}"], text, None)
        for name, text in TIME_ONLY_TABLES.items()
    },
    ins=HARMONIZED_INS,
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("coverage_in_band", asset=TIME_ONLY_SCORES_KEY, blocking=False)],
)
def time_only_hindcast(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Hindcast of the time-only cost series (>= 6 years, no experience series): the pooled
    time-trend model (drift m, log cost per year, Student-t MA(1)) refitted per origin, against
    the random walk with drift and no change; coverage, log-pinball, CRPS, bias."""
    wright = pooled_panel(cost_observations, production, technologies, calibration)
    time_all = time_panel(cost_observations, technologies, calibration)
    panel = build_time_panel(time_only_cost(cost_observations, time_all, wright), technologies)
    results = run_time_hindcast(panel, progress=context.log.info)
    ok, message = coverage_check(results["scores"], POOLED_TIME)
    meta: dict = {
        "n_series": dg.MetadataValue.int(panel.n_series),
        "n_forecasts": dg.MetadataValue.int(results["forecasts"].height),
    }
    row = results["scores"].filter(pl.col("model") == POOLED_TIME)
    for col in row.columns:
        if col != "model" and row.schema[col].is_numeric() and row[col][0] is not None:
            meta[f"pooled_time/{col}"] = dg.MetadataValue.float(float(row[col][0]))
    for name in TIME_ONLY_TABLES:
        yield dg.Output(
            results[name],
            output_name=f"time_only_{name}",
            metadata=meta if name == "scores" else None,
        )
    yield warn_check(TIME_ONLY_SCORES_KEY, "coverage_in_band", ok, message)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[hindcast, time_only_hindcast])
