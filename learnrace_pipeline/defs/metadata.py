"""Asset metadata in Dagster's typed form: a warehouse table's schema, row count, name and rows;
plots.

Every warehouse table an asset writes carries (:func:`table_metadata`):

- ``dagster/column_schema``: a ``TableSchema`` whose columns have the Polars dtype as type and
  a description with the unit (:func:`learnrace_pipeline.lib.report.table_docs.column_doc`);
- ``dagster/row_count``: the rows written (the table holds exactly these);
- ``dagster/table_name``: ``<schema>.<table>`` in the warehouse, never a file path;
- ``rows``: every row as a ``TableMetadataValue`` (shown in full on the asset page), when the
  table has at most :data:`MAX_RECORDS` rows (``$LEARNRACE_METADATA_ROWS``); a larger table says how many rows it has and
  where to read them instead.

These are the keys ``TableMetadataSet`` writes (``dagster._core``, not exported by Dagster
1.13), written directly. Plots are markdown images with the PNG inlined (:func:`plot`): the UI
shows markdown longer than 1,000 characters behind one "[Show Markdown]" click, and a PNG never
fits in fewer, so one click is the fewest; ``learnrace report`` shows every plot and table on
one page.
"""

import datetime as dt
import math
import os
from collections.abc import Mapping
from pathlib import Path

import dagster as dg
import polars as pl

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.report.images import markdown_image
from learnrace_pipeline.lib.report.table_docs import column_doc

#: Tables up to this many rows carry every row in their metadata; larger ones (hindcast
#: forecasts, posterior draws) carry a note instead: tens of thousands of rows would make every
#: materialization event megabytes and the asset page unusable. ``$LEARNRACE_METADATA_ROWS``
#: overrides it (0: no rows in metadata, for a small ``DAGSTER_HOME``: the rows are stored
#: about four times per run, in the step output, output-handled and materialization events and
#: the asset's latest-materialization index).
MAX_RECORDS = 10_000


def max_records() -> int:
    """The row limit in force: ``$LEARNRACE_METADATA_ROWS`` or :data:`MAX_RECORDS`."""
    raw = os.environ.get("LEARNRACE_METADATA_ROWS", "").strip()
    if not raw:
        return MAX_RECORDS
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise LearnraceError(f"LEARNRACE_METADATA_ROWS={raw!r} is not a whole number of rows")
    return value


#: Significant digits of floats in the rows shown (the warehouse keeps full precision).
DIGITS = 6
#: Where the full view of every table and plot is.
REPORT = "`learnrace report`: every table and plot on one HTML page"


def column_schema(frame: pl.DataFrame, schema: str, table: str) -> dg.TableSchema:
    """The frame's columns as a ``TableSchema``: name, Polars dtype, description with unit."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name=name, type=str(dtype), description=column_doc(schema, table, name))
            for name, dtype in frame.schema.items()
        ]
    )


def _cell(value: object) -> str | int | float | bool | None:
    """A value as a table-record field: floats to ``DIGITS`` significant digits, non-finite
    floats as text (JSON has no NaN), dates ISO, lists joined, anything else as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return float(f"{value:.{DIGITS}g}")
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join("" if v is None else str(v) for v in value)
    return str(value)


def table_records(frame: pl.DataFrame) -> list[dg.TableRecord]:
    """Every row of ``frame`` as a ``TableRecord``."""
    return [
        dg.TableRecord({k: _cell(v) for k, v in row.items()}) for row in frame.iter_rows(named=True)
    ]


def rows_value(frame: pl.DataFrame, schema: str = "", table: str = "") -> dg.MetadataValue:
    """Every row of ``frame`` as a table (its schema described as :func:`column_schema` does),
    or, past :func:`max_records` rows, a text saying how many rows there are and where they
    are."""
    limit = max_records()
    if frame.height > limit:
        where = f"warehouse table {schema}.{table}; " if schema else ""
        return dg.MetadataValue.text(
            f"{frame.height:,} rows: more than the {limit:,} shown here; "
            f"read them from the {where}{REPORT}"
        )
    return dg.MetadataValue.table(
        records=table_records(frame), schema=column_schema(frame, schema, table)
    )


def table_metadata(
    frame: pl.DataFrame, schema: str, table: str, *, rows: bool = True
) -> dict[str, dg.MetadataValue]:
    """Typed metadata of warehouse table ``schema.table`` holding exactly ``frame``; ``rows``
    last (the UI lists entries in order, and every row is long), or left out (``rows=False``)
    for the caller to add last."""
    meta = {
        "dagster/column_schema": dg.MetadataValue.table_schema(column_schema(frame, schema, table)),
        "dagster/row_count": dg.MetadataValue.int(frame.height),
        "dagster/table_name": dg.MetadataValue.text(f"{schema}.{table}"),
    }
    if rows:
        meta["rows"] = rows_value(frame, schema, table)
    return meta


def declared_schema(
    columns: Mapping[str, pl.DataType], schema: str, table: str
) -> dict[str, dg.MetadataValue]:
    """Definition metadata of a table with declared columns: its ``dagster/column_schema`` and
    ``dagster/table_name`` (shown before the first materialization)."""
    return {
        "dagster/column_schema": dg.MetadataValue.table_schema(
            column_schema(pl.DataFrame(schema=dict(columns)), schema, table)
        ),
        "dagster/table_name": dg.MetadataValue.text(f"{schema}.{table}"),
    }


def data_relative(path: str | Path, db_path: str | Path) -> str:
    """``path`` relative to the data folder (the folder holding the warehouse ``db_path``), so
    metadata never carries the machine's absolute paths."""
    return os.path.relpath(Path(path).resolve(), Path(db_path).resolve().parent)


def plot(png: bytes, what: str) -> dg.MetadataValue:
    """A plot as a markdown image (PNG inlined), captioned with what it shows."""
    return dg.MetadataValue.md(f"**{what}**\n\n{markdown_image(png, what)}")
