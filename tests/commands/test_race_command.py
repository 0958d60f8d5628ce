"""``learnrace race`` on a warehouse whose race tables are built by the race's own functions
(``tests.report_tables``: ``closing.race_table``, ``closing.pairwise`` and
``compute.scenario_rows`` from seeded closing-year draws), through real subprocesses of the
installed command."""

from __future__ import annotations

import io
import json
import os
import subprocess
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.commands._tables import sig3
from learnrace_pipeline.lib.race.spec import RaceSpec, load_spec
from learnrace_pipeline.lib.storage import warehouse
from tests.report_tables import race_tables

REPO = Path(__file__).resolve().parents[2]
LEARNRACE = REPO / ".venv" / "bin" / "learnrace"


def _run(*args: str, columns: int = 100) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "LEARNRACE_DB"}
    env["COLUMNS"] = str(columns)
    return subprocess.run(
        [str(LEARNRACE), "race", *args], capture_output=True, text=True, env=env, timeout=120
    )


@pytest.fixture(scope="module")
def spec() -> RaceSpec:
    return load_spec()


@pytest.fixture(scope="module")
def built(tmp_path_factory, spec) -> tuple[Path, dict[str, pl.DataFrame]]:
    """A warehouse holding ``race.race``, ``race.pairwise`` and ``race.scenarios`` of the
    shipped race specification, and those tables."""
    tables = race_tables(spec)
    race = {k: v for k, v in tables.items() if k[0] == "race"}
    path = tmp_path_factory.mktemp("wh") / "learnrace.duckdb"
    warehouse.write_tables(path, race)
    return path, {t: v for (_, t), v in race.items()}


@pytest.fixture(scope="module")
def default_table(built) -> subprocess.CompletedProcess:
    r = _run("--db", str(built[0]))
    assert r.returncode == 0, r.stderr
    return r


def _row(lines: list[str], industry: str, nation: str) -> list[str]:
    return next(x for x in lines if x.split()[:2] == [industry, nation]).split()


def test_default_table_on_a_100_column_terminal(default_table, built, spec):
    """Every industry: a row per nation with data, "no data" for the others; every column
    fits in 100 characters and no cell is cut to an ellipsis."""
    lines = default_table.stdout.splitlines()
    assert max(len(x.rstrip()) for x in lines) <= 100
    assert not any("\u2026" in x for x in lines)
    header = " ".join(lines[:5])
    for word in ("industry", "nation", "strategy", "closes", "interval", "P(first)"):
        assert word in header
    race = built[1]["race"]
    for ind in spec.industries:
        if ind.status != "data":
            row = next(x for x in lines if x.split()[:1] == [ind.id])
            assert row.split()[1:] == ["no", "data"]
            continue
        for e in ind.nations:
            r = race.filter((pl.col("industry") == ind.id) & (pl.col("nation") == e.code))
            cells = _row(lines, ind.id, e.code)
            assert cells[-1] == sig3(r["p_first"][0])  # P(first), the last column
            assert cells[-2] == sig3(r["p_closed_by_horizon"][0])


def test_a_closing_year_as_in_the_table(default_table, built):
    """The printed median closing year and 80% interval of a nation that closes within the
    horizon are the table's; an already-closed nation prints its year."""
    lines = default_table.stdout.splitlines()
    race = built[1]["race"]
    open_ = race.filter(pl.col("closing_median").is_not_null() & ~pl.col("already_closed")).row(
        0, named=True
    )
    cells = _row(lines, open_["industry"], open_["nation"])
    assert cells[3] == str(open_["closing_median"])
    hi = open_["closing_q90"]
    hi = f">{open_['horizon']}" if hi is None else str(hi)  # q90 past the horizon
    assert cells[4] == f"{open_['closing_q10']}\u2013{hi}"
    closed = race.filter(pl.col("already_closed")).row(0, named=True)
    cells = _row(lines, closed["industry"], closed["nation"])
    assert cells[3:5] == ["closed", str(closed["closed_year"])]


