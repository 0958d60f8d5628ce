"""One fused PyTensor Op for the learning-curve likelihood: mean, MA(1) filter, noise density.

The learning-curve models (:mod:`.learning_model`) score each difference of log cost,
on the flat observation layout of a panel (series one after another, ``pos`` the 0-based
position of a point in its series, ``s`` its series)::

    e[i]  = dlogc[i] + w[s] * x[i] + m[s] * dt[i] + a * prev[i]
    prev[i] = e0[s] if pos[i] == 0 else e[i - 1]
    sc[i] = sigma[s] * sqrt(dt[i])
    loglik = sum_i mask[i] * k(e[i] / sc[i]) - mask[i] * log(sc[i])

i.e. ``dlogc = -w x - m dt + MA(1) noise`` with ``x`` the experience regressor (``dlog Q``, or
the nation model's mix of national and world experience), ``a = -rho`` (``a = 0`` and ``e0 = 0``
without MA(1); ``w = 0`` or ``m = 0`` for the time-only or Wright-only model) and ``k`` the
kernel of the noise: ``-z^2 / 2`` (Normal) or ``-(nu + 1) / 2 * log1p(z^2 / nu)`` (Student-t).
The normalising constants (``-log(2 pi) / 2`` or the log-gamma terms of nu) depend on nothing
per point, so the model adds them once, times the number of unmasked points.

Built from PyTensor's vectorised ops, this is a gather of the series parameters, a dozen passes
over the data with a temporary array each, their adjoints and a scatter back to the series.
Here one numba loop does the forward pass and a second, run backwards within each series,
returns every gradient at once (the Op's outputs are the log-likelihood and its gradients; the
pullback scales them by the cotangent), with one division and one logarithm per point.

``tests/lib/models/learning/test_learning_loglik_op.py`` checks values and gradients against
the plain PyTensor graph of the same formula (masks, gaps ``dt > 1``, both noises, with and
without MA(1)).
"""

from __future__ import annotations

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
    x: np.ndarray,
    dt: np.ndarray,
    pos: np.ndarray,
    sidx: np.ndarray,
    mask: np.ndarray,
    w: np.ndarray,
    m: np.ndarray,
    sigma: np.ndarray,
    a: float,
    e0: np.ndarray,
    nu: float,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, np.ndarray, float]:
    """Log-likelihood (without constants) and its gradients in ``x, w, m, sigma, a, e0, nu``."""
    n = dlogc.shape[0]
    ns = sigma.shape[0]
    e = np.empty(n)
    prev = 0.0
    for i in range(n):
        s = sidx[i]
        if pos[i] == 0:
            prev = e0[s]
        prev = dlogc[i] + w[s] * x[i] + m[s] * dt[i] + a * prev
        e[i] = prev
    inv_sigma = 1.0 / sigma
    count = np.zeros(ns)  # scored points per series (each contributes -log sigma)
    acc_sigma = np.zeros(ns)  # sigma * d/dsigma of the kernels
    g_x = np.empty(n)
    g_w = np.zeros(ns)
    g_m = np.zeros(ns)
    g_e0 = np.zeros(ns)
    g_a = 0.0
    g_nu = 0.0
    lp = 0.0
    inv_nu = 1.0 / nu
    nu1 = nu + 1.0
    carry = 0.0
    for i in range(n - 1, -1, -1):
        s = sidx[i]
        g = 0.0
        mk = mask[i]
        if mk != 0.0:
            isc = inv_sigma[s]
            if dt[i] != 1.0:
                isc = isc / math.sqrt(dt[i])
                lp -= mk * 0.5 * math.log(dt[i])
            count[s] += mk
            z = e[i] * isc
            if student:
                q = z * z * inv_nu
                l1 = math.log1p(q)
                r = 1.0 / (1.0 + q)
                lp -= mk * 0.5 * nu1 * l1
                g = -mk * nu1 * z * isc * inv_nu * r
                acc_sigma[s] += mk * (nu1 * q * r - 1.0)
                g_nu += mk * (-0.5 * l1 + 0.5 * nu1 * q * inv_nu * r)
            else:
                lp -= mk * 0.5 * z * z
                g = -mk * z * isc
                acc_sigma[s] += mk * (z * z - 1.0)
        # adjoint of the MA(1) recursion, never crossing a series boundary
        u = g + a * carry if i + 1 < n and pos[i + 1] > 0 else g
        carry = u
        g_x[i] = u * w[s]
        g_w[s] += u * x[i]
        g_m[s] += u * dt[i]
        if pos[i] == 0:
            g_a += u * e0[s]
            g_e0[s] += a * u
        else:
            g_a += u * e[i - 1]
    g_sigma = np.empty(ns)
    for s in range(ns):
        lp -= count[s] * math.log(sigma[s])
        g_sigma[s] = acc_sigma[s] * inv_sigma[s]
    return lp, g_x, g_w, g_m, g_sigma, g_a, g_e0, g_nu


_kernel_jit = numba_basic.numba_njit(_loglik_and_grads)

