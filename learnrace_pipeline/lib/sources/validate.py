"""Strict conformance of reader output to the declared schemas.

Readers carry two bookkeeping columns while parsing, ``_file`` (path relative to the source folder)
and ``_row`` (1-based row in that file, header = row 1; the sheet row for workbooks), so that every
rule broken here can be reported at its origin. :func:`conform` checks, in order:

1. exactly the declared columns (a missing or extra column is an error);
2. dtypes (a cast that would lose a value is an error naming the first bad row);
3. no nulls in key columns; keys unique;
4. table rules: positive costs, non-negative production, non-decreasing cumulative production,
   shares in [0, 1], years between 1800 and the current year, known nations and units.

It returns the frame in declared column order, sorted by key, without the bookkeeping columns.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.schema import KEYS, MIN_YEAR, TABLES
from learnrace_pipeline.lib.vocab import nations as nations_mod
from learnrace_pipeline.lib.vocab import units as units_mod

BOOKKEEPING = ("_file", "_row")


def _where(df: pl.DataFrame, i: int) -> tuple[str | None, int | None]:
    file = df["_file"][i] if "_file" in df.columns else None
    row = df["_row"][i] if "_row" in df.columns else None
    return file, (int(row) if row is not None else None)


def fail_at(
    df: pl.DataFrame, mask: pl.Series | pl.Expr, source: str, column: str | None, problem: str
) -> None:
    """Raise DataError at the first row where ``mask`` is true (does nothing if none)."""
    if isinstance(mask, pl.Expr):
        mask = df.select(mask.fill_null(False)).to_series()
    else:
        mask = mask.fill_null(False)
    if not mask.any():
        return
    i = int(mask.arg_true()[0])
    file, row = _where(df, i)
    value = df[column][i] if column is not None and column in df.columns else None
    detail = f" (value {value!r})" if value is not None else ""
    n = int(mask.sum())
    more = f"; {n - 1} more row(s) like it" if n > 1 else ""
    raise DataError(f"{problem}{detail}{more}", source=source, file=file, row=row, column=column)


def conform(
    table: str, df: pl.DataFrame, source: str, *, today: dt.date | None = None
) -> pl.DataFrame:
    """Check ``df`` against the declared schema of ``table``; return it clean and sorted."""
    declared = TABLES[table]
    file0 = df["_file"][0] if "_file" in df.columns and df.height else None
    missing = [c for c in declared if c not in df.columns]
    if missing:
        raise DataError(
            f"table {table!r} lacks column(s) {missing}",
            source=source,
            file=file0,
            column=missing[0],
        )
    extra = [c for c in df.columns if c not in declared and c not in BOOKKEEPING]
    if extra:
        raise DataError(
            f"table {table!r} has undeclared column(s) {extra}",
            source=source,
            file=file0,
            column=extra[0],
        )
    if "_row" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Int64).alias("_row"))
    if "_file" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.String).alias("_file"))

    # dtypes: strict casts, reporting the first value that does not fit.
    casts = []
    for col, dtype in declared.items():
        if df.schema[col] == dtype:
            continue
        if df.schema[col] == pl.Null:
            casts.append(pl.col(col).cast(dtype))
            continue
        tried = df.select(pl.col(col).cast(dtype, strict=False)).to_series()
        bad = tried.is_null() & df[col].is_not_null()
        fail_at(df, bad, source, col, f"cannot read as {dtype}")
        casts.append(tried.alias(col))
    if casts:
        df = df.with_columns(casts)

    key = list(KEYS[table])
    for col in key:
        fail_at(df, df[col].is_null(), source, col, "key column is empty")
    dup = df.select(pl.struct(key).is_duplicated()).to_series()
    fail_at(df, dup, source, key[-1], f"duplicate key {tuple(key)}")

    _table_rules(table, df, source, today or dt.date.today())
    return df.select(list(declared)).sort(key)


def _table_rules(table: str, df: pl.DataFrame, source: str, today: dt.date) -> None:
    if "year" in df.columns or "report_year" in df.columns:
        ycol = "year" if "year" in df.columns else "report_year"
        fail_at(
            df, df[ycol] > today.year, source, ycol, f"year is in the future (after {today.year})"
        )
        fail_at(df, df[ycol] < MIN_YEAR, source, ycol, f"year before {MIN_YEAR}")
    if "nation" in df.columns:
        known = df["nation"].is_in(list(nations_mod.known_codes()))
        fail_at(
            df,
            ~known,
            source,
            "nation",
            "unknown nation code (ISO 3166 alpha-3, WLD or a declared region)",
        )
    if "nations" in df.columns:
        flat = df.select(
            pl.col("nations")
            .list.eval(pl.element().is_in(list(nations_mod.known_codes())).not_())
            .list.any()
        ).to_series()
        fail_at(df, flat, source, "nations", "unknown nation code in list")
    if "unit" in df.columns:
        ok = df["unit"].map_elements(units_mod.is_known, return_dtype=pl.Boolean)
        fail_at(df, ~ok, source, "unit", "unknown unit (declare it in lib/vocab/units.py)")
    if "production_unit" in df.columns:
        ok = df["production_unit"].map_elements(units_mod.is_known, return_dtype=pl.Boolean)
        fail_at(
            df, df["production_unit"].is_not_null() & ~ok, source, "production_unit", "unknown unit"
        )
    if table == "cost_observations":
        fail_at(df, df["unit_cost"].is_null(), source, "unit_cost", "missing cost")
        fail_at(df, ~df["unit_cost"].is_finite(), source, "unit_cost", "cost is not finite")
        fail_at(df, df["unit_cost"] <= 0, source, "unit_cost", "cost must be positive")
    if table == "production":
        fail_at(df, df["annual_production"] < 0, source, "annual_production", "negative production")
        fail_at(
            df,
            df["cumulative_production"] < 0,
            source,
            "cumulative_production",
            "negative cumulative production",
        )
        with_order = df.with_row_index("_i").sort(["series_id", "nation", "year"])
        drop = with_order["cumulative_production"] < with_order.select(
            pl.col("cumulative_production").shift(1).over(["series_id", "nation"])
        ).to_series() * (1 - 1e-9)
        if drop.fill_null(False).any():
            i = int(with_order["_i"][int(drop.fill_null(False).arg_true()[0])])
            mask = pl.Series([j == i for j in range(df.height)])
            fail_at(
                df,
                mask,
                source,
                "cumulative_production",
                "cumulative production decreases (must be non-decreasing by year)",
            )
    if table == "market_shares":
        fail_at(
            df,
            (df["share"] < 0) | (df["share"] > 1),
            source,
            "share",
            "share outside [0, 1] (shares are fractions)",
        )
    if table == "av_testing":
        fail_at(df, df["autonomous_miles"] < 0, source, "autonomous_miles", "negative miles")
        fail_at(df, df["disengagements"] < 0, source, "disengagements", "negative disengagements")
        fail_at(
            df,
            ~df["permit_type"].is_in(["safety_driver", "driverless"]),
            source,
            "permit_type",
            "unknown permit type",
        )
    if table == "ai_models":
        for c in ("training_compute_flop", "parameters", "dataset_size"):
            fail_at(df, df[c] <= 0, source, c, "must be positive")
        ok_conf = df["confidence"].is_null() | df["confidence"].is_in(
            ["Confident", "Likely", "Speculative", "Unknown"]
        )
        fail_at(df, ~ok_conf, source, "confidence", "unknown confidence level")
        ok_basis = df["nation_basis"].is_null() | df["nation_basis"].is_in(
            ["organization", "epoch_country"]
        )
        fail_at(df, ~ok_basis, source, "nation_basis", "unknown nation basis")
        fail_at(
            df,
            df["nation"].is_null() != df["nation_basis"].is_null(),
            source,
            "nation_basis",
            "a credited nation needs a basis, and only a credited nation has one",
        )
        ok_set = df["dataset"].is_in(["notable", "large_scale", "both"])
        fail_at(df, ~ok_set, source, "dataset", "unknown dataset (notable, large_scale, both)")
