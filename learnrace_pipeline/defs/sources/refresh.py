"""How a source asset loads its tables: the shipped snapshot, or (refresh mode) the raw cache.

Refresh mode is the run tag ``learnrace/refresh`` if the run has one (the weekly schedule sets
``fetch``), else ``$LEARNRACE_REFRESH`` (unset: ``off``):

- ``off``: :meth:`WarehouseResource.load_source` as always (the sha256-checked snapshot, or
  ``LEARNRACE_RAW_DIR``'s raw files); no refresh metadata;
- ``cache`` (``1``): the raw cache's current version of the source where one exists, else the
  snapshot; the latest refresh attempt's status is reported;
- ``fetch``: refresh the source from upstream first, then as ``cache``.

A failed refresh never fails the asset: it loads the last good data and adds ``refresh_status``
(``failed``) and ``refresh_error`` (the source, the URL, the reason) to each table's
materialization metadata, with a warning in the run log. The cache is ``raw_cache/`` beside the
warehouse file (``$LEARNRACE_RAW_CACHE`` overrides).
"""

from pathlib import Path

import dagster as dg
import polars as pl

from learnrace_pipeline.defs.resources import WarehouseResource
from learnrace_pipeline.lib.storage import raw_cache
from learnrace_pipeline.lib.storage.refresh import load_refreshed, refresh_mode


def load_source_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, source: str
) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """The source's tables and the refresh metadata to add to each of its tables' results."""
    mode = refresh_mode(dict(context.run.tags))
    if mode == "off":
        return warehouse.load_source(source), {}
    loaded = load_refreshed(
        source,
        mode=mode,
        cache_dir=raw_cache.default_cache_dir(warehouse.db_path),
        dataset_dir=Path(warehouse.dataset_dir),
    )
    meta = {
        "refresh_mode": mode,
        "refresh_status": loaded.refresh_status,
        "loaded_from": loaded.loaded_from,
    }
    if loaded.version:
        meta["raw_version"] = loaded.version
        meta["raw_retrieved_at"] = loaded.retrieved_at
    if loaded.refresh_error:
        meta["refresh_error"] = loaded.refresh_error
        context.log.warning(
            f"{source}: refresh failed, using {loaded.loaded_from}: {loaded.refresh_error}"
        )
    else:
        context.log.info(f"{source}: refresh {loaded.refresh_status}, using {loaded.loaded_from}")
    return loaded.tables, meta
