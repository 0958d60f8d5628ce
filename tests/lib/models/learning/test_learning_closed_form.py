"""NumPy helpers against plain loops and against the PyMC graph they mirror."""

from __future__ import annotations

import numpy as np
import pytensor
import pytest
import xarray as xr
from scipy import special

from learnrace_pipeline.lib.models.learning.config import LearningConfig, learning_rate
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
from learnrace_pipeline.lib.models.learning.numpy_mirror import (
    PARTS,
    _obs_parts,
    add_deterministics,
    ma1_innovations,
    one_step_predictive,
    pointwise_log_likelihood,
    simulate_dlogc,
)


def _loop_innovations(r, rho, series, e0):
    e = np.empty_like(r)
    prev = None
    for i in range(r.size):
        if i == 0 or series[i] != series[i - 1]:
            prev = e0[i]
        e[i] = r[i] - rho * prev
        prev = e[i]
    return e


@pytest.mark.parametrize("lengths", [[1, 2, 3], [17, 5, 40, 1], [142, 9]])
def test_ma1_innovations_match_the_recursion(lengths) -> None:
    rng = np.random.default_rng(0)
    series = np.repeat(np.arange(len(lengths)), lengths)
    pos = np.concatenate([np.arange(n) for n in lengths])
    r = rng.standard_normal(series.size)
    e0_series = rng.standard_normal(len(lengths))
    for rho in (0.0, 0.19, -0.6, 0.94):
        got = ma1_innovations(r, rho, pos, e0_series[series])
        want = _loop_innovations(r, rho, series, e0_series[series])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # vectorised over draws: each row has its own rho
    rhos = np.array([[0.1], [0.5], [-0.3]])
    batch = ma1_innovations(np.tile(r, (3, 1)), rhos, pos, np.tile(e0_series[series], (3, 1)))
    for k in range(3):
        want = _loop_innovations(r, rhos[k, 0], series, e0_series[series])
        np.testing.assert_allclose(batch[k], want, rtol=1e-12, atol=1e-12)


def test_learning_rate() -> None:
    assert learning_rate(1.0) == pytest.approx(0.5)
    assert learning_rate(0.32) == pytest.approx(1 - 2**-0.32)
    assert learning_rate(0.32) == pytest.approx(0.19893, abs=1e-5)


CONFIGS = [
    LearningConfig(trend="wright", noise="normal", ma1=True),
    LearningConfig(trend="both", noise="student_t", ma1=True),
    LearningConfig(trend="time", noise="normal", ma1=False),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: c.name)
def test_numpy_log_likelihood_equals_the_model_potential(synthetic_panel, config) -> None:
    lcm = LearningCurveModel(synthetic_panel, config)
    model = lcm.model
    potential = pytensor.function(model.free_RVs, model.potentials[0], on_unused_input="ignore")
    prior = lcm.prior_draws(4, seed=11)
    data = lcm.data()
    for d in range(4):
        draw = prior.isel(draw=[d])
        want = potential(*[draw[rv.name].values[0, 0] for rv in model.free_RVs])
        got = pointwise_log_likelihood(draw, data, config)["dlogc"]
        assert got.dims == ("chain", "draw", "obs")
        assert float(got.sum()) == pytest.approx(float(want), rel=1e-9, abs=1e-8)


def test_masked_points_leave_the_likelihood(synthetic_panel) -> None:
    config = CONFIGS[0]
    lcm = LearningCurveModel(synthetic_panel, config)
    model = lcm.model
    mask = synthetic_panel.origin_mask(1980)
    with model:
        model.set_data("mask", mask)
    potential = pytensor.function(model.free_RVs, model.potentials[0], on_unused_input="ignore")
    draw = lcm.prior_draws(1, seed=5)
    ll = pointwise_log_likelihood(draw, lcm.data(mask), config)["dlogc"].values.ravel()
    want = potential(*[draw[rv.name].values[0, 0] for rv in model.free_RVs])
    assert float(ll[mask > 0].sum()) == pytest.approx(float(want), rel=1e-9)
    assert float(ll.sum()) != pytest.approx(float(want), rel=1e-6)


