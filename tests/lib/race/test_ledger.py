"""The forecast ledger: appends, idempotence, failure and kill -9 safety, scores by hand."""

from __future__ import annotations

import datetime as dt
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.evaluation.scores import mean_pinball as evaluation_mean_pinball
from learnrace_pipeline.lib.forecast.types import LEVELS as FORECAST_LEVELS
from learnrace_pipeline.lib.models.base import data_version
from learnrace_pipeline.lib.race import ledger
from learnrace_pipeline.lib.race.ledger import (
    QCOLS,
    LedgerError,
    append_vintage,
    default_ledger_path,
    find_vintage,
    forecast_rows,
    list_vintages,
    make_vintage,
    read_forecasts,
    read_scores,
    read_vintages,
    vintage_scores,
)
from learnrace_pipeline.lib.race.ledger_scores import (
    mean_pinball,
    observed_version,
    record_scores,
    score_rows,
    score_vintages,
)
from learnrace_pipeline.lib.storage import warehouse

REPO = Path(__file__).resolve().parents[3]
Q = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]  # q05 ... q95 of every volume row
CHN_CLOSE = [2028.0, 2029.0, 2030.0, 2031.0, 2032.0, 2033.0, 2034.0]
USA_CLOSE = [2025.0, 2026.0, 2027.0, 2028.0, 2029.0, 2030.0, 2031.0]
DEU_CLOSE = [2040.0, 2041.0, 2042.0, 2043.0, 2044.0, 2045.0, math.inf]


def _rows(key_values: list[tuple], quantiles: list[list[float]], **extra) -> pl.DataFrame:
    industry, nation, quantity, year, unit = zip(*key_values, strict=True)
    return pl.DataFrame(
        {
            "industry": industry,
            "nation": nation,
            "quantity": quantity,
            "target_year": year,
            "unit": unit,
            **{c: [q[k] for q in quantiles] for k, c in enumerate(QCOLS)},
            **extra,
        }
    )


def volume_rows() -> pl.DataFrame:
    """Five volume forecasts, all with quantiles 1..7 (fraction x 10, any positive unit)."""
    keys = [
        ("solar_pv", "CHN", "volume", 2030, "fraction"),
        ("solar_pv", "USA", "volume", 2030, "fraction"),
        ("solar_pv", "CHN", "volume", 2031, "fraction"),
        ("solar_pv", "USA", "volume", 2031, "fraction"),
        ("solar_pv", "DEU", "volume", 2040, "fraction"),  # never observed here
    ]
    return _rows(keys, [Q] * 5)


def closing_rows() -> pl.DataFrame:
    keys = [("solar_pv", n, "closing_year", 2035, "year") for n in ("CHN", "USA", "DEU")]
    return _rows(keys, [CHN_CLOSE, USA_CLOSE, DEU_CLOSE], p_closed=[0.8, 0.5, 0.1])


def vintage(rows: pl.DataFrame | None = None, scenario: str = "base", seed: int = 1, **kw):
    rows = pl.concat([volume_rows(), closing_rows()], how="diagonal") if rows is None else rows
    return make_vintage(
        rows, data_version="data-1", code_version="code-1", scenario=scenario, seed=seed, **kw
    )


def observed() -> pl.DataFrame:
    """Volume seen at 4 (inside both intervals), 6.5 (only 90%), 2 (only 90%), 10 (neither);
    CHN closed in 2030; USA not closed by 2031 (the data end); an unrelated row."""
    return pl.DataFrame(
        {
            "industry": ["solar_pv"] * 6 + ["robots"],
            "nation": ["CHN", "USA", "CHN", "USA", "CHN", "USA", "JPN"],
            "quantity": ["volume"] * 4 + ["closing_year"] * 2 + ["volume"],
            "year": [2030, 2030, 2031, 2031, 2031, 2031, 2030],
            "value": [4.0, 6.5, 2.0, 10.0, 2030.0, None, 0.3],
        }
    )


