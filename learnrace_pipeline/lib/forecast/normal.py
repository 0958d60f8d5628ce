"""The normal-noise update of the pooled-prior forecaster (:mod:`.forecaster`), exact and conjugate.

For one block of series sharing a prior, :func:`normal_block` returns samples of each series'
Wright exponent ``w`` and of its cumulative future noise (log cost), following steps 1-4 of
:mod:`.forecaster`: the sufficient statistics ``X'S^-1 X``, ``X'S^-1 r``, ``r'S^-1 r`` and
``log|S|`` of the MA(1) covariance from one LDL' recursion per prior draw
(:class:`SufficientStats`), ``log sigma`` on a grid (:func:`sigma_grid`, log cost per
sqrt(year)), ``w`` integrated analytically, stratified draws of (prior draw, grid node)
(:func:`stratified_choice`, shared with the Student-t path of :mod:`.student_t`), and the
MA(1) carry from the last observed innovation.
"""

from __future__ import annotations

import numpy as np

from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.streams import SeriesStreams, noise_streams
from learnrace_pipeline.lib.forecast.types import ForecastConfig


class SufficientStats:
    """Sufficient statistics of the differences of a block of series, per prior draw."""

    def __init__(
        self, dy: np.ndarray, dxw: np.ndarray, dt: np.ndarray, valid: np.ndarray, rho: np.ndarray
    ) -> None:
        # dy, dxw (= -dlogq), dt, valid: (n, L) right-aligned; rho: (S,)
        n, length = dy.shape
        s = rho.size
        r = rho[None, :]
        a = np.zeros((n, s))
        b = np.zeros((n, s))
        c = np.zeros((n, s))
        logdet = np.zeros((n, s))
        d_prev = np.ones((n, s))
        zy_prev = np.zeros((n, s))
        zx_prev = np.zeros((n, s))
        dt_prev = np.ones((n, 1))
        valid_prev = np.zeros((n, 1), dtype=bool)
        for t in range(length):
            v = valid[:, t : t + 1]
            dtt = dt[:, t : t + 1]
            # first real difference: the pre-sample shock has dt 1 and no coupling term
            dtp = np.where(valid_prev, dt_prev, 1.0)
            diag = np.where(v, dtt + r**2 * dtp, 1.0)
            off = np.where(v & valid_prev, r * dtp, 0.0)
            ell = off / d_prev
            d = diag - off * ell
            zy = np.where(v, dy[:, t : t + 1], 0.0) - ell * zy_prev
            zx = np.where(v, dxw[:, t : t + 1], 0.0) - ell * zx_prev
            a += zx * zx / d
            b += zx * zy / d
            c += zy * zy / d
            logdet += np.log(d)
            d_prev, zy_prev, zx_prev = d, zy, zx
            dt_prev = np.where(v, dtt, dt_prev)
            valid_prev = v | valid_prev
        self.a, self.b, self.c, self.logdet = a, b, c, logdet
        self.zy_last, self.zx_last, self.d_last = zy_prev, zx_prev, d_prev
        self.dt_last = dt_prev[:, 0]
        self.n = valid.sum(axis=1).astype(float)


def sigma_grid(prior: PopulationPrior, nodes: int) -> tuple[np.ndarray, float]:
    """``nodes`` equally spaced values of log sigma spanning +-4.5 prior sd of every draw, and
    their spacing."""
    lo = float(np.min(prior.log_sigma_mu - 4.5 * prior.log_sigma_sd))
    hi = float(np.max(prior.log_sigma_mu + 4.5 * prior.log_sigma_sd))
    grid = np.linspace(lo, hi, nodes)
    return grid, float(grid[1] - grid[0]) if nodes > 1 else 0.0


