"""Learning-rate capability draws: a nation's posterior learning rate as a race metric.

A learning rate is a property of the fitted curve, not of a year: the national Wright exponent
``w_nation`` of a nation-level learning fit (e.g. the solar nation fit) gives the learning rate
``LR = 1 - 2**(-w)`` (fraction of unit cost lost per doubling of cumulative production), the
same in every year of one draw. Nations the fit does not cover are NaN.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.race.draws import MetricDraws, make_draws
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric


def learning_rate_draws(
    fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    *,
    seed: int,
    n_draws: int,
    source: str = "calibration/solar_nation_fit",
    observed_through: Mapping[str, int] | None = None,
) -> MetricDraws:
    """Draws of each competing nation's learning rate (fraction per doubling) in every year.

    ``fit`` must hold ``w_nation`` (dims chain, draw, nation). ``n_draws`` posterior draws are
    taken without replacement where there are enough (with replacement otherwise), seeded;
    the same draw index is used for every nation, so the nations' rates stay joint.
    ``observed_through``: nation -> last year of its cost series (the rate is a posterior
    estimate in every year; this says which years the data behind it covers).
    """
    metric = industry.capability
    if not isinstance(metric, Metric) or metric.measure != "learning_rate":
        raise ModelError(f"race {industry.id}: the capability metric is not a learning rate")
    post = fit["posterior"].to_dataset()
    if "w_nation" not in post:
        raise ModelError(f"race {industry.id}: the fit {source} has no w_nation")
    w = post["w_nation"].stack(sample=("chain", "draw")).transpose("sample", "nation")
    fitted = [str(n) for n in w["nation"].values]
    rng = np.random.default_rng(seed)
    total = w.sizes["sample"]
    idx = rng.choice(total, size=n_draws, replace=n_draws > total)
    w_np = np.asarray(w.values)[idx]
    nations = [e.code for e in industry.nations]
    out = np.full((n_draws, len(nations), len(years)), np.nan)
    for j, nation in enumerate(nations):
        if nation in fitted:
            rate = 1.0 - 2.0 ** (-w_np[:, fitted.index(nation)])
            out[:, j, :] = rate[:, None]
    unit = "fraction per doubling"
    return make_draws(
        industry.id,
        "capability",
        out,
        nations,
        years,
        unit=unit,
        source=source,
        observed_through=dict(observed_through or {}),
    )