def log_pinball_by_hand(y: float) -> float:
    """rho_tau(ln y - ln q_tau) averaged over the 7 levels, for the quantiles 1..7."""
    taus = [0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95]
    total = 0.0
    for tau, q in zip(taus, Q, strict=True):
        u = math.log(y) - math.log(q)
        total += tau * u if u >= 0 else (tau - 1) * u
    return total / 7


# --- rows and ids ------------------------------------------------------------------------------


def test_local_copies_match_the_project_functions():
    """The ledger's levels, pinball and observed version equal the forecaster's and the models'."""
    assert ledger.LEVELS == FORECAST_LEVELS
    rng = np.random.default_rng(3)
    q = np.sort(rng.normal(size=(50, 7)), axis=1)
    y = rng.normal(size=50)
    np.testing.assert_array_equal(mean_pinball(q, y), evaluation_mean_pinball(q, y))
    obs = ledger_scores_sorted(observed())
    assert observed_version(observed()) == data_version(obs)


def ledger_scores_sorted(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("year").cast(pl.Int32)).sort(
        "industry", "nation", "quantity", "year"
    )


def test_forecast_rows_defaults_and_order():
    rows = forecast_rows(pl.concat([closing_rows(), volume_rows()], how="diagonal"))
    assert list(rows.columns) == list(ledger.FORECAST_SCHEMA)
    assert rows["log_scale"].to_list() == [False, True, True, False, True, False, True, True]
    assert rows["p_closed"].to_list() == [0.8, None, None, 0.1, None, 0.5, None, None]
    assert rows.schema["target_year"] == pl.Int32


@pytest.mark.parametrize(
    ("change", "row", "column", "problem"),
    [
        (lambda d: d.drop("unit"), None, "unit", "missing column 'unit'"),
        (
            lambda d: d.with_columns(quantity=pl.lit("share")),
            1,
            "quantity",
            "unknown quantity 'share'",
        ),
        (
            lambda d: d.with_columns(target_year=pl.lit(2030)),
            3,
            "target_year",
            "duplicate forecast solar_pv/CHN/volume/2030 (an earlier row has it)",
        ),
        (
            lambda d: d.with_columns(
                q50=pl.when(pl.col("nation") == "USA").then(2.5).otherwise(4.0)
            ),
            2,
            "q50",
            "q50 = 2.5 is below q25 = 3.0",
        ),
        (
            lambda d: d.with_columns(
                q95=pl.when(pl.col("nation") == "DEU").then(math.inf).otherwise(pl.col("q95"))
            ),
            5,
            "q95",
            "q95 is infinite (inf); only closing years may be inf",
        ),
        (lambda d: d.with_columns(q10=float("nan")), 1, "q10", "q10 is NaN"),
        (
            lambda d: d.with_columns(p_closed=pl.lit(0.3)),
            1,
            "p_closed",
            "p_closed is given for a volume row",
        ),
        (
            lambda d: d.with_columns(q05=pl.lit(-1.0), log_scale=pl.lit(True)),
            1,
            "q05",
            "log_scale row with q05 = -1.0",
        ),
    ],
)
def test_bad_rows_name_row_and_column(change, row, column, problem):
    with pytest.raises(DataError) as e:
        forecast_rows(change(volume_rows()))
    assert (e.value.row, e.value.column) == (row, column)
    assert problem in e.value.problem
    assert e.value.source == "forecast ledger"


def test_p_closed_outside_0_1_refused():
    with pytest.raises(DataError, match=r"p_closed = 1\.5 is not a probability"):
        forecast_rows(closing_rows().with_columns(p_closed=pl.lit(1.5)))


def test_vintage_id_names_the_forecast_not_the_moment():
    a = vintage(created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    b = vintage(created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC))
    assert a.vintage_id == b.vintage_id and len(a.vintage_id) == 16
    assert vintage(scenario="no_cap").vintage_id != a.vintage_id
    assert vintage(seed=2).vintage_id != a.vintage_id
    moved = volume_rows().with_columns(q50=pl.lit(4.5))
    assert vintage(pl.concat([moved, closing_rows()], how="diagonal")).vintage_id != a.vintage_id
    # An aware time is stored as UTC.
    c = vintage(created_at=dt.datetime(2026, 1, 1, 3, tzinfo=dt.timezone(dt.timedelta(hours=3))))
    assert c.created_at == dt.datetime(2026, 1, 1, 0, 0)


