"""Reading and checking a user's series file for ``learnrace forecast``; writing the result.

Input: a comma-separated file with a header row and the columns

==========================  =================================================================
``series_id``               any non-empty text naming the series
``year``                    calendar year, a whole number from ``MIN_YEAR`` (1800) to
                            ``MAX_YEAR`` (2200) (:mod:`learnrace_pipeline.lib.sources.schema`)
``unit_cost``               cost per unit, > 0, in the series' own unit; **blank = a year to
                            forecast** (also ``NA``, ``N/A``, ``NaN``, ``null``)
``annual_production``       production in the year, > 0 (optional if cumulative is given)
``cumulative_production``   production through the end of the year, > 0, non-decreasing
==========================  =================================================================

**Magnitudes.** Every cost and production value, given or derived (cumulative production from
annual production: carried forward, or the Lafond initial stock plus the running sum), must lie
in [``MIN_VALUE``, ``MAX_VALUE``] = [1e-200, 1e200]; anything else is refused (a value out of
that range is a unit mistake, e.g. W given as nW, or a sentinel such as 1e308). The bound keeps
every step of the forecast in floating-point range: logs lie within +-460.5, so differences of
log cost or log production (at most 921 in size) and their squares are finite, and a forecast
quantile exp(log cost) overflows (above 1.8e308) only if the forecast moves more than 249 log
units (a factor of about 1e108) beyond the largest value accepted. Should a forecast still leave the
floating-point range, :func:`~learnrace_pipeline.lib.forecast.outputs.check_finite_output`
refuses to write it, naming the series. Rescale a column's unit to bring values into range.

At least one production column must be present (``model="wright"``, the default). The
time-trend model (``model="time"``, ``learnrace forecast --model time``) needs no production:
production columns are optional there and, when present, only checked as numbers > 0 (they are
not used). Every other column name is refused.

Cumulative production per series:

- given where ``cumulative_production`` is filled in;
- else carried forward from the previous year's cumulative value plus this year's annual
  production (consecutive years only);
- a series without any cumulative value gets it from annual production by the Lafond et al.
  (2018) initial-stock method (:func:`learnrace_pipeline.lib.vocab.cumulative.initial_stock`)
  over its consecutive run of years with annual production from its first row.

Annual production history (used only to project production for forecast years that have none)
is the given annual production, or the difference of consecutive cumulative values.

Every problem raises :class:`~learnrace_pipeline.lib.errors.DataError` with the file, the row
(header = row 1) and the column, and the message names the series: a non-numeric value; a zero
or negative cost or production; a cost or production (given or derived) outside
[1e-200, 1e200]; a year that is not a whole number or is outside [1800, 2200]; a duplicate
``(series_id, year)``; a series with fewer than 3 observed costs; an observed cost without
cumulative production; falling cumulative production; a year to forecast before the series'
last observed cost; a year to forecast with no production and fewer than 3 years of annual
production to project it from; unknown or missing columns; an unknown industry.

The forecasts are written by :func:`learnrace_pipeline.lib.forecast.outputs.write_forecasts`
(atomically: an error never leaves a partial output file), after
:func:`~learnrace_pipeline.lib.forecast.outputs.check_output_path` has refused any output that
would replace the input or is not a plain file.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.forecast.time_trend import time_task
from learnrace_pipeline.lib.forecast.types import ForecastTask
from learnrace_pipeline.lib.sources.schema import MAX_YEAR, MIN_YEAR
from learnrace_pipeline.lib.vocab.cumulative import initial_stock
from learnrace_pipeline.lib.vocab.taxonomy import INDUSTRIES

SOURCE = "forecast input"
KNOWN_COLUMNS = ("series_id", "year", "unit_cost", "annual_production", "cumulative_production")
REQUIRED = ("series_id", "year", "unit_cost")
PRODUCTION = ("annual_production", "cumulative_production")
NUMERIC = ("unit_cost", "annual_production", "cumulative_production")
NA_TOKENS = frozenset({"", "na", "n/a", "nan", "null"})
MIN_OBSERVED = 3
#: Accepted magnitudes of every cost and production value, given or derived (module docstring).
MIN_VALUE = 1e-200
MAX_VALUE = 1e200
VALUE_RANGE = "1e-200 to 1e200"  # the two bounds as messages print them
MIN_ANNUAL_FOR_PROJECTION = 3


@dataclass(frozen=True)
class ForecastInput:
    """A checked series file.

    Attributes:
        rows: one row per input row: ``_row`` (line in the file), ``series_id``, ``year``,
            ``unit_cost``, ``annual_production``, ``cumulative_production`` (as given, nulls where
            blank) and ``cum`` (cumulative production used: given or derived).
        task: the forecasting task in logs (observed points, targets, annual history).
        file: the file name, for messages.
    """

    rows: pl.DataFrame
    task: ForecastTask
    file: str

    @property
    def n_series(self) -> int:
        return int(self.rows["series_id"].n_unique())

    @property
    def n_targets(self) -> int:
        return self.task.targets.height


def check_industry(industry: str | None) -> str | None:
    """``industry`` if it is one of the taxonomy's industries (or None), else DataError."""
    if industry is None:
        return None
    if industry not in INDUSTRIES:
        raise DataError(
            f"unknown industry {industry!r}; known industries: {', '.join(INDUSTRIES)}",
            source="--industry",
        )
    return industry


