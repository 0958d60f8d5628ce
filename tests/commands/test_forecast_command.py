"""`learnrace forecast` end to end, and every bad-input case: a clear error naming series, row and
column, exit code 2, and no output file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from learnrace_pipeline.cli import app
from learnrace_pipeline.lib.forecast import inputs as fi
from learnrace_pipeline.lib.vocab.cumulative import initial_stock

runner = CliRunner()
#: every --model the command takes besides auto (which resolves to one of them)
MODELS = ["wright", "experience_time", "pool", "time"]

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
    # the default (auto) is the pool of Wright and experience+time
    assert set(out["model"]) == {"pool_wright_experience_time[all]"}
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
    assert len(rows) == 3 and rows[0]["model"] == "pool_wright_experience_time[solar]"
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
    *[
        (
            f"year {year}",
            f"series_id,year,unit_cost,annual_production\na,2000,1,1\na,2001,0.9,2\n"
            f"a,2002,0.8,3\na,{year},,4\n",
            ["series 'a'", f"year '{year}' is outside 1800-2200", "row 5", "column 'year'"],
        )
        for year in ("0", "-5", "1799", "2201", "99999", "1e30")
    ],
    (
        "cost near the float limit",
        "series_id,year,unit_cost,annual_production\na,2000,1e300,1\na,2001,9e299,2\n"
        "a,2002,8e299,3\na,2003,,4\n",
        [
            "series 'a', year 2000",
            "cost '1e300' is outside the accepted range 1e-200 to 1e200",
            "row 2",
            "column 'unit_cost'",
        ],
    ),
    (
        "huge cost among normal ones",
        "series_id,year,unit_cost,annual_production\na,2000,1,1\na,2001,1e308,2\n"
        "a,2002,0.8,3\na,2003,,4\n",
        [
            "series 'a', year 2001",
            "cost '1e308' is outside the accepted range",
            "row 3",
            "column 'unit_cost'",
        ],
    ),
    (
        "tiny cost",
        "series_id,year,unit_cost,annual_production\na,2000,1,1\na,2001,1e-250,2\n"
        "a,2002,0.8,3\na,2003,,4\n",
        [
            "series 'a', year 2001",
            "cost '1e-250' is outside the accepted range",
            "row 3",
            "column 'unit_cost'",
        ],
    ),
    (
        "huge production among normal ones",
        "series_id,year,unit_cost,annual_production\na,2000,1,10\na,2001,0.9,1e308\n"
        "a,2002,0.8,20\na,2003,,27\n",
        [
            "series 'a', year 2001",
            "production '1e308' is outside the accepted range",
            "row 3",
            "column 'annual_production'",
        ],
    ),
    (
        "derived cumulative production out of range",
        "series_id,year,unit_cost,annual_production,cumulative_production\na,2000,1,,9e199\n"
        "a,2001,0.9,9e199,\na,2002,0.8,1,\na,2003,,1,\n",
        [
            "series 'a', year 2001",
            "cumulative production derived from annual production is "
            "1.8e+200, outside the accepted range",
            "row 3",
            "column 'annual_production'",
        ],
    ),
]


#: Cases about production, which ``--model time`` neither needs nor uses (it accepts a file
#: without production columns: ``test_forecast_time_model_without_production``).
WRIGHT_ONLY = {
    "forecast year with no way to project production",
    "observed cost without production",
    "cumulative production falls",
    "no production column",
    "derived cumulative production out of range",
}
BAD_BY_MODEL = [
    pytest.param(model, *b, id=f"{model}-{b[0]}")
    for model in MODELS
    for b in BAD
    if model != "time" or b[0] not in WRIGHT_ONLY
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


@pytest.mark.parametrize("model", MODELS)
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
    result, dest = _run(tmp_path, GOOD, "--model", "wright", "--posterior", str(SHIPPED_TIME_PRIOR))
    assert result.exit_code == 2 and "use --model time" in _flat(result.output)
    # without --model, the prior file decides: a time prior forecasts with the time model
    result, dest = _run(tmp_path, TIME_ONLY, "--posterior", str(SHIPPED_TIME_PRIOR))
    assert result.exit_code == 0, result.output
    assert pl.read_csv(dest)["model"][0].startswith("pooled_time")
    dest.unlink()
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


@pytest.mark.parametrize("model", MODELS)
def test_error_leaves_an_existing_output_untouched(tmp_path: Path, model: str) -> None:
    dest = tmp_path / "out.csv"
    dest.write_text("previous result\n")
    result, _ = _run(
        tmp_path, "series_id,year,unit_cost,annual_production\na,x,1,1\n", "--model", model
    )
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
    result, dest = _run(tmp_path, text, "--samples", "400", "--model", "wright", "--summary",
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


@pytest.mark.parametrize("model", MODELS)
def test_summary_cannot_overwrite_the_forecasts(tmp_path: Path, model: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text(GOOD, encoding="utf-8")
    dest = tmp_path / "out.csv"
    result = runner.invoke(app, ["forecast", "--input", str(src), "--output", str(dest),
                                 "--summary", str(dest), "--model", model])  # fmt: skip
    assert result.exit_code == 2
    assert f"source '--output', file '{dest}': is the same file as --summary" in _flat(
        result.output
    )
    assert not dest.exists()


def _hard_link(tmp_path: Path, src: Path) -> Path:
    os.link(src, tmp_path / "hard.csv")
    return tmp_path / "hard.csv"


def _symlink(tmp_path: Path, src: Path) -> Path:
    (tmp_path / "old.csv").write_text("old\n")
    (tmp_path / "link.csv").symlink_to(tmp_path / "old.csv")
    return tmp_path / "link.csv"


def _dangling_symlink(tmp_path: Path, src: Path) -> Path:
    (tmp_path / "link.csv").symlink_to(tmp_path / "nowhere.csv")
    return tmp_path / "link.csv"


def _fifo(tmp_path: Path, src: Path) -> Path:
    os.mkfifo(tmp_path / "pipe")
    return tmp_path / "pipe"


def _char_device(tmp_path: Path, src: Path) -> Path:
    """A character device like /dev/null, made here so that a failing test replaces a file of
    its own folder, never /dev/null (mknod needs root: skipped otherwise)."""
    try:
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs root")
    return tmp_path / "null"


def _folder(tmp_path: Path, src: Path) -> Path:
    (tmp_path / "sub").mkdir()
    return tmp_path / "sub"


#: Outputs refused before any work: (case, make the path, words of the one-line error).
REFUSED_OUTPUTS = [
    ("same as input", lambda tmp, src: src, ["is the same file as --input"]),
    (
        "same as input, other spelling",
        lambda tmp, src: tmp / "." / ".." / tmp.name / src.name,
        ["is the same file as --input"],
    ),
    ("hard link to the input", _hard_link, ["is the same file as --input"]),
    ("symbolic link", _symlink, ["is a symbolic link"]),
    ("dangling symbolic link", _dangling_symlink, ["is a symbolic link"]),
    ("FIFO", _fifo, ["is a named pipe (FIFO), not a regular file"]),
    ("character device", _char_device, ["is a character device, not a regular file"]),
    ("directory", _folder, ["is a directory; give a file name"]),
    (
        "missing folder",
        lambda tmp, src: tmp / "nope" / "out.csv",
        ["output folder", "does not exist"],
    ),
]


def _snapshot(folder: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every entry of ``folder``: its file type and, for regular files, its bytes."""
    out = {}
    for p in sorted(folder.rglob("*")):
        mode = p.lstat().st_mode
        out[str(p)] = (stat.S_IFMT(mode), p.read_bytes() if stat.S_ISREG(mode) else None)
    return out


