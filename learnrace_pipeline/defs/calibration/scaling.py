"""Scaling laws and the research frontier (group ``calibration``).

- ``calibration/av_capability_fits``: miles per disengagement against cumulative autonomous miles
  per company, pooled within nation of headquarters (negative binomial counts with exposure =
  miles; the missing 2020 reporting year latent), power-law and saturating forms compared by
  PSIS-LOO. Tables ``calibration.av_capability`` and ``calibration.av_model_comparison``.
- ``calibration/ai_frontier_fit``: log10 training compute of record-setting models against
  publication date per nation; doubling times and gap to the leader. Table
  ``calibration.ai_frontier``.
"""

import datetime as dt_

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.calibration.checks import diagnostics_check
from learnrace_pipeline.defs.resources import CalibrationSettings, WarehouseResource
from learnrace_pipeline.defs.sources.assets import WRITE_POOL
from learnrace_pipeline.lib.models import av, frontier
from learnrace_pipeline.lib.models.av_posterior import av_capability_table
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.models.saved_fits import AV_FORMS, av_fit, frontier_fit
from learnrace_pipeline.lib.report.images import markdown_image, save_png
from learnrace_pipeline.lib.report.plots_scaling import plot_av_experience, plot_frontier

AV_KEY = ["calibration", "av_capability_fits"]
FRONTIER_KEY = ["calibration", "ai_frontier_fit"]


@dg.asset(
    key=AV_KEY,
    group_name="calibration",
    kinds={"pymc", "duckdb"},
    ins={"av_testing": dg.AssetIn(key=["harmonized", "av_testing"])},
    pool=WRITE_POOL,
    check_specs=[
        dg.AssetCheckSpec(f"{f}_converged", asset=AV_KEY, blocking=True) for f in AV_FORMS
    ],
    automation_condition=dg.AutomationCondition.eager(),
)
def av_capability_fits(
    context: dg.AssetExecutionContext,
    av_testing: pl.DataFrame,
    warehouse: WarehouseResource,
    calibration: CalibrationSettings,
):
    """AV capability (miles per disengagement, MPD) against cumulative CA autonomous miles.

    Units: slope b is the elasticity of MPD to cumulative miles (doubling miles multiplies MPD by
    2^b); floor is the saturating form's asymptotic log MPD; MPD in miles per disengagement.
    """
    fits, checks, meta = {}, [], {}
    for form in AV_FORMS:
        fit, reused = av_fit(av_testing, calibration.fits_dir, form)
        fits[form] = fit
        meta[f"{form}/reused_saved_fit"] = dg.MetadataValue.bool(reused)
        checks.append(diagnostics_check(AV_KEY, f"{form}_converged", av.check_av_fit(fit)))
    capability = pl.concat(
        [
            av_capability_table(f).with_columns(pl.lit(form).alias("form"))
            for form, f in fits.items()
        ],
        how="diagonal_relaxed",
    )
    comparison = av.compare_av_forms(fits)
    warehouse.write(
        {
            ("calibration", "av_capability"): capability,
            ("calibration", "av_model_comparison"): comparison,
        }
    )
    png = plot_av_experience(fits["power"])
    save_png(png, calibration.plots_dir, "av_experience_curves")
    meta.update(
        {
            "companies": dg.MetadataValue.int(capability.filter(pl.col("form") == "power").height),
            "loo_comparison": dg.MetadataValue.md("```\n" + str(comparison) + "\n```"),
            "experience_curves": dg.MetadataValue.md(
                markdown_image(png, "AV experience curves by nation")
            ),
        }
    )
    return dg.MaterializeResult(metadata=meta, check_results=checks)


@dg.asset(
    key=FRONTIER_KEY,
    group_name="calibration",
    kinds={"pymc", "duckdb"},
    ins={"ai_models": dg.AssetIn(key=["harmonized", "ai_models"])},
    pool=WRITE_POOL,
    check_specs=[dg.AssetCheckSpec("frontier_converged", asset=FRONTIER_KEY, blocking=True)],
    automation_condition=dg.AutomationCondition.eager(),
)
def ai_frontier_fit(
    context: dg.AssetExecutionContext,
    ai_models: pl.DataFrame,
    warehouse: WarehouseResource,
    calibration: CalibrationSettings,
):
    """Frontier training compute per nation (log10 FLOP against decimal year): doubling time in
    months, frontier at the latest data date, gap to the leader in years."""
    fit, reused = frontier_fit(ai_models, calibration.fits_dir)
    last = ai_models["publication_date"].max()
    as_of = last if isinstance(last, dt_.date) else dt_.date.today()
    table = frontier.frontier_table(fit, as_of)
    warehouse.write({("calibration", "ai_frontier"): table})
    png = plot_frontier(fit)
    save_png(png, calibration.plots_dir, "ai_frontier")
    diag = check_fit(fit)
    return dg.MaterializeResult(
        metadata={
            "reused_saved_fit": dg.MetadataValue.bool(reused),
            "as_of": str(as_of),
            "frontier": dg.MetadataValue.md("```\n" + str(table) + "\n```"),
            "trend_plot": dg.MetadataValue.md(markdown_image(png, "frontier compute per nation")),
        },
        check_results=[diagnostics_check(FRONTIER_KEY, "frontier_converged", diag)],
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[av_capability_fits, ai_frontier_fit])
