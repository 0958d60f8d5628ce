"""What a user sees on an asset page: a description and owners on every asset, and typed table
metadata (column schema with types and units, row count, warehouse table name, every row) on
real materializations in a temporary warehouse with a real Dagster instance.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from learnrace_pipeline.definitions import defs
from learnrace_pipeline.defs.harmonize.assets import harmonized_assets
from learnrace_pipeline.defs.metadata import MAX_RECORDS, data_relative, rows_value
from learnrace_pipeline.defs.resources import build_resources
from learnrace_pipeline.defs.sources.assets import source_assets
from learnrace_pipeline.defs.wiring import OWNERS, raw_key
from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.sources import SOURCE_TABLES
from learnrace_pipeline.lib.storage.warehouse import query, read_table

REPO = Path(__file__).resolve().parents[2]
#: Two cheap sources and the harmonized tables only they feed.
SOURCES = ("epoch_ai", "chip_dataset")
HARMONIZED = ("ai_models", "chip_products")
#: Text a licence tag ``open`` must never sit beside.
NOT_OPEN = re.compile(r"unstated|unknown|no licen[cs]e|not verified|own terms", re.I)


@pytest.fixture(scope="module")
def graph():
    return defs().resolve_asset_graph()


def test_every_asset_has_its_own_description_and_owners(graph) -> None:
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    descriptions = {k.to_user_string(): (graph.get(k).description or "").strip() for k in keys}
    missing = [k for k, d in descriptions.items() if not d]
    assert not missing, f"assets without a description: {missing}"
    seen: dict[str, str] = {}
    for key, text in descriptions.items():
        assert text not in seen, f"{key} shares its description with {seen.get(text)}"
        seen[text] = key
        assert not text.lower().startswith("the same"), f"{key}: description refers elsewhere"
        assert not text.startswith("Harmonized table "), f"{key}: generic description"
        # the UI renders descriptions as markdown: '<name>' would vanish as an HTML tag
        assert not re.search(r"<[A-Za-z/]", text), f"{key}: {text}"
    no_owner = [k.to_user_string() for k in keys if list(graph.get(k).owners) != OWNERS]
    assert not no_owner, f"assets without owners {OWNERS}: {no_owner}"


def test_a_source_tag_and_its_licence_text_agree(graph) -> None:
    for source, tables in SOURCE_TABLES.items():
        for table in tables:
            node = graph.get(raw_key(source, table))
            tag = node.tags["licence"]
            text = node.description
            assert f"Licence ({tag}):" in text, (source, table, tag)
            if tag == "open":
                assert not NOT_OPEN.search(text), f"{source}: tagged open, but its text says {text}"
            if "NON-COMMERCIAL" in text:
                assert tag == "non-commercial", source


def test_declared_tables_show_their_columns_before_any_run(graph) -> None:
    node = graph.get(dg.AssetKey(["harmonized", "cost_observations"]))
    schema = node.metadata["dagster/column_schema"].schema
    by_name = {c.name: c for c in schema.columns}
    assert by_name["unit_cost"].type == "Float64"
    assert "unit" in by_name["unit_cost"].description
    assert node.metadata["dagster/table_name"].value == "harmonized.cost_observations"


@pytest.fixture(scope="module")
def materialized(tmp_path_factory):
    """(materializations by asset key, warehouse file, temp dir) of two sources and the
    harmonized tables they feed."""
    tmp = tmp_path_factory.mktemp("metadata")
    home = tmp / "dagster_home"
    home.mkdir()
    db = tmp / "w.duckdb"
    selection = [raw_key(s, t).to_user_string() for s in SOURCES for t in SOURCE_TABLES[s]]
    selection += [f"harmonized/{t}" for t in HARMONIZED]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            result = dg.materialize(
                [*source_assets, *harmonized_assets.values()],
                instance=instance,
                resources=build_resources(db_path=str(db)),
                selection=selection,
            )
            events = {
                m.asset_key.to_user_string(): m.materialization
                for m in result.get_asset_materialization_events()
            }
    assert sorted(events) == sorted(selection)
    return events, db, tmp


def test_materializations_carry_the_column_schema_with_types_and_units(materialized) -> None:
    events, db, _ = materialized
    for key, m in events.items():
        schema = m.metadata["dagster/column_schema"]
        assert isinstance(schema, dg.TableSchemaMetadataValue), key
        columns = schema.schema.columns
        table = m.metadata["dagster/table_name"].value
        in_db = query(
            db,
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema || '.' || table_name = ? ORDER BY ordinal_position",
            [table],
        )["column_name"].to_list()
        assert [c.name for c in columns] == in_db, key
        assert all(c.type for c in columns), key
        undescribed = [c.name for c in columns if not c.description]
        assert not undescribed, f"{key}: columns without a description {undescribed}"
        assert not [c.name for c in columns if re.search(r"<[A-Za-z/]", c.description)], key
    flop = {
        c.name: c
        for c in events["harmonized/ai_models"].metadata["dagster/column_schema"].schema.columns
    }["training_compute_flop"]
    assert flop.type == "Float64" and "FLOP" in flop.description


def test_row_count_and_table_name_are_the_warehouse_table(materialized) -> None:
    events, db, _ = materialized
    for key, m in events.items():
        schema, table = key.split("/")
        name = m.metadata["dagster/table_name"].value
        assert name == f"{schema}.{table}", key
        count = query(db, f'SELECT count(*) AS n FROM {schema}."{table}"')["n"][0]
        assert m.metadata["dagster/row_count"].value == count > 0, key


def test_the_rows_table_holds_every_row(materialized) -> None:
    events, db, _ = materialized
    for key, m in events.items():
        schema, table = key.split("/")
        frame = read_table(db, schema, table)
        assert list(m.metadata)[-1] == "rows", f"{key}: the long rows table is not last"
        rows = m.metadata["rows"]
        assert isinstance(rows, dg.TableMetadataValue), key
        assert len(rows.records) == frame.height, key
        # each record is strict JSON (the UI parses it with JSON.parse: no NaN or Infinity)
        for record in rows.records:
            json.dumps(record.data, allow_nan=False)
    chips = read_table(db, "harmonized", "chip_products")
    records = events["harmonized/chip_products"].metadata["rows"].records
    assert chips.height > 4000  # a table far past Polars' 10 printed rows
    shown = sorted((r.data["product"], r.data["chip_type"], r.data["variant"]) for r in records)
    stored = sorted(chips.select("product", "chip_type", "variant").iter_rows())
    assert shown == stored
    by_row = {(r.data["product"], r.data["chip_type"], r.data["variant"]): r.data for r in records}
    for row in chips.filter(pl.col("process_nm").is_not_null()).head(200).iter_rows(named=True):
        cell = by_row[(row["product"], row["chip_type"], row["variant"])]
        assert math.isclose(cell["process_nm"], row["process_nm"], rel_tol=1e-5)


def test_no_metadata_carries_an_absolute_path(materialized, graph) -> None:
    events, _, tmp = materialized
    for key, m in events.items():
        for label, value in m.metadata.items():
            text = dg.serialize_value(value)
            assert str(tmp) not in text, f"{key}: {label} holds the temp path"
            assert str(REPO) not in text, f"{key}: {label} holds the checkout's path"
    for key in graph.get_all_asset_keys():
        text = dg.serialize_value(dict(graph.get(key).metadata))
        assert str(REPO) not in text, f"{key.to_user_string()}: definition metadata"


def test_an_io_managed_table_of_any_dtype_is_shown_as_strict_json(tmp_path, monkeypatch) -> None:
    """Through the real DuckDB IO manager: NaN, infinities, nulls, dates and lists become
    JSON-safe cells; the row count and the rows match the stored table; an empty table shows 0."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    frame = pl.DataFrame(
        {
            "nation": ["USA", "CHN", None],
            "value": [float("nan"), float("inf"), 0.123456789],
            "when": [dt.date(2020, 1, 1), None, dt.date(2021, 6, 30)],
            "nations": [["USA"], ["CHN", "TWN"], []],
        }
    )

    @dg.asset(key=["evaluation", "metadata_probe"])
    def probe() -> pl.DataFrame:
        return frame

    @dg.asset(key=["evaluation", "metadata_empty"])
    def empty() -> pl.DataFrame:
        return frame.head(0)

    db = tmp_path / "w.duckdb"
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [probe, empty], instance=instance, resources=build_resources(db_path=str(db))
        )
    events = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    meta = events["evaluation/metadata_probe"]
    assert meta["dagster/table_name"].value == "evaluation.metadata_probe"
    assert meta["dagster/row_count"].value == read_table(db, "evaluation", "metadata_probe").height
    cells = [r.data for r in meta["rows"].records]
    for cell in cells:
        json.dumps(cell, allow_nan=False)
    assert [c["value"] for c in cells] == ["nan", "inf", 0.123457]
    assert [c["when"] for c in cells] == ["2020-01-01", None, "2021-06-30"]
    assert [c["nations"] for c in cells] == ["USA", "CHN, TWN", ""]
    assert events["evaluation/metadata_empty"]["dagster/row_count"].value == 0
    assert events["evaluation/metadata_empty"]["rows"].records == []


