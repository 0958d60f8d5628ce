"""Baseline forecasters of log unit cost, each fitted to one series' own history only.

All three return a location-scale Student-t predictive of log cost per target
(:class:`~learnrace_pipeline.lib.evaluation.scores.StudentT`), so quantiles, PIT and CRPS are
exact. Notation: a series has observed points ``(year_i, y_i = log cost, x_i = log cumulative
production)``, ``i = 0..n``, ``n`` differences ``dy_i, dx_i`` spanning ``dt_i`` years; the forecast
origin is the last observed point ``T``, a target is ``h`` years later.

(a) :func:`ols_wright`: Wright's law on first differences without intercept,
    ``dy_i = -w dx_i + e_i``, ``e_i ~ N(0, s^2 dt_i)`` (iid annual noise summed over gaps), by
    weighted least squares: ``w_hat = -sum(dx dy / dt) / sum(dx^2 / dt)``,
    ``s^2 = sum((dy + w_hat dx)^2 / dt) / (n - 1)``. With ``X = x_target - x_T`` the predictive is
    ``y_T - w_hat X + s sqrt(h + X^2 / sum(dx^2 / dt)) * t(n - 1)``: the future noise plus the
    parameter uncertainty of ``w_hat``, Student-t for the unknown ``s``.

(b) :func:`rw_drift`: random walk with drift and MA(1) noise (Farmer & Lafond 2016),
    ``y_t = y_{t-1} + mu + v_t + theta v_{t-1}``. The drift is the mean annual change
    ``mu_hat = (y_T - y_0) / m`` (``m`` = years spanned), ``K^2 = sum((dy - mu_hat dt)^2 / dt) /
    (n - 1)`` the variance of annual changes (``= sigma^2 (1 + theta^2)``). Their closed-form
    expected squared forecast error at horizon ``h`` is ``sigma^2 A*`` with
    ``A* = -2 theta + (1 + 2 (m - 1) theta / m + theta^2) (h + h^2 / m)``, so the predictive is
    ``y_T + mu_hat h + K sqrt(A* / (1 + theta^2)) * t(n - 1)``. ``theta`` is pooled over the
    training series (:func:`pooled_theta`) because one short series cannot estimate it.

(c) :func:`no_change`: the last observed cost, with random-walk (no drift) uncertainty:
    ``y_T + s0 sqrt(h) * t(n)``, ``s0^2 = sum(dy^2 / dt) / n``.

(d) a diagnostic, not one of the three baselines: (a) plus a time drift ``m`` (log cost per
    year) shared by all series, ``dy_i = -w dx_i - m dt_i + e_i``, with ``m`` from
    :func:`shared_drift` over every series' training points (:func:`ols_wright` with
    ``drift=m``; ``m`` is treated as known). It asks whether costs fall faster than each
    series' own Wright's law says by a common, time-driven amount (research, spillovers).

Gaps (``dt > 1``) are handled by the variance scaling shown; PCDB series are almost all annual.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.evaluation.scores import StudentT

#: Model names used in the hindcast tables.
OLS_WRIGHT = "ols_wright"
RW_DRIFT = "rw_drift"
NO_CHANGE = "no_change"
BASELINES = (OLS_WRIGHT, RW_DRIFT, NO_CHANGE)
#: Diagnostic (d): baseline (a) with a time drift shared by all series.
WRIGHT_SHARED_DRIFT = "ols_wright_shared_drift"


def _diffs(years: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    years = np.asarray(years, float)
    values = np.asarray(values, float)
    if years.size < 3:
        raise DataError(f"a baseline needs at least 3 points, got {years.size}", source="baselines")
    dt = np.diff(years)
    if np.any(dt <= 0):
        raise DataError("years must be strictly increasing", source="baselines", column="year")
    return dt, np.diff(values)


def _horizons(years: np.ndarray, target_years: Sequence[int] | np.ndarray) -> np.ndarray:
    h = np.asarray(target_years, float) - float(np.asarray(years)[-1])
    if np.any(h <= 0):
        raise DataError("target years must come after the last observation", source="baselines")
    return h


def ols_wright(
    years: np.ndarray,
    log_cost: np.ndarray,
    log_q: np.ndarray,
    target_years: np.ndarray,
    target_log_q: np.ndarray,
    drift: float = 0.0,
) -> StudentT:
    """Baseline (a): per-series Wright's law by least squares on first differences.

    Args:
        years, log_cost, log_q: the series' observed points (log unit cost, log cumulative
            production), years strictly increasing.
        target_years, target_log_q: years to forecast and log cumulative production there.
        drift: a known time drift ``m`` (log cost per year) on top of Wright's law (diagnostic
            (d)); 0 is baseline (a).

    Returns:
        Student-t predictive of log cost at each target (df = n - 1).
    """
    dt, dy = _diffs(years, log_cost)
    dy = dy + drift * dt  # the part of the change that Wright's law must explain
    dx = np.diff(np.asarray(log_q, float))
    h = _horizons(years, target_years)
    n = dy.size
    sxx = float(np.sum(dx * dx / dt))
    w = -float(np.sum(dx * dy / dt)) / sxx if sxx > 0 else 0.0
    resid = dy + w * dx
    s2 = float(np.sum(resid**2 / dt) / (n - 1))
    big_x = np.asarray(target_log_q, float) - float(np.asarray(log_q)[-1])
    var = s2 * (h + (big_x**2 / sxx if sxx > 0 else 0.0))
    loc = float(np.asarray(log_cost)[-1]) - w * big_x - drift * h
    return StudentT(loc, np.sqrt(np.maximum(var, 1e-18)), np.full(h.size, n - 1.0))


def shared_drift(series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> float:
    """Time drift ``m`` (log cost per year) shared by all series, each with its own exponent.

    ``series`` holds ``(years, log_cost, log_q)`` triples (training data only; series with
    fewer than 3 points are skipped). Least squares on ``dy = -w_s dx - m dt + e``,
    ``var e ~ dt``: after dividing by ``sqrt(dt)``, ``sqrt(dt)`` is projected off each series'
    ``dx / sqrt(dt)`` (its exponent is free) and ``m`` is the pooled regression on what is left.
    Returns 0 when no series has usable data.
    """
    num = 0.0
    den = 0.0
    for years, log_cost, log_q in series:
        if len(years) < 3:
            continue
        dt, dy = _diffs(years, log_cost)
        root = np.sqrt(dt)
        yt = dy / root
        xt = np.diff(np.asarray(log_q, float)) / root
        sxx = float(xt @ xt)
        t_perp = root - xt * (float(xt @ root) / sxx) if sxx > 0 else root
        num += float(t_perp @ yt)
        den += float(t_perp @ t_perp)
    return -num / den if den > 1e-12 else 0.0


def rw_drift(
    years: np.ndarray, log_cost: np.ndarray, target_years: np.ndarray, theta: float
) -> StudentT:
    """Baseline (b): random walk with drift, MA(1) noise, Farmer & Lafond (2016) error variance.

    ``theta`` is the MA(1) coefficient (|theta| < 1). Student-t with ``n - 1`` df.
    """
    if not -1 < theta < 1:
        raise DataError(f"theta must be in (-1, 1), got {theta}", source="baselines")
    dt, dy = _diffs(years, log_cost)
    h = _horizons(years, target_years)
    n = dy.size
    m = float(np.sum(dt))
    mu = float(np.sum(dy)) / m
    k2 = float(np.sum((dy - mu * dt) ** 2 / dt) / (n - 1))
    a_star = -2 * theta + (1 + 2 * (m - 1) * theta / m + theta**2) * (h + h**2 / m)
    scale = np.sqrt(np.maximum(k2 * a_star / (1 + theta**2), 1e-18))
    loc = float(np.asarray(log_cost)[-1]) + mu * h
    return StudentT(loc, scale, np.full(h.size, n - 1.0))


def no_change(years: np.ndarray, log_cost: np.ndarray, target_years: np.ndarray) -> StudentT:
    """Baseline (c): no change in cost, random-walk (zero drift) uncertainty, t with n df."""
    dt, dy = _diffs(years, log_cost)
    h = _horizons(years, target_years)
    n = dy.size
    s2 = float(np.sum(dy**2 / dt) / n)
    loc = np.full(h.size, float(np.asarray(log_cost)[-1]))
    return StudentT(loc, np.sqrt(np.maximum(s2 * h, 1e-18)), np.full(h.size, float(n)))


def theta_from_autocorrelation(r1: float) -> float:
    """The invertible MA(1) coefficient with lag-1 autocorrelation ``r1``: solves
    ``r1 = theta / (1 + theta^2)``; ``|r1|`` is clipped to 0.49 (|theta| < 0.82)."""
    r = float(np.clip(r1, -0.49, 0.49))
    if abs(r) < 1e-12:
        return 0.0
    return float((1 - np.sqrt(1 - 4 * r * r)) / (2 * r))


def pooled_theta(series: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """MA(1) theta pooled over series from the lag-1 autocorrelation of annual changes.

    ``series`` holds ``(years, log_cost)`` pairs (training data only). Within each series the
    changes between consecutive years are demeaned by the series' drift; products of adjacent
    changes (both one year long) are pooled over all series, as are the squares, and their
    ratio is mapped to theta by :func:`theta_from_autocorrelation`. Demeaning biases the
    lag-1 autocorrelation of a short series down by roughly ``(1 + 4 r1) / n``, so theta from
    short series leans negative.
    """
    num = 0.0
    den = 0.0
    for years, log_cost in series:
        if len(years) < 3:
            continue
        dt = np.diff(np.asarray(years, float))
        dy = np.diff(np.asarray(log_cost, float))
        mu = dy.sum() / dt.sum()
        e = (dy - mu * dt) / np.sqrt(dt)
        one = dt == 1
        pair = one[1:] & one[:-1]
        num += float(np.sum(e[1:][pair] * e[:-1][pair]))
        den += float(np.sum(e**2))
    if den <= 0:
        return 0.0
    return theta_from_autocorrelation(num / den)
