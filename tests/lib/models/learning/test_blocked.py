"""The blocked fit of large panels (:mod:`learnrace_pipeline.lib.models.learning.blocked`):
block plans, padding, the exact industry-level draws, and recovery of known parameters."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.learning.blocked import (
    PAD_PREFIX,
    block_panel,
    draw_industry_level,
    fit_blocked,
    fit_blocks,
    fit_route,
    plan_blocks,
    pool_shared,
)
from learnrace_pipeline.lib.models.learning.config import LearningConfig, LearningPriors
from learnrace_pipeline.lib.models.learning.panel import Panel, build_panel
from learnrace_pipeline.lib.models.learning.simulate import synthetic_frames


@pytest.fixture(scope="module")
def recovery_case() -> tuple[Panel, object]:
    """3 industries x 40 series of 12-30 points (unequal lengths: padding is exercised)."""
    frames, truth = synthetic_frames(
        n_industries=3, series_per_industry=40, n_points=(12, 30), seed=11
    )
    panel = build_panel(frames["cost_observations"], frames["production"], frames["technologies"])
    return panel, truth


def test_plan_splits_large_industries_round_robin(recovery_case) -> None:
    panel, _ = recovery_case
    # 40 series per industry -> ceil(40 / 15) = 3 blocks of 14, 13 and 13
    blocks = plan_blocks(panel, max_series=15)
    assert [len(b.series) for b in blocks] == [14, 13, 13] * 3
    assert [b.part for b in blocks[:3]] == [0, 1, 2]
    labels = [s for b in blocks for s in b.series]
    assert sorted(labels) == sorted(panel.series["series"].to_list())
    ind = dict(zip(panel.series["series"], panel.series["industry"], strict=True))
    assert all(ind[s] == b.industry for b in blocks for s in b.series)
    first = sorted(s for s in panel.series["series"] if ind[s] == blocks[0].industry)
    assert blocks[0].series == tuple(first[0::3])
    assert len(plan_blocks(panel, max_series=500)) == 3
    with pytest.raises(ModelError, match="max_series"):
        plan_blocks(panel, max_series=1)


def test_block_panel_pads_with_masked_prior_only_series(recovery_case) -> None:
    panel, _ = recovery_case
    block = plan_blocks(panel, max_series=25)[4]
    real_obs = panel.obs.filter(pl.col("series").is_in(list(block.series)))
    sub, mask = block_panel(panel, block, n_series=32, n_obs=real_obs.height + 17)
    assert sub.n_series == 32 and sub.n_obs == real_obs.height + 17
    assert sub.industries == (block.industry,)
    assert mask.sum() == real_obs.height and np.all(mask[real_obs.height :] == 0)
    pads = sub.series.filter(pl.col("series").str.starts_with(PAD_PREFIX))
    assert pads.height == 32 - len(block.series)
    # the block's own differences are carried unchanged, in series then year order
    own = sub.obs.head(real_obs.height)
    want = real_obs.sort("series", "year")
    assert own["dlogc"].to_list() == want["dlogc"].to_list()
    assert own["series"].to_list() == want["series"].to_list()
    data = sub.data(mask)
    assert data["series_idx"].max() == 31 and set(data["industry_of_series"]) == {0}
    with pytest.raises(ModelError, match="pad"):
        block_panel(panel, block, n_series=len(block.series), n_obs=real_obs.height + 1)


def _grid_posterior(y, se, mu0, sd0, tau_scale):
    """Brute-force 2-D grid posterior of (w_all, tau) for the normal-normal model."""
    taus = np.linspace(1e-4, 6 * tau_scale, 1500)
    ws = np.linspace(mu0 - 5 * sd0, mu0 + 5 * sd0, 3000)
    t, w = np.meshgrid(taus, ws, indexing="ij")
    v = t[..., None] ** 2 + se**2
    logp = (
        -0.5 * (((y - w[..., None]) ** 2) / v + np.log(v)).sum(-1)
        - 0.5 * ((w - mu0) / sd0) ** 2
        - 0.5 * (t / tau_scale) ** 2
    )
    p = np.exp(logp - logp.max())
    p /= p.sum()
    return (
        float((p * w).sum()),
        float((p * t).sum()),
        float(np.sqrt((p * w**2).sum() - (p * w).sum() ** 2)),
    )


def test_industry_level_draws_match_a_brute_force_grid() -> None:
    y = np.array([0.21, 0.35, 0.42, 0.30, 0.47, 0.28])
    se = np.array([0.02, 0.05, 0.03, 0.10, 0.04, 0.02])
    d = draw_industry_level(y, se, mu0=0.25, sd0=0.25, tau_scale=0.15, n_draws=200_000, seed=3)
    w_mean, tau_mean, w_sd = _grid_posterior(y, se, 0.25, 0.25, 0.15)
    assert d["w_all"].mean() == pytest.approx(w_mean, abs=0.002)
    assert d["w_all"].std() == pytest.approx(w_sd, rel=0.02)
    assert d["tau_industry"].mean() == pytest.approx(tau_mean, abs=0.002)
    # each industry's mean moves from y_k towards w_all by a share that grows with se_k
    share = np.abs(d["w_k"].mean(axis=0) - y) / np.abs(y - w_mean)
    order = np.argsort(se, kind="stable")
    assert share.argmax() == 3
    assert np.all(np.diff(share[order][[0, 2, 3, 4, 5]]) > 0)


def test_shared_parameter_pooling_counts_the_prior_once() -> None:
    """Blocks with Gaussian data about one shared log_sigma_all under its normal prior: each
    block's posterior is exactly Gaussian, and pooling them must give the full posterior."""
    pr = LearningPriors(log_sigma_mu=-2.3, log_sigma_sd=0.4)
    rng = np.random.default_rng(2)
    ses = rng.uniform(0.05, 0.3, size=40)
    ys = -2.6 + ses * rng.standard_normal(40)
    p0 = 1 / pr.log_sigma_sd**2
    draws = []
    for y, s in zip(ys, ses, strict=True):  # block posterior: prior x its own datum
        prec = p0 + 1 / s**2
        mean = (pr.log_sigma_mu * p0 + y / s**2) / prec
        draws.append(mean + rng.standard_normal(20_000) / np.sqrt(prec))
    got, left_out = pool_shared("log_sigma_all", np.stack(draws), pr, n_draws=100_000, seed=1)
    assert left_out == 0
    prec = p0 + (1 / ses**2).sum()
    mean = (pr.log_sigma_mu * p0 + (ys / ses**2).sum()) / prec
    assert got.mean() == pytest.approx(mean, abs=0.002)
    assert got.std() == pytest.approx(1 / np.sqrt(prec), rel=0.03)
    # without dividing out the prior 39 times the mean would sit over 1 sd nearer the prior
    naive = (pr.log_sigma_mu * 40 * p0 + (ys / ses**2).sum()) / (40 * p0 + (1 / ses**2).sum())
    assert abs(naive - mean) > 1 / np.sqrt(prec)


