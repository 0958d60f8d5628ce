"""The whole asset graph against a committed snapshot (``asset_graph.json``).

The snapshot lists every asset key with its group, upstream keys, kinds and pool, and every
asset check with its asset and whether it blocks. Any change to the graph fails this test; when
the change is intended, regenerate the file and review its diff:

    LEARNRACE_UPDATE_GRAPH=1 .venv/bin/python -m pytest tests/defs/test_asset_graph.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from learnrace_pipeline.definitions import defs

SNAPSHOT = Path(__file__).with_name("asset_graph.json")


def describe_graph() -> dict:
    """The asset graph as plain data: assets (group, deps, kinds, pool) and checks (blocking)."""
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "kinds": sorted(node.kinds),
            "pool": sorted(node.pools)[0] if node.pools else None,
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda c: c.to_user_string()):
        spec = graph.get_check_spec(check_key)
        checks[check_key.to_user_string()] = {"blocking": bool(spec.blocking)}
    return {"assets": assets, "checks": checks}


def test_asset_graph_matches_the_committed_snapshot() -> None:
    actual = describe_graph()
    if os.environ.get("LEARNRACE_UPDATE_GRAPH"):
        SNAPSHOT.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert sorted(actual["assets"]) == sorted(expected["assets"]), "asset keys changed"
    for key, node in expected["assets"].items():
        assert actual["assets"][key] == node, key
    assert actual["checks"] == expected["checks"], "asset checks changed"


def test_each_harmonized_table_depends_only_on_the_sources_that_feed_it() -> None:
    from learnrace_pipeline.lib.sources import SOURCE_TABLES

    assets = describe_graph()["assets"]
    for table in ("technologies", "cost_observations", "production", "ai_models"):
        feeding = {f"raw/{s}__{table}" for s, ts in SOURCE_TABLES.items() if table in ts}
        assert set(assets[f"harmonized/{table}"]["deps"]) == feeding, table
    assert assets["harmonized/ai_models"]["deps"] == ["raw/epoch_ai__ai_models"]


def test_fits_and_tables_flow_through_assets_not_side_tables() -> None:
    assets = describe_graph()["assets"]
    # the forecast prior reads the pooled Wright posterior as an asset input
    assert assets["forecasts/population_prior"]["deps"] == ["calibration/wright_fit"]
    assert "calibration/learning_fit_files" not in assets
    # MCMC steps and DuckDB-writing steps use separate pools
    assert assets["calibration/wright_fit"]["pool"] == "mcmc"
    assert assets["evaluation/scores"]["pool"] == "mcmc"
    assert assets["raw/pcdb_carnegie__cost_observations"]["pool"] == "duckdb_write"


def test_the_code_location_has_one_fixed_name() -> None:
    import tomllib

    import yaml

    root = Path(__file__).resolve().parents[2]
    workspace = yaml.safe_load((root / "workspace.yaml").read_text(encoding="utf-8"))
    (entry,) = workspace["load_from"]
    assert entry["python_module"]["location_name"] == "learnrace"
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["tool"]["dg"]["project"]["code_location_name"] == "learnrace"
    assert "dagster" not in project["tool"]
