"""Fixtures for Dagster tests: a real instance in a temp DAGSTER_HOME and a temp DuckDB file."""

from __future__ import annotations

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
