"""Rolling-origin hindcasts (group ``evaluation``): does the pooled model's uncertainty mean
what it says?

At each origin every series with at least 8 training points is forecast 1-10 years ahead using
only data up to the origin (the pooled Wright model refitted per origin with one compiled model),
against three baselines in the same run: (a) per-series OLS Wright with a Student-t predictive,
(b) random walk with drift with MA(1) noise, (c) no change; and a diagnostic, (d) baseline (a)
plus a time drift shared by all series (does cost fall faster than each series' Wright's law
says, by a common amount?). Tables ``evaluation.forecasts``,
``evaluation.scores`` (overall, per model), ``evaluation.scores_by_horizon``,
``evaluation.scores_by_industry``, ``evaluation.pit`` and ``evaluation.origins``.
"""

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import HARMONIZED_INS, MCMC_POOL, pooled_panel, table_out
from learnrace_pipeline.lib.evaluation.hindcast import HindcastConfig, run_hindcast
from learnrace_pipeline.lib.evaluation.hindcast_scores import POOLED, coverage_check
from learnrace_pipeline.lib.report.images import markdown_image, save_png
from learnrace_pipeline.lib.report.plots_evaluation import hindcast_plots

SCORES_KEY = ["evaluation", "scores"]

#: The hindcast's tables (asset ``evaluation/<name>`` = table ``evaluation.<name>``).
TABLES = {
    "forecasts": "Every hindcast forecast: model, origin, series, horizon (years), quantiles "
    "q025..q975 of unit cost (the series' cost unit), the outcome, interval hits, log-pinball, "
    "log error of the median, CRPS and PIT.",
    "scores": "Scores per model over all forecasts: coverage of the central 50/80/90/95% "
    "intervals (shares), log-pinball and CRPS (log units), the median's bias and RMS log error, "
    "PIT mean and sd, ratios to baseline (a), RMS log error growth per year of horizon.",
    "scores_by_horizon": "The same scores per model and horizon (years ahead).",
    "scores_by_industry": "The same scores per model and industry.",
    "pit": "PIT histogram per model (10 equal bins, share of forecasts per bin).",
    "origins": "Per origin: series fitted and forecast, sampler diagnostics of the per-origin fit "
    "(max R-hat, min bulk ESS, divergences), seconds, and the shared time drift (log per year).",
}


@dg.multi_asset(
    name="hindcast",
    outs={name: table_out(["evaluation", name], text, None) for name, text in TABLES.items()},
    ins=HARMONIZED_INS,
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("coverage_in_band", asset=SCORES_KEY, blocking=False)],
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
    results = run_hindcast(panel, HindcastConfig(), progress=context.log.info)
    ok, message = coverage_check(results["scores"])
    meta: dict = {
        "n_forecasts": dg.MetadataValue.int(results["forecasts"].height),
        "n_origins": dg.MetadataValue.int(results["origins"].height),
        "scores": dg.MetadataValue.md("```\n" + str(results["scores"]) + "\n```"),
    }
    pooled = results["scores"].filter(pl.col("model") == POOLED)
    for col in pooled.columns:
        if col != "model" and pooled.schema[col].is_numeric():
            meta[f"pooled/{col}"] = dg.MetadataValue.float(float(pooled[col][0]))
    for name, png in hindcast_plots(results).items():
        save_png(png, calibration.plots_dir, f"hindcast_{name}")
        meta[name] = dg.MetadataValue.md(markdown_image(png, name.replace("_", " ")))
    for name in TABLES:
        yield dg.Output(
            results[name], output_name=name, metadata=meta if name == "scores" else None
        )
    yield dg.AssetCheckResult(
        asset_key=dg.AssetKey(SCORES_KEY),
        check_name="coverage_in_band",
        passed=ok,
        severity=dg.AssetCheckSeverity.WARN,
        description=message,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[hindcast])
