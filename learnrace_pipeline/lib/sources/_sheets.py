"""Small helpers shared by the workbook and wide-table readers (not a reader itself).

- :func:`read_sheet` reads one worksheet with python-calamine, which returns the **cached value**
  of every formula cell (the value Excel last computed and saved), never the formula text, and
  reports each row with its spreadsheet row number (calamine trims leading empty rows and
  columns; the offset is added back so errors point at the real sheet row).
- :func:`frame` builds a table frame with the declared schema plus the ``_file``/``_row``
  bookkeeping columns that :func:`..validate.conform` uses to report errors at their origin.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
from python_calamine import CalamineWorkbook

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import source_path
from learnrace_pipeline.lib.sources.schema import TABLES

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


def col_letter(j: int) -> str:
    """Spreadsheet column letter of 0-based column ``j`` (0 -> ``A``, 26 -> ``AA``)."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out
