"""Student-t innovations for the pooled-prior forecaster: a per-series grid posterior.

The pooled Wright model with Student-t MA(1) noise (the LOO-preferred noise of
:mod:`learnrace_pipeline.lib.models.learning`) has, for one series,

    dlogc[t] = -w * dlogq[t] + e[t] + rho * e[t-1],   e[t] = sigma * sqrt(dt[t]) * T_nu,

with ``T_nu`` a standard Student-t with ``nu`` degrees of freedom; ``w`` is the Wright exponent
(unit-free), ``sigma`` the scale of log-cost innovations per year. The normal forecaster's
conjugate update does not apply, so the posterior of a user's series is computed on a grid, still
with no model built per series and no MCMC:

1. ``rho`` and ``nu`` are population-level parameters with tight posteriors; the likelihood uses
   their medians over the prior draws (``rho_bar``, ``nu_bar``). The innovations are then linear in
   ``w``: ``e = A - w B`` with ``A`` and ``B`` the MA(1) filter (``e[t] = r[t] - rho_bar e[t-1]``,
   conditional on ``e[-1] = 0``) of ``dlogc`` and ``-dlogq``.
2. ``(w, log sigma)`` is evaluated on a grid of ``grid_w x grid_sigma`` nodes per series; the prior
   density is the mixture over the population draws ``s`` of
   ``N(w; w_mu[s], w_sd[s]) N(log sigma; log_sigma_mu[s], log_sigma_sd[s])``.
   A first grid is centred on a normal approximation of the posterior; a second grid spans the
   first one's posterior mean +- 6 sd in each coordinate (so narrow posteriors are resolved).
3. ``n_samples`` cells are drawn (stratified) in proportion to prior x likelihood and jittered
   uniformly within the cell.
4. Future innovations are Student-t with ``(rho, nu)`` of a population draw taken at random
   (they barely depend on the series), carried from the last observed innovation.

Everything is vectorised over a block of series; memory is about
``chunk x grid_w x grid_sigma x max(n_draws, n_differences)`` floats.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from learnrace_pipeline.lib.forecast.normal import stratified_choice
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.streams import SeriesStreams, noise_streams
from learnrace_pipeline.lib.forecast.types import ForecastConfig

#: nodes per coordinate of the (w, log sigma) grid
GRID_W = 48
GRID_SIGMA = 32


def ma1_filter(r: np.ndarray, valid: np.ndarray, rho: float) -> np.ndarray:
    """``e[t] = r[t] - rho e[t-1]`` along the last axis, restarting at 0 before the first valid
    entry (rows are right-aligned: invalid entries lead)."""
    e = np.zeros_like(r)
    prev = np.zeros(r.shape[:-1])
    for t in range(r.shape[-1]):
        v = valid[..., t]
        cur = np.where(v, r[..., t] - rho * prev, 0.0)
        e[..., t] = cur
        prev = np.where(v, cur, prev)
    return e


def log_normal_rows(x: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """``log N(x[i, j]; mu[s], sd[s]^2)`` up to ``-log(2 pi) / 2``: ``x`` ``(n, X)``, ``mu``,
    ``sd`` ``(S,)`` -> ``(n, X, S)``, as the quadratic ``x^2 (-1 / (2 sd^2)) + x (mu / sd^2)
    + (-mu^2 / (2 sd^2) - log sd)`` in one matrix product (the same values as
    ``-((x - mu) / sd)^2 / 2 - log sd`` up to rounding)."""
    coef = np.stack([-0.5 / sd**2, mu / sd**2, -0.5 * mu**2 / sd**2 - np.log(sd)])  # (3, S)
    powers = np.stack([x * x, x, np.ones_like(x)], axis=-1)  # (n, X, 3)
    return powers @ coef


def _log_prior(w: np.ndarray, ls: np.ndarray, prior: PopulationPrior) -> np.ndarray:
    """log of the mixture prior density on the grid: ``w`` ``(n, W)``, ``ls`` ``(n, L)`` ->
    ``(n, W, L)``."""
    lw = log_normal_rows(w, prior.w_mu, prior.w_sd)  # (n, W, S)
    if np.all(prior.log_sigma_sd == 0):  # point sigma per draw: treat as a narrow normal
        sd_l = np.full_like(prior.log_sigma_mu, 1e-3)
    else:
        sd_l = prior.log_sigma_sd
    ll = log_normal_rows(ls, prior.log_sigma_mu, sd_l)  # (n, L, S)
    mw = lw.max(axis=2, keepdims=True)
    ml = ll.max(axis=2, keepdims=True)
    # sum over the draws s as a batched matrix product (n, W, S) @ (n, S, L)
    # (the right factor made contiguous, so the product runs in BLAS)
    el = np.ascontiguousarray(np.exp(ll - ml).transpose(0, 2, 1))
    mix = np.matmul(np.exp(lw - mw), el) / prior.n_draws
    with np.errstate(divide="ignore"):
        return mw + ml.transpose(0, 2, 1) + np.log(mix)


def _log_lik(
    a: np.ndarray,
    b: np.ndarray,
    dt: np.ndarray,
    valid: np.ndarray,
    w: np.ndarray,
    ls: np.ndarray,
    nu: float,
) -> np.ndarray:
    """Student-t log likelihood of the filtered innovations on the grid -> ``(n, W, L)``."""
    sd_t = np.sqrt(np.where(valid, dt, 1.0))  # (n, T)
    # innovations per unit sd, 0 where not observed (so their terms vanish)
    inv_sd = np.where(valid, 1.0 / sd_t, 0.0)
    e = (a[:, None, :] - w[:, :, None] * b[:, None, :]) * inv_sd[:, None, :]  # (n, W, T)
    inv = np.exp(-ls) / np.sqrt(nu)  # (n, L)
    z2 = e[:, :, None, :] * inv[:, None, :, None]  # (n, W, L, T): e / (sigma sqrt(nu))
    np.square(z2, out=z2)
    np.log1p(z2, out=z2)
    k = valid.sum(axis=1).astype(float)  # (n,)
    core = -0.5 * (nu + 1.0) * z2.sum(axis=-1)
    const = gammaln((nu + 1) / 2) - gammaln(nu / 2) - 0.5 * np.log(nu * np.pi)
    log_dt = np.where(valid, np.log(sd_t), 0.0).sum(axis=1)
    return core + (k * const - log_dt)[:, None, None] - k[:, None, None] * ls[:, None, :]


def centred_grid(centre: np.ndarray, half: np.ndarray, nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """``nodes`` points per row spanning ``centre +- half``; returns (grid, spacing)."""
    u = np.linspace(-1.0, 1.0, nodes)
    return centre[:, None] + half[:, None] * u[None, :], 2 * half / (nodes - 1)


def _moments(logp: np.ndarray, w: np.ndarray, ls: np.ndarray) -> tuple[np.ndarray, ...]:
    p = np.exp(logp - logp.max(axis=(1, 2), keepdims=True))
    p /= p.sum(axis=(1, 2), keepdims=True)
    pw, pl = p.sum(axis=2), p.sum(axis=1)
    mw = (pw * w).sum(axis=1)
    sw = np.sqrt(np.maximum((pw * (w - mw[:, None]) ** 2).sum(axis=1), 0.0))
    ml = (pl * ls).sum(axis=1)
    sl = np.sqrt(np.maximum((pl * (ls - ml[:, None]) ** 2).sum(axis=1), 0.0))
    return mw, sw, ml, sl


def posterior_samples(
    obs_blk: dict[str, np.ndarray],
    prior: PopulationPrior,
    k: int,
    rng: np.random.Generator | SeriesStreams,
) -> dict[str, np.ndarray]:
    """Samples ``(n, k)`` of ``w``, ``sigma``, ``rho``, ``nu`` and the last innovation ``e_last``
    for a block of series sharing ``prior`` (``obs_blk`` as in the normal forecaster)."""
    dy, dxw, dt, valid = obs_blk["dy"], obs_blk["dxw"], obs_blk["dt"], obs_blk["valid"]
    n = dy.shape[0]
    rho_bar = float(np.median(prior.rho))
    nu_bar = float(np.median(prior.nu))
    a = ma1_filter(dy, valid, rho_bar)
    b = ma1_filter(dxw, valid, rho_bar)

    # normal approximation (weighted least squares + population prior) to place the first grid
    inv_dt = np.where(valid, 1.0 / np.where(valid, dt, 1.0), 0.0)
    sbb = (b * b * inv_dt).sum(axis=1)
    sab = (a * b * inv_dt).sum(axis=1)
    mu0 = float(prior.w_mu.mean())
    var0 = float(prior.w_mu.var() + np.mean(prior.w_sd**2))
    sig2 = float(np.exp(2 * np.median(prior.log_sigma_mu)))
    prec = 1.0 / var0 + sbb / sig2
    w_c = (mu0 / var0 + sab / sig2) / prec
    w_half = 8.0 / np.sqrt(prec)
    ls_lo = float(np.min(prior.log_sigma_mu - 4.5 * prior.log_sigma_sd))
    ls_hi = float(np.max(prior.log_sigma_mu + 4.5 * prior.log_sigma_sd))
    ls_c = np.full(n, 0.5 * (ls_lo + ls_hi))
    ls_half = np.full(n, max(0.5 * (ls_hi - ls_lo), 0.5))

    for _ in range(2):
        w, dw = centred_grid(w_c, w_half, GRID_W)
        ls, dls = centred_grid(ls_c, ls_half, GRID_SIGMA)
        logp = _log_prior(w, ls, prior) + _log_lik(a, b, dt, valid, w, ls, nu_bar)
        logp = np.where(np.isfinite(logp), logp, -np.inf)
        mw, sw, ml, sl = _moments(logp, w, ls)
        w_c, ls_c = mw, ml
        w_half = np.maximum(6.0 * sw, 2.0 * dw)
        ls_half = np.maximum(6.0 * sl, 2.0 * dls)

    flat = stratified_choice(logp.reshape(n, -1), k, rng)
    iw, il = np.divmod(flat, GRID_SIGMA)
    rows = np.arange(n)[:, None]
    w_k = w[rows, iw] + dw[:, None] * (rng.random((n, k)) - 0.5)
    ls_k = ls[rows, il] + dls[:, None] * (rng.random((n, k)) - 0.5)
    s_idx = rng.integers(0, prior.n_draws, size=(n, k))
    e_last = a[:, -1:] - w_k * b[:, -1:]
    return {
        "w": w_k,
        "sigma": np.exp(ls_k),
        "rho": prior.rho[s_idx],
        "nu": prior.nu[s_idx],
        "e_last": e_last,
    }


def innovation_paths(
    draws: dict[str, np.ndarray], h_max: int, rng: np.random.Generator | SeriesStreams
) -> np.ndarray:
    """Cumulative MA(1) noise ``(n, k, h_max)`` over the next ``h_max`` years (dt = 1):
    Student-t shocks for finite ``nu``, normal for ``nu = inf``."""
    sigma, rho, nu = draws["sigma"], draws["rho"], draws["nu"]
    n, k = sigma.shape
    cum = np.empty((h_max, n, k))  # year-major: each year's write is contiguous
    total = np.zeros((n, k))
    prev = draws["e_last"]
    normal = not np.all(np.isfinite(nu))
    for j in range(h_max):
        shock = rng.standard_normal((n, k)) if normal else rng.standard_t(nu)
        e_new = sigma * shock
        total = total + e_new + rho * prev
        cum[j] = total
        prev = e_new
    return cum.transpose(1, 2, 0)  # (n, K, h_max) view


def student_t_block(
    obs_blk: dict[str, np.ndarray],
    prior: PopulationPrior,
    h_max: int,
    cfg: ForecastConfig,
    rng: np.random.Generator | SeriesStreams,
) -> tuple[np.ndarray, np.ndarray]:
    """``(w, cum)``: exponent samples ``(n, K)`` and cumulative noise ``(n, K, h_max)``."""
    draws = posterior_samples(obs_blk, prior, cfg.n_samples, rng)
    return draws["w"], innovation_paths(draws, h_max, noise_streams(rng))
