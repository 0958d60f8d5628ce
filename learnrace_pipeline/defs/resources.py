"""Resources shared by every layer: the warehouse paths, DuckDB, and the Polars IO manager.

Paths come from the environment with project-local defaults: ``LEARNRACE_DB`` (DuckDB file,
default ``.learnrace/learnrace.duckdb``), ``LEARNRACE_DATASETS`` (the shipped snapshot, default the
repo's ``datasets/``) and ``LEARNRACE_RAW_DIR`` (when set, sources are parsed from the upstream raw
files instead of the snapshot).
"""

import os
from pathlib import Path

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource
from dagster_duckdb_polars import DuckDBPolarsIOManager

from learnrace_pipeline.lib.sources import reader
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import default_db_path, write_tables


class WarehouseResource(dg.ConfigurableResource):
    """Where the warehouse lives and where sources are read from.

    ``raw_dir`` empty: sources load from the snapshot in ``dataset_dir`` (sha256-checked).
    ``raw_dir`` set: sources are parsed from the upstream files by the project's readers.
    """

    db_path: str
    dataset_dir: str
    raw_dir: str = ""

    def load_source(self, source: str) -> dict[str, pl.DataFrame]:
        if self.raw_dir:
            return reader(source).read(Path(self.raw_dir))
        return snapshot.load(Path(self.dataset_dir), source)

    def write(self, tables: dict[tuple[str, str], pl.DataFrame], **kw) -> dict[str, int]:
        return write_tables(self.db_path, tables, **kw)


def build_resources(
    db_path: str | None = None, dataset_dir: str | None = None, raw_dir: str | None = None
) -> dict:
    """The resource mapping for a given warehouse file (used by the definitions and by tests)."""
    db = str(Path(db_path or default_db_path()).resolve())
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    return {
        "warehouse": WarehouseResource(
            db_path=db,
            dataset_dir=str(
                dataset_dir or os.environ.get("LEARNRACE_DATASETS", snapshot.DEFAULT_DATASETS)
            ),
            raw_dir=str(
                raw_dir if raw_dir is not None else os.environ.get("LEARNRACE_RAW_DIR", "")
            ),
        ),
        "duckdb": DuckDBResource(database=db, connection_config={"access_mode": "READ_ONLY"}),
        "io_manager": DuckDBPolarsIOManager(database=db),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
