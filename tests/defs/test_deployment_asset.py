"""The deployment-growth asset on a real Dagster instance and DuckDB warehouse (slow: it samples
both forms once, then reuses the saved fit)."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from learnrace_pipeline.defs.calibration.deployment import deployment_growth_fits
from learnrace_pipeline.defs.harmonize.assets import harmonize_checks, harmonized_assets
from learnrace_pipeline.defs.resources import CalibrationSettings, build_resources
from learnrace_pipeline.defs.sources.assets import source_assets, source_checks
from learnrace_pipeline.lib.storage.warehouse import read_table

DATA_DEFS = [*source_assets, *source_checks, *harmonized_assets.values(), *harmonize_checks]
OUTPUTS = [
    "calibration/deployment_fit",
    "calibration/deployment_growth",
    "calibration/deployment_model_comparison",
]

pytestmark = pytest.mark.slow


def _run(instance, db, work, selection):
    resources = build_resources(
        db_path=str(db), calibration=CalibrationSettings(work_dir=str(work))
    )
    return dg.materialize(
        [*DATA_DEFS, deployment_growth_fits],
        instance=instance,
        resources=resources,
        selection=selection,
        raise_on_error=False,
    )


def _meta(result, key: str) -> dict:
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            if m.asset_key.to_user_string() == key:
                return {k: v.value for k, v in m.metadata.items()}
    raise AssertionError(f"no materialization of {key}")


def test_deployment_asset_fits_checks_writes_and_reuses(dagster_instance, data_warehouse, tmp_path):
    # the data layer: a copy of the session's (tests/defs/conftest.py), from a successful run
    db, work = data_warehouse, tmp_path / "work"
    first = _run(dagster_instance, db, work, OUTPUTS)
    assert first.success
    checks = {
        e.event_specific_data.check_name: e.event_specific_data.passed
        for e in first.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert checks == {"converged": True}
    assert _meta(first, "calibration/deployment_fit")["reused_saved_fit"] is False
    cmp = read_table(db, "calibration", "deployment_model_comparison")
    assert cmp["industry"].to_list() == [
        "solar_pv",
        "batteries_evs",
        "industrial_robots",
        "ai_foundation_models",
    ]
    growth = read_table(db, "calibration", "deployment_growth")
    chn = growth.filter(
        (pl.col("industry") == "solar_pv")
        & (pl.col("nation") == "CHN")
        & (pl.col("form") == "loglinear")
    )
    # Chinese module production grew from 9 GW (2010) to 158 GW (2021): about 0.26 ln a year
    assert 0.15 < chn["growth"][0] < 0.35
    second = _run(dagster_instance, db, work, OUTPUTS)
    assert second.success
    assert _meta(second, "calibration/deployment_fit")["reused_saved_fit"] is True
    assert read_table(db, "calibration", "deployment_growth").equals(growth)
