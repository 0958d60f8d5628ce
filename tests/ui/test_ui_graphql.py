"""The Dagster UI's GraphQL API, served by a real ``dagster-webserver`` on 127.0.0.1 (see
``conftest.py``), against the project's code location and an instance holding real
materialisations: every asset group and asset of the definitions is served; a materialised
asset's metadata (plots included) and its asset-check results are what the run recorded; each
warehouse table serves its column schema and row count as they are in the DuckDB file; the
schedules and sensors of the definitions are listed with their default status."""

from __future__ import annotations

import base64
import io
import math
import re

import dagster as dg
import pytest
from dagster_ui import graphql, listening_addresses, metadata_entries
from PIL import Image

from learnrace_pipeline.lib.storage.warehouse import query, read_table

pytestmark = pytest.mark.slow

REPOSITORIES = """
{ repositoriesOrError { __typename ... on RepositoryConnection { nodes {
  name location { name }
  assetGroups { groupName assetKeys { path } }
  schedules { name cronSchedule scheduleState { status } }
  sensors { name sensorType sensorState { status } }
} } } }
"""
ASSET_NODES = "{ assetNodes { assetKey { path } groupName description } }"
METADATA_ENTRY = """
  __typename label
  ... on MarkdownMetadataEntry { mdStr }
  ... on IntMetadataEntry { intValue }
  ... on FloatMetadataEntry { floatValue }
  ... on TextMetadataEntry { text }
  ... on BoolMetadataEntry { boolValue }
  ... on PathMetadataEntry { path }
  ... on TableMetadataEntry { table { records schema { columns { name type } } } }
  ... on TableSchemaMetadataEntry { schema { columns { name type } } }
"""
LATEST_MATERIALIZATION = f"""
query($key: AssetKeyInput!) {{ assetOrError(assetKey: $key) {{ __typename ... on Asset {{
  assetMaterializations(limit: 1) {{ runId metadataEntries {{ {METADATA_ENTRY} }} }}
}} }} }}
"""
CHECKS = """
query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { __typename ... on AssetNode {
  assetChecksOrError { __typename ... on AssetChecks { checks { name blocking } } }
} } }
"""
CHECK_EXECUTION = """
query($key: AssetKeyInput!, $check: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $check, limit: 1) {
    status evaluation { success severity }
  }
}
"""
PNG_IN_MARKDOWN = re.compile(r"data:image/png;base64,([A-Za-z0-9+/=]+)")


def _key(user_string: str) -> dict:
    return {"path": user_string.split("/")}


def _repository(url: str) -> dict:
    data = graphql(url, REPOSITORIES)["repositoriesOrError"]
    assert data["__typename"] == "RepositoryConnection", data
    (repo,) = data["nodes"]  # one code location, one repository
    return repo


def _same_value(value: dg.MetadataValue, entry: dict) -> bool:
    """Whether a GraphQL metadata entry shows the value the run recorded (by entry type)."""
    kind = entry["__typename"]
    if kind == "MarkdownMetadataEntry":
        return entry["mdStr"] == value.value
    if kind == "IntMetadataEntry":
        return entry["intValue"] == value.value
    if kind == "FloatMetadataEntry":
        v = value.value
        return (
            (v is None or math.isnan(v))
            if entry["floatValue"] is None
            else entry["floatValue"] == pytest.approx(v)
        )
    if kind == "TextMetadataEntry":
        return entry["text"] == value.value
    if kind == "BoolMetadataEntry":
        return entry["boolValue"] == value.value
    if kind == "PathMetadataEntry":
        return entry["path"] == str(value.value)
    if kind == "TableMetadataEntry":
        return len(entry["table"]["records"]) == len(value.records) and [
            c["name"] for c in entry["table"]["schema"]["columns"]
        ] == [c.name for c in value.schema.columns]
    if kind == "TableSchemaMetadataEntry":
        return [c["name"] for c in entry["schema"]["columns"]] == [
            c.name for c in value.schema.columns
        ]
    return True  # other entry types: the label and the type are compared by the caller


def test_webserver_listens_on_loopback_only(ui_webserver) -> None:
    assert listening_addresses(ui_webserver.port) == {"127.0.0.1"}


def test_every_asset_and_group_is_served(ui_webserver, ui_warehouse) -> None:
    graph = ui_warehouse.definitions.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    groups: dict[str, set[str]] = {}
    for k in graph.get_all_asset_keys():
        groups.setdefault(graph.get(k).group_name, set()).add(k.to_user_string())

    nodes = graphql(ui_webserver.url, ASSET_NODES)["assetNodes"]
    served = {"/".join(n["assetKey"]["path"]): n for n in nodes}
    assert set(served) == keys
    assert {k: n["groupName"] for k, n in served.items()} == {
        k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()
    }
    repo = _repository(ui_webserver.url)
    served_groups = {
        g["groupName"]: {"/".join(a["path"]) for a in g["assetKeys"]} for g in repo["assetGroups"]
    }
    assert served_groups == groups
    assert {"sources", "harmonize", "calibration"} <= set(served_groups)


