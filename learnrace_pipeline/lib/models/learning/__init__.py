"""Bayesian learning-curve models: Wright's law, the time trend (Moore) and experience+time,
pooled across series, industries and all technologies, or per nation with a spillover share.

Log unit cost ``c`` of series ``s`` falls with log cumulative production ``q`` (experience) and/or
calendar time, on first differences between observed years ``dt`` apart::

    dlog c = -w dlog q - m dt + e,   learning rate per doubling = 1 - 2^-w

with Normal or Student-t innovations, iid or MA(1); the equations of every variant are in
:mod:`.model`.

Modules:

- :mod:`.config`: which model (:class:`LearningConfig`), its priors (:class:`LearningPriors`);
- :mod:`.panel`: the first-difference panel (:class:`Panel`, :func:`build_panel`,
  :func:`build_nation_panel`, :func:`load_panel` from the snapshot or raw files);
- :mod:`.model`: the PyMC models; :mod:`.loglik_op`: the fused MA(1) likelihood Op;
- :mod:`.fit`: :class:`LearningCurveModel`, compile once with nutpie and refit;
- :mod:`.numpy_mirror`: NumPy mirrors of the model used after sampling;
- :mod:`.posterior`: forecasts, population priors and spillover tables from a fit;
- :mod:`.summaries`: learning-rate and PSIS-LOO tables;
- :mod:`.simulate`: synthetic panels drawn from known parameters.

This package is the one public face: ``from learnrace_pipeline.lib.models.learning import
LearningCurveModel``. Names resolve lazily (PEP 562), so importing a light module such as
:mod:`.config` does not import PyMC.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> module of this package that defines it
_WHERE: dict[str, str] = {
    "LearningConfig": "config",
    "LearningPriors": "config",
    "Level": "config",
    "Noise": "config",
    "Trend": "config",
    "config_from_attrs": "config",
    "learning_rate": "config",
    "Panel": "panel",
    "build_panel": "panel",
    "build_nation_panel": "panel",
    "load_panel": "panel",
    "create_learning_model": "model",
    "DEFAULT_SAMPLER": "fit",
    "MODEL_TYPE": "fit",
    "LearningCurveModel": "fit",
    "add_deterministics": "numpy_mirror",
    "one_step_predictive": "numpy_mirror",
    "pointwise_log_likelihood": "numpy_mirror",
    "simulate_dlogc": "numpy_mirror",
    "forecast_log_cost": "posterior",
    "lambda_prior_posterior": "posterior",
    "population_priors": "posterior",
    "learning_rates": "summaries",
    "model_comparison": "summaries",
    "TruePanel": "simulate",
    "synthetic_frames": "simulate",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
