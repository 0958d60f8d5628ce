"""Recovery of Moore's-law rates from performance series (no production, sign flipped).

Performance series are simulated from known improvement rates (series drawn around industry
rates around ``g_all``), entered as ``metric_kind="performance"`` without any production, and
fitted by the pooled time-trend model with the performance priors on :func:`build_time_panel`
(``performance=True``). The
fitted ``m`` of ``1/performance`` must recover the improvement rates: the 90% interval of
``m_all`` covers ``g_all`` and the series' 90% intervals cover at least 80% of their true rates.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.learning.config import PERFORMANCE_PRIORS, LearningConfig
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
from learnrace_pipeline.lib.models.learning.simulate import synthetic_frames
from learnrace_pipeline.lib.models.learning.time_panel import build_time_panel

G_ALL = 0.35  # log performance gain per year (doubling about every 2 years)


@pytest.mark.slow
def test_performance_improvement_rates_recovered() -> None:
    # synthetic_frames draws dlog c = -w dlog Q - m + e; with w = 0 and m = -g the "cost" is
    # a performance level growing at g per year
    frames, truth = synthetic_frames(
        n_industries=3, series_per_industry=4, n_points=(20, 30), w_all=0.0, tau_industry=0.0,
        tau_series=0.0, m_all=-G_ALL, tau_m=0.05, sigma=0.1, rho=0.2, seed=5,
    )  # fmt: skip
    tech = frames["technologies"].with_columns(
        pl.lit("performance").alias("metric_kind"), pl.lit(None, pl.String).alias("production_unit")
    )
    panel = build_time_panel(frames["cost_observations"], tech, performance=True)
    assert panel.n_series == 12 and not panel.has_experience
    dt = LearningCurveModel(
        panel,
        LearningConfig(trend="time", noise="student_t", priors=PERFORMANCE_PRIORS),
        base.SamplerConfig(draws=500, tune=500, chains=2, seed=17, target_accept=0.99),
    ).fit(log_likelihood=False, predictive=False)
    post = dt.posterior
    lo, hi = np.quantile(post["m_all"].values, [0.05, 0.95])
    assert lo <= G_ALL <= hi, (lo, hi)
    q = post["m_series"].quantile([0.05, 0.95], dim=("chain", "draw")).values
    true_g = np.array([-truth.m_series[s] for s in post["series"].values])
    share = float(np.mean((q[0] <= true_g) & (true_g <= q[1])))
    assert share >= 0.8, share
    assert int(dt.sample_stats["diverging"].sum()) == 0
