"""The sources and harmonize layers end to end on a real Dagster instance and DuckDB file."""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.defs.wiring import source_keys as raw_keys
from learnrace_pipeline.lib.sources import SOURCES
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import read_table, table_counts

HARMONIZED = {
    "technologies",
    "cost_observations",
    "production",
    "market_shares",
    "av_testing",
    "ai_models",
    "chip_products",
    "supply_chain_provision",
    "data_notes",
}


def _snapshot_rows() -> dict[str, int]:
    rows: dict[str, int] = {}
    for s in SOURCES:
        for table, meta in snapshot.metadata(snapshot.DEFAULT_DATASETS, s).items():
            rows[table] = rows.get(table, 0) + meta["rows"]
    return rows


def test_main_data_layer_from_snapshot(data_layer):
    result, db = data_layer.result, data_layer.db  # one run per session (conftest.py)
    assert result.success
    counts = {(s, t): n for s, t, n in table_counts(db).iter_rows()}
    harmonized = {t: n for (s, t), n in counts.items() if s == "harmonized"}
    assert set(harmonized) == HARMONIZED
    # Every harmonized table holds exactly the rows the snapshot ships, summed over sources.
    assert harmonized == _snapshot_rows()
    assert all(n > 0 for n in harmonized.values())
    # Every check passed, except the warning on the real 2008 DNA-sequencing cost collapse.
    evals = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    failed = {(e.asset_key.to_user_string(), e.check_name) for e in evals if not e.passed}
    # Two warnings on real data: the 2008 DNA-sequencing cost collapse, and CA DMV ANNUAL TOTALs
    # that disagree with the monthly sums (Zoox RY2021 reports 1,082 miles more than its months).
    assert failed == {
        ("harmonized/cost_observations", "no_extreme_outliers"),
        ("harmonized/av_testing", "annual_total_matches_monthly_sum"),
    }
    assert all(e.severity.value == "WARN" for e in evals if not e.passed)
    annual = next(e for e in evals if e.check_name == "annual_total_matches_monthly_sum")
    offenders = annual.metadata["first_offenders"].value
    assert offenders[0]["company"] == "Zoox" and offenders[0]["difference_miles"] == 1082.0
    assert len(evals) > 30
    # Spot values that must survive the whole path exactly.
    cost = read_table(db, "harmonized", "cost_observations")
    dram = cost.filter((pl.col("series_id") == "pcdb_carnegie:DRAM") & (pl.col("year") == 1971))
    assert dram["unit_cost"].to_list() == [49.617952]
    robots = read_table(db, "harmonized", "production").filter(
        (pl.col("technology") == "industrial_robot")
        & (pl.col("nation") == "CHN")
        & (pl.col("year") == 2023)
    )
    assert robots["annual_production"].to_list() == [276000.0]
    models = read_table(db, "harmonized", "ai_models")
    assert models.schema["nations"] == pl.List(pl.String)


def test_rerun_is_idempotent(dagster_instance, tmp_path, run_layer):
    db = tmp_path / "w.duckdb"
    sel = [*raw_keys("owid_ifr_robots"), "harmonized/production"]
    assert run_layer(dagster_instance, db, selection=sel).success
    first = read_table(db, "raw", "owid_ifr_robots__production").sort("nation", "year")
    assert run_layer(dagster_instance, db, selection=sel).success
    second = read_table(db, "raw", "owid_ifr_robots__production").sort("nation", "year")
    assert first.equals(second)
    assert first.height == 77


def test_tampered_snapshot_fails_and_keeps_the_warehouse(dagster_instance, tmp_path, run_layer):
    """A snapshot CSV that no longer matches its sidecar sha256 fails the source asset."""
    import shutil

    ds = tmp_path / "datasets"
    shutil.copytree(snapshot.DEFAULT_DATASETS / "owid_ifr_robots", ds / "owid_ifr_robots")
    db = tmp_path / "w.duckdb"
    sel = raw_keys("owid_ifr_robots")
    assert run_layer(dagster_instance, db, selection=sel, dataset_dir=str(ds)).success
    before = read_table(db, "raw", "owid_ifr_robots__production")
    csv = ds / "owid_ifr_robots" / "production.csv"
    csv.write_text(csv.read_text().replace("276000.0", "276001.0"))
    result = run_layer(dagster_instance, db, selection=sel, dataset_dir=str(ds))
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    err = failure.event_specific_data.error
    while err.cause is not None:
        err = err.cause
    assert "datasets/owid_ifr_robots/production.csv" in err.message and "sha256" in err.message
    assert read_table(db, "raw", "owid_ifr_robots__production").equals(before)


def test_sidecars_carry_provenance():
    for s in SOURCES:
        metas = snapshot.metadata(snapshot.DEFAULT_DATASETS, s)
        assert metas, s
        for table, m in metas.items():
            for field in (
                "producer",
                "citation",
                "upstream_url",
                "licence",
                "retrieval_date",
                "sha256",
                "units",
            ):
                assert field in m, (s, table, field)
            assert m["sha256"] == snapshot.sha256_file(
                snapshot.DEFAULT_DATASETS / s / f"{table}.csv"
            )
    cset = snapshot.metadata(snapshot.DEFAULT_DATASETS, "cset_eto_supply_chain")["market_shares"]
    assert cset["non_commercial"] is True and "NC" in cset["licence"]
