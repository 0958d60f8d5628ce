"""National learning rates of installed costs (group ``calibration``).

- ``national_learning`` (one step): IRENA installed costs by nation (onshore wind, utility solar
  PV; 2019 USD/kW) against world cumulative capacity, and national capacity where it exists,
  national exponents partially pooled across nations within each technology, a time term per
  technology shrunk hard to the population value, Student-t MA(1) noise
  (``lib/models/learning/national.py``): the posterior ``calibration/national_learning_fit``
  and the table ``calibration.national_learning_rates``; a blocking convergence check (R-hat,
  ESS, divergences, BFMI and the one-step predictive coverage, as for the pooled fits).

The fit has its own small sampler (4 x 1,000 draws), not ``CalibrationSettings.draws``, so it
stays a few seconds of sampling in every run; it is saved under ``<work_dir>/fits`` by model id
and data version and reused while neither changes.
"""

import dataclasses
import time

import dagster as dg
import polars as pl
import xarray as xr

from learnrace_pipeline.defs.calibration.checks import diagnostics_check
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import HARMONIZED_INS, MCMC_POOL, fit_out, table_out
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.models.learning import national

NATIONAL_KEY = ["calibration", "national_learning_fit"]
RATES_KEY = ["calibration", "national_learning_rates"]


@dg.multi_asset(
    name="national_learning",
    outs={
        "national_learning_fit": fit_out(
            NATIONAL_KEY,
            "National installed costs (IRENA, 2019 USD/kW) of onshore wind and solar PV against "
            "world (and, where it exists, national) cumulative capacity: national exponents w "
            "pooled within technology, time term m per technology, spillover share lambda.",
        ),
        "national_learning_rates": table_out(
            RATES_KEY,
            "Per technology and nation (ALL = the technology level): exponent w (unit-free), "
            "learning rate 1 - 2^-w per doubling, time term m (log cost per year), spillover "
            "share lambda (national experience only): mean and 5/50/95% quantiles (90% interval).",
        ),
    },
    ins={k: HARMONIZED_INS[k] for k in ("cost_observations", "production")},
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("converged", asset=NATIONAL_KEY, blocking=True)],
)
def national_learning(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """National installed-cost learning rates, pooled across nations (module docstring).

    Units: ``w`` unit-free (cost ∝ Q^-w), learning rate 1 - 2^-w per doubling of world
    (effective) cumulative capacity; ``m`` log cost per year; ``lambda`` a share in [0, 1].
    """
    panel = national.build_national_panel(cost_observations, production)
    context.log.info(
        f"national panel: {panel.n_series} series, {panel.obs.height} differences, "
        f"{panel.excluded.height} excluded"
    )
    sampler = dataclasses.replace(national.DEFAULT_SAMPLER, seed=calibration.seed)
    t0 = time.perf_counter()
    dt, reused = national.fit_or_load_national(panel, calibration.fits_dir, sampler=sampler)
    secs = time.perf_counter() - t0
    context.log.info(
        f"national learning: {'reused saved fit' if reused else 'sampled'} in {secs:.1f} s"
    )
    yield dg.Output(
        dt, output_name="national_learning_fit", metadata=_fit_metadata(dt, reused, secs, panel)
    )
    yield diagnostics_check(NATIONAL_KEY, "converged", check_fit(dt))
    rates = national.national_rates(dt)
    yield dg.Output(
        rates,
        output_name="national_learning_rates",
        metadata={"n_series": dg.MetadataValue.int(panel.n_series)},
    )


def _fit_metadata(
    dt: xr.DataTree, reused: bool, seconds: float, panel: national.NationalPanel
) -> dict:
    return {
        "seconds": dg.MetadataValue.float(round(seconds, 2)),
        "reused_saved_fit": dg.MetadataValue.bool(reused),
        "model_id": dt.attrs["model_id"],
        "data_version": dt.attrs["data_version"],
        "series": dg.MetadataValue.json(panel.series["series"].to_list()),
        "excluded": dg.MetadataValue.json(panel.excluded.to_dicts()),
    }
