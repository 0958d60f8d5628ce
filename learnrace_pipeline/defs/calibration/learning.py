"""Learning-curve calibration (group ``calibration``).

One pooled fit per model, not one fit per industry partition: the hierarchy (series within
industry within all) pools industries through the top level, which only a joint fit can do, and
a new industry with two series borrows strength from the rest. See ARCHITECTURE.md.

- ``learning_curve_fits`` (one step): the Wright (Student-t and Normal MA(1)) and time-trend
  fits as assets ``calibration/<model>_fit`` (netCDF posteriors), and the tables
  ``calibration.learning_rates`` and ``calibration.model_comparison``; forest and
  experience-curve plots; a blocking convergence check per fit.
- ``experience_time``: experience and time together, ``calibration/experience_time_fit``, its
  rates ``calibration.experience_time_rates`` and the LOO comparison of all four models
  ``calibration.model_comparison_all``.
- ``solar_nation``: national solar module prices (China, US, Germany) against national and
  world cumulative capacity with the spillover share lambda: ``calibration/solar_nation_fit``,
  ``calibration.solar_nation_rates`` and ``calibration.solar_lambda`` (prior and posterior).

Fits are saved as netCDF under ``<work_dir>/fits`` named by model id and data version: when
neither changed, a re-run loads them instead of sampling again.
"""

import dataclasses
import time

import dagster as dg
import polars as pl
import xarray as xr

from learnrace_pipeline.defs.calibration.checks import diagnostics_check, warn_check
from learnrace_pipeline.defs.metadata import REPORT, plot
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.defs.wiring import (
    HARMONIZED_INS,
    MCMC_POOL,
    fit_out,
    pooled_panel,
    table_out,
)
from learnrace_pipeline.lib.models import base, diagnostics
from learnrace_pipeline.lib.models.cache import fit_or_load
from learnrace_pipeline.lib.models.learning import LearningConfig, LearningCurveModel, summaries
from learnrace_pipeline.lib.models.learning.panel import Panel, build_nation_panel
from learnrace_pipeline.lib.models.learning.posterior import lambda_prior_posterior
from learnrace_pipeline.lib.report import plots
from learnrace_pipeline.lib.report.images import save_png

#: The pooled fits of ``learning_curve_fits``: Wright and time trend with Student-t MA(1) noise,
#: gated by every check, and the Normal MA(1) Wright fit (its predictive coverage is a warning).
MODELS = {
    "wright": LearningConfig(trend="wright", noise="student_t"),
    "time": LearningConfig(trend="time", noise="student_t"),
    "wright_normal": LearningConfig(trend="wright", noise="normal"),
}
#: Experience + time together, sampled as (drift, w given drift) per level
#: (lib/models/learning/model.py); NUTS target acceptance of this fit.
BOTH = LearningConfig(trend="both", noise="student_t")
BOTH_TARGET_ACCEPT = 0.99
#: NUTS target acceptance of the solar nation fit (3 nations: a funnel in the nation spreads).
NATION_TARGET_ACCEPT = 0.99
#: Fits whose one-step predictive coverage is reported by a warning check, not gated.
COVERAGE_WARN_ONLY = ("wright_normal",)
#: Kept draws of a fit relative to ``CalibrationSettings.draws``: the pooled fits' industry
#: levels (thin industries such as wind, against w_all) mix slowly enough that 4 x 2,000 draws
#: leave the largest R-hat at the 1.01 threshold by chance
#: (docs/decisions/2026-11-28-learning-curve-default-sampler.md).
DRAWS_FACTOR = {"wright": 1.5, "time": 1.5, "wright_normal": 1.5, "experience_time": 1.0}

#: National solar module price series -> the production series giving national and world
#: cumulative installed capacity (IRENA, observed; not Helveston's "national" scenario).
SOLAR_NATION_EXPERIENCE = {
    "helveston_solar_2022:china_module_price_cpia": "helveston_solar_2022:pv_cumulative_capacity_irena",
    "helveston_solar_2022:germany_module_price_fraunhofer": "helveston_solar_2022:pv_cumulative_capacity_irena",
    "helveston_solar_2022:us_module_price_index_lbnl": "helveston_solar_2022:pv_cumulative_capacity_irena",
}

