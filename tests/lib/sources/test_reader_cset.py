"""CSET/ETO semiconductor supply-chain reader: real shares, licence flag, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import cset_eto_supply_chain as cset
from learnrace_pipeline.lib.sources.base import Notes
from learnrace_pipeline.lib.sources.schema import TABLES


def test_licence_is_non_commercial():
    assert cset.INFO.non_commercial is True
    assert "CC BY-NC 4.0" in cset.INFO.licence
    assert "NON-COMMERCIAL" in cset.INFO.licence


@pytest.fixture(scope="module")
def out(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return cset.read(raw_dir)


def _share(ms: pl.DataFrame, basis: str, nation: str) -> float:
    sel = ms.filter((pl.col("basis") == f"supply_chain:{basis}") & (pl.col("nation") == nation))
    assert sel.height == 1, (basis, nation)
    return sel["share"][0]


@pytest.mark.raw
def test_market_shares(out):
    ms = out["market_shares"]
    assert ms.columns == list(TABLES["market_shares"])
    assert ms.height == 199  # country rows with a share
    assert set(ms["year"]) == {2019}
    assert set(ms["industry"]) == {"semiconductors"} and set(ms["technology"]) == {
        "semiconductor_supply_chain"
    }
    assert _share(ms, "Design", "USA") == pytest.approx(0.61)
    assert _share(ms, "Design", "OTHER") == pytest.approx(0.09)  # "Various"
    assert _share(ms, "Fabrication", "TWN") == pytest.approx(0.47)
    assert _share(ms, "Assembly, testing, and packaging (ATP)", "MYS") == pytest.approx(
        0.02
    )  # "MAL"
    assert _share(ms, "EUV scanners", "NLD") == 1.0
    assert _share(ms, "Electronic design automation software", "USA") == pytest.approx(0.96)
    # N64 is named differently in provision.csv; the inputs.csv name is used
    assert _share(ms, "Process monitoring equipment", "KOR") == pytest.approx(0.10)
    design = ms.filter(pl.col("basis") == "supply_chain:Design")["share"].sum()
    assert design == pytest.approx(1.0)


@pytest.mark.raw
def test_provision_table(out):
    prov = out["supply_chain_provision"]
    assert prov.columns == list(TABLES["supply_chain_provision"])
    assert prov.height == 659  # 660 rows, one exact repeat (Powertech -> ATP) dropped
    counts = dict(prov.group_by("provider_type").len().rows())
    assert counts == {"country": 269, "organization": 390}
    firm_shares = prov.filter(
        (pl.col("provider_type") == "organization") & pl.col("share").is_not_null()
    )
    assert firm_shares.height == 7
    asml = prov.filter(
        (pl.col("provider_name") == "ASML") & (pl.col("provided_name") == "EUV scanners")
    ).row(0, named=True)
    assert (asml["share"], asml["provider_nation"], asml["provided_kind"]) == (
        1.0,
        "NLD",
        "tool_resource",
    )
    assert prov.filter(pl.col("negligible")).height == 73
    assert prov.filter(pl.col("negligible"))["share"].is_null().all()


@pytest.mark.raw
def test_notes(out):
    notes = out["data_notes"]
    assert notes.filter(pl.col("note").str.contains("exact repeat")).height == 1
    sums = notes.filter(pl.col("note").str.contains("sum to"))
    assert sums.height == 17
    assert sums.filter(pl.col("note").str.contains("'Dicing tools' sum to 104%")).height == 1
    assert notes.filter(pl.col("note").str.contains("dated 2019")).height == 2


def _copy(raw_dir: Path, tmp_path: Path) -> Path:
    shutil.copytree(raw_dir / cset.SOURCE / "data", tmp_path / cset.SOURCE / "data")
    return tmp_path / cset.SOURCE / "data"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8-sig")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.raw
@pytest.mark.parametrize(
    ("old", "new", "match", "row"),
    [
        ("USA,P1,Design,S1,61%,", "USA,P1,Design,S1,61,", "not a percentage", 2),
        ("USA,P1,Design,S1,61%,", "USA,P1,Design,S1,sixty%,", "not a number", 2),
        ("USA,P1,Design,S1,61%,", "USA,P1,Design,S1,161%,", "outside 0-100%", 2),
        ("USA,P1,Design,S1,61%,", "USA,P999,Design,S1,61%,", "not in data/providers.csv", 2),
        ("USA,P1,Design,S1,61%,", "USA,P1,Design,S9,61%,", "not in data/inputs.csv", 2),
        (
            "USA,P1,Design,S1,61%,",
            "USA,P1,Design,S1,61%,negligible",
            "share and the negligible flag",
            2,
        ),
    ],
)
def test_bad_provision_rows(raw_dir, tmp_path, old, new, match, row):
    data = _copy(raw_dir, tmp_path)
    _edit(data / "provision.csv", old, new)
    with pytest.raises(DataError, match=match) as e:
        cset.read(tmp_path)
    assert (e.value.file, e.value.row) == (cset.PROVISION, row)


@pytest.mark.raw
def test_unknown_country_code_refused(raw_dir, tmp_path):
    data = _copy(raw_dir, tmp_path)
    _edit(data / "providers.csv", "Intel,P9,organization,USA", "Intel,P9,organization,XXA")
    with pytest.raises(DataError, match="unknown country code 'XXA'") as e:
        cset.read(tmp_path)
    assert (e.value.file, e.value.column) == (cset.PROVIDERS, "country")


def test_read_share():
    n = Notes(cset.SOURCE)
    assert cset.read_share("61%", file="f", row=2, notes=n) == pytest.approx(0.61)
    assert cset.read_share(" 100% ", file="f", row=2, notes=n) == 1.0
    assert cset.read_share("", file="f", row=2, notes=n) is None
    with pytest.raises(DataError):
        cset.read_share("-5%", file="f", row=2, notes=n)
