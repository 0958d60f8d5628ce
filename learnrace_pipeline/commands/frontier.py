"""``learnrace frontier``: the AI training-compute frontier per nation at a date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from learnrace_pipeline.commands._common import emit, err, fits_dir, load_table


def register(app: typer.Typer) -> None:
    app.command("frontier")(frontier)


def frontier(
    as_of: str = typer.Option(..., "--as-of", help="Date, YYYY-MM-DD."),
    fmt: str = typer.Option("table", "--format", help="json or table."),
    db: Path | None = typer.Option(None, "--db", help="Warehouse (default $LEARNRACE_DB)."),
) -> None:
    """Per nation at --as-of: q05..q95 of frontier training compute (log10 FLOP), doubling time
    (months) and gap to the leader (years), from the posterior of the frontier model.

    Uses the fit saved by `make run` when present; otherwise fits once (about a minute) from the
    warehouse or the shipped snapshot and saves it for next time.
    """
    from learnrace_pipeline.lib.models.frontier import frontier_at
    from learnrace_pipeline.lib.models.saved_fits import frontier_fit

    if fmt not in ("json", "table"):
        raise typer.BadParameter("--format must be json or table")
    try:
        when = dt.date.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter(f"--as-of {as_of!r} is not a YYYY-MM-DD date") from None
    ai_models, origin = load_table("ai_models", "epoch_ai", db)
    with err.status(f"frontier posterior (data: {origin})"):
        fit, reused = frontier_fit(ai_models, fits_dir(db))
    err.print(
        f"frontier model: {'saved fit reused' if reused else 'fitted and saved'}; data: {origin}"
    )
    emit(frontier_at(fit, when), fmt, f"AI compute frontier at {when}")