FIT_DESCRIPTIONS = {
    "wright": "Pooled Wright fit, Student-t MA(1) noise: dlog c = -w dlog Q + e (w unit-free; "
    "learning rate 1 - 2^-w per doubling of cumulative production).",
    "time": "Pooled time-trend (Moore) fit, Student-t MA(1) noise: dlog c = -m dt + e "
    "(m in log cost per year).",
    "wright_normal": "Pooled Wright fit, Normal MA(1) noise (the forecaster's Gaussian update): "
    "dlog c = -w dlog Q + e (w unit-free; sigma in ln cost per step).",
}


def fit_key(name: str) -> list[str]:
    """Asset key of a learning-curve fit: ``calibration/<name>_fit``."""
    return ["calibration", f"{name}_fit"]


def sampler_of(settings: CalibrationSettings) -> base.SamplerConfig:
    return base.SamplerConfig(
        draws=settings.draws,
        tune=settings.tune,
        chains=settings.chains,
        seed=settings.seed,
        target_accept=settings.target_accept,
    )


def _fit(
    settings: CalibrationSettings,
    name: str,
    panel: Panel,
    config: LearningConfig,
    sampler: base.SamplerConfig | None = None,
) -> tuple[xr.DataTree, bool, float]:
    """(fit, reused a saved fit, seconds)."""
    model = LearningCurveModel(panel, config, sampler or sampler_of(settings))
    version = base.data_version(panel.frame())
    t0 = time.perf_counter()
    dt, reused = fit_or_load(settings.fits_dir, name, model.model_id, version, model.fit)
    return dt, reused, time.perf_counter() - t0


def _check_result(
    asset_key: list[str], name: str, dt: xr.DataTree, *, coverage: bool = True
) -> dg.AssetCheckResult:
    diag = diagnostics.check_fit(dt) if coverage else diagnostics.check_fit(dt, coverage_probs=())
    return diagnostics_check(asset_key, name, diag)


def _fit_metadata(dt: xr.DataTree, reused: bool, seconds: float) -> dict:
    return {
        "seconds": dg.MetadataValue.float(round(seconds, 2)),
        "reused_saved_fit": dg.MetadataValue.bool(reused),
        "model_id": dt.attrs["model_id"],
        "data_version": dt.attrs["data_version"],
    }