#: positions of the data inputs (no gradient) and of the parameters, in the Op's input order
_DATA = (0, 2, 3, 4, 5)  # dlogc, dt, pos, series_idx, mask
_N_OUT = 8  # loglik and the gradients in x, w, m, sigma, a, e0, nu


class LearningLogLik(Op):
    """``LearningLogLik(noise)(dlogc, x, dt, pos, series_idx, mask, w, m, sigma, a, e0, nu)``.

    Outputs ``(loglik, d/dx, d/dw, d/dm, d/dsigma, d/da, d/de0, d/dnu)``; use the first (the
    rest feed the pullback). ``noise`` is ``"normal"`` (``nu`` ignored) or ``"student_t"``.
    ``x`` and the data are per point; ``w``, ``m``, ``sigma`` and ``e0`` per series; ``a`` and
    ``nu`` scalars.
    """

    __props__ = ("noise",)

    def __init__(self, noise: str) -> None:
        if noise not in ("normal", "student_t"):
            raise ModelError(f"unknown noise {noise!r}")
        self.noise = noise
        super().__init__()

    def make_node(self, dlogc, x, dt, pos, sidx, mask, w, m, sigma, a, e0, nu) -> Apply:  # type: ignore[override]
        raw = (dlogc, x, dt, pos, sidx, mask, w, m, sigma, a, e0, nu)
        inputs = [
            pt.as_tensor_variable(v).astype("int64" if k in (3, 4) else "float64")
            for k, v in enumerate(raw)
        ]
        scalar = pt.dscalar()
        vec = inputs[1].type  # per point
        ser = inputs[8].type  # per series
        outputs = [scalar.type(), vec(), ser(), ser(), ser(), scalar.type(), ser(), scalar.type()]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage) -> None:  # type: ignore[override]
        dlogc, x, dt, pos, sidx, mask, w, m, sigma, a, e0, nu = inputs
        res = _loglik_and_grads(
            self.noise == "student_t", dlogc, x, dt, pos, sidx, mask, w, m, sigma, float(a), e0,
            float(nu),
        )  # fmt: skip
        for k, v in enumerate(res):
            output_storage[k][0] = np.asarray(v, dtype="float64")

    def connection_pattern(self, node):  # type: ignore[override]
        # data inputs carry no gradient; the gradient outputs do depend on the parameters (the
        # pullback refuses to differentiate them)
        return [[k not in _DATA] * _N_OUT for k in range(12)]

    def pullback(self, inputs, outputs, cotangents):  # type: ignore[override]
        from pytensor.gradient import DisconnectedType, disconnected_type

        for c in cotangents[1:]:
            if not isinstance(c.type, DisconnectedType):
                raise ModelError("LearningLogLik: only the log-likelihood output is differentiable")
        c = cotangents[0]
        _lp, g_x, g_w, g_m, g_sigma, g_a, g_e0, g_nu = outputs
        d = disconnected_type
        return [d(), c * g_x, d(), d(), d(), d(), c * g_w, c * g_m, c * g_sigma, c * g_a,
                c * g_e0, c * g_nu]  # fmt: skip


@register_funcify_default_op_cache_key(LearningLogLik)
def _numba_learning_loglik(op, node, **kwargs):
    student = op.noise == "student_t"

    @numba_basic.numba_njit
    def fused_loglik(dlogc, x, dt, pos, sidx, mask, w, m, sigma, a, e0, nu):
        lp, g_x, g_w, g_m, g_sigma, g_a, g_e0, g_nu = _kernel_jit(
            student, dlogc, x, dt, pos, sidx, mask, w, m, sigma, a.item(), e0, nu.item()
        )
        return (np.asarray(lp), g_x, g_w, g_m, g_sigma, np.asarray(g_a), g_e0,
                np.asarray(g_nu))  # fmt: skip

    return fused_loglik


def learning_loglik(
    noise: str,
    dlogc: pt.TensorLike,
    x: pt.TensorLike,
    dt: pt.TensorLike,
    pos: pt.TensorLike,
    series_idx: pt.TensorLike,
    mask: pt.TensorLike,
    w: pt.TensorLike,
    m: pt.TensorLike,
    sigma: pt.TensorLike,
    a: pt.TensorLike,
    e0: pt.TensorLike,
    nu: pt.TensorLike,
) -> pt.TensorVariable:
    """The summed log-likelihood of a panel without its constants (see the module docstring).

    Args:
        noise: ``"normal"`` or ``"student_t"``.
        dlogc, x, dt, pos, series_idx, mask: per difference (log cost change, experience
            regressor such as dlog Q, years spanned, position in its series, series index,
            0/1 weight).
        w, m: experience exponent and time trend (log cost per year) per series; zeros for a
            model without that term.
        sigma: noise scale per series (log cost per sqrt(year)).
        a: MA(1) coefficient ``-rho`` (0 without MA(1)).
        e0: pre-sample shock per series (zeros without MA(1)).
        nu: Student-t degrees of freedom (any value for ``"normal"``).
    """
    op = LearningLogLik(noise)
    return op(dlogc, x, dt, pos, series_idx, mask, w, m, sigma, a, e0, nu)[0]
