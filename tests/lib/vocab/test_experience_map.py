"""The declared experience map: its file rules, and its entries against warehouse tables."""

from __future__ import annotations

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models.learning.panel import load_tables
from learnrace_pipeline.lib.sources import SOURCES
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.vocab import experience_map as em

HEADER = "cost_series_id,production_series_id,scope,nations,first_year,last_year,reason\n"


def _tables(prod_units: dict[str, list[str]], declared: dict[str, str | None]):
    tech = pl.DataFrame(
        [
            {"series_id": sid, "technology": "x", "industry": "batteries", "source": "t",
             "unit": "2020 USD/kWh", "production_unit": unit, "metric_kind": "price",
             "description": ""}
            for sid, unit in declared.items()
        ],
        schema=TABLES["technologies"],
    )  # fmt: skip
    prod = pl.DataFrame(
        [
            {"series_id": sid, "technology": "x", "nation": "WLD", "year": 2000 + k,
             "annual_production": None, "cumulative_production": 1.0 + k, "unit": u,
             "cumulative_method": "reported", "source": "t"}
            for sid, us in prod_units.items()
            for k, u in enumerate(us)
        ],
        schema=TABLES["production"],
    )  # fmt: skip
    return tech, prod


def test_shipped_map_parses_and_names_each_cost_series_once() -> None:
    entries = em.load()
    assert len(entries) == 23
    ids = [e.cost_series_id for e in entries]
    assert len(set(ids)) == len(ids)
    battery = next(e for e in entries if e.cost_series_id.endswith("way2022_battery_cost_spliced"))
    assert battery.scope == "world" and battery.last_year == 2016 and battery.first_year is None
    assert battery.row == 7  # five comment lines, the header on line 6
    assert all(e.reason for e in entries)


def test_shipped_map_matches_the_snapshot_tables() -> None:
    """Every entry names a known cost and production series with an experience unit."""
    t = load_tables(SOURCES)
    em.check_against(em.load(), t["technologies"], t["production"])


@pytest.mark.parametrize(
    ("line", "column", "words"),
    [
        ("a,b,continental,,,,r", "scope", "scope 'continental'"),
        ("a,b,world,,2010,2000,r", "first_year", "first_year 2010 > last_year 2000"),
        ("a,b,world,,x,,r", "first_year", "not a year"),
        ("a,b,world,,,,", "reason", "reason is empty"),
        (",b,world,,,,r", "cost_series_id", "cost_series_id is empty"),
    ],
)
def test_bad_rows_name_file_row_and_column(line: str, column: str, words: str) -> None:
    with pytest.raises(DataError) as e:
        em.parse("# comment\n" + HEADER + line + "\n", file="map.csv")
    assert e.value.file == "map.csv" and e.value.row == 3 and e.value.column == column
    assert words in str(e.value)


def test_a_cost_series_mapped_twice_is_refused() -> None:
    with pytest.raises(DataError, match="already mapped in row 2") as e:
        em.parse(HEADER + "a,b,world,,,,r\na,c,world,,,,r\n")
    assert e.value.row == 3


def test_wrong_columns_are_refused() -> None:
    with pytest.raises(DataError, match="columns") as e:
        em.parse("cost,production,scope\n")
    assert e.value.row == 1


@pytest.mark.parametrize(
    ("prod_units", "declared", "column", "words"),
    [
        ({"p": ["GWh"]}, {"other": None}, "cost_series_id", "unknown cost series 'c'"),
        ({"q": ["GWh"]}, {"c": None}, "production_series_id", "unknown production series 'p'"),
        ({"p": ["FLOP/s"]}, {"c": None}, "production_series_id", "cannot be experience"),
        ({"p": ["2019 USD"]}, {"c": None}, "production_series_id", "cannot be experience"),
        ({"p": ["GWh", "million cell"]}, {"c": None}, "production_series_id", "changes unit"),
        ({"p": ["million cell"]}, {"c": "MWh"}, "production_series_id", "unit change across"),
    ],
)
def test_entries_checked_against_tables(prod_units, declared, column, words) -> None:
    entries = em.parse(HEADER + "c,p,world,,,,r\n", file="map.csv")
    tech, prod = _tables(prod_units, declared)
    with pytest.raises(DataError) as e:
        em.check_against(entries, tech, prod)
    assert e.value.file == "map.csv" and e.value.row == 2 and e.value.column == column
    assert words in str(e.value)


def test_scaled_units_of_one_dimension_join() -> None:
    """GW against MW (a constant factor) is no unit change; an absent cost series can be
    skipped for a subset of the sources."""
    entries = em.parse(HEADER + "c,p,world,,,,r\nabsent,p,world,,,,r\n")
    tech, prod = _tables({"p": ["MW", "MW"]}, {"c": "GW"})
    em.check_against(entries, tech, prod, require_cost=False)
    with pytest.raises(DataError, match="unknown cost series 'absent'"):
        em.check_against(entries, tech, prod)


def test_experience_units_and_dimensions() -> None:
    assert em.is_experience_unit("GWh") and em.is_experience_unit("million cell")
    for unit in ("FLOP/s", "gallon/mile", "USD", "2019 USD", "2020 USD/kWh", None, "parsec"):
        assert not em.is_experience_unit(unit)
    assert em.dimension("GW") == em.dimension("MW") == "power"
    assert em.dimension("TWh") == em.dimension("MWh") == "energy"
    assert em.dimension("million cell") == "cell" != em.dimension("MWh")
