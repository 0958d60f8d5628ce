"""One multi-asset per public source (group ``sources``): its tidy tables into DuckDB schema
``raw``, one asset per table (``raw/<source>__<table>``).

Each step loads a source (from the sha256-checked snapshot, or from the upstream raw files when
``LEARNRACE_RAW_DIR`` is set), then writes all of its tables as ``raw.<source>__<table>`` in one
transaction. A reader error fails the step before anything is written, so the warehouse keeps
exactly what it had. In refresh mode (``LEARNRACE_REFRESH`` or the run tag
``learnrace/refresh``; see :mod:`.refresh`) a step loads the raw cache's current version instead,
and a failed refresh only adds ``refresh_status``/``refresh_error`` to the metadata. The tables a
source returns are declared in :data:`learnrace_pipeline.lib.sources.SOURCE_TABLES`; a reader
returning another table fails.

Each table's data version is a hash of the step's code version and the fingerprint of its input
files (its snapshot CSV and sidecar, or the source's raw files' stats; in refresh mode, of the
table loaded): what
:mod:`learnrace_pipeline.incremental` compares to decide whether the source must load again.
"""

from pathlib import Path

import dagster as dg

from learnrace_pipeline.defs.metadata import declared_schema, table_metadata
from learnrace_pipeline.defs.resources import WarehouseResource
from learnrace_pipeline.defs.sources.refresh import load_source_tables
from learnrace_pipeline.defs.wiring import OWNERS, SOURCE_FRESHNESS, WRITE_POOL, raw_key, raw_table
from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.report.licence import licence_tag
from learnrace_pipeline.lib.report.table_docs import TABLE_TEXT
from learnrace_pipeline.lib.sources import SOURCE_TABLES, SOURCES, reader
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.fingerprint import source_data_version, tables_fingerprint
from learnrace_pipeline.lib.storage.snapshot import schema_of


def _source_asset(source: str):
    info = reader(source).INFO
    licence = info.licence + (" (NON-COMMERCIAL)" if info.non_commercial else "")
    tag = licence_tag(info.licence, info.non_commercial)
    declared = SOURCE_TABLES[source]
    about = f"{info.producer}: {info.citation}\n\nLicence ({tag}): {licence}. Upstream: {info.url}"
    specs = [
        dg.AssetSpec(
            raw_key(source, table),
            group_name="sources",
            kinds={"duckdb", "polars"},
            description=f"`{table}` rows of source `{source}`, as its reader returns them: "
            f"{TABLE_TEXT[table]}\n\n{about}",
            metadata={
                "licence": licence,
                "upstream_url": dg.MetadataValue.url(info.url)
                if info.url.startswith("http")
                else info.url,
                **declared_schema(schema_of(table), "raw", raw_table(source, table)),
            },
            tags={"licence": tag},
            owners=OWNERS,
            freshness_policy=SOURCE_FRESHNESS,
        )
        for table in declared
    ]

    @dg.multi_asset(name=f"source_{source}", specs=specs, pool=WRITE_POOL)
    def _asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        tables, refreshed = load_source_tables(context, warehouse, source)
        extra = sorted(set(tables) - set(declared))
        if extra:
            raise DataError(
                f"reader returned undeclared table(s) {extra}; declare them in SOURCE_TABLES",
                source=source,
            )
        missing = [t for t in declared if t not in tables]
        if missing:
            raise DataError(f"reader returned no {missing} table(s)", source=source)
        counts = warehouse.write({("raw", raw_table(source, t)): tables[t] for t in declared})
        context.log.info(f"{source}: wrote {counts}")
        loaded_from = "raw files" if warehouse.raw_dir else "datasets snapshot"
        code = {spec.key: spec.code_version for spec in context.assets_def.specs}
        for t in declared:
            version = (
                tables_fingerprint({t: tables[t]})
                if refreshed
                else source_data_version(
                    code[raw_key(source, t)], warehouse.dataset_dir, source, warehouse.raw_dir, t
                )
            )
            yield dg.MaterializeResult(
                asset_key=raw_key(source, t),
                data_version=dg.DataVersion(version),
                metadata={
                    "loaded_from": loaded_from,
                    "licence": licence,
                    **refreshed,
                    **table_metadata(tables[t], "raw", raw_table(source, t)),  # rows last
                },
            )

    checks = [_sha_check(source, t) for t in declared]
    return _asset, checks


def _sha_check(source: str, table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=raw_key(source, table),
        name="snapshot_sha256_matches_metadata",
        blocking=True,
        description="the snapshot CSV's sha256 equals the one in its sidecar",
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        folder = Path(warehouse.dataset_dir) / source
        metas = snapshot.metadata(Path(warehouse.dataset_dir), source) if folder.is_dir() else {}
        if table not in metas:
            return dg.AssetCheckResult(
                passed=False, description=f"no snapshot sidecar for {source}/{table}"
            )
        actual = snapshot.sha256_file(folder / f"{table}.csv")
        return dg.AssetCheckResult(
            passed=actual == metas[table]["sha256"],
            metadata={"expected": metas[table]["sha256"], "actual": actual},
            description=f"{source}/{table}.csv sha256 "
            + ("matches" if actual == metas[table]["sha256"] else "differs from")
            + " its sidecar",
        )

    return _check


_built = [_source_asset(s) for s in SOURCES]
source_assets = [a for a, _ in _built]
source_checks = [c for _, cs in _built for c in cs]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=source_assets, asset_checks=source_checks)
