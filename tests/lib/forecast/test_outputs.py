"""Output paths, rendering and the last finiteness check of ``learnrace forecast``
(:mod:`learnrace_pipeline.lib.forecast.outputs`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.forecast.outputs import (
    check_finite_output,
    check_output_path,
    neutralise_formulas,
    render_forecasts,
    write_forecasts,
)


def test_dev_null_is_refused_without_writing() -> None:
    """/dev/null is a character device: refused (the check only looks; nothing is written)."""
    with pytest.raises(DataError) as e:
        check_output_path(Path("/dev/null"), "--output")
    assert str(e.value) == (
        "source '--output', file '/dev/null': is a character device, not a regular file; "
        "writing would replace it (use --output - for standard output)"
    )


def test_accepted_outputs(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("x\n")
    existing = tmp_path / "old.csv"
    existing.write_text("old\n")
    for path in (Path("-"), tmp_path / "new.csv", existing):
        check_output_path(path, "--output", {"--input": src, "--summary": None, "--x": Path("-")})


def test_same_file_by_any_name_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("x\n")
    (tmp_path / "hard.csv").hardlink_to(src)
    for path in (src, tmp_path / "sub" / ".." / "in.csv", tmp_path / "hard.csv"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(DataError, match=r"is the same file as --input \('.*in.csv'\)"):
            check_output_path(path, "--summary", {"--input": src})


def test_csv_neutralises_every_formula_prefix_and_json_stays_exact() -> None:
    ids = ["=1+1", "+1", "-1", "@A1", "\tx", "\rx", "ok", "a=b", " =x"]
    frame = pl.DataFrame({"series_id": ids, "year": [2020] * len(ids), "q50": [-1.5] * len(ids)})
    out = neutralise_formulas(frame)
    assert out["series_id"].to_list() == [
        "'=1+1", "'+1", "'-1", "'@A1", "'\tx", "'\rx", "ok", "a=b", " =x",
    ]  # fmt: skip
    assert out["q50"].to_list() == [-1.5] * len(ids)  # numbers are not text: untouched
    back = pl.read_csv(render_forecasts(frame, "csv"))
    assert back["series_id"].to_list() == out["series_id"].to_list()
    assert back["q50"].to_list() == [-1.5] * len(ids)
    rows = json.loads(render_forecasts(frame, "json"))
    assert [r["series_id"] for r in rows] == ids


def test_write_to_stdout(capsysbinary) -> None:
    frame = pl.DataFrame({"series_id": ["=a"], "q50": [2.0]})
    assert write_forecasts(frame, "-", "csv") is None
    assert capsysbinary.readouterr().out == b"series_id,q50\n'=a,2.0\n"


def test_non_finite_output_names_the_series() -> None:
    frame = pl.DataFrame(
        {
            "series_id": ["a", "b"],
            "year": [2020, 2021],
            "q05": [1.0, 2.0],
            "q95": [2.0, math.inf],
            "model": ["m", "m"],
        }
    )
    with pytest.raises(ModelError, match=r"^series 'b', year 2021: q95 is inf, outside the "):
        check_finite_output(frame)
    summary = pl.DataFrame(
        {"series_id": ["s"], "w_q50": [float("-inf")], "halving_years_q50": [None]},
        schema={"series_id": pl.String, "w_q50": pl.Float64, "halving_years_q50": pl.Float64},
    )
    with pytest.raises(ModelError, match=r"^series 's': w_q50 is -inf"):
        check_finite_output(summary)
    check_finite_output(summary.with_columns(pl.lit(0.3).alias("w_q50")))  # nulls are fine