# --- storage -----------------------------------------------------------------------------------


def test_default_path_beside_the_warehouse(monkeypatch, tmp_path):
    monkeypatch.delenv(ledger.ENV_LEDGER, raising=False)
    assert default_ledger_path(tmp_path / "wh" / "learnrace.duckdb") == tmp_path / "wh" / (
        "ledger.duckdb"
    )
    monkeypatch.setenv(ledger.ENV_LEDGER, str(tmp_path / "elsewhere.duckdb"))
    assert default_ledger_path(tmp_path / "wh" / "learnrace.duckdb") == tmp_path / (
        "elsewhere.duckdb"
    )


def test_append_read_and_idempotence(tmp_path):
    path = tmp_path / "ledger.duckdb"
    first = vintage(created_at=dt.datetime(2026, 1, 1))
    assert append_vintage(path, first) is True
    assert append_vintage(path, vintage(created_at=dt.datetime(2026, 2, 1))) is False  # same id
    other = vintage(scenario="no_cap", created_at=dt.datetime(2026, 3, 1))
    assert append_vintage(path, other) is True
    heads = read_vintages(path)
    assert heads["vintage_id"].to_list() == [first.vintage_id, other.vintage_id]
    assert heads["created_at"].to_list() == [dt.datetime(2026, 1, 1), dt.datetime(2026, 3, 1)]
    assert heads["n_rows"].to_list() == [8, 8]
    assert heads.row(0, named=True) | {"created_at": None} == {
        "vintage_id": first.vintage_id,
        "created_at": None,
        "data_version": "data-1",
        "code_version": "code-1",
        "scenario": "base",
        "seed": 1,
        "n_rows": 8,
    }
    rows = read_forecasts(path, first.vintage_id)
    assert rows.drop("vintage_id").equals(first.rows)  # inf and nulls survive
    assert read_forecasts(path).height == 16


