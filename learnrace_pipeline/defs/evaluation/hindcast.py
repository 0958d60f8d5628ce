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

from learnrace_pipeline.defs.calibration.learning import HARMONIZED_INS, pooled_panel
from learnrace_pipeline.defs.resources import CalibrationSettings, WarehouseResource
from learnrace_pipeline.defs.sources.assets import WRITE_POOL
from learnrace_pipeline.lib.evaluation.hindcast import HindcastConfig, run_hindcast
from learnrace_pipeline.lib.evaluation.hindcast_scores import POOLED, coverage_check
from learnrace_pipeline.lib.report.images import markdown_image, save_png
from learnrace_pipeline.lib.report.plots_evaluation import hindcast_plots

KEY = ["evaluation", "hindcast"]


@dg.asset(
    key=KEY,
    group_name="evaluation",
    kinds={"pymc", "duckdb"},
    ins=HARMONIZED_INS,
    deps=[dg.AssetKey(["calibration", "learning_curve_fits"])],
    pool=WRITE_POOL,
    check_specs=[dg.AssetCheckSpec("coverage_in_band", asset=KEY, blocking=False)],
    description=__doc__,
)
def hindcast(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    warehouse: WarehouseResource,
    calibration: CalibrationSettings,
):
    """Hindcast scores by horizon and industry: empirical coverage of the central 50/80/90/95%
    intervals, log-pinball loss (mean quantile loss of log cost over 7 quantiles), CRPS of log
    cost, PIT values."""
    panel = pooled_panel(cost_observations, production, technologies, calibration)
    results = run_hindcast(panel, HindcastConfig(), progress=context.log.info)
    warehouse.write({("evaluation", name): frame for name, frame in results.items()})
    ok, message = coverage_check(results["scores"])
    meta: dict = {
        "scores": dg.MetadataValue.md("```\n" + str(results["scores"]) + "\n```"),
        "n_forecasts": dg.MetadataValue.int(results["forecasts"].height),
        "n_origins": dg.MetadataValue.int(results["origins"].height),
    }
    pooled = results["scores"].filter(pl.col("model") == POOLED)
    for col in pooled.columns:
        if col != "model" and pooled.schema[col].is_numeric():
            meta[f"pooled/{col}"] = dg.MetadataValue.float(float(pooled[col][0]))
    for name, png in hindcast_plots(results).items():
        save_png(png, calibration.plots_dir, f"hindcast_{name}")
        meta[name] = dg.MetadataValue.md(markdown_image(png, name.replace("_", " ")))
    check = dg.AssetCheckResult(
        check_name="coverage_in_band",
        passed=ok,
        severity=dg.AssetCheckSeverity.WARN,
        description=message,
    )
    return dg.MaterializeResult(metadata=meta, check_results=[check])


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[hindcast])
