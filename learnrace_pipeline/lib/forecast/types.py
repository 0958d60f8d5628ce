"""Shared types of the forecaster: the task, its settings, the samples it returns, the quantile
levels of every forecast output and their column names.

Log units throughout: ``log_cost`` is the natural log of unit cost in the input's cost unit,
``log_q`` the natural log of cumulative production in the input's production unit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

#: Quantile levels of every forecast output (``q05 ... q95``).
LEVELS: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)


def qname(level: float) -> str:
    """Column name of a quantile level: 0.05 -> ``q05``, 0.5 -> ``q50``, 0.025 -> ``q025``,
    0.975 -> ``q975``."""
    pct = level * 100
    if abs(pct - round(pct)) < 1e-9:
        return f"q{round(pct):02d}"
    return "q" + f"{pct:04.1f}".replace(".", "")


#: Default damping phi of projected production growth (:mod:`.production`): 1, the undamped
#: random walk with drift (docs/decisions/2026-12-06-damped-production-projection.md).
PRODUCTION_DAMPING = 1.0

MODEL_NAME = "pooled_wright_ma1"
MODEL_NAME_T = "pooled_wright_student_t_ma1"
#: ``model`` label stems of experience+time forecasts (normal or Student-t MA(1) noise)
ET_MODEL_NAME = "pooled_experience_time_ma1"
ET_MODEL_NAME_T = "pooled_experience_time_student_t_ma1"
#: The model ``learnrace forecast --model auto`` uses: the one the warehouse's rolling-origin
#: hindcast scores best (docs/decisions/2026-12-06-experience-time-forecaster.md).
AUTO_MODEL = "pool"


# --------------------------------------------------------------------------------------------
# the forecasting task
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastTask:
    """What to forecast, in logs.

    Attributes:
        obs: observed points ``series_id, year, log_cost, log_q`` (log unit cost, log cumulative
            production; >= 3 points per series, years strictly increasing).
        targets: ``series_id, year, log_q`` with ``log_q`` null where production is unknown;
            every target year is after the series' last observed year.
        annual: ``series_id, year, log_annual`` (log annual production history, used only to
            project production for targets with unknown ``log_q``), or None.
    """

    obs: pl.DataFrame
    targets: pl.DataFrame
    annual: pl.DataFrame | None = None


@dataclass(frozen=True)
class ForecastConfig:
    """Settings of the pooled forecaster.

    Attributes:
        n_samples: Monte Carlo samples per forecast.
        sigma_nodes: quadrature nodes in log sigma.
        max_prior_draws: population draws used (evenly thinned).
        chunk: series per vectorised block (memory ~ chunk x draws x nodes).
        seed: seed of every random draw.
        production_damping: phi of the damped-trend projection of annual production: the
            growth of log annual production ``j`` years after the last known year is
            ``g * phi^(j - 1)`` (phi = 1: undamped random walk with drift).
    """

    n_samples: int = 2000
    sigma_nodes: int = 96
    max_prior_draws: int = 500
    chunk: int = 48
    seed: int = 20240601
    production_damping: float = PRODUCTION_DAMPING


@dataclass(frozen=True)
class ForecastSamples:
    """Samples of log unit cost per target.

    ``targets`` has ``series_id, year, horizon`` (years after the last observed cost),
    ``production`` (``given``/``interpolated``/``projected``) and ``level`` (prior used), in the
    row order of ``samples`` (``(n_targets, n_samples)``, log of the input's cost unit).
    ``series`` has one row per input series (with or without years to forecast): the posterior
    of its Wright exponent and learning rate (:func:`.series.exponent_summary`).
    ``log_q`` (``(n_targets, 3)``) holds the 5/50/95% quantiles of log cumulative production
    at each target (the same value three times where production is given or interpolated).
    ``attribution`` has one row per target (``series_id, year, horizon``) with the mean and
    5/50/95% quantiles of the two parts of the deterministic forecast decline of log cost:
    ``decline_experience_*`` (``w`` times the growth of log cumulative production) and
    ``decline_time_*`` (the drift ``m`` times the horizon in years; 0 for a Wright-only prior).
    ``draws`` (only when asked for) holds each series' draws ``w`` and ``m`` (``(n_series,
    n_samples)``, ``m`` None without a drift) and ``parts`` (``(2, n_targets, n_samples)``: the
    experience and time parts of the deterministic decline per sample), with ``levels`` and
    ``n_costs`` per series.
    """

    targets: pl.DataFrame
    samples: np.ndarray
    series: pl.DataFrame | None = None
    log_q: np.ndarray | None = None
    attribution: pl.DataFrame | None = None
    draws: dict | None = None

    def quantiles(self, levels: Sequence[float] = LEVELS) -> np.ndarray:
        return np.quantile(self.samples, np.asarray(levels), axis=1).T


@dataclass(frozen=True)
class ForecastSummary:
    """Quantiles of log unit cost per target, without the samples they were computed from
    (a forecast summarised block by block of series, so memory does not grow with the samples).

    ``targets`` as in :class:`ForecastSamples` (``series_id, year, horizon, production,
    level``); ``log_cost_q`` (``(n_targets, len(levels))``) the quantiles of log unit cost at
    ``levels`` (log of the input's cost unit; NaN where ``finite`` is False); ``finite`` whether
    every sample of the target was finite; ``series``, ``log_q`` as in
    :class:`ForecastSamples`; ``attribution`` the decline attribution of
    :class:`ForecastSamples` for each series' furthest target only (the one
    :func:`.series.attribution_summary` reports).
    """

    targets: pl.DataFrame
    log_cost_q: np.ndarray
    finite: np.ndarray
    levels: tuple[float, ...] = LEVELS
    series: pl.DataFrame | None = None
    log_q: np.ndarray | None = None
    attribution: pl.DataFrame | None = None

    def quantiles(self, levels: Sequence[float] = LEVELS) -> np.ndarray:
        """The stored quantiles ``(n_targets, len(levels))``; ``levels`` must be the stored
        ones (the samples are gone)."""
        if tuple(float(v) for v in levels) != tuple(float(v) for v in self.levels):
            raise ValueError(f"this summary holds the quantiles at {self.levels}, not {levels}")
        return self.log_cost_q
