"""The deployment-growth panel: each race nation's annual volume per industry, and the world's.

For every industry whose volume metric is a share of a yearly world total (a
:class:`VolumeMetric`, built from the race file by :mod:`learnrace_pipeline.lib.race.volume`),
the panel holds one **series** per competing nation (its volume rows; a nation measured through
a proxy, e.g. Germany through ``EUROPE``, keeps its race code and records the proxy as
``data_nation``) and one series ``OTHER``: the world total less the competing nations, in the years where all of them and the world are known. Every
nation's share of the world is then ``v_n / (sum of the industry's series)``, in [0, 1] by
construction.

Where the volumes come from:

- ``measure: value`` on ``market_shares``: the shares are ratios of a production series to its
  ``WLD`` row; :data:`VOLUME_SERIES` names that series per ``basis``. The ratios are checked
  against the ``market_shares`` rows (:class:`DeploymentDataConfig.share_tolerance`), so a
  mis-declared series fails loudly. Units are the series' (GW of modules per year, vehicles,
  robots).
- ``measure: count`` on ``ai_models``: rows selected by the metric's filter, counted per nation
  and publication year (``kind = "count"``, unit ``model``); the world is every selected row of
  the year, credited to one nation or not. A final year the data covers only in part (latest
  publication date before December) is left out; years before the industry's ``first_year`` too.
- A share metric with fewer than ``min_years`` years (the 2019 fabrication snapshot) is a
  **cross-section**: its shares are kept as observed, and no growth is fitted.
- Other volume measures (cumulative test miles) are not annual shares: not in the panel.

Each series gets a centre year per industry (the middle of the industry's observed years), the
origin of its time axis in the growth models (:mod:`.deployment`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from learnrace_pipeline.lib.errors import DataError

SOURCE = "deployment growth panel"
#: The rest-of-world series: the world total less the industry's competing nations.
REST = "OTHER"
WORLD = "WLD"
LEVEL, COUNT = "level", "count"

#: ``market_shares`` basis -> the production series whose ratio to its WLD row is that share.
VOLUME_SERIES: dict[str, str] = {
    "pv_module_production_of_world": "helveston_solar_2022:pv_module_production_pvs",
    "ev_car_sales_of_world": "iea_gevo_2024:ev_sales_cars",
    "industrial_robot_installations_of_world": "owid_ifr_robots:industrial_robot_installations",
}

SERIES_SCHEMA = {
    "series": pl.String,  # "<industry>:<nation>"
    "industry": pl.String,
    "nation": pl.String,  # race code, or OTHER
    "data_nation": pl.String,  # the code whose rows are used
    "kind": pl.String,  # level | count
    "unit": pl.String,
}
OBS_SCHEMA = {
    "series": pl.String,
    "industry": pl.String,
    "nation": pl.String,
    "year": pl.Int32,
    "volume": pl.Float64,
}
SHARE_SCHEMA = {
    "industry": pl.String,
    "nation": pl.String,
    "year": pl.Int32,
    "share": pl.Float64,
}


@dataclass(frozen=True)
class VolumeMetric:
    """One industry's volume metric as the panel reads it (the race file's, through
    :func:`learnrace_pipeline.lib.race.volume.volume_metrics`).

    Attributes:
        industry: industry id.
        nations: (race code, code whose rows measure it) of each competing nation with rows.
        table, filter, value, measure, unit, nation_column, time_column: as in the race file;
            ``filter`` holds (column, allowed values) pairs.
    """

    industry: str
    nations: tuple[tuple[str, str], ...]
    table: str
    filter: tuple[tuple[str, tuple], ...]
    value: str
    measure: str
    unit: str
    nation_column: str
    time_column: str

    def select(self, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
        """The rows of the metric's table its filter selects, with a known value."""
        cond = pl.col(self.value).is_not_null()
        for col, values in self.filter:
            cond = cond & pl.col(col).is_in(list(values))
        return tables[self.table].filter(cond)


def volume_metrics(spec: Any) -> list[VolumeMetric]:
    """The volume metric of every industry with data of a race specification
    (:class:`learnrace_pipeline.lib.race.spec.RaceSpec`, read through its attributes: the model
    layer does not import the race package), as the panel reads it: nations declared missing
    left out, a proxy's code as the data code."""
    out = []
    for ind in spec.industries:
        m = ind.volume
        if ind.status != "data" or not hasattr(m, "table"):
            continue
        out.append(
            VolumeMetric(
                industry=ind.id,
                nations=tuple(
                    (e.code, e.data_code("volume"))
                    for e in ind.nations
                    if "volume" not in dict(e.missing)
                ),
                table=m.table,
                filter=tuple(m.filter),
                value=m.value,
                measure=m.measure,
                unit=m.unit if isinstance(m.unit, str) else "",
                nation_column=m.nation_column or "",
                time_column=m.time_column or "",
            )
        )
    return out