def stratified_choice(
    logw: np.ndarray, k: int, rng: np.random.Generator | SeriesStreams
) -> np.ndarray:
    """Stratified draws of flat indices from per-row log weights ``(n, M)`` -> ``(n, k)``."""
    n, m = logw.shape
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    cdf = np.cumsum(w, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    u = (np.arange(k)[None, :] + rng.random((n, k))) / k
    offsets = np.arange(n)[:, None]
    flat = (cdf + offsets * 2.0).ravel()
    pos = np.searchsorted(flat, (u + offsets * 2.0).ravel(), side="left")
    idx = pos.reshape(n, k) - offsets * m
    return np.clip(idx, 0, m - 1)


def normal_block(
    obs_blk: dict[str, np.ndarray],
    prior: PopulationPrior,
    grid: np.ndarray,
    spacing: float,
    h_max: int,
    cfg: ForecastConfig,
    rng: np.random.Generator | SeriesStreams,
) -> tuple[np.ndarray, np.ndarray]:
    """Normal innovations (conjugate in ``w``): exponent samples ``(n, K)`` and cumulative
    noise ``(n, K, h_max)``."""
    k_samples = cfg.n_samples
    st = SufficientStats(obs_blk["dy"], obs_blk["dxw"], obs_blk["dt"], obs_blk["valid"], prior.rho)
    n = st.a.shape[0]
    mu, tau2 = prior.w_mu[None, :, None], (prior.w_sd**2)[None, :, None]
    a, b, c = st.a[..., None], st.b[..., None], st.c[..., None]
    point_sigma = bool(np.all(prior.log_sigma_sd == 0))
    if point_sigma:
        lsig = prior.log_sigma_mu[None, :, None]  # (1, S, 1)
        log_prior = np.zeros((1, prior.n_draws, 1))
    else:
        lsig = grid[None, None, :]
        z = (lsig - prior.log_sigma_mu[None, :, None]) / prior.log_sigma_sd[None, :, None]
        log_prior = -0.5 * z**2 - np.log(prior.log_sigma_sd)[None, :, None]
    s2 = np.exp(2 * lsig)
    b0 = b - mu * a
    c0 = c - 2 * mu * b + mu**2 * a
    den = s2 + tau2 * a
    nn = st.n[:, None, None]
    loglik = -0.5 * (
        nn * (np.log(2 * np.pi) + np.log(s2))
        + st.logdet[..., None]
        + np.log(den / s2)
        + c0 / s2
        - tau2 * b0**2 / (s2 * den)
    )
    logw = np.broadcast_to(log_prior + loglik, (n, prior.n_draws, lsig.shape[-1]))
    n_nodes = logw.shape[-1]
    flat = stratified_choice(logw.reshape(n, -1), k_samples, rng)
    s_idx, g_idx = np.divmod(flat, n_nodes)
    rows = np.arange(n)[:, None]
    den_k = np.broadcast_to(den, logw.shape)[rows, s_idx, g_idx]
    s2_k = np.broadcast_to(s2, (1, prior.n_draws, n_nodes))[0, s_idx, g_idx]
    b0_k = b0[rows, s_idx, 0]
    w_mean = prior.w_mu[s_idx] + prior.w_sd[s_idx] ** 2 * b0_k / den_k
    w_var = prior.w_sd[s_idx] ** 2 * s2_k / den_k
    w = w_mean + np.sqrt(w_var) * rng.standard_normal((n, k_samples))
    if point_sigma:
        sigma = np.sqrt(s2_k)
    else:
        sigma = np.sqrt(s2_k) * np.exp(spacing * (rng.random((n, k_samples)) - 0.5))
    rho = prior.rho[s_idx]
    # last observed innovation (in units of sigma) and its LDL pivot
    eps = (st.zy_last[rows, s_idx] - w * st.zx_last[rows, s_idx]) / sigma
    d_prev = st.d_last[rows, s_idx]
    dt_prev = st.dt_last[:, None]
    cum = np.empty((h_max, n, k_samples))  # year-major: each year's write is contiguous
    total = np.zeros((n, k_samples))
    noise = noise_streams(rng)
    for j in range(h_max):
        off = rho * dt_prev
        diag = 1.0 + rho**2 * dt_prev
        ell = off / d_prev
        d = diag - off * ell
        e_new = np.sqrt(d) * noise.standard_normal((n, k_samples))
        total = total + sigma * (ell * eps + e_new)
        cum[j] = total
        eps, d_prev, dt_prev = e_new, d, 1.0
    return w, cum.transpose(1, 2, 0)  # (n, K, h_max) view
