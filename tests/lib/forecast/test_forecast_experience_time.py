"""The experience+time branch of the pooled-prior forecaster (grid posterior of w, m, log sigma).

- on series simulated from the model with parameters drawn from the prior, the 90% intervals
  of each series' exponent ``w`` and drift ``m`` and of its future costs cover about 90%;
- a drift shared by every series and known exponents are recovered;
- the decline attribution adds up: experience part + time part = the deterministic decline;
- a Wright prior gives a zero time part and unchanged forecasts;
- priors with a drift survive a save and load, and half a drift is refused.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.forecast.forecaster import simulate
from learnrace_pipeline.lib.forecast.priors import PopulationPrior, load_priors, save_priors
from learnrace_pipeline.lib.forecast.types import ForecastConfig, ForecastSamples, ForecastTask

W_MU, W_SD = 0.3, 0.1
M_MU, M_SD = 0.03, 0.015
LOG_SIGMA, LOG_SIGMA_SD, RHO = np.log(0.06), 0.3, 0.2


def _prior(nu: float | None, s: int = 100, m: bool = True) -> PopulationPrior:
    one = np.ones(s)
    return PopulationPrior(
        "all",
        W_MU * one,
        W_SD * one,
        LOG_SIGMA * one,
        LOG_SIGMA_SD * one,
        RHO * one,
        nu=None if nu is None else nu * one,
        m_mu=M_MU * one if m else None,
        m_sd=M_SD * one if m else None,
    )


def _simulate(
    n_series: int,
    n_obs: int,
    horizon: int,
    nu: float,
    seed: int,
    *,
    fixed: tuple[float, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Series from the experience+time model, parameters from the prior (or ``fixed`` (w, m)):
    (observed points, targets with given production, outcomes, true parameters)."""
    rng = np.random.default_rng(seed)
    obs, targets, actual, truth = [], [], [], []
    total = n_obs + horizon
    for i in range(n_series):
        w, m = fixed if fixed else (rng.normal(W_MU, W_SD), rng.normal(M_MU, M_SD))
        sigma = np.exp(rng.normal(LOG_SIGMA, LOG_SIGMA_SD))
        g = rng.uniform(0.05, 0.4)
        annual = 10 * np.exp(g * np.arange(total) + 0.2 * rng.normal(size=total))
        x = np.log(annual[0] / g + np.cumsum(annual))
        shocks = sigma * (rng.standard_t(nu, total) if np.isfinite(nu) else rng.normal(size=total))
        noise = shocks[1:] + RHO * shocks[:-1]
        y = np.log(50.0) + np.concatenate([[0.0], np.cumsum(-w * np.diff(x) - m + noise)])
        sid = f"s{i:03d}"
        years = 1990 + np.arange(total)
        obs.append(pl.DataFrame({"series_id": sid, "year": years[:n_obs], "log_cost": y[:n_obs],
                                 "log_q": x[:n_obs]}))  # fmt: skip
        targets.append(pl.DataFrame({"series_id": sid, "year": years[n_obs:],
                                     "log_q": x[n_obs:]}))  # fmt: skip
        actual.append(pl.DataFrame({"series_id": sid, "year": years[n_obs:],
                                    "log_actual": y[n_obs:]}))  # fmt: skip
        truth.append({"series_id": sid, "w": w, "m": m})
    return pl.concat(obs), pl.concat(targets), pl.concat(actual), pl.DataFrame(truth)


def _cover90(fs: ForecastSamples, actual: pl.DataFrame) -> float:
    ya = fs.targets.join(actual, on=["series_id", "year"], how="left")["log_actual"].to_numpy()
    q = np.quantile(fs.samples, [0.05, 0.95], axis=1)
    return float(np.mean((ya >= q[0]) & (ya <= q[1])))


@pytest.mark.parametrize("nu", [np.inf, 5.0])
def test_intervals_cover_on_series_from_the_model(nu: float) -> None:
    obs, targets, actual, truth = _simulate(240, 14, 8, nu, seed=7)
    prior = _prior(None if np.isinf(nu) else nu)
    fs = simulate(ForecastTask(obs, targets), prior, config=ForecastConfig(n_samples=2000, seed=3))
    s = fs.series.join(truth, on="series_id")
    # 240 series: binomial sd of a 90% coverage is 0.019
    for p in ("w", "m"):
        inside = (s[p] >= s[f"{p}_q05"]) & (s[p] <= s[f"{p}_q95"])
        assert 0.84 <= inside.mean() <= 0.96, (p, inside.mean())
    assert 0.84 <= _cover90(fs, actual) <= 0.96


