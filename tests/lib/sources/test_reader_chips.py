"""chip_dataset reader: real counts and values, and bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import chip_dataset
from learnrace_pipeline.lib.sources.schema import KEYS, TABLES


@pytest.fixture(scope="module")
def out(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return chip_dataset.read(raw_dir)


@pytest.fixture(scope="module")
def chips(out) -> pl.DataFrame:
    return out["chip_products"]


@pytest.mark.raw
def test_counts_after_exact_duplicates(chips, out):
    assert chips.columns == list(TABLES["chip_products"])
    # 4,945 rows in the file (2,714 GPU, 2,231 CPU); 81 exact repeats dropped
    assert chips.height == 4945 - 81
    assert dict(chips.group_by("chip_type").len().rows()) == {"GPU": 2678, "CPU": 2186}
    assert out["data_notes"].filter(pl.col("note").str.starts_with("exact repeat")).height == 81
    assert chips.select(KEYS["chip_products"]).is_unique().all()


@pytest.mark.raw
def test_repeated_names_are_variants(chips):
    athlon = chips.filter(pl.col("product") == "AMD Athlon 1000").sort("variant")
    assert athlon.select("variant", "release_date", "freq_mhz").rows() == [
        (1, dt.date(2000, 6, 5), 1000.0),
        (2, dt.date(2000, 10, 31), 1000.0),
    ]
    assert chips.filter(pl.col("variant") > 1)["product"].n_unique() == 200


@pytest.mark.raw
def test_release_dates_and_century_pivot(chips):
    assert chips["release_date"].min() == dt.date(1999, 3, 15)  # "3/15/99" -> 1999, NVIDIA NV5
    assert chips["release_date"].max() == dt.date(2024, 1, 8)
    assert chips["release_date"].is_null().sum() == 197
    nv5 = chips.filter(pl.col("product") == "NVIDIA NV5").row(0, named=True)
    assert (nv5["process_nm"], nv5["transistors_million"], nv5["foundry_nation"]) == (
        250.0,
        15.0,
        "TWN",
    )


@pytest.mark.raw
def test_values_units_and_nations(chips, out):
    rtx = chips.filter(pl.col("product") == "NVIDIA GeForce RTX 4090").row(0, named=True)
    assert (rtx["process_nm"], rtx["die_mm2"], rtx["transistors_million"], rtx["freq_mhz"]) == (
        5.0,
        609.0,
        76300.0,
        2235.0,
    )
    assert (
        rtx["foundry"] == "TSMC"
        and rtx["foundry_nation"] == "TWN"
        and rtx["vendor_nation"] == "USA"
    )
    assert dict(chips.group_by("foundry_nation").len().rows()) == {
        "TWN": 2259,
        "USA": 1848,
        None: 595,
        "JPN": 30,
        "KOR": 132,
    }
    assert chips["transistors_million"].is_not_null().sum() == 4065
    notes = out["data_notes"]
    assert notes.filter(pl.col("note").str.contains("node-refinement suffix")).height == 58
    assert (
        notes.filter(pl.col("note").str.contains("multi-die package")).height
        == chips.filter(pl.col("n_dies") > 1).height
        == 136
    )
    assert notes.filter(pl.col("note").str.contains("holds MHz values")).height == 1
    assert notes.filter(pl.col("note").str.contains("licence unknown")).height == 1
    assert "unknown" in chip_dataset.INFO.licence.lower()


HEAD = "Product,Type,Release Date,Process Size (nm),TDP (W),Die Size (mm^2),Transistors (million),Freq (GHz),Foundry,Vendor,FP16 GFLOPS,FP32 GFLOPS,FP64 GFLOPS\n"


def _write(tmp_path: Path, body: str) -> Path:
    (tmp_path / "chip_dataset").mkdir(exist_ok=True)
    (tmp_path / "chip_dataset" / "chip_dataset.csv").write_text(HEAD + body, encoding="utf-8")
    return tmp_path


def test_synthetic_parsing(tmp_path):
    _write(
        tmp_path,
        "Chip A,GPU,1/2/99,14+++,unknown,2x 74,NaN,1500,Samsung,NVIDIA,,100.5,\n"
        "Chip A,GPU,1/2/99,14+++,unknown,2x 74,NaN,1500,Samsung,NVIDIA,,100.5,\n"
        'Chip A,GPU,,7,250,300,"1,000",1800,,AMD,,,\n'
        "Chip B,CPU,12/31/70,28,95,160,1400,3200,Intel,Intel,,,\n",
    )
    out = chip_dataset.read(tmp_path)
    df = out["chip_products"]
    assert df.select(
        "product",
        "variant",
        "release_date",
        "process_nm",
        "tdp_w",
        "die_mm2",
        "n_dies",
        "transistors_million",
        "foundry_nation",
    ).rows() == [
        ("Chip A", 1, dt.date(1999, 1, 2), 14.0, None, 74.0, 2, None, "KOR"),
        ("Chip A", 2, None, 7.0, 250.0, 300.0, 1, 1000.0, None),
        ("Chip B", 1, dt.date(1970, 12, 31), 28.0, 95.0, 160.0, 1, 1400.0, "USA"),
    ]
    notes = out["data_notes"]
    assert notes.filter(pl.col("note") == "exact repeat of row 2 dropped")["row"].to_list() == [3]
    assert notes.filter(pl.col("raw_value") == "1,000")["note"][0] == "thousands separators removed"


@pytest.mark.parametrize(
    ("date", "match"),
    [
        ("6/5/2000", "not M/D/YY"),
        ("2000-06-05", "not M/D/YY"),
        ("13/40/05", "impossible"),
        ("1/1/69", "future"),
    ],
)
def test_bad_release_dates(tmp_path, date, match):
    _write(tmp_path, f"Chip,CPU,{date},28,95,160,1400,3200,Intel,Intel,,,\n")
    with pytest.raises(DataError, match=match) as e:
        chip_dataset.read(tmp_path)
    assert (e.value.row, e.value.column) == (2, "Release Date")


def test_unknown_foundry_vendor_and_text_refused(tmp_path):
    _write(tmp_path, "Chip,CPU,1/1/05,28,95,160,1400,3200,Acme Fab,Intel,,,\n")
    with pytest.raises(DataError, match="unknown foundry 'Acme Fab'"):
        chip_dataset.read(tmp_path)
    _write(tmp_path, "Chip,CPU,1/1/05,28,95,160,1400,3200,TSMC,Acme,,,\n")
    with pytest.raises(DataError, match="unknown vendor 'Acme'"):
        chip_dataset.read(tmp_path)
    _write(tmp_path, "Chip,CPU,1/1/05,28,ninety,160,1400,3200,TSMC,AMD,,,\n")
    with pytest.raises(DataError, match="not a number") as e:
        chip_dataset.read(tmp_path)
    assert (e.value.row, e.value.column) == (2, "TDP (W)")
    _write(tmp_path, "Chip,NPU,1/1/05,28,95,160,1400,3200,TSMC,AMD,,,\n")
    with pytest.raises(DataError, match="not CPU or GPU"):
        chip_dataset.read(tmp_path)
