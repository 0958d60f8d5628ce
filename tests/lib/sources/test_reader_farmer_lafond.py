"""Tests of the farmer_lafond_alstott reader: real files (marked raw) and synthetic bad inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import farmer_lafond_alstott as fl
from learnrace_pipeline.lib.sources import pcdb_carnegie

SRC = "farmer_lafond_alstott"


@pytest.fixture(scope="module")
def tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return fl.read(raw_dir)


def _cost(tables: dict[str, pl.DataFrame], name: str, year: int) -> float:
    s = tables["cost_observations"].filter(
        pl.col("series_id") == f"{SRC}:{name}", pl.col("year") == year
    )
    assert s.height == 1, (name, year)
    return s["unit_cost"][0]


# ---------------------------------------------------------------- real files


@pytest.mark.raw
def test_counts(tables: dict[str, pl.DataFrame]) -> None:
    assert set(tables) == {"technologies", "cost_observations", "data_notes"}
    assert tables["technologies"].height == 52  # 52 cost columns in this copy (66 upstream)
    assert tables["cost_observations"].height == 997
    notes = tables["data_notes"]
    assert (
        notes.filter(pl.col("note").str.starts_with("Magee et al. (2016) series skipped")).height
        == 64
    )
    years = tables["cost_observations"]["year"]
    assert (years.min(), years.max()) == (1929, 2013)


@pytest.mark.raw
def test_file_is_ascii(raw_dir: Path) -> None:
    for rel in (fl.DATA_FILE, fl.META_FILE, "data/time_series.csv"):
        (raw_dir / SRC / rel).read_bytes().decode("ascii")  # raises if a byte is not ASCII


@pytest.mark.raw
def test_known_values_and_units(tables: dict[str, pl.DataFrame]) -> None:
    tech = tables["technologies"]
    units = dict(zip(tech["series_id"], tech["unit"], strict=True))
    assert units[f"{SRC}:Photovoltaics"] == "2013 USD/Wp"
    assert units[f"{SRC}:DNA Sequencing"] == "2013 USD/genome"
    assert units[f"{SRC}:Beer (Japan)"] == "1955 JPY/unit"
    assert units[f"{SRC}:DRAM"] == "2005 USD/kbit"
    assert units[f"{SRC}:Milk (US)"] == "head/million lb"
    assert units[f"{SRC}:Concentrating Solar"] == "USD/kWh"
    assert _cost(tables, "Photovoltaics", 2013) == pytest.approx(0.821315)
    assert _cost(tables, "DNA Sequencing", 2013) == pytest.approx(5096.08)
    assert _cost(tables, "Primary Aluminum", 1929) == pytest.approx(0.472)
    assert _cost(tables, "Milk (US)", 1930) == pytest.approx(221.8354999)
    kinds = dict(zip(tech["series_id"], tech["metric_kind"], strict=True))
    assert kinds[f"{SRC}:Automotive (US)"] == "input_per_output"
    assert kinds[f"{SRC}:Corn (US)"] == "input_per_output"
    assert kinds[f"{SRC}:Photovoltaics"] == "price"
    assert sum(k == "input_per_output" for k in kinds.values()) == 3
    cost = tables["cost_observations"]
    assert (
        cost.filter(pl.col("series_id") == f"{SRC}:Concentrating Solar")["price_basis_year"]
        .is_null()
        .all()
    )
    nations = dict(cost.select("series_id", "nation").unique().iter_rows())
    assert nations[f"{SRC}:Wind Turbine (Denmark)"] == "DNK"
    assert nations[f"{SRC}:Beer (Japan)"] == "JPN"
    assert tech["production_unit"].is_null().all()


@pytest.mark.raw
def test_cents_converted(raw_dir: Path, tables: dict[str, pl.DataFrame]) -> None:
    rows = list(csv.reader((raw_dir / SRC / fl.DATA_FILE).open(encoding="utf-8")))
    j = rows[0].index("Geothermal Electricity")
    first = next(r for r in rows[3:] if j < len(r) and r[j].strip())
    assert _cost(tables, "Geothermal Electricity", int(first[0])) == pytest.approx(
        float(first[j]) / 100
    )


@pytest.mark.raw
def test_time_series_is_reciprocal_of_original(
    raw_dir: Path, tables: dict[str, pl.DataFrame]
) -> None:
    """time_series.csv (not read) holds 1/price for a subset of the original points."""
    rows = list(csv.reader((raw_dir / SRC / "data/time_series.csv").open(encoding="utf-8")))
    header = rows[0]
    ours = {
        (sid.split(":", 1)[1], y): v
        for sid, y, v in tables["cost_observations"]
        .select("series_id", "year", "unit_cost")
        .iter_rows()
    }
    cents = {"Geothermal Electricity", "Concentrating Solar"}
    checked = 0
    for r in rows[1:]:
        y = int(float(r[0]))
        for j, name in enumerate(header[1:], start=1):
            if (name, y) not in ours or not r[j].strip():
                continue
            original = ours[(name, y)] * (100 if name in cents else 1)
            assert float(r[j]) == pytest.approx(1 / original, rel=1e-6), (name, y)
            checked += 1
    assert checked == 983


@pytest.mark.raw
def test_cross_check_with_pcdb(raw_dir: Path, tables: dict[str, pl.DataFrame]) -> None:
    """The DRAM and Wind Turbine (Denmark) prices equal the PCDB files' (same upstream data)."""
    pcdb = pcdb_carnegie.read(raw_dir)["cost_observations"]
    for ours, theirs in (("DRAM", "DRAM"), ("Wind Turbine (Denmark)", "Wind_Turbine_(Denmark)")):
        a = (
            tables["cost_observations"]
            .filter(pl.col("series_id") == f"{SRC}:{ours}")
            .select("year", "unit_cost", "unit")
        )
        b = pcdb.filter(pl.col("series_id") == f"pcdb_carnegie:{theirs}").select(
            "year", "unit_cost", "unit"
        )
        assert a.sort("year").equals(b.sort("year")), ours