def _fail(problem: str, file: str, row: int | None = None, column: str | None = None) -> DataError:
    return DataError(problem, source=SOURCE, file=file, row=row, column=column)


def _records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]], str]:
    file = path.name
    if not path.is_file():
        raise _fail("input file not found", str(path))
    data = path.read_bytes()
    if not data.strip():
        raise _fail("empty file", file)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise _fail(f"not UTF-8 text (byte offset {e.start})", file, row=line) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader)]
    records: list[tuple[int, list[str]]] = []
    prev = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise _fail(f"malformed CSV: {e}", file, row=prev + 1) from None
        start, prev = prev + 1, reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) > len(header) and any(f.strip() for f in fields[len(header) :]):
            raise _fail(
                f"row has {len(fields)} fields, the header has {len(header)}", file, row=start
            )
        if len(fields) < len(header):
            fields = fields + [""] * (len(header) - len(fields))
        records.append((start, [f.strip() for f in fields[: len(header)]]))
    return header, records, file


def _check_header(header: list[str], file: str, need_production: bool = True) -> None:
    if len(header) == 1 and any(sep in header[0] for sep in (";", "\t", "|")):
        raise _fail(f"header {header[0]!r} has one column: the delimiter must be ','", file, row=1)
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise _fail(f"column {name!r} appears twice", file, row=1, column=name)
        seen.add(name)
        if name not in KNOWN_COLUMNS:
            raise _fail(
                f"unknown column {name!r}; allowed columns: {', '.join(KNOWN_COLUMNS)}",
                file,
                row=1,
                column=name or None,
            )
    for name in REQUIRED:
        if name not in header:
            raise _fail(f"missing column {name!r}", file, row=1, column=name)
    if need_production and not any(p in header for p in PRODUCTION):
        raise _fail(
            "missing production: give a column annual_production or cumulative_production",
            file,
            row=1,
            column="annual_production",
        )


def _first_bad(df: pl.DataFrame, mask: pl.Series | pl.Expr) -> dict | None:
    bad = df.filter(mask)
    return bad.sort("_row").row(0, named=True) if bad.height else None


