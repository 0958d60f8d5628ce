"""Tests of the farmer_lafond_alstott reader: real files (marked raw) and synthetic bad inputs."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import farmer_lafond_alstott as fl
from learnrace_pipeline.lib.sources import pcdb_carnegie
from learnrace_pipeline.lib.sources.farmer_lafond_alstott import magee

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
    is_magee = pl.col("series_id").str.starts_with(f"{SRC}:magee_")
    tech, cost = tables["technologies"], tables["cost_observations"]
    # 52 cost columns of the original file in this copy (66 upstream); 29 Magee series
    assert tech.height == 81 and tech.filter(~is_magee).height == 52
    assert cost.height == 1364 and cost.filter(~is_magee).height == 997
    years = cost.filter(~is_magee)["year"]
    assert (years.min(), years.max()) == (1929, 2013)
    years = cost.filter(is_magee)["year"]
    assert (years.min(), years.max()) == (1881, 2012)  # electric motors to milling machines


@pytest.mark.raw
def test_magee_skipped_by_type(tables: dict[str, pl.DataFrame]) -> None:
    skipped = tables["data_notes"].filter(pl.col("note").str.starts_with(magee.SKIP_PREFIX))
    by_type = dict(
        skipped.select(pl.col("note").str.extract(r"\(type (\w+),")).group_by("note").len().rows()
    )
    assert by_type == {
        "Price": 25,
        "Price_Questionable": 2,
        "Performance_Questionable": 7,
        "Performance": 1,  # 02C, the envelope of 02A and 02B
    }
    c02 = skipped.filter(pl.col("raw_value") == next(iter(magee.DERIVED)))
    assert c02.height == 1 and "upper envelope" in c02["note"][0]
    mips = skipped.filter(pl.col("raw_value") == "electronic_computation_mips")
    assert "flagged questionable upstream" in mips["note"][0]
    price = skipped.filter(pl.col("raw_value") == "batteries_wh_$")
    assert "unstated year" in price["note"][0] and "'Wh/$'" in price["note"][0]
    assert set(skipped["file"]) == {fl.META_FILE}


@pytest.mark.raw
def test_magee_performance_series(tables: dict[str, pl.DataFrame]) -> None:
    """Values as in data/time_series.csv, world level, performance, canonical units."""
    tech = tables["technologies"].filter(pl.col("series_id").str.starts_with(f"{SRC}:magee_"))
    assert set(tech["metric_kind"]) == {"performance"}
    assert tech["production_unit"].is_null().all()
    units = dict(zip(tech["series_id"], tech["unit"], strict=True))
    techs = dict(zip(tech["series_id"], tech["technology"], strict=True))
    inds = dict(zip(tech["series_id"], tech["industry"], strict=True))
    mem = "magee_integrated_circuit_memory_transistors_per_die"
    cps = "magee_computation_electronic_CPS"
    assert units[f"{SRC}:{mem}"] == "transistor" and inds[f"{SRC}:{mem}"] == "semiconductors"
    assert units[f"{SRC}:{cps}"] == "calculation/s" and inds[f"{SRC}:{cps}"] == "computing"
    assert units[f"{SRC}:magee_camera_sensitivity_mv_micro_sqm"] == "mV/um2"
    assert units[f"{SRC}:magee_MRI_mm_sec_resolution"] == "1/(mm*s)"
    assert units[f"{SRC}:magee_superconductivity_critical_temperature"] == "K"
    assert units[f"{SRC}:magee_02B_magnetic_memory_harddisk_mbits_per_cc"] == "Mbit/cm3"
    assert units[f"{SRC}:magee_batteries_wh_lit_energy_density"] == "Wh/L"
    assert techs[f"{SRC}:magee_integrated_circuit_microprocessor_transistors_per_die"] == (
        "microprocessor"  # the technology of OWID's transistor counts: one is kept per fit
    )
    assert _cost(tables, mem, 1959) == 1.0
    assert _cost(tables, mem, 2007) == 3.5e9
    assert _cost(tables, cps, 1943) == 561.8042406404024
    assert _cost(tables, cps, 2002) == 1000000000000005.9
    assert _cost(tables, "magee_superconductivity_critical_temperature", 1987) == 93.0
    assert _cost(tables, "magee_batteries_wh_kg_energy_density", 1884) == 4.13
    assert _cost(tables, "magee_camera_sensitivity_mv_micro_sqm", 2008) == 60.0
    cost = tables["cost_observations"].filter(pl.col("series_id").str.starts_with(f"{SRC}:magee_"))
    assert set(cost["nation"]) == {"WLD"} and cost["price_basis_year"].is_null().all()
    assert cost.filter(pl.col("series_id") == f"{SRC}:{mem}").height == 20
    assert not cost["series_id"].str.contains("02C_").any()


@pytest.mark.raw
def test_magee_02c_is_the_envelope(raw_dir: Path) -> None:
    """The claim behind skipping 02C, on the file itself."""
    rows = list(csv.reader((raw_dir / SRC / fl.TS_FILE).open(encoding="utf-8")))
    h = rows[0]
    (c, (a, b)) = next(iter(magee.DERIVED.items()))
    ja, jb, jc = h.index(a), h.index(b), h.index(c)
    n = 0
    for r in rows[1:]:
        if r[jc].strip():
            have = [float(r[j]) for j in (ja, jb) if r[j].strip()]
            assert float(r[jc]) == max(have)
            n += 1
    assert n == 25


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
    "batteries_wh_kg_energy_density,wh/kg,Magee_et_al,Performance,3.0,1884.0,1901.0,BATTERIES\n"
    "electronic_computation_mips,MIPS,Magee_et_al,Performance_Questionable,1.0,1943.0,1943.0,X\n"
)
DATA = "YEAR,Phenol,Milk (US)\n,1966 USD/lbs,Heads/Mil.lbs\n,1,5\n1960,14.9,221.8\n1961,14.6\n"
# time_series.csv: year column (empty header), then series; rows 2..5
TS = (
    ",Phenol,batteries_wh_$,batteries_wh_kg_energy_density,electronic_computation_mips\n"
    "1884.0,,,4.13,\n"
    "1901.0,,0.5,8.7,\n"
    "1911.0,,,12.2,\n"
    "1960.0,0.0671,,,x\n"
)
BAT = f"{SRC}:magee_batteries_wh_kg_energy_density"


def _tree(tmp_path: Path, data: str = DATA, meta: str = META, ts: str = TS) -> None:
    d = tmp_path / SRC / "data" / "original"
    d.mkdir(parents=True, exist_ok=True)
    (d / "Farmer_Lafond_Data.csv").write_text(data, encoding="utf-8")
    (tmp_path / SRC / "data" / "time_series_metadata.csv").write_text(meta, encoding="utf-8")
    (tmp_path / SRC / "data" / "time_series.csv").write_text(ts, encoding="utf-8")


def _error(tmp_path: Path, **kw: str) -> DataError:
    _tree(tmp_path, **kw)
    with pytest.raises(DataError) as e:
        fl.read(tmp_path)
    assert e.value.source == SRC
    return e.value


def test_synthetic_good_tree(tmp_path: Path) -> None:
    _tree(tmp_path)
    t = fl.read(tmp_path)
    assert t["technologies"].height == 3 and t["cost_observations"].height == 6
    milk = t["technologies"].filter(pl.col("series_id") == f"{SRC}:Milk (US)")
    assert milk["unit"][0] == "head/million lb" and milk["metric_kind"][0] == "input_per_output"
    assert "category code 5" in milk["description"][0]
    bat = t["technologies"].filter(pl.col("series_id") == BAT).row(0, named=True)
    assert (bat["technology"], bat["industry"], bat["unit"], bat["metric_kind"]) == (
        "battery_wh_per_kg",
        "batteries",
        "Wh/kg",
        "performance",
    )
    cost = t["cost_observations"].filter(pl.col("series_id") == BAT).sort("year")
    assert cost["year"].to_list() == [1884, 1901, 1911]
    assert cost["unit_cost"].to_list() == [4.13, 8.7, 12.2]
    assert set(cost["nation"]) == {"WLD"}


def test_synthetic_skip_notes(tmp_path: Path) -> None:
    """Price and *_Questionable Magee series are noted with their type and the reason; the
    metadata's n that differs from the column is noted too."""
    _tree(tmp_path, meta=META.replace("Performance,3.0,", "Performance,4.0,"))
    notes = fl.read(tmp_path)["data_notes"]
    skipped = notes.filter(pl.col("note").str.starts_with(magee.SKIP_PREFIX))
    by_name = dict(zip(skipped["raw_value"], skipped["note"], strict=True))
    assert set(by_name) == {"batteries_wh_$", "electronic_computation_mips"}
    assert "type Price," in by_name["batteries_wh_$"]
    assert "unstated year" in by_name["batteries_wh_$"]
    assert "type Performance_Questionable," in by_name["electronic_computation_mips"]
    assert "questionable upstream" in by_name["electronic_computation_mips"]
    assert skipped["row"].to_list() == [4, 6] and set(skipped["column"]) == {"Name"}
    n_note = notes.filter(pl.col("note").str.starts_with("metadata states n=4"))
    assert n_note.height == 1 and n_note["row"][0] == 5 and n_note["column"][0] == "n"


