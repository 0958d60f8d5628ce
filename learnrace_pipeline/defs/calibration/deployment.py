"""Deployment growth (group ``calibration``).

- ``deployment_growth_fits`` (one step): each race nation's annual volume per industry (solar PV
  module production, EV car sales, industrial robot installations, notable AI models), with the
  rest of the world as its own series, fitted in log-linear and logistic form, national
  parameters partially pooled within industry (:mod:`learnrace_pipeline.lib.models.deployment`):
  the posterior ``calibration/deployment_fit`` (both forms, the observed shares, the PSIS-LOO
  comparison), tables ``calibration.deployment_growth`` and
  ``calibration.deployment_model_comparison``; a blocking ``converged`` check on the fit (both
  forms must pass).
"""

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.calibration.checks import diagnostics_check
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import MCMC_POOL, fit_out, table_out
from learnrace_pipeline.lib.models import deployment
from learnrace_pipeline.lib.models.deployment_data import volume_metrics
from learnrace_pipeline.lib.models.deployment_posterior import comparison_table, growth_table
from learnrace_pipeline.lib.models.diagnostics import DiagnosticsResult
from learnrace_pipeline.lib.race.spec import load_spec

FIT_KEY = ["calibration", "deployment_fit"]
INS = {
    "production": dg.AssetIn(key=["harmonized", "production"]),
    "market_shares": dg.AssetIn(key=["harmonized", "market_shares"]),
    "ai_models": dg.AssetIn(key=["harmonized", "ai_models"]),
}


def _joint(results: dict[str, DiagnosticsResult]) -> DiagnosticsResult:
    """One result for both forms: failures named ``<form>.<parameter>``, worst figures."""
    failures = tuple(
        type(f)(f.check, f"{form}.{f.parameter}", f.value, f.threshold)
        for form, r in results.items()
        for f in r.failures
    )
    rs = list(results.values())
    return DiagnosticsResult(
        passed=all(r.passed for r in rs),
        failures=failures,
        rhat_max=max(r.rhat_max for r in rs),
        ess_bulk_min=min(r.ess_bulk_min for r in rs),
        ess_tail_min=min(r.ess_tail_min for r in rs),
        divergences=sum(r.divergences for r in rs),
        bfmi_min=min(r.bfmi_min for r in rs),
        n_parameters=sum(r.n_parameters for r in rs),
        thresholds=rs[0].thresholds,
    )


@dg.multi_asset(
    name="deployment_growth_fits",
    outs={
        "deployment_fit": fit_out(
            FIT_KEY,
            "Deployment growth posterior: log annual volume of each race nation and the rest of "
            "the world per industry, log-linear and logistic forms, pooled within industry; "
            "observed shares of world volume; PSIS-LOO comparison per industry.",
        ),
        "deployment_growth": table_out(
            ["calibration", "deployment_growth"],
            "Per industry, nation and form: growth rate at the centre year and at the last "
            "observed year (ln per year), the logistic rate, ceiling (the series' unit per "
            "year) and midpoint year; mean and central 90% interval (ci_kind, ci_prob).",
        ),
        "deployment_model_comparison": table_out(
            ["calibration", "deployment_model_comparison"],
            "Per industry: PSIS-LOO elpd (nats; and se, p_loo, Pareto k > 0.7 count) of the "
            "log-linear and logistic deployment forms, their difference and its se (nats), the "
            "preferred form.",
        ),
    },
    ins=INS,
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("converged", asset=FIT_KEY, blocking=True)],
)
def deployment_growth_fits(
    context: dg.AssetExecutionContext,
    production: pl.DataFrame,
    market_shares: pl.DataFrame,
    ai_models: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Each race nation's annual deployment volume per industry, log-linear and logistic forms.

    Units: growth rates in natural log per year (0.1 = about 10.5% a year); ceilings in the
    series' unit per year (GW of modules, vehicles, robots, notable models); shares are
    fractions of the world's volume.
    """
    tables = {"production": production, "market_shares": market_shares, "ai_models": ai_models}
    metrics = volume_metrics(load_spec())
    fit, reused = deployment.deployment_fit(tables, calibration.fits_dir, metrics)
    context.log.info(f"deployment growth: {'reused saved fit' if reused else 'sampled'}")
    yield dg.Output(
        fit,
        output_name="deployment_fit",
        metadata={
            "reused_saved_fit": dg.MetadataValue.bool(reused),
            "compile_seconds": dg.MetadataValue.float(float(fit.attrs["compile_seconds"])),
            "sample_seconds": dg.MetadataValue.float(float(fit.attrs["sample_seconds"])),
        },
    )
    yield diagnostics_check(FIT_KEY, "converged", _joint(deployment.check_deployment_fit(fit)))
    growth = growth_table(fit)
    comparison = comparison_table(fit)
    yield dg.Output(growth, output_name="deployment_growth")
    yield dg.Output(comparison, output_name="deployment_model_comparison")


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[deployment_growth_fits])
