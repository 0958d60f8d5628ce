"""owid_ifr_robots reader: exact values from the file, world shares, and bad-input refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import owid_ifr_robots as robots
from learnrace_pipeline.lib.vocab.cumulative import initial_stock

HEADER = "Entity,Code,Year,Annual industrial robots installed\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    d = tmp_path / robots.SOURCE
    d.mkdir(parents=True, exist_ok=True)
    (d / robots.FILE).write_text(header + body, encoding="utf-8")
    return tmp_path


# --- real file ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return robots.read(raw_dir)


def _annual(tables: dict[str, pl.DataFrame], nation: str, year: int) -> float:
    p = tables["production"]
    return p.filter((pl.col("nation") == nation) & (pl.col("year") == year))[
        "annual_production"
    ].item()


@pytest.mark.raw
def test_row_counts_and_coverage(tables: dict[str, pl.DataFrame]) -> None:
    p = tables["production"]
    assert p.height == 77
    cover = p.group_by("nation").agg(
        pl.col("year").min().alias("a"), pl.col("year").max().alias("b"), pl.len()
    )
    got = {r[0]: r[1:] for r in cover.sort("nation").iter_rows()}
    assert got == {
        "CHN": (2011, 2023, 13),
        "DEU": (2011, 2023, 13),
        "JPN": (2011, 2023, 13),
        "KOR": (2011, 2023, 13),
        "USA": (2011, 2023, 13),
        "WLD": (2012, 2023, 12),
    }
    assert set(p["unit"]) == {"robot"}
    assert set(p["technology"]) == {"industrial_robot"}
    assert tables["market_shares"].height == 60  # 5 nations x 2012-2023


@pytest.mark.raw
def test_exact_installations(tables: dict[str, pl.DataFrame]) -> None:
    assert _annual(tables, "CHN", 2023) == 276_000
    assert _annual(tables, "WLD", 2023) == 541_000
    assert _annual(tables, "KOR", 2023) == 31_000
    assert _annual(tables, "CHN", 2011) == 23_000
    assert _annual(tables, "WLD", 2012) == 159_000


@pytest.mark.raw
def test_world_shares_and_world_is_not_the_sum_of_the_five(tables: dict[str, pl.DataFrame]) -> None:
    s = tables["market_shares"]
    assert set(s["basis"]) == {"industrial_robot_installations_of_world"}
    assert "WLD" not in set(s["nation"])
    assert 2011 not in set(s["year"])  # no World value in 2011
    chn = s.filter((pl.col("nation") == "CHN") & (pl.col("year") == 2023))["share"].item()
    assert chn == pytest.approx(276 / 541)
    assert round(chn * 100, 1) == 51.0  # published in data-per-nation.md
    top5 = s.group_by("year").agg(pl.col("share").sum()).sort("year")
    assert (top5["share"] < 0.80).all() and (top5["share"] > 0.69).all()
    assert top5.filter(pl.col("year") == 2023)["share"].item() == pytest.approx(419 / 541)
    assert any("2011" in n for n in tables["data_notes"]["note"])


@pytest.mark.raw
def test_cumulative_is_lafond_initial_stock_plus_running_sum(
    tables: dict[str, pl.DataFrame],
) -> None:
    p = tables["production"].filter(pl.col("nation") == "CHN").sort("year")
    q = p["annual_production"].to_numpy()
    z0 = initial_stock(q)
    assert z0 is not None and z0 > 0
    np.testing.assert_allclose(p["cumulative_production"].to_numpy(), z0 + np.cumsum(q))
    assert set(p["cumulative_method"]) == {"initial_stock_lafond2018"}
    # Germany's early installations fall (20k -> 18k): no Lafond stock, sum from the first year
    de = tables["production"].filter(pl.col("nation") == "DEU").sort("year")
    assert set(de["cumulative_method"]) == {"sum_from_first_year"}
    assert de["cumulative_production"][-1] == de["annual_production"].sum()


# --- synthetic bad input -----------------------------------------------------------------------


def test_duplicate_entity_year_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, "China,CHN,2020,178000\nChina,CHN,2021,268000\nChina,CHN,2020,178000\n")
    with pytest.raises(DataError) as e:
        robots.read(raw)
    assert e.value.row == 4 and e.value.column == "Year"
    assert "duplicate (Entity, Year)" in str(e.value) and "first at row 2" in str(e.value)
    assert e.value.file == robots.FILE


def test_empty_file_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, "", header="")
    with pytest.raises(DataError, match="empty file"):
        robots.read(raw)


def test_header_only_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="header only"):
        robots.read(_write(tmp_path, ""))


def test_future_year_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, "China,CHN,2022,290000\nChina,CHN,2999,300000\n")
    with pytest.raises(DataError) as e:
        robots.read(raw)
    assert "year is in the future" in e.value.problem
    assert e.value.row == 3 and e.value.column == "year"


def test_text_in_value_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, "China,CHN,2022,about 290k\n")
    with pytest.raises(DataError) as e:
        robots.read(raw)
    assert "not a number: 'about 290k'" in str(e.value)
    assert e.value.row == 2 and e.value.column == "Annual industrial robots installed"


def test_code_must_match_entity(tmp_path: Path) -> None:
    raw = _write(tmp_path, "Japan,CHN,2022,50000\n")
    with pytest.raises(DataError) as e:
        robots.read(raw)
    assert e.value.column == "Code" and "does not match Entity 'Japan' (JPN)" in str(e.value)


def test_unknown_entity_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, "Atlantis,ATL,2022,5000\n")
    with pytest.raises(DataError) as e:
        robots.read(raw)
    assert e.value.column == "Entity" and "unknown nation 'Atlantis'" in str(e.value)


def test_missing_value_column_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, "China,CHN,2022,290000\n", header="Entity,Code,Year,value\n")
    with pytest.raises(DataError, match="missing column 'Annual industrial robots installed'"):
        robots.read(raw)


def test_thousands_separator_is_repaired_and_noted(tmp_path: Path) -> None:
    raw = _write(tmp_path, 'China,CHN,2022,"290,000"\nWorld,OWID_WRL,2022,"553,000"\n')
    t = robots.read(raw)
    assert t["production"].filter(pl.col("nation") == "CHN")["annual_production"].item() == 290_000
    notes = t["data_notes"]
    assert notes.height == 2 and set(notes["note"]) == {"thousands separators removed"}
    assert t["market_shares"]["share"].item() == pytest.approx(290 / 553)
