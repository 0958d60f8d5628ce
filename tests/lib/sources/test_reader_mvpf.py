"""mvpf_climate_vendored reader: Way et al., Ziegler & Trancik, DOE, Statista workbooks."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import polars as pl
import pytest
from python_calamine import CalamineWorkbook
from source_rows import row_lookups

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import mvpf_climate_vendored as mvpf
from learnrace_pipeline.lib.sources.base import Notes
from learnrace_pipeline.lib.sources.mvpf_climate_vendored import ziegler_trancik as zt

SID = "mvpf_climate_vendored:"


@pytest.fixture(scope="module")
def tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return mvpf.read(raw_dir)


_cost, _prod = row_lookups(SID)


# --- real files --------------------------------------------------------------------------------


@pytest.mark.raw
def test_row_counts(tables: dict[str, pl.DataFrame]) -> None:
    assert tables["technologies"].height == 11
    assert tables["cost_observations"].height == 629
    assert tables["production"].height == 238
    assert tables["market_shares"].height == 28
    per = dict(tables["cost_observations"].group_by("series_id").len().iter_rows())
    # Way et al. coverage as listed in PROVENANCE.md
    assert {k.removeprefix(SID): v for k, v in per.items() if "way2022" in k} == {
        "way2022_solar_lcoe": 64,
        "way2022_wind_lcoe": 38,
        "way2022_battery_cost_spliced": 26,
        "way2022_pem_electrolyzer_cost": 17,
        "way2022_crude_oil_price": 161,
        "way2022_coal_price_us": 139,
        "way2022_gas_price_blend": 100,
    }
    prod = dict(tables["production"].group_by("series_id").len().iter_rows())
    assert prod[SID + "way2022_solar_cumulative_generation"] == 45
    assert prod[SID + "way2022_wind_cumulative_generation"] == 37
    assert prod[SID + "way2022_battery_cumulative_production"] == 25
    assert prod[SID + "way2022_pem_electrolyzer_cumulative_installs"] == 19
    assert prod[SID + "statista_ev_battery_demand"] == 5 * 7


@pytest.mark.raw
def test_ziegler_trancik_cell_prices(tables: dict[str, pl.DataFrame]) -> None:
    first = _cost(tables, "zt2021_cell_price_all", 1991)
    last = _cost(tables, "zt2021_cell_price_all", 2018)
    assert round(first["unit_cost"]) == 7523 and first["unit_cost"] == pytest.approx(
        7523.28412979119
    )
    assert round(last["unit_cost"], 1) == 181.7
    assert first["unit"] == "2018 USD/kWh" and first["price_basis_year"] == 2018
    assert first["nation"] == "WLD" and first["technology"] == "li_ion_cell"
    cy = tables["cost_observations"].filter(
        pl.col("series_id") == SID + "zt2021_cell_price_cylindrical"
    )
    assert cy.height == 26 and cy["year"].max() == 2016
    assert cy["technology"].unique().to_list() == ["li_ion_cell_cylindrical"]
    assert cy.filter(pl.col("year") == 2016)["unit_cost"].item() == pytest.approx(208.731486469881)


@pytest.mark.raw
def test_market_size_cumulative_matches_way_et_al(tables: dict[str, pl.DataFrame]) -> None:
    """Annual MWh summed with the Lafond initial stock reproduces Way et al.'s cumulative GWh."""
    zt = _prod(tables, "zt2021_market_size_all_mwh", "WLD", 2016)
    assert zt["annual_production"] == pytest.approx(78058.0858526119)
    assert zt["cumulative_method"] == "initial_stock_lafond2018"
    way = _prod(tables, "way2022_battery_cumulative_production", "WLD", 2016)
    assert way["cumulative_method"] == "reported" and way["annual_production"] is None
    assert zt["cumulative_production"] / 1000 == pytest.approx(
        way["cumulative_production"], rel=1e-6
    )
    cyl = tables["data_notes"].filter(pl.col("column") == "SeriesName")
    assert cyl.height == 1 and "read as cylindrical" in cyl["note"].item()


@pytest.mark.raw
def test_doe_pack_cost_constant_and_current(tables: dict[str, pl.DataFrame]) -> None:
    cur = _cost(tables, "doe_pack_cost_current", 2008)
    assert (
        cur["unit_cost"] == 1000.0 and cur["unit"] == "USD/kWh" and cur["price_basis_year"] is None
    )
    const = _cost(tables, "doe_pack_cost_constant", 2008)
    assert const["unit_cost"] == pytest.approx(1354.9978402530387)
    assert const["unit"] == "2021 USD/kWh" and const["price_basis_year"] == 2021
    assert _cost(tables, "doe_pack_cost_current", 2022)["unit_cost"] == 153.0
    assert _cost(tables, "doe_pack_cost_constant", 2022)["unit_cost"] == 153.0
    assert (
        tables["cost_observations"].filter(pl.col("series_id").str.contains("doe_"))["year"].max()
        == 2022
    )
    desc = (
        tables["technologies"]
        .filter(pl.col("series_id") == SID + "doe_pack_cost_constant")["description"]
        .item()
    )
    assert "usable kWh" in desc


