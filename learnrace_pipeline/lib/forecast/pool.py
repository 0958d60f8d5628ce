"""The equal-weight linear pool of the Wright and experience+time forecasters.

The predictive distribution of log unit cost at each target is the mixture, with weights 1/2
and 1/2, of the pooled Wright forecaster's (:mod:`.forecaster`, a Wright prior) and the
experience+time forecaster's (:mod:`.experience_time`, a prior with a drift), each conditioned
on the same series and production path::

    p(log c_{T+h} | data) = 1/2 p_wright(log c_{T+h} | data) + 1/2 p_experience_time(...)

Samples are the union of the two forecasters' samples (``n_samples`` each, independent seeds),
so every quantile is the mixture's. Where the two disagree (Wright's median above the
experience+time one at long horizons, as in the hindcasts), the mixture is wider than either;
where they agree it is about either. The weights are equal by construction, not fitted: the
hindcast chose this model among single models and pools, never the weight
(docs/decisions/2026-12-06-experience-time-forecaster.md).

Per series, the posterior of ``(w, m)`` is the same mixture: Wright's draws of ``w`` with
``m = 0`` and the experience+time draws of ``(w, m)``; the channel attribution of the
deterministic decline (experience ``w dlog Q``, time ``m h``) is taken over the union of both
forecasters' samples.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.forecast.forecaster import (
    ATTRIBUTION_COLUMNS,
    decline_attribution,
    simulate,
)
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.series import exponent_summary
from learnrace_pipeline.lib.forecast.types import ForecastConfig, ForecastSamples, ForecastTask

#: ``model`` label stem of the pool's forecasts
POOL_MODEL_NAME = "pool_wright_experience_time"


def _priors_ok(
    priors: PopulationPrior | Mapping[str, PopulationPrior], drift: bool, what: str
) -> None:
    values = [priors] if isinstance(priors, PopulationPrior) else list(priors.values())
    if any(p.has_drift != drift for p in values):
        raise ModelError(
            f"the pool needs {what} priors {'with' if drift else 'without'} a time drift"
        )


def simulate_pool(
    task: ForecastTask,
    wright: PopulationPrior | Mapping[str, PopulationPrior],
    experience_time: PopulationPrior | Mapping[str, PopulationPrior],
    level_of: Mapping[str, str] | None = None,
    config: ForecastConfig = ForecastConfig(),
    *,
    progress: Callable[[int], None] | None = None,
) -> ForecastSamples:
    """Samples of the equal-weight pool (``2 * n_samples`` per target): the union of
    :func:`.forecaster.simulate` with the Wright priors (seed ``config.seed``) and with the
    experience+time priors (seed ``config.seed + 1``).

    ``progress`` is called as in :func:`.forecaster.simulate`, by each half in turn (twice the
    series in all).

    Returns ``ForecastSamples`` whose ``series`` summarises the mixture posterior of ``w`` and
    ``m`` (``m = 0`` in the Wright half) and whose ``attribution`` is over the union.

    Raises:
        ModelError: a Wright prior with a drift, or an experience+time prior without one.
    """
    _priors_ok(wright, False, "Wright")
    _priors_ok(experience_time, True, "experience+time")
    a = simulate(task, wright, level_of, config, keep_draws=True, progress=progress)
    b = simulate(
        task, experience_time, level_of, dataclasses.replace(config, seed=config.seed + 1),
        keep_draws=True, progress=progress,
    )  # fmt: skip
    if not a.targets.equals(b.targets):
        raise ModelError("internal: the two forecasters returned different targets")
    da, db = a.draws, b.draws
    parts = np.concatenate([da["parts"], db["parts"]], axis=2)
    attr = decline_attribution(parts[0], parts[1])
    attribution = a.targets.select("series_id", "year", "horizon").with_columns(
        *[pl.Series(name, attr[:, j]) for j, name in enumerate(ATTRIBUTION_COLUMNS)]
    )
    w = np.concatenate([da["w"], db["w"]], axis=1)
    m = np.concatenate([np.zeros_like(da["w"]), db["m"]], axis=1)
    series_ids = a.series["series_id"].to_list()
    return ForecastSamples(
        a.targets,
        np.concatenate([a.samples, b.samples], axis=1),
        exponent_summary(series_ids, da["levels"], da["n_costs"], w, m),
        log_q=a.log_q,
        attribution=attribution,
    )
