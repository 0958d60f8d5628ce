"""helveston_solar_2022 reader: national module prices, capacity, production, and the known traps."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from source_rows import row_lookups

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import helveston_solar_2022 as hs
from learnrace_pipeline.lib.sources._sheets import frame
from learnrace_pipeline.lib.sources.base import Notes
from learnrace_pipeline.lib.sources.validate import conform

SID = "helveston_solar_2022:"


@pytest.fixture(scope="module")
def tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return hs.read(raw_dir)


_cost, _prod = row_lookups(SID)


# --- real files --------------------------------------------------------------------------------


@pytest.mark.raw
def test_row_counts(tables: dict[str, pl.DataFrame]) -> None:
    assert tables["technologies"].height == 5
    assert tables["cost_observations"].height == 73
    assert tables["production"].height == 198
    assert tables["market_shares"].height == 129
    costs = dict(tables["cost_observations"].group_by("series_id").len().iter_rows())
    assert {k.removeprefix(SID): v for k, v in costs.items()} == {
        "china_module_price_cpia": 14,
        "china_system_price_cpia": 14,
        "germany_module_price_fraunhofer": 15,
        "us_module_price_index_lbnl": 19,
        "us_module_cost_nrel": 11,
    }
    prod = dict(tables["production"].group_by("series_id").len().iter_rows())
    assert {k.removeprefix(SID): v for k, v in prod.items()} == {
        "pv_cumulative_capacity_irena": 60,
        "china_cumulative_capacity_cpia": 14,
        "seia_us_cumulative_capacity": 14,
        "seia_us_annual_installs_early": 14,
        "pv_module_production_pvs": 96,
    }


@pytest.mark.raw
def test_china_cpia_native_rmb(tables: dict[str, pl.DataFrame]) -> None:
    first, last = (
        _cost(tables, "china_module_price_cpia", 2007),
        _cost(tables, "china_module_price_cpia", 2020),
    )
    assert (first["unit_cost"], last["unit_cost"]) == (36.0, 1.57)
    assert (
        first["unit"] == "RMB/W" and first["price_basis_year"] is None and first["nation"] == "CHN"
    )
    assert _cost(tables, "china_system_price_cpia", 2020)["unit_cost"] == 3.99
    cap = _prod(tables, "china_cumulative_capacity_cpia", "CHN", 2020)
    assert (
        cap["cumulative_production"] == 240.0
        and cap["unit"] == "GW"
        and cap["cumulative_method"] == "reported"
    )


@pytest.mark.raw
def test_germany_eur_per_w_calendar_years(tables: dict[str, pl.DataFrame]) -> None:
    de = tables["cost_observations"].filter(pl.col("nation") == "DEU").sort("year")
    assert de["year"].to_list() == list(range(2006, 2021))
    assert set(de["unit"]) == {"EUR/W"} and de["price_basis_year"].null_count() == 15
    assert _cost(tables, "germany_module_price_fraunhofer", 2006)["unit_cost"] == pytest.approx(
        3.3066
    )
    assert _cost(tables, "germany_module_price_fraunhofer", 2014)["unit_cost"] == pytest.approx(
        0.6311
    )  # x = 2013.998
    assert _cost(tables, "germany_module_price_fraunhofer", 2019)["unit_cost"] == pytest.approx(
        0.4037
    )  # x = 2018.9829
    assert _cost(tables, "germany_module_price_fraunhofer", 2020)["unit_cost"] == pytest.approx(
        0.43881
    )  # Fig2-2020.csv
    year_notes = tables["data_notes"].filter(pl.col("column") == "x")
    assert year_notes.height == 15
    assert "2013.998 assigned to calendar year 2014" in " ".join(year_notes["note"])


@pytest.mark.raw
def test_germany_misconverted_usd_is_flagged_not_used(
    raw_dir: Path, tables: dict[str, pl.DataFrame]
) -> None:
    c = tables["cost_observations"]
    assert c.filter((pl.col("nation") == "DEU") & pl.col("unit").str.contains("USD")).height == 0
    with (raw_dir / hs.SOURCE / hs.F_FIG2).open(newline="") as f:
        usd = [
            float(r["cost_per_kw_hist"])
            for r in csv.DictReader(f)
            if r["country"] == "Germany" and r["learning"] == "Global"
        ]
    assert len(usd) == 15
    values = set(c["unit_cost"].round(6).to_list())
    assert not any(round(v, 6) in values or round(v / 1000, 6) in values for v in usd)
    flags = tables["data_notes"].filter(pl.col("note").str.contains("inverted currency conversion"))
    assert flags.height == 15
    assert "Germany 2006 'USD' cost = Fraunhofer EUR/kW / 1.2563" in flags["note"][0]
    assert "Germany 2020 'USD' cost = Fraunhofer EUR/kW / 1.1410" in flags["note"][-1]


@pytest.mark.raw
def test_national_scenario_capacity_excluded(tables: dict[str, pl.DataFrame]) -> None:
    us = _prod(tables, "pv_cumulative_capacity_irena", "USA", 2020)
    assert (
        us["cumulative_production"] == 75572.0
        and us["unit"] == "MW"
        and us["cumulative_method"] == "reported"
    )
    assert us["annual_production"] is None
    p = tables["production"]
    scenario_mw = {137264.99, 331655.7, 112881.3}  # 'National' 2020 cumCapKw / 1000
    assert not p.filter(pl.col("cumulative_production").round(2).is_in(list(scenario_mw))).height
    assert not p.filter(
        pl.col("cumulative_production").is_in([137264990.0, 331655700.0, 112881300.0])
    ).height
    flags = tables["data_notes"].filter(pl.col("note").str.contains("'National' cumCapKw"))
    assert flags.height == 3
    assert "137,264,990 kW against IRENA observed 75,572,000 kW" in " ".join(flags["note"])


@pytest.mark.raw
def test_irena_capacity_and_shares(tables: dict[str, pl.DataFrame]) -> None:
    assert (
        _prod(tables, "pv_cumulative_capacity_irena", "WLD", 2020)["cumulative_production"]
        == 713970.0
    )
    assert (
        _prod(tables, "pv_cumulative_capacity_irena", "CHN", 2006)["cumulative_production"] == 80.0
    )
    assert (
        _prod(tables, "pv_cumulative_capacity_irena", "DEU", 2020)["cumulative_production"]
        == 53783.0
    )
    s = tables["market_shares"].filter(pl.col("basis") == "pv_cumulative_capacity_of_world")
    assert s.height == 45
    chn = s.filter((pl.col("nation") == "CHN") & (pl.col("year") == 2020))["share"].item()
    assert chn == pytest.approx(254355 / 713970)


@pytest.mark.raw
def test_seia_us_capacity(tables: dict[str, pl.DataFrame]) -> None:
    assert _prod(tables, "seia_us_cumulative_capacity", "USA", 2007)[
        "cumulative_production"
    ] == pytest.approx(507.1)
    assert _prod(tables, "seia_us_cumulative_capacity", "USA", 2020)[
        "cumulative_production"
    ] == pytest.approx(96133.8)
    seia = tables["production"].filter(pl.col("series_id") == SID + "seia_us_cumulative_capacity")
    assert seia["year"].max() == 2020  # the "2021 Q1" object is skipped
    notes = " ".join(tables["data_notes"]["note"])
    assert "CSP, not PV" in notes and "partial-year" in notes
    early = _prod(tables, "seia_us_annual_installs_early", "USA", 2013)
    assert early["annual_production"] == 792 + 1112 + 2847


@pytest.mark.raw
def test_us_lbnl_and_nrel(tables: dict[str, pl.DataFrame]) -> None:
    lbnl = _cost(tables, "us_module_price_index_lbnl", 2000)
    assert lbnl["unit_cost"] == pytest.approx(4.153738546909279)
    assert lbnl["unit"] == "2018 USD/W" and lbnl["price_basis_year"] == 2018
    assert _cost(tables, "us_module_price_index_lbnl", 2018)["unit_cost"] == 0.52
    nrel = _cost(tables, "us_module_cost_nrel", 2020)
    assert (
        nrel["unit_cost"] == pytest.approx(0.38081884289925705) and nrel["price_basis_year"] == 2020
    )
    ratio = tables["data_notes"].filter(pl.col("file") == hs.F_FIG4)["note"].item()
    assert "x 1.0307" in ratio


@pytest.mark.raw
def test_module_production_and_shares(raw_dir: Path, tables: dict[str, pl.DataFrame]) -> None:
    assert _prod(tables, "pv_module_production_pvs", "CHN", 2021)["annual_production"] == 158.4
    # WLD is the 'Total' row: a SUM formula, read as its cached value
    ws = openpyxl.load_workbook(raw_dir / hs.SOURCE / hs.F_PVS, data_only=False)["Data"]
    assert ws["B13"].value == "=SUM(B2:B8)" and ws["A13"].value == "Total"
    assert _prod(tables, "pv_module_production_pvs", "WLD", 2010)[
        "annual_production"
    ] == pytest.approx(20.828)
    assert _prod(tables, "pv_module_production_pvs", "WLD", 2021)[
        "annual_production"
    ] == pytest.approx(202.63)
    # Same numbers as the long-format figure file
    names = {
        "China": "CHN",
        "Taiwan": "TWN",
        "Europe": "EUROPE",
        "Japan": "JPN",
        "Malaysia": "MYS",
        "USA": "USA",
        "ROW": "ROW",
    }
    with (raw_dir / hs.SOURCE / "figs/data/fig1_pv_production.csv").open(newline="") as f:
        fig = {
            (names[r["country"]], int(r["year"])): float(r["production_gw"])
            for r in csv.DictReader(f)
        }
    p = tables["production"].filter(
        (pl.col("series_id") == SID + "pv_module_production_pvs") & (pl.col("nation") != "WLD")
    )
    assert {
        (n, y): v for n, y, v in p.select("nation", "year", "annual_production").iter_rows()
    } == fig
    s = tables["market_shares"].filter(pl.col("basis") == "pv_module_production_of_world")
    assert s.height == 84
    assert s.filter((pl.col("nation") == "CHN") & (pl.col("year") == 2021))[
        "share"
    ].item() == pytest.approx(158.4 / 202.63)
    assert set(s.group_by("year").agg(pl.col("share").sum())["share"].round(9)) == {1.0}
    chn = tables["production"].filter(
        (pl.col("series_id") == SID + "pv_module_production_pvs") & (pl.col("nation") == "CHN")
    )
    assert set(chn["cumulative_method"]) == {"initial_stock_lafond2018"}
    assert chn["cumulative_production"].is_sorted()


@pytest.mark.raw
def test_technologies_and_units(tables: dict[str, pl.DataFrame]) -> None:
    t = tables["technologies"]
    assert set(t["technology"]) == {"solar_pv_module", "solar_pv_system"}
    assert set(t["industry"]) == {"solar"}
    assert (
        dict(t.select("series_id", "unit").iter_rows())[SID + "germany_module_price_fraunhofer"]
        == "EUR/W"
    )
    assert "mis-converted" in hs.INFO.notes and "scenario" in hs.INFO.notes


@pytest.mark.raw
def test_every_referenced_technology_is_declared(tables: dict[str, pl.DataFrame]) -> None:
    # technologies holds one row per cost series; production series (capacity, module output)
    # are the experience variable of those costs and must use a technology declared there.
    declared = set(tables["technologies"]["technology"])
    assert set(tables["cost_observations"]["technology"]) == declared
    assert set(tables["production"]["technology"]) == {"solar_pv_module"} <= declared
    assert set(tables["cost_observations"]["series_id"]) == set(tables["technologies"]["series_id"])


@pytest.mark.raw
def test_number_repairs_in_every_file_are_noted(
    raw_dir: Path, tmp_path: Path, tables: dict[str, pl.DataFrame]
) -> None:
    """A corrupted copy of the raw folder: each repaired number gives a data_notes row."""
    src = tmp_path / hs.SOURCE
    shutil.copytree(raw_dir / hs.SOURCE, src)

    def corrupt(rel: str, old: str, new: str) -> None:
        p = src / rel
        text = p.read_text(encoding="utf-8")
        assert text.count(old) == 1
        p.write_text(text.replace(old, new), encoding="utf-8")

    corrupt(hs.F_IRENA, "2020,713970,", '2020,"713,970",')
    corrupt(hs.F_SEIA_JSON, '"1051.6"', '"1,051.6"')
    corrupt(hs.F_FIG4, "2010,2541.6629129950074,NREL", "2010,2 541.6629129950074,NREL")
    corrupt(
        hs.F_FIG2, ",2632.0296705509604,Global,Germany", ',"2,632.0296705509604",Global,Germany'
    )
    got = hs.read(tmp_path)

    repairs = [
        (hs.F_IRENA, 16, "world", "713,970", "thousands separators removed"),
        (
            hs.F_SEIA_JSON,
            None,
            "object #4 (2010) value[1] (Commercial)",
            "1,051.6",
            "thousands separators removed",
        ),
        (hs.F_FIG4, 2, "costPerKw", "2 541.6629129950074", "stray spaces removed"),
        (hs.F_FIG2, 60, "cost_per_kw_hist", "2,632.0296705509604", "thousands separators removed"),
    ]
    noted = got["data_notes"].drop("source").rows()
    assert [r for r in noted if r[4].endswith("removed")] == repairs
    assert got["data_notes"].height == tables["data_notes"].height + 4
    # The repaired numbers are the published ones: every tidy table is unchanged.
    for name in ("technologies", "cost_observations", "production", "market_shares"):
        assert got[name].equals(tables[name]), name


# --- synthetic bad input -----------------------------------------------------------------------


def _csv(tmp_path: Path, rel: str, text: str) -> Path:
    p = tmp_path / hs.SOURCE / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return tmp_path


def test_germany_point_between_years_is_refused(tmp_path: Path) -> None:
    _csv(tmp_path, hs.F_DE, "x,Curve1\n2006.0321,3306.6\n2013.5,678\n")
    _csv(tmp_path, hs.F_DE_2020, "x,Curve1\n2019.98,438.81\n")
    with pytest.raises(DataError) as e:
        hs._read_germany(tmp_path, Notes(hs.SOURCE))
    assert e.value.row == 3 and e.value.column == "x" and e.value.file == hs.F_DE
    assert "cannot assign it to a calendar year" in str(e.value)


def test_germany_two_points_in_one_year_are_averaged_and_noted(tmp_path: Path) -> None:
    _csv(tmp_path, hs.F_DE, "x,Curve1\n2018.98,400\n")
    _csv(tmp_path, hs.F_DE_2020, "x,Curve1\n2019.1,420\n")
    notes = Notes(hs.SOURCE)
    rows = hs._read_germany(tmp_path, notes)
    assert [(r["year"], r["unit_cost"]) for r in rows] == [(2019, pytest.approx(0.41))]
    assert any("2 digitized points fall in 2019" in n["note"] for n in notes.rows)


def test_china_unknown_variable_and_text_value(tmp_path: Path) -> None:
    head = "\ufeffYear,2019,2020\n"
    body = "Total capacity (GW),200,240\nModule price (RMB/W),1.75,1.57\nSystem price (RMB/W),4.55,3.99\n"
    _csv(tmp_path, hs.F_CHINA, head + body + "Cell price (RMB/W),1,1\n")
    with pytest.raises(DataError) as e:
        hs._read_china(tmp_path, Notes(hs.SOURCE))
    assert (
        e.value.row == 5
        and e.value.column == "Year"
        and "unknown variable 'Cell price (RMB/W)'" in str(e.value)
    )
    _csv(
        tmp_path,
        hs.F_CHINA,
        head + body.replace("1.57", "1.57 yuan") + "Inverter price (RMB/W),0.17,0.15\n",
    )
    with pytest.raises(DataError) as e:
        hs._read_china(tmp_path, Notes(hs.SOURCE))
    assert (
        e.value.row == 3
        and e.value.column == "2020"
        and "not a number: '1.57 yuan'" in str(e.value)
    )


def test_china_missing_variable_and_empty_file(tmp_path: Path) -> None:
    _csv(tmp_path, hs.F_CHINA, "Year,2020\nModule price (RMB/W),1.57\n")
    with pytest.raises(DataError, match="absent"):
        hs._read_china(tmp_path, Notes(hs.SOURCE))
    _csv(tmp_path, hs.F_CHINA, "")
    with pytest.raises(DataError, match="empty file"):
        hs._read_china(tmp_path, Notes(hs.SOURCE))


def test_irena_future_year_is_refused(tmp_path: Path) -> None:
    _csv(
        tmp_path,
        hs.F_IRENA,
        "year,world,germany,china,usa\n2020,713970,53783,254355,75572\n2999,1,1,1,1\n",
    )
    rows = hs._read_irena(tmp_path, Notes(hs.SOURCE))
    with pytest.raises(DataError) as e:
        conform("production", frame("production", rows), hs.SOURCE)
    assert (
        "year is in the future" in str(e.value) and e.value.row == 3 and e.value.file == hs.F_IRENA
    )


def test_seia_json_wrong_segment_count(tmp_path: Path) -> None:
    p = tmp_path / hs.SOURCE / hs.F_SEIA_JSON
    p.parent.mkdir(parents=True)
    p.write_text(json.dumps([{"label": "2007", "value": ["188.0", "298.3", "0.0", "20.8"]}]))
    with pytest.raises(DataError) as e:
        hs._read_seia_json(tmp_path, Notes(hs.SOURCE))
    assert (
        "object #1 (2007): expected 5 segment values" in str(e.value) and e.value.column == "value"
    )


def test_pvs_total_without_cached_value_is_refused(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append([None, 2020, 2021])
    ws.append(["PR China", 107.15, 158.4])
    ws.append(["Rest of World", 20.69, 22.0])
    ws.append(["Total", "=SUM(B2:B3)", "=SUM(C2:C3)"])  # openpyxl stores no cached value
    p = tmp_path / hs.SOURCE / hs.F_PVS
    p.parent.mkdir(parents=True)
    wb.save(p)
    with pytest.raises(DataError) as e:
        hs._read_pvs(tmp_path, Notes(hs.SOURCE))
    assert "Total None differs from the sum of the country rows" in str(e.value)
    assert e.value.row == 4 and e.value.column == "B"


def test_pvs_unknown_country_is_refused(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws.append([None, 2021])
    ws.append(["Narnia", 1.0])
    ws.append(["Total", 1.0])
    p = tmp_path / hs.SOURCE / hs.F_PVS
    p.parent.mkdir(parents=True)
    wb.save(p)
    with pytest.raises(DataError) as e:
        hs._read_pvs(tmp_path, Notes(hs.SOURCE))
    assert "unknown nation 'Narnia'" in str(e.value) and e.value.row == 2 and e.value.column == "A"


def test_fig2_unknown_learning_label_is_refused(tmp_path: Path) -> None:
    _csv(
        tmp_path,
        hs.F_FIG2,
        "year,cumCapKw,cost_per_kw,cost_per_kw_lb,cost_per_kw_ub,cost_per_kw_hist,learning,country\n"
        "2006-01-01,6083000,1,1,1,2632.03,Regional,Germany\n",
    )
    with pytest.raises(DataError) as e:
        hs._flag_figure_file(tmp_path, [], [], Notes(hs.SOURCE))
    assert (
        e.value.row == 2
        and e.value.column == "learning"
        and "unknown learning scenario 'Regional'" in str(e.value)
    )


def _sheet(tmp_path: Path, rel: str, title: str, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for r in rows:
        ws.append(r)
    p = tmp_path / hs.SOURCE / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    wb.save(p)
    return tmp_path


def test_workbook_number_repairs_are_noted(tmp_path: Path) -> None:
    """Text numbers in the LBNL and PVS workbooks are repaired and noted (sheet, row, column)."""
    _sheet(
        tmp_path,
        hs.F_LBNL,
        "Fig 17",
        [
            ["Figure 17. Module price index"],
            ["Units: $/W (2018 real)"],
            [None, "Year", "Module Price Index"],
            [None, 2017, 0.47],
            [None, 2018, " 0 .41"],
        ],
    )
    _sheet(
        tmp_path,
        hs.F_PVS,
        "Data",
        [
            [None, 2020, 2021],
            ["PR China", "1,107.15", 158.4],
            ["Rest of World", 20.69, 22.0],
            ["Total", 1127.84, 180.4],
        ],
    )
    notes = Notes(hs.SOURCE)
    lbnl = hs._read_lbnl(tmp_path, notes)
    prod, _ = hs._read_pvs(tmp_path, notes)
    assert [(d["year"], d["unit_cost"]) for d in lbnl] == [(2017, 0.47), (2018, 0.41)]
    chn = {d["year"]: d["annual_production"] for d in prod if d["nation"] == "CHN"}
    assert chn == {2020: 1107.15, 2021: 158.4}
    assert [(n["file"], n["row"], n["column"], n["raw_value"], n["note"]) for n in notes.rows] == [
        (f"{hs.F_LBNL}#Fig 17", 5, "C", " 0 .41", "stray spaces removed"),
        (f"{hs.F_PVS}#Data", 2, "B", "1,107.15", "thousands separators removed"),
    ]


def test_seia_early_number_repair_is_noted(tmp_path: Path) -> None:
    _csv(tmp_path, hs.F_SEIA_EARLY, 'year,Residential,Commercial,Utility\n2013,792,"1,112",2847\n')
    notes = Notes(hs.SOURCE)
    rows = hs._read_seia_early(tmp_path, notes)
    assert rows[0]["annual_production"] == 792 + 1112 + 2847
    assert [(n["file"], n["row"], n["column"], n["raw_value"]) for n in notes.rows] == [
        (hs.F_SEIA_EARLY, 2, "Commercial", "1,112")
    ]