def test_materialized_assets_show_the_metadata_the_run_recorded(ui_webserver, ui_warehouse):
    assert set(ui_warehouse.materialized) >= {ui_warehouse.plot_asset, "harmonized/av_testing"}
    for key, recorded in ui_warehouse.materialized.items():
        asset = graphql(ui_webserver.url, LATEST_MATERIALIZATION, {"key": _key(key)})[
            "assetOrError"
        ]
        assert asset["__typename"] == "Asset", (key, asset)
        (latest,) = asset["assetMaterializations"]
        served = metadata_entries(latest["metadataEntries"])
        assert set(served) == set(recorded), key
        for label, value in recorded.items():
            expected_type = type(value).__name__.replace("MetadataValue", "MetadataEntry")
            assert served[label]["__typename"] == expected_type, (key, label)
            assert _same_value(value, served[label]), (key, label)


def test_the_calibration_asset_serves_its_plot_as_a_png(ui_webserver, ui_warehouse) -> None:
    plot_asset = ui_warehouse.plot_asset
    asset = graphql(ui_webserver.url, LATEST_MATERIALIZATION, {"key": _key(plot_asset)})
    (latest,) = asset["assetOrError"]["assetMaterializations"]
    pngs = [
        base64.b64decode(m)
        for e in latest["metadataEntries"]
        if e["__typename"] == "MarkdownMetadataEntry"
        for m in PNG_IN_MARKDOWN.findall(e["mdStr"])
    ]
    assert pngs, f"no PNG plot in the metadata of {plot_asset}"
    for png in pngs:
        with Image.open(io.BytesIO(png)) as im:
            assert im.format == "PNG" and im.width >= 300 and im.height >= 200


def test_check_results_are_served_as_the_run_recorded(ui_webserver, ui_warehouse) -> None:
    graph = ui_warehouse.definitions.resolve_asset_graph()
    by_asset: dict[str, set[str]] = {}
    for (key, name), _ in ui_warehouse.checks.items():
        by_asset.setdefault(key, set()).add(name)
    # the calibration fits' blocking convergence checks ran, as did the harmonized table's rules
    assert ("calibration/av_power_fit", "converged") in ui_warehouse.checks
    assert len(by_asset.get("harmonized/av_testing", ())) >= 3
    for key, names in by_asset.items():
        node = graphql(ui_webserver.url, CHECKS, {"key": _key(key)})["assetNodeOrError"]
        checks = node["assetChecksOrError"]
        assert checks["__typename"] == "AssetChecks", (key, checks)
        declared = {
            ck.name: graph.get_check_spec(ck).blocking
            for ck in graph.asset_check_keys
            if ck.asset_key.to_user_string() == key
        }
        assert {c["name"]: c["blocking"] for c in checks["checks"]} == declared, key
        assert names <= set(declared)
        for name in names:
            passed, severity = ui_warehouse.checks[(key, name)]
            (execution,) = graphql(
                ui_webserver.url, CHECK_EXECUTION, {"key": _key(key), "check": name}
            )["assetCheckExecutions"]
            assert execution["status"] == ("SUCCEEDED" if passed else "FAILED"), (key, name)
            assert execution["evaluation"]["success"] is passed, (key, name)
            assert execution["evaluation"]["severity"] == severity, (key, name)


def test_schedules_and_sensors_are_listed_with_their_default_status(ui_webserver, ui_warehouse):
    repo_def = ui_warehouse.definitions.get_repository_def()
    repo = _repository(ui_webserver.url)
    schedules = {s["name"]: s for s in repo["schedules"]}
    assert "weekly_refresh" in schedules
    assert set(schedules) == {s.name for s in repo_def.schedule_defs}
    for s in repo_def.schedule_defs:
        assert schedules[s.name]["cronSchedule"] == s.cron_schedule
        default = s.default_status or dg.DefaultScheduleStatus.STOPPED
        assert schedules[s.name]["scheduleState"]["status"] == default.value, s.name
    sensors = {s["name"]: s for s in repo["sensors"]}
    assert set(sensors) == {s.name for s in repo_def.sensor_defs}
    for s in repo_def.sensor_defs:
        default = s.default_status or dg.DefaultSensorStatus.STOPPED
        assert sensors[s.name]["sensorState"]["status"] == default.value, s.name


def test_warehouse_tables_serve_their_schema_and_row_count(ui_webserver, ui_warehouse) -> None:
    """Each materialised DuckDB table shows Dagster's typed table metadata: the column schema
    (``dagster/column_schema``) and row count (``dagster/row_count``) of the table in the
    warehouse file."""
    graph = ui_warehouse.definitions.resolve_asset_graph()
    tables = [
        k
        for k in ui_warehouse.materialized
        if "duckdb" in graph.get(dg.AssetKey(k.split("/"))).kinds
    ]
    assert "harmonized/av_testing" in tables and ui_warehouse.plot_asset in tables
    for key in tables:
        schema, table = key.split("/")
        columns = query(
            ui_warehouse.db,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        )["column_name"].to_list()
        rows = read_table(ui_warehouse.db, schema, table).height
        asset = graphql(ui_webserver.url, LATEST_MATERIALIZATION, {"key": _key(key)})
        (latest,) = asset["assetOrError"]["assetMaterializations"]
        served = metadata_entries(latest["metadataEntries"])
        assert served["dagster/column_schema"]["__typename"] == "TableSchemaMetadataEntry", key
        served_columns = served["dagster/column_schema"]["schema"]["columns"]
        assert [c["name"] for c in served_columns] == columns, key
        assert served["dagster/row_count"]["intValue"] == rows, key
