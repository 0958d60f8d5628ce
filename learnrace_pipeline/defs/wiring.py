"""Constants every ``defs`` layer shares: pools, asset keys, the harmonized inputs of the fits.

Asset modules import from here (and from ``resources``), never from one another.

Pools (limits from the instance's ``concurrency.pools.default_limit``, 1 as written by
``learnrace run``):

- ``duckdb_write``: steps that write the warehouse and do little else (sources, harmonized
  tables). DuckDB allows one writer per file.
- ``mcmc``: steps that sample a posterior or refit per hindcast origin; one at a time keeps the
  two cores for one sampler's chains.

Pools order the steps of runs sharing one ``DAGSTER_HOME`` only. Every write, in either pool,
also holds the warehouse lock for its transaction (:mod:`learnrace_pipeline.lib.storage.warehouse`),
which orders writers of every process.
"""

import datetime as dt

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.lib.models.learning.panel import Panel, pooled_wright_panel
from learnrace_pipeline.lib.models.learning.time_panel import build_time_panel
from learnrace_pipeline.lib.sources import SOURCE_TABLES
from learnrace_pipeline.lib.vocab import experience_map

WRITE_POOL = "duckdb_write"
MCMC_POOL = "mcmc"

#: IO manager of posterior fits (``xarray.DataTree`` as netCDF).
FIT_IO = "fit_io_manager"

#: The three harmonized tables every learning-curve fit reads.
HARMONIZED_INS = {
    "cost_observations": dg.AssetIn(key=["harmonized", "cost_observations"]),
    "production": dg.AssetIn(key=["harmonized", "production"]),
    "technologies": dg.AssetIn(key=["harmonized", "technologies"]),
}


def raw_table(source: str, table: str) -> str:
    """Warehouse table name (schema ``raw``) of one source's tidy table."""
    return f"{source}__{table}"


def raw_key(source: str, table: str) -> dg.AssetKey:
    """Asset key of one source's tidy table: ``raw/<source>__<table>``."""
    return dg.AssetKey(["raw", raw_table(source, table)])


def source_keys(source: str) -> list[str]:
    """Asset keys (as selection strings) of every table of one source: one step, so they are
    selected all together or not at all."""
    return [raw_key(source, t).to_user_string() for t in SOURCE_TABLES[source]]


def raw_keys_of(table: str) -> list[dg.AssetKey]:
    """Asset keys of every source's copy of ``table`` (the inputs of ``harmonized/<table>``)."""
    return [raw_key(s, table) for s, tables in SOURCE_TABLES.items() if table in tables]


#: Automation of the harmonized tables, fits and their tables: materialise when an upstream
#: asset changed (and none is missing or in progress).
EAGER = dg.AutomationCondition.eager()

#: Freshness of every source table: reloaded by the weekly refresh (Mondays 03:00 UTC), so a
#: table last written over 7 days 6 hours ago is late (WARN: the refresh ran long, the machine
#: slept) and over 8 days ago a refresh was missed (FAIL).
SOURCE_FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(days=8), warn_window=dt.timedelta(days=7, hours=6)
)


#: Who answers for every asset (the owner the UI shows): set on every asset through
#: :func:`fit_out`, :func:`table_out` and the source and harmonized asset definitions.
OWNERS = ["team:learnrace"]


def fit_out(
    key: list[str], description: str, automation: dg.AutomationCondition | None = EAGER
) -> dg.AssetOut:
    """An output holding a posterior fit, stored by the fit IO manager."""
    return dg.AssetOut(
        key=dg.AssetKey(key),
        automation_condition=automation,
        group_name=key[0],
        io_manager_key=FIT_IO,
        kinds={"pymc", "netcdf"},
        description=description,
        owners=OWNERS,
    )


def table_out(
    key: list[str], description: str, automation: dg.AutomationCondition | None = EAGER
) -> dg.AssetOut:
    """An output holding a warehouse table (Polars frame -> DuckDB ``<schema>.<table>``, the
    schema being the first part of ``key``, which is also the asset group)."""
    return dg.AssetOut(
        key=dg.AssetKey(key),
        automation_condition=automation,
        group_name=key[0],
        kinds={"duckdb", "polars"},
        description=description,
        owners=OWNERS,
    )


def _industry_ids(panel: Panel, calibration: CalibrationSettings) -> list[str] | None:
    if not calibration.industries:
        return None
    return panel.series.filter(pl.col("industry").is_in(calibration.industries))[
        "series_id"
    ].to_list()


def pooled_panel(
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
) -> Panel:
    """Every cost series with experience (own-id production or the declared experience map,
    checked in full against these tables), >= 6 points, one series per technology and nation;
    optionally restricted to ``calibration.industries``."""
    experience_map.check_against(experience_map.load(), technologies, production)
    panel = pooled_wright_panel(cost_observations, production, technologies)
    keep = _industry_ids(panel, calibration)
    if keep is not None:
        panel = pooled_wright_panel(cost_observations, production, technologies, series_ids=keep)
    return panel


def time_panel(
    cost_observations: pl.DataFrame,
    technologies: pl.DataFrame,
    calibration: CalibrationSettings,
    *,
    performance: bool = False,
) -> Panel:
    """Every cost series (or, ``performance``, every performance series, reciprocal) with >= 6
    years, production or not, one series per technology and nation; cost series optionally
    restricted to ``calibration.industries`` (the few performance series never are)."""
    panel = build_time_panel(cost_observations, technologies, performance=performance)
    keep = None if performance else _industry_ids(panel, calibration)
    if keep is not None:
        panel = build_time_panel(
            cost_observations, technologies, performance=performance, series_ids=keep
        )
    return panel