# ---------------------------------------------------------------- synthetic files

META = (
    "Name,Units,Source,Type,n,Start,Stop,Domain\n"
    "Phenol,1966 USD/lbs,Farmer_Lafond,Price,2.0,1960.0,1961.0,\n"
    "Milk (US),Heads/Mil.lbs,Farmer_Lafond,Performance,2.0,1960.0,1961.0,\n"
    "batteries_wh_$,Wh/$,Magee_et_al,Price,22.0,1950.0,2005.0,BATTERIES\n"
)
DATA = "YEAR,Phenol,Milk (US)\n,1966 USD/lbs,Heads/Mil.lbs\n,1,5\n1960,14.9,221.8\n1961,14.6\n"


def _tree(tmp_path: Path, data: str = DATA, meta: str = META) -> None:
    d = tmp_path / SRC / "data" / "original"
    d.mkdir(parents=True, exist_ok=True)
    (d / "Farmer_Lafond_Data.csv").write_text(data, encoding="utf-8")
    (tmp_path / SRC / "data" / "time_series_metadata.csv").write_text(meta, encoding="utf-8")


def _error(tmp_path: Path, **kw: str) -> DataError:
    _tree(tmp_path, **kw)
    with pytest.raises(DataError) as e:
        fl.read(tmp_path)
    assert e.value.source == SRC
    return e.value


def test_synthetic_good_tree(tmp_path: Path) -> None:
    _tree(tmp_path)
    t = fl.read(tmp_path)
    assert t["technologies"].height == 2 and t["cost_observations"].height == 3
    milk = t["technologies"].filter(pl.col("series_id") == f"{SRC}:Milk (US)")
    assert milk["unit"][0] == "head/million lb" and milk["metric_kind"][0] == "input_per_output"
    assert "category code 5" in milk["description"][0]
    notes = t["data_notes"]
    assert notes.filter(pl.col("note").str.starts_with("Magee")).height == 1


def test_text_in_value(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA.replace("1961,14.6", "1961,n/a?"))
    assert (
        e.file == fl.DATA_FILE
        and e.row == 5
        and e.column == "Phenol"
        and "not a number" in e.problem
    )


def test_negative_value(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA.replace("1961,14.6", "1961,-14.6"))
    assert (
        e.file == fl.DATA_FILE and e.row == 5 and e.column == "Phenol" and "positive" in e.problem
    )


def test_duplicate_year(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA + "1961,14.1\n")
    assert (
        e.file == fl.DATA_FILE
        and e.row == 6
        and e.column == "YEAR"
        and "duplicate year 1961" in e.problem
    )


def test_value_beyond_last_column(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA.replace("1961,14.6", "1961,14.6,,99"))
    assert e.file == fl.DATA_FILE and e.row == 5 and "beyond the last named column" in e.problem


def test_unknown_unit_in_units_row(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA.replace(",1966 USD/lbs,", ",1966 Ducats/lbs,"))
    assert (
        e.file == fl.DATA_FILE
        and e.row == 2
        and e.column == "Phenol"
        and "unknown unit" in e.problem
    )


def test_non_integer_category(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA.replace("\n,1,5\n", "\n,1,x\n"))
    assert e.file == fl.DATA_FILE and e.row == 3 and e.column == "Milk (US)"


def test_wrong_delimiter(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA.replace(",", ";"))
    assert e.file == fl.DATA_FILE and e.row == 1 and "wrong delimiter" in e.problem


def test_header_only_and_empty(tmp_path: Path) -> None:
    e = _error(tmp_path, data="YEAR,Phenol\n")
    assert e.file == fl.DATA_FILE and "header only" in e.problem
    e = _error(tmp_path, data="")
    assert e.file == fl.DATA_FILE and "empty file" in e.problem


def test_unknown_technology(tmp_path: Path) -> None:
    e = _error(tmp_path, data=DATA.replace("YEAR,Phenol", "YEAR,Unobtainium"))
    assert (
        e.file == fl.DATA_FILE
        and e.row == 1
        and e.column == "Unobtainium"
        and "taxonomy" in e.problem
    )


def test_metadata_unknown_source(tmp_path: Path) -> None:
    e = _error(tmp_path, meta=META.replace("Magee_et_al", "Somebody"))
    assert e.file == fl.META_FILE and e.row == 4 and e.column == "Source"


def test_metadata_missing_column(tmp_path: Path) -> None:
    e = _error(tmp_path, meta=META.replace("Domain", "Area"))
    assert e.file == fl.META_FILE and e.row == 1 and e.column == "Domain"


def test_not_utf8(tmp_path: Path) -> None:
    _tree(tmp_path)
    p = tmp_path / SRC / fl.DATA_FILE
    p.write_bytes(DATA.replace("Phenol", "Ph\xe9nol").encode("latin-1"))
    with pytest.raises(DataError) as e:
        fl.read(tmp_path)
    assert e.value.file == fl.DATA_FILE and e.value.row == 1 and "not valid" in e.value.problem