def test_leaders_caption(default_table, built, spec):
    """One line per industry with data naming the nation with the largest P(first)."""
    text = " ".join(default_table.stdout.split())
    race = built[1]["race"]
    for ind in spec.industries:
        if ind.status != "data":
            assert f"{ind.id}: no data" in text
            continue
        rows = race.filter(pl.col("industry") == ind.id)
        top = rows.sort("p_first", descending=True, nulls_last=True).row(0, named=True)
        p_none = top["p_none_by_horizon"]
        if p_none is not None and p_none > top["p_first"]:
            assert f"{ind.id}: most likely no nation closes by {ind.horizon}" in text
        else:
            assert f"{ind.id}: {top['nation']} most likely first (P = {sig3(top['p_first'])})" in (
                text
            )


def test_one_industry(built):
    r = _run("--db", str(built[0]), "--industry", "batteries_evs")
    assert r.returncode == 0, r.stderr
    nations = built[1]["race"].filter(pl.col("industry") == "batteries_evs")["nation"].to_list()
    rows = [x.split()[1] for x in r.stdout.splitlines() if x.split()[:1] == ["batteries_evs"]]
    assert [n for n in rows if n in nations] == nations and len(nations) == 5
    assert "solar_pv" not in r.stdout and "smartphones" not in r.stdout


def test_a_scenario_prints_its_shifts(built, spec):
    """--scenario: the scenario's rows and their shift against the base case."""
    name = spec.scenarios[0].name
    r = _run("--db", str(built[0]), "--scenario", name, "--industry", "solar_pv")
    assert r.returncode == 0, r.stderr
    assert f"(scenario {name})" in r.stdout
    header = r.stdout.split("\u2500")[0].split()  # the headers wrap over several lines
    assert header.count("shift") == 3 and "(years)" in header
    sc = built[1]["scenarios"].filter(
        (pl.col("scenario") == name) & (pl.col("industry") == "solar_pv")
    )
    lines = r.stdout.splitlines()
    for row in sc.iter_rows(named=True):
        cells = _row(lines, "solar_pv", row["nation"])
        d = row["p_first_shift"]
        want = "" if d is None else ("+" if d > 0 else "") + sig3(d)
        assert cells[-1] == want
        assert cells[-3] == sig3(row["p_closed_by_horizon"])
        if row["median_shift"] is not None:
            m = row["median_shift"]
            assert ("+" if m > 0 else "") + str(m) in cells


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--scenario", "no_such"), "error unknown scenario 'no_such'; declared: "),
        (("--industry", "no_such"), "error unknown industry 'no_such'; known: solar_pv, "),
    ],
)
def test_unknown_scenario_or_industry_exits_2(built, spec, args, message):
    r = _run("--db", str(built[0]), *args)
    assert r.returncode == 2 and r.stdout == ""
    assert "Traceback" not in r.stderr
    line = " ".join(r.stderr.split())
    assert line.startswith(message)
    if "scenario" in args[0]:
        assert line.endswith(", ".join(sorted(s.name for s in spec.scenarios)))


def test_no_race_table_exits_2(tmp_path):
    """A warehouse without the race schema, and no warehouse at all."""
    path = tmp_path / "learnrace.duckdb"
    warehouse.write_tables(path, {("calibration", "x"): pl.DataFrame({"a": [1]})})
    for db in (path, tmp_path / "none.duckdb"):
        r = _run("--db", str(db))
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert " ".join(r.stderr.split()) == (
            "error no race table in the warehouse: run `learnrace run` first "
            "(or pass --spec to run the race from saved posteriors)"
        )


def test_json_and_csv_have_every_column(built):
    path, tables = built
    race = tables["race"]
    r = _run("--db", str(path), "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == race.height and list(rows[0]) == race.columns
    first = race.row(0, named=True)
    assert {k: rows[0][k] for k in ("industry", "nation", "p_first", "closing_median")} == {
        k: first[k] for k in ("industry", "nation", "p_first", "closing_median")
    }
    r = _run("--db", str(path), "--format", "csv", "--scenario", "no_spillover")
    assert r.returncode == 0, r.stderr
    csv = pl.read_csv(io.StringIO(r.stdout), infer_schema_length=None)
    sc = tables["scenarios"].filter(pl.col("scenario") == "no_spillover")
    assert csv.columns == sc.columns and csv.height == sc.height
    assert csv["p_first_shift"].to_list() == sc["p_first_shift"].to_list()
