"""Resources shared by every layer: the warehouse paths, DuckDB, the Polars IO manager (tables)
and the fit IO manager (posteriors).

Paths come from the environment with project-local defaults: ``LEARNRACE_DB`` (DuckDB file,
default ``.learnrace/learnrace.duckdb``), ``LEARNRACE_DATASETS`` (the shipped snapshot, default the
repo's ``datasets/``) and ``LEARNRACE_RAW_DIR`` (when set, sources are parsed from the upstream raw
files instead of the snapshot).
"""

import contextlib
import os
from pathlib import Path

import dagster as dg
import polars as pl
import xarray as xr
from dagster_duckdb import DuckDBIOManager, DuckDBResource
from dagster_duckdb.io_manager import DbIOManager, DuckDbClient
from dagster_duckdb_polars import DuckDBPolarsTypeHandler

from learnrace_pipeline.defs.metadata import rows_value, table_metadata
from learnrace_pipeline.lib.models import base as model_base
from learnrace_pipeline.lib.models.cache import publish
from learnrace_pipeline.lib.sources import reader
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import (
    connect,
    default_db_path,
    transaction,
    write_tables,
)


class WarehousePolarsTypeHandler(DuckDBPolarsTypeHandler):
    """The DuckDB-Polars type handler, adapted to DuckDB 2, to empty tables and to typed
    metadata.

    DuckDB 2 connections have no ``.arrow()`` on ``execute`` results, so inputs are read through
    a relation (``connection.sql(...).pl()``). Empty frames still create (or empty) their table,
    so a downstream asset always finds the declared columns. Every output's metadata is
    :func:`~learnrace_pipeline.defs.metadata.table_metadata`: column schema with units, row
    count, ``schema.table`` name (:class:`WarehouseDbIOManager` adds every row last).
    """

    def handle_output(self, context: dg.OutputContext, table_slice, obj: pl.DataFrame, connection):
        incoming = obj.to_arrow()  # noqa: F841 (read by DuckDB's replacement scan)
        target = f"{table_slice.schema}.{table_slice.table}"
        connection.execute(f"create schema if not exists {table_slice.schema}")
        connection.execute(f"create table if not exists {target} as select * from incoming limit 0")
        if not obj.is_empty():
            connection.execute(f"insert into {target} select * from incoming")
        return table_metadata(obj, table_slice.schema, table_slice.table, rows=False)

    def load_input(self, context: dg.InputContext, table_slice, connection) -> pl.DataFrame:
        if table_slice.partition_dimensions and len(context.asset_partition_keys) == 0:
            return pl.DataFrame()
        return connection.sql(DuckDbClient.get_select_statement(table_slice=table_slice)).pl()


class WarehouseDbClient(DuckDbClient):
    """DuckDB connections of the IO manager, opened like every other warehouse connection.

    An output is written inside one transaction while holding the warehouse lock
    (:func:`~learnrace_pipeline.lib.storage.warehouse.transaction`: the old rows are deleted and
    the new ones inserted together, or nothing changes); an input is read on a read-only
    connection. Both wait for locks with a logged line, up to ``$LEARNRACE_LOCK_TIMEOUT``.
    """

    @staticmethod
    def get_table_name(table_slice) -> str:
        """``schema.table`` (the warehouse file's path is not part of a table's name)."""
        return f"{table_slice.schema}.{table_slice.table}"

    @staticmethod
    def delete_table_slice(context: dg.OutputContext, table_slice, connection) -> None:
        # DuckDbClient runs the DELETE and ignores a missing table; inside a transaction that
        # error would abort the transaction, so look first.
        exists = connection.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
            [table_slice.schema, table_slice.table],
        ).fetchone()[0]
        if exists:
            DuckDbClient.delete_table_slice(context, table_slice, connection)

    @staticmethod
    @contextlib.contextmanager
    def connect(context, _):
        database = context.resource_config["database"]
        if isinstance(context, dg.InputContext):
            with connect(database, read_only=True) as con:
                yield con
        else:
            with transaction(database) as con:
                yield con


