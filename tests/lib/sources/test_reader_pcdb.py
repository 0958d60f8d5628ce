"""Tests of the pcdb_carnegie reader: real files (marked raw) and synthetic bad inputs."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import pcdb_carnegie as pcdb
from learnrace_pipeline.lib.sources._pcdb_common import Where, parse_cost_unit, parse_quantity_unit
from learnrace_pipeline.lib.sources.base import Notes

SRC = "pcdb_carnegie"


@pytest.fixture(scope="module")
def tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return pcdb.read(raw_dir)


def _series(df: pl.DataFrame, name: str) -> pl.DataFrame:
    return df.filter(pl.col("series_id") == f"{SRC}:{name}").sort("year")


def _value(df: pl.DataFrame, name: str, year: int, column: str) -> float | None:
    s = _series(df, name).filter(pl.col("year") == year)
    assert s.height == 1, (name, year)
    return s[column][0]


def _stock_in_note(tables: dict[str, pl.DataFrame], name: str) -> float:
    notes = tables["data_notes"].filter(
        pl.col("file").str.ends_with(f"/{name}.csv") & pl.col("note").str.contains("initial stock")
    )
    assert notes.height == 1, name
    return float(notes["note"][0].split("q1/g = ")[1].split(" ")[0])


# ---------------------------------------------------------------- real files


@pytest.mark.raw
def test_counts(raw_dir: Path, tables: dict[str, pl.DataFrame]) -> None:
    files = sorted((raw_dir / SRC / "expCurveData").glob("*.csv"))
    assert len(files) == 73  # this copy holds 73 of the 87 PCDB files (the rest are withheld)
    tech = tables["technologies"]
    assert tech.height == 73 + 3  # + solar/wind combined files + OWID solar module file
    assert set(tech["series_id"]) >= {f"{SRC}:{p.stem}" for p in files}
    assert tables["cost_observations"].height == 1626
    assert tables["production"].height == 1648
    assert set(tables) == {"technologies", "cost_observations", "production", "data_notes"}


@pytest.mark.raw
def test_known_values_and_units(tables: dict[str, pl.DataFrame]) -> None:
    cost, tech = tables["cost_observations"], tables["technologies"]
    dram = _series(cost, "DRAM")
    assert dram["year"][0] == 1971
    assert dram["unit_cost"][0] == pytest.approx(49.617952, rel=1e-12)
    assert dram["unit"][0] == "2005 USD/kbit" and dram["price_basis_year"][0] == 2005
    # US cents converted to USD: Geothermal 1980 is 12.375 cents/kWh
    assert _value(cost, "Geothermal_Electricity", 1980, "unit_cost") == pytest.approx(0.12375)
    units = dict(zip(tech["series_id"], tech["unit"], strict=True))
    assert units[f"{SRC}:AcrylicFiber"] == "1966 USD/lb"
    assert units[f"{SRC}:Wind_Turbine_(Denmark)"] == "DKK/kW"
    assert units[f"{SRC}:Beer_(Japan)"] == "1955 USD/unit"  # "(USD 1955)": year after currency
    assert units[f"{SRC}:Fotovoltaica"] == "2005 USD/kWh"  # Spanish header "Costo (...)"
    assert units[f"{SRC}:Offshore_Gas_Pipeline"] == "USD/mile-inch"  # mangled char removed
    assert units[f"{SRC}:Low_Density_Polyethylene"] == "1958 USD/lb"  # from "Price per Pound"
    assert units[f"{SRC}:Capillary_DNA_Sequencing"] == "USD/kb"
    prod_units = dict(zip(tech["series_id"], tech["production_unit"], strict=True))
    assert prod_units[f"{SRC}:Paraxylene"] == "million lb"  # "Millon Pounds" misspelt upstream
    assert prod_units[f"{SRC}:Geothermal_Electricity"] == "MWh"  # "Thousand KWH"
    assert prod_units[f"{SRC}:Primary_Magnesium"] == "short ton"
    assert _series(cost, "Photovoltaics")["price_basis_year"].is_null().all()  # nominal USD/Wp


@pytest.mark.raw
def test_non_money_costs_are_input_per_output(tables: dict[str, pl.DataFrame]) -> None:
    tech = tables["technologies"]
    kinds = dict(
        zip(tech["series_id"], zip(tech["unit"], tech["metric_kind"], strict=True), strict=True)
    )
    assert kinds[f"{SRC}:Automotive_(US)"] == ("gallon/mile", "input_per_output")
    assert kinds[f"{SRC}:Corn_(US)"] == ("acre/1000 bushels", "input_per_output")
    assert kinds[f"{SRC}:Wheat_(US)"] == ("acre/1000 bushels", "input_per_output")
    assert kinds[f"{SRC}:Milk_(US)"] == ("head/million lb", "input_per_output")
    assert (tech.filter(pl.col("metric_kind") == "input_per_output").height) == 4
    assert kinds[f"{SRC}:solar_pv_PCDB_IEA_IRENA"] == ("2022 USD/MWh", "lcoe")
    cost = tables["cost_observations"].filter(pl.col("series_id") == f"{SRC}:Milk_(US)")
    assert cost["price_basis_year"].is_null().all()


@pytest.mark.raw
def test_nations(tables: dict[str, pl.DataFrame]) -> None:
    cost = tables["cost_observations"]
    nation = dict(cost.select("series_id", "nation").unique().iter_rows())
    assert nation[f"{SRC}:Wind_Turbine_(Denmark)"] == "DNK"
    assert nation[f"{SRC}:Wind_Turbine_2_(Germany)"] == "DEU"
    assert nation[f"{SRC}:Corn_(US)"] == "USA"
    assert nation[f"{SRC}:Beer_(Japan)"] == "JPN"
    assert nation[f"{SRC}:Ethanol_(Brazil)"] == "BRA"
    assert nation[f"{SRC}:Nuclear_Power_(OECD)"] == "OECD"
    assert nation[f"{SRC}:DRAM"] == "WLD"
    assert nation[f"{SRC}:Polyvinylchloride"] == "USA"
    guessed = tables["technologies"].filter(pl.col("series_id") == f"{SRC}:DRAM")["description"][0]
    assert "guess" in guessed


@pytest.mark.raw
def test_cumulative_is_previous_plus_annual(tables: dict[str, pl.DataFrame]) -> None:
    prod = tables["production"]
    # AcrylicFiber 1960: previous 552.7 + annual 135.7; equals the 1961 row's previous (688.4)
    assert _value(prod, "AcrylicFiber", 1960, "cumulative_production") == pytest.approx(688.4)
    assert (
        _value(prod, "AcrylicFiber", 1960, "cumulative_method") == "reported_previous_plus_annual"
    )
    # Beer 1951 has no production: its cumulative is the 1952 row's previous production (930)
    assert _value(prod, "Beer_(Japan)", 1951, "cumulative_production") == pytest.approx(930.0)
    assert _value(prod, "Beer_(Japan)", 1951, "annual_production") is None
    assert _value(prod, "Beer_(Japan)", 1951, "cumulative_method") == "reported"
    # the combined solar file's cumulative column is through the previous year as well
    assert _value(prod, "solar_pv_PCDB_IEA_IRENA", 2021, "cumulative_production") == pytest.approx(
        4658925859.598872
    )
    # the wind file's cumulative runs through the year
    assert _value(prod, "wind_Bolinger_IEA_IRENA", 2022, "cumulative_production") == pytest.approx(
        13068688560.0
    )
    assert _value(prod, "wind_Bolinger_IEA_IRENA", 1984, "annual_production") is None


@pytest.mark.raw
def test_cumulative_monotone_and_methods(tables: dict[str, pl.DataFrame]) -> None:
    prod = tables["production"].sort("series_id", "nation", "year")
    drops = prod.with_columns(
        prev=pl.col("cumulative_production").shift(1).over("series_id", "nation")
    ).filter(pl.col("cumulative_production") < pl.col("prev"))
    assert drops.height == 0
    methods = prod.group_by("cumulative_method").len()
    counts = dict(methods.iter_rows())
    assert counts == {
        "reported_previous_plus_annual": 1112,
        "initial_stock_lafond2018": 406,
        "reported": 129,
        None: 1,
    }
    # the one row without cumulative: Automotive 1970 (next listed year is 1975)
    row = prod.filter(pl.col("cumulative_method").is_null())
    assert row["series_id"][0] == f"{SRC}:Automotive_(US)" and row["year"][0] == 1970


@pytest.mark.raw
def test_known_source_errors_repaired_and_noted(tables: dict[str, pl.DataFrame]) -> None:
    prod, notes = tables["production"], tables["data_notes"]
    nuc = _series(prod, "Nuclear_Electricity")
    assert 1992 not in nuc["year"].to_list()  # cumulative falls 112642.93 -> 112439.93: dropped
    assert _value(prod, "Nuclear_Electricity", 1993, "cumulative_production") == pytest.approx(
        113439.9265
    )
    hit = notes.filter(
        pl.col("file") == "expCurveData/Nuclear_Electricity.csv",
        pl.col("note").str.contains("source error"),
    )
    assert hit.height == 1 and hit["row"][0] == 25
    solar = _series(prod, "solar_pv_PCDB_IEA_IRENA")
    assert solar["year"].max() == 2021  # 2022 production is minus the cumulative: dropped
    assert notes.filter(pl.col("note").str.contains("differencing artefact")).height == 1
    cost = _series(tables["cost_observations"], "solar_pv_PCDB_IEA_IRENA")
    assert cost["year"].max() == 2022 and cost.height == 46


@pytest.mark.raw
def test_series_with_many_years_without_production(tables: dict[str, pl.DataFrame]) -> None:
    cost, prod = tables["cost_observations"], tables["production"]
    # SCGT: 13 cost rows; 1956 cumulative from the 1957 row; 1963-1978 have no production
    assert _series(cost, "SCGT").height == 13
    assert _series(prod, "SCGT")["year"].to_list() == list(range(1956, 1963))
    # Solar_Water_Heaters: production rows without cost are kept in production only
    swh_cost, swh_prod = _series(cost, "Solar_Water_Heaters"), _series(prod, "Solar_Water_Heaters")
    assert swh_cost.height == 12 and swh_prod.height == 31
    notes = tables["data_notes"]
    assert (
        notes.filter(
            pl.col("file") == "expCurveData/SCGT.csv",
            pl.col("note").str.starts_with("6 cost row(s) without production"),
        ).height
        == 1
    )


@pytest.mark.raw
def test_sub_annual_series_aggregated(tables: dict[str, pl.DataFrame]) -> None:
    cost, prod = tables["cost_observations"], tables["production"]
    sg = _series(cost, "Shotgun_Sanger_DNA_Sequencing")
    assert sg["year"].to_list() == list(range(2001, 2010))
    w = (3.898635412 * 32222340 + 3.413801195 * 37467912) / (32222340 + 37467912)
    assert _value(cost, "Shotgun_Sanger_DNA_Sequencing", 2002, "unit_cost") == pytest.approx(
        w, rel=1e-12
    )
    assert _value(
        prod, "Shotgun_Sanger_DNA_Sequencing", 2002, "annual_production"
    ) == pytest.approx(32222340 + 37467912)
    # the source's running sum starts at the first row: the Lafond stock is added (note gives it)
    z0 = _stock_in_note(tables, "Shotgun_Sanger_DNA_Sequencing")
    assert _value(
        prod, "Shotgun_Sanger_DNA_Sequencing", 2009, "cumulative_production"
    ) == pytest.approx(2265308748 + 17432604 + z0)


@pytest.mark.raw
def test_owid_solar_module_file(tables: dict[str, pl.DataFrame]) -> None:
    cost, prod = tables["cost_observations"], tables["production"]
    name = "owid_solar_pv_prices_vs_cumulative_capacity"
    s = _series(cost, name)
    assert s.height == 48 and s["year"].min() == 1975 and s["year"].max() == 2022
    assert s["unit"][0] == "2022 USD/W" and s["nation"][0] == "WLD"
    assert _value(cost, name, 1975, "unit_cost") == pytest.approx(125.83374)
    assert _value(prod, name, 2022, "cumulative_production") == pytest.approx(1046614.3)


@pytest.mark.raw
def test_cross_check_with_expcurves(raw_dir: Path, tables: dict[str, pl.DataFrame]) -> None:
    """ExpCurves.csv (derived upstream, not read) carries the same unit costs for every year."""
    exp = pl.read_csv(raw_dir / SRC / "ExpCurves.csv")
    techs = set(exp["Tech"])
    assert {f"{SRC}:{t}" for t in techs} <= set(tables["technologies"]["series_id"])
    assert len(techs) == 73
    whole = exp.filter(pl.col("Year") == pl.col("Year").floor()).with_columns(
        series_id=pl.lit(f"{SRC}:") + pl.col("Tech"), year=pl.col("Year").cast(pl.Int32)
    )
    j = whole.join(tables["cost_observations"], on=["series_id", "year"], how="left")
    assert j["unit_cost"].null_count() == 0
    cents = {
        f"{SRC}:{n}" for n in ("CCGT_Electricity", "Geothermal_Electricity", "Wind_Electricity")
    }
    factor = pl.when(pl.col("series_id").is_in(list(cents))).then(0.01).otherwise(1.0)
    bad = j.filter(((pl.col("unit_cost") / (pl.col("Unit cost") * factor)) - 1).abs() > 1e-12)
    assert bad.height == 0


@pytest.mark.raw
def test_speed(raw_dir: Path) -> None:
    t0 = time.perf_counter()
    pcdb.read(raw_dir)
    assert time.perf_counter() - t0 < 5.0


# ---------------------------------------------------------------- synthetic files

HEADER = (
    "Price (1966 USD/lbs),Time (year),Yearly Production (Mil. lbs),Previous Production (Mil. lbs)\n"
)
GOOD_ROWS = "10.5,1960,100,NA\n9.5,1961,120,100\n8.0,1962,150,220\n"


def _write(tmp_path: Path, text: str | bytes, name: str = "Phenol.csv") -> str:
    d = tmp_path / SRC / "expCurveData"
    d.mkdir(parents=True, exist_ok=True)
    p = d / name
    if isinstance(text, bytes):
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return f"expCurveData/{name}"


def _read(tmp_path: Path, rel: str) -> pcdb.Series:
    return pcdb.read_four_columns(tmp_path, rel, Notes(SRC), convention="previous")


def _error(tmp_path: Path, text: str | bytes) -> DataError:
    rel = _write(tmp_path, text)
    with pytest.raises(DataError) as e:
        _read(tmp_path, rel)
    assert e.value.source == SRC and e.value.file == rel
    return e.value


@pytest.mark.parametrize(
    ("year", "message"),
    [("1e300", "not a calendar year"), ("19620", "not a calendar year"),
     ("-5", "not a calendar year"), ("inf", "not a number"), ("nan", "missing year")],
)  # fmt: skip
def test_implausible_year_is_refused(tmp_path: Path, year: str, message: str) -> None:
    e = _error(tmp_path, HEADER + GOOD_ROWS + f"7.0,{year},160,370\n")
    assert e.row == 5 and e.column == "Time (year)" and message in str(e)


#: Lafond initial stock of GOOD_ROWS: q1 / g with g = exp(mean log growth) - 1 = sqrt(1.2 * 1.25) - 1
GOOD_STOCK = 100 / (1.5**0.5 - 1)


def test_synthetic_good_file(tmp_path: Path) -> None:
    notes = Notes(SRC)
    s = pcdb.read_four_columns(
        tmp_path, _write(tmp_path, HEADER + GOOD_ROWS), notes, convention="previous"
    )
    assert s.cost_unit.unit == "1966 USD/lb" and s.prod_unit.unit == "million lb"
    # column 4 is NA in the first row: the running sum starts there, so the stock is estimated
    assert [o.cum for o in s.obs] == pytest.approx([c + GOOD_STOCK for c in (100, 220, 370)])
    assert {o.method for o in s.obs} == {"initial_stock_lafond2018"}
    (note,) = [r for r in notes.rows if "initial stock" in r["note"]]
    assert note["row"] == 2 and note["raw_value"] == "NA"
    assert f"{GOOD_STOCK:.6g}" in note["note"]


def test_source_stock_is_kept(tmp_path: Path) -> None:
    rows = "10.5,1960,100,50\n9.5,1961,120,150\n8.0,1962,150,270\n"
    s = _read(tmp_path, _write(tmp_path, HEADER + rows))
    assert [o.cum for o in s.obs] == [150.0, 270.0, 420.0]
    assert {o.method for o in s.obs} == {"reported_previous_plus_annual"}


def test_no_stock_when_early_production_does_not_grow(tmp_path: Path) -> None:
    notes = Notes(SRC)
    rows = "10.5,1960,100,NA\n9.5,1961,100,100\n8.0,1962,90,200\n"
    s = pcdb.read_four_columns(
        tmp_path, _write(tmp_path, HEADER + rows), notes, convention="previous"
    )
    assert [o.cum for o in s.obs] == [100.0, 200.0, 290.0]
    assert not any(o.method == "initial_stock_lafond2018" for o in s.obs)
    assert any("no initial stock can be estimated" in r["note"] for r in notes.rows)


def test_text_in_cost(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER + "10.5,1960,100,NA\nabout 9,1961,120,100\n")
    assert e.row == 3 and e.column == "Price (1966 USD/lbs)" and "not a number" in e.problem
    assert "'about 9'" in str(e) and "Phenol.csv" in str(e) and "row 3" in str(e)


def test_negative_cost(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER + "10.5,1960,100,NA\n-9.5,1961,120,100\n")
    assert e.row == 3 and e.column == "Price (1966 USD/lbs)" and "positive" in e.problem


def test_negative_production(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER + "10.5,1960,100,NA\n9.5,1961,-120,100\n")
    assert (
        e.row == 3
        and e.column == "Yearly Production (Mil. lbs)"
        and "negative production" in e.problem
    )


def test_duplicate_year(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER + GOOD_ROWS + "7.0,1962,160,370\n")
    assert e.row == 5 and e.column == "Time (year)" and "duplicate year 1962" in e.problem


def test_years_out_of_order(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER + "10.5,1961,100,NA\n9.5,1960,120,100\n")
    assert e.row == 3 and e.column == "Time (year)" and "out of order" in e.problem


def test_header_only(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER)
    assert e.row is None and "header only" in e.problem


def test_empty_file(tmp_path: Path) -> None:
    e = _error(tmp_path, b"")
    assert e.row is None and "empty file" in e.problem


def test_wrong_delimiter(tmp_path: Path) -> None:
    text = HEADER.replace(",", ";") + GOOD_ROWS.replace(",", ";")
    e = _error(tmp_path, text)
    assert e.row == 1 and "wrong delimiter" in e.problem and "';'" in e.problem


def test_non_monotone_cumulative(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER + "10.5,1960,100,500\n9.5,1961,120,600\n8.0,1962,150,300\n")
    assert (
        e.row == 4 and e.column == "Previous Production (Mil. lbs)" and "must not fall" in e.problem
    )


def test_unknown_unit_in_header(tmp_path: Path) -> None:
    text = HEADER.replace("1966 USD/lbs", "1966 Florins/lbs") + GOOD_ROWS
    e = _error(tmp_path, text)
    assert e.row == 1 and e.column == "Price (1966 Florins/lbs)" and "unknown unit" in e.problem


def test_unknown_production_unit(tmp_path: Path) -> None:
    text = (
        HEADER.replace("Yearly Production (Mil. lbs)", "Yearly Production (Mil. cubits)")
        + GOOD_ROWS
    )
    e = _error(tmp_path, text)
    assert (
        e.row == 1 and e.column == "Yearly Production (Mil. cubits)" and "unknown unit" in e.problem
    )


def test_cumulative_unit_differs(tmp_path: Path) -> None:
    text = HEADER.replace("Previous Production (Mil. lbs)", "Previous Production (MW)") + GOOD_ROWS
    e = _error(tmp_path, text)
    assert e.row == 1 and e.column == "Previous Production (MW)" and "differs" in e.problem


def test_header_without_unit(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER.replace("Price (1966 USD/lbs)", "Price") + GOOD_ROWS)
    assert e.row == 1 and e.column == "Price" and "no unit" in e.problem


def test_truncated_row(tmp_path: Path) -> None:
    e = _error(tmp_path, HEADER + "10.5,1960\n")
    assert e.row == 2 and e.column == "Yearly Production (Mil. lbs)"


def test_sub_annual_aggregation_synthetic(tmp_path: Path) -> None:
    text = (
        "Cost (USD/Kilobase),Time (Year),Yearly Production (Kilobase),Previous Production (Kilobase)\n"
        "4,2001.5,10,NA\n2,2001.75,30,10\n1,2002.25,40,40\n"
    )
    notes = Notes(SRC)
    s = pcdb.read_four_columns(
        tmp_path, _write(tmp_path, text, "Seq.csv"), notes, convention="previous"
    )
    assert [int(o.year) for o in s.obs] == [2001, 2002]
    assert s.obs[0].cost == pytest.approx((4 * 10 + 2 * 30) / 40)
    assert s.obs[0].annual == 40 and s.obs[0].cum == 40 and s.obs[1].cum == 80
    assert sum("aggregated to calendar year" in r["note"] for r in notes.rows) == 2


def test_cents_and_label_quantity(tmp_path: Path) -> None:
    text = (
        "Price per KWH (1958 US cents),Time (Year),Yearly Production (Billion KWH),Previous Production (Billion KWH)\n"
        "250,1950,10,NA\n200,1951,12,10\n"
    )
    s = _read(tmp_path, _write(tmp_path, text, "Power.csv"))
    assert s.cost_unit.unit == "1958 USD/kWh" and s.cost_unit.factor == 0.01
    assert s.prod_unit.unit == "TWh"


def test_through_year_convention_is_checked(tmp_path: Path) -> None:
    text = (
        "Unit cost (2022 USD/MWh),Time (Year),Production (MWh),Cumulative production (MWh)\n"
        "100,2000,10,10\n90,2001,20,25\n"
    )
    rel = _write(tmp_path, text, "w.csv")
    with pytest.raises(DataError) as e:
        pcdb.read_four_columns(tmp_path, rel, Notes(SRC), convention="through_year")
    assert e.value.row == 3 and e.value.column == "Cumulative production (MWh)"


def _write_minimal_tree(tmp_path: Path) -> None:
    _write(tmp_path, HEADER + GOOD_ROWS)
    combined = "Unit cost (2022 USD/MWh),Time (Year),Production (MWh),Cumulative production (MWh)\n"
    (tmp_path / SRC / pcdb.SOLAR_FILE).write_text(
        combined + "100,2000,10,5\n90,2001,20,15\n", encoding="utf-8"
    )
    (tmp_path / SRC / pcdb.WIND_FILE).write_text(
        combined + "100,2000,,10\n90,2001,20,30\n", encoding="utf-8"
    )
    owid = tmp_path / SRC / pcdb.OWID_FILE
    owid.parent.mkdir(parents=True)
    with owid.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "Entity",
                "Code",
                "Year",
                "Solar photovoltaic module price",
                "Solar photovoltaic cumulative capacity",
            ]
        )
        w.writerows(
            [["World", "OWID_WRL", 2000, 5.0, 1000], ["World", "OWID_WRL", 2001, 4.5, 1300]]
        )


def test_read_synthetic_tree(tmp_path: Path) -> None:
    _write_minimal_tree(tmp_path)
    t = pcdb.read(tmp_path)
    assert t["technologies"].height == 4
    assert t["cost_observations"].height == 3 + 2 + 2 + 2
    prod = t["production"]
    phenol = prod.filter(pl.col("series_id") == f"{SRC}:Phenol").sort("year")
    assert phenol["cumulative_production"].to_list() == pytest.approx(
        [c + GOOD_STOCK for c in (100, 220, 370)]
    )
    solar = prod.filter(pl.col("series_id") == f"{SRC}:solar_pv_PCDB_IEA_IRENA").sort("year")
    assert solar["cumulative_production"].to_list() == [15.0, 35.0]
    wind = prod.filter(pl.col("series_id") == f"{SRC}:wind_Bolinger_IEA_IRENA").sort("year")
    assert wind["cumulative_production"].to_list() == [10.0, 30.0]
    assert (
        t["technologies"].filter(pl.col("series_id") == f"{SRC}:Phenol")["metric_kind"][0]
        == "price"
    )


def test_owid_file_other_entity_refused(tmp_path: Path) -> None:
    _write_minimal_tree(tmp_path)
    owid = tmp_path / SRC / pcdb.OWID_FILE
    owid.write_text(
        owid.read_text(encoding="utf-8").replace("World,OWID_WRL,2001", "Germany,DEU,2001"),
        encoding="utf-8",
    )
    with pytest.raises(DataError) as e:
        pcdb.read(tmp_path)
    assert e.value.file == pcdb.OWID_FILE and e.value.row == 3 and e.value.column == "Entity"


@pytest.mark.parametrize(
    ("text", "label", "unit", "factor"),
    [
        ("Yen", "Price", "JPY/unit", 1.0),
        ("USD 1955", "Retail Price Minus Indirect Tax", "1955 USD/unit", 1.0),
        ("2005 US cents/KWH", "Cost", "2005 USD/kWh", 0.01),
        ("Heads/Mil. lbs", "Cost", "head/million lb", 1.0),
        ("dollar/mile-inchï¿½", "Price", "USD/mile-inch", 1.0),
        ("USD per GJ", "Price", "USD/GJ", 1.0),
        ("2005 USD/thousand bits", "Price", "2005 USD/kbit", 1.0),
        ("2013 USD/human-size genome", "", "2013 USD/genome", 1.0),
        ("1958 USD", "Quoted Price per Pound", "1958 USD/lb", 1.0),
        ("DEM/kW", "Price", "DEM/kW", 1.0),
    ],
)
def test_parse_cost_unit(text: str, label: str, unit: str, factor: float) -> None:
    u = parse_cost_unit(text, Where(SRC, "f.csv", 1, "c"), label=label)
    assert (u.unit, u.factor) == (unit, factor)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("Short Tons of Primary Production", "short ton"),
        ("Billions", "billion unit"),
        ("Mil.", "million unit"),
        ("Thousand KWH", "MWh"),
        ("Billion KWH", "TWh"),
        ("Millon Pounds", "million lb"),
        ("Mil. Mbits", "million Mbit"),
        ("Gbase", "Gb"),
        ("Dollar/acre", "USD/acre"),
    ],
)
def test_parse_quantity_unit(text: str, unit: str) -> None:
    assert parse_quantity_unit(text, Where(SRC, "f.csv", 1, "c")).unit == unit


def test_parse_unit_refuses_unknown() -> None:
    with pytest.raises(DataError) as e:
        parse_cost_unit("219 USD/kWh", Where(SRC, "f.csv", 1, "Hydro LCOE (219 USD/kWh)"))
    assert e.value.column == "Hydro LCOE (219 USD/kWh)" and "unknown unit" in e.value.problem


@pytest.mark.raw
def test_initial_stock_where_the_source_sum_starts_at_zero(
    tables: dict[str, pl.DataFrame],
) -> None:
    prod = tables["production"]
    # Transistor.csv: col 4 is NA in 1968 and 1969's previous shipments (2) are 1968's own;
    # early shipments 2, 3, 5, 9, 20, 50 billion -> g = exp(mean log growth) - 1 = 25^(1/5) - 1
    z0 = 2 / (25 ** (1 / 5) - 1)
    assert _stock_in_note(tables, "Transistor") == pytest.approx(z0, rel=1e-5)
    assert _value(prod, "Transistor", 1968, "cumulative_production") == pytest.approx(2 + z0)
    assert _value(prod, "Transistor", 1971, "cumulative_production") == pytest.approx(19 + z0)
    assert _value(prod, "Transistor", 1971, "cumulative_method") == "initial_stock_lafond2018"
    # AcrylicFiber's first row carries the source's own stock (552.7): kept, no estimate
    assert _value(prod, "AcrylicFiber", 1960, "cumulative_production") == pytest.approx(688.4)
    # Beer: no production in the first row, and 1952's previous production (930) is several
    # years' output: a stock, so it is not treated as a sum from zero
    assert _value(prod, "Beer_(Japan)", 1951, "cumulative_production") == pytest.approx(930.0)
    stocked = prod.filter(pl.col("cumulative_method") == "initial_stock_lafond2018")
    assert sorted(s.split(":")[1] for s in stocked["series_id"].unique()) == [
        "Automotive_(US)",
        "Capillary_DNA_Sequencing",
        "Corn_(US)",
        "DRAM",
        "Milk_(US)",
        "Photovoltaics_2",
        "Shotgun_Sanger_DNA_Sequencing",
        "Transistor",
        "Wheat_(US)",
    ]
