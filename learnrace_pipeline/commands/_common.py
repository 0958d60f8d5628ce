"""Shared pieces of the model-backed commands: where tables and saved fits come from."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import connect, default_db_path, fetch_pl

err = Console(stderr=True)


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


def _jsonable(v):
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, float) and v != v:
        return None
    return v


def emit(df: pl.DataFrame, fmt: str, title: str) -> None:
    """Print ``df`` as JSON records (``--format json``) or a table."""
    if fmt == "json":
        rows = [{k: _jsonable(v) for k, v in r.items()} for r in df.iter_rows(named=True)]
        print(json.dumps(rows, indent=2))
        return
    t = Table(title=title)
    for c in df.columns:
        t.add_column(c)
    for r in df.iter_rows():
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in r])
    Console().print(t)
