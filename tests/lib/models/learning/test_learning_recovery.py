"""Parameter recovery: simulate panels from known w, m, rho and tau, refit one compiled model.

20 replications share one layout (3 industries x 4 series x 20 years), so the model is compiled
once and every replication is swapped in with ``fit(panel=...)``. The 90% central posterior
intervals must contain the truth in at least 85% of the replications, for each population
parameter, and for the series-level exponents pooled over replications.
"""

from __future__ import annotations

import numpy as np
import pytest

from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
from learnrace_pipeline.lib.models.learning.panel import build_panel
from learnrace_pipeline.lib.models.learning.simulate import synthetic_frames

N_REPS = 20
TRUTH = {"w_all": 0.35, "m_all": 0.02, "rho": 0.2, "tau_w_series": 0.08}


def _replicate(seed: int):
    frames, truth = synthetic_frames(
        n_industries=3, series_per_industry=4, n_points=(20, 20), w_all=TRUTH["w_all"],
        m_all=TRUTH["m_all"], tau_industry=0.08, tau_series=TRUTH["tau_w_series"], tau_m=0.01,
        sigma=0.08, rho=TRUTH["rho"], seed=seed,
    )  # fmt: skip
    panel = build_panel(frames["cost_observations"], frames["production"], frames["technologies"])
    return panel, truth


@pytest.fixture(scope="module")
def recovery() -> dict[str, list[bool]]:
    first, _ = _replicate(1000)
    model = LearningCurveModel(
        first,
        LearningConfig(trend="both", noise="normal", ma1=True),
        base.SamplerConfig(draws=400, tune=400, chains=2, seed=11),
    )
    hits: dict[str, list[bool]] = {k: [] for k in TRUTH} | {"w_series": []}
    for rep in range(N_REPS):
        panel, truth = _replicate(1000 + rep)
        dt = model.fit(panel=panel, log_likelihood=False, predictive=False)
        post = dt.posterior
        for name, value in TRUTH.items():
            lo, hi = np.quantile(post[name].values, [0.05, 0.95])
            hits[name].append(bool(lo <= value <= hi))
        lo, hi = post["w_series"].quantile([0.05, 0.95], dim=("chain", "draw")).values
        true_w = np.array([truth.w_series[s] for s in post["series"].values])
        hits["w_series"] += ((lo <= true_w) & (true_w <= hi)).tolist()
    return hits


@pytest.mark.slow
@pytest.mark.parametrize("name", [*TRUTH, "w_series"])
def test_90pct_intervals_cover_the_truth(recovery, name) -> None:
    share = float(np.mean(recovery[name]))
    n = len(recovery[name])
    print(f"recovery coverage {name}: {share:.0%} of {n}")
    assert n == (N_REPS * 12 if name == "w_series" else N_REPS)
    assert share >= 0.85, f"{name}: 90% intervals covered the truth in {share:.0%} of {n}"
