"""PSIS-LOO of all observations at once (lib/models/psis.py) against arviz_stats.loo: normal
and heavy-tailed log-likelihoods (Pareto k above 0.7), repeated draws (ties inside the
smoothed tail and across its cutoff), discrete log-likelihoods (no Pareto fit), short chains
(the S / 5 tail), one chain (r_eff = 1) and more observations than one block."""

from __future__ import annotations

import warnings

import arviz_stats as azs
import numpy as np
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import psis


def _tree(log_lik: np.ndarray, seed: int = 0) -> xr.DataTree:
    """A fit with a (chain, draw, obs) log-likelihood and a small AR(1) posterior."""
    chains, draws, _ = log_lik.shape
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((chains, draws, 3)).cumsum(axis=1) * 0.05
    theta += rng.standard_normal((chains, draws, 3))
    return xr.DataTree.from_dict(
        {
            "posterior": xr.Dataset(
                {"theta": (("chain", "draw", "k"), theta), "mu": (("chain", "draw"), theta[..., 0])}
            ),
            "log_likelihood": xr.Dataset({"y": (("chain", "draw", "obs"), log_lik)}),
        }
    )


def _log_lik(chains: int, draws: int, n_obs: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal((chains, draws, 1)) * 0.3
    sd = np.exp(rng.standard_normal((chains, draws, 1)) * 0.1)
    y = rng.standard_normal(n_obs) * 1.2
    y[:3] = [6.0, -7.5, 9.0]  # outliers: heavy-tailed importance ratios
    ll = -0.5 * ((y - mu) / sd) ** 2 - np.log(sd) - 0.5 * np.log(2 * np.pi)
    ll[..., 3] = np.round(ll[..., 3], 2)  # coarse values: ties everywhere in the tail
    # three values: most of the tail sits at the cutoff, so no Pareto fit (k NaN)
    discrete = np.full(chains * draws, -1.0)
    discrete[::25], discrete[12::25] = -3.0, -2.5
    ll[..., 4] = discrete.reshape(chains, draws)
    # repeated draws (a sampler staying put): equal rows across draws, ties in every column
    ll[:, 10:20] = ll[:, 9:10]
    ll[:, -5:] = ll[:, -6:-5]
    return ll


def _arviz(dt: xr.DataTree) -> tuple[np.ndarray, np.ndarray]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = azs.loo(dt, pointwise=True, var_name="y")
    return res.elpd_i.values.ravel(), res.pareto_k.values.ravel()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(
    ("chains", "draws", "n_obs"), [(4, 500, 70), (2, 1001, 12), (1, 800, 9), (2, 60, 8)]
)
def test_loo_equals_arviz(chains: int, draws: int, n_obs: int) -> None:
    ll = _log_lik(chains, draws, n_obs)
    dt = _tree(ll)
    elpd_i, k, lppd_i = psis.loo_pointwise(dt, "y")
    want_elpd, want_k = _arviz(dt)
    np.testing.assert_allclose(elpd_i, want_elpd, rtol=1e-12)
    np.testing.assert_allclose(k, want_k, rtol=1e-12)
    flat = np.moveaxis(ll, -1, 0).reshape(n_obs, -1)
    np.testing.assert_array_equal(
        lppd_i, np.logaddexp.reduce(flat, axis=-1) - np.log(flat.shape[1])
    )
    assert np.isnan(k[4])  # the first quartile of the tail is its minimum
    assert k[:3].max() > 0.7


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_log_weights_equal_arviz() -> None:
    ll = _log_lik(2, 700, 6)
    dt = _tree(ll)
    r_eff = psis.relative_eff(dt.posterior.to_dataset(), 1400)
    want_w, want_k = dt.log_likelihood["y"].azstats.psislw(r_eff=r_eff, dim=["chain", "draw"])
    got_w, got_k = psis.psis_log_weights(np.moveaxis(ll, -1, 0).reshape(6, -1), r_eff)
    np.testing.assert_allclose(got_w, want_w.values.reshape(6, -1), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got_k, want_k.values, rtol=1e-12)


def test_relative_eff_and_tail_length() -> None:
    dt = _tree(_log_lik(3, 400, 5))
    post = dt.posterior.to_dataset()
    ess = azs.ess(post, sample_dims=["chain", "draw"], method="mean")
    want = np.hstack([ess[v].values.ravel() for v in ess.data_vars]).mean() / 1200
    assert psis.relative_eff(post, 1200) == pytest.approx(want, rel=1e-12)
    assert psis.relative_eff(post.isel(chain=[0]), 400) == 1.0
    assert psis.tail_length(12000, 1.0) == np.floor(3 * np.sqrt(12000))
    assert psis.tail_length(200, 1.0) == 40.0  # S r_eff <= 225: S / 5


def test_constant_tail_and_missing_group_raise() -> None:
    ll = _log_lik(2, 300, 6)
    ll[..., 1] = -1.0
    with pytest.raises(ModelError, match="tail values"):
        psis.loo_pointwise(_tree(ll), "y")
    with pytest.raises(ModelError, match="log_likelihood"):
        psis.loo_pointwise(_tree(ll), "z")
