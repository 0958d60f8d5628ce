"""Pareto-smoothed importance sampling leave-one-out (PSIS-LOO) for many observations at once.

:func:`loo_pointwise` gives the pointwise ``elpd_i`` and Pareto ``k`` of every observation of a
fit's log-likelihood, the values of ``arviz_stats.loo(dt, pointwise=True)``: the relative
efficiency ``r_eff`` (mean ESS of the posterior means over every posterior element, divided by
the draws), the tail length ``3 sqrt(S / r_eff)`` (``S / 5`` when ``S r_eff <= 225``),
a generalized Pareto fit to the largest importance ratios (Zhang & Stephens' empirical Bayes
estimate with the weakly informative prior on ``k`` of Vehtari et al. 2024), the tail replaced
by the fitted quantiles (capped at the largest raw ratio), normalised log weights, and
``elpd_i = logsumexp(log w + log lik)``.

ArviZ runs that per observation in Python; here each step runs on blocks of observations
(arrays shaped ``(observation, draw)``, draws last and contiguous) with the same NumPy and
SciPy operations in the same order, so the values are the same to the bit
(tests/lib/models/test_psis.py compares them with ArviZ). The tail is found by a partial sort;
a row whose tail order a full sort would settle its own way (ties) is sorted in full. The one
step whose length differs between observations (dropping negligible weights of the ``k`` grid)
runs per observation. See docs/decisions/2026-12-06-vectorised-diagnostics.md.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.diagnostics import SAMPLE_DIMS, ess

#: Observations per block: each block's temporaries ((block, draws) and the generalized Pareto
#: fit's (block, grid, tail)) stay a few MB.
BLOCK = 64
_PRIOR_BS = 3  # Zhang & Stephens' grid: quartile scale
_PRIOR_K = 10  # weight of the prior k = 0.5 (pseudo-observations)


def relative_eff(posterior: xr.Dataset, n_samples: int) -> float:
    """``r_eff`` of ``arviz_stats.loo``: 1 with one chain, else the mean over every posterior
    element of the ESS of its mean, divided by ``n_samples``."""
    if posterior.sizes["chain"] == 1:
        return 1.0
    ess_mean = ess(posterior, method="mean")
    values = np.hstack([ess_mean[v].values.flatten() for v in ess_mean.data_vars])
    return values.mean() / n_samples


def tail_length(n_samples: int, r_eff: float) -> float:
    """Draws in the smoothed tail (a float, as ArviZ computes it)."""
    if n_samples * r_eff > 225:
        return np.floor(3 * (n_samples / r_eff) ** 0.5)
    return np.floor(n_samples / 5)


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """``scipy.special.logsumexp(a, axis=-1, keepdims=True)`` of a 2-D array with SciPy's
    arithmetic (the largest term split out: ``log1p(sum of the others / count of maxima) +
    log(count) + max``) in fewer passes; rows whose result is not finite are left to SciPy."""
    a_max = np.max(a, axis=-1, keepdims=True)
    at_max = a == a_max
    terms = np.exp(a - a_max)
    terms[at_max] = 0.0
    s = np.sum(terms, axis=-1, keepdims=True)
    m = np.sum(at_max, axis=-1, keepdims=True, dtype=float)
    s = np.where(s == 0, s, s / m)
    out = np.log1p(s) + np.log(m) + a_max
    bad = ~np.isfinite(out[:, 0])
    if bad.any():
        out[bad] = logsumexp(a[bad], axis=-1, keepdims=True)
    return out


def _gpd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(k, sigma) of a generalized Pareto fit to each row of ``x`` (sorted ascending, shape
    (obs, n)); NaN, NaN where the first quartile is not above the minimum; inf, NaN where the
    estimate is NaN."""
    n_obs, n = x.shape
    m_est = 30 + int(n**0.5)
    xstar = x[:, int((n / 4 + 0.5) - 1)]
    grid = 1 - np.sqrt(m_est / (np.arange(1, m_est + 1, dtype=float) - 0.5))
    b = grid[None, :] / (_PRIOR_BS * xstar)[:, None]
    b += (1 / x[:, -1])[:, None]
    k_grid = np.mean(np.log1p(-b[:, :, None] * x[:, None, :]), axis=-1)
    len_scale = n * (np.log(-b / k_grid) - k_grid - 1)
    w = np.exp(len_scale - _logsumexp_rows(len_scale))
    # negligible weights leave the grid; rows keeping all of it are reduced together
    real = w >= 10 * np.finfo(float).eps
    b_post = np.empty(n_obs)
    full = real.all(axis=1)
    if full.any():
        wf = w[full]
        wf /= wf.sum(axis=-1, keepdims=True)
        b_post[full] = np.sum(b[full] * wf, axis=-1)
    for i in np.flatnonzero(~full):
        wi = w[i][real[i]]
        wi /= wi.sum()
        b_post[i] = np.sum(b[i][real[i]] * wi)
    kappa = np.mean(np.log1p(-b_post[:, None] * x), axis=-1)
    sigma = -kappa / b_post
    kappa = (n * kappa + _PRIOR_K * 0.5) / (n + _PRIOR_K)
    bad = np.isnan(kappa)
    kappa[bad], sigma[bad] = np.inf, np.nan
    not_pareto = xstar <= x[:, 0]
    kappa[not_pareto], sigma[not_pareto] = np.nan, np.nan
    return kappa, sigma


