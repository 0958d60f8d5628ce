"""Tests of the owid_datasets reader: real files (marked raw) and a synthetic dataset tree."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import owid_datasets as owid

SRC = "owid_datasets"
SOLAR = f"{SRC}:solar_pv_module_lafond_irena"
ONSHORE = f"{SRC}:irena_onshore_wind_installed_cost"
ONSHORE_LCOE = f"{SRC}:irena_onshore_wind_lcoe"


@pytest.fixture(scope="module")
def tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return owid.read(raw_dir)


def _one(df: pl.DataFrame, sid: str, year: int, column: str, nation: str = "WLD") -> float | None:
    s = df.filter(pl.col("series_id") == sid, pl.col("year") == year, pl.col("nation") == nation)
    assert s.height == 1, (sid, year, nation)
    return s[column][0]


# ---------------------------------------------------------------- real files


@pytest.mark.raw
def test_counts(tables: dict[str, pl.DataFrame]) -> None:
    assert {k: v.height for k, v in tables.items() if k != "data_notes"} == {
        "technologies": 20,
        "cost_observations": 1165,
        "production": 758,
        "market_shares": 618,
    }
    per_series = dict(tables["cost_observations"].group_by("series_id").len().iter_rows())
    assert per_series[SOLAR] == 44
    assert per_series[f"{SRC}:transistors_per_microprocessor"] == 24
    assert per_series[f"{SRC}:top500_fastest_flops"] == 30
    assert per_series[f"{SRC}:nih_dna_cost_per_mb"] == 21
    assert per_series[ONSHORE] == 413 - 72  # 72 regional fill-ins dropped


@pytest.mark.raw
def test_solar_module_values(tables: dict[str, pl.DataFrame]) -> None:
    cost, prod = tables["cost_observations"], tables["production"]
    assert _one(cost, SOLAR, 1976, "unit_cost") == pytest.approx(106.0862215)
    assert _one(cost, SOLAR, 2019, "unit_cost") == pytest.approx(0.37725)
    assert _one(cost, SOLAR, 2019, "unit") == "2019 USD/W"
    assert _one(cost, SOLAR, 2019, "price_basis_year") == 2019
    assert _one(prod, SOLAR, 1976, "cumulative_production") == pytest.approx(0.3)
    assert _one(prod, SOLAR, 2019, "cumulative_production") == pytest.approx(578553.0)
    assert _one(prod, SOLAR, 2019, "cumulative_method") == "reported"


@pytest.mark.raw
def test_solar_wright_slope_levels(tables: dict[str, pl.DataFrame]) -> None:
    """OLS of log price on log cumulative capacity, 1976-2019: w about 0.37 (shared notes)."""
    j = (
        tables["cost_observations"]
        .filter(pl.col("series_id") == SOLAR)
        .join(tables["production"].filter(pl.col("series_id") == SOLAR), on=["year", "nation"])
        .filter(pl.col("year").is_between(1976, 2019))
    )
    assert j.height == 44
    slope = np.polyfit(
        np.log(j["cumulative_production"].to_numpy()), np.log(j["unit_cost"].to_numpy()), 1
    )[0]
    assert -slope == pytest.approx(0.370, abs=0.005)


@pytest.mark.raw
def test_irena_regional_fill_ins_dropped(tables: dict[str, pl.DataFrame]) -> None:
    cost, notes = tables["cost_observations"], tables["data_notes"]
    onshore = cost.filter(pl.col("series_id") == ONSHORE)
    have = set(onshore.select("nation", "year").iter_rows())
    for n in ("DEU", "DNK", "SWE"):  # 1984: 3862 USD/kW for all three
        assert (n, 1984) not in have
    assert ("WLD", 1984) in have and ("DNK", 2019) in have
    lcoe = set(
        cost.filter(pl.col("series_id") == ONSHORE_LCOE).select("nation", "year").iter_rows()
    )
    assert ("DEU", 1984) not in lcoe and ("DNK", 1985) in lcoe
    # no value is shared by two nations in a year any more
    dup = (
        onshore.filter(pl.col("nation") != "WLD")
        .group_by("year", "unit_cost")
        .len()
        .filter(pl.col("len") > 1)
    )
    assert dup.height == 0
    fill = notes.filter(pl.col("note").str.starts_with("regional fill-in"))
    assert fill.height == 22  # 21 year-values of onshore installed cost + 1 of module price
    assert notes.filter(pl.col("note").str.starts_with("LCOE dropped")).height == 72
    assert _one(cost, ONSHORE, 1984, "unit_cost", "WLD") == 4898.0


@pytest.mark.raw
def test_irena_units_and_exclusions(tables: dict[str, pl.DataFrame]) -> None:
    tech = tables["technologies"]
    units = dict(zip(tech["series_id"], tech["unit"], strict=True))
    assert units[ONSHORE] == "2019 USD/kW" and units[ONSHORE_LCOE] == "2019 USD/kWh"
    assert units[f"{SRC}:irena_hydro_installed_cost"] == "2018 USD/kW"
    assert units[f"{SRC}:irena_solar_pv_module_price"] == "2019 USD/W"
    assert not any("219" in u for u in units.values())
    notes = tables["data_notes"]
    assert notes.filter(pl.col("note").str.contains("malformed basis year")).height == 2
    assert notes.filter(pl.col("note").str.contains("no unit in the header")).height == 4
    nations = set(tables["cost_observations"].filter(pl.col("series_id") == ONSHORE)["nation"])
    assert {"USA", "CHN", "DEU", "IND", "WLD"} <= nations


@pytest.mark.raw
def test_irena_capacity(tables: dict[str, pl.DataFrame]) -> None:
    prod = tables["production"].filter(
        pl.col("series_id").str.starts_with(f"{SRC}:irena_2017_capacity")
    )
    assert prod.height == 96 and set(prod["nation"]) == {"WLD"}
    assert set(prod["unit"]) == {"MW"} and set(prod["cumulative_method"]) == {"reported"}
    geo = prod.filter(pl.col("series_id") == f"{SRC}:irena_2017_capacity_geothermal")
    assert 2001 not in geo["year"].to_list() and geo.height == 13  # net capacity fell in 2001
    assert _one(
        prod, f"{SRC}:irena_2017_capacity_hydropower", 2000, "cumulative_production"
    ) == pytest.approx(781804.2)
    assert set(prod.filter(pl.col("series_id").str.ends_with("solar"))["technology"]) == {
        "solar_pv_module"
    }


@pytest.mark.raw
def test_icct(tables: dict[str, pl.DataFrame]) -> None:
    shares, prod = tables["market_shares"], tables["production"]
    nor = shares.filter(pl.col("nation") == "NOR", pl.col("year") == 2019)
    basis = dict(zip(nor["basis"], nor["share"], strict=True))
    assert basis["bev_share_of_new_car_sales"] == pytest.approx(0.4238305942)
    assert basis["bev_phev_share_of_new_car_sales"] == pytest.approx(0.55936227)
    assert shares["share"].is_between(0, 1).all()
    assert set(shares["technology"]) == {"ev_car"} and set(shares["industry"]) == {"evs"}
    bev = prod.filter(pl.col("series_id") == f"{SRC}:icct_bev_car_sales")
    assert bev.height == 309 and set(bev["unit"]) == {"vehicle"}
    assert _one(bev, f"{SRC}:icct_bev_car_sales", 2019, "annual_production", "NOR") == 60345
    assert _one(bev, f"{SRC}:icct_bev_car_sales", 2020, "annual_production", "EUROPE") == 720913
    mono = bev.sort("nation", "year").with_columns(
        d=pl.col("cumulative_production").diff().over("nation")
    )
    assert (mono["d"].drop_nulls() >= 0).all()
    # the EUR prices are averages over all new cars: no EV cost is made of them
    assert tables["cost_observations"].filter(pl.col("technology") == "ev_car").height == 0
    assert tables["data_notes"].filter(pl.col("column") == "vehicle_price_eur").height == 1


@pytest.mark.raw
def test_performance_and_dna(tables: dict[str, pl.DataFrame]) -> None:
    cost, tech = tables["cost_observations"], tables["technologies"]
    assert _one(cost, f"{SRC}:transistors_per_microprocessor", 1971, "unit_cost") == 2308
    assert _one(cost, f"{SRC}:top500_fastest_flops", 2022, "unit_cost") == pytest.approx(1.1e18)
    kinds = dict(zip(tech["series_id"], tech["metric_kind"], strict=True))
    assert kinds[f"{SRC}:top500_fastest_flops"] == "performance"
    assert kinds[f"{SRC}:transistors_per_microprocessor"] == "performance"
    assert _one(cost, f"{SRC}:nih_dna_cost_per_mb", 2001, "unit_cost") == pytest.approx(
        5292.39288459743
    )
    assert _one(cost, f"{SRC}:nih_dna_cost_per_mb", 2001, "unit") == "USD/Mb"
    assert _one(cost, f"{SRC}:nih_dna_cost_per_genome", 2001, "price_basis_year") is None


@pytest.mark.raw
def test_barbose_and_learning_costs(raw_dir: Path, tables: dict[str, pl.DataFrame]) -> None:
    cost = tables["cost_observations"]
    sid = f"{SRC}:lbnl_tts_us_residential_installed_price"
    assert _one(cost, sid, 2015, "unit_cost", "USA") == pytest.approx(4.053122044)
    assert cost.filter(pl.col("series_id") == sid)["unit"].unique().to_list() == ["2015 USD/W"]
    assert not tables["technologies"]["series_id"].str.contains("learning|farmer").any()
    path = next((raw_dir / SRC / "datasets" / owid.D_LEARNING).glob("*.csv"))
    entities = {r["Entity"] for r in csv.DictReader(path.open(encoding="utf-8"))}
    excluded = tables["data_notes"].filter(
        pl.col("note").str.contains("units differ per technology")
    )
    assert excluded.height == len(entities) == 52


# ---------------------------------------------------------------- synthetic tree


def _dataset(
    root: Path,
    folder: str,
    columns: dict[str, object],
    rows: list[list[object]],
    description: str = "",
) -> None:
    d = root / SRC / "datasets" / folder
    d.mkdir(parents=True, exist_ok=True)
    fields = [{"name": "Entity", "type": "string"}, {"name": "Year", "type": "year"}]
    fields += [{"name": c, "type": "any", "owidDisplaySettings": s} for c, s in columns.items()]
    pkg = {
        "name": folder,
        "description": description,
        "resources": [{"path": f"{folder}.csv", "schema": {"fields": fields}}],
    }
    (d / "datapackage.json").write_text(json.dumps(pkg), encoding="utf-8")
    with (d / f"{folder}.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Entity", "Year", *columns])
        w.writerows(rows)


IRENA_COLS = {
    "Total installed cost onshore wind (2019 USD/kW)": "{}",
    "Onshore wind LCOE (2019 USD/kWh)": "{}",
    "Onshore wind capacity factor": "{}",
    "Hydro LCOE (219 USD/kWh)": "{}",
}
IRENA_ROWS = [
    ["Denmark", 1984, 3862, 0.241, 0.2, ""],
    ["Germany", 1984, 3862, 0.241, 0.2, ""],
    ["Sweden", 1984, 3862, 0.24, 0.2, ""],
    ["World", 1984, 3862, 0.2, "", 0.05],
    ["Denmark", 2019, 1400, 0.04, 0.4, ""],
]
ICCT_COLS = {
    c: "{}"
    for c in (
        "total_passenger_vehicle_sales",
        "vehicle_price_eur",
        "battery_electric_share",
        "battery_electric_number",
        "battery_plugin_electric_share",
        "battery_plugin_electric_number",
    )
}
ICCT_ROWS = [
    ["Norway", 2018, 100000, 40000, 31.0, 31000, 49.0, 49000],
    ["Norway", 2019, 100000, 41000, 42.0, 42000, 56.0, 56000],
]


def _tree(root: Path, **override: tuple) -> None:
    specs = {
        owid.D_SOLAR: (
            {
                "Cumulative capacity": json.dumps({"shortUnit": "MW"}),
                "Unit cost": json.dumps({"shortUnit": "$/W"}),
            },
            [["World", 2000, 10, 5.0], ["World", 2001, 20, 4.0]],
            "Prices have been converted to 2019 US$ using the US GDP deflator",
        ),
        owid.D_TRANSISTORS: ({"Transistors per microprocessor": {}}, [["World", 1971, 2308]], ""),
        owid.D_TOP500: (
            {"Floating-Point Operations per Second": "{}"},
            [["World", 1993, 1.24e11]],
            "",
        ),
        owid.D_DNA: (
            {
                "cost_per_mb": json.dumps({"unit": "current US$"}),
                "cost_per_genome": json.dumps({"unit": "current US$"}),
                "base_pairs_per_dollar": json.dumps({"unit": "base pairs"}),
            },
            [["World", 2001, 5292.4, 95263071.9, 188.9]],
            "",
        ),
        owid.D_IRENA_COST: (IRENA_COLS, IRENA_ROWS, ""),
        owid.D_IRENA_CAP: (
            {"Renewable Energy Capacity by Technology (IRENA (2017))": {"unit": "Rate"}},
            [
                ["Solar", 2000, 1000],
                ["Solar", 2001, 1500],
                ["Geothermal", 2000, 10],
                ["Geothermal", 2001, 9],
            ],
            "",
        ),
        owid.D_ICCT: (ICCT_COLS, ICCT_ROWS, ""),
        owid.D_BARBOSE: (
            {
                "Total Installed Price (Barbose & Darghouth (2016))": {"unit": "Constant USD"},
                "Module Price (Barbose & Darghouth (2016))": {"unit": "Percent"},
                "Non-Module Costs (Barbose & Darghouth (2016))": {"unit": "Number"},
            },
            [["United States", 2015, 4.0, 0.78, 3.22]],
            "",
        ),
        owid.D_LEARNING: (
            {"J. Doyne Farmer and François Lafond (2016)": "{}"},
            [["AcrylicFiber", 1960, 132.9], ["AcrylicFiber", 1961, 120.4]],
            "",
        ),
    }
    specs.update(override)
    for folder, (cols, rows, desc) in specs.items():
        _dataset(root, folder, cols, rows, desc)


def _error(root: Path, **override: tuple) -> DataError:
    _tree(root, **override)
    with pytest.raises(DataError) as e:
        owid.read(root)
    assert e.value.source == SRC
    return e.value


def test_synthetic_tree(tmp_path: Path) -> None:
    _tree(tmp_path)
    t = owid.read(tmp_path)
    cost = t["cost_observations"]
    onshore = set(cost.filter(pl.col("series_id") == ONSHORE).select("nation", "year").iter_rows())
    assert onshore == {("WLD", 1984), ("DNK", 2019)}  # DNK/DEU/SWE 1984 = 3862: fill-in
    lcoe = set(
        cost.filter(pl.col("series_id") == ONSHORE_LCOE).select("nation", "year").iter_rows()
    )
    assert lcoe == {("WLD", 1984), ("DNK", 2019)}
    assert cost.filter(pl.col("series_id").str.contains("hydro")).height == 0
    prod = t["production"]
    geo = prod.filter(pl.col("series_id") == f"{SRC}:irena_2017_capacity_geothermal")
    assert geo["year"].to_list() == [2000]
    shares = t["market_shares"].sort("basis", "year")
    assert shares["share"].to_list() == pytest.approx([0.49, 0.56, 0.31, 0.42])
    bev = prod.filter(pl.col("series_id") == f"{SRC}:icct_bev_car_sales").sort("year")
    assert bev["annual_production"].to_list() == [31000, 42000]
    assert bev["cumulative_method"][0] == "initial_stock_lafond2018"
    assert (
        t["technologies"].height == 1 + 2 + 2 + 2 + 2
    )  # solar, perf x2, dna x2, irena x2, lbnl x2
    assert cost.filter(pl.col("series_id") == SOLAR)["unit"].to_list() == [
        "2019 USD/W",
        "2019 USD/W",
    ]


def test_csv_column_not_in_datapackage(tmp_path: Path) -> None:
    _tree(tmp_path)
    csv_path = tmp_path / SRC / "datasets" / owid.D_TOP500 / f"{owid.D_TOP500}.csv"
    csv_path.write_text(
        "Entity,Year,Floating-Point Operations per Second,Extra\nWorld,1993,1e11,1\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError) as e:
        owid.read(tmp_path)
    assert (
        e.value.file.endswith(f"{owid.D_TOP500}.csv")
        and e.value.row == 1
        and e.value.column == "Extra"
    )


def test_invalid_json(tmp_path: Path) -> None:
    _tree(tmp_path)
    pkg = tmp_path / SRC / "datasets" / owid.D_DNA / "datapackage.json"
    pkg.write_text('{\n "name": "x",\n "resources": [\n', encoding="utf-8")
    with pytest.raises(DataError) as e:
        owid.read(tmp_path)
    assert (
        e.value.file == f"datasets/{owid.D_DNA}/datapackage.json"
        and "invalid JSON" in e.value.problem
    )
    assert e.value.row is not None


def test_text_in_value(tmp_path: Path) -> None:
    rows = [["World", 1971, "2.3 thousand"]]
    e = _error(tmp_path, **{owid.D_TRANSISTORS: ({"Transistors per microprocessor": {}}, rows, "")})
    assert (
        e.row == 2 and e.column == "Transistors per microprocessor" and "not a number" in e.problem
    )


def test_negative_cost(tmp_path: Path) -> None:
    rows = [["World", 2001, -5292.4, 95263071.9, 188.9]]
    cols = {c: json.dumps({"unit": "current US$"}) for c in ("cost_per_mb", "cost_per_genome")}
    cols["base_pairs_per_dollar"] = "{}"
    e = _error(tmp_path, **{owid.D_DNA: (cols, rows, "")})
    assert e.row == 2 and e.column == "cost_per_mb" and "positive" in e.problem


def test_duplicate_entity_year(tmp_path: Path) -> None:
    rows = [["World", 1993, 1e11], ["World", 1993, 2e11]]
    e = _error(
        tmp_path, **{owid.D_TOP500: ({"Floating-Point Operations per Second": "{}"}, rows, "")}
    )
    assert e.row == 3 and e.column == "Year" and "duplicate year 1993" in e.problem


def test_unknown_nation(tmp_path: Path) -> None:
    rows = [*IRENA_ROWS, ["Atlantis", 2019, 1500, 0.05, 0.3, ""]]
    e = _error(tmp_path, **{owid.D_IRENA_COST: (IRENA_COLS, rows, "")})
    assert e.row == 7 and e.column == "Entity" and "Atlantis" in e.problem


def test_undeclared_irena_column(tmp_path: Path) -> None:
    cols = {**IRENA_COLS, "Tidal LCOE (2019 USD/kWh)": "{}"}
    rows = [[*r, ""] for r in IRENA_ROWS]
    e = _error(tmp_path, **{owid.D_IRENA_COST: (cols, rows, "")})
    assert e.row == 1 and e.column == "Tidal LCOE (2019 USD/kWh)" and "undeclared" in e.problem


def test_share_disagrees_with_counts(tmp_path: Path) -> None:
    rows = [
        ICCT_ROWS[0],
        ["Norway", 2019, 100000, 41000, 0.42, 42000, 56.0, 56000],
    ]  # a fraction, not %
    e = _error(tmp_path, **{owid.D_ICCT: (ICCT_COLS, rows, "")})
    assert e.row == 3 and e.column == "battery_electric_share" and "percentages" in e.problem


def test_solar_unit_changed(tmp_path: Path) -> None:
    cols = {
        "Cumulative capacity": json.dumps({"shortUnit": "GW"}),
        "Unit cost": json.dumps({"shortUnit": "$/W"}),
    }
    e = _error(tmp_path, **{owid.D_SOLAR: (cols, [["World", 2000, 10, 5.0]], "in 2019 US$")})
    assert (
        e.file == f"datasets/{owid.D_SOLAR}/datapackage.json" and e.column == "Cumulative capacity"
    )


def test_negative_capacity(tmp_path: Path) -> None:
    cols = {"Renewable Energy Capacity by Technology (IRENA (2017))": {"unit": "Rate"}}
    e = _error(tmp_path, **{owid.D_IRENA_CAP: (cols, [["Solar", 2000, -1]], "")})
    assert e.row == 2 and e.column == "Renewable Energy Capacity by Technology (IRENA (2017))"


def test_unknown_capacity_technology(tmp_path: Path) -> None:
    cols = {"Renewable Energy Capacity by Technology (IRENA (2017))": {"unit": "Rate"}}
    e = _error(tmp_path, **{owid.D_IRENA_CAP: (cols, [["Fusion", 2000, 1]], "")})
    assert e.row == 2 and e.column == "Entity" and "Fusion" in e.problem


def test_empty_header_only_and_delimiter(tmp_path: Path) -> None:
    _tree(tmp_path)
    csv_path = tmp_path / SRC / "datasets" / owid.D_TOP500 / f"{owid.D_TOP500}.csv"
    rel = f"datasets/{owid.D_TOP500}/{owid.D_TOP500}.csv"
    for text, what in (
        ("", "empty file"),
        ("Entity,Year,Floating-Point Operations per Second\n", "header only"),
        ("Entity;Year;Floating-Point Operations per Second\nWorld;1993;1e11\n", "wrong delimiter"),
    ):
        csv_path.write_text(text, encoding="utf-8")
        with pytest.raises(DataError) as e:
            owid.read(tmp_path)
        assert e.value.file == rel and what in e.value.problem