@dataclass(frozen=True)
class DeploymentDataConfig:
    """How the panel is cut (hashed into the model id).

    Attributes:
        first_year: (industry, year) pairs: observations before ``year`` are left out (notable
            AI models: a handful a year, mostly American, before the deep-learning era).
        min_years: fewest years of world totals for a growth fit; below it, a cross-section.
        share_tolerance: largest allowed |series ratio - market_shares share|.
    """

    first_year: tuple[tuple[str, int], ...] = (("ai_foundation_models", 2012),)
    min_years: int = 6
    share_tolerance: float = 1e-3


@dataclass(frozen=True)
class DeploymentData:
    """The panel (module doc): series, observations, observed shares, centre years."""

    series: pl.DataFrame  # SERIES_SCHEMA, fitted industries only, in industry order
    obs: pl.DataFrame  # OBS_SCHEMA: one row per series and year observed (volume > 0; counts >= 0)
    shares: pl.DataFrame  # SHARE_SCHEMA: observed share of world volume, every share industry
    industries: tuple[str, ...]  # fitted industries
    cross_sections: tuple[str, ...]  # share industries with too few years to fit
    centre_year: Mapping[str, float]  # industry -> origin of the time axis

    def frames(self) -> tuple[pl.DataFrame, ...]:
        """The frames that define a fit's data (hashed into its data version)."""
        return (self.series, self.obs, self.shares)


def _fail(problem: str, column: str | None = None, file: str | None = None) -> DataError:
    return DataError(problem, source=SOURCE, file=file, column=column)


def _level_panel(
    ind: VolumeMetric,
    tables: Mapping[str, pl.DataFrame],
    config: DeploymentDataConfig,
) -> tuple[pl.DataFrame, pl.DataFrame, str] | None:
    """(volume rows nation/year/volume incl. WLD, market_shares rows, unit) of a share metric
    with a declared production series; None when the metric has too few years (cross-section)."""
    rows = ind.select(tables)
    basis = [v for col, vals in ind.filter if col == "basis" for v in vals]
    n_years = rows["year"].n_unique() if rows.height else 0
    if n_years < config.min_years:
        return None
    if len(basis) != 1 or basis[0] not in VOLUME_SERIES:
        raise _fail(
            f"industry {ind.industry!r}: no production series declared for the share basis {basis!r} "
            f"(declared: {sorted(VOLUME_SERIES)})",
            column="basis",
            file="market_shares",
        )
    series_id = VOLUME_SERIES[basis[0]]
    prod = tables["production"].filter(
        (pl.col("series_id") == series_id) & pl.col("annual_production").is_not_null()
    )
    if prod.height == 0:
        raise _fail(
            f"industry {ind.industry!r}: production series {series_id!r} has no annual_production rows",
            column="annual_production",
            file="production",
        )
    units = prod["unit"].unique().to_list()
    if len(units) != 1:
        raise _fail(f"series {series_id!r} mixes units {units}", column="unit", file="production")
    bad = prod.filter(pl.col("annual_production") < 0)
    if bad.height:
        r = bad.row(0, named=True)
        raise _fail(
            f"series {series_id!r}, nation {r['nation']}, year {r['year']}: negative volume "
            f"{r['annual_production']}",
            column="annual_production",
            file="production",
        )
    vol = prod.select(
        "nation", pl.col("year").cast(pl.Int32), pl.col("annual_production").alias("volume")
    )
    return vol, rows, units[0]


