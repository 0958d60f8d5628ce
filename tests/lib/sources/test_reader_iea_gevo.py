"""iea_gevo_2024 reader: historical observations only, BEV+PHEV sales, shares, bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import iea_gevo_2024 as iea
from learnrace_pipeline.lib.vocab import nations

HEADER = "region,category,parameter,mode,powertrain,year,unit,value\n"


def _write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    d = tmp_path / iea.SOURCE
    d.mkdir(parents=True, exist_ok=True)
    (d / iea.FILE).write_text(header + body, encoding="utf-8")
    return tmp_path


GOOD = (
    "China,Historical,EV sales,Cars,BEV,2023,Vehicles,5400000\n"
    "China,Historical,EV sales,Cars,PHEV,2023,Vehicles,2700000\n"
    "World,Historical,EV sales,Cars,BEV,2023,Vehicles,9500000\n"
    "World,Historical,EV sales,Cars,PHEV,2023,Vehicles,4300000\n"
    "China,Historical,EV sales share,Cars,EV,2023,percent,38\n"
)


# --- real file ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return iea.read(raw_dir)


@pytest.fixture(scope="module")
def raw_rows(raw_dir: Path) -> list[dict[str, str]]:
    with (raw_dir / iea.SOURCE / iea.FILE).open(newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _sales(
    tables: dict[str, pl.DataFrame], nation: str, year: int, mode: str = "cars"
) -> pl.DataFrame:
    p = tables["production"]
    return p.filter(
        (pl.col("series_id") == f"iea_gevo_2024:ev_sales_{mode}")
        & (pl.col("nation") == nation)
        & (pl.col("year") == year)
    )


@pytest.mark.raw
def test_row_counts(tables: dict[str, pl.DataFrame]) -> None:
    p = tables["production"]
    assert p.height == 1346  # 1348 region-mode-years with sales, minus 2 that are FCEV only
    counts = dict(p.group_by("series_id").len().iter_rows())
    assert counts == {
        "iea_gevo_2024:ev_sales_cars": 605,
        "iea_gevo_2024:ev_sales_buses": 274,
        "iea_gevo_2024:ev_sales_vans": 299,
        "iea_gevo_2024:ev_sales_trucks": 168,
    }
    assert tables["market_shares"].height == 3837
    assert set(p["technology"]) == {"ev_car", "ev_bus", "ev_van", "ev_truck"}
    assert set(p["unit"]) == {"vehicle"}


@pytest.mark.raw
def test_exact_sales_are_bev_plus_phev(
    tables: dict[str, pl.DataFrame], raw_rows: list[dict[str, str]]
) -> None:
    assert _sales(tables, "CHN", 2023)["annual_production"].item() == 8_100_000
    assert _sales(tables, "WLD", 2023)["annual_production"].item() == 13_800_000
    assert _sales(tables, "USA", 2023)["annual_production"].item() == 1_390_000
    assert _sales(tables, "EUROPE", 2023)["annual_production"].item() == 3_300_000
    assert _sales(tables, "CHN", 2015)["annual_production"].item() == 211_000
    # FCEV excluded: China's 2023 FCEV car sales are in the file but not in the total
    fcev = [
        float(r["value"])
        for r in raw_rows
        if (r["region"], r["category"], r["parameter"], r["mode"], r["powertrain"], r["year"])
        == ("China", "Historical", "EV sales", "Cars", "FCEV", "2023")
    ]
    assert fcev == [520.0]


@pytest.mark.raw
def test_china_share_of_world_ev_car_sales(tables: dict[str, pl.DataFrame]) -> None:
    s = tables["market_shares"].filter(pl.col("basis") == "ev_car_sales_of_world")

    def share(n: str, y: int) -> float:
        return s.filter((pl.col("nation") == n) & (pl.col("year") == y))["share"].item()

    assert round(share("CHN", 2023) * 100, 1) == 58.7  # data-per-nation.md
    assert round(share("USA", 2023) * 100, 1) == 10.1
    assert round(share("EUROPE", 2023) * 100, 1) == 23.9
    assert round(share("CHN", 2015) * 100, 1) == 38.4
    assert "WLD" not in set(s["nation"])
    assert {"ev_bus_sales_of_world", "ev_van_sales_of_world", "ev_truck_sales_of_world"} <= set(
        tables["market_shares"]["basis"]
    )


@pytest.mark.raw
def test_no_projection_leaks(
    tables: dict[str, pl.DataFrame], raw_rows: list[dict[str, str]]
) -> None:
    proj = [r for r in raw_rows if r["category"].startswith("Projection")]
    assert len(proj) == 1742 + 1738 and max(int(r["year"]) for r in proj) == 2035
    for name in ("production", "market_shares"):
        assert tables[name]["year"].max() == 2023

    # Expected annual sales, computed independently from the Historical rows only.
    def sums(rows: list[dict[str, str]]) -> dict[tuple[str, str, int], float]:
        out: dict[tuple[str, str, int], float] = {}
        for r in rows:
            if r["parameter"] == "EV sales" and r["powertrain"] in ("BEV", "PHEV"):
                k = (nations.to_code(r["region"], source="test"), r["mode"].lower(), int(r["year"]))
                out[k] = out.get(k, 0.0) + float(r["value"])
        return out

    hist = sums([r for r in raw_rows if r["category"] == "Historical"])
    got = {
        (n, sid.split("_")[-1], y): v
        for sid, n, y, v in tables["production"]
        .select("series_id", "nation", "year", "annual_production")
        .iter_rows()
    }
    assert got == hist
    # Projections overlap 2020-2023 with different values: none of those made it in.
    for cat in ("Projection-STEPS", "Projection-APS"):
        p = sums([r for r in proj if r["category"] == cat])
        differ = [k for k in p if k in hist and p[k] != hist[k]]
        assert differ, (
            "the projections should differ from history somewhere, or this test proves nothing"
        )
        assert all(got[k] == hist[k] != p[k] for k in differ)
    notes = tables["data_notes"]
    dropped = notes.filter(pl.col("column") == "category")
    assert dict(zip(dropped["raw_value"], dropped["note"], strict=True)) == {
        "Projection-APS": "1742 projection rows dropped (scenarios, not observations)",
        "Projection-STEPS": "1738 projection rows dropped (scenarios, not observations)",
    }


@pytest.mark.raw
def test_sales_share_percent_becomes_fraction(
    tables: dict[str, pl.DataFrame], raw_rows: list[dict[str, str]]
) -> None:
    s = tables["market_shares"]
    assert s["share"].max() <= 1.0
    aus = s.filter(
        (pl.col("nation") == "AUS")
        & (pl.col("basis") == "ev_share_of_car_sales")
        & (pl.col("year") == 2011)
    )
    assert aus["share"].item() == pytest.approx(0.0065 / 100)
    n_hist = sum(
        1
        for r in raw_rows
        if r["category"] == "Historical" and r["parameter"] in ("EV sales share", "EV stock share")
    )
    assert s.filter(pl.col("basis").str.starts_with("ev_share_of_")).height == n_hist == 1330 + 1217
    chn = s.filter(
        (pl.col("nation") == "CHN")
        & (pl.col("basis") == "ev_share_of_car_sales")
        & (pl.col("year") == 2023)
    )
    raw_chn = next(
        float(r["value"])
        for r in raw_rows
        if r["region"] == "China"
        and r["category"] == "Historical"
        and r["parameter"] == "EV sales share"
        and r["mode"] == "Cars"
        and r["year"] == "2023"
    )
    assert chn["share"].item() == pytest.approx(raw_chn / 100)


@pytest.mark.raw
def test_cumulative_sales_against_reported_stock(tables: dict[str, pl.DataFrame]) -> None:
    chn = _sales(tables, "CHN", 2023)
    assert chn["cumulative_method"].item() == "initial_stock_lafond2018"
    assert chn["cumulative_production"].item() == pytest.approx(
        21_800_000, rel=0.01
    )  # EV car stock 21.8M
    assert _sales(tables, "WLD", 2023)["cumulative_production"].item() == pytest.approx(
        40_000_000, rel=0.05
    )
    p = tables["production"].sort("series_id", "nation", "year")
    inc = p.group_by("series_id", "nation").agg(
        (pl.col("cumulative_production").diff().drop_nulls() >= 0).all()
    )
    assert inc["cumulative_production"].all()


@pytest.mark.raw
def test_regions_and_skipped_parameters(tables: dict[str, pl.DataFrame]) -> None:
    codes = set(tables["production"]["nation"]) | set(tables["market_shares"]["nation"])
    assert len(set(tables["production"]["nation"])) == 52  # regions with EV sales
    assert len(codes) == 52  # the two other regions of the file have only non-vehicle parameters
    assert {"WLD", "EUROPE", "EU27", "ROW", "KOR", "TUR", "CZE", "SYC", "ARE", "GBR"} <= codes
    notes = tables["data_notes"]
    skipped = notes.filter(pl.col("column") == "parameter")
    assert set(skipped["raw_value"]) == {
        "EV charging points",
        "Electricity demand",
        "Oil displacement Mbd",
        "Oil displacement, million lge",
    }
    assert any("Milion barrels per day" in n for n in skipped["note"])
    assert any("only FCEV" in n for n in notes["note"])
    assert any("counted as zero sales in the cumulative" in n for n in notes["note"])


# --- synthetic bad input -----------------------------------------------------------------------


def test_synthetic_good_file(tmp_path: Path) -> None:
    proj = "China,Projection-STEPS,EV sales,Cars,BEV,2030,Vehicles,99000000\n"
    t = iea.read(_write(tmp_path, GOOD + proj))
    p = t["production"]
    assert p.height == 2 and p["year"].to_list() == [2023, 2023]
    assert p.filter(pl.col("nation") == "CHN")["annual_production"].item() == 8_100_000
    s = t["market_shares"]
    assert s.filter(pl.col("basis") == "ev_share_of_car_sales")["share"].item() == pytest.approx(
        0.38
    )
    assert s.filter(pl.col("basis") == "ev_car_sales_of_world")["share"].item() == pytest.approx(
        8.1 / 13.8
    )


def test_unknown_region_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, GOOD + "Atlantis,Historical,EV sales,Cars,BEV,2023,Vehicles,10\n")
    with pytest.raises(DataError) as e:
        iea.read(raw)
    err = e.value
    assert (err.file, err.row, err.column) == (iea.FILE, 7, "region")
    assert "unknown nation 'Atlantis'" in str(err) and "IEA Global EV Data 2024.csv" in str(err)


def test_percent_above_100_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, GOOD + "China,Historical,EV stock share,Cars,EV,2023,percent,104.5\n")
    with pytest.raises(DataError) as e:
        iea.read(raw)
    assert e.value.row == 7 and e.value.column == "value"
    assert "percentage 104.5 outside [0, 100]" in str(e.value)


def test_text_in_value_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, GOOD + "USA,Historical,EV sales,Cars,BEV,2023,Vehicles,1.1 million\n")
    with pytest.raises(DataError) as e:
        iea.read(raw)
    assert e.value.row == 7 and e.value.column == "value"
    assert "not a number: '1.1 million'" in str(e.value)


def test_future_historical_year_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, GOOD + "USA,Historical,EV sales,Cars,BEV,2999,Vehicles,100\n")
    with pytest.raises(DataError) as e:
        iea.read(raw)
    assert "year is in the future" in str(e.value) and e.value.row == 7


def test_unknown_category_and_parameter_and_unit(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown category 'Projection-NZE'") as e:
        iea.read(
            _write(tmp_path, GOOD + "USA,Projection-NZE,EV sales,Cars,BEV,2030,Vehicles,100\n")
        )
    assert e.value.column == "category"
    with pytest.raises(DataError, match="unknown parameter 'EV battery demand'") as e:
        iea.read(_write(tmp_path, GOOD + "USA,Historical,EV battery demand,Cars,EV,2023,GWh,100\n"))
    assert e.value.column == "parameter"
    with pytest.raises(DataError, match="in unit 'thousand vehicles', expected 'Vehicles'") as e:
        iea.read(
            _write(tmp_path, GOOD + "USA,Historical,EV sales,Cars,BEV,2023,thousand vehicles,100\n")
        )
    assert e.value.column == "unit" and e.value.row == 7


def test_duplicate_record_is_refused(tmp_path: Path) -> None:
    raw = _write(tmp_path, GOOD + "China,Historical,EV sales,Cars,BEV,2023,Vehicles,5400000\n")
    with pytest.raises(DataError, match="duplicate record") as e:
        iea.read(raw)
    assert e.value.row == 7 and "first at row 2" in str(e.value)


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="empty file"):
        iea.read(_write(tmp_path, "", header=""))
    with pytest.raises(DataError, match="header only"):
        iea.read(_write(tmp_path, ""))


def test_wrong_delimiter_is_refused(tmp_path: Path) -> None:
    raw = _write(
        tmp_path,
        "China;Historical;EV sales;Cars;BEV;2023;Vehicles;5\n",
        header=HEADER.replace(",", ";"),
    )
    with pytest.raises(DataError, match="wrong delimiter"):
        iea.read(raw)
