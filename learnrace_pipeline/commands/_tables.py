"""How the commands print a table: a few readable columns by default, every column as data.

- ``--format table`` (the default): :func:`render` shows the :class:`Col` columns a command
  declares, units in the headers, numbers to 3 significant figures (:func:`sig3`), FLOP and miles
  in scientific notation (:func:`sci`), intervals as ``low-high``. Cells wrap (long model names
  break across lines) and are never cut: no column overflows into an ellipsis.
- ``--format json``: every column of the frame, one JSON object per row (dates ISO, NaN null).
- ``--format csv``: every column of the frame as CSV (dates ISO).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl
from rich import box
from rich.console import Console
from rich.table import Table

FORMATS = ("table", "json", "csv")
DASH = "\u2013"  # en dash between the bounds of an interval


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def sig3(x: float | int | None) -> str:
    """``x`` to 3 significant figures in plain notation (``0.0791``, ``6.83``, ``12,300``);
    ``n/a`` when missing."""
    if _missing(x):
        return "n/a"
    x = float(x)
    if x == 0:
        return "0"
    digits = 2 - math.floor(math.log10(abs(x)))
    rounded = round(x, digits)
    if abs(rounded) >= 1000:
        return f"{rounded:,.0f}"
    return f"{rounded:.{max(digits, 0)}f}"


def sci(x: float | None) -> str:
    """``x`` to 3 significant figures in scientific notation without a plus sign
    (``5.00e25``, ``1.71e4``); ``n/a`` when missing."""
    if _missing(x):
        return "n/a"
    mantissa, exponent = f"{float(x):.2e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def pow10(log10: float | None) -> float | None:
    """10 ** ``log10`` (None stays None): FLOP from log10 FLOP."""
    return None if _missing(log10) else 10.0 ** float(log10)


def interval(lo: str, hi: str) -> str:
    """``lo-hi`` with an en dash; ``n/a`` when either bound is."""
    return "n/a" if "n/a" in (lo, hi) else f"{lo}{DASH}{hi}"


@dataclass(frozen=True)
class Col:
    """A printed column: its header (with the unit), how a row becomes the cell, alignment."""

    header: str
    cell: Callable[[dict], str]
    justify: str = "right"


def _longest_token(text: str) -> int:
    return max((len(w) for w in text.split()), default=0)


def table(df: pl.DataFrame, columns: list[Col], title: str, caption: str | None = None) -> Table:
    """The rich table of ``df`` with the declared ``columns``, a light box, one space of padding.

    A number column is exactly as wide as its widest cell or the longest word of its header
    (the header wraps between words); a text column (left-justified) takes the rest and wraps
    between words (a model name over two lines), never inside a number or an interval; a cell
    that still cannot fit folds instead of ending in an ellipsis.
    """
    cells = [[c.cell(row) for c in columns] for row in df.iter_rows(named=True)]
    t = Table(
        title=title,
        caption=caption,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        title_justify="left",
        caption_justify="left",
    )
    for j, c in enumerate(columns):
        if c.justify == "left":
            width = max([_longest_token(c.header), *(_longest_token(r[j]) for r in cells)])
            t.add_column(c.header, justify="left", overflow="fold", min_width=width)
        else:
            width = max([_longest_token(c.header), *(len(r[j]) for r in cells)])
            t.add_column(c.header, justify=c.justify, overflow="fold", width=width)  # type: ignore[arg-type]
    for r in cells:
        t.add_row(*r)
    return t


def _jsonable(v):
    if isinstance(v, dt.date | dt.datetime):
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def render(
    df: pl.DataFrame,
    fmt: str,
    columns: list[Col],
    title: str,
    caption: str | None = None,
    console: Console | None = None,
) -> None:
    """Print ``df`` in ``fmt`` (module docstring) to standard output."""
    if fmt == "json":
        rows = [{k: _jsonable(v) for k, v in r.items()} for r in df.iter_rows(named=True)]
        print(json.dumps(rows, indent=2))
    elif fmt == "csv":
        sys.stdout.write(df.write_csv())
    else:
        (console or Console()).print(table(df, columns, title, caption))
