"""`learnrace forecast` end to end, and every bad-input case: a clear error naming series, row and
column, exit code 2, and no output file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from learnrace_pipeline.cli import app
from learnrace_pipeline.lib.forecast import inputs as fi
from learnrace_pipeline.lib.vocab.cumulative import initial_stock

runner = CliRunner()

GOOD = """series_id,year,unit_cost,annual_production
pv,2010,2.0,10
pv,2011,1.7,14
pv,2012,1.5,20
pv,2013,1.3,27
pv,2014,,36
pv,2016,,
ev,2018,300,5
ev,2019,280,8
ev,2020,250,12
ev,2021,,16
"""


def _run(tmp_path: Path, text: str, *extra: str, out: str = "out.csv"):
    src = tmp_path / "in.csv"
    src.write_text(text, encoding="utf-8")
    dest = tmp_path / out
    result = runner.invoke(app, ["forecast", "--input", str(src), "--output", str(dest), *extra])
    return result, dest


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_forecast_csv_end_to_end(tmp_path: Path) -> None:
    result, dest = _run(tmp_path, GOOD, "--samples", "400")
    assert result.exit_code == 0, result.output
    out = pl.read_csv(dest)
    assert out.columns == [
        "series_id", "year", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "model",
        "production", "cumulative_production_q05", "cumulative_production_q50",
        "cumulative_production_q95",
    ]  # fmt: skip
    assert out.select("series_id", "year").rows() == [("ev", 2021), ("pv", 2014), ("pv", 2016)]
    q = out.select("q05", "q10", "q25", "q50", "q75", "q90", "q95").to_numpy()
    assert np.all(np.diff(q, axis=1) > 0)
    assert out["production"].to_list() == ["given", "given", "projected"]
    assert set(out["model"]) == {"pooled_wright_student_t_ma1[all]"}
    # costs fall with experience: the pv median in 2014 is below the last observed 1.3
    assert out.filter(pl.col("year") == 2014)["q50"][0] < 1.3
    # the 2016 forecast (projected production, two more years) is wider than 2014's
    pv = out.filter(pl.col("series_id") == "pv")
    assert (pv["q95"] / pv["q05"])[1] > (pv["q95"] / pv["q05"])[0]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_forecast_json_and_industry(tmp_path: Path) -> None:
    result, dest = _run(tmp_path, GOOD, "--format", "json", "--industry", "solar",
                        "--samples", "300", out="out.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(dest.read_text())
    assert len(rows) == 3 and rows[0]["model"] == "pooled_wright_student_t_ma1[solar]"
    assert rows[0]["q05"] < rows[0]["q50"] < rows[0]["q95"]


def test_forecast_is_reproducible(tmp_path: Path) -> None:
    r1, d1 = _run(tmp_path, GOOD, "--samples", "300", out="a.csv")
    r2, d2 = _run(tmp_path, GOOD, "--samples", "300", out="b.csv")
    assert r1.exit_code == r2.exit_code == 0
    assert d1.read_text() == d2.read_text()


BAD = [
    (
        "non-numeric cost",
        "series_id,year,unit_cost,annual_production\na,2000,1.0,5\na,2001,abc,6\na,2002,0.8,7\n"
        "a,2003,,8\n",
        ["series 'a'", "non-numeric value 'abc'", "row 3", "column 'unit_cost'"],
    ),
    (
        "non-numeric production",
        "series_id,year,unit_cost,cumulative_production\nb,2000,1.0,5\nb,2001,0.9,6 units\n",
        ["series 'b'", "non-numeric value '6 units'", "row 3", "column 'cumulative_production'"],
    ),
    (
        "zero cost",
        "series_id,year,unit_cost,annual_production\na,2000,1.0,5\na,2001,0,6\na,2002,0.8,7\n",
        ["series 'a'", "zero or negative cost", "row 3", "column 'unit_cost'"],
    ),
    (
        "negative production",
        "series_id,year,unit_cost,annual_production\na,2000,1.0,5\na,2001,0.9,-6\n",
        ["series 'a'", "zero or negative production", "row 3", "column 'annual_production'"],
    ),
    (
        "duplicate series-year",
        "series_id,year,unit_cost,annual_production\na,2000,1.0,5\na,2001,0.9,6\nb,2000,3,1\n"
        "a,2001,0.8,7\n",
        ["series 'a'", "year 2001 appears twice", "first at row 3", "row 5", "column 'year'"],
    ),
    (
        "fewer than 3 observed costs",
        "series_id,year,unit_cost,annual_production\nok,2000,1,1\nok,2001,0.9,2\nok,2002,0.8,3\n"
        "ok,2003,,4\nshort,2000,5,1\nshort,2001,4,2\nshort,2002,,3\n",
        ["series 'short' has 2 observed cost(s)", "at least 3", "row 6", "column 'unit_cost'"],
    ),
    (
        "forecast year with no way to project production",
        "series_id,year,unit_cost,cumulative_production\nc,2000,1,10\nc,2002,0.9,20\n"
        "c,2004,0.8,30\nc,2006,,\n",
        [
            "series 'c', year 2006",
            "no way to project it",
            "0 year(s) of annual production",
            "row 5",
        ],
    ),
    (
        "unknown column",
        "series_id,year,unit_cost,annual_production,colour\na,2000,1,1,red\n",
        ["unknown column 'colour'", "row 1", "column 'colour'"],
    ),
    (
        "year not a whole number",
        "series_id,year,unit_cost,annual_production\na,2000.5,1,1\n",
        ["series 'a'", "not a whole number", "row 2", "column 'year'"],
    ),
    (
        "observed cost without production",
        "series_id,year,unit_cost,cumulative_production\nd,2000,1,10\nd,2001,0.9,\n"
        "d,2002,0.8,30\nd,2003,,40\n",
        [
            "series 'd', year 2001",
            "observed cost without cumulative production",
            "row 3",
            "column 'cumulative_production'",
        ],
    ),
    (
        "cumulative production falls",
        "series_id,year,unit_cost,cumulative_production\ne,2000,1,10\ne,2001,0.9,9\n"
        "e,2002,0.8,30\ne,2003,,40\n",
        ["series 'e', year 2001", "cumulative production falls", "row 3"],
    ),
    (
        "forecast year inside the observed range",
        "series_id,year,unit_cost,cumulative_production\nf,2000,1,10\nf,2001,,12\n"
        "f,2002,0.8,30\nf,2003,0.7,40\nf,2004,,50\n",
        ["series 'f': year 2001 has no unit_cost", "row 3", "column 'unit_cost'"],
    ),
    (
        "no production column",
        "series_id,year,unit_cost\na,2000,1\n",
        ["missing production", "row 1"],
    ),
    ("header only", "series_id,year,unit_cost,annual_production\n", ["header only"]),
    ("empty file", "", ["empty file"]),
    (
        "nothing to forecast",
        "series_id,year,unit_cost,annual_production\na,2000,1,1\na,2001,0.9,2\na,2002,0.8,3\n",
        ["nothing to forecast"],
    ),
]


#: Cases about production, which ``--model time`` neither needs nor uses (it accepts a file
#: without production columns: ``test_forecast_time_model_without_production``).
WRIGHT_ONLY = {
    "forecast year with no way to project production",
    "observed cost without production",
    "cumulative production falls",
    "no production column",
}
BAD_BY_MODEL = [
    pytest.param(model, *b, id=f"{model}-{b[0]}")
    for model in ("wright", "time")
    for b in BAD
    if model == "wright" or b[0] not in WRIGHT_ONLY
]


@pytest.mark.parametrize(("model", "case", "text", "expected"), BAD_BY_MODEL)
def test_bad_input_is_refused_without_output(
    tmp_path: Path, model: str, case: str, text: str, expected: list[str]
) -> None:
    result, dest = _run(tmp_path, text, "--model", model)
    message = _flat(result.output)
    assert result.exit_code == 2, (case, message)
    assert "error" in message and "in.csv" in message
    for part in expected:
        assert part in message, (case, part, message)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.csv"]


@pytest.mark.parametrize("model", ["wright", "time"])
def test_unknown_industry_is_refused(tmp_path: Path, model: str) -> None:
    result, dest = _run(tmp_path, GOOD, "--industry", "unicorns", "--model", model)
    assert result.exit_code == 2
    assert "unknown industry 'unicorns'" in _flat(result.output)
    assert not dest.exists()


def test_unknown_model_and_mismatched_prior_are_refused(tmp_path: Path) -> None:
    from learnrace_pipeline.lib.forecast.priors import SHIPPED_PRIOR, SHIPPED_TIME_PRIOR

    result, dest = _run(tmp_path, GOOD, "--model", "moore")
    assert result.exit_code == 2 and "unknown model 'moore'" in _flat(result.output)
    result, dest = _run(tmp_path, GOOD, "--model", "time", "--posterior", str(SHIPPED_PRIOR))
    assert result.exit_code == 2 and "needs a prior from a pooled time-trend fit" in _flat(
        result.output
    )
    result, dest = _run(tmp_path, GOOD, "--posterior", str(SHIPPED_TIME_PRIOR))
    assert result.exit_code == 2 and "use --model time" in _flat(result.output)
    assert not dest.exists()


TIME_ONLY = """series_id,year,unit_cost
dna,2001,100
dna,2002,80
dna,2003,70
dna,2004,52
dna,2005,41
dna,2006,
dna,2010,
lamp,1990,5.0
lamp,1991,4.9
lamp,1992,4.95
lamp,1993,
"""


def test_forecast_time_model_without_production(tmp_path: Path) -> None:
    """--model time on a file with no production column: forecasts from the shipped time prior,
    falling at the series' own drift, wider further out; --summary gives each drift."""
    result, dest = _run(tmp_path, TIME_ONLY, "--model", "time", "--samples", "400",
                        "--summary", str(tmp_path / "drift.csv"))  # fmt: skip
    assert result.exit_code == 0, result.output
    out = pl.read_csv(dest)
    assert out.columns == [
        "series_id", "year", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "model",
        "production",
    ]  # fmt: skip
    assert out.select("series_id", "year").rows() == [("dna", 2006), ("dna", 2010),
                                                      ("lamp", 1993)]  # fmt: skip
    assert set(out["model"]) == {"pooled_time_student_t_ma1[all]"}
    assert set(out["production"]) == {"none"}
    q = out.select("q05", "q10", "q25", "q50", "q75", "q90", "q95").to_numpy()
    assert np.all(np.diff(q, axis=1) > 0)
    dna = out.filter(pl.col("series_id") == "dna")
    # dna fell ~22% a year: its 2006 median is well below the last cost, 2010 lower still
    assert dna["q50"][0] < 41 * 0.9 and dna["q50"][1] < dna["q50"][0]
    assert (dna["q95"] / dna["q05"])[1] > (dna["q95"] / dna["q05"])[0]
    drift = pl.read_csv(tmp_path / "drift.csv").sort("series_id")
    assert drift["series_id"].to_list() == ["dna", "lamp"]
    assert drift["m_q50"][0] > 0.1 > drift["m_q50"][1]
    assert drift["annual_decline_q50"][0] == pytest.approx(1 - np.exp(-drift["m_q50"][0]))
    assert "per-series drifts" in _flat(result.output)
    assert "prior mean cost decline" in _flat(result.output)


