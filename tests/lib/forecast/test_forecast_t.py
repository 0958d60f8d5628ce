"""The Student-t branch of the pooled-prior forecaster (grid posterior per series).

- with nu very large it reproduces the exact normal forecaster;
- on series simulated from known Student-t parameters its intervals cover what they claim;
- one wild jump moves its exponent far less than it moves the normal forecaster's.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.evaluation.scores import INTERVALS
from learnrace_pipeline.lib.forecast import student_t as ft
from learnrace_pipeline.lib.forecast.forecaster import simulate
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.types import ForecastConfig, ForecastSamples, ForecastTask

W_MU, W_SD, LOG_SIGMA, LOG_SIGMA_SD, RHO = 0.3, 0.1, np.log(0.08), 0.3, 0.2


def _prior(nu: float | None, s: int = 200) -> PopulationPrior:
    one = np.ones(s)
    return PopulationPrior(
        "all",
        W_MU * one,
        W_SD * one,
        LOG_SIGMA * one,
        LOG_SIGMA_SD * one,
        RHO * one,
        nu=None if nu is None else nu * one,
    )


def _simulate(
    n_series: int, n_obs: int, horizon: int, nu: float, seed: int
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Series from the model: (observed points, targets with given production, outcomes)."""
    rng = np.random.default_rng(seed)
    obs, targets, actual = [], [], []
    total = n_obs + horizon
    for i in range(n_series):
        w = rng.normal(W_MU, W_SD)
        sigma = np.exp(rng.normal(LOG_SIGMA, LOG_SIGMA_SD))
        g = rng.uniform(0.05, 0.4)
        annual = 10 * np.exp(g * np.arange(total))
        x = np.log(annual[0] / g + np.cumsum(annual))
        shocks = sigma * (rng.standard_t(nu, total) if np.isfinite(nu) else rng.normal(size=total))
        e = np.concatenate([[shocks[0]], shocks[1:]])
        noise = e[1:] + RHO * e[:-1]
        y = np.log(100.0) + np.concatenate([[0.0], np.cumsum(-w * np.diff(x) + noise)])
        sid = f"s{i:03d}"
        years = 2000 + np.arange(total)
        obs.append(pl.DataFrame({"series_id": sid, "year": years[:n_obs], "log_cost": y[:n_obs],
                                 "log_q": x[:n_obs]}))  # fmt: skip
        targets.append(pl.DataFrame({"series_id": sid, "year": years[n_obs:],
                                     "log_q": x[n_obs:]}))  # fmt: skip
        actual.append(pl.DataFrame({"series_id": sid, "year": years[n_obs:],
                                    "log_actual": y[n_obs:]}))  # fmt: skip
    return pl.concat(obs), pl.concat(targets), pl.concat(actual)


def _coverage(fs: ForecastSamples, actual: pl.DataFrame) -> dict[int, float]:
    ya = fs.targets.join(actual, on=["series_id", "year"], how="left")["log_actual"].to_numpy()
    out = {}
    for k, (lo, hi) in INTERVALS.items():
        q = np.quantile(fs.samples, [lo, hi], axis=1)
        out[k] = float(np.mean((ya >= q[0]) & (ya <= q[1])))
    return out


def test_large_nu_reproduces_the_normal_forecaster() -> None:
    obs, targets, _ = _simulate(24, 15, 5, np.inf, seed=3)
    task = ForecastTask(obs, targets)
    cfg = ForecastConfig(n_samples=4000, seed=11)
    normal = simulate(task, _prior(None), config=cfg)
    near = simulate(task, _prior(1e6), config=cfg)
    assert near.targets.equals(normal.targets)
    qn = np.quantile(normal.samples, [0.05, 0.5, 0.95], axis=1)
    qt = np.quantile(near.samples, [0.05, 0.5, 0.95], axis=1)
    diff = qt - qn
    spread = qn[2] - qn[0]
    # Monte Carlo error of a 5% quantile with 4,000 draws is ~2% of the 90% width
    assert np.median(np.abs(diff[1]) / spread) < 0.03
    assert np.median(np.abs(diff[[0, 2]]) / spread) < 0.04
    assert abs(np.mean(diff[1] / spread)) < 0.01  # no systematic shift
    assert abs(np.mean((qt[2] - qt[0]) / spread) - 1) < 0.03  # same width on average


