"""A race metric as observed: each competing nation's yearly figure formed from the tidy rows.

:func:`observed_metric` selects a metric's rows (:func:`spec.select_rows`), takes the time column
to a calendar year (a date's year; CA DMV reporting years as they are; a row without a date is
left out) and forms each nation's figure by the metric's ``measure``:

- ``value``: the value column, one row per nation and year (two rows for one nation-year are a
  :class:`DataError`);
- ``running_max`` / ``running_min``: the nation's best value to date, x_n(y) = max (min) of its
  rows dated in years <= y, for every year from its first row to the last year of the metric's
  rows (the record stands until it is beaten);
- ``ratio_best_company``: per company and year, sum(value) / sum(per) over its rows, then the
  nation's largest ratio that year. A company-year with ``per`` = 0 (e.g. no disengagement) has
  no ratio and is left out;
- ``cumulative_sum``: C_n(y) = sum of the value column over the nation's rows dated <= y, from its
  first row to the last year of the metric's rows (a year without rows adds nothing);
- ``count``: rows per nation and year, from the first to the last year of the metric's rows (0
  in a year with none); ``share`` = the nation's rows / all the year's rows, every row counted in
  the denominator (other nations, aggregates and rows credited to no nation: the year's total);
- ``learning_rate``: one figure per nation, from the learning fits, passed in as
  ``learning_rates`` (nation -> learning rate, a fraction); its year is the last year of the
  nation's cost rows.

``scope: world`` gives every nation the WLD figure; a ``proxy`` measures a nation through another
code's rows (Germany's module production through EUROPE); a nation that declares the role
``missing`` gets one row with year, value and share null, so it is listed with no figure.

Output columns: ``nation`` (the competing nation's code, never the proxy's), ``year`` (Int32),
``value`` (Float64, the metric's unit, see ``Metric.unit_of``) and ``share`` (Float64: the
count share, or the value itself when the metric's unit is ``fraction``; null otherwise), sorted
in the industry's nation order, then year.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, select_rows

SOURCE = "race observed metric"
WORLD = "WLD"
SCHEMA = {"nation": pl.String, "year": pl.Int32, "value": pl.Float64, "share": pl.Float64}


def _with_year(rows: pl.DataFrame, metric: Metric) -> pl.DataFrame:
    col = metric.time_column
    if col is None:
        raise DataError(
            f"metric {metric.name!r} has no time column", source=SOURCE, file=metric.table
        )
    dtype = rows.schema[col]
    year = pl.col(col).dt.year() if dtype in (pl.Date, pl.Datetime) else pl.col(col)
    return rows.with_columns(year.cast(pl.Int32).alias("_year")).filter(
        pl.col("_year").is_not_null()
    )


def _fill_years(per_year: pl.DataFrame, last: int, fill: str) -> pl.DataFrame:
    """Every year from each code's first year to ``last``; ``fill``: "forward" carries the last
    figure, "zero" puts 0 in a year without rows."""
    if per_year.height == 0:
        return per_year
    spans = per_year.group_by("_code").agg(pl.col("_year").min().alias("first"))
    grid = spans.select(
        "_code", pl.int_ranges("first", last + 1, dtype=pl.Int32).alias("_year")
    ).explode("_year")
    out = grid.join(per_year, on=["_code", "_year"], how="left").sort("_code", "_year")
    if fill == "forward":
        return out.with_columns(pl.col("_v").forward_fill().over("_code"))
    return out.with_columns(pl.col("_v").fill_null(0.0))


def _per_code(metric: Metric, rows: pl.DataFrame, learning_rates: Mapping[str, float] | None):
    """Figures per data code (``_code``) and year (``_year``): columns _code, _year, _v, _share."""
    code = pl.col(metric.nation_column).alias("_code")
    val = pl.col(metric.value)
    measure = metric.measure
    last = int(rows["_year"].max()) if rows.height else 0
    if measure == "value":
        out = rows.select(code, "_year", val.cast(pl.Float64).alias("_v"))
        dup = out.filter(out.select("_code", "_year").is_duplicated())
        if dup.height:
            r = dup.row(0, named=True)
            raise DataError(
                f"metric {metric.name!r} (measure value) has {dup.height} rows sharing a nation "
                f"and year, first {r['_code']} {r['_year']}: one figure per nation-year expected",
                source=SOURCE,
                file=metric.table,
                column=metric.value,
            )
        return out.with_columns(pl.lit(None, pl.Float64).alias("_share"))
    if measure in ("running_max", "running_min"):
        agg = val.max() if measure == "running_max" else val.min()
        per_year = rows.group_by(code, "_year").agg(agg.cast(pl.Float64).alias("_v"))
        filled = _fill_years(per_year, last, "forward")
        cum = pl.col("_v").cum_max() if measure == "running_max" else pl.col("_v").cum_min()
        return filled.with_columns(cum.over("_code"), pl.lit(None, pl.Float64).alias("_share"))
    if measure == "ratio_best_company":
        if "company" not in rows.columns:
            raise DataError(
                f"metric {metric.name!r}: ratio_best_company needs a `company` column",
                source=SOURCE,
                file=metric.table,
                column="company",
            )
        per = pl.col(metric.per)
        firms = rows.group_by(code, "company", "_year").agg(
            val.sum().cast(pl.Float64).alias("_num"), per.sum().cast(pl.Float64).alias("_den")
        )
        firms = firms.filter(pl.col("_den") > 0)
        return (
            firms.group_by("_code", "_year")
            .agg((pl.col("_num") / pl.col("_den")).max().alias("_v"))
            .with_columns(pl.lit(None, pl.Float64).alias("_share"))
        )
    if measure == "cumulative_sum":
        per_year = rows.group_by(code, "_year").agg(val.sum().cast(pl.Float64).alias("_v"))
        filled = _fill_years(per_year, last, "zero")
        return filled.with_columns(
            pl.col("_v").cum_sum().over("_code"), pl.lit(None, pl.Float64).alias("_share")
        )
    if measure == "count":
        totals = rows.group_by("_year").agg(pl.len().cast(pl.Float64).alias("_total"))
        per_year = (
            rows.filter(pl.col(metric.nation_column).is_not_null())
            .group_by(code, "_year")
            .agg(pl.len().cast(pl.Float64).alias("_v"))
        )
        first = int(rows["_year"].min())
        codes = per_year.select("_code").unique()
        grid = codes.join(
            pl.DataFrame({"_year": pl.int_range(first, last + 1, dtype=pl.Int32, eager=True)}),
            how="cross",
        )
        out = grid.join(per_year, on=["_code", "_year"], how="left").with_columns(
            pl.col("_v").fill_null(0.0)
        )
        return out.join(totals, on="_year", how="left").select(
            "_code", "_year", "_v", (pl.col("_v") / pl.col("_total")).alias("_share")
        )
    if measure == "learning_rate":
        if learning_rates is None:
            raise ModelError(
                f"metric {metric.name!r} is a learning rate: it comes from the learning fits; "
                "pass learning_rates (nation -> rate)"
            )
        ends = rows.group_by(code).agg(pl.col("_year").max())
        return ends.with_columns(
            pl.col("_code")
            .replace_strict(dict(learning_rates), default=None, return_dtype=pl.Float64)
            .alias("_v"),
            pl.lit(None, pl.Float64).alias("_share"),
        )
    raise ModelError(f"metric {metric.name!r}: unknown measure {measure!r}")


def observed_metric(
    industry: IndustrySpec,
    metric: Metric,
    tables: Mapping[str, pl.DataFrame],
    *,
    learning_rates: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Each competing nation's observed yearly figure of ``metric`` (see the module doc).

    ``learning_rates``: nation -> learning rate (from the learning fits), needed only by a
    ``learning_rate`` metric, where a nation with rows but no rate is a :class:`ModelError`.
    """
    if metric.table not in tables:
        raise DataError(
            f"table {metric.table!r} of metric {metric.name!r} is not among the tables given",
            source=SOURCE,
            file=metric.table,
        )
    rows = _with_year(select_rows(metric, tables), metric)
    figures = _per_code(metric, rows, learning_rates)
    is_fraction = metric.unit == "fraction"
    parts: list[pl.DataFrame] = []
    for entry in industry.nations:
        if metric.role in dict(entry.missing):
            parts.append(
                pl.DataFrame({"nation": [entry.code]}).with_columns(
                    pl.lit(None, pl.Int32).alias("year"),
                    pl.lit(None, pl.Float64).alias("value"),
                    pl.lit(None, pl.Float64).alias("share"),
                )
            )
            continue
        data_code = WORLD if metric.scope == "world" else entry.data_code(metric.role)
        mine = figures.filter(pl.col("_code") == data_code)
        if metric.measure == "learning_rate" and mine["_v"].is_null().any():
            raise ModelError(
                f"metric {metric.name!r}: no learning rate given for {entry.code}, which has "
                "cost rows"
            )
        share = pl.col("_v") if is_fraction else pl.col("_share")
        parts.append(
            mine.sort("_year").select(
                pl.lit(entry.code).alias("nation"),
                pl.col("_year").cast(pl.Int32).alias("year"),
                pl.col("_v").cast(pl.Float64).alias("value"),
                share.cast(pl.Float64).alias("share"),
            )
        )
    if not parts:
        return pl.DataFrame(schema=SCHEMA)
    return pl.concat([p.cast(SCHEMA) for p in parts], how="vertical")