@dg.multi_asset(
    name="learning_curve_fits",
    outs={
        **{f"{m}_fit": fit_out(fit_key(m), FIT_DESCRIPTIONS[m]) for m in MODELS},
        "learning_rates": table_out(
            ["calibration", "learning_rates"],
            "Learning rates of the Wright, time-trend and Normal Wright fits per level (all, "
            "industry, series): w (unit-free), learning rate 1 - 2^-w per doubling (fraction), m "
            "(ln cost per year), rho (MA(1)), sigma (ln cost per step); mean, sd, q05..q95.",
        ),
        "model_comparison": table_out(
            ["calibration", "model_comparison"],
            "PSIS-LOO of the Wright, time-trend and Normal Wright fits per industry and model: "
            "expected log predictive density elpd_loo and its se (nats), p_loo, difference to the "
            "best and its se (nats), rank, Pareto k > 0.7 count.",
        ),
    },
    ins=HARMONIZED_INS,
    pool=MCMC_POOL,
    check_specs=[
        *[dg.AssetCheckSpec("converged", asset=fit_key(m), blocking=True) for m in MODELS],
        *[
            dg.AssetCheckSpec("predictive_coverage", asset=fit_key(m), blocking=False)
            for m in COVERAGE_WARN_ONLY
        ],
    ],
)
def learning_curve_fits(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """Pooled Wright (Student-t and Normal MA(1)) and time-trend fits; learning-rate and LOO
    tables; forest and experience-curve plots.

    Units: ``w`` is unit-free (cost ∝ Q^-w); learning rate = 1 - 2^-w per doubling; ``m`` is the
    log-cost decline per year; ``sigma`` the innovation sd of log cost per step.
    """
    panel = pooled_panel(cost_observations, production, technologies, calibration)
    context.log.info(f"panel: {panel.n_series} series, {panel.n_obs} differences")
    fits: dict[str, xr.DataTree] = {}
    for name, config in MODELS.items():
        sampler = sampler_of(calibration)
        if name in DRAWS_FACTOR:
            sampler = dataclasses.replace(sampler, draws=round(sampler.draws * DRAWS_FACTOR[name]))
        dt, reused, secs = _fit(calibration, f"learning_{name}", panel, config, sampler)
        fits[config.name] = dt
        context.log.info(f"{name}: {'reused saved fit' if reused else 'sampled'} in {secs:.1f} s")
        yield dg.Output(dt, output_name=f"{name}_fit", metadata=_fit_metadata(dt, reused, secs))
        key = fit_key(name)
        yield _check_result(key, "converged", dt, coverage=name not in COVERAGE_WARN_ONLY)
        if name in COVERAGE_WARN_ONLY:
            ok, cov = diagnostics.coverage_in_band(dt, (0.5, 0.9))
            yield warn_check(
                key,
                "predictive_coverage",
                ok,
                f"one-step predictive coverage {cov} (nominal 50%, 90%)",
                {k: dg.MetadataValue.float(v) for k, v in cov.items()},
            )
    rates = pl.concat(
        [summaries.learning_rates(dt, model=n) for n, dt in fits.items()], how="diagonal_relaxed"
    )
    comparison = summaries.model_comparison(fits)
    forest = plots.forest_learning_rates(
        rates, level="industry", title="Learning rate per doubling, by industry"
    )
    curves = plots.experience_curves(fits[MODELS["wright"].name], seed=calibration.seed)
    for png, file in ((forest, "learning_rates_forest"), (curves, "experience_curves")):
        save_png(png, calibration.plots_dir, file)
    pooled = rates.filter((pl.col("level") == "all") & pl.col("w_mean").is_not_null()).head(1)
    yield dg.Output(
        rates,
        output_name="learning_rates",
        metadata={
            "n_series": dg.MetadataValue.int(panel.n_series),
            "n_differences": dg.MetadataValue.int(panel.n_obs),
            "pooled_w_mean": dg.MetadataValue.float(float(pooled["w_mean"][0])),
            "pooled_learning_rate_mean": dg.MetadataValue.float(float(pooled["lr_mean"][0])),
            "plot_forest": plot(forest, "Learning rate per doubling by industry (90% intervals)"),
            "plot_experience_curves": plot(
                curves, "Experience curves: unit cost vs cumulative production, fitted and observed"
            ),
            "full_view": REPORT,
        },
    )
    yield dg.Output(comparison, output_name="model_comparison")


BOTH_KEY = fit_key("experience_time")


@dg.multi_asset(
    name="experience_time",
    outs={
        "experience_time_fit": fit_out(
            BOTH_KEY,
            "Pooled experience + time fit, Student-t MA(1): dlog c = -w dlog Q - m dt + e (w "
            "unit-free, m in ln cost per year).",
        ),
        "experience_time_rates": table_out(
            ["calibration", "experience_time_rates"],
            "Rates of the experience + time fit per level (all, industry, series): w "
            "(unit-free), learning rate 1 - 2^-w, m (ln cost per year), their posterior "
            "correlation corr_w_m, rho, sigma (ln cost per step); mean, sd, quantiles.",
        ),
        "model_comparison_all": table_out(
            ["calibration", "model_comparison_all"],
            "PSIS-LOO of all four learning-curve fits (Wright, time trend, Normal Wright, "
            "experience + time) per industry and model: elpd_loo and its se (nats), p_loo, "
            "difference to the best and its se (nats), rank, Pareto k > 0.7 count.",
        ),
    },
    ins={
        **HARMONIZED_INS,
        **{f"{m}_fit": dg.AssetIn(key=fit_key(m)) for m in MODELS},
    },
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("converged", asset=BOTH_KEY, blocking=True)],
)
def experience_time(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    wright_fit: xr.DataTree,
    time_fit: xr.DataTree,
    wright_normal_fit: xr.DataTree,
    calibration: CalibrationSettings,
):
    """Experience and time together: dlog c = -w dlog Q - m dt + MA(1) Student-t noise, pooled.

    Separates deployment-driven learning (w, unit-free) from time/research-driven learning (m,
    log cost per year). Where production grew exponentially, w and m trade off: the table
    ``calibration.experience_time_rates`` carries their posterior correlation ``corr_w_m`` per
    level, and the joint-posterior plot shows the ridge.
    """
    panel = pooled_panel(cost_observations, production, technologies, calibration)
    base_sampler = sampler_of(calibration)
    sampler = dataclasses.replace(
        base_sampler,
        target_accept=BOTH_TARGET_ACCEPT,
        draws=round(base_sampler.draws * DRAWS_FACTOR["experience_time"]),
    )
    dt, reused, secs = _fit(calibration, "learning_both", panel, BOTH, sampler)
    others = {
        MODELS["wright"].name: wright_fit,
        MODELS["time"].name: time_fit,
        MODELS["wright_normal"].name: wright_normal_fit,
    }
    comparison = summaries.model_comparison({**others, BOTH.name: dt})
    rates = summaries.learning_rates(dt, model=BOTH.name)
    joint = plots.joint_w_m_plot(dt)
    save_png(joint, calibration.plots_dir, "experience_time_joint_w_m")
    overall = rates.filter(pl.col("level") == "all")
    yield dg.Output(dt, output_name="experience_time_fit", metadata=_fit_metadata(dt, reused, secs))
    yield _check_result(BOTH_KEY, "converged", dt)
    yield dg.Output(
        rates,
        output_name="experience_time_rates",
        metadata={
            "w_all_mean": dg.MetadataValue.float(float(overall["w_mean"][0])),
            "m_all_mean": dg.MetadataValue.float(float(overall["m_mean"][0])),
            "plot_joint_w_m": plot(
                joint, "Joint posterior of w (unit-free) and m (ln cost per year)"
            ),
            "full_view": REPORT,
        },
    )
    yield dg.Output(comparison, output_name="model_comparison_all")


