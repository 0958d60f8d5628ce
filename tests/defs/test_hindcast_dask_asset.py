"""The hindcast asset with ``LEARNRACE_DASK_SCHEDULER=local:2`` on a real Dagster instance and
DuckDB warehouse (the energy, solar and wind industries of the pipeline test: 37 series, 23
origins, 6 partitions): the workers'
Parquet folders under the instance storage, the warehouse tables written by the step from them.

Slow: it ingests every source, starts a 2-worker LocalCluster and fits both population models
per partition with the warehouse sampler.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from learnrace_pipeline.defs.evaluation.hindcast import hindcast
from learnrace_pipeline.defs.harmonize.assets import harmonize_checks, harmonized_assets
from learnrace_pipeline.defs.resources import CalibrationSettings, build_resources
from learnrace_pipeline.defs.sources.assets import source_assets, source_checks
from learnrace_pipeline.lib.storage.warehouse import read_table

DATA_DEFS = [*source_assets, *source_checks, *harmonized_assets.values(), *harmonize_checks]

pytestmark = pytest.mark.slow

INDUSTRIES = ["energy", "solar", "wind"]


def test_hindcast_runs_as_dask_partitions(dagster_instance, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LEARNRACE_DASK_SCHEDULER", "local:2")
    monkeypatch.delenv("LEARNRACE_DASK_STORAGE", raising=False)
    db = tmp_path / "w.duckdb"
    settings = CalibrationSettings(work_dir=str(tmp_path / "work"), industries=INDUSTRIES)
    result = dg.materialize(
        [*DATA_DEFS, hindcast],
        instance=dagster_instance,
        resources=build_resources(db_path=str(db), calibration=settings),
        raise_on_error=False,
    )
    assert result.success
    folder = Path(dagster_instance.storage_directory()) / result.run_id / "hindcast"
    parts = sorted(p.name for p in folder.iterdir())
    assert parts == [f"part-{i:03d}" for i in range(6)]  # 23 origins, refits every 4th
    files = pl.concat([pl.read_parquet(folder / p / "forecasts.parquet") for p in parts])
    forecasts = read_table(db, "evaluation", "forecasts")
    keys = ["model", "origin", "series", "year"]
    assert forecasts.select(keys).sort(keys).equals(files.select(keys).sort(keys))
    assert set(forecasts["industry"].to_list()) <= set(INDUSTRIES)
    origins = read_table(db, "evaluation", "origins")
    assert origins.height == 23
    # each partition fitted both models at its own first origin
    assert origins["fit_origin"].n_unique() == 6 == origins["et_fit_origin"].n_unique()
    scores = read_table(db, "evaluation", "scores")
    assert {"pooled_wright", "pool_wright_experience_time"} <= set(scores["model"].to_list())
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["evaluation", "scores"])
    ]
    engine = event.step_materialization_data.materialization.metadata["engine"].value
    assert engine == "Dask LocalCluster, 2 single-threaded worker processes"
