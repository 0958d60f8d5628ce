"""Shared pieces of the model-backed commands: where tables and saved fits come from."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape

from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import connect, default_db_path, fetch_pl

err = Console(stderr=True)


def say(message: str) -> None:
    """A line about a wait (a lock, a pool slot) or a recovery, on stderr."""
    err.print(message, style="yellow", markup=False, highlight=False, soft_wrap=True)


class _SayHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        say(self.format(record))


def show_waits() -> None:
    """Print the lib's lines about waits (``learnrace_pipeline`` logger, WARNING) on stderr."""
    logger = logging.getLogger("learnrace_pipeline")
    if not any(isinstance(h, _SayHandler) for h in logger.handlers):
        logger.addHandler(_SayHandler(logging.WARNING))


def fits_dir(db: Path | None = None) -> Path:
    """Saved fits live beside the warehouse: ``<db folder>/fits`` (as the calibration assets)."""
    return Path(db or default_db_path()).parent / "fits"


def load_table(table: str, source: str, db: Path | None = None) -> tuple[pl.DataFrame, str]:
    """(frame, origin): ``harmonized.<table>`` from the warehouse when it has it, else the
    shipped snapshot of ``source``."""
    path = Path(db or default_db_path())
    if path.exists():
        with connect(path, read_only=True) as con:
            present = fetch_pl(
                con,
                "SELECT count(*) AS n FROM duckdb_tables() "
                "WHERE schema_name = 'harmonized' AND table_name = ?",
                [table],
            )["n"][0]
            if present:
                return fetch_pl(con, f'SELECT * FROM harmonized."{table}"'), f"warehouse {path}"
    return snapshot.load(snapshot.DEFAULT_DATASETS, source)[table], f"snapshot datasets/{source}"


def table_or_exit(table: str, source: str, db: Path | None = None) -> tuple[pl.DataFrame, str]:
    """:func:`load_table` for a command: a wait for a writer's lock is said on stderr, and a
    reader that gives up (``LEARNRACE_LOCK_TIMEOUT``) or another project error ends the command
    with one line and exit code 1, never a traceback."""
    from learnrace_pipeline.lib.errors import LearnraceError

    show_waits()
    try:
        return load_table(table, source, db)
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
