"""Chinchilla loss law: closed forms, bad input, recovery of the Besiroglu et al. refit with
intervals as wide as the data allow (not narrower), and compute-optimal tokens per parameter."""

from __future__ import annotations

import numpy as np
import polars as pl
import pymc as pm
import pytest
from scipy import optimize

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models import chinchilla as ch
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.diagnostics import check_fit

P = ch.BESIROGLU_2024


def test_loss_closed_form():
    assert ch.loss(1e9, 2e10, **P) == pytest.approx(1.82 + 482 / 1e9**0.348 + 2085 / 2e10**0.366)
    assert ch.loss(1e30, 1e30, **P) == pytest.approx(1.82, abs=1e-6)


def test_tokens_per_parameter_at_chinchilla_compute():
    n, d, r = ch.compute_optimal(5.8e23, **P)
    assert 18.0 <= r <= 20.0
    assert r == pytest.approx(18.347, abs=1e-3)
    assert 6 * n * d == pytest.approx(5.8e23, rel=1e-12)
    # the closed form is the minimum of L along C = 6 N D
    res = optimize.minimize_scalar(
        lambda ln: ch.loss(np.exp(ln), 5.8e23 / (6 * np.exp(ln)), **P),
        bounds=(np.log(1e9), np.log(1e13)),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert np.exp(res.x) == pytest.approx(n, rel=1e-4)
    # alpha < beta: tokens per parameter fall slowly with compute
    r_big = ch.compute_optimal(5.8e25, **P)[2]
    assert r_big < r
    assert r_big / r == pytest.approx(100 ** ((0.348 - 0.366) / (0.348 + 0.366)))


@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("loss", -1.0, "positive finite"),
        ("n_params", 0.0, "positive finite"),
        ("n_tokens", float("nan"), "positive finite"),
        ("loss", None, "positive finite"),
    ],
)
def test_bad_runs_name_the_row(column, value, problem):
    runs = ch.simulate_runs(seed=0, per_budget=3)
    bad = runs.with_row_index("_k").with_columns(
        pl.when(pl.col("_k") == 6).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    )
    with pytest.raises(DataError, match=problem) as err:
        ch.check_runs(bad.drop("_k"))
    assert err.value.row == 7 and err.value.column == column


def test_too_few_or_missing_columns():
    runs = ch.simulate_runs(seed=0, per_budget=1)
    with pytest.raises(DataError, match="needs >= 10"):
        ch.check_runs(runs)
    with pytest.raises(DataError, match="missing columns"):
        ch.check_runs(ch.simulate_runs(seed=0).drop("loss"))


def test_simulated_design():
    runs = ch.simulate_runs(seed=1)
    assert runs.height == 225
    c = 6 * runs["n_params"] * runs["n_tokens"]
    assert c.min() == pytest.approx(6e18, rel=1e-9) and c.max() == pytest.approx(3e21, rel=1e-9)
    resid = np.log(runs["loss"]) - np.log(ch.loss(runs["n_params"], runs["n_tokens"], **P))
    assert abs(resid.std() - 0.02) < 0.003


# prior predictive draws of the truncated-normal exponents run in numba object mode (harmless)
@pytest.mark.filterwarnings("ignore:Numba will use object mode:UserWarning")
def test_prior_predictive_shapes():
    runs = ch.simulate_runs(seed=2, per_budget=4)
    for likelihood in ("normal", "student_t"):
        model = ch.build_chinchilla_model(runs, likelihood=likelihood)
        with model:
            pri = pm.sample_prior_predictive(draws=5, random_seed=1)
        y = pri["prior_predictive"]["ln_loss"]
        assert y.dims == ("chain", "draw", "run") and y.shape == (1, 5, runs.height)
        assert ("nu" in pri["prior"]) == (likelihood == "student_t")
        # A and B are the reparametrised terms mapped back
        ln_n0 = float(np.log(np.exp(np.log(runs["n_params"]).mean())))
        np.testing.assert_allclose(
            np.log(pri["prior"]["A"].values),
            pri["prior"]["a_ref"].values + pri["prior"]["alpha"].values * ln_n0,
        )


@pytest.fixture(scope="module")
def compiled():
    return ch.compile_chinchilla(ch.simulate_runs(seed=0))


@pytest.mark.slow
def test_recovery_with_honest_intervals(compiled):
    runs = ch.simulate_runs(seed=0)
    dt = ch.fit_chinchilla(runs, compiled=compiled)
    check = check_fit(dt)
    assert check.passed, check.describe()
    s = {r["parameter"]: r for r in ch.chinchilla_summary(dt).iter_rows(named=True)}
    for k, v in P.items():
        assert s[k]["q05"] <= v <= s[k]["q95"], (k, s[k])
    # honest: posterior s.d. as wide as the Fisher information allows, neither narrower
    # (the criticised original intervals) nor much wider (priors dominating)
    fisher = ch.laplace_sd(runs, P, sigma=0.02)
    for k in ("E", "alpha", "beta"):
        assert 0.7 <= s[k]["sd"] / fisher[k] <= 1.4, (k, s[k]["sd"], fisher[k])
    # with 225 runs at 2 % noise, alpha is known to about +-0.04 (90 %), not to +-0.001
    assert s["alpha"]["q95"] - s["alpha"]["q05"] > 0.05
    tpp = ch.tokens_per_parameter(dt, 5.8e23).row(0, named=True)
    assert tpp["tokens_per_param_q05"] <= 18.35 <= tpp["tokens_per_param_q95"]


@pytest.mark.slow
def test_interval_coverage_over_replicates(compiled):
    """Ten simulated datasets, compile once: the 90 % intervals cover the truth ~9 times."""
    sampler = SamplerConfig(draws=400, tune=500, chains=2, seed=7)
    hits = {k: 0 for k in ("E", "alpha", "beta")}
    for seed in range(1, 11):
        dt = ch.fit_chinchilla(ch.simulate_runs(seed=seed), sampler=sampler, compiled=compiled)
        assert int(dt["sample_stats"]["diverging"].sum()) == 0
        s = {r["parameter"]: r for r in ch.chinchilla_summary(dt).iter_rows(named=True)}
        for k in hits:
            hits[k] += s[k]["q05"] <= P[k] <= s[k]["q95"]
    assert all(6 <= h <= 10 for h in hits.values()), hits
    assert sum(hits.values()) >= 23, hits  # 30 intervals at 90 %: 27 expected
