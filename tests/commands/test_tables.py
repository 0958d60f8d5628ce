"""The commands' tables: number formats, and every default table rendered at 100 columns with no
cell cut (no ellipsis, no line past the width, every cell whole); json and csv keep every column.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import polars as pl
import pytest
from rich.console import Console
from typer.testing import CliRunner

from learnrace_pipeline.cli import app
from learnrace_pipeline.commands import _tables
from learnrace_pipeline.commands import av as av_cmd
from learnrace_pipeline.commands import frontier as frontier_cmd
from learnrace_pipeline.lib.models.frontier_posterior import TABLE_SCHEMA

runner = CliRunner()
WIDTH = 100
ELLIPSIS = "\u2026"


def test_number_formats():
    assert [_tables.sig3(x) for x in (6.8277, 0.079123, 12345.0, 123.4, 0, 1.0)] == [
        "6.83",
        "0.0791",
        "12,300",
        "123",
        "0",
        "1.00",
    ]
    assert _tables.sig3(None) == _tables.sig3(float("nan")) == "n/a"
    assert [_tables.sci(x) for x in (5.0000000001e25, 17060.0, 0.000123)] == [
        "5.00e25",
        "1.71e4",
        "1.23e-4",
    ]
    assert _tables.sci(_tables.pow10(25.69897)) == "5.00e25"
    assert _tables.interval("1.20e25", "3.34e26") == "1.20e25\u20133.34e26"
    assert _tables.interval("n/a", "3") == "n/a"


def _rendered(df: pl.DataFrame, columns, title="t", caption=None) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=WIDTH, color_system=None)
    console.print(_tables.table(df, columns, title, caption))
    return buf.getvalue()


def assert_whole(text: str, cells: list[str]) -> None:
    """No ellipsis, no line wider than WIDTH, and every expected cell's words present (a cell may
    wrap between words, never inside one)."""
    assert ELLIPSIS not in text
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    words = set(text.split())
    for cell in cells:
        for word in cell.split():
            assert word in words, (word, text)


def _frontier_rows() -> pl.DataFrame:
    long = "AWD-LSTM-DRILL + dynamic evaluation\u2020 (WT2) with a very long model name"
    base = {
        "as_of": dt.date(2025, 4, 30),
        "leader": "USA",
        "record_date": dt.date(2024, 1, 1),
        "data_end": dt.date(2024, 6, 25),
        "n_points": 10,
        "runs_per_year_q50": 3.1,
    }
    q = {
        f"{n}_q{p}": v
        for n, vs in (
            ("log10_flop", (25.7, 25.8, 25.9, 26.3, 27.06)),
            ("doubling_months", (6.1, 6.5, 6.83, 7.0, 7.6)),
            ("gap_years", (0.0, 0.0, 1.4123, 2.0, 3.0)),
        )
        for p, v in zip(("05", "25", "50", "75", "95"), vs, strict=True)
    }
    rows = [
        {
            **base,
            **q,
            "nation": "USA",
            "status": "forecast",
            "p_leader": 0.66213,
            "record_model": "Gemini 1.0 Ultra",
            "record_log10_flop": 25.69897,
        },
        {
            **base,
            **q,
            "nation": "CHE",
            "status": "forecast",
            "p_leader": 0.0081,
            "record_model": long,
            "record_log10_flop": 23.0,
        },
        {
            **base,
            **dict.fromkeys(q),
            "nation": "SAU",
            "status": "insufficient data",
            "p_leader": 0.0,
            "record_model": "Aramco Metabrain AI",
            "record_log10_flop": 25.02,
            "runs_per_year_q50": None,
        },
    ]
    return pl.DataFrame(rows, schema=TABLE_SCHEMA)


def test_frontier_table_at_100_columns():
    df = _frontier_rows()
    text = _rendered(df, frontier_cmd.COLUMNS, "frontier", frontier_cmd.caption(df))
    cells = [c.header for c in frontier_cmd.COLUMNS]
    for r in df.iter_rows(named=True):
        cells += [c.cell(r) for c in frontier_cmd.COLUMNS]
    assert_whole(text, cells)
    assert "5.01e25\u20131.15e27" in text  # an interval is never split
    assert "insufficient" in text and "0.662" in text and "1.41" in text


def test_av_table_at_100_columns():
    df = pl.DataFrame(
        {
            "company": ["Waymo", "Baidu Apollo", "Mercedes-Benz Research & Development"],
            "nation": ["USA", "CHN", "DEU"],
            "report_year": [2024] * 3,
            "last_year": [2022, 2022, 2019],
            "extrapolated": [True, True, True],
            "cum_miles_q50": [1.5681234e7, 9.1e6, 12345.0],
            **{
                f"mpd_q{q}": [17060.0 * k, 41719.0 * k, 3.2 * k]
                for q, k in (("05", 0.5), ("25", 0.8), ("50", 1.0), ("75", 1.3), ("95", 2.0))
            },
        }
    )
    text = _rendered(df, av_cmd.COLUMNS)
    cells = [c.header for c in av_cmd.COLUMNS]
    for r in df.iter_rows(named=True):
        cells += [c.cell(r) for c in av_cmd.COLUMNS]
    assert_whole(text, cells)
    assert "1.57e7" in text and "8.53e3\u20133.41e4" in text


def test_tables_command_at_100_columns(tmp_path):
    from learnrace_pipeline.lib.storage.warehouse import write_tables

    db = tmp_path / "w.duckdb"
    frame = pl.DataFrame({"x": list(range(1234))})
    write_tables(
        db,
        {
            ("raw", "mvpf_climate_vendored__cost_observations_with_a_long_name"): frame,
            ("harmonized", "ai_models"): frame.head(3),
        },
    )
    r = runner.invoke(app, ["tables", "--db", str(db)], env={"COLUMNS": str(WIDTH)})
    assert r.exit_code == 0, r.output
    assert_whole(r.stdout, ["mvpf_climate_vendored__cost_observations_with_a_long_name", "1,234"])
    r = runner.invoke(app, ["tables", "--db", str(db), "--format", "json"])
    assert {"schema": "harmonized", "table": "ai_models", "rows": 3} in json.loads(r.stdout)
    r = runner.invoke(app, ["tables", "--db", str(db), "--format", "csv"])
    assert r.stdout.splitlines()[0] == "schema,table,rows"


@pytest.mark.slow
def test_frontier_command_at_100_columns_and_every_column_as_data(tmp_path):
    db = tmp_path / "learnrace.duckdb"  # no warehouse: fits once from the snapshot
    env = {"COLUMNS": str(WIDTH)}
    r = runner.invoke(app, ["frontier", "--as-of", "2025-04-30", "--db", str(db)], env=env)
    assert r.exit_code == 0, r.output
    assert_whole(r.stdout, ["USA", "Gemini 1.0 Ultra", "5.00e25", "P(leader)", "insufficient"])
    r = runner.invoke(
        app, ["frontier", "--as-of", "2024-06-30", "--format", "csv", "--db", str(db)]
    )
    frame = pl.read_csv(io.StringIO(r.stdout))
    assert list(frame.columns) == list(TABLE_SCHEMA)
    assert {"CHE", "ITA"} <= set(frame["nation"])  # rows the default table leaves out


@pytest.mark.slow
def test_av_command_at_100_columns(tmp_path):
    db = tmp_path / "learnrace.duckdb"
    env = {"COLUMNS": str(WIDTH)}
    r = runner.invoke(app, ["av", "--report-year", "2024", "--db", str(db)], env=env)
    assert r.exit_code == 0, r.output
    assert_whole(r.stdout, ["Waymo", "Cruise", "MPD", "miles"])
    r = runner.invoke(app, ["av", "--report-year", "2024", "--format", "csv", "--db", str(db)])
    assert "mpd_q05" in r.stdout.splitlines()[0]
