"""``learnrace frontier``: the AI training-compute frontier per nation at a date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import typer
from rich.markup import escape

from learnrace_pipeline.commands._common import err, fits_dir, table_or_exit
from learnrace_pipeline.commands._tables import FORMATS, Col, interval, pow10, render, sci, sig3


def register(app: typer.Typer) -> None:
    app.command("frontier")(frontier)


def _q(name: str, q: str):
    return lambda r: r[f"{name}_q{q}"]


#: The default table: nation, record, frontier median and 90% interval, doubling, gap, P(leader).
COLUMNS = [
    Col("nation", lambda r: r["nation"], "left"),
    Col("record model", lambda r: r["record_model"], "left"),
    Col("record (FLOP)", lambda r: sci(pow10(r["record_log10_flop"]))),
    Col("frontier median (FLOP)", lambda r: sci(pow10(r["log10_flop_q50"]))),
    Col(
        "90% interval (FLOP)",
        lambda r: (
            "insufficient data"
            if r["status"] == "insufficient data"
            else interval(sci(pow10(r["log10_flop_q05"])), sci(pow10(r["log10_flop_q95"])))
        ),
    ),
    Col("doubling (months)", lambda r: sig3(r["doubling_months_q50"])),
    Col("gap to leader (years)", lambda r: sig3(r["gap_years_q50"])),
    Col("P(leader)", lambda r: sig3(r["p_leader"])),
]


#: The default table leaves out nations whose record is more than this many orders of
#: magnitude below the largest (academic models of 1e9-1e17 FLOP); json and csv keep them.
SHOWN_OOM = 3.0


def shown(table: pl.DataFrame) -> pl.DataFrame:
    """The rows of the default table: nations within :data:`SHOWN_OOM` orders of magnitude of
    the largest record."""
    if table.is_empty():
        return table
    top = table["record_log10_flop"].max()
    return table.filter(pl.col("record_log10_flop") >= top - SHOWN_OOM)


def caption(table: pl.DataFrame) -> str:
    """What the table's frontier is at its date (observed records inside the data, forecast
    beyond it) and which nations it leaves out."""
    from learnrace_pipeline.lib.models.frontier_posterior import MAX_FORECAST_YEARS

    if table.is_empty():
        return "no nation has a model with known compute by this date"
    left_out = table.height - shown(table).height
    end, when = table["data_end"][0], table["as_of"][0]
    if when <= end:
        what = f"inside the data (to {end}): the frontier is each nation's observed record"
    else:
        what = (
            f"{(when - end).days} days after the data (to {end}): the frontier is forecast "
            f"(extrapolated; at most {MAX_FORECAST_YEARS} years past the data)"
        )
    omitted = (
        f" {left_out} nation(s) with records over {10**SHOWN_OOM:,.0f}x below the largest left out."
        if left_out
        else ""
    )
    return (
        f"{what}. Medians: doubling time of the nation's trend, years behind the leader at its "
        "own rate. Insufficient data: fewer than 2 frontier record setters, no trend (the "
        f"nation keeps its record).{omitted} Every nation and column: --format json or csv."
    )


def frontier(
    as_of: str = typer.Option(..., "--as-of", help="Date, YYYY-MM-DD."),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    db: Path | None = typer.Option(None, "--db", help="Warehouse (default $LEARNRACE_DB)."),
) -> None:
    """Per nation at --as-of: its record (largest training run so far), the frontier's median and
    90% interval (FLOP; observed inside the data, forecast beyond it), the doubling time
    (months), the gap to the leader (years) and P(leader).

    Uses the fit saved by `make run` when present; otherwise fits once (well under a minute) from
    the warehouse or the shipped snapshot and saves it for next time. --format json or csv gives
    every column: q05..q95 of the frontier (log10 FLOP), doubling time and gap, records per year.

    --as-of must lie between the first model with known compute in the data and 10 years past
    the data end; beyond the data end the frontier is a forecast (extrapolation: status
    "forecast", and a note on standard error with --format json or csv).
    """
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.models.frontier_posterior import (
        MAX_FORECAST_YEARS,
        check_as_of,
        frontier_at,
        table_window,
    )
    from learnrace_pipeline.lib.models.saved_fits import frontier_fit

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    try:
        when = dt.date.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter(f"--as-of {as_of!r} is not a YYYY-MM-DD date") from None
    ai_models, origin = table_or_exit("ai_models", "epoch_ai", db)
    try:
        first, end = table_window(ai_models)
        check_as_of(when, first, end)  # before fitting
        with err.status(f"frontier posterior (data: {origin})"):
            fit, reused = frontier_fit(ai_models, fits_dir(db))
        err.print(
            f"frontier model: {'saved fit reused' if reused else 'fitted and saved'}; "
            f"data: {origin}"
        )
        table = frontier_at(fit, when)
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if when > end and fmt != "table":  # the table's caption says it
        years = (when - end).days / 365.25
        err.print(
            f"[yellow]note[/] {when} is {years:.1f} years past the data end ({end}): the "
            f"frontier is a forecast (extrapolation, allowed up to {MAX_FORECAST_YEARS} years)",
            soft_wrap=True,
        )
    title = f"AI training-compute frontier at {when}"
    render(table if fmt != "table" else shown(table), fmt, COLUMNS, title, caption(table))
