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

``--model time`` forecasts with the pooled time-trend model instead (drift ``m`` in log cost per
year, MA(1) noise; :mod:`learnrace_pipeline.lib.forecast.time_trend`) and needs no production.
Its prior ships as ``learnrace_pipeline/lib/forecast/time_prior.csv``, made by
``learnrace forecast-prior --model time`` from the pooled time-trend fit of every cost series
of the snapshot with >= 6 years (the panel of the ``calibration/time_all_fit`` asset);
``--posterior`` accepts that asset's fit (``.learnrace/fits/assets/calibration/time_all_fit.nc``).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import time
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from learnrace_pipeline.commands._progress import Progress
from learnrace_pipeline.commands._tables import Col, sig3
from learnrace_pipeline.commands._tables import table as rich_table

console = Console()
err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add ``forecast`` and ``forecast-prior`` to the ``learnrace`` command."""
    app.command("forecast")(forecast)
    app.command("forecast-prior")(forecast_prior)


MODELS = ("auto", "pool", "wright", "experience_time", "time")
#: the prior files shipped for each model
PRIOR_MODELS = ("wright", "experience_time", "time")


def _where(path: Path | None) -> str:
    """An output path as printed: ``-`` is standard output."""
    return "standard output" if str(path) == "-" else str(path)


def _read_priors(posterior: Path):
    """The priors by level in a prior CSV or a saved pooled fit, and the file's name."""
    from learnrace_pipeline.lib import forecast as fc

    if posterior.suffix == ".csv":
        return fc.load_priors(posterior), str(posterior)
    return fc.priors_from_posterior_file(posterior), str(posterior)


def _load_priors(posterior: Path | None, model: str = "wright", *, read=None):
    """The priors by level for ``model`` and where they came from (``read``: the result of
    :func:`_read_priors` when the file was already read); a prior of another model's trend is
    refused (ModelError)."""
    from learnrace_pipeline.lib import forecast as fc
    from learnrace_pipeline.lib.errors import ModelError

    if posterior is None:
        shipped = {
            "time": fc.SHIPPED_TIME_PRIOR,
            "experience_time": fc.SHIPPED_EXPERIENCE_TIME_PRIOR,
        }.get(model, fc.SHIPPED_PRIOR)
        priors, source = fc.load_priors(shipped), str(shipped.name)
    else:
        priors, source = read or _read_priors(posterior)
    first = next(iter(priors.values()))
    if model == "time":
        fc.check_time_prior(first)
    elif model == "experience_time":
        if not first.has_drift:
            raise ModelError(
                f"--model experience_time needs a prior from a pooled experience+time fit; "
                f"{source} has no time drift (trend={first.attrs.get('trend')!r})"
            )
    elif first.has_drift or first.attrs.get("trend", "wright") != "wright":
        raise ModelError(
            f"--model wright needs a prior from a pooled Wright fit; {source} is from "
            f"trend={first.attrs.get('trend')!r} (use --model time)"
        )
    return priors, source


def _model_of(priors) -> str:
    """The forecaster priors read from a file are for: ``experience_time`` (a drift),
    ``time`` (a time-trend fit) or ``wright``."""
    first = next(iter(priors.values()))
    if first.has_drift:
        return "experience_time"
    return "time" if first.attrs.get("trend") == "time" else "wright"


