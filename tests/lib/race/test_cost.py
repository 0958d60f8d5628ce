"""The race's cost projector and channel attribution on synthetic posteriors with known
parameters (no sampling): exact shares, the no-spillover and faster-research knobs, the world
(Wright) metric shared by every nation, and the production paths."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models.learning import national
from learnrace_pipeline.lib.race import cost
from learnrace_pipeline.lib.race.draws import Knobs
from learnrace_pipeline.lib.race.spec import load_spec

SOLAR = national.NATIONAL_COST_SERIES["solar_pv_system"]
BATTERY = "mvpf_climate_vendored:way2022_battery_cost_spliced"
BATTERY_Q = "mvpf_climate_vendored:way2022_battery_cumulative_production"
YEARS = np.arange(2010, 2036)
WORLD_G, NATION_G = 0.20, {"USA": 0.25, "CHN": 0.35, "DEU": 0.10}
W = {"USA": 0.30, "CHN": 0.40, "DEU": 0.35}
LAM = {"USA": 0.3, "CHN": 0.6}  # DEU: no national experience series in this fit
M = 0.03
C0 = {"USA": 1200.0, "CHN": 800.0, "DEU": 900.0}
N_DRAWS = 50


def _posterior(values: dict[str, tuple[tuple[str, ...], np.ndarray]], coords: dict) -> xr.Dataset:
    """A posterior of 2 chains x 25 draws holding each value constant."""
    data = {}
    for name, (dims, v) in values.items():
        arr = np.broadcast_to(np.asarray(v, float), (2, 25, *np.shape(v)))
        data[name] = (("chain", "draw", *dims), arr.copy())
    return xr.Dataset(data, coords={"chain": [0, 1], "draw": np.arange(25), **coords})


def _national_fit(sigma: float = 1e-9) -> xr.DataTree:
    nations = ["CHN", "DEU", "USA"]
    series = [f"solar_pv_system[{n}]" for n in nations]
    lam_series = [f"solar_pv_system[{n}]" for n in nations if n in LAM]
    post = _posterior(
        {
            "w_series": (("series",), np.array([W[n] for n in nations])),
            "m_series": (("series",), np.full(3, M)),
            "lambda": (("lambda_series",), np.array([LAM[s[-4:-1]] for s in lam_series])),
            "sigma_series": (("series",), np.full(3, sigma)),
            "rho": ((), np.array(0.0)),
            "nu": ((), np.array(30.0)),
        },
        {"series": series, "lambda_series": lam_series},
    )
    fd = xr.Dataset(
        {
            "series_technology": ("series", np.array(["solar_pv_system"] * 3)),
            "series_nation": ("series", np.array(nations)),
            "series_cost_id": ("series", np.array([SOLAR.cost_series_id] * 3)),
            "series_has_national": ("series", np.array([n in LAM for n in nations])),
        },
        coords={"series": series},
    )
    dt = xr.DataTree.from_dict({"posterior": post, "fit_data": fd})
    dt.attrs["model_type"] = national.MODEL_TYPE
    return dt


def _wright_fit(w: float = 0.35) -> xr.DataTree:
    post = _posterior(
        {
            "w_series": (("series",), np.array([w, 0.2])),
            "sigma_series": (("series",), np.full(2, 1e-9)),
            "rho": ((), np.array(0.1)),
            "nu": ((), np.array(30.0)),
        },
        {"series": [BATTERY, "other"]},
    )
    return xr.DataTree.from_dict({"posterior": post})


def _tables(last_cost_year: int = 2019, q_through: int = 2035) -> dict[str, pl.DataFrame]:
    """Costs 2010..last_cost_year; cumulative production 2005..q_through at constant log growth
    (so every year the projector needs is observed, and the parts are exact)."""
    cost_rows, prod_rows = [], []
    for n, c0 in C0.items():
        for y in range(2010, last_cost_year + 1):
            cost_rows.append((SOLAR.cost_series_id, n, y, c0 * 0.9 ** (y - 2010), "2019 USD/kW"))
    for y in range(2010, 2021):
        cost_rows.append((BATTERY, "WLD", y, 1000.0 * 0.85 ** (y - 2010), "2020 USD/kWh"))
    for y in range(2005, q_through + 1):
        prod_rows.append((SOLAR.world_experience, "WLD", y, 1e4 * np.exp(WORLD_G * (y - 2005))))
        prod_rows.append((BATTERY_Q, "WLD", y, 10.0 * np.exp(0.3 * (y - 2005))))
        for n, g in NATION_G.items():
            prod_rows.append((SOLAR.national_experience, n, y, 1e3 * np.exp(g * (y - 2005))))
    costs = pl.DataFrame(
        cost_rows, schema=["series_id", "nation", "year", "unit_cost", "unit"], orient="row"
    ).with_columns(pl.col("year").cast(pl.Int32))
    prod = pl.DataFrame(
        prod_rows, schema=["series_id", "nation", "year", "cumulative_production"], orient="row"
    ).with_columns(pl.col("year").cast(pl.Int32))
    return {"cost_observations": costs, "production": prod}


@pytest.fixture(scope="module")
def spec():
    return load_spec()


def _expected_parts(nation: str, h: int, lam: float | None = None) -> tuple[float, ...]:
    w = W[nation]
    share = LAM.get(nation) if lam is None else lam
    if nation in LAM:
        own = w * share * NATION_G[nation] * h
        world = w * (1 - share) * WORLD_G * h
    else:  # no national experience series: world only, (1 - lambda) of it under a knob
        own, world = 0.0, w * (1 - (lam or 0.0)) * WORLD_G * h
    return own, world, M * h


def test_attribution_shares_are_exact_for_known_parameters(spec) -> None:
    out = cost.attribution(
        spec.industry("solar_pv"), _national_fit(), _tables(), seed=3, n_draws=N_DRAWS
    )
    assert out["nation"].to_list() == ["USA", "CHN", "DEU"]
    for row in out.iter_rows(named=True):
        h = 2035 - 2019
        own, world, time_ = _expected_parts(row["nation"], h)
        total = own + world + time_
        assert row["from_year"] == 2019 and row["to_year"] == 2035
        assert row["decline_log_q50"] == pytest.approx(total, rel=1e-9)
        for name, part in (
            ("own_deployment", own),
            ("world_spillover", world),
            ("time_research", time_),
        ):
            for q in ("q05", "q50", "q95"):
                assert row[f"share_{name}_{q}"] == pytest.approx(part / total, rel=1e-9)
        assert row["n_draws_positive"] == N_DRAWS
    deu = out.filter(pl.col("nation") == "DEU").row(0, named=True)
    assert deu["share_own_deployment_q50"] == 0.0
    assert "no national experience" in deu["note"]


def test_no_spillover_removes_the_world_share(spec) -> None:
    industry = spec.industry("solar_pv")
    knobs = Knobs(spillover_lambda={"USA": 1.0, "CHN": 1.0, "DEU": 1.0})
    out = cost.attribution(industry, _national_fit(), _tables(), knobs, seed=3, n_draws=N_DRAWS)
    for row in out.iter_rows(named=True):
        n = row["nation"]
        assert row["share_world_spillover_q95"] == 0.0
        own, world, time_ = _expected_parts(n, 16, lam=1.0)
        assert world == 0.0
        assert row["share_time_research_q50"] == pytest.approx(time_ / (own + time_), rel=1e-9)
    deu = out.filter(pl.col("nation") == "DEU").row(0, named=True)
    assert deu["share_time_research_q50"] == pytest.approx(1.0)
    assert "lambda = 1: no learning from deployment at all" in deu["note"]


def test_faster_research_lowers_projected_cost_by_the_time_term(spec) -> None:
    industry = spec.industry("solar_pv")
    years = list(range(2015, 2036))
    base = cost.cost_draws(industry, _national_fit(), _tables(), years, seed=5, n_draws=N_DRAWS)
    fast_knobs = Knobs(research_rate_scale={"USA": 1.5, "CHN": 1.5, "DEU": 1.5})
    fast = cost.cost_draws(
        industry, _national_fit(), _tables(), years, fast_knobs, seed=5, n_draws=N_DRAWS
    )
    b = base.values.sel(year=2035).median("draw")
    f = fast.values.sel(year=2035).median("draw")
    # same seed, same noise: the ratio is exactly exp(0.5 m h)
    np.testing.assert_allclose((b / f).values, np.exp(0.5 * M * 16), rtol=1e-6)
    for n in C0:
        own, world, time_ = _expected_parts(n, 16)
        expected = C0[n] * 0.9**9 * np.exp(-(own + world + time_))
        assert float(b.sel(nation=n)) == pytest.approx(expected, rel=1e-6)
    # observed years hold the observed cost in every draw
    obs = base.values.sel(year=2016)
    expected_obs = np.array([C0[n] * 0.9**6 for n in base.nations])
    np.testing.assert_allclose(obs.values, np.broadcast_to(expected_obs, obs.shape))
    assert base.observed_through == {"USA": 2019, "CHN": 2019, "DEU": 2019}
    assert base.role == "cost" and base.unit == "2019 USD/kW"


def test_wright_world_metric_is_shared_has_no_time_share_and_stops_at_lambda_one(spec) -> None:
    industry = spec.industry("batteries_evs")
    tables = _tables()
    d = cost.cost_draws(
        industry, _wright_fit(), tables, list(range(2018, 2036)), seed=2, n_draws=N_DRAWS
    )
    v = d.values.values
    assert np.array_equal(v[:, 0], v[:, 1]) and np.array_equal(v[:, 0], v[:, -1])
    expected = 1000 * 0.85**10 * np.exp(-0.35 * 0.3 * 15)
    assert float(d.values.sel(year=2035, nation="USA").median()) == pytest.approx(expected, 1e-6)
    assert "Wright only: no time term" in d.values.attrs["notes"]
    out = cost.attribution(industry, _wright_fit(), tables, seed=2, n_draws=N_DRAWS)
    assert out["share_world_spillover_q50"].to_list() == [1.0] * len(industry.nations)
    assert out["share_time_research_q95"].to_list() == [0.0] * len(industry.nations)
    stop = Knobs(spillover_lambda={e.code: 1.0 for e in industry.nations})
    flat = cost.cost_draws(
        industry, _wright_fit(), tables, [2020, 2035], stop, seed=2, n_draws=N_DRAWS
    )
    np.testing.assert_allclose(flat.values.sel(year=2035).values, 1000 * 0.85**10, rtol=1e-6)
    assert "no learning from deployment at all" in flat.values.attrs["notes"]
    fast = Knobs(research_rate_scale={e.code: 1.5 for e in industry.nations})
    same = cost.cost_draws(industry, _wright_fit(), tables, [2035], fast, seed=2, n_draws=N_DRAWS)
    np.testing.assert_array_equal(same.values.values, d.values.sel(year=[2035]).values)


def test_projected_production_is_seeded_and_observed_years_are_kept() -> None:
    cum = pl.DataFrame(
        {
            "year": [2000, 2001, 2003, 2004, 2005],
            "cumulative_production": [1.0, 2.0, 8.0, 12.0, 20.0],
        }
    )
    years = np.arange(2000, 2012)
    a = cost.log_cumulative_paths(cum, years, 200, np.random.default_rng(4), label="x")
    b = cost.log_cumulative_paths(cum, years, 200, np.random.default_rng(4), label="x")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(a[:, 1], np.log(2.0))
    np.testing.assert_allclose(a[:, 2], 0.5 * (np.log(2.0) + np.log(8.0)))  # log-linear gap
    assert (np.diff(a[:, 5:], axis=1) >= 0).all()  # cumulative production never falls
    assert (np.diff(np.median(a[:, 5:], axis=0)) > 0).all()
    with pytest.raises(DataError, match="before its first"):
        cost.log_cumulative_paths(cum, [1999], 5, np.random.default_rng(0), label="x")


def test_same_seed_gives_identical_draws_and_shares_are_reproducible(spec) -> None:
    industry = spec.industry("solar_pv")
    fit = _national_fit(sigma=0.05)
    tables = _tables(q_through=2022)  # production projected after 2022
    a = cost.cost_draws(industry, fit, tables, list(range(2018, 2036)), seed=9, n_draws=N_DRAWS)
    b = cost.cost_draws(industry, fit, tables, list(range(2018, 2036)), seed=9, n_draws=N_DRAWS)
    np.testing.assert_array_equal(a.values.values, b.values.values)
    spread = a.values.sel(year=2035).quantile([0.05, 0.95], dim="draw")
    assert (spread.sel(quantile=0.95) > spread.sel(quantile=0.05)).all()


def test_slower_deployment_slows_own_learning_only_for_that_nation(spec) -> None:
    industry = spec.industry("solar_pv")
    fit, tables = _national_fit(sigma=0.02), _tables(q_through=2021)  # projected after 2021
    years = [2035]
    base = cost.cost_draws(industry, fit, tables, years, seed=4, n_draws=400)
    slow = Knobs(deployment_growth_scale={"CHN": 0.5})
    slower = cost.cost_draws(industry, fit, tables, years, slow, seed=4, n_draws=400)
    np.testing.assert_array_equal(
        base.values.sel(nation=["USA", "DEU"]).values,
        slower.values.sel(nation=["USA", "DEU"]).values,
    )
    b, s = (d.values.sel(nation="CHN", year=2035).median().item() for d in (base, slower))
    assert s > b
    a_base = cost.attribution(industry, fit, tables, seed=4, n_draws=400)
    a_slow = cost.attribution(industry, fit, tables, slow, seed=4, n_draws=400)
    chn = [a.filter(pl.col("nation") == "CHN").row(0, named=True) for a in (a_base, a_slow)]
    assert chn[1]["share_own_deployment_q50"] < chn[0]["share_own_deployment_q50"]
    assert chn[1]["decline_log_q50"] < chn[0]["decline_log_q50"]


def test_missing_table_is_a_data_error(spec) -> None:
    with pytest.raises(DataError, match="production"):
        cost.cost_draws(
            spec.industry("solar_pv"),
            _national_fit(),
            {"cost_observations": _tables()["cost_observations"]},
            [2030],
            seed=0,
            n_draws=5,
        )