def _grid_draws(logp: np.ndarray, us: np.ndarray, n: int, rng) -> np.ndarray:
    p = np.exp(logp - logp.max())
    return rng.choice(us, size=n, p=p / p.sum())


def test_shared_spread_from_weak_blocks_matches_the_exact_pooled_posterior() -> None:
    """Ten small blocks, each loosely informed about tau_w_series (a Gaussian likelihood of sd
    0.8 on log tau): their posteriors are skewed by the HalfNormal prior. Pooling them must
    give the posterior of all ten likelihoods under one prior (computed on a grid); a block
    whose posterior is the prior itself is left out."""
    pr = LearningPriors()
    rng = np.random.default_rng(5)
    us = np.linspace(-9.0, 1.0, 20_001)
    g = pr.tau_w_series
    log_prior = us - np.exp(2 * us) / (2 * g**2)
    centres = np.log(0.08) + 0.25 * rng.standard_normal(10)
    loglik = -0.5 * ((us[None, :] - centres[:, None]) / 0.8) ** 2
    draws = np.stack([_grid_draws(ll + log_prior, us, 8000, rng) for ll in loglik])
    exact = _grid_draws(loglik.sum(axis=0) + log_prior, us, 200_000, rng)
    got, left_out = pool_shared("tau_w_series", draws, pr, n_draws=200_000, seed=2)
    assert left_out == 0
    assert np.median(got) == pytest.approx(np.median(exact), abs=0.03)
    assert got.std() == pytest.approx(exact.std(), rel=0.08)
    prior_only = _grid_draws(log_prior, us, 8000, rng)[None, :]
    got2, left_out2 = pool_shared(
        "tau_w_series", np.vstack([draws, prior_only]), pr, n_draws=200_000, seed=2
    )
    assert left_out2 == 1
    assert np.median(got2) == pytest.approx(np.median(got), abs=0.02)
    with pytest.raises(ModelError, match="no block"):
        pool_shared("tau_w_series", prior_only, pr, n_draws=10, seed=2)


