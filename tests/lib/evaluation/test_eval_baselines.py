"""Baselines against closed forms and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.evaluation import baselines as bl


def test_ols_wright_closed_form() -> None:
    years = np.arange(2000, 2006)
    x = np.log([10.0, 20, 40, 80, 160, 320])  # dx = log 2 each year
    resid = np.array([0.05, -0.05, 0.02, -0.02, 0.0])
    y = np.concatenate([[np.log(100.0)], np.log(100.0) + np.cumsum(-0.4 * np.diff(x) + resid)])
    d = bl.ols_wright(years, y, x, np.array([2006, 2008]), np.log([640.0, 2560.0]))
    dx = np.diff(x)
    w_hat = -np.sum(dx * np.diff(y)) / np.sum(dx**2)
    assert w_hat == pytest.approx(0.4 - resid.sum() / (5 * np.log(2)))
    s2 = np.sum((np.diff(y) + w_hat * dx) ** 2) / 4
    big_x = np.log([640.0, 2560.0]) - x[-1]
    assert d.loc == pytest.approx(y[-1] - w_hat * big_x)
    assert d.scale == pytest.approx(np.sqrt(s2 * (np.array([1, 3]) + big_x**2 / np.sum(dx**2))))
    assert d.df.tolist() == [4.0, 4.0]


def test_rw_drift_a_star_and_theta_zero() -> None:
    years = np.arange(1990, 2001)  # m = 10 years
    y = np.log(50.0) - 0.1 * np.arange(11) + 0.03 * np.sin(np.arange(11))
    d0 = bl.rw_drift(years, y, np.array([2001, 2005]), theta=0.0)
    dy = np.diff(y)
    k2 = np.var(dy, ddof=1)
    h = np.array([1.0, 5.0])
    assert d0.loc == pytest.approx(y[-1] + dy.mean() * h)
    assert d0.scale == pytest.approx(np.sqrt(k2 * (h + h**2 / 10)))
    theta = 0.4
    d1 = bl.rw_drift(years, y, np.array([2001, 2005]), theta=theta)
    a_star = -2 * theta + (1 + 2 * 9 * theta / 10 + theta**2) * (h + h**2 / 10)
    assert d1.scale == pytest.approx(np.sqrt(k2 * a_star / (1 + theta**2)))


def test_rw_drift_error_variance_matches_simulation() -> None:
    """sigma^2 A* is the variance of the forecast error of a RW with drift and MA(1) noise."""
    rng = np.random.default_rng(11)
    theta, sigma, m, h, reps = 0.5, 0.1, 12, 4, 40_000
    v = sigma * rng.standard_normal((reps, m + h + 1))
    n = v[:, 1:] + theta * v[:, :-1]
    y = np.concatenate([np.zeros((reps, 1)), np.cumsum(-0.05 + n, axis=1)], axis=1)
    mu_hat = (y[:, m] - y[:, 0]) / m
    err = y[:, m + h] - (y[:, m] + mu_hat * h)
    a_star = -2 * theta + (1 + 2 * (m - 1) * theta / m + theta**2) * (h + h**2 / m)
    assert err.var() == pytest.approx(sigma**2 * a_star, rel=0.03)


def test_no_change() -> None:
    years = np.arange(2000, 2005)
    y = np.array([1.0, 0.9, 0.95, 0.8, 0.85])
    d = bl.no_change(years, y, np.array([2005, 2009]))
    s2 = np.mean(np.diff(y) ** 2)
    assert d.loc.tolist() == [0.85, 0.85]
    assert d.scale == pytest.approx(np.sqrt(s2 * np.array([1.0, 5.0])))
    q = d.quantiles([0.05, 0.95])
    assert q[0, 1] - 0.85 == pytest.approx(np.sqrt(s2) * stats.t.ppf(0.95, 4))


def test_pooled_theta_recovers_ma1() -> None:
    rng = np.random.default_rng(5)
    series = []
    for _ in range(100):  # long series: the demeaning bias of r1 (about -2.4/n) is small
        v = rng.standard_normal(401)
        dy = 0.02 + v[1:] + 0.4 * v[:-1]
        series.append((np.arange(401), np.concatenate([[0.0], np.cumsum(dy)])))
    assert bl.pooled_theta(series) == pytest.approx(0.4, abs=0.03)
    assert bl.theta_from_autocorrelation(0.4 / 1.16) == pytest.approx(0.4)


def test_baselines_refuse_bad_input() -> None:
    with pytest.raises(DataError, match="at least 3 points"):
        bl.no_change(np.array([1, 2]), np.array([1.0, 1.0]), np.array([3]))
    with pytest.raises(DataError, match="after the last"):
        bl.no_change(np.array([1, 2, 3]), np.array([1.0, 1.0, 0.9]), np.array([3]))


def _drift_panel(m: float, n_series: int, seed: int, noise: float):
    """Series with their own exponents and growth paths plus a common time drift ``m``."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_series):
        n = int(rng.integers(8, 30))
        years = np.arange(1990, 1990 + n, dtype=float)
        growth = rng.uniform(0.05, 0.5) * np.exp(-rng.uniform(0, 0.1) * np.arange(n))
        log_q = np.log(10.0) + np.cumsum(growth)  # decelerating: dlogq not proportional to dt
        w = rng.uniform(0.1, 0.5)
        e = noise * rng.standard_normal(n)
        log_cost = np.log(100.0) - w * (log_q - log_q[0]) - m * (years - years[0]) + e
        out.append((years, log_cost, log_q))
    return out


def test_shared_drift_recovers_a_common_time_trend() -> None:
    exact = _drift_panel(0.03, 20, seed=1, noise=0.0)
    assert bl.shared_drift(exact) == pytest.approx(0.03, abs=1e-10)
    assert bl.shared_drift(_drift_panel(0.0, 20, seed=2, noise=0.0)) == pytest.approx(
        0.0, abs=1e-10
    )
    noisy = [bl.shared_drift(_drift_panel(0.02, 60, seed=s, noise=0.05)) for s in range(20)]
    assert np.mean(noisy) == pytest.approx(0.02, abs=0.004)
    assert bl.shared_drift([]) == 0.0


def test_ols_wright_with_a_known_drift() -> None:
    (years, log_cost, log_q), *_ = _drift_panel(0.03, 1, seed=3, noise=0.0)
    ty, tq = np.array([years[-1] + 2]), np.array([log_q[-1] + 0.4])
    w_true = -(log_cost[1] - log_cost[0] + 0.03) / (log_q[1] - log_q[0])
    exact = bl.ols_wright(years, log_cost, log_q, ty, tq, drift=0.03)
    assert exact.loc[0] == pytest.approx(log_cost[-1] - w_true * 0.4 - 0.06, abs=1e-10)
    # drift = 0 is baseline (a) itself
    a = bl.ols_wright(years, log_cost, log_q, ty, tq)
    a0 = bl.ols_wright(years, log_cost, log_q, ty, tq, drift=0.0)
    assert np.array_equal(a.loc, a0.loc) and np.array_equal(a.scale, a0.scale)
