"""Harmonized tables (group ``harmonize``): every source's tidy rows unioned into one table each.

``harmonized.<table>`` = UNION ALL BY NAME of ``raw.<source>__<table>`` over the sources that
provide it (its only upstream assets), conformed again across sources (keys unique
warehouse-wide). Stored through the DuckDB-Polars IO manager, so downstream assets receive Polars
frames.
"""

import json

import dagster as dg
import polars as pl
from dagster_duckdb import DuckDBResource

from learnrace_pipeline.defs.metadata import declared_schema
from learnrace_pipeline.defs.resources import WarehouseResource
from learnrace_pipeline.defs.wiring import OWNERS, WRITE_POOL, raw_keys_of, raw_table
from learnrace_pipeline.lib.harmonize import checks as rules
from learnrace_pipeline.lib.report.table_docs import TABLE_TEXT
from learnrace_pipeline.lib.sources import sources_of
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.sources.validate import conform
from learnrace_pipeline.lib.storage.snapshot import schema_of
from learnrace_pipeline.lib.storage.warehouse import connect, fetch_pl

HARMONIZED = [*TABLES, "data_notes"]

#: What each harmonized table is, with its units (the tidy tables' texts, shared with the
#: source tables).
DESCRIPTIONS = TABLE_TEXT


def union_raw(db_path: str, table: str) -> pl.DataFrame:
    """All sources' rows of one tidy table (empty frame with the declared schema if none)."""
    with connect(db_path, read_only=True) as con:
        present = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'"
            ).fetchall()
        }
        parts = [
            f'SELECT * FROM raw."{raw_table(s, table)}"'
            for s in sources_of(table)
            if raw_table(s, table) in present
        ]
        if not parts:
            return pl.DataFrame(schema=schema_of(table))
        return fetch_pl(con, " UNION ALL BY NAME ".join(parts))


def _harmonized_asset(table: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["harmonized", table],
        group_name="harmonize",
        kinds={"duckdb", "polars"},
        deps=raw_keys_of(table),
        pool=WRITE_POOL,
        description=DESCRIPTIONS[table],
        automation_condition=dg.AutomationCondition.eager(),
        owners=OWNERS,
        metadata=declared_schema(schema_of(table), "harmonized", table),
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.Output[pl.DataFrame]:
        df = union_raw(warehouse.db_path, table)
        columns = schema_of(table)
        df = df.select([pl.col(c).cast(t) for c, t in columns.items()])
        if table != "data_notes":
            df = conform(table, df, "warehouse")
        meta: dict = {}
        if "source" in df.columns and df.height:
            by = df.group_by("source").len().sort("source")
            meta["rows_by_source"] = dg.MetadataValue.json(
                dict(zip(by["source"], by["len"], strict=True))
            )
        return dg.Output(df, metadata=meta)

    return _asset


harmonized_assets = {t: _harmonized_asset(t) for t in HARMONIZED}


def _read(duckdb: DuckDBResource, table: str) -> pl.DataFrame:
    with duckdb.get_connection() as con:
        return fetch_pl(con, f'SELECT * FROM harmonized."{table}"')


def _result(
    bad: pl.DataFrame, what: str, severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=bad.height == 0,
        severity=severity,
        description=f"{bad.height} row(s) {what}" if bad.height else f"no rows {what}",
        metadata={
            "offending_rows": dg.MetadataValue.int(bad.height),
            "first_offenders": dg.MetadataValue.json(
                json.loads(bad.head(20).write_json()) if bad.height else []
            ),
        },
    )


def _table_checks(table: str) -> list[dg.AssetChecksDefinition]:
    asset = harmonized_assets[table]

    @dg.asset_check(
        asset=asset, name="has_rows", blocking=True, description="the table is not empty"
    )
    def has_rows(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        n = _read(duckdb, table).height
        return dg.AssetCheckResult(passed=n > 0, metadata={"rows": n})

    @dg.asset_check(
        asset=asset, name="keys_unique", blocking=True, description="primary key unique"
    )
    def keys_unique(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        return _result(rules.duplicate_keys(table, _read(duckdb, table)), "with a duplicated key")

    out = [has_rows, keys_unique]
    if "nation" in TABLES[table] or "unit" in TABLES[table]:

        @dg.asset_check(
            asset=asset,
            name="known_units_and_nations",
            blocking=True,
            description="every nation and unit is declared",
        )
        def known(duckdb: DuckDBResource) -> dg.AssetCheckResult:
            return _result(
                rules.unknown_codes(_read(duckdb, table)), "with an undeclared nation or unit"
            )

        out.append(known)
    return out


#: Row-level rules beyond the per-table ones: (table, check name, rule, what offending rows are,
#: blocking, severity, description). Each rule returns the offending rows (empty = pass).
RULE_CHECKS = (
    ("cost_observations", "positive_costs", rules.nonpositive_costs,
     "with a zero or negative cost", True, dg.AssetCheckSeverity.ERROR, None),
    ("cost_observations", "no_extreme_outliers", rules.extreme_outliers,
     "that are extreme outliers (10x spike or 100x jump)", False, dg.AssetCheckSeverity.WARN, None),
    ("production", "cumulative_monotone", rules.decreasing_cumulative,
     "where cumulative production decreases", True, dg.AssetCheckSeverity.ERROR, None),
    ("av_testing", "annual_total_matches_monthly_sum", rules.annual_total_discrepancies,
     "whose reported ANNUAL TOTAL differs from the monthly sum by more than 2 miles", False,
     dg.AssetCheckSeverity.WARN,
     "CA DMV ANNUAL TOTAL vs the sum of monthly miles (the sum is what is stored)"),
    ("technologies", "taxonomy_declared", rules.undeclared_technologies,
     "whose technology or industry is not the taxonomy's", True, dg.AssetCheckSeverity.ERROR,
     None),
)  # fmt: skip


def _rule_check(
    table: str,
    name: str,
    rule,
    what: str,
    blocking: bool,
    severity: dg.AssetCheckSeverity,
    description: str | None,
) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=harmonized_assets[table], name=name, blocking=blocking, description=description
    )
    def _check(duckdb: DuckDBResource) -> dg.AssetCheckResult:
        return _result(rule(_read(duckdb, table)), what, severity)

    return _check


def _checks() -> list[dg.AssetChecksDefinition]:
    return [c for table in TABLES for c in _table_checks(table)] + [
        _rule_check(*spec) for spec in RULE_CHECKS
    ]


harmonize_checks = _checks()


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=list(harmonized_assets.values()), asset_checks=harmonize_checks)
