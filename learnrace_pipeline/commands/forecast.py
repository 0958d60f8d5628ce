"""``learnrace forecast`` (distributional cost forecasts for a user's series) and
``learnrace forecast-prior`` (rebuild the shipped population prior from the pooled model).

Where the population posterior comes from: the package ships
``learnrace_pipeline/lib/forecast/population_prior.csv`` (posterior draws of a new series'
Wright exponent, noise scale and MA(1) coefficient, at the all-technology level and per industry)
with a ``.meta.json`` sidecar recording how it was made (data version, model id, code version,
sampler settings, diagnostics, date). It is produced by ``learnrace forecast-prior``, which fits
the pooled Wright model (:class:`~learnrace_pipeline.lib.models.learning.
LearningCurveModel`) to the ``datasets/`` snapshot (or ``--raw-dir``), or reads a fit saved by the
calibration assets (``--posterior fit.nc``). So ``learnrace forecast`` works from a clean clone
with no warehouse; ``--posterior`` points it at another fit (``.nc``/``.zarr``) or prior CSV.
"""

from __future__ import annotations

import datetime as _dt
import time
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from learnrace_pipeline.commands._tables import Col, sig3
from learnrace_pipeline.commands._tables import table as rich_table

console = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``forecast`` and ``forecast-prior`` to the ``learnrace`` command."""
    app.command("forecast")(forecast)
    app.command("forecast-prior")(forecast_prior)


def _load_priors(posterior: Path | None):
    from learnrace_pipeline.lib import forecast as fc

    if posterior is None:
        return fc.load_priors(fc.SHIPPED_PRIOR), str(fc.SHIPPED_PRIOR.name)
    if posterior.suffix == ".csv":
        return fc.load_priors(posterior), str(posterior)
    return fc.priors_from_posterior_file(posterior), str(posterior)


def forecast(
    input: Path = typer.Option(
        ..., "--input", help="Series CSV (see `learnrace forecast --help`)."
    ),
    output: Path = typer.Option(..., "--output", help="Where to write the forecasts."),
    industry: str | None = typer.Option(
        None, "--industry", help="Use the industry-level prior (default: all technologies)."
    ),
    fmt: str = typer.Option("csv", "--format", help="Output format: csv or json."),
    posterior: Path | None = typer.Option(
        None,
        "--posterior",
        help="A pooled Wright fit (.nc/.zarr) or prior CSV to use instead of the shipped prior.",
    ),
    summary: Path | None = typer.Option(
        None,
        "--summary",
        help="Also write each series' posterior Wright exponent and learning rate here.",
    ),
    samples: int = typer.Option(2000, "--samples", min=200, help="Monte Carlo samples per year."),
    seed: int = typer.Option(20240601, "--seed", help="Seed of every random draw."),
    production_damping: float = typer.Option(
        1.0,
        "--production-damping",
        min=0.0,
        max=1.0,
        help="phi of projected production: growth of log annual production fades by phi a year "
        "(1 = random walk with drift, the default; 0.8 forecasts production best in hindcasts).",
    ),
) -> None:
    """Forecast unit costs with calibrated intervals (Wright's law, pooled prior, MA(1) noise).

    The input has columns series_id, year, unit_cost and annual_production and/or
    cumulative_production. A blank unit_cost marks a year to forecast. Output: one row per
    series and forecast year with q05, q10, q25, q50, q75, q90, q95 in the input's cost units,
    the model used, how production was obtained (given, interpolated or projected) and the
    cumulative production assumed (cumulative_production_q50 and its 90% interval).
    --summary writes one row per series: the posterior mean, sd and 5/50/95% quantiles of its
    Wright exponent w and the 5/50/95% quantiles of its learning rate 1 - 2^-w (share of unit
    cost lost per doubling of cumulative production), in the same format.
    """
    from learnrace_pipeline.lib import forecast as fc
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.forecast import inputs as fi

    t0 = time.perf_counter()
    try:
        if fmt not in ("csv", "json"):
            raise fi.DataError(f"unknown format {fmt!r}: use csv or json", source="--format")
        fi.check_industry(industry)
        if summary is not None and summary.resolve() == output.resolve():
            raise fi.DataError("--summary must be another file than --output", source="--summary")
        inp = fi.read_input(input)
        priors, prior_source = _load_priors(posterior)
        prior, note = fc.choose_prior(priors, industry)
        config = fc.ForecastConfig(
            n_samples=samples, seed=seed, production_damping=production_damping
        )
        result = fc.simulate(inp.task, prior, config=config)
        fc.check_finite(result)
        table = fc.quantile_frame(result, model=fc.model_name(prior))
        fc.write_forecasts(table, output, fmt)  # type: ignore[arg-type]
        if summary is not None and result.series is not None:
            fc.write_forecasts(result.series, summary, fmt)  # type: ignore[arg-type]
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if note:
        err.print(f"[yellow]note[/] {escape(note)}", soft_wrap=True)
    s = prior.summary()
    run = pl.DataFrame(
        {
            "series": [inp.n_series],
            "years_forecast": [inp.n_targets],
            "prior": [escape(f"{prior.level} ({prior_source})")],
            "prior_learning_rate": [s["learning_rate"]],
            "seconds": [time.perf_counter() - t0],
        }
    )
    columns = [
        Col("series", lambda r: f"{r['series']:,}"),
        Col("years forecast", lambda r: f"{r['years_forecast']:,}"),
        Col("prior", lambda r: r["prior"], "left"),
        Col(
            "prior mean learning rate (% per doubling)",
            lambda r: sig3(100 * r["prior_learning_rate"]),
        ),
        Col("time (s)", lambda r: sig3(r["seconds"])),
    ]
    console.print(rich_table(run, columns, f"learnrace forecast -> {escape(str(output))}"))
    if summary is not None and result.series is not None:
        lr = result.series["learning_rate_q50"]
        console.print(
            f"per-series exponents -> {escape(str(summary))} (median learning rate: "
            f"{lr.min():.1%} to {lr.max():.1%} across series)"
        )


def forecast_prior(
    out: Path | None = typer.Option(
        None, "--out", help="Prior CSV to write (default: the shipped file in the package)."
    ),
    posterior: Path | None = typer.Option(
        None, "--posterior", help="Use this saved pooled Wright fit (.nc/.zarr) instead of fitting."
    ),
    raw_dir: Path | None = typer.Option(
        None, "--raw-dir", help="Parse these raw files instead of the datasets/ snapshot."
    ),
    source: list[str] | None = typer.Option(
        None, "--source", help="Sources of the panel (repeatable; default pcdb_carnegie)."
    ),
    draws: int = typer.Option(2000, "--draws", help="Kept draws per chain."),
    tune: int = typer.Option(1000, "--tune", help="Warm-up draws per chain."),
    chains: int = typer.Option(4, "--chains", help="Chains."),
    target_accept: float = typer.Option(
        0.95, "--target-accept", help="NUTS target acceptance rate of the pooled fit."
    ),
    max_draws: int = typer.Option(500, "--max-draws", help="Draws kept per level in the file."),
    noise: str = typer.Option(
        "student_t", "--noise", help="Innovations of the pooled fit: student_t or normal."
    ),
    seed: int = typer.Option(20240601, "--seed", help="Sampler seed."),
) -> None:
    """Fit the pooled Wright model (or read a fit) and write the population prior file."""
    from learnrace_pipeline.lib import forecast as fc
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.evaluation.hindcast_fit import HYPER_PARAMETERS
    from learnrace_pipeline.lib.models import base
    from learnrace_pipeline.lib.models.learning.panel import load_panel

    sources = source or ["pcdb_carnegie"]
    target = out or fc.SHIPPED_PRIOR
    meta: dict[str, object] = {
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "made_by": "learnrace forecast-prior",
    }
    try:
        if posterior is not None:
            dt = base.load(posterior)
            meta["fit_file"] = str(posterior)
        else:
            from learnrace_pipeline.lib.models.learning import LearningConfig, LearningCurveModel

            panel = load_panel(sources, raw_dir=str(raw_dir) if raw_dir else None)
            sampler = base.SamplerConfig(
                draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept
            )
            if noise not in ("student_t", "normal"):
                raise LearnraceError(f"unknown --noise {noise!r}: use student_t or normal")
            cfg = LearningConfig(trend="wright", noise=noise, ma1=True, level="pooled")
            with console.status("fitting the pooled Wright model"):
                dt = LearningCurveModel(panel, cfg, sampler).fit(
                    log_likelihood=False, predictive=False
                )
            meta |= {
                "sources": sources,
                "data": "raw files" if raw_dir else "datasets/ snapshot",
                "n_series": panel.n_series,
                "n_differences": panel.n_obs,
                "industries": list(panel.industries),
            }
        import arviz as az

        names = [v for v in HYPER_PARAMETERS if v in dt["posterior"]]
        rhat = az.rhat(dt, var_names=names)
        ess = az.ess(dt, var_names=names)
        meta["diagnostics"] = {
            "max_rhat": max(float(rhat[v].max()) for v in names),
            "min_ess_bulk": min(float(ess[v].min()) for v in names),
            "divergences": int(dt["sample_stats"]["diverging"].sum()),
        }
        meta["fit_attrs"] = {
            k: str(v)
            for k, v in dt.attrs.items()
            if k in (*base.PROVENANCE_ATTRS, "compile_seconds", "sample_seconds")
        }
        priors = fc.population_priors(dt, max_draws=max_draws)
        fc.save_priors(priors, target, meta)
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    t = Table(title=f"population prior -> {target}")
    for c in ("level", "draws", "w mean", "LR", "sigma median", "rho mean"):
        t.add_column(c)
    for level, p in priors.items():
        s = p.summary()
        t.add_row(
            level,
            str(p.n_draws),
            f"{s['w_mean']:.3f}",
            f"{s['learning_rate']:.1%}",
            f"{s['sigma_median']:.3f}",
            f"{s['rho_mean']:.2f}",
        )
    console.print(t)
    console.print(f"diagnostics: {meta['diagnostics']}")
