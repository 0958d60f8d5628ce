"""``learnrace ledger`` on a real ledger file, mostly through real subprocesses of the installed
command."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from learnrace_pipeline.cli import app
from learnrace_pipeline.commands._tables import sig3
from learnrace_pipeline.lib.race.ledger import (
    QCOLS,
    append_vintage,
    list_vintages,
    make_vintage,
)
from learnrace_pipeline.lib.race.ledger_scores import record_scores

REPO = Path(__file__).resolve().parents[2]
LEARNRACE = REPO / ".venv" / "bin" / "learnrace"


def _run(*args: str, columns: int = 100) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LEARNRACE_DB", "LEARNRACE_LEDGER")}
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(LEARNRACE), "ledger", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def warehouse_dir(tmp_path_factory) -> Path:
    """A warehouse folder (no warehouse file) whose ledger.duckdb holds two vintages, the first
    scored: volumes 1..7 observed at 4, 6.5, 2 and 10 (90%: 3 of 4 inside, 50%: 1 of 4)."""
    folder = tmp_path_factory.mktemp("wh")
    rows = pl.DataFrame(
        {
            "industry": ["solar_pv"] * 4,
            "nation": ["CHN", "USA", "CHN", "USA"],
            "quantity": ["volume"] * 4,
            "target_year": [2030, 2030, 2031, 2031],
            "unit": ["fraction"] * 4,
            **{c: [float(k + 1)] * 4 for k, c in enumerate(QCOLS)},
        }
    )
    for scenario, when in (("base", dt.datetime(2026, 1, 2, 3, 4)), ("deployment_slowdown", None)):
        v = make_vintage(
            rows,
            data_version="0123456789abcdef",
            code_version="0.1+abc",
            scenario=scenario,
            seed=11,
            created_at=when or dt.datetime(2026, 1, 3),
        )
        append_vintage(folder / "ledger.duckdb", v)
        if scenario == "base":
            observed = rows.select(
                "industry", "nation", "quantity", pl.col("target_year").alias("year")
            ).with_columns(value=pl.Series([4.0, 6.5, 2.0, 10.0]))
            record_scores(folder / "ledger.duckdb", observed)
    return folder


def test_table_on_a_100_column_terminal(warehouse_dir):
    """Every column fits, with the longest scenario name of race.yaml (19 characters)."""
    r = _run("--db", str(warehouse_dir / "learnrace.duckdb"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 100
    assert not any("\u2026" in line for line in lines)  # nothing cut to an ellipsis
    expected = list_vintages(warehouse_dir / "ledger.duckdb")
    base = next(line for line in lines if " base " in line).split()
    assert base == [
        "2026-01-02T03:04Z",
        "base",
        "01234567",
        "4",
        "4",
        "0.250",
        "0.750",
        sig3(expected["pinball"][0]),
    ]
    slow = next(line for line in lines if " deployment_slowdown " in line).split()
    assert slow == ["2026-01-03T00:00Z", "deployment_slowdown", "01234567", "4", "0"] + ["n/a"] * 3


def test_json_and_csv_have_every_column(warehouse_dir):
    path = warehouse_dir / "ledger.duckdb"
    r = _run("--ledger", str(path), "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [x["scenario"] for x in rows] == ["base", "deployment_slowdown"]
    assert rows[0]["created_at"] == "2026-01-02T03:04:00"
    assert (rows[0]["cov90"], rows[0]["cov50"], rows[0]["n_scored"]) == (0.75, 0.25, 4)
    assert rows[1]["cov90"] is None and rows[1]["n_scored"] == 0
    assert len(rows[0]["vintage_id"]) == 16
    r = _run("--ledger", str(path), "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert pl.read_csv(r.stdout.encode()).columns == list(list_vintages(path).columns)


def test_missing_ledger_is_one_line_and_exit_0(tmp_path):
    r = _run("--db", str(tmp_path / "learnrace.duckdb"))
    assert r.returncode == 0 and r.stdout == ""
    message = " ".join(r.stderr.split())
    assert message == (
        f"no forecast ledger at {tmp_path / 'ledger.duckdb'} yet: the race adds a vintage each "
        "time it is materialized"
    )
    r = CliRunner().invoke(
        app, ["ledger", "--ledger", str(tmp_path / "none.duckdb"), "--format", "json"]
    )  # in process: the subprocess path is the same as above
    assert r.exit_code == 0 and json.loads(r.stdout) == []


def test_a_file_that_is_not_a_ledger_exits_2(tmp_path):
    import duckdb

    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    r = _run("--ledger", str(other))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert " ".join(r.stderr.split()) == f"error {other} is not a forecast ledger (no " + (
        "vintages/forecasts/scores)"
    )


def test_one_vintage_by_quantity(warehouse_dir):
    """In process (the subprocess path is covered above): --vintage with an id's first
    characters; an unknown prefix is one line and exit 2."""
    path = warehouse_dir / "ledger.duckdb"
    vid = list_vintages(path)["vintage_id"][0]
    runner = CliRunner()
    r = runner.invoke(app, ["ledger", "--ledger", str(path), "--vintage", vid[:6]])
    assert r.exit_code == 0, r.output
    assert f"Vintage {vid}" in r.output
    volume = next(line for line in r.output.splitlines() if line.startswith(" volume")).split()
    assert volume == ["volume", "4", "4", "0.250", "0.750", volume[5], "n/a"]
    r = runner.invoke(
        app, ["ledger", "--ledger", str(path), "--vintage", vid[:6], "--format", "json"]
    )
    rows = {x["quantity"]: x for x in json.loads(r.stdout)}
    assert set(rows) == {"volume", "all"} and rows["all"]["cov90"] == 0.75
    assert sig3(rows["volume"]["pinball"]) == volume[5]
    r = runner.invoke(app, ["ledger", "--ledger", str(path), "--vintage", "zz"])
    assert r.exit_code == 2
    assert " ".join(r.output.split()) == f"error no vintage in {path} with an id starting 'zz'"


def test_bad_format_refused(tmp_path):
    r = CliRunner().invoke(
        app, ["ledger", "--ledger", str(tmp_path / "x.duckdb"), "--format", "yaml"]
    )
    assert r.exit_code == 2 and "--format must be one of table, json, csv" in r.output
