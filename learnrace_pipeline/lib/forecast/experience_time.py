"""The experience+time update of the pooled-prior forecaster: a per-series grid posterior of
``(w, m, log sigma)``.

Model of one series (the pooled experience+time model of
:mod:`learnrace_pipeline.lib.models.learning`, ``trend="both"``, Student-t or normal MA(1)
noise), on the first differences between consecutive observed years ``t`` (``dt`` years apart)::

    dlogc[t] = -w * dlogq[t] - m * dt[t] + e[t] + rho * e[t-1],
    e[t] = sigma * sqrt(dt[t]) * T_nu      (normal for nu = inf)

``w`` is the Wright exponent (unit-free), ``m`` the time drift (log unit cost lost per year
besides experience), ``sigma`` the scale of log-cost innovations per year. For a steadily
growing series ``dlogq`` is nearly proportional to ``dt``, so the series' own data fix only the
drift along its path, ``m + g w``; what splits it into ``w`` and ``m`` is the population prior of
the pooled fit (:class:`~.priors.PopulationPrior` with ``m_mu``/``m_sd``), in which ``m`` is
shrunk hard (``tau_m`` is a few hundredths per year).

Posterior of a user's series, with no model built per series and no MCMC (as in
:mod:`.student_t`, one more coordinate):

1. ``rho`` and ``nu`` take their medians over the prior draws; the innovations are then linear
   in the slopes, ``e = A - w B - m C``, with ``A``, ``B``, ``C`` the MA(1) filters of
   ``dlogc``, ``-dlogq`` and ``-dt``.
2. ``(w, m, log sigma)`` is evaluated on a grid per series (``COARSE_GRID``, then
   ``GRID_W x GRID_M x GRID_SIGMA``); the
   prior density is the mixture over population draws ``s`` of
   ``N(w; w_mu[s], w_sd[s]) N(m; m_mu[s], m_sd[s]) N(log sigma; log_sigma_mu[s],
   log_sigma_sd[s])``. A first grid is centred on the normal (least-squares + prior)
   approximation; a second spans the first one's posterior mean +- 6 sd per coordinate.
3. ``n_samples`` cells are drawn (stratified) in proportion to prior x likelihood and jittered
   uniformly within the cell.
4. Future innovations are Student-t (or normal) with ``(rho, nu)`` of a random population draw,
   carried from the last observed innovation.

The forecast of log cost ``h`` years after the last observation is then
``y_T - w (log Q_{T+h} - log Q_T) - m h + noise``; :func:`decline_parts` splits its
deterministic decline into experience (``w dlog Q``) and time (``m h``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from learnrace_pipeline.lib.forecast.normal import stratified_choice
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.streams import SeriesStreams, noise_streams, rows_of
from learnrace_pipeline.lib.forecast.student_t import (
    centred_grid,
    innovation_paths,
    log_normal_rows,
    ma1_filter,
)
from learnrace_pipeline.lib.forecast.types import ForecastConfig

#: nodes per coordinate (w, m, log sigma) of the first grid, which only locates the posterior
COARSE_GRID = (16, 8, 12)
#: nodes per coordinate of the second grid, from which samples are drawn
GRID_W, GRID_M, GRID_SIGMA = 28, 14, 20
#: series per vectorised grid evaluation (memory ~ chunk x W x M x L x differences floats)
GRID_CHUNK = 4


def _log_prior(w: np.ndarray, m: np.ndarray, ls: np.ndarray, prior: PopulationPrior) -> np.ndarray:
    """log of the mixture prior density on the grid: ``w`` ``(n, W)``, ``m`` ``(n, M)``, ``ls``
    ``(n, L)`` -> ``(n, W, M, L)``."""
    lw = log_normal_rows(w, prior.w_mu, prior.w_sd)  # (n, W, S)
    lm = log_normal_rows(m, prior.m_mu, prior.m_sd)  # (n, M, S)
    sd_l = (
        np.full_like(prior.log_sigma_mu, 1e-3)
        if np.all(prior.log_sigma_sd == 0)
        else prior.log_sigma_sd
    )
    ll = log_normal_rows(ls, prior.log_sigma_mu, sd_l)  # (n, L, S)
    mw, mm, ml = (a.max(axis=2, keepdims=True) for a in (lw, lm, ll))
    # sum over the draws s: the (w, m) factors multiplied out, then a batched matrix product
    # (n, W * M, S) @ (n, S, L)
    n, n_w, n_m = w.shape[0], w.shape[1], m.shape[1]
    wm = (np.exp(lw - mw)[:, :, None, :] * np.exp(lm - mm)[:, None, :, :]).reshape(n, n_w * n_m, -1)
    el = np.ascontiguousarray(np.exp(ll - ml).transpose(0, 2, 1))  # contiguous: BLAS
    mix = (np.matmul(wm, el) / prior.n_draws).reshape(n, n_w, n_m, -1)
    with np.errstate(divide="ignore"):
        return (
            mw[:, :, None, None, 0]
            + mm[:, None, :, None, 0]
            + ml[:, None, None, :, 0]
            + np.log(mix)
        )


def _log_lik(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    dt: np.ndarray,
    valid: np.ndarray,
    w: np.ndarray,
    m: np.ndarray,
    ls: np.ndarray,
    nu: float,
) -> np.ndarray:
    """Log likelihood of the filtered innovations on the grid -> ``(n, W, M, L)``; Student-t
    with ``nu`` degrees of freedom, normal for ``nu = inf``."""
    sd_t = np.sqrt(np.where(valid, dt, 1.0))  # (n, T)
    # innovations per unit sd, 0 where not observed (so their terms vanish)
    inv_sd = np.where(valid, 1.0 / sd_t, 0.0)
    e = (
        a[:, None, None, :]
        - w[:, :, None, None] * b[:, None, None, :]
        - m[:, None, :, None] * c[:, None, None, :]
    ) * inv_sd[:, None, None, :]  # (n, W, M, T)
    student = bool(np.isfinite(nu))
    inv = np.exp(-ls) / (np.sqrt(nu) if student else 1.0)  # (n, L)
    z2 = e[:, :, :, None, :] * inv[:, None, None, :, None]  # (n, W, M, L, T)
    np.square(z2, out=z2)  # (e / sigma)^2, over nu for Student-t
    if student:
        np.log1p(z2, out=z2)
        core = -0.5 * (nu + 1.0) * z2.sum(axis=-1)
        const = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    else:
        core = -0.5 * z2.sum(axis=-1)
        const = -0.5 * np.log(2 * np.pi)
    k = valid.sum(axis=1).astype(float)
    log_dt = np.where(valid, np.log(sd_t), 0.0).sum(axis=1)
    return (
        core
        + (k * const - log_dt)[:, None, None, None]
        - k[:, None, None, None] * ls[:, None, None, :]
    )


def _moments(
    logp: np.ndarray, w: np.ndarray, m: np.ndarray, ls: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Posterior mean and sd of each coordinate from grid log densities ``(n, W, M, L)``."""
    with np.errstate(invalid="ignore"):  # a series with no finite cell gives NaN samples
        p = np.exp(logp - logp.max(axis=(1, 2, 3), keepdims=True))
    p /= p.sum(axis=(1, 2, 3), keepdims=True)
    out = []
    for axis_keep, x in ((1, w), (2, m), (3, ls)):
        axes = tuple(ax for ax in (1, 2, 3) if ax != axis_keep)
        px = p.sum(axis=axes)
        mean = (px * x).sum(axis=1)
        sd = np.sqrt(np.maximum((px * (x - mean[:, None]) ** 2).sum(axis=1), 0.0))
        out += [mean, sd]
    return tuple(out)