def forecast(
    input: Path = typer.Option(
        ..., "--input", help="Series CSV (see `learnrace forecast --help`)."
    ),
    output: Path = typer.Option(
        ...,
        "--output",
        help="Where to write the forecasts (a new or regular file, not the input; - for "
        "standard output).",
    ),
    industry: str | None = typer.Option(
        None, "--industry", help="Use the industry-level prior (default: all technologies)."
    ),
    fmt: str = typer.Option("csv", "--format", help="Output format: csv or json."),
    posterior: Path | None = typer.Option(
        None,
        "--posterior",
        help="A pooled fit (Wright, experience+time or time trend; .nc/.zarr) or prior CSV to "
        "use instead of the shipped prior.",
    ),
    summary: Path | None = typer.Option(
        None,
        "--summary",
        help="Also write each series' posterior exponent, learning rate, drift and channel "
        "attribution here (- for standard output).",
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
    model: str = typer.Option(
        "auto",
        "--model",
        help="auto (the default: the model the warehouse hindcast scores best, see the "
        "README), pool (the equal-weight mixture of wright and experience_time), wright (cost "
        "vs cumulative production), experience_time (cumulative production and a drift per "
        "year together) or time (a drift per year; production columns optional and unused).",
    ),
) -> None:
    """Forecast unit costs with calibrated intervals (pooled prior from 70+ technologies,
    Student-t MA(1) noise; by default the mixture of Wright's law and experience+time).

    --model experience_time forecasts with the pooled experience+time model: cost falls with
    cumulative production (exponent w) and by a drift m per year besides, the drift shrunk hard
    toward the population's. --model pool forecasts with the equal-weight mixture of the wright
    and experience_time forecasters (their samples together; a --posterior is refused, as the
    pool needs one prior of each). --summary then also gives each series' m and, for every
    model, the channel attribution of its furthest forecast year: the mean fall of log cost, its
    experience part (w times the growth of log cumulative production) and time part (m times
    the years ahead), which add up to it, their shares and intervals. --model auto (the
    default) uses the model the warehouse hindcast scores best (README, "Which model"), or,
    with --posterior, the model that fit or prior file is for.

    --model time forecasts with the pooled time-trend model instead (cost falls by a drift m
    per year, MA(1) noise, prior from the pooled time-trend fit of every cost series): the
    input needs only series_id, year and unit_cost; the output has no cumulative-production
    columns, and --summary gives each series' drift m (log cost per year), its annual decline
    1 - exp(-m) and halving time ln 2 / m (years).

    The input has columns series_id, year, unit_cost and annual_production and/or
    cumulative_production. A blank unit_cost marks a year to forecast. Output: one row per
    series and forecast year with q05, q10, q25, q50, q75, q90, q95 in the input's cost units,
    the model used, how production was obtained (given, interpolated or projected) and the
    cumulative production assumed (cumulative_production_q50 and its 90% interval).
    --summary writes one row per series: the posterior mean, sd and 5/50/95% quantiles of its
    Wright exponent w and the 5/50/95% quantiles of its learning rate 1 - 2^-w (share of unit
    cost lost per doubling of cumulative production), in the same format.

    Years must be whole numbers from 1800 to 2200, and every cost and production value (given,
    or cumulative production derived from annual) within 1e-200 to 1e200; a forecast that
    leaves the floating-point range is refused, not written. --output (and --summary) may be -
    for standard output; an output that is the input (or --posterior, or the other output), a
    symbolic link, a directory or a special file (/dev/null, a FIFO) is refused before any
    work. In CSV output a text cell starting with =, +, -, @, a tab or a carriage return (a
    series_id a spreadsheet would run as a formula) is written with a leading ' (JSON keeps it
    exact).

    On a terminal, stderr shows the series forecast so far of all and the time elapsed, on one
    line rewritten in place; in a pipe, nothing.
    """
    from learnrace_pipeline.lib import forecast as fc
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.forecast import inputs as fi

    t0 = time.perf_counter()
    try:
        if fmt not in ("csv", "json"):
            raise fi.DataError(f"unknown format {fmt!r}: use csv or json", source="--format")
        if model not in MODELS:
            raise fi.DataError(
                f"unknown model {model!r}: use {', '.join(MODELS)}", source="--model"
            )
        read = None
        if model == "auto":
            # a given fit or prior file decides the model (read once); else the hindcast's choice
            if posterior is None:
                model = fc.AUTO_MODEL
            else:
                read = _read_priors(posterior)
                model = _model_of(read[0])
        fi.check_industry(industry)
        if fc.is_stdout(output) and fc.is_stdout(summary):
            raise fi.DataError(
                "--output and --summary cannot both be - (standard output)", source="--summary"
            )
        reads = {"--input": input, "--posterior": posterior}
        fc.check_output_path(output, "--output", {**reads, "--summary": summary})
        if summary is not None:
            fc.check_output_path(summary, "--summary", {**reads, "--output": output})
        if model == "pool" and posterior is not None:
            raise fi.DataError(
                "--model pool uses the shipped Wright and experience+time priors; give "
                "--posterior with --model wright or experience_time",
                source="--posterior",
            )
        inp = fi.read_input(input, "time" if model == "time" else "wright")
        priors, prior_source = _load_priors(
            posterior, "wright" if model == "pool" else model, read=read
        )
        prior, note = fc.choose_prior(priors, industry)
        config = fc.ForecastConfig(
            n_samples=samples, seed=seed, production_damping=production_damping
        )
        # progress on a terminal: series forecast (each half of the pool in turn)
        total = inp.n_series * (2 if model == "pool" else 1)
        with Progress("learnrace forecast", total, unit="series") as progress:
            if model == "pool":
                et_priors, et_source = _load_priors(None, "experience_time")
                et_prior, _ = fc.choose_prior(et_priors, industry)
                prior_source = f"{prior_source} + {et_source}"
                # summarised block by block, on every core (same result on any number)
                result = fc.pool_summary(
                    inp.task, prior, et_prior, config=config, workers=os.cpu_count() or 1,
                    progress=progress.advance,
                )  # fmt: skip
            else:
                result = fc.simulate(inp.task, prior, config=config, progress=progress.advance)
        table, per_series = fc.result_tables(result, model, prior)
        if summary is not None and per_series is not None:
            fc.check_finite_output(per_series)
        fc.write_forecasts(table, output, fmt)  # type: ignore[arg-type]
        if summary is not None and per_series is not None:
            fc.write_forecasts(per_series, summary, fmt)  # type: ignore[arg-type]
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if note:
        err.print(f"[yellow]note[/] {escape(note)}", soft_wrap=True)
    s = prior.summary()
    # time: the prior mean drift m as the share of unit cost lost per year, 1 - exp(-m)
    rate = 1 - math.exp(-s["w_mean"]) if model == "time" else s["learning_rate"]
    run = pl.DataFrame(
        {
            "series": [inp.n_series],
            "years_forecast": [inp.n_targets],
            "prior": [escape(f"{prior.level} ({prior_source})")],
            "prior_rate": [rate],
            "seconds": [time.perf_counter() - t0],
        }
    )
    rate_name = (
        "prior mean cost decline (% per year)"
        if model == "time"
        else "prior mean learning rate (% per doubling)"
    )
    columns = [
        Col("series", lambda r: f"{r['series']:,}"),
        Col("years forecast", lambda r: f"{r['years_forecast']:,}"),
        Col("prior", lambda r: r["prior"], "left"),
        Col(rate_name, lambda r: sig3(100 * r["prior_rate"])),
        Col("time (s)", lambda r: sig3(r["seconds"])),
    ]
    # with a table on standard output, the run's report goes to standard error
    report = err if fc.is_stdout(output) or fc.is_stdout(summary) else console
    report.print(rich_table(run, columns, f"learnrace forecast -> {escape(_where(output))}"))
    if summary is not None and per_series is not None:
        if model == "time":
            d = per_series["annual_decline_q50"]
            report.print(
                f"per-series drifts -> {escape(_where(summary))} (median cost decline: "
                f"{d.min():.1%} to {d.max():.1%} a year across series)"
            )
        else:
            lr = per_series["learning_rate_q50"]
            report.print(
                f"per-series exponents -> {escape(_where(summary))} (median learning rate: "
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
    target_accept: float | None = typer.Option(
        None,
        "--target-accept",
        help="NUTS target acceptance rate of the pooled fit (default 0.95; 0.99 for "
        "experience_time, whose drift ridge needs small steps).",
    ),
    max_draws: int = typer.Option(500, "--max-draws", help="Draws kept per level in the file."),
    noise: str = typer.Option(
        "student_t", "--noise", help="Innovations of the pooled fit: student_t or normal."
    ),
    seed: int = typer.Option(20240601, "--seed", help="Sampler seed."),
    model: str = typer.Option(
        "wright",
        "--model",
        help="wright (the default prior), experience_time (the pooled experience+time prior: "
        "every cost series with experience, default every source) or time (the time-trend "
        "prior: every cost series of the sources with >= 6 years, default every source).",
    ),
) -> None:
    """Fit the pooled Wright model (or read a fit) and write the population prior file.

    --model experience_time fits the pooled experience+time model (dlog c = -w dlog Q - m dt +
    e, MA(1)) to the pooled panel of every source (the panel of the calibration fits) and
    writes the experience+time prior (default: the shipped experience_time_prior.csv).

    --model time fits the pooled time-trend model (dlog c = -m dt + e, MA(1)) to every cost
    series with >= 6 years, one per technology and nation (the time_all panel), and writes the
    time prior (default: the shipped time_prior.csv)."""
    from learnrace_pipeline.lib import forecast as fc
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.evaluation.hindcast_fit import HYPER_PARAMETERS
    from learnrace_pipeline.lib.models import base
    from learnrace_pipeline.lib.models.learning.panel import load_panel, load_tables
    from learnrace_pipeline.lib.models.learning.time_panel import build_time_panel
    from learnrace_pipeline.lib.sources import SOURCES

    if model not in PRIOR_MODELS:
        err.print(f"[red]error[/] unknown model {escape(model)!r}: use {', '.join(PRIOR_MODELS)}")
        raise typer.Exit(2)
    sources = source or (list(SOURCES) if model != "wright" else ["pcdb_carnegie"])
    target = out or {
        "time": fc.SHIPPED_TIME_PRIOR,
        "experience_time": fc.SHIPPED_EXPERIENCE_TIME_PRIOR,
    }.get(model, fc.SHIPPED_PRIOR)
    if target_accept is None:
        target_accept = 0.99 if model == "experience_time" else 0.95
    meta: dict[str, object] = {
        "created": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "made_by": "learnrace forecast-prior",
    }
    try:
        if str(target) == "-":
            raise LearnraceError("--out - is not supported: the prior is a CSV plus a sidecar")
        fc.check_output_path(Path(target), "--out", {"--posterior": posterior})
        if posterior is not None:
            dt = base.load(posterior)
            meta["fit_file"] = str(posterior)
        else:
            from learnrace_pipeline.lib.models.learning import LearningConfig, LearningCurveModel

            raw = str(raw_dir) if raw_dir else None
            if model == "time":
                t = load_tables(sources, raw_dir=raw)
                panel = build_time_panel(t["cost_observations"], t["technologies"])
            else:
                panel = load_panel(sources, raw_dir=raw)
            sampler = base.SamplerConfig(
                draws=draws, tune=tune, chains=chains, seed=seed, target_accept=target_accept
            )
            if noise not in ("student_t", "normal"):
                raise LearnraceError(f"unknown --noise {noise!r}: use student_t or normal")
            trend = "both" if model == "experience_time" else model
            cfg = LearningConfig(trend=trend, noise=noise, ma1=True, level="pooled")
            with console.status(f"fitting the pooled {model} model"):
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
    time_model = model == "time"
    drift = model == "experience_time"
    names = ("m mean", "decline/yr") if time_model else ("w mean", "LR")
    for c in ("level", "draws", *names, *(("m mean",) if drift else ()), "sigma median",
              "rho mean"):  # fmt: skip
        t.add_column(c)
    for level, p in priors.items():
        s = p.summary()
        rate = 1 - math.exp(-s["w_mean"]) if time_model else s["learning_rate"]
        t.add_row(
            level,
            str(p.n_draws),
            f"{s['w_mean']:.3f}",
            f"{rate:.1%}",
            *((f"{s['m_mean']:.3f}",) if drift else ()),
            f"{s['sigma_median']:.3f}",
            f"{s['rho_mean']:.2f}",
        )
    console.print(t)
    console.print(f"diagnostics: {meta['diagnostics']}")
