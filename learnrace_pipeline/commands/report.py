"""``learnrace report``: the race report, one self-contained offline HTML file."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from learnrace_pipeline.commands._common import err

#: The report's default file name, beside the warehouse.
DEFAULT_NAME = "report.html"


def register(app: typer.Typer) -> None:
    app.command("report")(report)


def report(
    db: Path | None = typer.Option(None, "--db", help="Warehouse (default $LEARNRACE_DB)."),
    out: Path | None = typer.Option(
        None, "--out", help=f"HTML file to write (default {DEFAULT_NAME} beside the warehouse)."
    ),
    spec: Path | None = typer.Option(
        None, "--spec", help="Race specification (default the shipped race.yaml)."
    ),
) -> None:
    """Write the race report: one HTML file with no external scripts, styles, fonts or images
    (plots inline as PNG), readable offline. It holds the race table; per industry the
    closing-year distributions, learning curves, capability, deployment and attribution; the
    scenario comparison; the race hindcast and the cost forecasts' hindcast calibration; and
    the data gaps. A part whose warehouse table does not exist yet says "not yet computed".
    The file is replaced atomically (a reader never sees half a report).
    """
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.race.spec import load_spec
    from learnrace_pipeline.lib.report.race_report import write_report
    from learnrace_pipeline.lib.storage.warehouse import default_db_path

    db_path = Path(db or default_db_path())
    target = out or db_path.parent / DEFAULT_NAME
    try:
        race_spec = load_spec(spec)
        with err.status(f"building the report from {db_path}"):
            written = write_report(db_path, target, race_spec)
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", soft_wrap=True)
        raise typer.Exit(2) from None
    size = written.stat().st_size
    err.print(f"report written: {escape(str(written))} ({size / 1e6:.2f} MB)", soft_wrap=True)
    typer.echo(str(written))
