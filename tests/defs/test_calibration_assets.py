"""Calibration and evaluation assets on a real Dagster instance and DuckDB warehouse.

Slow: they sample real posteriors (the AV and frontier models take well under a minute each here).
"""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from learnrace_pipeline.defs.calibration.scaling import (
    ai_frontier,
    ai_frontier_hindcast,
    av_capability_fits,
)
from learnrace_pipeline.defs.harmonize.assets import harmonize_checks, harmonized_assets
from learnrace_pipeline.defs.resources import CalibrationSettings, build_resources
from learnrace_pipeline.defs.sources.assets import source_assets, source_checks
from learnrace_pipeline.defs.wiring import source_keys as raw_keys
from learnrace_pipeline.lib.storage.warehouse import query, read_table

DATA_DEFS = [*source_assets, *source_checks, *harmonized_assets.values(), *harmonize_checks]

pytestmark = pytest.mark.slow


def _materialize(instance, db, work, selection):
    resources = build_resources(
        db_path=str(db), calibration=CalibrationSettings(work_dir=str(work))
    )
    return dg.materialize(
        [*DATA_DEFS, av_capability_fits, ai_frontier, ai_frontier_hindcast],
        instance=instance,
        resources=resources,
        selection=selection,
        raise_on_error=False,
    )


def _checks(result) -> dict[str, bool]:
    return {
        f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}": (
            e.event_specific_data.passed
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def _meta(result, key: str) -> dict:
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            if m.asset_key.to_user_string() == key:
                return {k: v.value for k, v in m.metadata.items()}
    raise AssertionError(f"no materialization of {key}")


def test_scaling_assets_fit_check_store_and_reuse(dagster_instance, tmp_path):
    db, work = tmp_path / "w.duckdb", tmp_path / "work"
    data = [
        *raw_keys("ca_dmv_av"),
        *raw_keys("epoch_ai"),
        "harmonized/av_testing",
        "harmonized/ai_models",
    ]
    assert _materialize(dagster_instance, db, work, data).success
    fits = [
        "calibration/av_power_fit",
        "calibration/av_saturating_fit",
        "calibration/av_capability",
        "calibration/av_model_comparison",
        "calibration/ai_frontier_fit",
        "calibration/ai_frontier",
        "calibration/ai_frontier_hindcast",
        "calibration/ai_frontier_hindcast_coverage",
    ]
    first = _materialize(dagster_instance, db, work, fits)
    assert first.success
    checks = _checks(first)
    assert checks == {
        "calibration/av_power_fit:converged": True,
        "calibration/av_saturating_fit:converged": True,
        "calibration/ai_frontier_fit:converged": True,
        "calibration/ai_frontier_hindcast_coverage:coverage_in_band": True,
    }
    assert _meta(first, "calibration/av_power_fit")["reused_saved_fit"] is False
    cap = read_table(db, "calibration", "av_capability")
    waymo = (
        cap.filter((pl.col("name") == "Waymo") & (pl.col("form") == "power"))
        if "name" in cap.columns
        else cap.filter((pl.col("company") == "Waymo") & (pl.col("form") == "power"))
    )
    assert waymo.height == 1
    frontier = query(
        db, "SELECT * FROM calibration.ai_frontier WHERE nation IN ('USA', 'CHN') ORDER BY nation"
    )
    assert frontier["nation"].to_list() == ["CHN", "USA"]
    # the leader at the data end holds the record under the parent-nation attribution
    assert frontier.filter(pl.col("nation") == "USA")["p_leader"][0] >= 0.8
    hindcast = read_table(db, "calibration", "ai_frontier_hindcast")
    assert set(hindcast["horizon_years"].to_list()) == {1, 2}
    assert hindcast["origin"].n_unique() == 3
    coverage = read_table(db, "calibration", "ai_frontier_hindcast_coverage")
    assert coverage["horizon"].to_list() == ["1", "2", "all"]
    assert (work / "plots" / "av_experience_curves.png").stat().st_size > 10_000
    assert (work / "plots" / "ai_frontier.png").stat().st_size > 10_000
    # Nothing changed: the second run loads the saved posteriors instead of sampling again.
    second = _materialize(dagster_instance, db, work, fits)
    assert second.success
    assert _meta(second, "calibration/av_power_fit")["reused_saved_fit"] is True
    assert _meta(second, "calibration/ai_frontier_fit")["reused_saved_fit"] is True
    assert read_table(db, "calibration", "av_capability").equals(cap)
