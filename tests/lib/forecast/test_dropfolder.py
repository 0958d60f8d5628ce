"""The drop folder's logic without Dagster: which files a tick picks (settled, not temporary, not
twice), what a run writes (the forecasts of `learnrace forecast`, byte for byte) and where a bad
file goes (rejected/ beside the reader's error)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from learnrace_pipeline.cli import app
from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.forecast.dropfolder import (
    DropFolder,
    DropSettings,
    ScanState,
    drop_dir,
    forecast_tables,
    process,
    reject,
    scan,
)
from learnrace_pipeline.lib.forecast.inputs import read_input
from learnrace_pipeline.lib.storage.snapshot import sha256_file

GOOD = """series_id,year,unit_cost,annual_production
pv,2010,2.0,10
pv,2011,1.7,14
pv,2012,1.5,20
pv,2013,1.3,27
pv,2014,,36
pv,2016,,
ev,2018,300,5
ev,2019,280,8
ev,2020,250,12
ev,2021,,16
"""

#: row 3 (header = row 1), column unit_cost is not a number
BAD = """series_id,year,unit_cost,annual_production
a,2000,1.0,1
a,2001,x,2
a,2002,0.8,3
a,2003,,4
"""

TIME_ONLY = """series_id,year,unit_cost
chip,2015,10
chip,2016,8
chip,2017,7
chip,2018,5.5
chip,2019,
chip,2020,
"""


def _tick(root: Path, state: ScanState) -> tuple[list[str], ScanState]:
    ready, state = scan(root, state)
    return [r.name for r in ready], state


def test_a_file_is_ready_after_one_unchanged_tick_and_only_once(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(GOOD)
    names, state = _tick(tmp_path, ScanState())
    assert names == []  # first sight: not settled yet
    assert "a.csv" in state.seen
    ready, state = scan(tmp_path, state)
    assert [r.name for r in ready] == ["a.csv"]
    assert ready[0].sha256 == sha256_file(tmp_path / "a.csv")
    assert ready[0].size == len(GOOD.encode())
    assert ready[0].run_key == f"a.csv:{ready[0].sha256}:{ready[0].mtime_ns}"
    for _ in range(3):  # requested: never again while it stays as it is
        names, state = _tick(tmp_path, state)
        assert names == []
    # the cursor survives its JSON round trip
    assert ScanState.from_json(state.to_json()) == state
    names, _ = _tick(tmp_path, ScanState.from_json(state.to_json()))
    assert names == []


def test_a_growing_file_is_not_read_until_it_settles(tmp_path: Path) -> None:
    path = tmp_path / "grow.csv"
    lines = GOOD.splitlines(keepends=True)
    path.write_text("".join(lines[:3]))
    names, state = _tick(tmp_path, ScanState())
    assert names == []
    for n in range(4, len(lines) + 1):  # a writer appending between ticks
        path.write_text("".join(lines[:n]))
        names, state = _tick(tmp_path, state)
        assert names == [], n
    names, state = _tick(tmp_path, state)
    assert names == ["grow.csv"]
    assert state.requested["grow.csv"][2] == sha256_file(path)


def test_a_file_rewritten_with_the_same_size_waits_for_its_new_mtime(tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    path.write_text(GOOD)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    _, state = _tick(tmp_path, ScanState())
    path.write_text(GOOD.replace("2.0", "2.1"))  # same size, new content, new mtime
    os.utime(path, ns=(1_000_000_001_000_000_000, 1_000_000_001_000_000_000))
    names, state = _tick(tmp_path, state)
    assert names == []
    names, state = _tick(tmp_path, state)
    assert names == ["same.csv"]


@pytest.mark.parametrize(
    "name", ["a.csv.part", ".a.csv", "a.csv.tmp", "a.csv~", "a.csv.crdownload", "a.CSV.PART"]
)
def test_temporary_names_are_never_read_and_a_rename_is(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(GOOD)
    state = ScanState()
    for _ in range(3):
        names, state = _tick(tmp_path, state)
        assert names == []
    path.rename(tmp_path / "done.csv")  # the writer's atomic rename when done
    names, state = _tick(tmp_path, state)
    assert names == []
    names, state = _tick(tmp_path, state)
    assert names == ["done.csv"]


def test_two_files_in_one_tick_and_subfolders_and_links_skipped(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_text(GOOD)
    (tmp_path / "two.csv").write_text(GOOD.replace("pv", "wind"))
    (tmp_path / "forecasts").mkdir()
    (tmp_path / "forecasts" / "old.csv").write_text(GOOD)
    (tmp_path / "link.csv").symlink_to(tmp_path / "one.csv")
    _, state = _tick(tmp_path, ScanState())
    ready, _ = scan(tmp_path, state)
    assert [r.name for r in ready] == ["one.csv", "two.csv"]
    assert len({r.sha256 for r in ready}) == 2


def test_an_unreadable_cursor_starts_afresh() -> None:
    assert ScanState.from_json(None) == ScanState()
    assert ScanState.from_json("not json") == ScanState()
    assert ScanState.from_json('{"seen": {"a.csv": [1]}}') == ScanState()


def test_drop_dir_defaults_beside_the_warehouse(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("LEARNRACE_DROP_DIR", raising=False)
    monkeypatch.setenv("LEARNRACE_DB", str(tmp_path / "wh" / "learnrace.duckdb"))
    assert drop_dir() == (tmp_path / "wh" / "drop").resolve()
    monkeypatch.setenv("LEARNRACE_DROP_DIR", str(tmp_path / "elsewhere"))
    assert drop_dir() == (tmp_path / "elsewhere").resolve()


def _cli_forecast(tmp_path: Path, text: str, *extra: str) -> tuple[bytes, bytes]:
    """`learnrace forecast --summary` on ``text``: (forecast CSV bytes, summary CSV bytes)."""
    work = tmp_path / "cli"
    work.mkdir()
    src = work / "in.csv"
    src.write_text(text)
    out, summary = work / "out.csv", work / "summary.csv"
    result = CliRunner().invoke(
        app,
        ["forecast", "--input", str(src), "--output", str(out), "--summary", str(summary), *extra],
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes(), summary.read_bytes()


def test_process_writes_the_forecasts_of_learnrace_forecast(tmp_path: Path) -> None:
    folder = DropFolder(tmp_path / "drop").ensure()
    (folder.root / "solar.csv").write_text(GOOD)
    sha = sha256_file(folder.root / "solar.csv")
    outcome = process(folder, "solar.csv", sha)
    assert outcome.status == "forecast", outcome.message
    assert (outcome.n_series, outcome.n_rows) == (2, 3)
    assert outcome.paths["forecasts"] == folder.root / "forecasts" / "solar.csv"
    assert outcome.paths["summary"] == folder.root / "forecasts" / "solar.summary.csv"
    # the input left the drop folder for processed/, unchanged
    assert not (folder.root / "solar.csv").exists()
    assert sha256_file(folder.root / "processed" / "solar.csv") == sha
    # the same bytes as `learnrace forecast` with its defaults (seeded)
    cli_out, cli_summary = _cli_forecast(tmp_path, GOOD)
    assert outcome.paths["forecasts"].read_bytes() == cli_out
    assert outcome.paths["summary"].read_bytes() == cli_summary
    table = pl.read_csv(outcome.paths["forecasts"])
    assert table.select("series_id", "year").rows() == [("ev", 2021), ("pv", 2014), ("pv", 2016)]
    assert set(table["model"]) == {"pool_wright_experience_time[all]"}
    # no temporary file left behind by the atomic writes
    assert sorted(p.name for p in folder.forecasts.iterdir()) == [
        "solar.csv",
        "solar.summary.csv",
    ]


def test_process_with_another_seed_and_model(tmp_path: Path) -> None:
    folder = DropFolder(tmp_path / "drop").ensure()
    (folder.root / "chips.csv").write_text(TIME_ONLY)
    settings = DropSettings(model="time", seed=7, samples=500)
    outcome = process(folder, "chips.csv", sha256_file(folder.root / "chips.csv"), settings)
    assert outcome.status == "forecast", outcome.message
    cli_out, cli_summary = _cli_forecast(
        tmp_path, TIME_ONLY, "--model", "time", "--seed", "7", "--samples", "500"
    )
    assert outcome.paths["forecasts"].read_bytes() == cli_out
    assert outcome.paths["summary"].read_bytes() == cli_summary
    # and another seed gives other draws: the seed reaches the forecaster
    other, _ = forecast_tables(
        folder.root / "processed" / "chips.csv", DropSettings("time", 8, 500)
    )
    assert other["q50"].to_list() != pl.read_csv(outcome.paths["forecasts"])["q50"].to_list()


def test_a_bad_file_goes_to_rejected_beside_the_readers_error(tmp_path: Path) -> None:
    folder = DropFolder(tmp_path / "drop").ensure()
    (folder.root / "bad.csv").write_text(BAD)
    with pytest.raises(DataError) as expected:  # what the reader says about this file
        read_input(folder.root / "bad.csv")
    assert (expected.value.row, expected.value.column) == (3, "unit_cost")
    sha = sha256_file(folder.root / "bad.csv")
    outcome = process(folder, "bad.csv", sha)
    assert outcome.status == "rejected"
    assert outcome.message == str(expected.value)
    assert not (folder.root / "bad.csv").exists()
    assert (folder.rejected / "bad.csv").read_text() == BAD
    text = (folder.rejected / "bad.error.txt").read_text()
    assert f"error: {expected.value}" in text
    assert "source: forecast input" in text
    assert "file: bad.csv" in text
    assert "row: 3 (header = row 1)" in text
    assert "column: unit_cost" in text
    assert f"problem: {expected.value.problem}" in text
    assert f"sha256: {sha}" in text
    assert list(folder.forecasts.iterdir()) == []


def test_a_file_that_is_not_csv_is_rejected_with_the_reason(tmp_path: Path) -> None:
    folder = DropFolder(tmp_path / "drop").ensure()
    (folder.root / "series.xlsx").write_bytes(b"PK\x03\x04")
    outcome = process(folder, "series.xlsx", sha256_file(folder.root / "series.xlsx"))
    assert outcome.status == "rejected"
    assert "not a .csv file" in (folder.rejected / "series.error.txt").read_text()
    assert (folder.rejected / "series.xlsx").exists()


def test_a_fault_of_learnrace_is_named_as_such(tmp_path: Path) -> None:
    folder = DropFolder(tmp_path / "drop").ensure()
    (folder.root / "x.csv").write_text(GOOD)
    outcome = reject(folder, "x.csv", RuntimeError("boom"), "abc")
    text = (folder.rejected / "x.error.txt").read_text()
    assert "RuntimeError: boom" in text and "fault of learnrace, not of the file" in text
    assert outcome.status == "rejected" and isinstance(outcome.error, RuntimeError)


def test_a_changed_or_gone_file_is_left_alone(tmp_path: Path) -> None:
    folder = DropFolder(tmp_path / "drop").ensure()
    path = folder.root / "c.csv"
    path.write_text(GOOD)
    old = sha256_file(path)
    path.write_text(GOOD.replace("300", "310"))
    outcome = process(folder, "c.csv", old)
    assert outcome.status == "changed"
    assert path.exists() and list(folder.forecasts.iterdir()) == []
    path.unlink()
    assert process(folder, "c.csv", old).status == "gone"


def test_a_file_dropped_again_is_forecast_again(tmp_path: Path) -> None:
    folder = DropFolder(tmp_path / "drop").ensure()
    src = tmp_path / "mine.csv"
    src.write_text(GOOD)
    shutil.copy(src, folder.root / "mine.csv")
    _, state = _tick(folder.root, ScanState())
    ready, state = scan(folder.root, state)
    first = ready[0]
    assert process(folder, first.name, first.sha256).status == "forecast"
    names, state = _tick(folder.root, state)
    assert names == [] and state.requested == {}  # gone from the folder: forgotten
    shutil.copy(src, folder.root / "mine.csv")  # the same bytes, dropped again
    os.utime(folder.root / "mine.csv", ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))
    _, state = _tick(folder.root, state)
    ready, _ = scan(folder.root, state)
    assert [r.name for r in ready] == ["mine.csv"]
    assert ready[0].sha256 == first.sha256 and ready[0].run_key != first.run_key


def test_settings_are_checked_before_any_file_is_touched() -> None:
    with pytest.raises(DataError, match="samples"):
        DropSettings(samples=0)
    with pytest.raises(DataError, match="unknown model"):
        DropSettings(model="best")
    with pytest.raises(DataError, match="production_damping"):
        DropSettings(production_damping=2.0)


def test_a_limit_leaves_settled_files_for_later_ticks(tmp_path: Path) -> None:
    for name in ("a.csv", "b.csv", "c.csv"):
        (tmp_path / name).write_text(GOOD.replace("pv", name[0]))
    _, state = _tick(tmp_path, ScanState())
    ready, state = scan(tmp_path, state, max_ready=1)
    assert [r.name for r in ready] == ["a.csv"]
    assert sorted(state.seen) == ["b.csv", "c.csv"]  # still settled: next in line
    ready, state = scan(tmp_path, state, max_ready=0)
    assert ready == []
    ready, state = scan(tmp_path, state, max_ready=5)
    assert [r.name for r in ready] == ["b.csv", "c.csv"]
    assert sorted(state.requested) == ["a.csv", "b.csv", "c.csv"]