@pytest.mark.raw
def test_way_battery_splice_is_marked(tables: dict[str, pl.DataFrame]) -> None:
    assert _cost(tables, "way2022_battery_cost_spliced", 1995)["unit_cost"] == pytest.approx(
        5035.19578137544
    )
    assert [
        _cost(tables, "way2022_battery_cost_spliced", y)["unit_cost"]
        for y in (2017, 2018, 2019, 2020)
    ] == [
        221.0,
        181.0,
        157.0,
        137.0,
    ]
    desc = (
        tables["technologies"]
        .filter(pl.col("series_id") == SID + "way2022_battery_cost_spliced")["description"]
        .item()
    )
    assert "SPLICED" in desc and "BNEF pack prices from 2017" in desc
    spliced = tables["data_notes"].filter(pl.col("note").str.contains("BNEF pack price"))
    assert spliced["row"].to_list() == [166, 167, 168, 169]  # sheet rows of 2017-2020
    assert all("spliced" in n for n in spliced["note"])


@pytest.mark.raw
def test_way_note_table_excluded(tables: dict[str, pl.DataFrame]) -> None:
    way = tables["cost_observations"].filter(pl.col("series_id").str.contains("way2022"))
    assert way["year"].min() == 1861 and way["year"].max() == 2021
    assert _cost(tables, "way2022_crude_oil_price", 2021)["unit_cost"] == 70.86
    # The notes table starts at sheet row 176 with numeric keys (1..11) in column A: none became a year.
    assert not tables["production"].filter(pl.col("year") < 1861).height
    assert tables["cost_observations"].filter(pl.col("series_id") == SID + "way2022_coal_price_us")[
        "nation"
    ].unique().to_list() == ["USA"]


@pytest.mark.raw
def test_formula_cells_read_as_cached_values(
    raw_dir: Path, tables: dict[str, pl.DataFrame]
) -> None:
    path = raw_dir / mvpf.SOURCE / mvpf.F_WAY
    ws = openpyxl.load_workbook(path, data_only=False)[mvpf.S_WAY]
    assert ws["B5"].value == '=CELL("col")-1' and ws["L5"].value == '=CELL("col")-1'
    assert ws["A178"].value == "=B5" and ws["A187"].value == "=E5"
    cal = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(mvpf.S_WAY).to_python()
    assert cal[4][1] == 1.0 and cal[4][11] == 11.0  # cached numbers, not formula text
    assert cal[186][0] == 4.0
    # The reader linked columns to their source notes through those cached keys.
    tech = dict(tables["technologies"].select("series_id", "description").iter_rows())
    assert "Figure 2.9" in tech[SID + "way2022_wind_lcoe"]  # key 4 (E5 / A187)
    assert "McNerney" in tech[SID + "way2022_coal_price_us"]  # key 10
    assert "Glenk" in tech[SID + "way2022_pem_electrolyzer_cost"]  # key 8


@pytest.mark.raw
def test_statista_battery_demand_and_shares(tables: dict[str, pl.DataFrame]) -> None:
    assert _prod(tables, "statista_ev_battery_demand", "CHN", 2022)["annual_production"] == 312.0
    assert _prod(tables, "statista_ev_battery_demand", "OTHER", 2016)["annual_production"] == 2.5
    assert _prod(tables, "statista_ev_battery_demand", "WLD", 2022)[
        "annual_production"
    ] == pytest.approx(550.6)
    assert _prod(tables, "statista_ev_battery_demand", "WLD", 2016)[
        "annual_production"
    ] == pytest.approx(43.8)
    s = tables["market_shares"]
    assert set(s["basis"]) == {"ev_battery_demand_of_world"}
    assert set(s["nation"]) == {"CHN", "EUROPE", "USA", "OTHER"}
    chn = dict(s.filter(pl.col("nation") == "CHN").select("year", "share").iter_rows())
    assert (
        round(chn[2016] * 100, 1) == 69.2 and round(chn[2022] * 100, 1) == 56.7
    )  # data-per-nation.md
    sums = s.group_by("year").agg(pl.col("share").sum())["share"]
    assert ((sums - 1).abs() < 1e-12).all()


def test_statista_terms_recorded() -> None:
    assert "Statista" in mvpf.INFO.licence and "redistribution" in mvpf.INFO.licence
    assert "internal use only" in mvpf.INFO.licence
    assert mvpf.INFO.non_commercial is True


# --- synthetic bad input -----------------------------------------------------------------------