def test_student_t_intervals_cover_on_series_from_the_model() -> None:
    obs, targets, actual = _simulate(250, 12, 5, 3.0, seed=5)
    fs = simulate(ForecastTask(obs, targets), _prior(3.0), config=ForecastConfig(n_samples=1500))
    cov = _coverage(fs, actual)
    print(cov)
    assert 0.45 <= cov[50] <= 0.55
    assert 0.86 <= cov[90] <= 0.94
    assert 0.91 <= cov[95] <= 0.98


def test_one_wild_jump_moves_the_student_t_exponent_less() -> None:
    rng = np.random.default_rng(2)
    n = 20
    x = np.log(50 + np.cumsum(10 * np.exp(0.2 * np.arange(n))))
    y = np.log(100.0) - 0.3 * (x - x[0]) + 0.03 * rng.standard_normal(n)
    y[12:] += 1.0  # the cost jumps by a factor e once (a data break, a new product)
    dy, dxw = np.diff(y)[None, :], -np.diff(x)[None, :]
    blk = {"dy": dy, "dxw": dxw, "dt": np.ones_like(dy), "valid": np.ones_like(dy, bool)}
    t_draws = ft.posterior_samples(blk, _prior(3.0), 4000, np.random.default_rng(0))
    # nu = 1e6 is the normal model (previous test): the jump drags its exponent down
    n_draws = ft.posterior_samples(blk, _prior(1e6), 4000, np.random.default_rng(0))
    w_t, w_n = float(np.median(t_draws["w"])), float(np.median(n_draws["w"]))
    sd_t, sd_n = float(np.std(t_draws["w"])), float(np.std(n_draws["w"]))
    sig_t, sig_n = float(np.median(t_draws["sigma"])), float(np.median(n_draws["sigma"]))
    print(f"w Student-t {w_t:.3f} (sd {sd_t:.3f}, sigma {sig_t:.3f}), normal {w_n:.3f} "
          f"(sd {sd_n:.3f}, sigma {sig_n:.3f}), truth 0.3 (sigma 0.03)")  # fmt: skip
    assert abs(w_t - 0.3) < 0.05
    assert abs(w_t - 0.3) < abs(w_n - 0.3)
    # the normal model explains the jump by a much larger noise scale, so it learns little
    assert sig_n > 2 * sig_t and sd_n > sd_t


def test_grid_posterior_matches_quadrature_for_one_series() -> None:
    """The refined grid finds the exponent's posterior mean and sd of a dense 2-D quadrature."""
    rng = np.random.default_rng(9)
    n = 30
    x = np.log(20 + np.cumsum(5 * np.exp(0.15 * np.arange(n))))
    y = -0.45 * x + 0.05 * rng.standard_t(4, n)
    dy, dxw = np.diff(y)[None, :], -np.diff(x)[None, :]
    blk = {"dy": dy, "dxw": dxw, "dt": np.ones_like(dy), "valid": np.ones_like(dy, bool)}
    prior = _prior(4.0)
    draws = ft.posterior_samples(blk, prior, 20_000, np.random.default_rng(1))
    # dense quadrature of the same (conditional-likelihood) posterior
    wg = np.linspace(-0.5, 1.5, 1601)[None, :]
    lg = np.linspace(np.log(0.005), np.log(1.0), 801)[None, :]
    a = ft.ma1_filter(dy, blk["valid"], RHO)
    b = ft.ma1_filter(dxw, blk["valid"], RHO)
    logp = ft._log_prior(wg, lg, prior) + ft._log_lik(a, b, blk["dt"], blk["valid"], wg, lg, 4.0)
    p = np.exp(logp[0] - logp.max())
    pw = p.sum(axis=1) / p.sum()
    mean = float((pw * wg[0]).sum())
    sd = float(np.sqrt((pw * (wg[0] - mean) ** 2).sum()))
    assert np.mean(draws["w"]) == pytest.approx(mean, abs=0.05 * sd)
    assert np.std(draws["w"]) == pytest.approx(sd, rel=0.05)
