"""One asset per public source (group ``sources``): its tidy tables into DuckDB schema ``raw``.

Each asset loads a source (from the sha256-checked snapshot, or from the upstream raw files when
``LEARNRACE_RAW_DIR`` is set), then writes all of its tables as ``raw.<source>__<table>`` in one
transaction. A reader error fails the asset before anything is written, so the warehouse keeps
exactly what it had.
"""

import json
from pathlib import Path

import dagster as dg

from learnrace_pipeline.defs.resources import WarehouseResource
from learnrace_pipeline.lib.sources import SOURCES, reader
from learnrace_pipeline.lib.storage import snapshot

WRITE_POOL = "duckdb_write"


def raw_table(source: str, table: str) -> str:
    return f"{source}__{table}"


def _source_asset(source: str) -> dg.AssetsDefinition:
    info = reader(source).INFO
    licence = info.licence + (" (NON-COMMERCIAL)" if info.non_commercial else "")

    @dg.asset(
        key=["raw", source],
        group_name="sources",
        kinds={"duckdb", "polars"},
        pool=WRITE_POOL,
        description=f"{info.producer}: {info.citation}\n\nLicence: {licence}. Upstream: {info.url}",
        metadata={
            "licence": licence,
            "upstream_url": dg.MetadataValue.url(info.url)
            if info.url.startswith("http")
            else info.url,
        },
        tags={"licence": "non-commercial" if info.non_commercial else "open"},
    )
    def _asset(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        tables = warehouse.load_source(source)
        counts = warehouse.write({("raw", raw_table(source, t)): df for t, df in tables.items()})
        context.log.info(f"{source}: wrote {counts}")
        meta: dict = {f"rows/{k}": dg.MetadataValue.int(v) for k, v in counts.items()}
        meta["dagster/row_count"] = dg.MetadataValue.int(sum(counts.values()))
        meta["loaded_from"] = "raw files" if warehouse.raw_dir else "datasets snapshot"
        meta["licence"] = licence
        return dg.MaterializeResult(metadata=meta)

    @dg.asset_check(asset=_asset, name="snapshot_sha256_matches_metadata", blocking=True)
    def _sha_check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        folder = Path(warehouse.dataset_dir) / source
        metas = snapshot.metadata(Path(warehouse.dataset_dir), source) if folder.is_dir() else {}
        bad = {
            t: m["sha256"]
            for t, m in metas.items()
            if snapshot.sha256_file(folder / f"{t}.csv") != m["sha256"]
        }
        return dg.AssetCheckResult(
            passed=bool(metas) and not bad,
            metadata={"tables": json.dumps(sorted(metas)), "mismatched": json.dumps(sorted(bad))},
            description="every snapshot CSV's sha256 equals its sidecar"
            if metas
            else "no snapshot for this source",
        )

    return _asset, _sha_check


_built = [_source_asset(s) for s in SOURCES]
source_assets = [a for a, _ in _built]
source_checks = [c for _, c in _built]


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=source_assets, asset_checks=source_checks)
