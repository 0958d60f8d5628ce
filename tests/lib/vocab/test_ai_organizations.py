"""The organization -> nation map for AI models: the shipped file, its validation, the rule."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.vocab import ai_organizations as ao

D = dt.date
HEADER = "organization,nation,lab_location,rule_note\n"


def _map(tmp_path: Path, body: str, comments: str = "# a comment\n# another\n") -> Path:
    path = tmp_path / "orgs.csv"
    path.write_text(comments + HEADER + body, encoding="utf-8")
    return path


def test_shipped_map_loads_and_states_the_rule():
    table = ao.organizations()
    assert len(table) > 150
    deepmind = table[ao.key("Google DeepMind")]
    assert (deepmind.nation, deepmind.lab_location) == ("USA", "GBR")
    assert table[ao.key("Microsoft Research Asia")].nation == "USA"
    assert table[ao.key("Baidu Research - Silicon Valley AI Lab")].nation == "CHN"
    assert table[ao.key("google research")].nation == "USA"  # case-insensitive lookup
    differing = {o.name for o in ao.differing()}
    assert {"DeepMind", "Google DeepMind", "Microsoft Research Asia"} <= differing
    assert "OpenAI" not in differing
    head = ao.MAP_FILE.read_text(encoding="utf-8").splitlines()[:6]
    assert any("ultimate parent" in line for line in head)


def test_comment_lines_and_row_numbers(tmp_path):
    path = _map(tmp_path, "Lab A,USA,USA,note\nLab B,Atlantis,USA,note\n")
    with pytest.raises(DataError, match="nation 'Atlantis'") as e:
        ao.organizations(path)
    # two comment lines, the header on line 3, Lab B on line 5
    assert (e.value.file, e.value.row, e.value.column) == ("orgs.csv", 5, "nation")


@pytest.mark.parametrize(
    ("body", "row", "column", "problem"),
    [
        ("Lab A,USA,USA,note\nlab  a,CHN,CHN,note\n", 5, "organization", "declared twice"),
        ("Lab A,USA,USA,\n", 4, "rule_note", "empty field"),
        ("Lab A,,USA,note\n", 4, "nation", "empty field"),
        ("Lab A,MULTI,USA,note\n", 4, "nation", "not an ISO3 country code"),
        ("Lab A,usa,USA,note\n", 4, "nation", "not an ISO3 country code"),
        ("Lab A,USA,XXX,note\n", 4, "lab_location", "not an ISO3 country code or one of"),
        ("Lab A,USA,USA\n", 4, None, "3 fields, expected 4"),
    ],
)
def test_bad_rows_are_named(tmp_path, body, row, column, problem):
    with pytest.raises(DataError, match=problem) as e:
        ao.organizations(_map(tmp_path, body))
    assert (e.value.source, e.value.row, e.value.column) == ("ai_organizations", row, column)


def test_wrong_header_refused(tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_text("organization,nation,note\nLab,USA,x\n", encoding="utf-8")
    with pytest.raises(DataError, match="header must be") as e:
        ao.organizations(path)
    assert e.value.row == 1


def test_multi_lab_location_allowed(tmp_path):
    table = ao.organizations(_map(tmp_path, "Collab,USA,MULTI,open collaboration\n"))
    assert table["collab"].lab_location == "MULTI"
    assert [o.name for o in ao.differing(table)] == ["Collab"]


def test_credit_rule():
    table = {
        ao.key(n): ao.Organization(n, nat, loc, "x")
        for n, nat, loc in [("Lab US", "USA", "GBR"), ("Uni CA", "CAN", "CAN")]
    }
    # the first listed organization leads; its parent's nation, not its location
    c = ao.credit(["Lab US", "Uni CA"], ["GBR", "CAN"], table)
    assert (c.nation, c.basis, c.lead, c.unknown) == ("USA", "organization", "Lab US", ())
    assert ao.credit(["Uni CA", "Lab US"], None, table).nation == "CAN"
    # an unknown organization: Epoch's list decides when it names one nation (MULTI dropped,
    # Hong Kong read as China) ...
    c = ao.credit(["Lab US", "Unknown Uni"], ["MULTI", "FRA"], table)
    assert (c.nation, c.basis, c.unknown) == ("FRA", "epoch_country", ("Unknown Uni",))
    assert ao.credit(["X"], ["CHN", "HKG"], table).nation == "CHN"
    # ... and no nation otherwise
    c = ao.credit(["X"], ["USA", "CAN"], table)
    assert (c.nation, c.basis) == (None, None)
    assert ao.credit([], None, table).nation is None


def test_split_organizations():
    assert ao.split_organizations(" A , B,,C ") == ["A", "B", "C"]
    assert ao.split_organizations(None) == []


def test_frontier_scale_running_record():
    compute = pl.Series([1e20, 5e19, 9e18, 1e24, 2e23, 9e22, None, 1.5e23, 1e14], dtype=pl.Float64)
    dates = pl.Series(
        [
            D(2016, 1, 1),  # the record: frontier-scale
            D(2016, 6, 1),  # within 10x of 1e20
            D(2016, 6, 1),  # more than 10x below
            D(2020, 1, 1),  # new record
            D(2020, 1, 1),  # same day: within 10x of that day's record
            D(2021, 1, 1),  # 9e22 < 1e24 / 10
            D(2021, 1, 1),  # no compute
            D(2022, 1, 1),  # >= 1e23 however far below the record
            D(2009, 1, 1),  # a record, but before 2010
        ]
    )
    got = ao.frontier_scale(compute, dates).to_list()
    assert got == [True, True, False, True, True, False, False, True, False]
