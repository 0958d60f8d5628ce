"""The race hindcast (group ``evaluation``): from past origins (2012, 2015, 2018), each race
nation's volume share and capability metric forecast by the race's models refitted on the data up
to the origin, and scored against what happened.

Tables ``evaluation.race_hindcast`` (one row per forecast) and
``evaluation.race_hindcast_coverage`` (per role and horizon group: coverage of the 50% and 90%
intervals, log-pinball); a WARN check that each role's coverage is within its binomial band.
Method: :mod:`learnrace_pipeline.lib.evaluation.race_hindcast`.
"""

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.calibration.checks import warn_check
from learnrace_pipeline.defs.metadata import rows_value
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import MCMC_POOL, table_out
from learnrace_pipeline.lib.evaluation import race_hindcast as rh
from learnrace_pipeline.lib.evaluation.race_hindcast_fits import make_fitters

HINDCAST_KEY = ["evaluation", "race_hindcast"]
COVERAGE_KEY = ["evaluation", "race_hindcast_coverage"]
#: The tidy tables the race's models read.
TABLES = ("production", "market_shares", "ai_models", "av_testing", "chip_products")


@dg.multi_asset(
    name="race_hindcast",
    outs={
        "race_hindcast": table_out(
            HINDCAST_KEY,
            "Race hindcast, one row per origin year, industry, nation, role (volume | "
            "capability) and target year: horizon (years), the observed value and the forecast "
            "quantiles q05..q95 in the metric's unit (volume: share of world, a fraction), "
            "inside50, inside90, log-pinball (ln units), the model behind the forecast.",
        ),
        "race_hindcast_coverage": table_out(
            COVERAGE_KEY,
            "Race hindcast per role and horizon group (1-2, 3-5, 6-10 years ahead, all): n "
            "forecasts, coverage of the central 50% and 90% intervals (shares), mean "
            "log-pinball (ln units).",
        ),
    },
    ins={t: dg.AssetIn(key=["harmonized", t]) for t in TABLES},
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("coverage_in_band", asset=COVERAGE_KEY, blocking=False)],
)
def race_hindcast(
    context: dg.AssetExecutionContext,
    production: pl.DataFrame,
    market_shares: pl.DataFrame,
    ai_models: pl.DataFrame,
    av_testing: pl.DataFrame,
    chip_products: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Deployment-growth (volume shares), AI frontier, AV and node-frontier (capability) fits on
    the tables cut at each origin year, each nation forecast 1-10 years ahead; quantiles
    q05..q95, the observed value, 50%/90% interval hits and log-pinball; coverage per role and
    horizon group."""
    tables = {
        "production": production,
        "market_shares": market_shares,
        "ai_models": ai_models,
        "av_testing": av_testing,
        "chip_products": chip_products,
    }
    forecasts, fits = rh.run_race_hindcast(
        tables, fitters=make_fitters(calibration.fits_dir), progress=context.log.info
    )
    coverage = rh.coverage_table(forecasts)
    ok, message = rh.coverage_check(coverage)
    meta: dict = {
        "n_forecasts": dg.MetadataValue.int(forecasts.height),
        "fits": rows_value(fits),
    }
    yield dg.Output(forecasts, output_name="race_hindcast", metadata=meta)
    cov_meta: dict = {}
    for r in coverage.filter(pl.col("horizon_group") == "all").iter_rows(named=True):
        for col in ("coverage_50", "coverage_90"):
            if r[col] is not None:
                cov_meta[f"{r['role']}/{col}"] = dg.MetadataValue.float(float(r[col]))
    yield dg.Output(coverage, output_name="race_hindcast_coverage", metadata=cov_meta)
    yield warn_check(COVERAGE_KEY, "coverage_in_band", ok, message)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[race_hindcast])
