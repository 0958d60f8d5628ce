"""Bad upstream files fail their source asset with a precise message and change nothing stored.

Each case copies one real source folder from ``../shared/data/raw``, materialises it once intact
(so the warehouse holds its tables), breaks one file, materialises again, and asserts that
(1) the run fails with a DataError naming source, file, row and column, and
(2) every table in the warehouse is exactly what it was before.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.defs.wiring import source_keys as raw_keys
from learnrace_pipeline.lib.storage.warehouse import query, read_table, table_counts

pytestmark = pytest.mark.raw

ROBOTS = "annual-industrial-robots-installed.csv"
DRAM = "expCurveData/DRAM.csv"
IRENA = "data/irena/irenaCumCapacityMw.csv"


def _sub(old: str, new: str) -> Callable[[Path], None]:
    def mutate(p: Path) -> None:
        text = p.read_text()
        assert old in text, old
        p.write_text(text.replace(old, new, 1))

    return mutate


def _drop_third_column(p: Path) -> None:
    lines = [line.split(",") for line in p.read_text().splitlines()]
    p.write_text("\n".join(",".join(f[:2] + f[3:]) for f in lines) + "\n")


def _truncate(p: Path) -> None:
    text = p.read_text()
    p.write_text(text[: len(text) // 2].rsplit(",", 1)[0])


def _append_duplicate(p: Path) -> None:
    text = p.read_text()
    p.write_text(text + text.splitlines()[5] + "\n")


# case id -> (source, file, mutation, expected fragments of the message: row and column)
CASES: dict[str, tuple[str, str, Callable[[Path], None], list[str]]] = {
    "missing_column": (
        "owid_ifr_robots",
        ROBOTS,
        _drop_third_column,
        ["row 1", "column 'Year'", "missing column"],
    ),
    "renamed_column": (
        "owid_ifr_robots",
        ROBOTS,
        _sub("Year", "Yr"),
        ["row 1", "column 'Year'", "missing column"],
    ),
    "text_in_number": (
        "owid_ifr_robots",
        ROBOTS,
        _sub("276000", "lots"),
        ["row 14", "column 'Annual industrial robots installed'", "not a number: 'lots'"],
    ),
    "negative_cost": (
        "pcdb_carnegie",
        DRAM,
        _sub("49.617952", "-49.617952"),
        ["row 2", "column 'Price (2005 USD/thousand bits)'", "positive"],
    ),
    "zero_cost": (
        "pcdb_carnegie",
        DRAM,
        _sub("49.617952", "0"),
        ["row 2", "column 'Price (2005 USD/thousand bits)'", "positive"],
    ),
    "duplicate_key_year": (
        "owid_ifr_robots",
        ROBOTS,
        _append_duplicate,
        ["row 79", "column 'Year'", "duplicate", "first at row 6"],
    ),
    "unknown_unit": (
        "pcdb_carnegie",
        DRAM,
        _sub("2005 USD/thousand bits", "2005 ZZZ/thousand bits"),
        ["row 1", "unknown unit", "ZZZ"],
    ),
    "unknown_nation": (
        "owid_ifr_robots",
        ROBOTS,
        _sub("Germany", "Atlantis"),
        ["row 15", "column 'Entity'", "unknown nation 'Atlantis'"],
    ),
    "non_monotone_cumulative": (
        "helveston_solar_2022",
        IRENA,
        _sub("2007,8642,4170,100,974", "2007,8642,4170,50,974"),
        ["irenaCumCapacityMw.csv", "row 3", "cumulative"],
    ),
    "empty_file": ("owid_ifr_robots", ROBOTS, lambda p: p.write_text(""), ["empty file"]),
    "header_only": (
        "owid_ifr_robots",
        ROBOTS,
        lambda p: p.write_text(p.read_text().splitlines()[0] + "\n"),
        ["header only"],
    ),
    "truncated_file": ("owid_ifr_robots", ROBOTS, _truncate, ["row 43", "truncated"]),
    "wrong_encoding": (
        "owid_ifr_robots",
        ROBOTS,
        lambda p: p.write_bytes(p.read_text().encode("utf-16")),
        ["row 1", "not valid utf-8"],
    ),
    "wrong_delimiter": (
        "owid_ifr_robots",
        ROBOTS,
        lambda p: p.write_text(p.read_text().replace(",", ";")),
        ["row 1", "wrong delimiter"],
    ),
    "future_year": (
        "owid_ifr_robots",
        ROBOTS,
        _sub(",2023,", ",2031,"),
        ["row 14", "column 'year'", "in the future"],
    ),
}


def _warehouse_state(db: Path) -> dict[str, pl.DataFrame]:
    out = {}
    for schema, table, _ in table_counts(db).iter_rows():
        df = read_table(db, schema, table)
        out[f"{schema}.{table}"] = df.sort(df.columns) if df.height else df
    return out


def _failure_message(result) -> str:
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    err = failure.event_specific_data.error
    while err.cause is not None:
        err = err.cause
    return err.message


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_fails_asset_and_keeps_tables(
    case, raw_dir, tmp_path, dagster_instance, run_layer
):
    source, rel, mutate, fragments = CASES[case]
    raw = tmp_path / "raw"
    shutil.copytree(raw_dir / source, raw / source)
    db = tmp_path / "w.duckdb"
    assert run_layer(dagster_instance, db, raw_dir=str(raw), selection=raw_keys(source)).success
    before = _warehouse_state(db)
    assert before, "the intact source wrote nothing"

    mutate(raw / source / rel)
    result = run_layer(dagster_instance, db, raw_dir=str(raw), selection=raw_keys(source))

    assert not result.success
    msg = _failure_message(result)
    assert f"source '{source}'" in msg
    assert Path(rel).name in msg
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} not in {msg!r}"
    after = _warehouse_state(db)
    assert after.keys() == before.keys()
    for name, df in before.items():
        assert after[name].equals(df), f"{name} changed"


def test_extreme_outlier_is_flagged_by_check(raw_dir, tmp_path, dagster_instance, run_layer):
    """A 1000x spike in one DRAM year passes the reader (it is positive) but the check flags it."""
    raw = tmp_path / "raw"
    shutil.copytree(raw_dir / "pcdb_carnegie", raw / "pcdb_carnegie")
    path = raw / "pcdb_carnegie" / DRAM
    lines = path.read_text().splitlines()
    fields = lines[10].split(",")
    year = int(float(fields[1]))
    fields[0] = str(float(fields[0]) * 1000)
    lines[10] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    db = tmp_path / "w.duckdb"
    result = run_layer(
        dagster_instance,
        db,
        raw_dir=str(raw),
        selection=[*raw_keys("pcdb_carnegie"), "harmonized/cost_observations"],
    )
    assert result.success  # a warning, not a failure
    evals = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    flagged = evals["no_extreme_outliers"]
    assert not flagged.passed
    assert flagged.severity.value == "WARN"
    offenders = flagged.metadata["first_offenders"].value
    assert {"series_id": "pcdb_carnegie:DRAM", "year": year} in [
        {"series_id": o["series_id"], "year": o["year"]} for o in offenders
    ]
    stored = query(
        db,
        "SELECT unit_cost FROM harmonized.cost_observations WHERE series_id = 'pcdb_carnegie:DRAM' AND year = ?",
        [year],
    )
    assert stored["unit_cost"][0] == pytest.approx(float(fields[0]))