@pytest.mark.parametrize("level", ["pooled", "nation"])
def test_numpy_deterministics_equal_pymc_deterministics(
    synthetic_panel, nation_panel, level
) -> None:
    if level == "pooled":
        config = LearningConfig(trend="both", noise="normal")
        lcm = LearningCurveModel(synthetic_panel, config)
    else:
        config = LearningConfig(trend="both", noise="normal", level="nation")
        lcm = LearningCurveModel(nation_panel, config)
    prior = lcm.prior_draws(6, seed=2)
    free = xr.Dataset({rv.name: prior[rv.name] for rv in lcm.model.free_RVs})
    rebuilt = add_deterministics(free, config, lcm.data())
    names = [d.name for d in lcm.model.deterministics]
    assert names
    for name in names:
        np.testing.assert_allclose(
            rebuilt[name].transpose(*prior[name].dims).values, prior[name].values, rtol=1e-12
        )


def test_simulate_dlogc_is_the_generative_model(synthetic_panel) -> None:
    data = synthetic_panel.data()
    n_series = synthetic_panel.n_series
    rng = np.random.default_rng(3)
    w = np.full((1, n_series), 0.3)
    tiny = {"w_series": w, "sigma_series": np.full((1, n_series), 1e-9), "rho": np.array([0.5])}
    y = simulate_dlogc(tiny, data, LearningConfig(noise="normal"), rng)
    np.testing.assert_allclose(y[0], -0.3 * data["dlogq"], atol=1e-7)
    # MA(1): lag-1 autocorrelation of e + rho e[-1] is rho / (1 + rho^2)
    big = {"w_series": np.zeros((400, n_series)), "sigma_series": np.ones((400, n_series)),
           "rho": np.full(400, 0.5)}  # fmt: skip
    y = simulate_dlogc(big, data, LearningConfig(noise="normal"), rng)
    same = data["pos"][1:] > 0
    lag1 = np.mean(y[:, 1:][:, same] * y[:, :-1][:, same]) / np.mean(y**2)
    assert lag1 == pytest.approx(0.5 / 1.25, abs=0.02)
    assert np.mean(y**2) == pytest.approx(1.25, rel=0.03)


#: free trend parameters below the top level, per (trend, trend_param)
TREND_FREE = {
    ("time", "centred"): {"m_industry", "z_m_series"},
    ("both", "centred"): {"drift_industry", "z_w_industry_given_drift", "drift_series",
                          "z_w_series_given_drift"},
    ("both", "non_centred"): {"z_drift_industry", "z_w_industry_given_drift", "z_drift_series",
                              "z_w_series_given_drift"},
}  # fmt: skip


@pytest.mark.parametrize(("trend", "trend_param"), list(TREND_FREE))
def test_centred_time_trend_deterministics_and_likelihood(
    synthetic_panel, trend, trend_param
) -> None:
    """The centred industry level of m (time trend, from 30 series up) is a free variable; the
    experience+time model samples each level's drift (centred or not) and w given the drift.
    The NumPy rebuild derives w/m at every level, and the likelihood matches the model's."""
    config = LearningConfig(trend=trend, noise="normal", trend_param=trend_param)
    lcm = LearningCurveModel(synthetic_panel, config)
    free_names = {rv.name for rv in lcm.model.free_RVs}
    others = {"w_all", "m_all", "log_sigma_all", "z_sigma", "log_sigma_series", "nu", "rho", "z_e0"}
    trend_free = {n for n in free_names - others if not n.startswith("tau_")}
    assert trend_free == TREND_FREE[(trend, trend_param)]
    prior = lcm.prior_draws(6, seed=4)
    free = xr.Dataset({rv.name: prior[rv.name] for rv in lcm.model.free_RVs})
    rebuilt = add_deterministics(free, config, lcm.data())
    for name in [d.name for d in lcm.model.deterministics]:
        np.testing.assert_allclose(
            rebuilt[name].transpose(*prior[name].dims).values, prior[name].values, rtol=1e-12
        )
    model = lcm.model
    potential = pytensor.function(model.free_RVs, model.potentials[0], on_unused_input="ignore")
    draw = prior.isel(draw=[0])
    want = potential(*[draw[rv.name].values[0, 0] for rv in model.free_RVs])
    got = pointwise_log_likelihood(draw, lcm.data(), config)["dlogc"]
    assert float(got.sum()) == pytest.approx(float(want), rel=1e-9, abs=1e-8)