def test_error_leaves_an_existing_output_untouched(tmp_path: Path) -> None:
    dest = tmp_path / "out.csv"
    dest.write_text("previous result\n")
    result, _ = _run(tmp_path, "series_id,year,unit_cost,annual_production\na,x,1,1\n")
    assert result.exit_code == 2
    assert dest.read_text() == "previous result\n"


def test_cumulative_from_annual_uses_lafond_initial_stock(tmp_path: Path) -> None:
    src = tmp_path / "s.csv"
    src.write_text(GOOD)
    inp = fi.read_input(src)
    pv = inp.rows.filter(pl.col("series_id") == "pv").sort("year")
    q = np.array([10.0, 14, 20, 27, 36])
    z0 = initial_stock(q)
    assert pv["cum"].to_list()[:5] == pytest.approx((z0 + np.cumsum(q)).tolist())
    assert pv["cum"][5] is None  # 2016 is projected
    assert inp.n_series == 2 and inp.n_targets == 3


def test_carry_forward_from_cumulative(tmp_path: Path) -> None:
    src = tmp_path / "s.csv"
    src.write_text(
        "series_id,year,unit_cost,annual_production,cumulative_production\n"
        "g,2000,5,,100\ng,2001,4.5,,120\ng,2002,4,30,\ng,2003,,40,\n"
    )
    inp = fi.read_input(src)
    assert inp.rows["cum"].to_list() == [100.0, 120.0, 150.0, 190.0]
    assert inp.task.annual["log_annual"].exp().to_list() == pytest.approx([20.0, 30.0, 40.0])


