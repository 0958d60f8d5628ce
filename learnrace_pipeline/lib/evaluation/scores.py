"""Scoring distributional forecasts of log unit cost.

Everything here works on the natural log of unit cost (dimensionless, so series in different
money units pool), with forecasts given either as a location-scale Student-t (the closed-form
baselines) or as Monte Carlo samples (the pooled Bayesian forecaster).

Scores
------
- **Coverage** of the central 50/80/90/95% intervals: the share of outcomes inside
  ``[q(a), q(1 - a)]`` with ``a = (1 - level) / 2``; the 95% interval needs the 2.5% and 97.5%
  quantiles, so hindcast forecasts carry :data:`HINDCAST_LEVELS` (the 7 output quantiles plus
  those two).
- **Log-pinball**: the quantile (pinball) loss ``(y - q) * (tau - 1{y < q})`` of log cost, averaged
  over the 7 output quantiles :data:`LEVELS` (lower is better; in log units).
- **CRPS** of log cost (lower is better; log units): exact closed forms for the normal and the
  Student-t (Jordan, Krüger & Lerch 2019, eq. for ``crps_t``) and the unbiased sample estimator
  ``E|X - y| - E|X - X'| / 2`` (computed from the sorted samples in ``O(K log K)``) for Monte
  Carlo forecasts. Both estimate the same quantity, so models scored either way are comparable.
  :func:`crps_from_quantiles` (2 x the mean pinball loss over a quantile grid) is an
  approximation kept for forecasts known only through quantiles; it is not used for the tables.
- **Point error** of the median: ``log_error = log q50 - log actual`` per forecast (positive: the
  forecast was too high); tables give its mean (``bias_log``) and root mean square
  (``rmse_log``), the accuracy measure of Nagy et al. (2013), whose hindcasts found it growing
  about linearly with the horizon (:func:`.hindcast_scores.error_growth`).
- **PIT**: the predictive CDF at the outcome; a calibrated forecaster gives uniform PIT values.
  :func:`pit_histogram` bins them (10 equal bins by default) into counts and densities.

:func:`score_table` aggregates a per-forecast frame (one row per model, origin, series and year;
columns ``log_actual``, ``lq*`` log quantiles, ``crps``, ``pit``) by any grouping, e.g. horizon
or industry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import special, stats

from learnrace_pipeline.lib.forecast.types import LEVELS, qname

#: The 7 quantile levels every forecast reports (columns q05 ... q95).
#: Central intervals scored for coverage: nominal level -> (lower, upper) quantile levels.
INTERVALS: dict[int, tuple[float, float]] = {
    50: (0.25, 0.75),
    80: (0.10, 0.90),
    90: (0.05, 0.95),
    95: (0.025, 0.975),
}
#: Levels a hindcast forecast carries: the 7 output levels plus 2.5% and 97.5% (95% interval).
HINDCAST_LEVELS: tuple[float, ...] = (0.025, *LEVELS, 0.975)


QCOLS: tuple[str, ...] = tuple(qname(t) for t in LEVELS)


# --------------------------------------------------------------------------------------------
# predictive distributions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudentT:
    """Location-scale Student-t predictive of log cost, vectorised over forecasts.

    ``df = inf`` gives a normal. ``loc``, ``scale`` and ``df`` broadcast to one shape ``(n,)``.
    """

    loc: np.ndarray
    scale: np.ndarray
    df: np.ndarray

    def __post_init__(self) -> None:
        loc, scale, df = np.broadcast_arrays(
            np.asarray(self.loc, float), np.asarray(self.scale, float), np.asarray(self.df, float)
        )
        object.__setattr__(self, "loc", np.array(loc))
        object.__setattr__(self, "scale", np.array(scale))
        object.__setattr__(self, "df", np.array(df))

    def quantiles(self, levels: Sequence[float]) -> np.ndarray:
        """Quantiles at ``levels``: array ``(n, len(levels))``."""
        lv = np.asarray(levels, float)[None, :]
        z = _t_ppf(lv, self.df[:, None])
        return self.loc[:, None] + self.scale[:, None] * z

    def cdf(self, y: np.ndarray) -> np.ndarray:
        z = (np.asarray(y, float) - self.loc) / self.scale
        return _t_cdf(z, self.df)

    def crps(self, y: np.ndarray) -> np.ndarray:
        return crps_student_t(self.loc, self.scale, self.df, y)


def _t_ppf(p: np.ndarray, df: np.ndarray) -> np.ndarray:
    p, df = np.broadcast_arrays(p, df)
    out = np.empty(p.shape)
    inf = ~np.isfinite(df)
    out[inf] = stats.norm.ppf(p[inf])
    out[~inf] = stats.t.ppf(p[~inf], df[~inf])
    return out


def _t_cdf(z: np.ndarray, df: np.ndarray) -> np.ndarray:
    z, df = np.broadcast_arrays(z, df)
    out = np.empty(z.shape)
    inf = ~np.isfinite(df)
    out[inf] = stats.norm.cdf(z[inf])
    out[~inf] = stats.t.cdf(z[~inf], df[~inf])
    return out


# --------------------------------------------------------------------------------------------
# elementwise scores
# --------------------------------------------------------------------------------------------


def pinball(q: np.ndarray, tau: float | np.ndarray, y: np.ndarray) -> np.ndarray:
    """Quantile (pinball) loss of quantile forecast ``q`` at level ``tau`` for outcome ``y``.

    ``(y - q) * tau`` when ``y >= q``, ``(q - y) * (1 - tau)`` otherwise; in the units of ``y``.
    """
    q = np.asarray(q, float)
    y = np.asarray(y, float)
    diff = y - q
    return np.where(diff >= 0, tau * diff, (tau - 1.0) * diff)


def mean_pinball(q: np.ndarray, y: np.ndarray, levels: Sequence[float] = LEVELS) -> np.ndarray:
    """Mean pinball loss over ``levels``: ``q`` is ``(n, len(levels))``, ``y`` is ``(n,)``."""
    lv = np.asarray(levels, float)[None, :]
    return pinball(q, lv, np.asarray(y, float)[:, None]).mean(axis=1)


def crps_normal(mu: np.ndarray, sigma: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of N(mu, sigma^2) at ``y``: sigma [z(2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]."""
    mu, sigma, y = (np.asarray(a, float) for a in (mu, sigma, y))
    z = (y - mu) / sigma
    return sigma * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def crps_student_t(loc: np.ndarray, scale: np.ndarray, df: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of a location-scale Student-t (``df > 1``; ``df = inf``: normal).

    For the standard t with ``nu`` degrees of freedom (Jordan, Krüger & Lerch 2019)::

        CRPS(z) = z (2 F(z) - 1) + 2 f(z) (nu + z^2) / (nu - 1)
                  - 2 sqrt(nu) B(1/2, nu - 1/2) / ((nu - 1) B(1/2, nu/2)^2)

    and ``CRPS(y) = scale * CRPS((y - loc) / scale)``.
    """
    loc, scale, df, y = np.broadcast_arrays(*(np.asarray(a, float) for a in (loc, scale, df, y)))
    out = np.empty(loc.shape)
    inf = ~np.isfinite(df)
    if inf.any():
        out[inf] = crps_normal(loc[inf], scale[inf], y[inf])
    fin = ~inf
    if fin.any():
        nu = df[fin]
        if np.any(nu <= 1):
            raise ValueError("the Student-t CRPS needs df > 1")
        z = (y[fin] - loc[fin]) / scale[fin]
        term = (
            z * (2 * stats.t.cdf(z, nu) - 1)
            + 2 * stats.t.pdf(z, nu) * (nu + z**2) / (nu - 1)
            - 2
            * np.sqrt(nu)
            * np.exp(special.betaln(0.5, nu - 0.5) - 2 * special.betaln(0.5, nu / 2))
            / (nu - 1)
        )
        out[fin] = scale[fin] * term
    return out


def crps_samples(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Unbiased sample CRPS: mean |X - y| - (1/2) E|X - X'|, per row of ``samples`` ``(n, K)``.

    ``E|X - X'|`` over distinct pairs is ``2 / (K (K - 1)) * sum_i (2 i - K - 1) x_(i)`` with the
    sorted samples ``x_(1) <= ... <= x_(K)``.
    """
    x = np.sort(np.asarray(samples, float), axis=1)
    y = np.asarray(y, float)
    k = x.shape[1]
    if k < 2:
        raise ValueError("the sample CRPS needs at least 2 samples")
    e_xy = np.abs(x - y[:, None]).mean(axis=1)
    i = np.arange(1, k + 1)
    e_xx = 2.0 / (k * (k - 1)) * (x * (2 * i - k - 1)).sum(axis=1)
    return e_xy - 0.5 * e_xx


def crps_from_quantiles(q: np.ndarray, levels: Sequence[float], y: np.ndarray) -> np.ndarray:
    """Approximate CRPS as 2 x the mean pinball loss over a quantile grid.

    Exact in the limit of a dense uniform grid (CRPS = 2 * integral of the pinball loss over
    tau in (0, 1)); with few levels it is only a rough approximation (it ignores the tails
    beyond the outermost levels). Not used for the hindcast tables.
    """
    return 2.0 * mean_pinball(q, y, levels)


def sample_quantiles(samples: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Empirical quantiles (linear interpolation) of each row: ``(n, len(levels))``."""
    return np.quantile(np.asarray(samples, float), np.asarray(levels, float), axis=1).T


def sample_pit(samples: np.ndarray, y: np.ndarray) -> np.ndarray:
    """PIT of ``y`` under the empirical CDF of each row (mid-rank for ties)."""
    x = np.asarray(samples, float)
    y = np.asarray(y, float)[:, None]
    return ((x < y).sum(axis=1) + 0.5 * (x == y).sum(axis=1)) / x.shape[1]


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


def lqname(level: float) -> str:
    """Column name of a log-cost quantile: 0.05 -> ``lq05``."""
    return "l" + qname(level)


def forecast_scores(
    log_q: np.ndarray, levels: Sequence[float], log_actual: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-forecast interval hits and log-pinball from log quantiles at ``levels``.

    Returns ``{"cover50": bool, ..., "cover95": bool, "log_pinball": float, "log_error":
    float}`` arrays of length n; log-pinball uses the 7 :data:`LEVELS` (they must be among
    ``levels``); ``log_error`` is the median's error, ``log q50 - log_actual`` (log units).
    """
    lv = [round(float(v), 6) for v in levels]
    idx = {v: i for i, v in enumerate(lv)}
    y = np.asarray(log_actual, float)
    out: dict[str, np.ndarray] = {}
    for nominal, (lo, hi) in INTERVALS.items():
        if round(lo, 6) in idx and round(hi, 6) in idx:
            out[f"cover{nominal}"] = (log_q[:, idx[round(lo, 6)]] <= y) & (
                y <= log_q[:, idx[round(hi, 6)]]
            )
    cols = [idx[round(v, 6)] for v in LEVELS]
    out["log_pinball"] = mean_pinball(log_q[:, cols], y, LEVELS)
    out["log_error"] = log_q[:, idx[0.5]] - y
    return out


def score_table(forecasts: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """Aggregate per-forecast scores by ``by`` (e.g. ``["model", "horizon"]``).

    ``forecasts`` needs columns ``cover50/80/90/95`` (bool), ``log_pinball``, ``log_error``,
    ``crps`` and ``pit``. Output columns: the ``by`` columns, ``n`` (forecasts), ``n_series``,
    ``coverage50`` ... ``coverage95`` (shares in [0, 1]), ``log_pinball`` and ``crps`` (means,
    log units), ``bias_log`` and ``rmse_log`` (mean and root mean square of the median's log
    error), ``pit_mean`` and ``pit_sd`` (uniform PIT: 0.5 and 0.289).
    """
    aggs = [pl.len().alias("n"), pl.col("series_id").n_unique().alias("n_series")]
    for nominal in INTERVALS:
        aggs.append(pl.col(f"cover{nominal}").cast(pl.Float64).mean().alias(f"coverage{nominal}"))
    aggs += [
        pl.col("log_pinball").mean(),
        pl.col("crps").mean(),
        pl.col("log_error").mean().alias("bias_log"),
        pl.col("log_error").pow(2).mean().sqrt().alias("rmse_log"),
        pl.col("pit").mean().alias("pit_mean"),
        pl.col("pit").std().alias("pit_sd"),
    ]
    return forecasts.group_by(list(by)).agg(aggs).sort(list(by))


def pit_histogram(
    forecasts: pl.DataFrame, by: Sequence[str] = ("model",), bins: int = 10
) -> pl.DataFrame:
    """PIT histogram per group: columns ``by``, ``bin`` (0-based), ``bin_lo``, ``bin_hi``,
    ``count`` and ``density`` (count / (n * bin width); 1.0 everywhere when calibrated)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for key, g in forecasts.group_by(list(by), maintain_order=True):
        pit = g["pit"].to_numpy()
        counts, _ = np.histogram(np.clip(pit, 0.0, 1.0), bins=edges)
        n = max(int(pit.size), 1)
        for b in range(bins):
            rows.append(
                {
                    **dict(zip(by, key, strict=True)),
                    "bin": b,
                    "bin_lo": float(edges[b]),
                    "bin_hi": float(edges[b + 1]),
                    "count": int(counts[b]),
                    "density": float(counts[b] / (n * (edges[b + 1] - edges[b]))),
                }
            )
    schema = {c: forecasts.schema[c] for c in by} | {
        "bin": pl.Int64,
        "bin_lo": pl.Float64,
        "bin_hi": pl.Float64,
        "count": pl.Int64,
        "density": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema).sort([*by, "bin"])