def test_a_table_past_the_record_limit_says_where_its_rows_are() -> None:
    big = pl.DataFrame({"draw": range(MAX_RECORDS + 1)})
    value = rows_value(big, "calibration", "solar_lambda")
    assert isinstance(value, dg.TextMetadataValue)
    assert f"{MAX_RECORDS + 1:,} rows" in value.value
    assert "calibration.solar_lambda" in value.value
    small = rows_value(big.head(MAX_RECORDS), "calibration", "solar_lambda")
    assert len(small.records) == MAX_RECORDS


def test_the_row_limit_follows_the_environment(monkeypatch) -> None:
    frame = pl.DataFrame({"draw": range(5)})
    monkeypatch.setenv("LEARNRACE_METADATA_ROWS", "4")
    assert "5 rows: more than the 4 shown" in rows_value(frame).value
    monkeypatch.setenv("LEARNRACE_METADATA_ROWS", "5")
    assert len(rows_value(frame).records) == 5
    monkeypatch.setenv("LEARNRACE_METADATA_ROWS", "many")
    with pytest.raises(LearnraceError, match="LEARNRACE_METADATA_ROWS='many'"):
        rows_value(frame)


def test_paths_are_given_relative_to_the_data_folder(tmp_path) -> None:
    db = tmp_path / "data" / "learnrace.duckdb"
    assert data_relative(tmp_path / "data" / "ledger.duckdb", db) == "ledger.duckdb"
    assert data_relative(tmp_path / "data" / "plots" / "x.png", db) == "plots/x.png"