def _statista(tmp_path: Path, header: list, rows: list[list]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Data"
    ws["B3"] = "EV lithium-ion battery demand worldwide 2016-2022, by region"
    ws["B4"] = (
        "Lithium-ion battery demand for electric vehicles (EVs) worldwide from 2016 to 2022, by region (in gigawatt-hours)"
    )
    for j, h in enumerate(header):
        ws.cell(row=5, column=2 + j, value=h)
    for i, r in enumerate(rows):
        for j, v in enumerate(r):
            ws.cell(row=6 + i, column=2 + j, value=v)
    p = tmp_path / mvpf.SOURCE / mvpf.F_STATISTA
    p.parent.mkdir(parents=True, exist_ok=True)
    wb.save(p)
    return tmp_path


HEAD = [None, "China", "Europe", "United States", "Other"]


def test_statista_synthetic_good(tmp_path: Path) -> None:
    raw = _statista(
        tmp_path, HEAD, [["2021", 182.1, 91.7, 39.3, 20.9], ["2022", 312, 127.7, 70.6, 40.3]]
    )
    prod, shares = mvpf._read_statista(raw, Notes(mvpf.SOURCE))
    wld = [p for p in prod if p["nation"] == "WLD"]
    assert [round(p["annual_production"], 1) for p in wld] == [334.0, 550.6]
    assert len(shares) == 8


def test_statista_unknown_region_is_refused(tmp_path: Path) -> None:
    raw = _statista(
        tmp_path, [None, "China", "Japan", "United States", "Other"], [["2022", 1, 2, 3, 4]]
    )
    with pytest.raises(DataError) as e:
        mvpf._read_statista(raw, Notes(mvpf.SOURCE))
    assert e.value.row == 5 and e.value.column == "D" and "unknown region 'Japan'" in str(e.value)
    assert e.value.file == f"{mvpf.F_STATISTA}#Data"


def test_statista_text_value_is_refused(tmp_path: Path) -> None:
    raw = _statista(tmp_path, HEAD, [["2022", 312, "n/a GWh", 70.6, 40.3]])
    with pytest.raises(DataError) as e:
        mvpf._read_statista(raw, Notes(mvpf.SOURCE))
    assert e.value.row == 6 and e.value.column == "D" and "not a number: 'n/a GWh'" in str(e.value)


def test_statista_missing_region_value_is_refused(tmp_path: Path) -> None:
    raw = _statista(tmp_path, HEAD, [["2022", 312, None, 70.6, 40.3]])
    with pytest.raises(DataError, match="World \\(sum of regions\\) cannot be formed") as e:
        mvpf._read_statista(raw, Notes(mvpf.SOURCE))
    assert e.value.column == "D"


def _zt(tmp_path: Path, sheet: str, units: str, other1: str, rows: list[tuple]) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(
        [
            "IndependentAxisData",
            "DependentAxisData",
            "IndependentAxisType",
            "IndependentAxisUnits",
            "DependentAxisType",
            "DependentAxisUnits",
            "DataSeriesType",
            "SeriesName",
            "SeriesAbbrev",
            "SourceName",
            "SourceLink",
            "DateReleased",
            "DateAccessed",
            "Other1",
            "Other2",
            "Other3",
        ]
    )
    for i, (y, v) in enumerate(rows):
        meta = (
            [
                "Time",
                "Year",
                "Price",
                units,
                "Real",
                "Series - All",
                "Representative",
                "Various",
                None,
                None,
                None,
                other1,
            ]
            if i == 0
            else []
        )
        ws.append([y, v, *meta])
    p = tmp_path / mvpf.SOURCE / mvpf.F_ZT
    p.parent.mkdir(parents=True, exist_ok=True)
    wb.save(p)
    return tmp_path


def test_zt_unit_mismatch_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sheet = "RepreSeries_Price_All_Cells"
    monkeypatch.setattr(zt, "ZT_SHEETS", {sheet: zt.ZT_SHEETS[sheet]})
    raw = _zt(tmp_path, sheet, "2019_USD per kWh", "All", [(1991, 7523.3), (1992, 6034.9)])
    with pytest.raises(DataError) as e:
        mvpf._read_zt(raw, Notes(mvpf.SOURCE))
    assert "unit '2019_USD per kWh', expected '2018_USD per kWh'" in str(e.value)
    assert e.value.row == 2 and e.value.column == "DependentAxisUnits"


def test_zt_repeated_year_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sheet = "RepreSeries_MarketSize_All_MWh"
    monkeypatch.setattr(zt, "ZT_SHEETS", {sheet: zt.ZT_SHEETS[sheet]})
    raw = _zt(tmp_path, sheet, "MWh", "All", [(1991, 0.13), (1992, 1.55), (1992, 12.87)])
    with pytest.raises(DataError, match="year 1992 repeated") as e:
        mvpf._read_zt(raw, Notes(mvpf.SOURCE))
    assert e.value.row == 4


def test_zt_synthetic_annual_to_cumulative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sheet = "RepreSeries_MarketSize_All_MWh"
    monkeypatch.setattr(zt, "ZT_SHEETS", {sheet: zt.ZT_SHEETS[sheet]})
    raw = _zt(tmp_path, sheet, "MWh", "All", [(2000, 100.0), (2001, 200.0), (2002, 400.0)])
    _, _, prod = mvpf._read_zt(raw, Notes(mvpf.SOURCE))
    # growth 100% a year -> initial stock q1 / g = 100 / 1
    assert [p["cumulative_production"] for p in prod] == pytest.approx([200.0, 400.0, 800.0])
    assert {p["cumulative_method"] for p in prod} == {"initial_stock_lafond2018"}


def _way(tmp_path: Path, *, cached_keys: bool) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = mvpf.S_WAY
    labels = list(mvpf.WAY_COLUMNS)
    ws["A5"] = "Data source key (see below):"
    ws["A6"], ws["A7"], ws["A9"] = "Technology", "Variable", "Year"
    for j, (tech, var, unit) in enumerate(labels, start=2):
        # openpyxl writes formulas without cached values, like a workbook never opened in Excel
        ws.cell(row=5, column=j, value=float(j - 1) if cached_keys else '=CELL("col")-1')
        ws.cell(row=6, column=j, value=tech)
        ws.cell(row=7, column=j, value=var)
        ws.cell(row=9, column=j, value=unit)
    ws.cell(row=10, column=1, value=2019.0)
    ws.cell(row=10, column=7, value=157.0)
    ws.cell(row=11, column=1, value=2020.0)
    ws.cell(row=11, column=7, value=137.0)
    ws["A14"] = "Data Source Key"
    ws["A15"], ws["D15"] = 6.0, "2017-2020 values are from BNEF"
    p = tmp_path / mvpf.SOURCE / mvpf.F_WAY
    p.parent.mkdir(parents=True, exist_ok=True)
    wb.save(p)
    return tmp_path


def test_way_synthetic_reads_and_stops_before_notes(tmp_path: Path) -> None:
    techs, costs, prod = mvpf._read_way(_way(tmp_path, cached_keys=True), Notes(mvpf.SOURCE))
    assert [(c["year"], c["unit_cost"]) for c in costs] == [(2019, 157.0), (2020, 137.0)]
    assert not prod and len(techs) == 7


def test_way_formula_without_cached_value_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError) as e:
        mvpf._read_way(_way(tmp_path, cached_keys=False), Notes(mvpf.SOURCE))
    assert "formula cell without a cached value" in str(e.value)
    assert e.value.row == 5 and e.value.column == "B"