def _count_panel(
    ind: VolumeMetric,
    tables: Mapping[str, pl.DataFrame],
) -> pl.DataFrame:
    """nation/year/volume counts of a ``count`` metric (WLD = every selected row of the year),
    the final year dropped when the data ends before its December."""
    rows = ind.select(tables)
    time_col, nation_col = ind.time_column, ind.nation_column
    if rows.height == 0 or time_col is None or nation_col is None:
        raise _fail(f"industry {ind.industry!r}: the count metric selects no dated rows", time_col)
    last = rows[time_col].max()
    dated = rows.with_columns(pl.col(time_col).dt.year().cast(pl.Int32).alias("year"))
    if last.month < 12:
        dated = dated.filter(pl.col("year") < last.year)
    years = sorted(dated["year"].unique().to_list())
    per_nation = (
        dated.filter(pl.col(nation_col).is_not_null())
        .group_by(pl.col(nation_col).alias("nation"), "year")
        .agg(pl.len().cast(pl.Float64).alias("volume"))
    )
    world = dated.group_by("year").agg(pl.len().cast(pl.Float64).alias("volume"))
    # every nation that appears gets an explicit zero in the years it has no row
    grid = (
        per_nation.select("nation")
        .unique()
        .join(pl.DataFrame({"year": years}, schema={"year": pl.Int32}), how="cross")
    )
    counts = grid.join(per_nation, on=["nation", "year"], how="left").with_columns(
        pl.col("volume").fill_null(0.0)
    )
    return pl.concat([counts, world.with_columns(pl.lit(WORLD).alias("nation"))], how="diagonal")


def _series_of(
    ind: VolumeMetric, vol: pl.DataFrame, kind: str, unit: str, first_year: int | None
) -> tuple[list[dict], pl.DataFrame, pl.DataFrame]:
    """(series rows, observations, observed shares) of one industry from its nation/year/volume
    rows (WLD included)."""
    if first_year is not None:
        vol = vol.filter(pl.col("year") >= first_year)
    entries = [code for code, _ in ind.nations]
    codes = [data_code for _, data_code in ind.nations]
    if len(set(codes)) != len(codes):
        raise _fail(f"industry {ind.industry!r}: two nations share one data code {codes}", "nation")
    world = vol.filter(pl.col("nation") == WORLD).select("year", pl.col("volume").alias("world"))
    if world.height == 0:
        raise _fail(f"industry {ind.industry!r}: no world ({WORLD}) volume rows", "nation")
    series: list[dict] = []
    obs: list[pl.DataFrame] = []
    wide = world
    for e, code in zip(entries, codes, strict=True):
        mine = vol.filter(pl.col("nation") == code).select("year", "volume")
        if mine.height == 0:
            raise _fail(
                f"industry {ind.industry!r}: nation {e} (rows of {code}) has no volume rows and "
                "is not declared missing",
                "nation",
            )
        label = f"{ind.industry}:{e}"
        series.append(
            {
                "series": label,
                "industry": ind.industry,
                "nation": e,
                "data_nation": code,
                "kind": kind,
                "unit": unit,
            }
        )
        keep = mine if kind == COUNT else mine.filter(pl.col("volume") > 0)
        obs.append(keep.with_columns(series=pl.lit(label), nation=pl.lit(e)))
        wide = wide.join(mine.rename({"volume": e}), on="year", how="left")
    nation_cols = list(entries)
    wide = wide.with_columns(
        (pl.col("world") - pl.sum_horizontal(nation_cols)).alias(REST),
        pl.all_horizontal([pl.col(c).is_not_null() for c in nation_cols]).alias("complete"),
    )
    complete = wide.filter(pl.col("complete") & pl.col("world").is_not_null())
    short = complete.filter(pl.col(REST) < (0 if kind == COUNT else 1e-12 * pl.col("world")))
    if short.height:
        r = short.row(0, named=True)
        raise _fail(
            f"industry {ind.industry!r}, year {r['year']}: the competing nations' volumes "
            f"({r['world'] - r[REST]:.6g}) reach the world total ({r['world']:.6g}); no room "
            f"for the rest of the world",
            "volume",
        )
    series.append(
        {
            "series": f"{ind.industry}:{REST}",
            "industry": ind.industry,
            "nation": REST,
            "data_nation": f"{WORLD} less nations",
            "kind": kind,
            "unit": unit,
        }
    )
    rest = complete.select("year", pl.col(REST).alias("volume"))
    if kind == LEVEL:
        rest = rest.filter(pl.col("volume") > 0)
    obs.append(rest.with_columns(series=pl.lit(f"{ind.industry}:{REST}"), nation=pl.lit(REST)))
    obs_df = pl.concat(
        [o.with_columns(industry=pl.lit(ind.industry)) for o in obs], how="diagonal"
    ).select(list(OBS_SCHEMA))
    shares = (
        complete.select("year", "world", *nation_cols)
        .unpivot(index=["year", "world"], on=nation_cols, variable_name="nation")
        .select(
            pl.lit(ind.industry).alias("industry"),
            "nation",
            "year",
            (pl.col("value") / pl.col("world")).alias("share"),
        )
    )
    return series, obs_df.cast(OBS_SCHEMA), shares.cast(SHARE_SCHEMA)