def _gpd_quantiles(p: np.ndarray, kappa: np.ndarray, sigma: np.ndarray, mu: np.ndarray):
    """Generalized Pareto quantiles at ``p`` (shape (n,)) for each row's (kappa, sigma, mu)."""
    log1p_p = np.log1p(-p)
    out = np.empty((kappa.size, p.size))
    zero = kappa == 0
    if zero.any():
        out[zero] = mu[zero, None] - sigma[zero, None] * log1p_p
    other = ~zero
    if other.any():
        k = kappa[other, None]
        out[other] = mu[other, None] + sigma[other, None] * np.expm1(-k * log1p_p) / k
    out[sigma <= 0] = np.nan
    return out


def psis_log_weights(log_lik: np.ndarray, r_eff: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed, normalised log importance weights and Pareto ``k`` of each row of
    ``log_lik`` (shape (obs, draws), draws chain-major; the ratios are ``-log_lik``): the
    values of ``arviz_stats``' ``psislw``.

    Raises:
        ModelError: the tail is shorter than 5 draws, or a row's tail draws are all equal.
    """
    n_obs, n_samples = log_lik.shape
    m, p = _tail(n_samples, r_eff)
    log_w = np.empty((n_obs, n_samples))
    khat = np.empty(n_obs)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for lo in range(0, n_obs, BLOCK):
            block = np.ascontiguousarray(log_lik[lo : lo + BLOCK], dtype=float)
            log_w[lo : lo + BLOCK], khat[lo : lo + BLOCK] = _psis_block(block, m, p)
    return log_w, khat


def _tail(n_samples: int, r_eff: float) -> tuple[int, np.ndarray]:
    """(tail draws, their plotting positions ``(i + 0.5) / m``)."""
    n_tail = tail_length(n_samples, r_eff)
    if n_tail < 5:
        raise ModelError(f"PSIS needs at least 5 tail draws ({n_tail:.0f} of {n_samples})")
    return int(n_tail), np.arange(0.5, n_tail) / n_tail


def _tail_order(ratios: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices of the ``m`` largest ratios of each row in ascending order, the index of the
    next largest: the cutoff) as a full ``np.argsort`` of the row would give them.

    A partial sort finds them; where they are not unique (a tie inside the tail or across the
    cutoff, which ``np.argsort`` resolves in its own way) the row is sorted in full.
    """
    n_samples = ratios.shape[1]
    cut = n_samples - m - 1
    part = np.argpartition(ratios, cut, axis=-1)
    top = part[:, cut + 1 :]
    top_values = np.take_along_axis(ratios, top, axis=-1)
    within = np.argsort(top_values, axis=-1)
    tail_at = np.take_along_axis(top, within, axis=-1)
    cutoff_at = part[:, cut]
    tail = np.take_along_axis(top_values, within, axis=-1)
    cutoff = np.take_along_axis(ratios, cutoff_at[:, None], axis=-1)[:, 0]
    ties = (tail[:, 0] <= cutoff) | np.any(tail[:, 1:] <= tail[:, :-1], axis=-1)
    ties |= np.isnan(tail).any(axis=-1) | np.isnan(cutoff)  # NaN: as the full sort places it
    for i in np.flatnonzero(ties):
        order = np.argsort(ratios[i])
        tail_at[i], cutoff_at[i] = order[cut + 1 :], order[cut]
    return tail_at, cutoff_at


def _psis_block(log_lik: np.ndarray, m: int, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log weights and k of each row of a C-contiguous (rows, draws) block."""
    ratios = -log_lik
    ratios = ratios - np.max(ratios, axis=-1, keepdims=True)
    tail_at, cutoff_at = _tail_order(ratios, m)
    tail = np.take_along_axis(ratios, tail_at, axis=-1)  # ascending
    cutoff = np.take_along_axis(ratios, cutoff_at[:, None], axis=-1)
    max_tail, min_tail = tail.max(axis=-1), tail.min(axis=-1)
    if np.any(np.abs(max_tail - min_tail) < np.finfo(float).tiny):
        raise ModelError("PSIS: all tail values of an observation are the same")
    cutoff_w = np.exp(cutoff)
    khat, sigma = _gpd_fit(np.exp(tail) - cutoff_w)
    smooth = np.flatnonzero(np.isfinite(khat))
    if smooth.size:
        q = _gpd_quantiles(p, khat[smooth], sigma[smooth], cutoff_w[smooth, 0])
        smoothed = np.log(q)
        cap = max_tail[smooth, None]
        smoothed = np.where(smoothed > cap, cap, smoothed)
        rows = ratios[smooth]
        np.put_along_axis(rows, tail_at[smooth], smoothed, axis=-1)
        ratios[smooth] = rows
    ratios -= _logsumexp_rows(ratios)
    return ratios, khat


def loo_pointwise(dt: xr.DataTree, var_name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(``elpd_i``, Pareto ``k``, ``lppd_i``) of every observation of
    ``log_likelihood[var_name]`` (C order of its non-sample dims): ``elpd_i`` and ``k`` are the
    values of ``arviz_stats.loo(dt, pointwise=True, var_name=var_name)``; ``lppd_i`` is the log
    of the mean likelihood over draws, ``np.logaddexp.reduce(log_lik) - log(draws)``.

    Observations are taken :data:`BLOCK` at a time from the (chain, draw, ...) array.
    """
    if "log_likelihood" not in dt.children or var_name not in dt.log_likelihood:
        raise ModelError(f"PSIS-LOO needs a log_likelihood group with {var_name!r}")
    da = dt.log_likelihood[var_name]
    other = [d for d in da.dims if d not in SAMPLE_DIMS]
    n_samples = da.sizes["chain"] * da.sizes["draw"]
    values = da.transpose(*SAMPLE_DIMS, *other).values.reshape(n_samples, -1)
    n_obs = values.shape[1]
    m, p = _tail(n_samples, relative_eff(dt.posterior.to_dataset(), n_samples))
    elpd_i, khat, lppd_i = np.empty(n_obs), np.empty(n_obs), np.empty(n_obs)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for lo in range(0, n_obs, BLOCK):
            block = slice(lo, lo + BLOCK)
            log_lik = np.ascontiguousarray(values[:, block].T, dtype=float)
            log_w, khat[block] = _psis_block(log_lik, m, p)
            log_w += log_lik
            elpd_i[block] = _logsumexp_rows(log_w)[:, 0]
            lppd_i[block] = np.logaddexp.reduce(log_lik, axis=-1) - np.log(n_samples)
    return elpd_i, khat, lppd_i