def test_magee_text_in_value(tmp_path: Path) -> None:
    e = _error(tmp_path, ts=TS.replace(",8.7,", ",8.7 Wh,"))
    assert (e.file, e.row, e.column) == (fl.TS_FILE, 3, "batteries_wh_kg_energy_density")
    assert "not a number" in e.problem


def test_magee_non_positive_value(tmp_path: Path) -> None:
    for bad in ("0", "-8.7"):
        e = _error(tmp_path, ts=TS.replace(",8.7,", f",{bad},"))
        assert (e.file, e.row, e.column) == (fl.TS_FILE, 3, "batteries_wh_kg_energy_density")
        assert "performance must be positive" in e.problem


def test_magee_duplicate_year(tmp_path: Path) -> None:
    e = _error(tmp_path, ts=TS + "1901.0,,,9.1,\n")
    assert (e.file, e.row, e.column) == (fl.TS_FILE, 6, "column 1 (year)")
    assert "duplicate year 1901 (first at row 3)" in e.problem


def test_magee_column_without_metadata(tmp_path: Path) -> None:
    e = _error(tmp_path, ts=TS.replace("electronic_computation_mips", "mystery_series"))
    assert (e.file, e.row, e.column) == (fl.TS_FILE, 1, "mystery_series")
    assert "no row in data/time_series_metadata.csv" in e.problem


