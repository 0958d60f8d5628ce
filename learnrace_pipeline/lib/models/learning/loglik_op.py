"""One fused PyTensor Op for the learning-curve likelihood: MA(1) filter plus noise density.

The learning-curve models (:mod:`.model`) score each difference of log cost,
on the flat observation layout of a panel (series one after another, ``pos`` the 0-based
position of a point in its series, ``s`` its series)::

    e[i]  = dlogc[i] - mu[i] + a * prev[i],  prev[i] = e0[s] if pos[i] == 0 else e[i - 1]
    sc[i] = sigma[s] * sqrt(dt[i])
    loglik = sum_i mask[i] * k(e[i] / sc[i]) - mask[i] * log(sc[i])

with ``a = -rho`` (``a = 0`` and ``e0 = 0`` without MA(1)) and ``k`` the kernel of the noise:
``-z^2 / 2`` (Normal) or ``-(nu + 1) / 2 * log1p(z^2 / nu)`` (Student-t). The normalising
constants (``-log(2 pi) / 2`` or the log-gamma terms of nu) depend on nothing per point, so
the model adds them once, times the number of unmasked points.

Built from PyTensor's vectorised ops, this is a dozen passes over the data with a temporary
array each, plus their adjoints. Here one numba loop does the forward pass and a second, run
backwards within each series, returns every gradient at the same time (the Op's outputs are
the log-likelihood and its gradients; the pullback scales them by the cotangent). The mean
``mu`` is an input, computed in the PyTensor graph (see
docs/decisions/2026-11-28-fused-ma1-likelihood-op.md for the measured gain and the variant that
folded it into the kernel).

``tests/lib/models/learning/test_learning_loglik_op.py`` checks values and gradients against
the plain PyTensor graph of the same formula (masks, gaps ``dt > 1``, both noises, with and
without MA(1)).
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math

import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.link.numba.dispatch import basic as numba_basic
from pytensor.link.numba.dispatch.basic import register_funcify_default_op_cache_key

from learnrace_pipeline.lib.errors import ModelError


def _loglik_and_grads(
    student: bool,
    dlogc: np.ndarray,
    mu: np.ndarray,
    dt: np.ndarray,
    pos: np.ndarray,
    sidx: np.ndarray,
    mask: np.ndarray,
    sigma: np.ndarray,
    a: float,
    e0: np.ndarray,
    nu: float,
) -> tuple[float, np.ndarray, np.ndarray, float, np.ndarray, float]:
    """Log-likelihood (without constants) and its gradients in ``mu, sigma, a, e0, nu``."""
    n = dlogc.shape[0]
    ns = sigma.shape[0]
    e = np.empty(n)
    prev = 0.0
    for i in range(n):
        if pos[i] == 0:
            prev = e0[sidx[i]]
        e[i] = dlogc[i] - mu[i] + a * prev
        prev = e[i]
    g_mu = np.zeros(n)
    g_sigma = np.zeros(ns)
    g_e0 = np.zeros(ns)
    log_sigma = np.log(sigma)
    g_a = 0.0
    g_nu = 0.0
    lp = 0.0
    half = 0.5 * (nu + 1.0)
    carry = 0.0
    for i in range(n - 1, -1, -1):
        s = sidx[i]
        g = 0.0
        m = mask[i]
        if m != 0.0:
            sc = sigma[s]
            log_sc = log_sigma[s]
            if dt[i] != 1.0:
                sc = sc * math.sqrt(dt[i])
                log_sc = log_sc + 0.5 * math.log(dt[i])
            z = e[i] / sc
            if student:
                q = z * z / nu
                l1 = math.log1p(q)
                lp += m * (-log_sc - half * l1)
                g = -m * (nu + 1.0) * z / (sc * nu * (1.0 + q))
                g_sigma[s] += m * ((nu + 1.0) * q / (1.0 + q) - 1.0) / sigma[s]
                g_nu += m * (-0.5 * l1 + half * q / (nu * (1.0 + q)))
            else:
                lp += m * (-log_sc - 0.5 * z * z)
                g = -m * z / sc
                g_sigma[s] += m * (z * z - 1.0) / sigma[s]
        # adjoint of the MA(1) recursion, never crossing a series boundary
        u = g + a * carry if i + 1 < n and pos[i + 1] > 0 else g
        carry = u
        g_mu[i] = -u
        if pos[i] == 0:
            g_a += u * e0[s]
            g_e0[s] += a * u
        else:
            g_a += u * e[i - 1]
    return lp, g_mu, g_sigma, g_a, g_e0, g_nu


_kernel_jit = numba_basic.numba_njit(_loglik_and_grads)


class LearningLogLik(Op):
    """``LearningLogLik(noise)(dlogc, mu, dt, pos, series_idx, mask, sigma, a, e0, nu)``.

    Outputs ``(loglik, d/dmu, d/dsigma, d/da, d/de0, d/dnu)``; use the first (the rest feed
    the pullback). ``noise`` is ``"normal"`` (``nu`` ignored) or ``"student_t"``. ``mu`` and
    the data are per point; ``sigma`` and ``e0`` per series; ``a`` and ``nu`` scalars.
    """

    __props__ = ("noise",)

    def __init__(self, noise: str) -> None:
        if noise not in ("normal", "student_t"):
            raise ModelError(f"unknown noise {noise!r}")
        self.noise = noise
        super().__init__()

    def make_node(self, dlogc, mu, dt, pos, sidx, mask, sigma, a, e0, nu) -> Apply:  # type: ignore[override]
        f64 = [pt.as_tensor_variable(v).astype("float64") for v in (dlogc, mu, dt)]
        ints = [pt.as_tensor_variable(v).astype("int64") for v in (pos, sidx)]
        rest = [pt.as_tensor_variable(v).astype("float64") for v in (mask, sigma, a, e0, nu)]
        inputs = [*f64, *ints, *rest]
        scalar = pt.dscalar()
        outputs = [scalar.type(), f64[1].type(), rest[1].type(), scalar.type(), rest[3].type(),
                   scalar.type()]  # fmt: skip
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage) -> None:  # type: ignore[override]
        dlogc, mu, dt, pos, sidx, mask, sigma, a, e0, nu = inputs
        res = _loglik_and_grads(
            self.noise == "student_t", dlogc, mu, dt, pos, sidx, mask, sigma, float(a), e0,
            float(nu),
        )  # fmt: skip
        for k, v in enumerate(res):
            output_storage[k][0] = np.asarray(v, dtype="float64")

    def connection_pattern(self, node):  # type: ignore[override]
        # data inputs (dlogc, dt, pos, series_idx, mask) carry no gradient; the gradient
        # outputs do depend on the parameters (the pullback refuses to differentiate them)
        data = {0, 2, 3, 4, 5}
        return [[k not in data] * 6 for k in range(10)]

    def pullback(self, inputs, outputs, cotangents):  # type: ignore[override]
        from pytensor.gradient import DisconnectedType, disconnected_type

        for c in cotangents[1:]:
            if not isinstance(c.type, DisconnectedType):
                raise ModelError("LearningLogLik: only the log-likelihood output is differentiable")
        c = cotangents[0]
        _lp, g_mu, g_sigma, g_a, g_e0, g_nu = outputs
        d = disconnected_type
        return [d(), c * g_mu, d(), d(), d(), d(), c * g_sigma, c * g_a, c * g_e0, c * g_nu]


@functools.cache
def _source_salt() -> int:
    """A number that changes whenever the kernel or its numba wrapper is edited.

    PyTensor caches numba-compiled Ops on disk under a key made of the Op class and its props
    only; without this salt an edited kernel with the same props could be served from a stale
    cache entry (another signature, another arity).
    """
    text = inspect.getsource(_loglik_and_grads) + inspect.getsource(_numba_learning_loglik)
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


@register_funcify_default_op_cache_key(LearningLogLik)
def _numba_learning_loglik(op, node, **kwargs):
    student = op.noise == "student_t"

    @numba_basic.numba_njit
    def learning_loglik(dlogc, mu, dt, pos, sidx, mask, sigma, a, e0, nu):
        lp, g_mu, g_sigma, g_a, g_e0, g_nu = _kernel_jit(
            student, dlogc, mu, dt, pos, sidx, mask, sigma, a.item(), e0, nu.item()
        )
        return np.asarray(lp), g_mu, g_sigma, np.asarray(g_a), g_e0, np.asarray(g_nu)

    return learning_loglik, _source_salt()


def learning_loglik(
    noise: str,
    dlogc: pt.TensorLike,
    mu: pt.TensorLike,
    dt: pt.TensorLike,
    pos: pt.TensorLike,
    series_idx: pt.TensorLike,
    mask: pt.TensorLike,
    sigma: pt.TensorLike,
    a: pt.TensorLike,
    e0: pt.TensorLike,
    nu: pt.TensorLike,
) -> pt.TensorVariable:
    """The summed log-likelihood of a panel without its constants (see the module docstring).

    Args:
        noise: ``"normal"`` or ``"student_t"``.
        dlogc, mu, dt, pos, series_idx, mask: per difference (log cost change, its mean, years
            spanned, position in its series, series index, 0/1 weight).
        sigma: noise scale per series (log cost per sqrt(year)).
        a: MA(1) coefficient ``-rho`` (0 without MA(1)).
        e0: pre-sample shock per series (zeros without MA(1)).
        nu: Student-t degrees of freedom (any value for ``"normal"``).
    """
    return LearningLogLik(noise)(dlogc, mu, dt, pos, series_idx, mask, sigma, a, e0, nu)[0]