NATION_KEY = ["calibration", "solar_nation_fit"]


@dg.multi_asset(
    name="solar_nation",
    outs={
        "solar_nation_fit": fit_out(
            NATION_KEY,
            "National solar module prices (CHN RMB/W, DEU EUR/W, USA 2018 USD/W) against "
            "national and world cumulative capacity (MW), with spillover share lambda.",
        ),
        "solar_nation_rates": table_out(
            ["calibration", "solar_nation_rates"],
            "Per nation (CHN, DEU, USA) and overall, the solar module price fit: Wright "
            "exponent w (unit-free), learning rate 1 - 2^-w per doubling, spillover share lambda "
            "(fraction), rho, sigma (ln price per step); mean, sd, quantiles.",
        ),
        "solar_lambda": table_out(
            ["calibration", "solar_lambda"],
            "Draws of the spillover share lambda (a fraction in [0, 1]: the weight of national "
            "against world cumulative capacity) per nation, prior and posterior, one row per "
            "draw.",
        ),
    },
    ins=HARMONIZED_INS,
    pool=MCMC_POOL,
    check_specs=[dg.AssetCheckSpec("converged", asset=NATION_KEY, blocking=True)],
)
def solar_nation(
    context: dg.AssetExecutionContext,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
):
    """National solar module prices against national and world cumulative capacity: nation
    exponents and the spillover share lambda, pooled.

    log Q_eff = lambda log Q_nation + (1 - lambda) log Q_world. National and world capacity are
    highly correlated over these series, so lambda is weakly identified: the table
    ``calibration.solar_lambda`` shows its prior and posterior side by side.
    """
    panel = build_nation_panel(
        cost_observations,
        production,
        technologies,
        experience=SOLAR_NATION_EXPERIENCE,
        min_points=6,
    )
    config = LearningConfig(trend="wright", level="nation")
    sampler = dataclasses.replace(sampler_of(calibration), target_accept=NATION_TARGET_ACCEPT)
    dt, reused, secs = _fit(calibration, "solar_nation", panel, config, sampler)
    rates = summaries.learning_rates(dt, model=config.name)
    lam = lambda_prior_posterior(dt)
    png = plots.lambda_prior_posterior_plot(dt)
    save_png(png, calibration.plots_dir, "solar_lambda_prior_posterior")
    meta = _fit_metadata(dt, reused, secs)
    meta["nations"] = dg.MetadataValue.json(list(panel.nations))
    yield dg.Output(dt, output_name="solar_nation_fit", metadata=meta)
    yield _check_result(NATION_KEY, "converged", dt)
    yield dg.Output(rates, output_name="solar_nation_rates")
    yield dg.Output(
        lam,
        output_name="solar_lambda",
        metadata={
            "plot_lambda": plot(png, "Spillover share lambda: prior and posterior per nation"),
            "full_view": REPORT,
        },
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[learning_curve_fits, experience_time, solar_nation])