def _parse_frame(
    header: list[str], records: list[tuple[int, list[str]]], file: str
) -> pl.DataFrame:
    if not records:
        raise _fail("header only: no data rows", file)
    cols = {name: [r[1][j] for r in records] for j, name in enumerate(header)}
    df = pl.DataFrame({"_row": [r[0] for r in records], **cols}, schema_overrides={
        name: pl.String for name in header
    })  # fmt: skip
    for name in PRODUCTION:
        if name not in df.columns:
            df = df.with_columns(pl.lit(None, pl.String).alias(name))
    r = _first_bad(df, pl.col("series_id") == "")
    if r:
        raise _fail("series_id is blank", file, row=r["_row"], column="series_id")
    # year: a whole number
    year_f = pl.col("year").cast(pl.Float64, strict=False)
    r = _first_bad(df, year_f.is_null() | ~year_f.is_finite())
    if r:
        raise _fail(
            f"series {r['series_id']!r}: year {r['year']!r} is not a number",
            file, row=r["_row"], column="year",
        )  # fmt: skip
    r = _first_bad(df, year_f != year_f.round(0))
    if r:
        raise _fail(
            f"series {r['series_id']!r}: year {r['year']!r} is not a whole number",
            file, row=r["_row"], column="year",
        )  # fmt: skip
    r = _first_bad(df, (year_f < MIN_YEAR) | (year_f > MAX_YEAR))
    if r:
        raise _fail(
            f"series {r['series_id']!r}: year {r['year']!r} is outside {MIN_YEAR}-{MAX_YEAR}",
            file, row=r["_row"], column="year",
        )  # fmt: skip
    df = df.with_columns(year_f.cast(pl.Int64).alias("year"))
    # numeric columns: NA tokens are blank, anything else must be a finite number > 0
    for name in NUMERIC:
        text = pl.col(name).fill_null("")
        is_na = text.str.to_lowercase().is_in(list(NA_TOKENS))
        num = text.cast(pl.Float64, strict=False)
        r = _first_bad(df, ~is_na & (num.is_null() | ~num.is_finite()))
        if r:
            raise _fail(
                f"series {r['series_id']!r}, year {r['year']}: non-numeric value {r[name]!r}",
                file, row=r["_row"], column=name,
            )  # fmt: skip
        what = "cost" if name == "unit_cost" else "production"
        r = _first_bad(df, ~is_na & (num <= 0))
        if r:
            raise _fail(
                f"series {r['series_id']!r}, year {r['year']}: zero or negative {what} "
                f"{r[name]!r} (must be > 0)",
                file, row=r["_row"], column=name,
            )  # fmt: skip
        r = _first_bad(df, ~is_na & ((num < MIN_VALUE) | (num > MAX_VALUE)))
        if r:
            raise _fail(
                f"series {r['series_id']!r}, year {r['year']}: {what} {r[name]!r} is outside "
                f"the accepted range {VALUE_RANGE} (rescale the unit)",
                file, row=r["_row"], column=name,
            )  # fmt: skip
        df = df.with_columns(pl.when(is_na).then(None).otherwise(num).alias(name))
    dup = df.with_columns(
        pl.col("_row").min().over("series_id", "year").alias("_first"),
        pl.len().over("series_id", "year").alias("_n"),
    )
    r = _first_bad(dup, (pl.col("_n") > 1) & (pl.col("_row") != pl.col("_first")))
    if r:
        raise _fail(
            f"series {r['series_id']!r}: year {r['year']} appears twice (first at row "
            f"{r['_first']})",
            file, row=r["_row"], column="year",
        )  # fmt: skip
    return df.select(
        "_row", "series_id", "year", "unit_cost", "annual_production", "cumulative_production"
    ).sort("series_id", "year")


