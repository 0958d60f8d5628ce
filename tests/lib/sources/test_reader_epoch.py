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