class WarehouseDbIOManager(DbIOManager):
    """Dagster's database IO manager, adding each output's rows as the last metadata entry
    (after the type handler's schema and row count and the manager's ``Query``)."""

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        super().handle_output(context, obj)
        if isinstance(obj, pl.DataFrame) and context.has_asset_key:
            *_, schema, table = context.asset_key.path
            context.add_output_metadata({"rows": rows_value(obj, schema, table)})


class WarehouseIOManager(DuckDBIOManager):
    """DuckDB IO manager storing and loading Polars frames (``schema.table`` = asset key), its
    connections opened by :class:`WarehouseDbClient`, its metadata typed
    (:class:`WarehousePolarsTypeHandler`, :class:`WarehouseDbIOManager`)."""

    @staticmethod
    def type_handlers() -> list:
        return [WarehousePolarsTypeHandler()]

    @staticmethod
    def default_load_type() -> type:
        return pl.DataFrame

    def create_io_manager(self, context) -> DbIOManager:
        return WarehouseDbIOManager(
            db_client=WarehouseDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="WarehouseIOManager",
        )


class FitIOManager(dg.ConfigurableIOManager):
    """Posterior fits (``xarray.DataTree`` with provenance attrs) as netCDF files.

    An asset output ``calibration/<name>`` lives at ``<work_dir>/fits/assets/calibration/<name>.nc``:
    a hard link to the model-id-named fit the asset saved or reused (one copy on disk), rewritten
    only when its model id or data version changed. Inputs load the file fully into memory.
    """

    work_dir: str

    def _path(self, key: dg.AssetKey) -> Path:
        return Path(self.work_dir, "fits", "assets", *key.path).with_suffix(".nc")

    def handle_output(self, context: dg.OutputContext, obj: xr.DataTree) -> None:
        path, written = publish(obj, self._path(context.asset_key), Path(self.work_dir) / "fits")
        context.add_output_metadata(
            {
                "path": dg.MetadataValue.path(str(path.relative_to(self.work_dir))),
                "model_id": obj.attrs.get("model_id", ""),
                "data_version": obj.attrs.get("data_version", ""),
                "rewritten": written,
            }
        )

    def load_input(self, context: dg.InputContext) -> xr.DataTree:
        return model_base.load(self._path(context.upstream_output.asset_key))


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


class CalibrationSettings(dg.ConfigurableResource):
    """How calibration assets sample and where fits and plots go.

    ``draws``/``tune``/``chains`` apply to every MCMC fit; ``industries`` (empty = all) restricts
    the pooled learning-curve panel, e.g. for quick runs. ``work_dir`` holds ``fits/`` (netCDF
    posteriors, reused while model and data are unchanged) and ``plots/`` (PNG files).
    """

    work_dir: str
    draws: int = 2000
    tune: int = 2000
    target_accept: float = 0.95
    chains: int = 4
    seed: int = 20261128
    industries: list[str] = []  # noqa: RUF012 (pydantic copies defaults)

    @property
    def fits_dir(self) -> Path:
        return Path(self.work_dir) / "fits"

    @property
    def plots_dir(self) -> Path:
        return Path(self.work_dir) / "plots"


def build_resources(
    db_path: str | None = None,
    dataset_dir: str | None = None,
    raw_dir: str | None = None,
    calibration: "CalibrationSettings | None" = None,
) -> dict:
    """The resource mapping for a given warehouse file (used by the definitions and by tests)."""
    db = str(Path(db_path or default_db_path()).resolve())
    Path(db).parent.mkdir(parents=True, exist_ok=True)
    calibration = calibration or CalibrationSettings(work_dir=str(Path(db).parent))
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
        "io_manager": WarehouseIOManager(database=db),
        "calibration": calibration,
        "fit_io_manager": FitIOManager(work_dir=calibration.work_dir),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources())
