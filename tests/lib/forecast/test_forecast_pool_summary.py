"""The pool summarised block by block (``pool.pool_summary``, what ``learnrace forecast`` runs).

- the result does not depend on the block size (1, 7, all series) or on the number of worker
  processes, exactly, and a series' forecast does not depend on the other series in the input;
- its quantiles are those of the sample-keeping pool (``pool.simulate_pool``) within Monte
  Carlo error: the old samples' empirical CDF at the new quantiles is each level, to within
  the binomial error of two sets of 4,000 samples; its per-series summaries and attribution
  agree likewise;
- the sort-based quantiles equal ``np.quantile``'s;
- on series simulated from the model (parameters drawn from the priors), the pool's 90%
  intervals of future costs and of each series' exponent cover about 90%;
- per-series random streams are independent of the block and reproducible.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.forecast.pool import (
    pool_summary,
    row_quantiles,
    simulate_pool,
    summary_blocks,
)
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.streams import SeriesStreams
from learnrace_pipeline.lib.forecast.tables import result_tables
from learnrace_pipeline.lib.forecast.types import (
    LEVELS,
    ForecastConfig,
    ForecastSummary,
    ForecastTask,
)

W_MU, W_SD = 0.3, 0.1
M_MU, M_SD = 0.0, 0.01
LOG_SIGMA, LOG_SIGMA_SD, RHO, NU = np.log(0.06), 0.3, 0.2, 5.0


def _prior(drift: bool, s: int = 100) -> PopulationPrior:
    one = np.ones(s)
    return PopulationPrior(
        "all",
        W_MU * one,
        W_SD * one,
        LOG_SIGMA * one,
        LOG_SIGMA_SD * one,
        RHO * one,
        nu=NU * one,
        m_mu=M_MU * one if drift else None,
        m_sd=M_SD * one if drift else None,
    )


def _panel(
    n_series: int, seed: int, n_obs: tuple[int, ...] = (8, 12, 15), horizon: int = 5
) -> tuple[ForecastTask, pl.DataFrame, pl.DataFrame]:
    """Series from the experience+time model with parameters drawn from the priors above
    (drift ~ N(0, 0.01), so the Wright half is nearly right too), Student-t(5) MA(1) noise,
    lengths cycling through ``n_obs``: (task with given production, outcomes, true w)."""
    rng = np.random.default_rng(seed)
    obs, targets, actual, truth = [], [], [], []
    for i in range(n_series):
        k = n_obs[i % len(n_obs)]
        total = k + horizon
        w, m = rng.normal(W_MU, W_SD), rng.normal(M_MU, M_SD)
        sigma = np.exp(rng.normal(LOG_SIGMA, LOG_SIGMA_SD))
        g = rng.uniform(0.05, 0.4)
        annual = 10 * np.exp(g * np.arange(total) + 0.2 * rng.normal(size=total))
        x = np.log(annual[0] / g + np.cumsum(annual))
        shocks = sigma * rng.standard_t(NU, total)
        noise = shocks[1:] + RHO * shocks[:-1]
        y = np.log(50.0) + np.concatenate([[0.0], np.cumsum(-w * np.diff(x) - m + noise)])
        sid = f"s{i:03d}"
        years = 1990 + np.arange(total)
        obs.append(pl.DataFrame({"series_id": sid, "year": years[:k], "log_cost": y[:k],
                                 "log_q": x[:k]}))  # fmt: skip
        targets.append(pl.DataFrame({"series_id": sid, "year": years[k:], "log_q": x[k:]}))
        actual.append(pl.DataFrame({"series_id": sid, "year": years[k:],
                                    "log_actual": y[k:]}))  # fmt: skip
        truth.append({"series_id": sid, "w": w})
    task = ForecastTask(pl.concat(obs), pl.concat(targets))
    return task, pl.concat(actual), pl.DataFrame(truth)


def _same(a: ForecastSummary, b: ForecastSummary) -> None:
    np.testing.assert_array_equal(a.log_cost_q, b.log_cost_q)
    np.testing.assert_array_equal(a.finite, b.finite)
    np.testing.assert_array_equal(a.log_q, b.log_q)
    assert a.targets.equals(b.targets)
    assert a.series.equals(b.series)
    assert a.attribution.equals(b.attribution)


def test_block_size_and_workers_do_not_change_the_result() -> None:
    task, _, _ = _panel(23, seed=1)
    cfg = ForecastConfig(n_samples=300, seed=11)
    wright, et = _prior(False), _prior(True)
    ref = pool_summary(task, wright, et, config=cfg, block_series=1)
    assert ref.log_cost_q.shape == (23 * 5, len(LEVELS)) and ref.finite.all()
    assert np.isfinite(ref.log_cost_q).all()
    for block, workers in ((7, 1), (10_000, 1), (7, 2)):
        _same(ref, pool_summary(task, wright, et, config=cfg, block_series=block, workers=workers))
    # a different seed gives different draws (the comparison above can fail)
    other = pool_summary(task, wright, et, config=ForecastConfig(n_samples=300, seed=12))
    assert not np.array_equal(ref.log_cost_q, other.log_cost_q)


def test_a_series_forecast_does_not_depend_on_the_other_series() -> None:
    task, _, _ = _panel(12, seed=2)
    cfg = ForecastConfig(n_samples=300, seed=3)
    full = pool_summary(task, _prior(False), _prior(True), config=cfg)
    keep = ["s001", "s004", "s011"]
    sub_task = ForecastTask(
        task.obs.filter(pl.col("series_id").is_in(keep)),
        task.targets.filter(pl.col("series_id").is_in(keep)),
    )
    sub = pool_summary(sub_task, _prior(False), _prior(True), config=cfg)
    rows = full.targets["series_id"].is_in(keep).to_numpy()
    np.testing.assert_array_equal(full.log_cost_q[rows], sub.log_cost_q)
    assert full.series.filter(pl.col("series_id").is_in(keep)).equals(sub.series)


def test_blocks_hold_one_level_and_one_length() -> None:
    levels = ["a", "b", "a", "a", "b", "a"]
    counts = np.array([5, 5, 5, 7, 5, 5])
    blocks = summary_blocks(levels, counts, 2)
    assert [b.tolist() for b in blocks] == [[0, 2], [5], [3], [1, 4]]
    with pytest.raises(ModelError, match="block_series"):
        summary_blocks(levels, counts, 0)


def test_sorted_quantiles_equal_numpy_quantiles() -> None:
    rng = np.random.default_rng(5)
    for k in (2, 7, 600, 4000):
        x = rng.standard_t(3, size=(50, k))
        np.testing.assert_array_equal(row_quantiles(x, LEVELS), np.quantile(x, LEVELS, axis=1).T)


def test_summary_matches_the_sample_keeping_pool() -> None:
    """Same mixture, other draws: at each new quantile the old samples' empirical CDF is the
    level up to the binomial error of two sets of n = 4,000 samples,
    sd = sqrt(p (1 - p) (1/n + 1/n)) (0.011 at the median); the largest of the 7 x 120
    deviations stays under 5 sd and their mean, per level, under 0.01."""
    task, _, _ = _panel(24, seed=3)
    cfg = ForecastConfig(n_samples=2000, seed=8)
    wright, et = _prior(False), _prior(True)
    old = simulate_pool(task, wright, et, config=cfg)
    new = pool_summary(task, wright, et, config=cfg)
    assert new.targets.equals(old.targets)
    n = old.samples.shape[1]
    assert n == 4000
    cdf = (old.samples[:, :, None] <= new.log_cost_q[:, None, :]).mean(axis=1)  # (targets, 7)
    p = np.asarray(LEVELS)
    sd = np.sqrt(p * (1 - p) * 2 / n)
    z = (cdf - p) / sd
    assert np.abs(z).max() < 5, np.abs(z).max()
    assert np.abs((cdf - p).mean(axis=0)).max() < 0.01
    # per-series exponent summaries: within a few Monte Carlo sd of the mean
    a, b = old.series, new.series
    assert a["series_id"].equals(b["series_id"])
    se = np.sqrt(2 / n) * a["w_sd"].to_numpy()
    assert np.abs(a["w_mean"].to_numpy() - b["w_mean"].to_numpy()).max() < 5 * se.max()
    # attribution of each series' furthest year: the same rows, the means within MC error
    last = old.attribution.sort("series_id", "year").group_by("series_id").last()
    joined = last.join(new.attribution, on=["series_id", "year"], suffix="_new")
    assert joined.height == new.attribution.height == 24
    d = (joined["decline_experience_mean"] - joined["decline_experience_mean_new"]).abs()
    spread = joined["decline_experience_q95"] - joined["decline_experience_q05"]
    assert (d < 0.1 * spread).all()


def test_intervals_cover_on_series_from_the_model() -> None:
    """200 series (1,000 targets) drawn from the priors: 90% intervals of future costs and of
    each series' exponent cover 84-96% (the binomial sd of 90% over 200 series is 0.021)."""
    task, actual, truth = _panel(200, seed=7)
    wright, et = _prior(False), _prior(True)
    fs = pool_summary(task, wright, et, config=ForecastConfig(n_samples=1000, seed=4))
    ya = fs.targets.join(actual, on=["series_id", "year"], how="left")["log_actual"].to_numpy()
    lo, hi = fs.log_cost_q[:, LEVELS.index(0.05)], fs.log_cost_q[:, LEVELS.index(0.95)]
    cover = float(np.mean((ya >= lo) & (ya <= hi)))
    assert 0.84 <= cover <= 0.96, cover
    s = fs.series.join(truth, on="series_id")
    inside = float(((s["w"] >= s["w_q05"]) & (s["w"] <= s["w_q95"])).mean())
    assert 0.84 <= inside <= 0.96, inside
    # the output tables build from the summary as from samples
    table, per_series = result_tables(fs, "pool", wright)
    assert table.height == fs.targets.height and per_series is not None
    assert set(table["model"]) == {"pool_wright_experience_time[all]"}
    np.testing.assert_allclose(np.log(table["q50"].to_numpy()), fs.log_cost_q[:, 3])
    # each series' attribution is of its furthest year: last observed + 5
    expected = [1990 + (8, 12, 15)[i % 3] + 4 for i in range(200)]
    assert per_series["attribution_year"].to_list() == expected


def test_series_streams_draw_each_row_from_its_series() -> None:
    a = SeriesStreams.for_series(1, ["x", "y", "z"])
    b = SeriesStreams.for_series(1, ["z", "x"])
    da, db = a.standard_normal((3, 5)), b.standard_normal((2, 5))
    np.testing.assert_array_equal(da[0], db[1])
    np.testing.assert_array_equal(da[2], db[0])
    assert not np.array_equal(da[0], da[1])
    # the noise streams are not the posterior ones, and a slice keeps its series
    n = SeriesStreams.for_series(1, ["x"]).noise().standard_normal((1, 5))
    assert not np.array_equal(n[0], da[0])
    t = SeriesStreams.for_series(1, ["x", "y", "z"])[1:].standard_t(np.full((2, 4), 5.0))
    assert t.shape == (2, 4) and np.isfinite(t).all()
    with pytest.raises(ValueError, match="rows"):
        a.random((2, 5))
