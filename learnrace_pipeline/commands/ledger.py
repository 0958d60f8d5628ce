"""``learnrace ledger``: the race's forecast vintages and their scores against later data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from learnrace_pipeline.commands._common import err
from learnrace_pipeline.commands._tables import FORMATS, Col, render, sig3

#: Characters of the data version the default table shows (json/csv: all 16, and the vintage
#: id, left out of the table so that a 100-column terminal holds the longest scenario name).
SHORT = 8


def register(app: typer.Typer) -> None:
    app.command("ledger")(ledger)


def _short(text: str | None) -> str:
    return "n/a" if text is None else text[:SHORT]


#: The default table: one row per vintage, its latest scores over all quantities.
COLUMNS = [
    Col("created (UTC)", lambda r: r["created_at"].strftime("%Y-%m-%dT%H:%MZ"), "left"),
    Col("scenario", lambda r: r["scenario"], "left"),
    Col("data version", lambda r: _short(r["data_version"]), "left"),
    Col("rows", lambda r: f"{r['n_rows']:,}"),
    Col("scored", lambda r: f"{r['n_scored']:,}"),
    Col("50% cov.", lambda r: sig3(r["cov50"])),
    Col("90% cov.", lambda r: sig3(r["cov90"])),
    Col("pinball", lambda r: sig3(r["pinball"])),
]

CAPTION = (
    "Scores against the latest observed data recorded: the share of scored forecasts inside "
    "their central 50% and 90% intervals, and the mean pinball loss over the 7 quantiles "
    "(on natural logs where the quantity is positive; closing years left out; lower is "
    "better). n/a: nothing observed yet. Vintage ids and every column: --format json or csv; "
    "one vintage by quantity: --vintage ID."
)

#: The table of one vintage (--vintage): its latest scores per quantity.
QUANTITY_COLUMNS = [
    Col("quantity", lambda r: r["quantity"], "left"),
    Col("rows", lambda r: f"{r['n_rows']:,}"),
    Col("scored", lambda r: f"{r['n_scored']:,}"),
    Col("50% cov.", lambda r: sig3(r["cov50"])),
    Col("90% cov.", lambda r: sig3(r["cov90"])),
    Col("pinball", lambda r: sig3(r["pinball"])),
    Col("Brier", lambda r: sig3(r["brier"])),
]

QUANTITY_CAPTION = (
    "Scores against the latest observed data this vintage was scored against. Pinball: mean "
    "over the 7 quantiles, on natural logs where the quantity is positive, in years for "
    "closing years (all: closing years left out). Brier: (P(closed by the horizon) - closed)^2, "
    "closing years whose outcome the data shows."
)


def ledger(
    db: Path | None = typer.Option(
        None,
        "--db",
        help="Warehouse; the ledger is ledger.duckdb beside it (default $LEARNRACE_DB).",
    ),
    ledger_file: Path | None = typer.Option(
        None,
        "--ledger",
        help="The ledger file itself (default $LEARNRACE_LEDGER, else beside --db).",
    ),
    vintage: str | None = typer.Option(
        None, "--vintage", help="One vintage (an id or its first characters): scores by quantity."
    ),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
) -> None:
    """List the race's forecast vintages, oldest first: when each was made (UTC), its scenario,
    data version, its forecast rows, how many of them later data has scored, and
    its latest scores (50% and 90% interval coverage, log-pinball). --vintage ID: that
    vintage's latest scores by quantity (volume, capability, cost, closing year, all).

    The ledger is its own file (append-only), kept when the warehouse is rebuilt.
    No ledger yet: a one-line note and exit 0 (json: [], csv: nothing).
    """
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.race.ledger import (
        default_ledger_path,
        find_vintage,
        list_vintages,
        vintage_scores,
    )

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    path = ledger_file or default_ledger_path(db)
    if not path.exists():
        err.print(
            f"no forecast ledger at {escape(str(path))} yet: the race adds a vintage each time "
            "it is materialized",
            highlight=False,
            soft_wrap=True,
        )
        if fmt == "json":
            print("[]")
        return
    try:
        if vintage is None:
            render(list_vintages(path), fmt, COLUMNS, f"Forecast ledger {path}", CAPTION)
            return
        vid = find_vintage(path, vintage)
        table = vintage_scores(path, vid)
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    render(table, fmt, QUANTITY_COLUMNS, f"Vintage {vid} ({path})", QUANTITY_CAPTION)
