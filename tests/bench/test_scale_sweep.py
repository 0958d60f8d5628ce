"""The scale sweep's synthetic panel carries its declared parameters, and its ingest and harmonize
stages round-trip every row through a real DuckDB file."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from bench.scale_sweep import (
    PANEL_TABLES,
    SLOT,
    growth_exponent,
    harmonize,
    ingest,
    n_industries_for,
    stage_exponents,
    synthetic_panel,
)
from learnrace_pipeline.lib.sources.schema import KEYS, TABLES
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import read_table


def _ols_slopes(tables: dict[str, pl.DataFrame]) -> dict[str, float]:
    """Per-series OLS slope of dlog cost on dlog cumulative production (no intercept)."""
    j = tables["cost_observations"].join(
        tables["production"].select("series_id", "year", "cumulative_production"),
        on=["series_id", "year"],
    )
    d = j.sort("series_id", "year").with_columns(
        pl.col("unit_cost").log().diff().over("series_id").alias("dc"),
        pl.col("cumulative_production").log().diff().over("series_id").alias("dq"),
    )
    s = (
        d.drop_nulls("dc")
        .group_by("series_id")
        .agg(((pl.col("dc") * pl.col("dq")).sum() / (pl.col("dq") ** 2).sum()).alias("b"))
    )
    return dict(zip(s["series_id"], (-s["b"]).to_list(), strict=True))


def test_panel_has_declared_schema_and_parameters() -> None:
    tables, truth = synthetic_panel(20, seed=3)
    for name in PANEL_TABLES:
        assert dict(tables[name].schema) == TABLES[name]
    cost = tables["cost_observations"]
    assert cost.height == 20 * 30
    assert cost.group_by("series_id").len()["len"].to_list() == [30] * 20
    assert cost["year"].min() == 1990 and cost["year"].max() == 2019
    assert (cost["unit_cost"] > 0).all()
    steps = (
        tables["production"]
        .sort("series_id", "year")
        .select(pl.col("cumulative_production").diff().over("series_id").alias("d"))["d"]
    )
    assert (steps.drop_nulls() > 0).all()
    assert len(truth.w_industry) == n_industries_for(20) == 2
    # the per-series w are spread around their industry's w by about tau_series
    resid = [truth.w_series[s] - truth.w_industry[truth.industry_of[s]] for s in truth.w_series]
    assert 0.03 < float(np.std(resid)) < 0.15
    # OLS slopes recover each series' true w on average (the noise has mean zero) ...
    slopes = _ols_slopes(tables)
    err = np.array([slopes[s] - truth.w_series[s] for s in truth.w_series])
    assert abs(float(err.mean())) < 0.05
    # ... and track the series' own w: the fitted and true exponents are correlated
    w = np.array(list(truth.w_series.values()))
    b = np.array([slopes[s] for s in truth.w_series])
    assert np.corrcoef(w, b)[0, 1] > 0.5


def test_panel_mean_slope_near_w_all_over_many_series() -> None:
    tables, truth = synthetic_panel(400, seed=11, nu=math.inf)
    slopes = np.array(list(_ols_slopes(tables).values()))
    # the mean over 400 series of OLS slopes estimates w_all within a few hundredths
    assert abs(float(slopes.mean()) - truth.w_all) < 0.04
    sd_true = math.hypot(truth.tau_industry, truth.tau_series)
    assert float(np.std(list(truth.w_series.values()))) == pytest.approx(sd_true, rel=0.35)


def test_drift_shifts_the_cost_decline() -> None:
    a, _ = synthetic_panel(50, seed=5, m=0.0)
    b, _ = synthetic_panel(50, seed=5, m=0.05)
    ratio = (b["cost_observations"]["unit_cost"] / a["cost_observations"]["unit_cost"]).log()
    years = (a["cost_observations"]["year"] - 1990).cast(pl.Float64)
    assert np.allclose(ratio.to_numpy(), -0.05 * years.to_numpy())


def test_ingest_and_harmonize_round_trip_rows(tmp_path) -> None:
    tables, _ = synthetic_panel(20, seed=7)
    snapshot.write_source(tmp_path / "datasets", SLOT, tables)
    db = tmp_path / "w.duckdb"
    counts = ingest(tmp_path / "datasets", db)
    assert counts == {f"raw.{SLOT}__{t}": tables[t].height for t in PANEL_TABLES}
    harmonize(db)
    for t in PANEL_TABLES:
        key = list(KEYS[t])
        back = read_table(db, "harmonized", t).sort(key)
        want = tables[t].sort(key)
        assert back.shape == want.shape
        assert back.equals(want), t


def test_growth_exponent_is_the_log_log_slope() -> None:
    assert growth_exponent([100, 1000, 10000], [1.0, 10.0, 100.0]) == pytest.approx(1.0)
    assert growth_exponent([1000, 10000], [5.0, None]) is None


def test_a_stage_stopped_by_its_budget_gives_a_lower_bound() -> None:
    def m(s: float, over: bool = False) -> dict:
        return {"wall_s": s, "returncode": -9 if over else 0, "over_budget": over}

    e = stage_exponents([100, 1000, 10000], [m(10.0), m(20.0), m(200.0, over=True)])
    assert e["1000_to_10000"] == pytest.approx(1.0)
    assert e["1000_to_10000_lower_bound"] and e["all_lower_bound"]
    failed = {"wall_s": 5.0, "returncode": 1, "over_budget": False}
    e = stage_exponents([100, 1000, 10000], [m(10.0), m(100.0), failed])
    assert e["1000_to_10000"] is None and e["all"] == pytest.approx(1.0)
    assert not e["all_lower_bound"]