def _series_checks(df: pl.DataFrame, file: str) -> None:
    per = df.group_by("series_id").agg(
        pl.col("unit_cost").is_not_null().sum().alias("n_obs"),
        pl.col("_row").min().alias("first_row"),
        pl.col("year").filter(pl.col("unit_cost").is_not_null()).max().alias("last_obs"),
    )
    r = _first_bad(per.rename({"first_row": "_row"}), pl.col("n_obs") < MIN_OBSERVED)
    if r:
        raise _fail(
            f"series {r['series_id']!r} has {r['n_obs']} observed cost(s); at least "
            f"{MIN_OBSERVED} are needed",
            file, row=r["_row"], column="unit_cost",
        )  # fmt: skip
    early = df.join(per.select("series_id", "last_obs"), on="series_id").filter(
        pl.col("unit_cost").is_null() & (pl.col("year") < pl.col("last_obs"))
    )
    r = _first_bad(early, pl.lit(True))
    if r:
        raise _fail(
            f"series {r['series_id']!r}: year {r['year']} has no unit_cost but comes before the "
            f"last observed cost ({r['last_obs']}); only years after it can be forecast",
            file, row=r["_row"], column="unit_cost",
        )  # fmt: skip


def _cumulative(df: pl.DataFrame, file: str) -> pl.DataFrame:
    """Add ``cum`` (given or derived cumulative production) and ``annual`` (annual history)."""
    cum_out = np.full(df.height, np.nan)
    ann_out = np.full(df.height, np.nan)
    years_all = df["year"].to_numpy()
    q_all = df["annual_production"].fill_null(np.nan).to_numpy()
    z_all = df["cumulative_production"].fill_null(np.nan).to_numpy()
    rows_all = df["_row"].to_numpy()
    sid_all = df["series_id"].to_numpy()
    cost_all = df["unit_cost"].fill_null(np.nan).to_numpy()
    bounds = np.flatnonzero(np.r_[True, sid_all[1:] != sid_all[:-1], True])
    for lo, hi in itertools.pairwise(bounds):
        yr, q, z = years_all[lo:hi], q_all[lo:hi], z_all[lo:hi]
        n = hi - lo
        cum = z.copy()
        if np.all(np.isnan(z)):
            # Lafond initial stock over the consecutive run with annual production
            run = 0
            while run < n and np.isfinite(q[run]) and (run == 0 or yr[run] == yr[run - 1] + 1):
                run += 1
            if run >= 1:
                z0 = initial_stock(q[:run]) or 0.0
                cum[:run] = z0 + np.cumsum(q[:run])
            start = run
        else:
            start = 0
        for t in range(max(start, 1), n):  # carry forward: previous cumulative + annual
            consecutive = yr[t] == yr[t - 1] + 1
            if consecutive and np.isnan(cum[t]) and np.isfinite(cum[t - 1]) and np.isfinite(q[t]):
                cum[t] = cum[t - 1] + q[t]
        ok = np.isfinite(cum)
        out_of_range = ok & ((cum < MIN_VALUE) | (cum > MAX_VALUE))
        if out_of_range.any():  # derived: given values were checked in _parse_frame
            j = int(np.flatnonzero(out_of_range)[0])
            raise _fail(
                f"series {sid_all[lo]!r}, year {yr[j]}: cumulative production derived from "
                f"annual production is {cum[j]:.3g}, outside the accepted range "
                f"{VALUE_RANGE} (rescale the unit)",
                file, row=int(rows_all[lo + j]), column="annual_production",
            )  # fmt: skip
        if np.any(np.diff(cum[ok]) < 0):
            j = np.flatnonzero(ok)[1:][np.diff(cum[ok]) < 0][0]
            raise _fail(
                f"series {sid_all[lo]!r}, year {yr[j]}: cumulative production falls",
                file, row=int(rows_all[lo + j]), column="cumulative_production",
            )  # fmt: skip
        missing = np.isfinite(cost_all[lo:hi]) & ~ok
        if missing.any():
            j = int(np.flatnonzero(missing)[0])
            column = "cumulative_production" if np.any(np.isfinite(z)) else "annual_production"
            raise _fail(
                f"series {sid_all[lo]!r}, year {yr[j]}: observed cost without cumulative "
                "production (give cumulative_production, or annual_production for every year "
                "from the series' first year)",
                file, row=int(rows_all[lo + j]), column=column,
            )  # fmt: skip
        ann = q.copy()
        for t in range(1, n):
            if np.isnan(ann[t]) and ok[t] and ok[t - 1] and yr[t] == yr[t - 1] + 1:
                step = cum[t] - cum[t - 1]
                ann[t] = step if step > 0 else np.nan
        cum_out[lo:hi] = cum
        ann_out[lo:hi] = ann
    return df.with_columns(
        pl.Series("cum", cum_out).fill_nan(None), pl.Series("annual", ann_out).fill_nan(None)
    )