def test_a_shared_drift_and_known_exponents_are_recovered() -> None:
    """Every series has w = 0.35 and m = 0.04: the posterior means average to them (a long
    panel, so the data outweigh the prior) and the drift is not absorbed into w."""
    obs, targets, _, _ = _simulate(60, 30, 3, 5.0, seed=21, fixed=(0.35, 0.04))
    fs = simulate(ForecastTask(obs, targets), _prior(5.0), config=ForecastConfig(seed=5))
    assert abs(float(fs.series["w_mean"].mean()) - 0.35) < 0.04
    assert abs(float(fs.series["m_mean"].mean()) - 0.04) < 0.01
    wright = simulate(ForecastTask(obs, targets), _prior(5.0, m=False), config=ForecastConfig())
    # without a time term the drift is read as faster learning
    assert float(wright.series["w_mean"].mean()) > 0.35 + 0.05


def test_attribution_adds_up_to_the_deterministic_decline() -> None:
    obs, targets, _, _ = _simulate(12, 12, 6, 5.0, seed=2)
    fs = simulate(ForecastTask(obs, targets), _prior(5.0), config=ForecastConfig(seed=9))
    a = fs.attribution.join(fs.series.select("series_id", "w_mean", "m_mean"), on="series_id")
    last = obs.group_by("series_id").agg(pl.col("log_q").last().alias("lq_last"))
    a = a.join(targets, on=["series_id", "year"]).join(last, on="series_id")
    # means of w * dlogQ and m * h are mean(w) * dlogQ and mean(m) * h: exact
    dq = (a["log_q"] - a["lq_last"]).to_numpy()
    np.testing.assert_allclose(a["decline_experience_mean"], a["w_mean"] * dq, rtol=1e-9)
    np.testing.assert_allclose(a["decline_time_mean"], a["m_mean"] * a["horizon"], rtol=1e-9)
    # and their sum is the mean forecast decline up to the MA(1) carry and noise (mean ~ 0)
    y_last = obs.group_by("series_id").agg(pl.col("log_cost").last().alias("y_last"))
    b = fs.targets.with_columns(pl.Series("mean", fs.samples.mean(axis=1))).join(
        y_last, on="series_id"
    )
    total = (a["decline_experience_mean"] + a["decline_time_mean"]).to_numpy()
    decline = (b["y_last"] - b["mean"]).to_numpy()
    assert np.median(np.abs(decline - total)) < 0.05
    assert (a["decline_experience_q05"] <= a["decline_experience_q95"]).all()
    assert (a["decline_time_q05"] < a["decline_time_q95"]).all()


def test_a_wright_prior_has_no_time_part_and_the_same_forecasts() -> None:
    obs, targets, _, _ = _simulate(8, 12, 4, 5.0, seed=4)
    task = ForecastTask(obs, targets)
    fs = simulate(task, _prior(5.0, m=False), config=ForecastConfig(seed=1))
    assert (fs.attribution["decline_time_mean"] == 0).all()
    assert "m_mean" not in fs.series.columns
    again = simulate(task, _prior(5.0, m=False), config=ForecastConfig(seed=1))
    np.testing.assert_array_equal(fs.samples, again.samples)


def test_priors_with_a_drift_survive_save_and_load(tmp_path) -> None:
    prior = _prior(5.0, s=20)
    path = save_priors({"all": prior}, tmp_path / "p.csv", {"made_by": "test"})
    back = load_priors(path)["all"]
    assert back.has_drift
    np.testing.assert_allclose(back.m_mu, prior.m_mu)
    np.testing.assert_allclose(back.m_sd, prior.m_sd)
    frame = pl.read_csv(path).drop("m_sd")
    frame.write_csv(tmp_path / "half.csv")
    with pytest.raises(DataError, match="m_mu"):
        load_priors(tmp_path / "half.csv")
    with pytest.raises(ModelError, match="m_sd must be > 0"):
        dataclasses.replace(prior, m_sd=np.zeros(20))


def test_the_pool_is_the_union_of_both_forecasters() -> None:
    from learnrace_pipeline.lib.forecast.pool import simulate_pool

    obs, targets, _, _ = _simulate(10, 12, 5, 5.0, seed=8)
    task = ForecastTask(obs, targets)
    cfg = ForecastConfig(n_samples=600, seed=4)
    wright = simulate(task, _prior(5.0, m=False), config=cfg)
    et = simulate(task, _prior(5.0), config=dataclasses.replace(cfg, seed=5))
    pool = simulate_pool(task, _prior(5.0, m=False), _prior(5.0), config=cfg)
    np.testing.assert_array_equal(pool.samples, np.concatenate([wright.samples, et.samples], 1))
    # the mixture's mean decline parts are the averages of the two forecasters' parts
    for part in ("experience", "time"):
        col = f"decline_{part}_mean"
        np.testing.assert_allclose(
            pool.attribution[col], (wright.attribution[col] + et.attribution[col]) / 2, rtol=1e-9
        )
    # m is 0 in the Wright half: the pooled mean drift is half the experience+time one
    np.testing.assert_allclose(pool.series["m_mean"], et.series["m_mean"] / 2, rtol=1e-9)
    with pytest.raises(ModelError, match="Wright priors without a time drift"):
        simulate_pool(task, _prior(5.0), _prior(5.0), config=cfg)
