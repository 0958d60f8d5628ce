"""Small helpers shared by the workbook and wide-table readers (not a reader itself).

- :func:`read_sheet` reads one worksheet with python-calamine, which returns the **cached value**
  of every formula cell (the value Excel last computed and saved), never the formula text, and
  reports each row with its spreadsheet row number (calamine trims leading empty rows and
  columns; the offset is added back so errors point at the real sheet row).
- :func:`frame` builds a table frame with the declared schema plus the ``_file``/``_row``
  bookkeeping columns that :func:`..validate.conform` uses to report errors at their origin;
  :func:`conformed` turns a reader's rows into its returned tables (each conformed, plus
  ``data_notes``).
- :func:`with_cumulative` derives cumulative production (same unit as the annual values) from
  ``production`` rows that give annual production only.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from python_calamine import CalamineWorkbook

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import Notes, source_path
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.sources.validate import conform
from learnrace_pipeline.lib.vocab.cumulative import derive_cumulative

BOOKKEEPING_SCHEMA = {"_file": pl.String(), "_row": pl.Int64()}


def read_sheet(raw_dir: Path, source: str, rel: str, sheet: str) -> list[tuple[int, list]]:
    """(sheet row, cells) for every row of ``sheet`` in workbook ``rel`` (cells 0-based from A).

    Cells are floats, strings (``""`` for blank), dates or bools as calamine returns them;
    formula cells give their cached values. DataError for a missing or unreadable workbook or
    sheet, or a sheet with no cells.
    """
    path = source_path(raw_dir, source, rel)
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as e:  # calamine raises its own error types for corrupt files
        raise DataError(f"cannot open workbook: {e}", source=source, file=rel) from None
    if sheet not in wb.sheet_names:
        raise DataError(
            f"sheet {sheet!r} not found; workbook has {wb.sheet_names}", source=source, file=rel
        )
    rng = wb.get_sheet_by_name(sheet)
    rows = rng.to_python()
    start = rng.start
    if not rows or start is None:
        raise DataError(f"sheet {sheet!r} is empty", source=source, file=rel)
    r0, c0 = start
    pad = [""] * c0
    return [(r0 + i + 1, pad + list(r)) for i, r in enumerate(rows)]


def cell(cells: list, j: int) -> object:
    """Cell ``j`` of a row, ``""`` where the row is shorter."""
    return cells[j] if j < len(cells) else ""


def text(value: object) -> str:
    """A cell as stripped text (floats that are whole numbers lose their ``.0``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if value is not None else ""


def frame(table: str, rows: list[dict]) -> pl.DataFrame:
    """A frame with the declared columns of ``table`` plus ``_file`` and ``_row``."""
    schema = {**TABLES[table], **BOOKKEEPING_SCHEMA}
    return pl.DataFrame(rows, schema=schema)


def conformed(source: str, rows: dict[str, list[dict]], notes: Notes) -> dict[str, pl.DataFrame]:
    """A reader's result: each table's rows framed and conformed, then ``data_notes``.

    ``rows`` maps table name to its rows (with ``_file``/``_row``); the tables come out in that
    order, followed by ``notes.frame()`` as ``data_notes``.
    """
    out = {table: conform(table, frame(table, r), source) for table, r in rows.items()}
    out["data_notes"] = notes.frame()
    return out


def with_cumulative(rows: list[dict]) -> pl.DataFrame:
    """``production`` rows of annual production, with cumulative production derived.

    Cumulative production is in the unit of the annual values, derived per series and nation
    with :func:`..vocab.cumulative.derive_cumulative` (Lafond et al. 2018 initial stock);
    any cumulative values or methods in ``rows`` are replaced. Columns: the declared production
    columns and ``_file``/``_row``, with ``cumulative_production`` and ``cumulative_method`` last.
    """
    df = frame("production", rows).drop("cumulative_production", "cumulative_method")
    return derive_cumulative(df, by=["series_id", "nation"])


def col_letter(j: int) -> str:
    """Spreadsheet column letter of 0-based column ``j`` (0 -> ``A``, 26 -> ``AA``)."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out
