"""Per-origin fits of a rolling-origin hindcast: the pooled Wright (or time-trend) model,
compiled once.

:class:`PooledFitter` compiles the pooled hierarchical Wright model
(:class:`learnrace_pipeline.lib.models.learning.LearningCurveModel`, Student-t or normal MA(1)
noise; ``trend="time"``: the time-trend model ``dlog c = -m dt + e`` of series without
production, whose population prior holds the drift ``m`` in log cost per year) once for the
whole panel and refits it at each origin by swapping the data (a training
view of the same shapes, later differences masked), without recompiling. Each fit returns the
population priors of a new series by level (``PopulationPrior``; w in log cost per log unit of
cumulative production, sigma in log cost per sqrt(year)) and sampler diagnostics of the
population parameters (:data:`HYPER_PARAMETERS`). ``recompile=True`` is the naive approach, a
freshly built and compiled model per origin, kept to measure the speed-up in
``bench/bench_forecast.py``. :class:`OriginFitter` is the interface
:func:`.hindcast.run_hindcast` calls; tests pass their own to inspect what a fit receives.
"""

from __future__ import annotations

import time
from typing import Literal, Protocol

import numpy as np
import xarray as xr

from learnrace_pipeline.lib.forecast.priors import PopulationPrior, population_priors
from learnrace_pipeline.lib.models import diagnostics
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.learning.panel import Panel

HYPER_PARAMETERS = (
    "w_all",
    "tau_w_industry",
    "tau_w_series",
    "m_all",
    "tau_m_industry",
    "tau_m_series",
    "log_sigma_all",
    "tau_log_sigma",
    "rho",
    "nu",
)


def experience_time_sampler() -> SamplerConfig:
    """NUTS settings of each per-origin experience+time fit: 2 chains x 500 draws after 1,000
    warm-up steps at target_accept 0.95. The forecaster keeps at most 400 population draws
    (``ForecastConfig.max_prior_draws`` of the hindcast), so 1,000 draws are enough; see
    docs/decisions/2026-12-06-warehouse-hindcast-forecasters.md."""
    return SamplerConfig(draws=500, tune=1000, chains=2, seed=20240601, target_accept=0.95)


def default_sampler() -> SamplerConfig:
    """NUTS settings of each per-origin fit: 2 chains x 1,000 draws after 1,000 warm-up steps
    at target_accept 0.95 (see docs/decisions/2026-11-28-hindcast-per-origin-sampler.md). Each
    origin's sampler diagnostics are reported in ``evaluation.origins``."""
    return SamplerConfig(draws=1000, tune=1000, chains=2, seed=20240601, target_accept=0.95)


class OriginFitter(Protocol):
    """Fits the population model on a training view; returns priors by level and diagnostics."""

    def __call__(
        self, origin: int, train: Panel, mask: np.ndarray
    ) -> tuple[dict[str, PopulationPrior], dict[str, float]]: ...


def _diagnostics(dt: xr.DataTree) -> dict[str, float]:
    """Divergences, worst rank R-hat and bulk ESS of the population parameters (ArviZ's
    estimators, vectorised: :mod:`learnrace_pipeline.lib.models.diagnostics`), seconds."""
    post = dt["posterior"].to_dataset()
    names = [v for v in HYPER_PARAMETERS if v in post]
    out = {"divergences": float(dt["sample_stats"]["diverging"].sum())}
    if dt["posterior"].sizes.get("chain", 1) > 1:
        rhat = diagnostics.rhat(post[names])
        out["max_rhat"] = float(max(float(rhat[v].max()) for v in names))
    else:
        out["max_rhat"] = float("nan")
    ess = diagnostics.ess(post[names], "bulk")
    out["min_ess_bulk"] = float(min(float(ess[v].min()) for v in names))
    out["sample_seconds"] = float(dt.attrs.get("sample_seconds", np.nan))
    return out


class PooledFitter:
    """Compile the pooled Wright (``trend="wright"``), time-trend (``trend="time"``) or
    experience+time (``trend="both"``, priors with the drift ``m``) model once for ``panel``;
    refit per origin by swapping data.

    ``recompile=True`` is the naive approach (a freshly built and compiled model per origin),
    kept only to measure the speed-up in ``bench/bench_forecast.py``.
    """

    def __init__(
        self,
        panel: Panel,
        sampler: SamplerConfig | None = None,
        *,
        recompile: bool = False,
        max_prior_draws: int | None = None,
        noise: Literal["student_t", "normal"] = "student_t",
        trend: Literal["wright", "time", "both"] = "wright",
    ) -> None:
        from learnrace_pipeline.lib.models.learning import LearningConfig, LearningCurveModel

        self._cls = LearningCurveModel
        self.config = LearningConfig(trend=trend, noise=noise, ma1=True, level="pooled")
        self.sampler = sampler or default_sampler()
        self.panel = panel
        self.recompile = recompile
        self.max_prior_draws = max_prior_draws
        self.lcm = None if recompile else LearningCurveModel(panel, self.config, self.sampler)
        self.compile_seconds = 0.0
        self.fits = 0

    def compile(self) -> float:
        """Compile now (timed); returns the seconds spent (0 if already compiled)."""
        if self.lcm is None or self.lcm._compiled is not None:
            return 0.0
        t0 = time.perf_counter()
        self.lcm.compile()
        seconds = time.perf_counter() - t0
        self.compile_seconds += seconds
        return seconds

    def __call__(
        self, origin: int, train: Panel, mask: np.ndarray
    ) -> tuple[dict[str, PopulationPrior], dict[str, float]]:
        t0 = time.perf_counter()
        if self.recompile:
            lcm = self._cls(train, self.config, self.sampler)
            lcm.compile()
            self.compile_seconds += time.perf_counter() - t0
        else:
            lcm = self.lcm
            self.compile()
            lcm.panel = train  # same shapes: the compiled model is reused
        dt = lcm.fit(mask=mask, log_likelihood=False, predictive=False)
        self.fits += 1
        priors = population_priors(dt, max_draws=self.max_prior_draws)
        diag = _diagnostics(dt)
        diag["fit_seconds"] = time.perf_counter() - t0
        return priors, diag