def test_failed_append_adds_nothing(tmp_path, monkeypatch):
    """An error after the forecast rows went in (before the header) rolls the append back."""
    path = tmp_path / "ledger.duckdb"
    kept = vintage()
    append_vintage(path, kept)

    def boom(*_a, **_k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ledger, "_insert_header", boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        append_vintage(path, vintage(scenario="no_cap"))
    assert read_vintages(path)["vintage_id"].to_list() == [kept.vintage_id]
    assert read_forecasts(path)["vintage_id"].unique().to_list() == [kept.vintage_id]
    assert read_forecasts(path).height == 8


def test_ledger_survives_deleting_the_warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv(ledger.ENV_LEDGER, raising=False)
    db = tmp_path / "learnrace.duckdb"
    warehouse.write_tables(db, {("race", "race"): pl.DataFrame({"x": [1]})})
    path = default_ledger_path(db)
    v = vintage()
    append_vintage(path, v)
    for f in tmp_path.glob("learnrace.duckdb*"):
        f.unlink()
    assert not db.exists() and path.exists()
    assert read_vintages(path)["vintage_id"].to_list() == [v.vintage_id]
    warehouse.write_tables(db, {("race", "race"): pl.DataFrame({"x": [2]})})  # rebuilt
    assert read_forecasts(path).height == 8


def test_missing_or_foreign_file(tmp_path):
    with pytest.raises(LedgerError, match="no forecast ledger at"):
        list_vintages(tmp_path / "none.duckdb")
    warehouse.write_tables(tmp_path / "other.duckdb", {("main", "t"): pl.DataFrame({"x": [1]})})
    with pytest.raises(LedgerError, match="is not a forecast ledger"):
        read_vintages(tmp_path / "other.duckdb")


# --- scores ------------------------------------------------------------------------------------


def test_score_rows_by_hand(tmp_path):
    path = tmp_path / "ledger.duckdb"
    v = vintage()
    append_vintage(path, v)
    rows = score_rows(read_forecasts(path), observed())
    got = {(r["nation"], r["quantity"], r["target_year"]): r for r in rows.iter_rows(named=True)}
    assert set(got) == {
        ("CHN", "volume", 2030),
        ("USA", "volume", 2030),
        ("CHN", "volume", 2031),
        ("USA", "volume", 2031),
        ("CHN", "closing_year", 2035),
        ("USA", "closing_year", 2035),  # not closed by 2031 >= its q95: both intervals missed
    }  # DEU volume 2040 unobserved; DEU closing: no observation
    expect = {  # (observed, in50, in90)
        ("CHN", "volume", 2030): (4.0, True, True),
        ("USA", "volume", 2030): (6.5, False, True),
        ("CHN", "volume", 2031): (2.0, False, True),
        ("USA", "volume", 2031): (10.0, False, False),
    }
    for key, (y, in50, in90) in expect.items():
        r = got[key]
        assert (r["observed"], r["in50"], r["in90"], r["brier"]) == (y, in50, in90, None)
        assert r["pinball"] == pytest.approx(log_pinball_by_hand(y), rel=1e-12)
    chn = got[("CHN", "closing_year", 2035)]
    # 2030 - q = 2, 1, 0, -1, -2, -3, -4: (0.05*2 + 0.10*1 + 0 + 0.5*1 + 0.25*2 + 0.1*3 + 0.05*4) / 7
    assert chn["pinball"] == pytest.approx(1.7 / 7, rel=1e-12)
    assert (chn["in50"], chn["in90"]) == (True, True)
    assert chn["brier"] == pytest.approx((0.8 - 1.0) ** 2)  # closed 2030 <= horizon 2035
    usa = got[("USA", "closing_year", 2035)]
    assert (usa["in50"], usa["in90"], usa["pinball"], usa["brier"]) == (False, False, None, None)


def test_score_vintages_by_hand(tmp_path):
    path = tmp_path / "ledger.duckdb"
    v = vintage()
    append_vintage(path, v)
    scores = score_vintages(path, observed())
    by_q = {r["quantity"]: r for r in scores.iter_rows(named=True)}
    vol = by_q["volume"]
    # 4 of 5 rows observed; 3 of 4 inside the 90% interval, 1 of 4 inside the 50% interval.
    assert (vol["n_rows"], vol["n_scored"], vol["cov90"], vol["cov50"]) == (5, 4, 0.75, 0.25)
    hand = sum(log_pinball_by_hand(y) for y in (4.0, 6.5, 2.0, 10.0)) / 4
    assert vol["pinball"] == pytest.approx(hand, rel=1e-12)
    close = by_q["closing_year"]
    assert (close["n_rows"], close["n_scored"], close["cov50"], close["cov90"]) == (3, 2, 0.5, 0.5)
    assert close["brier"] == pytest.approx(0.04)
    every = by_q["all"]
    # in90: 3 of 4 volume + CHN in, USA out = 4 of 6; pinball: volume rows only.
    assert (every["n_rows"], every["n_scored"]) == (8, 6)
    assert every["cov90"] == pytest.approx(4 / 6) and every["cov50"] == pytest.approx(2 / 6)
    assert every["pinball"] == pytest.approx(hand, rel=1e-12)


def test_closing_years_known_once_the_data_reaches_them(tmp_path):
    """DEU (q25..q75 = 2042..2044, horizon 2035) not closed: nothing known by 2034; the Brier
    score (outcome 0) from 2035; the 50% interval known missed from 2044; the 90% never (inf)."""
    rows = closing_rows().filter(pl.col("nation") == "DEU")

    def deu(data_end: int) -> dict | None:
        obs = pl.DataFrame(
            {
                "industry": ["solar_pv"],
                "nation": ["DEU"],
                "quantity": ["closing_year"],
                "year": [data_end],
                "value": [None],
            },
            schema_overrides={"value": pl.Float64},
        )
        scored = score_rows(forecast_rows(rows).with_columns(vintage_id=pl.lit("v")), obs)
        return scored.row(0, named=True) if scored.height else None

    assert deu(2034) is None
    r = deu(2035)
    assert (r["in50"], r["in90"], r["pinball"]) == (None, None, None)
    assert r["brier"] == pytest.approx(0.1**2)
    r = deu(2044)
    assert (r["in50"], r["in90"]) == (False, None)


def test_a_positive_forecast_observed_at_zero_is_refused(tmp_path):
    obs = observed().with_columns(value=pl.when(pl.col("nation") == "USA").then(0.0).otherwise(4.0))
    with pytest.raises(DataError, match=r"USA/volume 2030 observed at 0\.0") as e:
        score_rows(forecast_rows(volume_rows()).with_columns(vintage_id=pl.lit("v")), obs)
    assert e.value.column == "value"


def test_bad_observed_rows_named():
    dup = pl.concat([observed(), observed().head(1)])
    with pytest.raises(DataError, match="row 8, column 'year': duplicate"):
        score_rows(forecast_rows(volume_rows()).with_columns(vintage_id=pl.lit("v")), dup)
    missing = observed().with_columns(value=pl.lit(None, pl.Float64))
    with pytest.raises(DataError, match="row 1, column 'value': value is missing"):
        score_rows(forecast_rows(volume_rows()).with_columns(vintage_id=pl.lit("v")), missing)


def test_record_scores_events_and_listing(tmp_path):
    path = tmp_path / "ledger.duckdb"
    old = vintage(created_at=dt.datetime(2026, 1, 1))
    append_vintage(path, old)
    assert list_vintages(path)[["n_scored", "cov90"]].row(0) == (0, None)  # nothing observed yet
    first = record_scores(path, observed(), scored_at=dt.datetime(2026, 2, 1))
    assert first.height == 3  # all, closing_year, volume
    assert record_scores(path, observed()).height == 0  # same data version: nothing new
    new = vintage(scenario="no_cap", created_at=dt.datetime(2026, 3, 1))
    append_vintage(path, new)
    assert (
        record_scores(path, observed(), scored_at=dt.datetime(2026, 4, 1)).height == 3
    )  # new only
    # Newer data: CHN 2030 volume revised to 10 (outside): in90 now 3 of 6 for both vintages.
    newer = observed().with_columns(
        value=pl.when((pl.col("nation") == "CHN") & (pl.col("year") == 2030))
        .then(10.0)
        .otherwise(pl.col("value"))
    )
    record_scores(path, newer, scored_at=dt.datetime(2026, 5, 1))
    listing = list_vintages(path)
    assert listing["vintage_id"].to_list() == [old.vintage_id, new.vintage_id]
    assert listing["observed_version"].to_list() == [observed_version(newer)] * 2
    assert listing["cov90"].to_list() == pytest.approx([3 / 6, 3 / 6])
    assert listing["n_scored"].to_list() == [6, 6]
    events = read_scores(path)
    assert events.height == 3 + 3 + 6 and events["observed_version"].n_unique() == 2
    # Appended rows never change: the first events still hold the first scores.
    first_all = events.filter(
        (pl.col("quantity") == "all") & (pl.col("observed_version") == observed_version(observed()))
    )
    assert first_all["cov90"].to_list() == pytest.approx([4 / 6, 4 / 6])
    assert read_forecasts(path).height == 16
    # One vintage by quantity: its latest event (the newer data).
    per_q = vintage_scores(path, find_vintage(path, old.vintage_id[:5]))
    assert per_q["quantity"].to_list() == ["closing_year", "volume", "all"]
    assert per_q["n_rows"].to_list() == [3, 5, 8] and per_q["n_scored"].to_list() == [2, 4, 6]
    assert per_q["cov90"].to_list() == pytest.approx([0.5, 2 / 4, 3 / 6])
    assert per_q["observed_version"].unique().to_list() == [observed_version(newer)]


def test_find_vintage_needs_one_match(tmp_path):
    path = tmp_path / "ledger.duckdb"
    # Among 17 seeds two ids share their first hex digit (16 digits): append those two.
    by_digit: dict[str, list] = {}
    for seed in range(17):
        v = vintage(seed=seed)
        by_digit.setdefault(v.vintage_id[0], []).append(v)
    a, b = next(vs for vs in by_digit.values() if len(vs) > 1)[:2]
    append_vintage(path, a)
    append_vintage(path, b)
    assert find_vintage(path, b.vintage_id) == b.vintage_id
    with pytest.raises(LedgerError, match=r"no vintage in .* with an id starting 'xyz'"):
        find_vintage(path, "xyz")
    with pytest.raises(LedgerError, match="no vintage"):
        find_vintage(path, "")
    with pytest.raises(LedgerError, match="2 vintages"):
        find_vintage(path, a.vintage_id[0])
    unscored = vintage_scores(path, a.vintage_id)
    assert unscored["n_scored"].to_list() == [0, 0, 0]
    assert unscored["cov90"].null_count() == 3


# --- kill -9 -----------------------------------------------------------------------------------

CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np, polars as pl
    from learnrace_pipeline.lib.race import ledger as L

    path, mode = sys.argv[1], sys.argv[2]
    n = 150_000
    i = np.arange(n)
    base = 1.0 + i / n
    rows = pl.DataFrame({
        "industry": [f"ind{k}" for k in i // 3000], "nation": [f"N{k:02d}" for k in (i // 30) % 100],
        "quantity": "volume", "target_year": 2025 + i % 30, "unit": "fraction",
        **{c: base * (1 + 0.1 * k) for k, c in enumerate(L.QCOLS)},
    })
    v = L.make_vintage(rows, data_version="big", code_version="c", scenario="big", seed=7)
    header = L._insert_header
    def marked_header(*a, **k):
        if mode == "pause":
            print("inserted", flush=True)  # the rows are in, not committed
            time.sleep(60)
        header(*a, **k)
        print("committing", flush=True)  # the last statement before COMMIT
    L._insert_header = marked_header
    start = time.perf_counter()
    L.append_vintage(path, v)
    print(f"appended {time.perf_counter() - start:.3f}", flush=True)
    """
)


def _kill_during_append(path: Path, mode: str, wait_for: str, delay: float) -> str:
    """Start a child appending a 150,000-row vintage; kill -9 it ``delay`` seconds after it
    prints ``wait_for`` (or let it end if it gets there first); return what it printed."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path), mode], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    seen = []
    try:
        for line in child.stdout:
            seen.append(line.strip())
            if line.strip() == wait_for:
                break
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    seen += [line.strip() for line in child.stdout]
    said = " ".join(seen)
    assert child.returncode == -signal.SIGKILL or (child.returncode == 0 and "appended" in said)
    return said


def _assert_whole(path: Path, old: list[str]) -> bool:
    """The ledger opens; every vintage has all its rows; the old ones are still there. True if
    the killed vintage got in."""
    heads = read_vintages(path)
    ids = heads["vintage_id"].to_list()
    assert ids[: len(old)] == old and len(ids) in (len(old), len(old) + 1)
    counts = read_forecasts(path).group_by("vintage_id").len()
    assert dict(counts.iter_rows()) == dict(zip(ids, heads["n_rows"].to_list(), strict=True))
    return len(ids) == len(old) + 1


def test_kill_9_mid_append_leaves_old_or_new(tmp_path):
    """kill -9 of a real process appending 150,000 rows: (1) with its rows inserted and not
    committed: the old ledger; (2) as it commits: the old or the new vintage, whole. Then the
    next append works."""
    path = tmp_path / "ledger.duckdb"
    small = vintage()
    append_vintage(path, small)
    old = [small.vintage_id]
    said = _kill_during_append(path, "pause", wait_for="inserted", delay=0.2)
    assert "committing" not in said
    assert _assert_whole(path, old) is False
    # 0.05 s after its last statement: in a probe, kills 0-0.1 s after it found the commit
    # not yet made (0 s) or made but the process not done (its WAL replayed on the next open).
    said = _kill_during_append(path, "commit", wait_for="committing", delay=0.05)
    added = _assert_whole(path, old)
    assert added or "appended" not in said
    again = vintage(scenario="after")
    assert append_vintage(path, again) is True
    assert read_vintages(path)["vintage_id"].to_list()[-1] == again.vintage_id