@pytest.mark.parametrize("option", ["--output", "--summary"])
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("case", "make", "expected"), REFUSED_OUTPUTS, ids=[c[0] for c in REFUSED_OUTPUTS]
)
def test_unsafe_outputs_are_refused_before_any_work(
    tmp_path: Path, option: str, model: str, case: str, make, expected: list[str]
) -> None:
    """An output that is the input (however spelt, or hard-linked), a symbolic link, a special
    file, a directory or in a missing folder: exit 2, one line naming the option and the path,
    and nothing in the folder changes (the input is intact, no file appears)."""
    src = tmp_path / "in.csv"
    src.write_text(GOOD, encoding="utf-8")
    bad = make(tmp_path, src)
    other = tmp_path / "fine.csv"
    paths = {"--output": other, "--summary": other, option: bad}
    before = _snapshot(tmp_path)
    args = ["forecast", "--input", str(src), "--model", model, "--samples", "200"]
    result = runner.invoke(app, [*args, "--output", str(paths["--output"]),
                                 "--summary", str(paths["--summary"])])  # fmt: skip
    assert result.exit_code == 2, (case, result.output)
    assert result.output.startswith("error ")
    assert "Traceback" not in result.output
    message = _flat(result.output)
    assert f"source '{option}', file '{bad}'" in message, message
    for part in expected:
        assert part in message, (part, message)
    assert _snapshot(tmp_path) == before


def test_output_same_as_posterior_is_refused(tmp_path: Path) -> None:
    from learnrace_pipeline.lib.forecast.priors import SHIPPED_PRIOR

    src = tmp_path / "in.csv"
    src.write_text(GOOD, encoding="utf-8")
    prior = tmp_path / "prior.csv"
    prior.write_bytes(SHIPPED_PRIOR.read_bytes())
    result = runner.invoke(app, ["forecast", "--input", str(src), "--posterior", str(prior),
                                 "--output", str(prior)])  # fmt: skip
    assert result.exit_code == 2
    assert "is the same file as --posterior" in _flat(result.output)
    assert prior.read_bytes() == SHIPPED_PRIOR.read_bytes()


