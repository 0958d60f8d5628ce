"""``learnrace frontier`` and ``learnrace av`` end to end (fit once from the shipped snapshot)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from learnrace_pipeline.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory):
    """A warehouse path with no file: the commands fall back to the snapshot and save fits beside it."""
    return tmp_path_factory.mktemp("wh") / "learnrace.duckdb"


def test_frontier_rejects_bad_date(empty_db):
    r = runner.invoke(app, ["frontier", "--as-of", "30/06/2024", "--db", str(empty_db)])
    assert r.exit_code != 0
    assert "not a YYYY-MM-DD date" in r.output


@pytest.mark.parametrize(
    ("as_of", "problem"),
    [
        ("1900-01-01", "as-of date 1900-01-01 is before the first model in the data"),
        ("1950-07-01", "as-of date 1950-07-01 is before the first model in the data"),
        ("9999-12-31", "as-of date 9999-12-31 is more than 10 years past the data end"),
        ("2034-06-26", "as-of date 2034-06-26 is more than 10 years past the data end"),
    ],
)
def test_frontier_refuses_dates_outside_the_data(empty_db, as_of, problem):
    """Before the first model with known compute (Theseus, 1950-07-02) or more than 10 years
    past the data end (2024-06-25): exit 2, one line naming the allowed range, no fit made."""
    r = runner.invoke(app, ["frontier", "--as-of", as_of, "--db", str(empty_db)])
    assert r.exit_code == 2, r.output
    assert r.output.startswith("error ") and "Traceback" not in r.output
    message = " ".join(r.output.split())
    assert message == (
        f"error {problem}: the frontier is given from 1950-07-02 (the first model with known "
        "compute) to 2034-06-25 (10 years past the data end, 2024-06-25)"
    )
    assert not (empty_db.parent / "fits").exists()


def test_av_rejects_bad_form_and_year(empty_db):
    r = runner.invoke(
        app, ["av", "--report-year", "2024", "--form", "cubic", "--db", str(empty_db)]
    )
    assert r.exit_code != 0 and "--form" in r.output
    r = runner.invoke(app, ["av", "--report-year", "1999", "--db", str(empty_db)])
    assert r.exit_code != 0 and "2015" in r.output


@pytest.mark.slow
def test_frontier_json(empty_db):
    r = runner.invoke(
        app, ["frontier", "--as-of", "2024-06-30", "--format", "json", "--db", str(empty_db)]
    )
    assert r.exit_code == 0, r.output
    rows = {row["nation"]: row for row in json.loads(r.stdout[r.stdout.index("[") :])}
    assert {"USA", "CHN"} <= set(rows)
    assert rows["USA"]["leader"] == "USA" and rows["USA"]["p_leader"] >= 0.8
    for row in rows.values():
        if row["status"] == "insufficient data":  # no trend: record only
            assert row["log10_flop_q50"] is None and row["record_log10_flop"] is not None
            continue
        qs = [row[f"log10_flop_q{q}"] for q in ("05", "25", "50", "75", "95")]
        assert qs == sorted(qs)
        assert (
            row["doubling_months_q05"] <= row["doubling_months_q50"] <= row["doubling_months_q95"]
        )
    # Reference OLS on records (shared/notes): US doubling about 5.8 months, China about 5.2.
    assert 4.0 < rows["USA"]["doubling_months_q50"] < 9.0
    assert 3.5 < rows["CHN"]["doubling_months_q50"] < 9.0
    # China trails at mid-2024 (the notes put the gap at 1-1.6 years behind the US).
    assert rows["CHN"]["gap_years_q50"] > 0.5
    # A second call reuses the saved fit.
    r2 = runner.invoke(
        app, ["frontier", "--as-of", "2024-06-30", "--format", "json", "--db", str(empty_db)]
    )
    assert "saved fit reused" in r2.output


@pytest.mark.slow
def test_frontier_extrapolation_is_flagged(empty_db):
    """Ten years past the data end is allowed: every modelled nation's status is 'forecast',
    its interval above its record, and a note on standard error says it is extrapolated."""
    r = runner.invoke(
        app, ["frontier", "--as-of", "2034-06-25", "--format", "json", "--db", str(empty_db)]
    )
    assert r.exit_code == 0, r.output
    rows = {row["nation"]: row for row in json.loads(r.stdout)}
    assert rows["USA"]["status"] == "forecast" and rows["USA"]["data_end"] == "2024-06-25"
    assert rows["USA"]["log10_flop_q05"] > rows["USA"]["record_log10_flop"]
    assert {row["status"] for row in rows.values()} == {"forecast", "insufficient data"}
    assert (
        "note 2034-06-25 is 10.0 years past the data end (2024-06-25): the frontier is a "
        "forecast (extrapolation, allowed up to 10 years)"
    ) in " ".join(r.stderr.split())
    table = runner.invoke(
        app,
        ["frontier", "--as-of", "2030-01-01", "--db", str(empty_db)],
        env={"COLUMNS": "300"},  # the caption is cut at the table's width on a narrow terminal
    )
    assert table.exit_code == 0, table.output
    assert "the frontier is forecast (extrapolated; at most 10 years past the data)" in (
        " ".join(table.stdout.split())
    )


@pytest.mark.slow
def test_av_json(empty_db):
    r = runner.invoke(
        app, ["av", "--report-year", "2023", "--format", "json", "--db", str(empty_db)]
    )
    assert r.exit_code == 0, r.output
    rows = {row["company"]: row for row in json.loads(r.stdout[r.stdout.index("[") :])}
    assert {"Waymo", "Cruise", "Pony.ai"} <= set(rows)
    for row in rows.values():
        assert 0 < row["mpd_q05"] <= row["mpd_q50"] <= row["mpd_q95"]
        assert row["report_year"] == 2023
    # Waymo reported 17,060 MPD in RY2022 (shared/notes A3); its RY2023 median sits in a broad band.
    assert 3_000 < rows["Waymo"]["mpd_q50"] < 200_000
    assert rows["Waymo"]["nation"] == "USA" and rows["Pony.ai"]["nation"] == "CHN"


@pytest.mark.slow
def test_frontier_reads_the_warehouse_table(tmp_path):
    """With a warehouse, the command answers from harmonized.ai_models (not the snapshot)."""
    from learnrace_pipeline.lib.storage import snapshot
    from learnrace_pipeline.lib.storage.warehouse import write_tables

    db = tmp_path / "learnrace.duckdb"
    ai = snapshot.load(snapshot.DEFAULT_DATASETS, "epoch_ai")["ai_models"]
    write_tables(db, {("harmonized", "ai_models"): ai})
    r = runner.invoke(
        app, ["frontier", "--as-of", "2024-06-30", "--format", "json", "--db", str(db)]
    )
    assert r.exit_code == 0, r.output
    assert f"data: warehouse {db}" in r.output.replace("\n", "")
    rows = {row["nation"]: row for row in json.loads(r.stdout[r.stdout.index("[") :])}
    assert rows["CHN"]["leader"] == "USA"
    assert (tmp_path / "fits").is_dir()
