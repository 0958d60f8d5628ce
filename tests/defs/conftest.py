"""Fixtures for Dagster tests: a real instance in a temp DAGSTER_HOME and a temp DuckDB file, and
the whole data layer (every source and harmonized table of the shipped snapshot) materialised
once per session (``data_layer``), for the tests that check it and those that start from it
(``data_warehouse``: a copy of its DuckDB file for one test)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from learnrace_pipeline.defs.harmonize.assets import harmonize_checks, harmonized_assets
from learnrace_pipeline.defs.resources import build_resources
from learnrace_pipeline.defs.sources.assets import source_assets, source_checks

DATA_DEFS = [*source_assets, *source_checks, *harmonized_assets.values(), *harmonize_checks]


@pytest.fixture
def dagster_instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        yield instance


def run_data_layer(instance, db: Path, *, raw_dir: str = "", selection=None, dataset_dir=None):
    """Materialise sources (+ harmonize) into ``db``; returns the Dagster result (never raises)."""
    resources = build_resources(db_path=str(db), raw_dir=raw_dir, dataset_dir=dataset_dir)
    return dg.materialize(
        DATA_DEFS, instance=instance, resources=resources, selection=selection, raise_on_error=False
    )


@pytest.fixture
def run_layer():
    """The :func:`run_data_layer` function, for tests in this folder."""
    return run_data_layer


@dataclass(frozen=True)
class DataLayer:
    """The Dagster result of one materialisation of every source and harmonized asset (and
    their checks) from the shipped snapshot, and the DuckDB file it wrote."""

    result: dg.ExecuteInProcessResult
    db: Path


@pytest.fixture(scope="session")
def data_layer(tmp_path_factory) -> DataLayer:
    """The data layer materialised once per session on its own instance and warehouse (read
    it, never write it: tests that write start from :func:`data_warehouse`)."""
    tmp = tmp_path_factory.mktemp("data_layer")
    home = tmp / "dagster_home"
    home.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            result = run_data_layer(instance, tmp / "w.duckdb")
    return DataLayer(result, tmp / "w.duckdb")


@pytest.fixture
def data_warehouse(data_layer, tmp_path) -> Path:
    """A copy, for one test, of the session's data-layer warehouse (``tmp_path/w.duckdb``): every
    source and harmonized table of the snapshot, written by a successful data-layer run."""
    assert data_layer.result.success, "the session's data-layer run failed"
    db = tmp_path / "w.duckdb"
    shutil.copyfile(data_layer.db, db)
    return db
