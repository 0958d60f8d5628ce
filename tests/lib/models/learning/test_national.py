"""The national installed-cost panel and model: panel arithmetic and bad input on literal tables;
parameter recovery on a panel simulated from known exponents (slow: one small MCMC fit)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.diagnostics import check_fit, predictive_coverage
from learnrace_pipeline.lib.models.learning import national
from learnrace_pipeline.lib.models.learning.national import (
    NationalCostSeries,
    NationalTruth,
    build_national_panel,
    simulate_national_tables,
)

SPEC = {
    "tech_a": NationalCostSeries("s:a_cost", "s:a_world", "s:a_nation"),
    "tech_b": NationalCostSeries("s:b_cost", "s:b_world"),
}


def _tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    years = list(range(2000, 2008))
    cost = []
    for sid, nation, n in (
        ("s:a_cost", "USA", 8),
        ("s:a_cost", "DEU", 8),
        ("s:a_cost", "FRA", 3),
        ("s:b_cost", "USA", 8),
        ("s:a_cost", "WLD", 8),
    ):
        cost += [(sid, nation, y, 100.0 * 0.9 ** (y - 2000), "2019 USD/kW") for y in years[:n]]
    prod = [("s:a_world", "WLD", y, 10.0 * 2 ** (y - 2000)) for y in years]
    prod += [("s:b_world", "WLD", y, 5.0 * 1.5 ** (y - 2000)) for y in years]
    prod += [("s:a_nation", "USA", y, 2.0 * 3 ** (y - 2000)) for y in years]
    prod += [("s:a_nation", "DEU", y, 1.0 + y - 2000) for y in years[2:]]  # misses 2000-2001
    c = pl.DataFrame(
        cost, schema=["series_id", "nation", "year", "unit_cost", "unit"], orient="row"
    ).with_columns(pl.col("year").cast(pl.Int32))
    p = pl.DataFrame(
        prod, schema=["series_id", "nation", "year", "cumulative_production"], orient="row"
    ).with_columns(pl.col("year").cast(pl.Int32))
    return c, p


def test_panel_differences_experience_and_exclusions() -> None:
    cost, prod = _tables()
    panel = build_national_panel(cost, prod, series=SPEC, min_points=4)
    s = panel.series
    assert s["series"].to_list() == ["tech_a[DEU]", "tech_a[USA]", "tech_b[USA]"]
    # DEU's national series misses two years: world experience only; WLD is never a series
    assert s["has_national"].to_list() == [False, True, False]
    assert panel.national_series == ["tech_a[USA]"]
    assert panel.excluded.to_dicts() == [
        {"series": "tech_a[FRA]", "reason": "3 point(s) < min_points 4"}
    ]
    usa = panel.obs.filter(pl.col("series") == "tech_a[USA]")
    np.testing.assert_allclose(usa["dlogq_world"], np.log(2.0))
    np.testing.assert_allclose(usa["dlogq_nation"], np.log(3.0))
    np.testing.assert_allclose(usa["dlogc"], np.log(0.9))
    deu = panel.obs.filter(pl.col("series") == "tech_a[DEU]")
    assert (deu["dlogq_nation"] == 0.0).all()
    b = panel.obs.filter(pl.col("series") == "tech_b[USA]")
    np.testing.assert_allclose(b["dlogq_world"], np.log(1.5))
    d = panel.data()
    assert d["lambda_of_series"].tolist() == [-1, 0, -1]
    assert d["technology_of_series"].tolist() == [0, 0, 1]
    assert panel.obs.height == 7 + 7 + 7


def test_bad_input_names_source_row_and_column() -> None:
    cost, prod = _tables()
    bad = cost.with_columns(
        pl.when((pl.col("nation") == "USA") & (pl.col("year") == 2003))
        .then(0.0)
        .otherwise(pl.col("unit_cost"))
        .alias("unit_cost")
    )
    with pytest.raises(DataError, match="s:a_cost USA 2003") as err:
        build_national_panel(bad, prod, series=SPEC)
    assert err.value.column == "unit_cost"
    with pytest.raises(DataError, match="no world cumulative production") as err:
        build_national_panel(cost, prod.filter(pl.col("series_id") != "s:b_world"), series=SPEC)
    with pytest.raises(DataError, match="lacks columns"):
        build_national_panel(cost.drop("unit"), prod, series=SPEC)
    falling = prod.with_columns(
        pl.when((pl.col("series_id") == "s:a_nation") & (pl.col("year") == 2005))
        .then(1.0)
        .otherwise(pl.col("cumulative_production"))
        .alias("cumulative_production")
    )
    with pytest.raises(DataError, match="falls in tech_a\\[USA\\]"):
        build_national_panel(cost, falling, series=SPEC, min_points=4)


def test_shipped_panel_covers_wind_and_solar_nations() -> None:
    from learnrace_pipeline.lib.models.learning.panel import load_tables

    t = load_tables(["owid_datasets", "helveston_solar_2022"])
    panel = build_national_panel(t["cost_observations"], t["production"])
    s = panel.series
    wind = s.filter(pl.col("technology") == "wind_onshore")
    solar = s.filter(pl.col("technology") == "solar_pv_system")
    assert wind.height == 15 and solar.height == 9  # Turkey's 4 solar points are too few
    assert panel.national_series == [f"solar_pv_system[{n}]" for n in ("CHN", "DEU", "USA")]
    assert wind["last_year"].max() == 2016  # world wind capacity ends in 2016


# ----------------------------------------------------------------------------- recovery

TRUTH = NationalTruth(
    w={
        **{
            f"tech_a[{n}]": w
            for n, w in zip("ABCDEF", (0.2, 0.3, 0.4, 0.25, 0.35, 0.3), strict=True)
        },
        **{f"tech_b[{n}]": w for n, w in zip("GHIJK", (0.1, 0.15, 0.05, 0.2, 0.1), strict=True)},
    },
    m={"tech_a": 0.03, "tech_b": 0.025},
    lam={"tech_a[A]": 0.25, "tech_a[B]": 0.75},
)
SMALL = base.SamplerConfig(draws=300, tune=300, chains=4, seed=11, target_accept=0.95)


@pytest.fixture(scope="module")
def recovered():
    cost, prod, spec = simulate_national_tables(
        TRUTH, range(1995, 2020), national=("tech_a[A]", "tech_a[B]"), seed=3
    )
    panel = build_national_panel(cost, prod, series=spec)
    return panel, national.fit_national(panel, sampler=SMALL)


@pytest.mark.slow
def test_recovers_national_exponents_and_spillover(recovered) -> None:
    panel, dt = recovered
    assert panel.national_series == ["tech_a[A]", "tech_a[B]"]
    assert check_fit(dt, coverage_probs=(), ess_min=100).divergences == 0
    coverage = predictive_coverage(dt)  # one-step predictive of the 11 x 24 differences
    assert abs(coverage["50%"] - 0.5) < 0.08 and abs(coverage["90%"] - 0.9) < 0.05, coverage
    rates = national.national_rates(dt)
    inside = 0
    for series, w in TRUTH.w.items():
        tech, nation = series[:-3], series[-2]
        r = rates.filter((pl.col("technology") == tech) & (pl.col("nation") == nation)).row(
            0, named=True
        )
        inside += r["w_q05"] <= w <= r["w_q95"]
        assert abs(r["w_q50"] - w) < 0.15, (series, r["w_q50"], w)
        assert r["lr_q50"] == pytest.approx(1 - 2 ** -r["w_q50"], abs=1e-6)  # monotone map
    assert inside >= len(TRUTH.w) - 1  # 90% intervals: at most one miss of 11
    for tech, w_mean in (("tech_a", 0.3), ("tech_b", 0.12)):
        top = rates.filter((pl.col("technology") == tech) & (pl.col("nation") == "ALL"))
        assert top["w_q05"][0] < w_mean < top["w_q95"][0]
    lam = rates.filter(pl.col("lambda_q50").is_not_null()).sort("nation")
    assert lam["nation"].to_list() == ["A", "B"]
    for r, true in zip(lam.iter_rows(named=True), (0.25, 0.75), strict=True):
        assert r["lambda_q05"] <= true <= r["lambda_q95"]
    assert lam["lambda_q50"][0] < lam["lambda_q50"][1]  # the order of the two shares is found


@pytest.mark.slow
def test_fit_carries_provenance_and_fit_data(recovered) -> None:
    panel, dt = recovered
    assert dt.attrs["model_type"] == national.MODEL_TYPE
    assert dt.attrs["model_id"] == national.national_model_id(national.NationalConfig(), SMALL)
    assert dt.attrs["data_version"] == base.data_version(panel.obs)
    fd = dt["fit_data"]
    assert list(fd["series"].values) == panel.series["series"].to_list()
    assert fd["series_has_national"].values.sum() == 2
    pp = dt.posterior_predictive["dlogc"]
    assert pp.dims == ("chain", "draw", "obs") and pp.sizes["obs"] == panel.obs.height
    national.check_posterior(dt)
