"""Scaling laws and the research frontier (group ``calibration``).

- ``av_capability_fits`` (one step): miles per disengagement against cumulative autonomous miles
  per company, pooled within nation of headquarters (negative binomial counts with exposure =
  miles; the missing 2020 reporting year latent), power-law and saturating forms compared by
  PSIS-LOO: posteriors ``calibration/av_{power,saturating}_fit``, tables
  ``calibration.av_capability`` and ``calibration.av_model_comparison``.
- ``ai_frontier`` (one step): each nation's AI training-compute frontier (its record, log10
  FLOP) as a record process of frontier runs around a trend: the posterior
  ``calibration/ai_frontier_fit`` (netCDF) and the table ``calibration.ai_frontier`` (record,
  doubling time, gap to the leader, P(leader) per nation at the data end).
- ``ai_frontier_hindcast`` (one step): the frontier model refitted on the models published
  before 2018-01-01, 2020-01-01 and 2022-01-01, each nation's record forecast one and two years
  ahead and scored: tables ``calibration.ai_frontier_hindcast`` (one row per forecast) and
  ``calibration.ai_frontier_hindcast_coverage`` (50% and 90% interval coverage by horizon).
"""

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.calibration.checks import diagnostics_check, warn_check
from learnrace_pipeline.defs.metadata import REPORT, plot, rows_value
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import MCMC_POOL, fit_out, table_out
from learnrace_pipeline.lib.evaluation import frontier_hindcast as fh
from learnrace_pipeline.lib.models import av
from learnrace_pipeline.lib.models.av_posterior import av_capability_table
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.models.frontier_posterior import data_end, frontier_table
from learnrace_pipeline.lib.models.saved_fits import AV_FORMS, av_fit, frontier_fit
from learnrace_pipeline.lib.report.images import save_png
from learnrace_pipeline.lib.report.plots_scaling import plot_av_experience, plot_frontier

FRONTIER_KEY = ["calibration", "ai_frontier_fit"]
HINDCAST_KEY = ["calibration", "ai_frontier_hindcast"]
COVERAGE_KEY = ["calibration", "ai_frontier_hindcast_coverage"]
AI_MODELS_IN = {"ai_models": dg.AssetIn(key=["harmonized", "ai_models"])}


#: What each AV capability posterior is (x = ln cumulative CA autonomous miles of a company).
AV_FIT_TEXT = {
    "power": "AV capability posterior, power form: ln MPD = a + b x (MPD: miles per "
    "disengagement; x: ln cumulative CA autonomous miles; b unit-free), negative-binomial "
    "disengagement counts with miles as exposure, companies pooled within nation.",
    "saturating": "AV capability posterior, saturating form: 1/MPD = floor + exp(-(a + b x)) "
    "(floor: irreducible disengagements per mile; x: ln cumulative CA autonomous miles), "
    "negative-binomial disengagement counts with miles as exposure, companies pooled within "
    "nation.",
}


def av_fit_key(form: str) -> list[str]:
    """Asset key of an AV capability posterior: ``calibration/av_<form>_fit``."""
    return ["calibration", f"av_{form}_fit"]