def test_doe_number_repair_is_noted(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = mvpf.S_DOE
    ws.append(["Year", "Current Dollars", "2021 Constant Dollars"])
    ws.append([2008, 1000, "1,354.99"])
    ws.append([2009, 826, 1118.2])
    ws.append([None])
    ws.append(["Note: costs are per kWh of usable energy"])
    p = tmp_path / mvpf.SOURCE / mvpf.F_DOE
    p.parent.mkdir(parents=True, exist_ok=True)
    wb.save(p)
    notes = Notes(mvpf.SOURCE)
    _, costs, _ = mvpf._read_doe(tmp_path, notes)
    const = {c["year"]: c["unit_cost"] for c in costs if c["unit"] == "2021 USD/kWh"}
    assert const == {2008: 1354.99, 2009: 1118.2}
    assert notes.frame().drop("source").rows() == [
        (f"{mvpf.F_DOE}#{mvpf.S_DOE}", 2, "C", "1,354.99", "thousands separators removed")
    ]


def test_doe_wrong_header_is_refused(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = mvpf.S_DOE
    ws.append(["Year", "Current Dollars", "Constant Dollars"])
    ws.append([2008, 1000, 1355])
    p = tmp_path / mvpf.SOURCE / mvpf.F_DOE
    p.parent.mkdir(parents=True, exist_ok=True)
    wb.save(p)
    with pytest.raises(DataError, match="expected '<year> Constant Dollars'") as e:
        mvpf._read_doe(tmp_path, Notes(mvpf.SOURCE))
    assert e.value.column == "C" and e.value.row == 1


def test_missing_workbook_and_sheet(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        mvpf._read_doe(tmp_path, Notes(mvpf.SOURCE))
    p = tmp_path / mvpf.SOURCE / mvpf.F_DOE
    p.parent.mkdir(parents=True)
    openpyxl.Workbook().save(p)
    with pytest.raises(DataError, match="sheet 'FOTW #1272' not found"):
        mvpf._read_doe(tmp_path, Notes(mvpf.SOURCE))