def test_summary_gives_each_series_learning_rate(tmp_path: Path) -> None:
    """--summary: one row per series (in the output format), with the posterior of its
    exponent; a long exact power law with exponent 0.32 is pinned down near it."""
    lines = ["series_id,year,unit_cost,cumulative_production"]
    for t in range(20):
        q = 10.0 * 1.4**t
        lines.append(f"long,{2000 + t},{100 * (q / 10) ** -0.32:.6f},{q}")
    lines.append(f"long,2020,,{10 * 1.4**20}")
    text = "\n".join(lines) + "\n" + "\n".join(GOOD.splitlines()[1:]) + "\n"
    result, dest = _run(tmp_path, text, "--samples", "400", "--summary",
                        str(tmp_path / "series.json"), "--format", "json", out="f.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = {r["series_id"]: r for r in json.loads((tmp_path / "series.json").read_text())}
    assert set(rows) == {"long", "pv", "ev"}
    long = rows["long"]
    assert long["n_costs"] == 20 and long["level"] == "all"
    assert long["w_q05"] < 0.32 < long["w_q95"] and long["w_q95"] - long["w_q05"] < 0.05
    assert long["learning_rate_q50"] == pytest.approx(1 - 2**-0.32, abs=0.01)
    # the 4-point pv series is far less certain of its exponent than the 20-point one
    assert rows["pv"]["w_sd"] > 3 * long["w_sd"]
    assert "per-series exponents" in _flat(result.output)
    forecasts = json.loads(dest.read_text())
    assert {(r["series_id"], r["year"]) for r in forecasts} >= {("long", 2020), ("ev", 2021)}


def test_summary_cannot_overwrite_the_forecasts(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(GOOD, encoding="utf-8")
    dest = tmp_path / "out.csv"
    result = runner.invoke(app, ["forecast", "--input", str(src), "--output", str(dest),
                                 "--summary", str(dest)])  # fmt: skip
    assert result.exit_code == 2
    assert "--summary must be another file" in _flat(result.output)
    assert not dest.exists()
