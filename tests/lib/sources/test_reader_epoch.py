"""Epoch AI reader: real counts and maxima (shared/notes/data-av-ai.md, section B) and bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import epoch_ai
from learnrace_pipeline.lib.sources.base import Notes
from learnrace_pipeline.lib.sources.schema import TABLES


@pytest.fixture(scope="module")
def out(raw_dir: Path) -> dict[str, pl.DataFrame]:
    return epoch_ai.read(raw_dir)


@pytest.fixture(scope="module")
def notable(out) -> pl.DataFrame:
    """The models of the notable file (alone or in both files)."""
    return out["ai_models"].filter(pl.col("dataset").is_in(["notable", "both"]))


@pytest.fixture(scope="module")
def large(out) -> pl.DataFrame:
    """The models of the large-scale file (alone or in both files)."""
    return out["ai_models"].filter(pl.col("dataset").is_in(["large_scale", "both"]))


def _model(df: pl.DataFrame, name: str) -> dict:
    sel = df.filter(pl.col("model") == name)
    assert sel.height == 1, name
    return sel.row(0, named=True)


@pytest.mark.raw
def test_row_counts_and_schema(out, notable, large):
    assert out["ai_models"].columns == list(TABLES["ai_models"])
    assert notable.height == 889
    assert large.height == 231
    assert out["ai_models"].height == 889 + 231 - 87  # 87 models in both files, counted once
    assert notable["publication_date"].min() == dt.date(1950, 7, 2)
    assert notable["publication_date"].max() == dt.date(2024, 6, 25)
    assert large["publication_date"].min() == dt.date(2017, 10, 18)


@pytest.mark.raw
def test_missing_compute_kept_as_null(notable, large):
    assert notable["training_compute_flop"].is_null().sum() == 438  # 49% of 889
    assert large["training_compute_flop"].is_null().sum() == 85
    assert _model(notable, "Theseus")["training_compute_flop"] == 40.0


@pytest.mark.raw
def test_confidence_levels(notable, large, out):
    with_c = notable.filter(pl.col("training_compute_flop").is_not_null())
    counts = dict(with_c.group_by("confidence").len().rows())
    assert counts == {"Confident": 196, "Likely": 98, None: 92, "Speculative": 64, "Unknown": 1}
    assert notable["confidence"].is_null().sum() == 238
    unverified = out["data_notes"].filter(pl.col("raw_value") == "Unverified")
    assert unverified.height == 5
    assert large["confidence"].is_in(["Confident", "Likely", "Speculative", "Unknown"]).sum() == 222


@pytest.mark.raw
def test_countries_to_iso3_lists(notable, out):
    gemini = _model(notable, "Gemini 1.0 Ultra")
    assert gemini["nations"] == ["USA", "GBR", "MULTI", "CAN", "FRA"]
    assert gemini["training_compute_flop"] == pytest.approx(5e25)
    assert notable["nations"].is_null().sum() == 14
    assert notable.filter(pl.col("nations").list.contains("MULTI")).height == 68
    # 354 multi-entry fields, 136 of which only repeat one country
    assert notable.filter(pl.col("nations").list.len() > 1).height == 354 - 136
    assert (
        notable.filter(
            pl.col("nations").list.contains("USA") & (pl.col("publication_date").dt.year() == 2023)
        ).height
        == 78
    )


@pytest.mark.raw
def test_frontier_maxima(notable, large):
    us = notable.filter(pl.col("nations").list.contains("USA"))
    cn = notable.filter(pl.col("nations").list.contains("CHN"))
    assert us["training_compute_flop"].max() == pytest.approx(5.0e25)
    assert cn["training_compute_flop"].max() == pytest.approx(3.9e24)
    assert _model(cn, "MegaScale (Production)")["publication_date"] == dt.date(2024, 2, 23)
    assert _model(notable, "GPT-4")["training_compute_flop"] == pytest.approx(2.1e25)
    glm = _model(large, "GLM-4 (0116)")
    assert glm["training_compute_flop"] == pytest.approx(1.2e25)
    assert large.filter(pl.col("nations").list.contains("CHN"))[
        "training_compute_flop"
    ].max() == pytest.approx(1.2e25)


@pytest.mark.raw
def test_repairs_recorded(notable, large, out):
    notes = out["data_notes"]
    stripped = notes.filter(pl.col("note").str.contains("whitespace stripped"))
    assert stripped.height == 3  # 1 notable + 2 large-scale model names
    assert _model(notable, "ALLaM adapted13B")["model"] == "ALLaM adapted13B"
    assert _model(large, "OLMo 1.7-7B")["dataset"] == "large_scale"
    zero = notes.filter(pl.col("note").str.contains("dataset size 0"))
    assert zero.height == 1 and _model(notable, "FunSearch")["dataset_size"] is None


# ------------------------------------------------------------------------------------------------
# Synthetic files

HEADER = [
    "Model",
    "Organization",
    "Publication date",
    "Domain",
    "Parameters",
    "Training compute (FLOP)",
    "Training dataset size (datapoints)",
    "Confidence",
    "Abstract",
    "Country (of organization)",
]


def _csv(rows: list[list[str]]) -> str:
    def q(x: str) -> str:
        return '"' + x.replace('"', '""') + '"' if any(c in x for c in ',"\n') else x

    return "\n".join(",".join(q(x) for x in r) for r in [HEADER, *rows]) + "\n"


GOOD = [
    "M1",
    "Lab",
    "2023-03-15",
    "Language",
    "1e9",
    "2.700000000000001e+25",
    "1e12",
    "Likely",
    "line one\nline two, with comma",
    "United States of America,United Kingdom of Great Britain and Northern Ireland,United States of America",
]


def _write(tmp_path: Path, rows: list[list[str]]) -> str:
    rel = "notable_ai_models.csv"
    (tmp_path / "epoch_ai").mkdir(exist_ok=True)
    (tmp_path / "epoch_ai" / rel).write_text(_csv(rows), encoding="utf-8")
    return rel


def test_multiline_fields_and_country_lists(tmp_path):
    rows = [
        GOOD,
        [
            "M2",
            "Lab2",
            "2024-01-17",
            "Vision",
            "",
            "",
            "",
            "",
            "abstract",
            "China,Hong Kong,Multinational",
        ],
        ["M3", "", "2020-01-01", "", "", "", "", "", "", ""],
    ]
    rel = _write(tmp_path, rows)
    df = epoch_ai.read_file(tmp_path, rel, "notable", Notes("epoch_ai"))
    assert df["_row"].to_list() == [2, 4, 5]  # record start lines: M1's abstract spans two lines
    assert df["nations"].to_list() == [["USA", "GBR"], ["CHN", "HKG", "MULTI"], None]
    assert df["training_compute_flop"].to_list() == [pytest.approx(2.7e25), None, None]
    assert df["confidence"].to_list() == ["Likely", None, None]


def test_unknown_country_refused(tmp_path):
    bad = list(GOOD)
    bad[-1] = "United States of America,Atlantis"
    rel = _write(tmp_path, [GOOD, bad])
    with pytest.raises(DataError, match="unknown nation 'Atlantis'") as e:
        epoch_ai.read_file(tmp_path, rel, "notable", Notes("epoch_ai"))
    assert (e.value.file, e.value.row, e.value.column) == (rel, 4, "Country (of organization)")


@pytest.mark.parametrize(
    "date", ["03/15/2023", "2023-3-15", "2023", "15.03.2023", "", "2023-02-30"]
)
def test_publication_date_format_refused(tmp_path, date):
    bad = list(GOOD)
    bad[2] = date
    rel = _write(tmp_path, [bad])
    with pytest.raises(DataError) as e:
        epoch_ai.read_file(tmp_path, rel, "notable", Notes("epoch_ai"))
    assert (e.value.row, e.value.column) == (2, "Publication date")


def test_unknown_confidence_and_text_compute_refused(tmp_path):
    bad = list(GOOD)
    bad[7] = "Probably"
    rel = _write(tmp_path, [bad])
    with pytest.raises(DataError, match="unknown confidence level 'Probably'"):
        epoch_ai.read_file(tmp_path, rel, "notable", Notes("epoch_ai"))
    bad = list(GOOD)
    bad[5] = "about 1e24"
    rel = _write(tmp_path, [bad])
    with pytest.raises(DataError, match="not a number") as e:
        epoch_ai.read_file(tmp_path, rel, "notable", Notes("epoch_ai"))
    assert e.value.column == "Training compute (FLOP)"


# ------------------------------------------------------------------------------------------------
# One row per model, one nation per model


@pytest.mark.raw
def test_models_in_both_files_counted_once(out):
    ai = out["ai_models"]
    assert ai.select(pl.struct("model", "publication_date").is_duplicated().any()).item() is False
    for name in ("PaLM (540B)", "Parti", "ST-MoE"):
        row = _model(ai, name)
        assert row["dataset"] == "both"
    assert (ai["dataset"] == "both").sum() == 87
    dropped = out["data_notes"].filter(pl.col("note").str.starts_with("same model as notable row"))
    assert dropped.height == 87
    assert set(dropped["file"]) == {"large_scale_ai_models.csv"}
    assert _model(ai, "PaLM (540B)")["training_compute_flop"] == pytest.approx(2.5272e24)


@pytest.mark.raw
def test_nations_credited_by_parent(out):
    ai = out["ai_models"]
    gemini = _model(ai, "Gemini 1.0 Ultra")
    assert (gemini["nation"], gemini["nation_basis"]) == ("USA", "organization")
    assert gemini["nations"] == ["USA", "GBR", "MULTI", "CAN", "FRA"]  # Epoch's list kept
    assert _model(ai, "PaLM (540B)")["nation"] == "USA"
    assert _model(ai, "AlphaGo Zero")["nation"] == "USA"  # DeepMind: Alphabet since 2014
    assert _model(ai, "ResNet-200")["nation"] == "USA"  # Microsoft Research Asia (Beijing)
    assert _model(ai, "DeepSpeech2 (English)")["nation"] == "CHN"  # Baidu's Silicon Valley lab
    assert _model(ai, "GLM-4 (0116)")["nation"] == "CHN"
    assert _model(ai, "BlenderBot 3")["nation"] == "CAN"  # McGill listed first (declared rule)
    # Google's units no longer make Canada or Switzerland frontier nations
    google = ai.filter(pl.col("organization").str.starts_with("Google"))
    assert set(google["nation"].drop_nulls()) == {"USA"}
    big = ai.filter(pl.col("frontier_scale"))
    assert big.height == 197
    assert (big["nation_basis"] == "organization").all()
    assert ai.filter(pl.col("nation") == "CHE")["training_compute_flop"].max() < 1e19


def _write_pair(tmp_path: Path, notable: list[list[str]], large: list[list[str]]) -> Path:
    (tmp_path / "epoch_ai").mkdir(exist_ok=True)
    for rel, rows in (
        ("notable_ai_models.csv", notable),
        ("large_scale_ai_models.csv", large),
    ):
        (tmp_path / "epoch_ai" / rel).write_text(_csv(rows), encoding="utf-8")
    return tmp_path


def _row(model, org, date, flop, country="United States of America", conf="Likely"):
    return [model, org, date, "Language", "", flop, "", conf, "", country]


def test_duplicate_model_counts_once(tmp_path):
    raw = _write_pair(
        tmp_path,
        [_row("Big Model", "OpenAI", "2023-03-15", ""), _row("Other", "OpenAI", "2023-04-01", "")],
        [
            _row("big  model", "OpenAI", "2023-03-15", "2e25"),  # same model: fills compute
            _row("Big Model", "OpenAI", "2023-03-16", "3e25"),  # another date: another model
        ],
    )
    out = epoch_ai.read(raw)
    ai = out["ai_models"].sort("publication_date")
    assert ai["model"].to_list() == ["Big Model", "Big Model", "Other"]
    assert ai["dataset"].to_list() == ["both", "large_scale", "notable"]
    assert ai["training_compute_flop"].to_list() == [pytest.approx(2e25), 3e25, None]
    notes = out["data_notes"]
    copy = notes.filter(pl.col("note").str.starts_with("same model"))
    assert copy.height == 1 and copy["row"][0] == 2 and "training_compute_flop" in copy["note"][0]


def test_unknown_organization_of_frontier_model_refused(tmp_path):
    raw = _write_pair(
        tmp_path,
        [_row("Known", "OpenAI", "2023-03-15", "2e25")],
        [_row("Mystery-1", "OpenAI,Atlantis Labs", "2023-06-01", "5e24")],
    )
    with pytest.raises(DataError, match=r"'Atlantis Labs'.*'Mystery-1'") as e:
        epoch_ai.read(raw)
    assert (e.value.file, e.value.row, e.value.column) == (
        "large_scale_ai_models.csv",
        2,
        "Organization",
    )


def test_unknown_organization_below_frontier_scale_falls_back(tmp_path):
    raw = _write_pair(
        tmp_path,
        [
            _row("Known", "OpenAI", "2023-03-15", "2e25"),
            _row("Small", "Atlantis Labs", "2023-06-01", "1e20", country="France"),
            _row("Small2", "Atlantis Labs", "2023-06-01", "1e20", country="France,Germany"),
        ],
        [_row("Lab", "Google DeepMind", "2023-06-01", "1e20", country="United Kingdom")],
    )
    ai = epoch_ai.read(raw)["ai_models"].sort("model")
    assert ai["model"].to_list() == ["Known", "Lab", "Small", "Small2"]
    assert ai["frontier_scale"].to_list() == [True, False, False, False]
    # the map decides (Epoch's "United Kingdom" notwithstanding), then Epoch's single nation
    assert ai["nation"].to_list() == ["USA", "USA", "FRA", None]
    assert ai["nation_basis"].to_list() == ["organization", "organization", "epoch_country", None]
