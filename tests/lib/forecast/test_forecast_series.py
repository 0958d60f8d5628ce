"""Per-series posterior of the Wright exponent from the forecaster: exact against the conjugate
normal posterior, calibrated on series simulated from the prior, present for every series."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.forecast.forecaster import simulate
from learnrace_pipeline.lib.forecast.priors import SHIPPED_PRIOR, PopulationPrior, load_priors
from learnrace_pipeline.lib.forecast.series import exponent_summary
from learnrace_pipeline.lib.forecast.types import ForecastConfig, ForecastTask
from learnrace_pipeline.lib.models.learning.config import learning_rate


def _cov(dt: np.ndarray, rho: float) -> np.ndarray:
    """Covariance / sigma^2 of the MA(1) differences (pre-sample dt = 1)."""
    prev = np.concatenate([[1.0], dt[:-1]])
    c = np.diag(dt + rho**2 * prev)
    for t in range(1, dt.size):
        c[t, t - 1] = c[t - 1, t] = rho * dt[t - 1]
    return c


def test_summary_columns_by_hand() -> None:
    w = np.tile(np.linspace(0.0, 1.0, 101), (2, 1))
    w[1] += 0.5
    s = exponent_summary(["a", "b"], ["all", "solar"], np.array([4, 9]), w)
    assert s.columns == [
        "series_id", "level", "n_costs", "w_mean", "w_sd", "w_q05", "w_q50", "w_q95",
        "learning_rate_q05", "learning_rate_q50", "learning_rate_q95",
    ]  # fmt: skip
    assert s["w_q50"].to_list() == pytest.approx([0.5, 1.0])
    assert s["w_q05"].to_list() == pytest.approx([0.05, 0.55])
    assert s["learning_rate_q50"].to_list() == pytest.approx([1 - 2**-0.5, 0.5])
    assert s["n_costs"].to_list() == [4, 9] and s["level"].to_list() == ["all", "solar"]


def test_exponent_matches_the_conjugate_normal_posterior() -> None:
    """One prior draw, fixed sigma and rho: w's posterior is normal, in closed form."""
    mu, tau, sigma, rho = 0.3, 0.1, 0.07, 0.35
    years = np.array([2000, 2001, 2003, 2004, 2005, 2006])
    x = np.log([10.0, 14, 25, 33, 41, 55])
    y = np.log([100.0, 95, 80, 78, 71, 66])
    prior = PopulationPrior("all", [mu], [tau], [np.log(sigma)], [0.0], [rho])
    obs = pl.DataFrame({"series_id": "a", "year": years, "log_cost": y, "log_q": x})
    targets = pl.DataFrame({"series_id": ["a"], "year": [2008], "log_q": [np.log(80.0)]})
    cfg = ForecastConfig(n_samples=60_000, seed=3)
    s = simulate(ForecastTask(obs, targets), prior, config=cfg).series.row(0, named=True)

    x_o = -np.diff(x)  # dlogc = w * x_o + noise
    c_inv = np.linalg.inv(sigma**2 * _cov(np.diff(years).astype(float), rho))
    precision = 1 / tau**2 + x_o @ c_inv @ x_o
    mean = (mu / tau**2 + x_o @ c_inv @ np.diff(y)) / precision
    sd = precision**-0.5
    assert s["w_mean"] == pytest.approx(mean, abs=4 * sd / np.sqrt(cfg.n_samples))
    assert s["w_sd"] == pytest.approx(sd, rel=0.02)
    assert s["w_q05"] == pytest.approx(mean - 1.6449 * sd, abs=0.02 * sd + 1e-4)
    assert s["learning_rate_q50"] == pytest.approx(learning_rate(mean), abs=1e-3)


@pytest.mark.parametrize("nu", [np.inf, 4.0])
def test_exponent_intervals_cover_the_true_exponent(nu: float) -> None:
    """Series drawn from the population the prior describes (normal or Student-t noise): the
    90% and 50% intervals of w cover the true exponent at their nominal rates."""
    rng = np.random.default_rng(17)
    draws = 200
    prior = PopulationPrior(
        "all",
        rng.normal(0.35, 0.02, draws),
        np.abs(rng.normal(0.15, 0.01, draws)),
        rng.normal(np.log(0.08), 0.05, draws),
        np.abs(rng.normal(0.4, 0.03, draws)),
        rng.normal(0.2, 0.03, draws),
        nu=np.full(draws, nu),
    )
    rows, truth = [], {}
    for i in range(1000):
        s = rng.integers(draws)
        w = rng.normal(prior.w_mu[s], prior.w_sd[s])
        sig = np.exp(rng.normal(prior.log_sigma_mu[s], prior.log_sigma_sd[s]))
        n = int(rng.integers(4, 25))
        g = rng.uniform(0.05, 0.4)
        lq = np.log(5 / g + np.cumsum(5 * np.exp(g * np.arange(n))))
        shocks = rng.standard_normal(n) if np.isinf(nu) else rng.standard_t(nu, n)
        e = sig * shocks
        d = -w * np.diff(lq) + e[1:] + prior.rho[s] * e[:-1]
        y = np.concatenate([[np.log(20.0)], np.log(20.0) + np.cumsum(d)])
        rows += [(f"s{i}", 1990 + t, y[t], lq[t]) for t in range(n)]
        truth[f"s{i}"] = w
    obs = pl.DataFrame(rows, schema=["series_id", "year", "log_cost", "log_q"], orient="row")
    none = pl.DataFrame(schema={"series_id": pl.String, "year": pl.Int64, "log_q": pl.Float64})
    fs = simulate(ForecastTask(obs, none), prior, config=ForecastConfig(n_samples=800))
    s = fs.series
    assert s.height == 1000 and fs.targets.height == 0
    true_w = np.array([truth[k] for k in s["series_id"]])
    cover90 = np.mean((s["w_q05"].to_numpy() <= true_w) & (true_w <= s["w_q95"].to_numpy()))
    below50 = np.mean(true_w <= s["w_q50"].to_numpy())
    assert 0.87 <= cover90 <= 0.93, cover90  # +-3 binomial sd at n = 1000
    assert 0.45 <= below50 <= 0.55, below50
    # longer series are more certain of their exponent
    short = s.filter(pl.col("n_costs") <= 8)["w_sd"].median()
    long = s.filter(pl.col("n_costs") >= 20)["w_sd"].median()
    assert long < short


def test_series_without_forecast_years_still_get_a_summary() -> None:
    years = np.arange(2000, 2008)
    lq = np.log(10.0 * 1.3 ** np.arange(8))
    obs = pl.DataFrame(
        {
            "series_id": ["a"] * 8 + ["b"] * 8,
            "year": np.concatenate([years, years]),
            "log_cost": np.concatenate([np.log(100) - 0.3 * lq, np.log(50) - 0.1 * lq]),
            "log_q": np.concatenate([lq, lq]),
        }
    )
    targets = pl.DataFrame({"series_id": ["a"], "year": [2008], "log_q": [np.log(10 * 1.3**8)]})
    prior = load_priors(SHIPPED_PRIOR)["all"]
    fs = simulate(ForecastTask(obs, targets), prior, config=ForecastConfig(n_samples=400))
    s = fs.series.sort("series_id")
    assert s["series_id"].to_list() == ["a", "b"] and fs.targets.height == 1
    # exact power laws with exponents 0.3 and 0.1: the posteriors are ordered and near them
    a, b = s.row(0, named=True), s.row(1, named=True)
    assert a["w_q05"] < 0.3 < a["w_q95"] and b["w_q05"] < 0.1 < b["w_q95"]
    assert b["w_q95"] < a["w_q05"]
