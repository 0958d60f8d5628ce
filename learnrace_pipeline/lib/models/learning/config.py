"""Settings of the learning-curve models: which model (:class:`LearningConfig`), its prior
hyperparameters (:class:`LearningPriors`) and the parameterisation switches that depend on the
panel size. Units: ``w`` unit-free (cost ~ Q^-w), ``m`` log cost per year, ``sigma`` log cost
per sqrt(year). The PyMC model these configure is in :mod:`.model`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from learnrace_pipeline.lib.errors import ModelError

Trend = Literal["wright", "time", "both"]
Noise = Literal["normal", "student_t"]
Level = Literal["pooled", "nation"]


@dataclass(frozen=True)
class LearningPriors:
    """Prior hyperparameters (units: ``w`` unit-free, ``m`` and ``sigma`` per year).

    ``tau_*`` are HalfNormal scales of between-group spreads. ``rho`` is Normal(rho_mu, rho_sd)
    truncated to (-0.95, 0.95) (invertible MA(1)); ``nu`` is Gamma(nu_alpha, nu_beta).
    """

    w_mu: float = 0.25
    w_sd: float = 0.25
    tau_w_industry: float = 0.15
    tau_w_series: float = 0.15
    m_mu: float = 0.02
    m_sd: float = 0.05
    tau_m_industry: float = 0.03
    tau_m_series: float = 0.03
    log_sigma_mu: float = -2.3
    log_sigma_sd: float = 1.0
    tau_log_sigma: float = 0.7
    rho_mu: float = 0.0
    rho_sd: float = 0.3
    nu_alpha: float = 2.0
    nu_beta: float = 0.1
    tau_w_nation: float = 0.15
    lambda_logit_mu: float = 0.0
    lambda_logit_sd: float = 1.5
    tau_lambda: float = 1.0


@dataclass(frozen=True)
class LearningConfig:
    """Which learning-curve model: trend terms, noise law, MA(1) or iid, pooling level, priors."""

    trend: Trend = "wright"
    noise: Noise = "student_t"
    ma1: bool = True
    level: Level = "pooled"
    priors: LearningPriors = field(default_factory=LearningPriors)
    #: parameterisation of the per-series log noise scales: ``centred`` suits many series with
    #: well-identified scales (PCDB), ``non_centred`` few series (avoids a funnel as
    #: tau_log_sigma -> 0); ``auto`` picks centred from :data:`CENTRED_SIGMA_MIN_SERIES` series.
    sigma_param: Literal["auto", "centred", "non_centred"] = "auto"
    #: parameterisation of the industry level of the time trend (``m_industry``): ``centred``
    #: suits many series per industry (the industry means are then well identified),
    #: ``non_centred`` few; ``auto`` centres it from :data:`CENTRED_SIGMA_MIN_SERIES` series, like
    #: the noise scales (see docs/decisions/2026-11-28-centred-time-trend-industry-level.md).
    #: Series-level ``m`` stays non-centred. In the experience+time model the same switch centres
    #: the drifts of the industry and series levels (:mod:`.model` docstring); ``w`` given the
    #: drift is never centred.
    trend_param: Literal["auto", "centred", "non_centred"] = "auto"

    def __post_init__(self) -> None:
        if self.trend not in ("wright", "time", "both"):
            raise ModelError(f"unknown trend {self.trend!r}")
        if self.noise not in ("normal", "student_t"):
            raise ModelError(f"unknown noise {self.noise!r}")
        if self.level not in ("pooled", "nation"):
            raise ModelError(f"unknown level {self.level!r}")
        if self.sigma_param not in ("auto", "centred", "non_centred"):
            raise ModelError(f"unknown sigma_param {self.sigma_param!r}")
        if self.trend_param not in ("auto", "centred", "non_centred"):
            raise ModelError(f"unknown trend_param {self.trend_param!r}")
        if self.level == "nation" and self.trend == "time":
            raise ModelError("the nation level needs an experience term (trend wright or both)")

    @property
    def name(self) -> str:
        """Short label, e.g. ``wright_normal_ma1`` or ``both_student_t_iid_nation``."""
        label = f"{self.trend}_{self.noise}_{'ma1' if self.ma1 else 'iid'}"
        return label if self.level == "pooled" else f"{label}_nation"

    @property
    def has_w(self) -> bool:
        return self.trend in ("wright", "both")

    @property
    def has_m(self) -> bool:
        return self.trend in ("time", "both")


#: Priors of the Moore's-law fit of performance series (the time trend of 1/performance):
#: improvement rates of tens of percent per year (TOP500 FLOP/s and transistors per chip
#: gain 0.35-0.6 log per year), an order of magnitude above the cost time trends the default
#: ``m`` prior is set for; wider industry and series spreads to match.
PERFORMANCE_PRIORS = LearningPriors(m_mu=0.2, m_sd=0.3, tau_m_industry=0.2, tau_m_series=0.2)

#: ``sigma_param="auto"`` uses the centred form from this many series on.
CENTRED_SIGMA_MIN_SERIES = 30


def centred_trend(config: LearningConfig, n_series: int) -> bool:
    """Whether the time-trend levels are centred for this config and panel size."""
    if config.trend_param == "auto":
        return n_series >= CENTRED_SIGMA_MIN_SERIES
    return config.trend_param == "centred"


def centred_sigma(config: LearningConfig, n_series: int) -> bool:
    """Whether the per-series log noise scales are centred for this config and panel size."""
    if config.sigma_param == "auto":
        return n_series >= CENTRED_SIGMA_MIN_SERIES
    return config.sigma_param == "centred"


def config_from_attrs(model_config_json: str) -> LearningConfig:
    """Rebuild a :class:`LearningConfig` from a fit's ``model_config`` attribute."""
    raw = json.loads(model_config_json)
    priors = LearningPriors(**raw.pop("priors"))
    return LearningConfig(priors=priors, **raw)


def learning_rate(w: np.ndarray | float) -> np.ndarray | float:
    """Learning rate per doubling of cumulative production: ``1 - 2**-w``."""
    return 1.0 - np.power(2.0, -np.asarray(w))