def _projection_checks(df: pl.DataFrame, file: str) -> None:
    has_cum = df.filter(pl.col("cum").is_not_null())
    last_known = has_cum.group_by("series_id").agg(pl.col("year").max().alias("lk_year"))
    hist = df.filter(pl.col("annual").is_not_null()).group_by("series_id").agg(
        pl.len().alias("n_annual"), pl.col("year").max().alias("last_annual")
    )  # fmt: skip
    need = (
        df.filter(pl.col("unit_cost").is_null() & pl.col("cum").is_null())
        .join(last_known, on="series_id", how="left")
        .join(hist, on="series_id", how="left")
        .filter(pl.col("year") > pl.col("lk_year"))
        .with_columns(pl.col("n_annual").fill_null(0))
    )
    r = _first_bad(
        need,
        (pl.col("n_annual") < MIN_ANNUAL_FOR_PROJECTION)
        | pl.col("last_annual").is_null()
        | (pl.col("last_annual") != pl.col("lk_year")),
    )
    if r:
        column = "annual_production" if "annual_production" in df.columns else None
        raise _fail(
            f"series {r['series_id']!r}, year {r['year']}: no production for this year to "
            f"forecast, and no way to project it: the series has {r['n_annual']} year(s) of "
            f"annual production ({MIN_ANNUAL_FOR_PROJECTION} needed, including the last year "
            f"with known cumulative production, {r['lk_year']}); give production for the year",
            file, row=r["_row"], column=column,
        )  # fmt: skip


def read_input(path: str | Path, model: Literal["wright", "time"] = "wright") -> ForecastInput:
    """Read and check a series file (see the module docstring); DataError on any problem.

    ``model="time"``: production is optional and unused; the task has ``log_q = year``
    (:func:`learnrace_pipeline.lib.forecast.time_trend.time_task`) and no annual history.
    """
    path = Path(path)
    header, records, file = _records(path)
    _check_header(header, file, need_production=model != "time")
    df = _parse_frame(header, records, file)
    _series_checks(df, file)
    if model == "time":
        obs = df.filter(pl.col("unit_cost").is_not_null()).select(
            "series_id", "year", pl.col("unit_cost").log().alias("log_cost")
        )
        targets = df.filter(pl.col("unit_cost").is_null()).select("series_id", "year")
        if targets.height == 0:
            raise _fail(
                "nothing to forecast: leave unit_cost blank in the rows of the years to forecast",
                file,
                column="unit_cost",
            )
        return ForecastInput(df, time_task(obs, targets), file)
    df = _cumulative(df, file)
    _projection_checks(df, file)
    obs = df.filter(pl.col("unit_cost").is_not_null()).select(
        "series_id",
        "year",
        pl.col("unit_cost").log().alias("log_cost"),
        pl.col("cum").log().alias("log_q"),
    )
    targets = df.filter(pl.col("unit_cost").is_null()).select(
        "series_id", "year", pl.col("cum").log().alias("log_q")
    )
    annual = df.filter(pl.col("annual").is_not_null()).select(
        "series_id", "year", pl.col("annual").log().alias("log_annual")
    )
    if targets.height == 0:
        raise _fail(
            "nothing to forecast: leave unit_cost blank in the rows of the years to forecast",
            file,
            column="unit_cost",
        )
    return ForecastInput(df, ForecastTask(obs, targets, annual), file)