@pytest.mark.parametrize("model", MODELS)
def test_output_dash_is_standard_output(tmp_path: Path, model: str) -> None:
    """--output -: the table (CSV, or JSON with --format json) is all standard output holds; the
    run's report goes to standard error; no file named '-' appears."""
    src = tmp_path / "in.csv"
    src.write_text(GOOD, encoding="utf-8")
    base = ["forecast", "--input", str(src), "--samples", "300", "--model", model]
    as_file = runner.invoke(app, [*base, "--output", str(tmp_path / "f.csv")])
    assert as_file.exit_code == 0, as_file.output
    result = runner.invoke(app, [*base, "--output", "-"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (tmp_path / "f.csv").read_text()
    assert result.stdout.startswith("series_id,year,q05,")
    assert "learnrace forecast -> standard output" in _flat(result.stderr)
    as_json = runner.invoke(app, [*base, "--output", "-", "--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.stdout)
    assert [(r["series_id"], r["year"]) for r in rows] == [("ev", 2021), ("pv", 2014),
                                                            ("pv", 2016)]  # fmt: skip
    assert not (Path.cwd() / "-").exists() and not (tmp_path / "-").exists()
    # --summary - with a file output: the summary is standard output
    summ = runner.invoke(app, [*base, "--output", str(tmp_path / "g.csv"), "--summary", "-"])
    assert summ.exit_code == 0, summ.output
    assert pl.read_csv(summ.stdout.encode())["series_id"].sort().to_list() == ["ev", "pv"]
    both = runner.invoke(app, [*base, "--output", "-", "--summary", "-"])
    assert both.exit_code == 2
    assert "--output and --summary cannot both be - (standard output)" in _flat(both.output)


#: Costs rising 130 orders of magnitude a year: every value is in range, but the forecast ten
#: years on is beyond the largest float.
EXPLODING = {
    "time": "series_id,year,unit_cost\nboom,2010,1e-190\nboom,2011,1e-60\nboom,2012,1e70\n"
    "boom,2013,1e199\nboom,2023,\n",
    "wright": "series_id,year,unit_cost,cumulative_production\nboom,2010,1e-190,1\n"
    "boom,2011,1e-60,2\nboom,2012,1e70,4\nboom,2013,1e199,8\nboom,2023,,8000\n",
}
EXPLODING["experience_time"] = EXPLODING["pool"] = EXPLODING["wright"]


@pytest.mark.parametrize("model", MODELS)
def test_forecast_beyond_float_range_is_refused(tmp_path: Path, model: str) -> None:
    result, dest = _run(tmp_path, EXPLODING[model], "--model", model, "--samples", "300")
    assert result.exit_code == 2, result.output
    message = _flat(result.output)
    expected = (
        # the experience+time grid finds no finite posterior cell and says so before the table
        "error non-finite forecast for 'boom' year 2023: its costs leave the range"
        if model in ("experience_time", "pool")
        else "error series 'boom', year 2023: q05 is inf, outside the floating-point range"
    )
    assert expected in message
    assert "nothing written" in message and "Traceback" not in result.output
    assert not dest.exists()


FORMULAS = """series_id,year,unit_cost,annual_production
=HYPERLINK("http://x"),2010,2.0,10
=HYPERLINK("http://x"),2011,1.7,14
=HYPERLINK("http://x"),2012,1.5,20
=HYPERLINK("http://x"),2013,,27
+1,2010,2.0,10
+1,2011,1.7,14
+1,2012,1.5,20
+1,2013,,27
-2,2010,2.0,10
-2,2011,1.7,14
-2,2012,1.5,20
-2,2013,,27
@SUM(A1),2010,2.0,10
@SUM(A1),2011,1.7,14
@SUM(A1),2012,1.5,20
@SUM(A1),2013,,27
a=b,2010,2.0,10
a=b,2011,1.7,14
a=b,2012,1.5,20
a=b,2013,,27
"""


@pytest.mark.parametrize("model", MODELS)
def test_csv_output_neutralises_formulas(tmp_path: Path, model: str) -> None:
    """Series ids a spreadsheet would run as formulas get a leading ' in CSV (forecasts and
    --summary), and stay exact in JSON."""
    result, dest = _run(tmp_path, FORMULAS, "--model", model, "--samples", "200",
                        "--summary", str(tmp_path / "s.csv"))  # fmt: skip
    assert result.exit_code == 0, result.output
    expected = ["'+1", "'-2", '\'=HYPERLINK("http://x")', "'@SUM(A1)", "a=b"]
    assert sorted(pl.read_csv(dest)["series_id"].to_list()) == expected
    assert sorted(pl.read_csv(tmp_path / "s.csv")["series_id"].to_list()) == expected
    raw = dest.read_text()  # as a spreadsheet reads it: ' first in the cell, quoted or not
    assert "\n'+1,2013," in raw and '\n"\'=HYPERLINK(""http://x"")",2013,' in raw
    result, dest = _run(tmp_path, FORMULAS, "--model", model, "--samples", "200",
                        "--format", "json", out="out.json")  # fmt: skip
    assert result.exit_code == 0, result.output
    ids = sorted(r["series_id"] for r in json.loads(dest.read_text()))
    assert ids == ["+1", "-2", '=HYPERLINK("http://x")', "@SUM(A1)", "a=b"]


def test_experience_time_summary_attributes_the_decline(tmp_path: Path) -> None:
    """--model experience_time: forecasts labelled with the model, and --summary gives each
    series' drift m and the channel attribution of its furthest year, whose parts add up."""
    result, dest = _run(tmp_path, GOOD, "--model", "experience_time", "--samples", "400",
                        "--summary", str(tmp_path / "s.csv"))  # fmt: skip
    assert result.exit_code == 0, result.output
    out = pl.read_csv(dest)
    assert set(out["model"]) == {"pooled_experience_time_student_t_ma1[all]"}
    s = pl.read_csv(tmp_path / "s.csv")
    assert s["series_id"].sort().to_list() == ["ev", "pv"]
    assert s["attribution_year"].sort().to_list() == [2016, 2021]
    total = s["decline_experience_mean"] + s["decline_time_mean"]
    np.testing.assert_allclose(s["decline_total_mean"], total, rtol=1e-12)
    np.testing.assert_allclose(s["share_experience"] + s["share_time"], 1.0, rtol=1e-12)
    # the drift's part grows with the years ahead: 1 year for ev, 3 for pv
    m = dict(zip(s["series_id"], s["m_mean"], strict=True))
    t = dict(zip(s["series_id"], s["decline_time_mean"], strict=True))
    assert t["ev"] == pytest.approx(m["ev"] * 1) and t["pv"] == pytest.approx(m["pv"] * 3)
    assert (s["share_experience_q05"] <= s["share_experience_q95"]).all()


def test_auto_is_the_declared_model_and_wright_attributes_everything_to_experience(
    tmp_path: Path,
) -> None:
    from learnrace_pipeline.lib.forecast.types import AUTO_MODEL

    auto, d_auto = _run(tmp_path, GOOD, "--samples", "300", out="a.csv")
    named, d_named = _run(tmp_path, GOOD, "--samples", "300", "--model", AUTO_MODEL,
                          "--summary", str(tmp_path / "s.csv"), out="b.csv")  # fmt: skip
    assert auto.exit_code == 0 and named.exit_code == 0, (auto.output, named.output)
    assert d_auto.read_bytes() == d_named.read_bytes()
    wright, _ = _run(tmp_path, GOOD, "--samples", "300", "--model", "wright",
                     "--summary", str(tmp_path / "w_s.csv"), out="w.csv")  # fmt: skip
    assert wright.exit_code == 0, wright.output
    s = pl.read_csv(tmp_path / "w_s.csv")
    assert (s["decline_time_mean"] == 0).all() and (s["share_experience"] == 1).all()


def test_pool_mixes_both_forecasters(tmp_path: Path) -> None:
    """--model pool: the label says pool, and its 90% interval reaches at least as far down as
    the experience+time forecast's and as far up as the Wright forecast's medians."""
    runs = {}
    for model in ("wright", "experience_time", "pool"):
        result, dest = _run(tmp_path, GOOD, "--model", model, "--samples", "1000",
                            out=f"{model}.csv")  # fmt: skip
        assert result.exit_code == 0, result.output
        runs[model] = pl.read_csv(dest).sort("series_id", "year")
    assert set(runs["pool"]["model"]) == {"pool_wright_experience_time[all]"}
    pool, w, et = runs["pool"], runs["wright"], runs["experience_time"]
    lo = np.minimum(w["q50"].to_numpy(), et["q50"].to_numpy())
    hi = np.maximum(w["q50"].to_numpy(), et["q50"].to_numpy())
    assert (pool["q05"].to_numpy() < lo).all() and (pool["q95"].to_numpy() > hi).all()
    assert (pool["q50"].to_numpy() >= lo * 0.97).all() and (
        pool["q50"].to_numpy() <= hi * 1.03
    ).all()
    result, _ = _run(tmp_path, GOOD, "--model", "pool", "--posterior", "x.csv", out="p2.csv")
    assert result.exit_code == 2 and "--model pool uses the shipped" in _flat(result.output)