@dg.multi_asset(
    name="av_capability_fits",
    outs={
        **{f"av_{form}_fit": fit_out(av_fit_key(form), AV_FIT_TEXT[form]) for form in AV_FORMS},
        "av_capability": table_out(
            ["calibration", "av_capability"],
            "Per company and nation and form (power, saturating): slope b (elasticity of miles "
            "per disengagement to cumulative miles, unit-free), floor (disengagements per "
            "million miles), MPD now and at 10x cumulative miles (miles per disengagement), "
            "cumulative miles now (miles); 5/25/50/75/95% quantiles.",
        ),
        "av_model_comparison": table_out(
            ["calibration", "av_model_comparison"],
            "PSIS-LOO of the AV capability forms (power, saturating): elpd_loo (nats), p_loo, "
            "difference to the best and its se (nats), stacking weight, Pareto k > 0.7 count.",
        ),
    },
    ins={"av_testing": dg.AssetIn(key=["harmonized", "av_testing"])},
    pool=MCMC_POOL,
    check_specs=[
        dg.AssetCheckSpec("converged", asset=av_fit_key(f), blocking=True) for f in AV_FORMS
    ],
)
def av_capability_fits(
    context: dg.AssetExecutionContext,
    av_testing: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """AV capability (miles per disengagement, MPD) against cumulative CA autonomous miles.

    Units: slope b is the elasticity of MPD to cumulative miles (doubling miles multiplies MPD by
    2^b); floor is the saturating form's asymptotic log MPD; MPD in miles per disengagement.
    """
    fits = {}
    for form in AV_FORMS:
        fit, reused = av_fit(av_testing, calibration.fits_dir, form)
        fits[form] = fit
        yield dg.Output(
            fit,
            output_name=f"av_{form}_fit",
            metadata={"reused_saved_fit": dg.MetadataValue.bool(reused)},
        )
        yield diagnostics_check(av_fit_key(form), "converged", av.check_av_fit(fit))
    capability = pl.concat(
        [
            av_capability_table(f).with_columns(pl.lit(form).alias("form"))
            for form, f in fits.items()
        ],
        how="diagonal_relaxed",
    )
    comparison = av.compare_av_forms(fits)
    png = plot_av_experience(fits["power"])
    save_png(png, calibration.plots_dir, "av_experience_curves")
    yield dg.Output(
        capability,
        output_name="av_capability",
        metadata={
            "companies": dg.MetadataValue.int(capability.filter(pl.col("form") == "power").height),
            "plot_experience_curves": plot(
                png, "AV experience curves: miles per disengagement vs cumulative miles, by nation"
            ),
            "full_view": REPORT,
        },
    )
    yield dg.Output(comparison, output_name="av_model_comparison")


@dg.multi_asset(
    name="ai_frontier",
    outs={
        "ai_frontier_fit": fit_out(
            FRONTIER_KEY,
            "Frontier record process per nation: trend of frontier runs (alpha, beta in log10 "
            "FLOP and OOM per year), runs per year, noise sd by confidence class.",
        ),
        "ai_frontier": table_out(
            ["calibration", "ai_frontier"],
            "Per nation at the data end: record (model, date, log10 FLOP), frontier q05..q95 "
            "(log10 FLOP), doubling time (months), gap to the leader (years), P(leader).",
        ),
    },
    ins=AI_MODELS_IN,
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("converged", asset=FRONTIER_KEY, blocking=True)],
)
def ai_frontier(
    context: dg.AssetExecutionContext,
    ai_models: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Each nation's AI training-compute frontier: its record (largest training run so far,
    log10 FLOP; observed up to the data end), the doubling time of its trend (months), its gap
    to the leader (years at its own rate) and P(leader), at the data end."""
    fit, reused = frontier_fit(ai_models, calibration.fits_dir)
    context.log.info(f"frontier: {'reused saved fit' if reused else 'sampled'}")
    table = frontier_table(fit)
    png = plot_frontier(fit)
    save_png(png, calibration.plots_dir, "ai_frontier")
    yield dg.Output(
        fit,
        output_name="ai_frontier_fit",
        metadata={
            "reused_saved_fit": dg.MetadataValue.bool(reused),
            "data_end": str(data_end(fit)),
            "plot_frontier": plot(png, "Frontier training compute per nation (log10 FLOP)"),
            "full_view": REPORT,
        },
    )
    yield diagnostics_check(FRONTIER_KEY, "converged", check_fit(fit))
    yield dg.Output(table, output_name="ai_frontier")


def _coverage_check(coverage: pl.DataFrame) -> dg.AssetCheckResult:
    """WARN when the 50% or 90% coverage over all forecasts is further from nominal than three
    binomial standard errors (at least 0.05)."""
    row = coverage.filter(pl.col("horizon") == "all").row(0, named=True)
    n = max(int(row["n"]), 1)
    misses = []
    for nominal, col in ((0.5, "coverage_50"), (0.9, "coverage_90")):
        band = max(0.05, 3.0 * (nominal * (1 - nominal) / n) ** 0.5)
        if abs(row[col] - nominal) > band:
            misses.append(f"{col} {row[col]:.2f} (nominal {nominal}, band {band:.2f})")
    return warn_check(
        COVERAGE_KEY,
        "coverage_in_band",
        not misses,
        "; ".join(misses) or f"coverage within its binomial band over {n} forecasts",
        {k: dg.MetadataValue.float(float(row[k])) for k in ("coverage_50", "coverage_90")},
    )


@dg.multi_asset(
    name="ai_frontier_hindcast",
    outs={
        "ai_frontier_hindcast": table_out(
            HINDCAST_KEY,
            "Frontier hindcast, one row per origin, horizon (1, 2 years) and nation: record at "
            "the origin, actual record, forecast q05..q95 (log10 FLOP), in_50, in_90.",
        ),
        "ai_frontier_hindcast_coverage": table_out(
            COVERAGE_KEY,
            "AI frontier hindcast coverage by horizon (1, 2 years) and overall: forecasts "
            "scored, new records, share of actual records inside the 50% and 90% intervals.",
        ),
    },
    ins=AI_MODELS_IN,
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("coverage_in_band", asset=COVERAGE_KEY, blocking=False)],
)
def ai_frontier_hindcast(
    context: dg.AssetExecutionContext,
    ai_models: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """The frontier model refitted on the models published before each origin (2018-01-01,
    2020-01-01, 2022-01-01), each modelled nation's record (log10 FLOP) forecast 1 and 2 years
    ahead: quantiles q05..q95, the actual record, whether the 50% and 90% intervals hold it."""

    def fitter(train, config, sampler):
        return frontier_fit(train, calibration.fits_dir, config, sampler)[0]

    forecasts, origins = fh.run_frontier_hindcast(ai_models, fh.FrontierHindcastSettings(), fitter)
    coverage = fh.coverage_table(forecasts)
    yield dg.Output(
        forecasts,
        output_name="ai_frontier_hindcast",
        metadata={"origins": rows_value(origins)},
    )
    yield dg.Output(coverage, output_name="ai_frontier_hindcast_coverage")
    yield _coverage_check(coverage)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[av_capability_fits, ai_frontier, ai_frontier_hindcast])
