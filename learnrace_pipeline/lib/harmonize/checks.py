"""Data-quality rules on harmonized tables, as plain functions returning findings.

Each function takes a Polars frame and returns a frame of offending rows (empty = pass), so the
same rules serve the Dagster asset checks, the CLI and notebooks.
"""

from __future__ import annotations

import math

import polars as pl

from learnrace_pipeline.lib.sources.schema import KEYS
from learnrace_pipeline.lib.vocab import nations, taxonomy, units

#: A point is an extreme outlier when log cost jumps by more than this both into and out of it
#: (a spike of over 10x that reverts), or jumps by more than OUTLIER_ONE_SIDED once.
OUTLIER_SPIKE = math.log(10.0)
OUTLIER_ONE_SIDED = math.log(100.0)


def duplicate_keys(table: str, df: pl.DataFrame) -> pl.DataFrame:
    key = list(KEYS[table])
    return df.filter(pl.struct(key).is_duplicated()).select(key)


def nonpositive_costs(df: pl.DataFrame) -> pl.DataFrame:
    """Costs that are zero, negative, null or NaN (Polars orders NaN above every number, so
    ``NaN > 0`` alone would pass it)."""
    bad = ~(pl.col("unit_cost") > 0).fill_null(False) | pl.col("unit_cost").is_nan().fill_null(
        False
    )
    return df.filter(bad).select("series_id", "nation", "year", "unit_cost")


def decreasing_cumulative(df: pl.DataFrame) -> pl.DataFrame:
    prev = pl.col("cumulative_production").shift(1).over(["series_id", "nation"], order_by="year")
    return (
        df.sort("series_id", "nation", "year")
        .with_columns(prev.alias("previous_cumulative"))
        .filter(pl.col("cumulative_production") < pl.col("previous_cumulative") * (1 - 1e-9))
        .select("series_id", "nation", "year", "previous_cumulative", "cumulative_production")
    )


def unknown_codes(df: pl.DataFrame) -> pl.DataFrame:
    """Rows whose nation or unit is not declared."""
    known_n = list(nations.known_codes())
    bad = pl.lit(False)
    if "nation" in df.columns:
        bad = bad | ~pl.col("nation").is_in(known_n)
    if "unit" in df.columns:
        bad = bad | ~pl.col("unit").map_elements(units.is_known, return_dtype=pl.Boolean)
    return df.filter(bad)


def undeclared_technologies(df: pl.DataFrame) -> pl.DataFrame:
    known = taxonomy.technologies()
    return df.filter(
        ~pl.col("technology").is_in(list(known))
        | (pl.col("industry") != pl.col("technology").replace_strict(known, default=None))
    )


def extreme_outliers(df: pl.DataFrame) -> pl.DataFrame:
    """Cost points that spike 10x and revert, or move 100x in one step, within a series."""
    lc = pl.col("unit_cost").log()
    w = ["series_id", "nation"]
    d_in = (lc - lc.shift(1).over(w, order_by="year")).alias("dlog_in")
    d_out = (lc.shift(-1).over(w, order_by="year") - lc).alias("dlog_out")
    x = df.with_columns(d_in, d_out)
    spike = (
        (pl.col("dlog_in").abs() > OUTLIER_SPIKE)
        & (pl.col("dlog_out").abs() > OUTLIER_SPIKE)
        & (pl.col("dlog_in").sign() != pl.col("dlog_out").sign())
    )
    jump = pl.col("dlog_in").abs() > OUTLIER_ONE_SIDED
    return x.filter((spike | jump).fill_null(False)).select(
        "series_id", "nation", "year", "unit_cost", "dlog_in", "dlog_out"
    )


#: Miles by which a reported ANNUAL TOTAL may differ from the sum of the monthly columns before
#: it counts as a discrepancy (the reports round monthly miles; 2 miles absorbs the rounding).
ANNUAL_TOTAL_TOLERANCE_MILES = 2.0


def annual_total_discrepancies(av_testing: pl.DataFrame) -> pl.DataFrame:
    """AV rows whose reported ANNUAL TOTAL disagrees with the monthly sum (which is what the
    warehouse uses), with the difference in miles."""
    return (
        av_testing.filter(pl.col("reported_annual_total").is_not_null())
        .with_columns(
            (pl.col("reported_annual_total") - pl.col("autonomous_miles")).alias("difference_miles")
        )
        .filter(pl.col("difference_miles").abs() > ANNUAL_TOTAL_TOLERANCE_MILES)
        .select(
            "company",
            "report_year",
            "permit_type",
            "source_file",
            "autonomous_miles",
            "reported_annual_total",
            "difference_miles",
        )
        .sort(pl.col("difference_miles").abs(), descending=True)
    )
