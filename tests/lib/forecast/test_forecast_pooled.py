"""The pooled-prior forecaster: exactness against dense Gaussian algebra, calibration on series
simulated from known parameters, priors from a fit, the shipped prior."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.evaluation.scores import QCOLS
from learnrace_pipeline.lib.forecast.forecaster import quantile_frame, simulate
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.types import ForecastConfig, ForecastTask


def _prior(s: int = 300, seed: int = 0, level: str = "all") -> PopulationPrior:
    rng = np.random.default_rng(seed)
    return PopulationPrior(
        level,
        rng.normal(0.35, 0.02, s),
        np.abs(rng.normal(0.15, 0.01, s)),
        rng.normal(np.log(0.08), 0.05, s),
        np.abs(rng.normal(0.5, 0.03, s)),
        rng.normal(0.2, 0.03, s),
    )


def _cov(dt: np.ndarray, rho: float) -> np.ndarray:
    """Covariance / sigma^2 of the MA(1) differences of the pooled model (pre-sample dt = 1)."""
    n = dt.size
    prev = np.concatenate([[1.0], dt[:-1]])
    c = np.diag(dt + rho**2 * prev)
    for t in range(1, n):
        c[t, t - 1] = c[t - 1, t] = rho * dt[t - 1]
    return c


def test_matches_exact_gaussian_conditioning_with_gaps() -> None:
    """One prior draw with a fixed sigma: the predictive is Gaussian and known in closed form."""
    mu, tau, sigma, rho = 0.3, 0.1, 0.07, 0.35
    years = np.array([2000, 2001, 2003, 2004, 2005, 2006])
    x = np.log([10.0, 14, 25, 33, 41, 55])
    y = np.log([100.0, 95, 80, 78, 71, 66])
    x_target, h = np.log(90.0), 3  # year 2009
    prior = PopulationPrior("all", [mu], [tau], [np.log(sigma)], [0.0], [rho])
    obs = pl.DataFrame({"series_id": "a", "year": years, "log_cost": y, "log_q": x})
    targets = pl.DataFrame({"series_id": ["a"], "year": [2009], "log_q": [x_target]})
    cfg = ForecastConfig(n_samples=60_000, seed=7)
    got = simulate(ForecastTask(obs, targets), prior, config=cfg).samples[0]

    dt_all = np.concatenate([np.diff(years).astype(float), np.ones(h)])
    cov = sigma**2 * _cov(dt_all, rho)
    n = years.size - 1
    x_o = -np.diff(x)
    x_s = -(x_target - x[-1])
    ones_f = np.concatenate([np.zeros(n), np.ones(h)])
    xs_full = np.concatenate([x_o, np.zeros(h)])
    c_oo = tau**2 * np.outer(x_o, x_o) + cov[:n, :n]
    c_so = tau**2 * x_s * x_o + ones_f @ cov[:, :n]
    v_s = tau**2 * x_s**2 + ones_f @ cov @ ones_f
    d_o = np.diff(y)
    mean = y[-1] + x_s * mu + c_so @ np.linalg.solve(c_oo, d_o - x_o * mu)
    var = v_s - c_so @ np.linalg.solve(c_oo, c_so)
    assert xs_full.shape == ones_f.shape
    assert got.mean() == pytest.approx(mean, abs=4 * np.sqrt(var / got.size))
    assert got.std() == pytest.approx(np.sqrt(var), rel=0.02)


def _simulate_population(n_series: int, prior: PopulationPrior, seed: int, h_max: int = 6):
    rng = np.random.default_rng(seed)
    obs_rows, tgt_rows, truth = [], [], []
    for i in range(n_series):
        s = rng.integers(prior.n_draws)
        w = rng.normal(prior.w_mu[s], prior.w_sd[s])
        sig = np.exp(rng.normal(prior.log_sigma_mu[s], prior.log_sigma_sd[s]))
        rho = prior.rho[s]
        n_obs = int(rng.integers(3, 21))
        total = n_obs + h_max
        g = rng.uniform(0.05, 0.4)
        annual = 5 * np.exp(g * np.arange(total) + 0.1 * rng.standard_normal(total))
        lq = np.log(annual[0] / g + np.cumsum(annual))
        e = sig * rng.standard_normal(total)  # e[0]: pre-sample shock
        d = -w * np.diff(lq) + e[1:] + rho * e[:-1]
        y = np.log(50.0) + np.concatenate([[0.0], np.cumsum(d)])
        for t in range(total):
            if t < n_obs:
                obs_rows.append((f"s{i}", 1980 + t, y[t], lq[t]))
            else:
                tgt_rows.append((f"s{i}", 1980 + t, lq[t]))
                truth.append((f"s{i}", 1980 + t, y[t]))
    obs = pl.DataFrame(obs_rows, schema=["series_id", "year", "log_cost", "log_q"], orient="row")
    tgt = pl.DataFrame(tgt_rows, schema=["series_id", "year", "log_q"], orient="row")
    tru = pl.DataFrame(truth, schema=["series_id", "year", "y"], orient="row")
    return obs, tgt, tru


def test_calibrated_on_series_from_the_prior() -> None:
    """Series drawn from the population the prior describes: intervals cover at nominal rates."""
    prior = _prior()
    obs, tgt, tru = _simulate_population(700, prior, seed=42)
    fs = simulate(ForecastTask(obs, tgt), prior, config=ForecastConfig(n_samples=600))
    y = fs.targets.join(tru, on=["series_id", "year"], maintain_order="left")["y"].to_numpy()
    q = fs.quantiles([0.05, 0.25, 0.75, 0.95])
    cover90 = np.mean((q[:, 0] <= y) & (y <= q[:, 3]))
    cover50 = np.mean((q[:, 1] <= y) & (y <= q[:, 2]))
    assert 0.87 <= cover90 <= 0.93, cover90
    assert 0.46 <= cover50 <= 0.54, cover50
    assert fs.targets["horizon"].to_list()[:6] == [1, 2, 3, 4, 5, 6]


def test_quantiles_ordered_and_production_modes() -> None:
    prior = _prior()
    obs, tgt, _ = _simulate_population(5, prior, seed=1, h_max=4)
    annual = (
        obs.sort("series_id", "year")
        .with_columns(
            (pl.col("log_q").exp() - pl.col("log_q").exp().shift(1).over("series_id"))
            .log()
            .alias("log_annual")
        )
        .drop_nulls("log_annual")
        .select("series_id", "year", "log_annual")
    )
    given = simulate(ForecastTask(obs, tgt), prior, config=ForecastConfig(n_samples=800))
    blank = tgt.with_columns(pl.lit(None, pl.Float64).alias("log_q"))
    # undamped (phi = 1): the projection follows the same growth as the given path, plus noise
    undamped = ForecastConfig(n_samples=800, production_damping=1.0)
    proj = simulate(ForecastTask(obs, blank, annual), prior, config=undamped)
    table = quantile_frame(given)
    q = table.select(QCOLS).to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)
    assert set(table["production"]) == {"given"}
    assert set(proj.targets["production"]) == {"projected"}
    assert table["model"][0] == "pooled_wright_ma1[all]"
    # projected production adds uncertainty at the last horizon of every series
    last = given.targets.with_row_index().group_by("series_id").agg(pl.col("index").max())
    idx = last["index"].to_numpy()
    width = lambda s: np.quantile(s, 0.95, axis=1) - np.quantile(s, 0.05, axis=1)  # noqa: E731
    assert np.all(width(proj.samples[idx]) > width(given.samples[idx]))
    # the output carries the production assumed: fixed where given, an interval where projected
    pt = quantile_frame(proj)
    assert (table["cumulative_production_q05"] == table["cumulative_production_q95"]).all()
    np.testing.assert_allclose(table["cumulative_production_q50"], np.exp(tgt["log_q"]))
    assert (pt["cumulative_production_q05"] < pt["cumulative_production_q95"]).all()


def test_damped_projection_has_the_closed_form_median_growth() -> None:
    """Without noise, log annual production after the last year T grows by g phi^(j-1) in year
    T + j, so cumulative production is the sum of exp(log a_T + g (1 - phi^j) / (1 - phi))."""
    from learnrace_pipeline.lib.forecast.production import production_model, project

    g, years = 0.4, np.arange(2000, 2010)
    annual = pl.DataFrame(
        {"series_id": "s", "year": years, "log_annual": 1.0 + g * (years - years[0])}
    )
    pm = production_model(annual, ["s"])
    assert pm["g_hat"][0] == pytest.approx(g) and pm["s2"][0] == pytest.approx(0.0, abs=1e-20)
    pm["s2"][:] = 1e-24  # a deterministic path (the chi-square draw needs s2 > 0)
    pm["lq_last"] = pm.pop("last_lq")
    pm["lz_last"] = np.array([np.log(50.0)])
    hp = np.arange(1, 11)
    tg = {"projected": np.ones(10, bool), "hp": hp}
    rng = np.random.default_rng(0)
    for phi in (1.0, 0.8):
        sims = project(tg, pm, np.zeros(10, np.int64), 4, rng, phi)
        j = np.arange(1, 11)
        grow = g * j if phi == 1.0 else g * (1 - phi**j) / (1 - phi)
        expected = np.log(50.0 + np.cumsum(np.exp(pm["lq_last"][0] + grow)))
        np.testing.assert_allclose(sims[:, 0], expected, rtol=1e-9)
    # damping bounds total further growth of log annual production by g / (1 - phi)
    far = project({"projected": np.ones(2, bool), "hp": np.array([199, 200])}, pm,
                  np.zeros(2, np.int64), 2, rng, 0.8)  # fmt: skip
    last_annual = np.exp(far[1, 0]) - np.exp(far[0, 0])
    assert np.log(last_annual) == pytest.approx(pm["lq_last"][0] + g / (1 - 0.8), rel=1e-9)


def test_interior_gap_is_interpolated() -> None:
    prior = _prior()
    obs = pl.DataFrame(
        {"series_id": "a", "year": [2000, 2001, 2002], "log_cost": [3.0, 2.9, 2.85],
         "log_q": [1.0, 1.5, 2.0]}
    )  # fmt: skip
    tgt = pl.DataFrame(
        {"series_id": "a", "year": [2003, 2005], "log_q": [None, 3.0]},
        schema_overrides={"log_q": pl.Float64},
    )
    fs = simulate(ForecastTask(obs, tgt), prior, config=ForecastConfig(n_samples=300))
    assert fs.targets["production"].to_list() == ["interpolated", "given"]


def test_projection_without_history_is_refused() -> None:
    prior = _prior()
    obs = pl.DataFrame(
        {"series_id": "a", "year": [2000, 2001, 2002], "log_cost": [3.0, 2.9, 2.85],
         "log_q": [1.0, 1.5, 2.0]}
    )  # fmt: skip
    tgt = pl.DataFrame(
        {"series_id": "a", "year": [2004]}, schema={"series_id": pl.String, "year": pl.Int64}
    ).with_columns(pl.lit(None, pl.Float64).alias("log_q"))
    with pytest.raises(DataError, match="fewer than 3 years of annual production"):
        simulate(ForecastTask(obs, tgt), prior)
