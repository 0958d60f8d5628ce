"""The population prior for ``learnrace forecast`` (group ``forecasts``), from this warehouse's
pooled Wright fit with Student-t MA(1) noise (the LOO-preferred model; the hindcast scores the
same forecaster).

Writes ``<work_dir>/population_prior.csv`` (+ ``.meta.json``): posterior draws of a *new*
series' Wright exponent, noise scale, MA(1) coefficient and Student-t degrees of freedom, for all
technologies and per industry; ``learnrace forecast --posterior <that file>`` uses it instead of
the prior shipped in the package. Table ``forecasts.population_prior`` summarises each level.
"""

from pathlib import Path

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.resources import CalibrationSettings, WarehouseResource
from learnrace_pipeline.defs.sources.assets import WRITE_POOL
from learnrace_pipeline.lib.forecast import priors_from_posterior_file, save_priors
from learnrace_pipeline.lib.storage.warehouse import query


@dg.asset(
    key=["forecasts", "population_prior"],
    group_name="forecasts",
    kinds={"duckdb"},
    deps=[dg.AssetKey(["calibration", "learning_curve_fits"])],
    pool=WRITE_POOL,
    description=__doc__,
    automation_condition=dg.AutomationCondition.eager(),
)
def population_prior(
    warehouse: WarehouseResource, calibration: CalibrationSettings
) -> dg.MaterializeResult:
    """Summary per level: mean and 5/95% quantiles of each prior column: ``w_mu``/``w_sd`` (the
    new series' Wright exponent distribution, unit-free), ``log_sigma_mu``/``log_sigma_sd`` (log
    of the noise sd of log cost per step) and ``rho`` (MA(1))."""
    files = query(
        warehouse.db_path,
        "SELECT model_id, data_version, path FROM calibration.learning_fit_files WHERE key = 'wright'",
    )
    path = Path(files["path"][0])
    priors = priors_from_posterior_file(path)
    out = Path(calibration.work_dir) / "population_prior.csv"
    save_priors(
        priors,
        out,
        {
            "from_fit": str(path),
            "model_id": files["model_id"][0],
            "data_version": files["data_version"][0],
        },
    )
    frame = pl.concat([p.to_frame() for p in priors.values()])
    stats = [c for c in frame.columns if c not in ("level", "draw")]
    summary = (
        frame.group_by("level")
        .agg(
            pl.len().alias("draws"),
            *[pl.col(c).mean().alias(f"{c}_mean") for c in stats],
            *[pl.col(c).quantile(0.05).alias(f"{c}_q05") for c in stats],
            *[pl.col(c).quantile(0.95).alias(f"{c}_q95") for c in stats],
        )
        .sort("level")
    )
    warehouse.write({("forecasts", "population_prior"): summary})
    return dg.MaterializeResult(
        metadata={
            "prior_file": str(out),
            "levels": dg.MetadataValue.int(summary.height),
            "summary": dg.MetadataValue.md("```\n" + str(summary) + "\n```"),
        }
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[population_prior])
