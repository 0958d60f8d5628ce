"""Shared pieces of the model-backed commands: where tables and saved fits come from."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from rich.console import Console

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
