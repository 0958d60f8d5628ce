"""Where ``learnrace forecast`` writes its tables, and how.

- :func:`check_output_path`, before any work: an output path is ``-`` (standard output), a new
  file in an existing folder, or an existing regular file that is none of the files the command
  reads (``--input``, ``--posterior``) or writes (``--output``, ``--summary``). Refused, each with
  a one-line :class:`~learnrace_pipeline.lib.errors.DataError`: the same file as another
  (compared by resolved path, and by ``os.path.samefile`` where both exist, which also catches
  hard links), a symbolic link (the write would replace the link), a directory, a special file
  (character or block device such as ``/dev/null``, named pipe, socket: the atomic write would
  replace it with a regular file), a missing folder.
- :func:`render_forecasts`: CSV (header + rows) or JSON (a list of row objects). In CSV a text
  cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP's CSV
  injection list) gets a leading ``'``, so a spreadsheet shows it as text instead of running it
  as a formula; JSON keeps every value exact.
- :func:`write_forecasts`: written atomically (no partial file on error), or to standard output.
- :func:`check_finite_output`: refuses a table with a forecast that left the floating-point range
  (an ``inf`` quantile), naming the series, instead of writing it.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.storage.files import write_atomic_bytes

#: The output path meaning standard output.
STDOUT = "-"
#: Leading characters a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

OutputFormat = Literal["csv", "json"]


def is_stdout(path: str | Path | None) -> bool:
    """Whether ``path`` is ``-``, standard output."""
    return path is not None and str(path) == STDOUT


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _same_file(a: Path, b: Path) -> bool:
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_output_path(
    path: Path, option: str, others: Mapping[str, Path | None] | None = None
) -> None:
    """Refuse an output ``path`` given as ``option`` (e.g. ``--output``) that could not be
    written as a new or replaced regular file, or that is one of ``others`` (option -> path of
    every other file the command reads or writes; None and ``-`` entries are skipped); see the
    module docstring. ``-`` (standard output) is always accepted here."""
    if is_stdout(path):
        return

    def fail(problem: str) -> DataError:
        return DataError(problem, source=option, file=str(path))

    if path.is_symlink():
        raise fail(
            "is a symbolic link; writing would replace the link: give the file it points to, "
            "or another file"
        )
    if path.exists():
        if path.is_dir():
            raise fail("is a directory; give a file name")
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise fail(
                f"is {_kind(mode)}, not a regular file; writing would replace it "
                f"(use {option} - for standard output)"
            )
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise fail(f"output folder {str(folder)!r} does not exist")
    for name, other in (others or {}).items():
        if other is None or is_stdout(other):
            continue
        if _same_file(path, other):
            raise fail(f"is the same file as {name} ({str(other)!r}); refusing to replace it")


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with a ``'`` before every text cell that starts with one of
    :data:`FORMULA_PREFIXES` (for CSV output only)."""
    return frame.with_columns(
        pl.when(pl.any_horizontal(pl.col(c).str.starts_with(p) for p in FORMULA_PREFIXES))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c, t in frame.schema.items()
        if t == pl.String
    )


def render_forecasts(frame: pl.DataFrame, fmt: OutputFormat = "csv") -> bytes:
    """The forecast table as CSV (header + rows, formula-like text cells neutralised) or JSON (a
    list of row objects, values exact)."""
    if fmt == "csv":
        return neutralise_formulas(frame).write_csv(float_precision=None).encode()
    if fmt == "json":
        return (json.dumps(frame.to_dicts(), indent=1) + "\n").encode()
    raise DataError(f"unknown output format {fmt!r}: use csv or json", source="--format")


def write_forecasts(
    frame: pl.DataFrame, path: str | Path, fmt: OutputFormat = "csv"
) -> Path | None:
    """Render and write to ``path`` atomically (no partial file on error); ``-`` writes to
    standard output (returns None)."""
    data = render_forecasts(frame, fmt)
    if is_stdout(path):
        out = sys.stdout
        out.flush()
        buffer = getattr(out, "buffer", None)
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:
            out.write(data.decode())
            out.flush()
        return None
    return write_atomic_bytes(data, path)


def check_finite_output(frame: pl.DataFrame) -> None:
    """Raise ModelError naming the series (and year) of the first non-finite number in a
    forecast or per-series table (nulls, e.g. an undefined halving time, are allowed)."""
    floats = [c for c, t in frame.schema.items() if t in (pl.Float64, pl.Float32)]
    if not floats or frame.is_empty():
        return
    bad = pl.any_horizontal(pl.col(c).is_not_null() & ~pl.col(c).is_finite() for c in floats)
    rows = frame.filter(bad)
    if rows.is_empty():
        return
    r = rows.row(0, named=True)
    col = next(c for c in floats if r[c] is not None and not math.isfinite(r[c]))
    where = f"series {r['series_id']!r}" + (f", year {r['year']}" if "year" in r else "")
    raise ModelError(
        f"{where}: {col} is {r[col]}, outside the floating-point range; nothing written "
        "(the series moves too many orders of magnitude: check its values and units)"
    )