def _check_shares(
    ind: VolumeMetric,
    shares: pl.DataFrame,
    rows: pl.DataFrame,
    tolerance: float,
) -> None:
    """The series ratios must reproduce the ``market_shares`` rows of the metric."""
    code_of = {data_code: code for code, data_code in ind.nations}
    table = rows.filter(pl.col("nation").is_in(list(code_of))).select(
        pl.col("nation").replace(code_of).alias("nation"),
        pl.col("year").cast(pl.Int32),
        pl.col("share").alias("table_share"),
    )
    both = shares.join(table, on=["nation", "year"], how="inner").with_columns(
        (pl.col("share") - pl.col("table_share")).abs().alias("gap")
    )
    worst = both.sort("gap", descending=True).head(1)
    if worst.height and worst["gap"][0] > tolerance:
        r = worst.row(0, named=True)
        raise _fail(
            f"industry {ind.industry!r}, nation {r['nation']}, year {r['year']}: the production "
            f"series gives a share of {r['share']:.6g}, market_shares says "
            f"{r['table_share']:.6g}",
            column="share",
            file="market_shares",
        )


def build_deployment_data(
    metrics: Sequence[VolumeMetric] | Any,
    tables: Mapping[str, pl.DataFrame],
    config: DeploymentDataConfig | None = None,
) -> DeploymentData:
    """The panel of the volume ``metrics`` (or of every industry of a race specification, through
    :func:`volume_metrics`; annual shares of a world total, other measures skipped), from the
    tidy ``tables`` (``production``, ``market_shares``, ``ai_models``: the
    snapshot's or the warehouse's).

    Raises:
        DataError: no production series declared for a share basis, its ratios disagree with
            ``market_shares``, a negative volume, a competing nation without rows, or nations
            whose volumes reach the world total.
    """
    if hasattr(metrics, "industries"):
        metrics = volume_metrics(metrics)
    config = config or DeploymentDataConfig()
    first = dict(config.first_year)
    series: list[dict] = []
    obs: list[pl.DataFrame] = []
    shares: list[pl.DataFrame] = []
    fitted: list[str] = []
    cross: list[str] = []
    for ind in metrics:
        if ind.measure == "value" and ind.table == "market_shares":
            level = _level_panel(ind, tables, config)
            if level is None:
                cross.append(ind.industry)
                shares.append(_cross_section(ind, tables))
                continue
            vol, rows, unit = level
            s, o, sh = _series_of(ind, vol, LEVEL, unit, first.get(ind.industry))
            _check_shares(ind, sh, rows, config.share_tolerance)
        elif ind.measure == "count":
            vol = _count_panel(ind, tables)
            s, o, sh = _series_of(ind, vol, COUNT, ind.unit, first.get(ind.industry))
        else:
            continue
        if sh["year"].n_unique() < config.min_years:
            cross.append(ind.industry)
            shares.append(sh)
            continue
        fitted.append(ind.industry)
        series += s
        obs.append(o)
        shares.append(sh)
    obs_df = (
        pl.concat(obs, how="vertical").sort("industry", "series", "year")
        if obs
        else pl.DataFrame(schema=OBS_SCHEMA)
    )
    centre = {
        ind: float(
            (
                obs_df.filter(pl.col("industry") == ind)["year"].min()
                + obs_df.filter(pl.col("industry") == ind)["year"].max()
            )
            / 2
        )
        for ind in fitted
    }
    return DeploymentData(
        series=pl.DataFrame(series, schema=SERIES_SCHEMA),
        obs=obs_df,
        shares=(
            pl.concat(shares, how="vertical").sort("industry", "nation", "year")
            if shares
            else pl.DataFrame(schema=SHARE_SCHEMA)
        ),
        industries=tuple(fitted),
        cross_sections=tuple(cross),
        centre_year=centre,
    )


def _cross_section(ind: VolumeMetric, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Observed shares of the competing nations from the metric's own rows."""
    rows = ind.select(tables)
    code_of = {data_code: code for code, data_code in ind.nations}
    return rows.filter(pl.col(ind.nation_column).is_in(list(code_of))).select(
        pl.lit(ind.industry).alias("industry"),
        pl.col(ind.nation_column).replace(code_of).alias("nation"),
        pl.col(ind.time_column).cast(pl.Int32).alias("year"),
        pl.col(ind.value).cast(pl.Float64).alias("share"),
    )