def _start(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    dt: np.ndarray,
    valid: np.ndarray,
    prior: PopulationPrior,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centres and half-widths of the first (w, m) grid: the normal approximation (weighted
    least squares with the population prior's mean and total variance, sigma at its median)."""
    inv_dt = np.where(valid, 1.0 / np.where(valid, dt, 1.0), 0.0)
    sig2 = float(np.exp(2 * np.median(prior.log_sigma_mu)))
    mu = np.array([prior.w_mu.mean(), prior.m_mu.mean()])
    var0 = np.array(
        [
            prior.w_mu.var() + np.mean(prior.w_sd**2),
            prior.m_mu.var() + np.mean(prior.m_sd**2),
        ]
    )
    sbb = (b * b * inv_dt).sum(axis=1)
    sbc = (b * c * inv_dt).sum(axis=1)
    scc = (c * c * inv_dt).sum(axis=1)
    sab = (a * b * inv_dt).sum(axis=1)
    sac = (a * c * inv_dt).sum(axis=1)
    p11 = 1.0 / var0[0] + sbb / sig2
    p22 = 1.0 / var0[1] + scc / sig2
    p12 = sbc / sig2
    r1 = mu[0] / var0[0] + sab / sig2
    r2 = mu[1] / var0[1] + sac / sig2
    det = p11 * p22 - p12**2
    w_c = (p22 * r1 - p12 * r2) / det
    m_c = (p11 * r2 - p12 * r1) / det
    w_sd = np.sqrt(p22 / det)
    m_sd = np.sqrt(p11 / det)
    return w_c, 8.0 * w_sd, m_c, 8.0 * m_sd


def _posterior_chunk(
    a: np.ndarray,
    b: np.ndarray,
    c: np.ndarray,
    dt: np.ndarray,
    valid: np.ndarray,
    prior: PopulationPrior,
    nu_bar: float,
    k: int,
    rng: np.random.Generator | SeriesStreams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Samples ``(n, k)`` of ``w``, ``m`` and ``log sigma`` for a few series."""
    n = a.shape[0]
    w_c, w_half, m_c, m_half = _start(a, b, c, dt, valid, prior)
    ls_lo = float(np.min(prior.log_sigma_mu - 4.5 * prior.log_sigma_sd))
    ls_hi = float(np.max(prior.log_sigma_mu + 4.5 * prior.log_sigma_sd))
    ls_c = np.full(n, 0.5 * (ls_lo + ls_hi))
    ls_half = np.full(n, max(0.5 * (ls_hi - ls_lo), 0.5))
    for nodes in (COARSE_GRID, (GRID_W, GRID_M, GRID_SIGMA)):
        w, dw = centred_grid(w_c, w_half, nodes[0])
        m, dm = centred_grid(m_c, m_half, nodes[1])
        ls, dls = centred_grid(ls_c, ls_half, nodes[2])
        logp = _log_prior(w, m, ls, prior) + _log_lik(a, b, c, dt, valid, w, m, ls, nu_bar)
        logp = np.where(np.isfinite(logp), logp, -np.inf)
        mw, sw, mm, sm, ml, sl = _moments(logp, w, m, ls)
        w_c, m_c, ls_c = mw, mm, ml
        w_half = np.maximum(6.0 * sw, 2.0 * dw)
        m_half = np.maximum(6.0 * sm, 2.0 * dm)
        ls_half = np.maximum(6.0 * sl, 2.0 * dls)
    with np.errstate(invalid="ignore"):
        flat = stratified_choice(logp.reshape(n, -1), k, rng)
    iw, rest = np.divmod(flat, GRID_M * GRID_SIGMA)
    im, il = np.divmod(rest, GRID_SIGMA)
    rows = np.arange(n)[:, None]
    w_k = w[rows, iw] + dw[:, None] * (rng.random((n, k)) - 0.5)
    m_k = m[rows, im] + dm[:, None] * (rng.random((n, k)) - 0.5)
    ls_k = ls[rows, il] + dls[:, None] * (rng.random((n, k)) - 0.5)
    return w_k, m_k, ls_k


def posterior_samples(
    obs_blk: dict[str, np.ndarray],
    prior: PopulationPrior,
    k: int,
    rng: np.random.Generator | SeriesStreams,
) -> dict[str, np.ndarray]:
    """Samples ``(n, k)`` of ``w``, ``m``, ``sigma``, ``rho``, ``nu`` and the last innovation
    ``e_last`` for a block of series sharing ``prior`` (``obs_blk`` as in :mod:`.forecaster`:
    right-aligned ``dy``, ``dxw = -dlogq``, ``dt``, ``valid``)."""
    if not prior.has_drift:
        raise ValueError("the experience+time update needs a prior with a drift (m_mu, m_sd)")
    dy, dxw, dt, valid = obs_blk["dy"], obs_blk["dxw"], obs_blk["dt"], obs_blk["valid"]
    n = dy.shape[0]
    rho_bar = float(np.median(prior.rho))
    nu_bar = float(np.median(prior.nu))
    a = ma1_filter(dy, valid, rho_bar)
    b = ma1_filter(dxw, valid, rho_bar)
    c = ma1_filter(np.where(valid, -dt, 0.0), valid, rho_bar)
    w = np.empty((n, k))
    m = np.empty((n, k))
    ls = np.empty((n, k))
    for lo in range(0, n, GRID_CHUNK):
        sl = slice(lo, min(lo + GRID_CHUNK, n))
        w[sl], m[sl], ls[sl] = _posterior_chunk(
            a[sl], b[sl], c[sl], dt[sl], valid[sl], prior, nu_bar, k, rows_of(rng, sl)
        )
    s_idx = rng.integers(0, prior.n_draws, size=(n, k))
    return {
        "w": w,
        "m": m,
        "sigma": np.exp(ls),
        "rho": prior.rho[s_idx],
        "nu": prior.nu[s_idx],
        "e_last": a[:, -1:] - w * b[:, -1:] - m * c[:, -1:],
    }


def experience_time_block(
    obs_blk: dict[str, np.ndarray],
    prior: PopulationPrior,
    h_max: int,
    cfg: ForecastConfig,
    rng: np.random.Generator | SeriesStreams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(w, m, cum)``: exponent and drift samples ``(n, K)`` and cumulative noise
    ``(n, K, h_max)``."""
    draws = posterior_samples(obs_blk, prior, cfg.n_samples, rng)
    return draws["w"], draws["m"], innovation_paths(draws, h_max, noise_streams(rng))


def decline_parts(
    w: np.ndarray, m: np.ndarray, dlogq: np.ndarray, h: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The deterministic forecast decline of log cost split by channel, per sample:
    experience ``w * dlog Q`` and time ``m * h`` (log units; ``h`` in years). Their sum is the
    whole deterministic decline ``y_T - E[log c_{T+h} | w, m, path]`` (noise excluded)."""
    return w * dlogq, m * h