def _reference_groups(
    draws: xr.Dataset, data: dict, config: LearningConfig, seed: int
) -> dict[str, np.ndarray]:
    """The plain NumPy expressions numpy_mirror computed the fit's groups with before its
    compiled pass (the reference its outputs must equal, bit for bit)."""

    def stacked(name: str) -> np.ndarray:
        return draws[name].stack(sample=("chain", "draw")).transpose("sample", ...).values

    s_idx, dtv = data["series_idx"], data["dt"]
    x = data["dlogq"]
    if config.level == "nation":
        lam = stacked("lambda_nation")[:, data["nation_of_series"][s_idx]]
        x = lam * data["dlogq"] + (1 - lam) * data["dlogq_world"]
    mu = np.zeros((stacked("sigma_all").shape[0], s_idx.size))
    if config.has_w:
        mu = mu - stacked("w_series")[:, s_idx] * x
    if config.has_m:
        mu = mu - stacked("m_series")[:, s_idx] * dtv
    sigma = stacked("sigma_series")
    scale = sigma[:, s_idx] * np.sqrt(dtv)
    r = data["dlogc"] - mu
    if config.ma1:
        e0 = (sigma * stacked("z_e0"))[:, s_idx]
        e = ma1_innovations(r, stacked("rho")[:, None], data["pos"], e0)
        carry = r - e
    else:
        e, carry = r, np.zeros_like(r)
    rng = np.random.default_rng(seed)
    if config.noise == "student_t":
        v = stacked("nu")[:, None]
        const = special.gammaln((v + 1) / 2) - special.gammaln(v / 2) - 0.5 * np.log(np.pi * v)
        ll = const - np.log(scale) - (v + 1) / 2 * np.log1p((e / scale) ** 2 / v)
        eps = rng.standard_t(np.broadcast_to(v, scale.shape)) * scale
    else:
        ll = -0.5 * (e / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
        eps = rng.standard_normal(scale.shape) * scale
    return {"mu": mu, "scale": scale, "e": e, "carry": carry, "loglik": ll,
            "predictive": mu + carry + eps}  # fmt: skip


@pytest.mark.parametrize(
    "config",
    [*CONFIGS, LearningConfig(trend="wright", noise="student_t", ma1=True),
     LearningConfig(trend="wright", noise="student_t", level="nation")],
    ids=lambda c: f"{c.name}_{c.level}",
)  # fmt: skip
def test_fit_groups_equal_the_plain_numpy_expressions(
    synthetic_panel, nation_panel, config
) -> None:
    panel = nation_panel if config.level == "nation" else synthetic_panel
    lcm = LearningCurveModel(panel, config)
    draws = lcm.prior_draws(7, seed=13)
    data = lcm.data()
    want = _reference_groups(draws, data, config, seed=99)
    parts = _obs_parts(draws, data, config, keys=PARTS)
    for key in ("mu", "scale", "e", "carry"):
        np.testing.assert_array_equal(parts[key], want[key], err_msg=key)
    np.testing.assert_array_equal(parts["loc"], want["mu"] + want["carry"])
    ll = pointwise_log_likelihood(draws, data, config)["dlogc"]
    assert ll.dims == ("chain", "draw", "obs")
    np.testing.assert_array_equal(ll.values.reshape(7, -1), want["loglik"])
    for given in (None, parts, {k: parts[k] for k in ("mu", "carry", "scale")}):
        pp = one_step_predictive(draws, data, config, seed=99, parts=given)["dlogc"]
        np.testing.assert_array_equal(pp.values.reshape(7, -1), want["predictive"])
    with pytest.raises(ValueError, match="unknown parts"):
        _obs_parts(draws, data, config, keys=("mu", "nope"))
