"""The node-frontier asset called directly on the shipped chip table: the fit, its blocking
convergence check and the table; a second call reuses the saved fit."""

from __future__ import annotations

import dagster as dg
import pytest

from learnrace_pipeline.defs.calibration.node_frontier import NODE_FIT_KEY, node_frontier
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.lib.race.spec import snapshot_tables

pytestmark = pytest.mark.slow


def _run(chips, work):
    with dg.build_asset_context() as ctx:
        return list(
            node_frontier(ctx, chip_products=chips, calibration=CalibrationSettings(work_dir=work))
        )


def test_node_frontier_asset(tmp_path):
    chips = snapshot_tables(tables=["chip_products"])["chip_products"]
    out = _run(chips, str(tmp_path))
    outputs = {o.output_name: o for o in out if isinstance(o, dg.Output)}
    checks = [o for o in out if isinstance(o, dg.AssetCheckResult)]
    assert [c.asset_key for c in checks] == [dg.AssetKey(NODE_FIT_KEY)]
    assert checks[0].check_name == "converged" and checks[0].passed, checks[0].description
    table = outputs["node_frontier"].value
    assert table["nation"].to_list() == ["TWN", "KOR", "USA", "JPN"]
    assert table.filter(table["nation"] == "TWN")["record_nm"][0] == 4.0
    assert outputs["node_frontier_fit"].metadata["reused_saved_fit"].value is False
    again = {o.output_name: o for o in _run(chips, str(tmp_path)) if isinstance(o, dg.Output)}
    assert again["node_frontier_fit"].metadata["reused_saved_fit"].value is True
