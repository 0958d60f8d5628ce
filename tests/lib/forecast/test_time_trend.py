"""The time-trend forecaster (``learnrace forecast --model time``): a known drift is recovered on
simulated random walks with drift and MA(1) noise, with calibrated intervals; output helpers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.forecast.forecaster import simulate
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.time_trend import (
    check_time_prior,
    drift_summary,
    time_task,
)
from learnrace_pipeline.lib.forecast.types import ForecastConfig

M_TRUE, SIGMA, RHO = 0.08, 0.10, 0.25
N_REP, N_YEARS, H = 200, 20, 5


def _prior(nu: float) -> PopulationPrior:
    """A weakly informative time-trend prior: m ~ N(0.03, 0.1^2) (log cost per year), log sigma
    ~ N(log 0.1, 0.4^2), rho fixed at the truth."""
    n = 50
    rng = np.random.default_rng(1)
    return PopulationPrior(
        "all", rng.normal(0.03, 0.005, n), np.full(n, 0.1), np.full(n, np.log(0.1)),
        np.full(n, 0.4), np.full(n, RHO), {"trend": "time"}, np.full(n, nu),
    )  # fmt: skip


def _simulate_series(seed: int) -> tuple[pl.DataFrame, pl.DataFrame, np.ndarray]:
    """N_REP random walks with drift -M_TRUE and N(0, SIGMA^2) MA(1) innovations (theta RHO),
    N_YEARS observed years then H future ones; returns obs, targets and the true log cost at the
    last target."""
    rng = np.random.default_rng(seed)
    e = SIGMA * rng.standard_normal((N_REP, N_YEARS + H))  # e[:, 0] is the pre-sample shock
    d = -M_TRUE + e[:, 1:] + RHO * e[:, :-1]
    y = np.concatenate([np.zeros((N_REP, 1)), np.cumsum(d, axis=1)], axis=1)
    years = np.arange(2000, 2000 + N_YEARS + H)
    ids = [f"s{i:03d}" for i in range(N_REP)]
    obs = pl.DataFrame({
        "series_id": np.repeat(ids, N_YEARS), "year": np.tile(years[:N_YEARS], N_REP),
        "log_cost": y[:, :N_YEARS].ravel(),
    })  # fmt: skip
    targets = pl.DataFrame({"series_id": ids, "year": [int(years[-1])] * N_REP})
    return obs, targets, y[:, -1]


@pytest.mark.parametrize("nu", [np.inf, 30.0], ids=["normal", "student_t"])
def test_known_drift_is_recovered_with_calibrated_intervals(nu: float) -> None:
    obs, targets, y_future = _simulate_series(seed=7)
    fs = simulate(
        time_task(obs, targets), _prior(nu), config=ForecastConfig(n_samples=1000, seed=3)
    )
    s = fs.series.sort("series_id")
    cover_m = ((s["w_q05"] < M_TRUE) & (s["w_q95"] > M_TRUE)).mean()
    assert cover_m >= 0.85, cover_m
    assert s["w_q50"].mean() == pytest.approx(M_TRUE, abs=0.01)
    q = fs.quantiles((0.05, 0.5, 0.95))
    cover_y = np.mean((q[:, 0] < y_future) & (y_future < q[:, 2]))
    assert 0.85 <= cover_y <= 0.96, cover_y
    # the median forecast falls by about M_TRUE a year over the 5-year horizon
    last = obs.group_by("series_id").agg(pl.col("log_cost").last()).sort("series_id")
    drop = last["log_cost"].to_numpy() - q[:, 1]
    assert drop.mean() == pytest.approx(H * M_TRUE, abs=0.05)


def test_time_task_puts_the_year_in_place_of_production() -> None:
    obs = pl.DataFrame({"series_id": ["a"] * 3, "year": [2000, 2001, 2003],
                        "log_cost": [1.0, 0.9, 0.7]})  # fmt: skip
    task = time_task(obs, pl.DataFrame({"series_id": ["a"], "year": [2006]}))
    assert task.obs["log_q"].to_list() == [2000.0, 2001.0, 2003.0]
    assert task.targets["log_q"].to_list() == [2006.0] and task.annual is None


def test_drift_summary_and_prior_check() -> None:
    series = pl.DataFrame({
        "series_id": ["a", "b"], "level": ["all"] * 2, "n_costs": [5, 6],
        "w_mean": [0.1, -0.02], "w_sd": [0.01, 0.01], "w_q05": [0.08, -0.04],
        "w_q50": [0.1, -0.02], "w_q95": [0.12, 0.0],
        "learning_rate_q05": [0.0, 0.0], "learning_rate_q50": [0.0, 0.0],
        "learning_rate_q95": [0.0, 0.0],
    })  # fmt: skip
    out = drift_summary(series)
    assert "learning_rate_q50" not in out.columns and out["m_q50"].to_list() == [0.1, -0.02]
    assert out["annual_decline_q50"][0] == pytest.approx(1 - np.exp(-0.1))
    assert out["halving_years_q50"][0] == pytest.approx(np.log(2) / 0.1)
    assert out["halving_years_q50"][1] is None  # cost rising: no halving time
    check_time_prior(_prior(np.inf))
    wright = PopulationPrior("all", [0.3], [0.1], [-2.0], [0.3], [0.2], {"trend": "wright"})
    with pytest.raises(ModelError, match="time-trend fit"):
        check_time_prior(wright)