def test_magee_unknown_unit(tmp_path: Path) -> None:
    e = _error(tmp_path, meta=META.replace(",wh/kg,", ",furlongs/fortnight,"))
    assert (e.file, e.row, e.column) == (fl.META_FILE, 5, "Units")
    assert "unknown unit 'furlongs/fortnight'" in e.problem


def test_magee_performance_series_missing_from_file(tmp_path: Path) -> None:
    ts = "\n".join(",".join(r.split(",")[:3]) for r in TS.splitlines()) + "\n"
    e = _error(tmp_path, ts=ts)
    assert (e.file, e.row, e.column) == (fl.META_FILE, 5, "Name")
    assert "not a column of data/time_series.csv" in e.problem


def test_magee_unknown_type(tmp_path: Path) -> None:
    e = _error(tmp_path, meta=META.replace("Performance_Questionable", "Vibes"))
    assert (e.file, e.row, e.column) == (fl.META_FILE, 6, "Type")


def test_magee_unknown_technology(tmp_path: Path) -> None:
    name = "unobtainium_per_kg"
    e = _error(
        tmp_path,
        meta=META.replace("batteries_wh_kg_energy_density", name),
        ts=TS.replace("batteries_wh_kg_energy_density", name),
    )
    assert (e.file, e.row, e.column) == (fl.TS_FILE, 1, name) and "taxonomy" in e.problem


def test_magee_year_not_a_year(tmp_path: Path) -> None:
    e = _error(tmp_path, ts=TS.replace("1911.0,", "1911.5,"))
    assert (e.file, e.row, e.column) == (fl.TS_FILE, 4, "column 1 (year)")


def test_magee_wrong_delimiter(tmp_path: Path) -> None:
    e = _error(tmp_path, ts=TS.replace(",", ";"))
    assert e.file == fl.TS_FILE and e.row == 1 and "wrong delimiter" in e.problem


ENVELOPE_META = (
    "02A_magnetic_memory_tape_mbits_per_cc,mbits/cc,Magee_et_al,Performance,2.0,1952.0,1955.0,M\n"
    "02B_magnetic_memory_harddisk_mbits_per_cc,mbit/cc,Magee_et_al,Performance,2.0,1952.0,1955.0,M\n"
    "02C_magnetic_memory_tape_harddisk_mbits_per_cc,mbits/cc,Magee_et_al,Performance,2.0,1952.0,"
    "1955.0,M\n"
)
ENVELOPE_TS = (
    ",02A_magnetic_memory_tape_mbits_per_cc,02B_magnetic_memory_harddisk_mbits_per_cc,"
    "02C_magnetic_memory_tape_harddisk_mbits_per_cc\n"
    "1952.0,0.172,0.1,0.172\n"
    "1955.0,0.343,0.5,0.5\n"
)


def test_magee_envelope_skipped_and_checked(tmp_path: Path) -> None:
    _tree(tmp_path, meta=META.split("batteries_wh_$")[0] + ENVELOPE_META, ts=ENVELOPE_TS)
    t = fl.read(tmp_path)
    ids = set(t["technologies"]["series_id"])
    assert f"{SRC}:magee_02A_magnetic_memory_tape_mbits_per_cc" in ids
    assert not any("02C" in i for i in ids)
    note = t["data_notes"].filter(pl.col("raw_value").str.starts_with("02C"))
    assert note.height == 1 and "upper envelope" in note["note"][0] and note["row"][0] == 6
    e = _error(
        tmp_path,
        meta=META.split("batteries_wh_$")[0] + ENVELOPE_META,
        ts=ENVELOPE_TS.replace("0.5,0.5\n", "0.5,0.6\n"),
    )
    assert (e.file, e.row, e.column) == (
        fl.TS_FILE,
        3,
        "02C_magnetic_memory_tape_harddisk_mbits_per_cc",
    )
    assert "upper envelope" in e.problem


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


def test_metadata_name_twice(tmp_path: Path) -> None:
    e = _error(tmp_path, meta=META + "batteries_wh_$,Wh/$,Magee_et_al,Price,1.0,1950.0,1950.0,B\n")
    assert (e.file, e.row, e.column) == (fl.META_FILE, 7, "Name") and "twice" in e.problem


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
