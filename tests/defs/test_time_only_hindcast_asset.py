"""The time-only hindcast asset on a real Dagster instance and DuckDB warehouse (wind only:
IRENA's national onshore wind series, which have no experience series).

Slow: it refits the pooled time-trend model at each origin (on a copy of the session's
data-layer warehouse, ``tests/defs/conftest.py``).
"""

from __future__ import annotations

import dagster as dg
import pytest

from learnrace_pipeline.defs.evaluation.hindcast import time_only_hindcast
from learnrace_pipeline.defs.harmonize.assets import harmonize_checks, harmonized_assets
from learnrace_pipeline.defs.resources import CalibrationSettings, build_resources
from learnrace_pipeline.defs.sources.assets import source_assets, source_checks
from learnrace_pipeline.lib.storage.warehouse import read_table

DATA_DEFS = [*source_assets, *source_checks, *harmonized_assets.values(), *harmonize_checks]

pytestmark = pytest.mark.slow


def test_time_only_hindcast_writes_its_tables(dagster_instance, data_warehouse, tmp_path) -> None:
    # the data layer: a copy of the session's (tests/defs/conftest.py), from a successful run
    db = data_warehouse
    settings = CalibrationSettings(work_dir=str(tmp_path / "work"), industries=["wind"])
    result = dg.materialize(
        [*DATA_DEFS, time_only_hindcast],
        instance=dagster_instance,
        resources=build_resources(db_path=str(db), calibration=settings),
        selection=list(time_only_hindcast.keys),
        raise_on_error=False,
    )
    assert result.success
    scores = read_table(db, "evaluation", "time_only_scores")
    assert set(scores["model"].to_list()) == {"pooled_time", "rw_drift", "no_change"}
    assert scores["coverage90"].is_between(0.5, 1).all()
    rw = scores.filter(scores["model"] == "rw_drift")
    assert rw["log_pinball_ratio_rw"][0] == 1.0
    forecasts = read_table(db, "evaluation", "time_only_forecasts")
    assert set(forecasts["industry"].to_list()) == {"wind"}
    assert forecasts["horizon"].min() == 1 and forecasts["horizon"].max() <= 10
    by_h = read_table(db, "evaluation", "time_only_scores_by_horizon")
    assert by_h["horizon"].n_unique() == 10
    assert read_table(db, "evaluation", "time_only_origins")["max_rhat"].max() < 1.05
    checks = [
        e.event_specific_data.check_name
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert "coverage_in_band" in checks
