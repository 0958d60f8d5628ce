"""The fused likelihood Op (lib/models/loglik_op.py) against an independent dense formulation.

The reference builds the MA(1) innovations by solving the bidiagonal system
``(I - a S) e = r + a E0`` (``S`` shifts by one point within a series, ``E0`` holds each
series' pre-sample shock at its first point) with PyTensor's linear algebra, so neither the
recursion nor its adjoint is shared with the Op; PyTensor differentiates the reference.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.learning.loglik_op import LearningLogLik, learning_loglik

LENGTHS = [5, 1, 17, 30, 3]


def _layout(seed: int = 4):
    rng = np.random.default_rng(seed)
    series = np.repeat(np.arange(len(LENGTHS)), LENGTHS)
    pos = np.concatenate([np.arange(k) for k in LENGTHS])
    n = series.size
    dt = rng.choice([1.0, 1.0, 1.0, 2.0, 5.0], n)
    mask = (rng.random(n) > 0.25).astype(float)
    mask[-3:] = 0.0  # a masked tail, as in a hindcast training view
    dlogc = 0.1 * rng.standard_normal(n)
    values = {
        "mu": 0.05 * rng.standard_normal(n),
        "sigma": 0.05 + 0.2 * rng.random(len(LENGTHS)),
        "a": -0.35,
        "e0": 0.1 * rng.standard_normal(len(LENGTHS)),
        "nu": 3.2,
    }
    return series, pos, dt, mask, dlogc, values


def _reference(noise, dlogc, mu, dt, pos, series, mask, sigma, a, e0, nu):
    n = series.size
    shift = np.zeros((n, n))
    for i in range(1, n):
        if pos[i] > 0:
            shift[i, i - 1] = 1.0
    starts = (pos == 0).astype(float)
    rhs = dlogc - mu + a * starts * e0[series]
    e = pt.linalg.solve(pt.eye(n) - a * shift, rhs)
    sc = sigma[series] * np.sqrt(dt)
    z = e / sc
    if noise == "normal":
        lp = -0.5 * z**2 - pt.log(sc)
    else:
        lp = -pt.log(sc) - (nu + 1.0) / 2.0 * pt.log1p(z**2 / nu)
    return pt.sum(mask * lp)


@pytest.mark.parametrize("mode", ["FAST_RUN", "NUMBA"])
@pytest.mark.parametrize("noise", ["normal", "student_t"])
@pytest.mark.parametrize("ma1", [True, False])
def test_values_and_gradients_match_the_dense_reference(mode, noise, ma1) -> None:
    series, pos, dt, mask, dlogc, values = _layout()
    mu, sigma, e0 = pt.dvector("mu"), pt.dvector("sigma"), pt.dvector("e0")
    a, nu = pt.dscalar("a"), pt.dscalar("nu")
    inputs = [mu, sigma, a, e0, nu]
    ours = learning_loglik(noise, dlogc, mu, dt, pos, series, mask, sigma, a, e0, nu)
    ref = _reference(noise, dlogc, mu, dt, pos, series, mask, sigma, a, e0, nu)
    kw = {"mode": mode, "on_unused_input": "ignore"}
    f_ours = pytensor.function(
        inputs, [ours, *pt.grad(ours, inputs, disconnected_inputs="ignore")], **kw
    )
    f_ref = pytensor.function(
        inputs, [ref, *pt.grad(ref, inputs, disconnected_inputs="ignore")], **kw
    )
    point = dict(values)
    if not ma1:
        point["a"], point["e0"] = 0.0, np.zeros_like(values["e0"])
    args = [point[k] for k in ("mu", "sigma", "a", "e0", "nu")]
    got, want = f_ours(*args), f_ref(*args)
    names = ["loglik", "d_mu", "d_sigma", "d_a", "d_e0", "d_nu"]
    for name, g, w in zip(names, got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10, err_msg=name)
    # real values, not zeros: the masked tail (no later point of its series is scored) and the
    # Normal's nu carry no gradient; every scored point does
    assert np.all(got[1][-3:] == 0.0) and np.all(got[1][mask > 0.0] != 0.0)
    assert (got[5] != 0.0) == (noise == "student_t")
    # e0 only matters through MA(1)
    assert np.any(got[4] != 0.0) == ma1


def test_the_log_likelihood_is_the_sum_of_the_scipy_densities() -> None:
    """With a = 0 the kernel plus the constants is the sum of scipy.stats log densities."""
    from scipy import stats
    from scipy.special import gammaln

    series, pos, dt, mask, dlogc, v = _layout(seed=9)
    sc = v["sigma"][series] * np.sqrt(dt)
    resid = dlogc - v["mu"]
    zeros = np.zeros_like(v["e0"])
    for noise, dens in (
        ("normal", stats.norm.logpdf(resid, scale=sc)),
        ("student_t", stats.t.logpdf(resid, df=v["nu"], scale=sc)),
    ):
        kernel = learning_loglik(noise, dlogc, v["mu"], dt, pos, series, mask, v["sigma"], 0.0,
                                 zeros, v["nu"]).eval()  # fmt: skip
        nu = v["nu"]
        const = (
            -0.5 * np.log(2 * np.pi)
            if noise == "normal"
            else gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(np.pi * nu)
        )
        assert kernel + const * mask.sum() == pytest.approx(float(np.sum(mask * dens)), rel=1e-12)


def test_only_the_log_likelihood_output_is_differentiable() -> None:
    series, pos, dt, mask, dlogc, v = _layout()
    mu = pt.dvector("mu")
    outs = LearningLogLik("normal")(
        dlogc, mu, dt, pos, series, mask, v["sigma"], -0.2, v["e0"], 1.0
    )
    with pytest.raises(ModelError, match="only the log-likelihood"):
        pt.grad(pt.sum(outs[1]), mu)
    with pytest.raises(ModelError, match="unknown noise"):
        LearningLogLik("laplace")
