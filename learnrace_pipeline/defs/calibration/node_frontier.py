"""The leading process node per foundry nation (group ``calibration``).

- ``node_frontier`` (one step): each foundry nation's smallest process node released to date
  (chip data, CPUs and GPUs by foundry headquarters) as a record process of leading-edge node
  introductions around a shrinking trend: the posterior ``calibration/node_frontier_fit``
  (netCDF) and the table ``calibration.node_frontier`` (leading node now, projected leading node
  at the end of 2030 with quantiles, halving time of the trend node, per nation). Blocking
  ``converged`` check on the fit.
"""

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.calibration.checks import diagnostics_check
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import MCMC_POOL, fit_out, table_out
from learnrace_pipeline.lib.models import node_frontier as nf
from learnrace_pipeline.lib.models import node_frontier_posterior as nfp
from learnrace_pipeline.lib.models.diagnostics import check_fit

NODE_FIT_KEY = ["calibration", "node_frontier_fit"]


@dg.multi_asset(
    name="node_frontier",
    outs={
        "node_frontier_fit": fit_out(
            NODE_FIT_KEY,
            "Process-node record process per foundry nation: trend node (alpha, log2 nm at "
            "2020; shrink rate r, log2 nm per year), leading-edge introductions per year, noise "
            "sd (log2 nm).",
        ),
        "node_frontier": table_out(
            ["calibration", "node_frontier"],
            "Per foundry nation: leading node now (product, date, nm), projected leading node at "
            "2030-12-31 q05..q95 (nm), halving time of the trend node q05/q50/q95 (years), "
            "introductions per year, record setters fitted, status.",
        ),
    },
    ins={"chip_products": dg.AssetIn(key=["harmonized", "chip_products"])},
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("converged", asset=NODE_FIT_KEY, blocking=True)],
)
def node_frontier(
    context: dg.AssetExecutionContext,
    chip_products: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Each foundry nation's leading process node (nm): observed up to the data end, projected
    by the fitted record process; the halving time of its trend node (years)."""
    fit, reused = nf.node_frontier_fit(chip_products, calibration.fits_dir)
    context.log.info(f"node frontier: {'reused saved fit' if reused else 'sampled'}")
    table = nfp.node_frontier_table(fit)
    yield dg.Output(
        fit,
        output_name="node_frontier_fit",
        metadata={
            "reused_saved_fit": dg.MetadataValue.bool(reused),
            "data_end": str(nfp.data_end(fit)),
            "sample_seconds": dg.MetadataValue.float(float(fit.attrs["sample_seconds"])),
        },
    )
    yield diagnostics_check(NODE_FIT_KEY, "converged", check_fit(fit))
    yield dg.Output(table, output_name="node_frontier")


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[node_frontier])
