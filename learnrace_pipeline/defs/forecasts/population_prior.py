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
import xarray as xr

from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import table_out
from learnrace_pipeline.lib.forecast.priors import population_priors, save_priors


@dg.multi_asset(
    name="population_prior",
    outs={
        "population_prior": table_out(
            ["forecasts", "population_prior"],
            "Per level (all, industry): draws and the mean and 5/95% quantiles of each prior "
            "column (w_mu, w_sd unit-free; log_sigma_mu, log_sigma_sd in log of log-cost sd per "
            "year; rho; nu).",
        )
    },
    ins={"wright_fit": dg.AssetIn(key=["calibration", "wright_fit"])},
)
def population_prior(wright_fit: xr.DataTree, calibration: CalibrationSettings):
    """Summary per level: mean and 5/95% quantiles of each prior column: ``w_mu``/``w_sd`` (the
    new series' Wright exponent distribution, unit-free), ``log_sigma_mu``/``log_sigma_sd`` (log
    of the noise sd of log cost per step) and ``rho`` (MA(1))."""
    priors = population_priors(wright_fit)
    out = Path(calibration.work_dir) / "population_prior.csv"
    save_priors(
        priors,
        out,
        {
            "from_fit": "calibration/wright_fit",
            "model_id": wright_fit.attrs["model_id"],
            "data_version": wright_fit.attrs["data_version"],
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
    yield dg.Output(
        summary,
        output_name="population_prior",
        metadata={"prior_file": "population_prior.csv (beside the warehouse)"},
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[population_prior])