def test_route_picks_full_nuts_for_small_panels() -> None:
    assert fit_route(77) == "full"
    assert fit_route(10_000) == "blocked"
    assert fit_route(77, "blocked") == "blocked"
    with pytest.raises(ModelError, match="route"):
        fit_route(10, "minibatch")


@pytest.mark.slow
def test_blocked_fit_recovers_known_parameters(recovery_case) -> None:
    """120 series in 3 industries, each split in 2 blocks of 20: the 90% intervals of the series
    exponents cover the truth for 80-98% of series (nominal 90%), and the top level is covered."""
    from learnrace_pipeline.lib.forecast.priors import population_priors

    panel, truth = recovery_case
    cfg = LearningConfig(trend="wright", noise="normal", ma1=True)
    sampler = base.SamplerConfig(chains=2, tune=300, draws=300, seed=5)
    res = fit_blocked(panel, cfg, sampler, max_series=20)
    post = res.tree["posterior"].to_dataset()
    assert res.blocks.height == 6
    # every block's sub-layout fits one of at most two compiled models
    assert (res.blocks["compile_s"] > 0).sum() <= 2
    assert set(post["series"].values) == set(panel.series["series"].to_list())
    ws = post["w_series"].stack(sample=("chain", "draw")).transpose("series", "sample").values
    lo, hi = np.quantile(ws, [0.05, 0.95], axis=1)
    true_w = np.array([truth.w_series[s] for s in post["series"].values])
    coverage = float(((lo <= true_w) & (true_w <= hi)).mean())
    assert 0.80 <= coverage <= 0.98, coverage
    w_all = np.quantile(post["w_all"].values.ravel(), [0.05, 0.95])
    assert w_all[0] <= truth.w_all <= w_all[1]
    # the industry means are close to the truth (each has 40 series)
    wi = post["w_industry"].mean(("chain", "draw"))
    for ind in wi["industry"].values:
        assert abs(float(wi.sel(industry=ind)) - truth.w_industry[str(ind)]) < 0.05
    # stage 3 moves each series by a share (0-1) of its block mean's move
    assert 0.0 < res.extra["shrink_slope_median"] < 1.0
    assert res.tree.attrs["fit_route"] == "blocked"
    priors = population_priors(res.tree)
    assert set(priors) == {"all", *panel.industries}
    assert priors["all"].w_mu.size == 600


@pytest.mark.slow
def test_blocks_on_a_dask_local_cluster_equal_the_in_process_fit(tmp_path) -> None:
    """The blocks as tasks on 2 Dask worker processes (each compiling its own model, writing
    its posteriors as netCDF) give the same draws as in this process."""
    from learnrace_pipeline.lib.distributed.engine import Engine, dask_client

    frames, _ = synthetic_frames(n_industries=2, series_per_industry=12, n_points=(10, 16), seed=4)
    panel = build_panel(frames["cost_observations"], frames["production"], frames["technologies"])
    cfg = LearningConfig(trend="wright", noise="normal", ma1=True)
    sampler = base.SamplerConfig(chains=2, tune=150, draws=100, seed=9)
    local = fit_blocks(panel, cfg, sampler, max_series=8)
    with dask_client(Engine("local", workers=2)) as client:
        remote = fit_blocks(panel, cfg, sampler, max_series=8, client=client, out_dir=tmp_path)
    assert len(local) == len(remote) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"block-{i:05d}.nc" for i in range(4)]
    for (b1, p1, r1), (b2, p2, r2) in zip(local, remote, strict=True):
        assert b1 == b2 and r1["block"] == r2["block"]
        for v in ("w_all", "w_series", "rho", "log_sigma_series"):
            np.testing.assert_array_equal(p1[v].values, p2[v].values)
