"""Scaling laws and the research frontier: one import point for the Dagster and CLI layers.

The models live in three modules, one idea each:

- :mod:`.av`: autonomous-vehicle capability (miles per disengagement) against cumulative miles,
  per company pooled within nation (CA DMV); power law and saturating forms, PSIS-LOO compare.
- :mod:`.frontier`: log10 training compute of record-setting AI models against time, per nation
  (Epoch AI); doubling times and the gap to the leader in years.
- :mod:`.chinchilla`: the loss law L = E + A/N^alpha + B/D^beta and compute-optimal allocation.

Typical use::

    dt = fit_av(av_testing)                      # -> xarray.DataTree (provenance attrs)
    av_capability_table(dt)                      # per company and nation
    av_mpd_forecast(dt, report_year=2025)        # per company: MPD quantiles
    dt = fit_frontier(ai_models)
    frontier_at(dt, as_of=date(2024, 6, 30))     # per nation: q05..q95 log10 FLOP, doubling, gap
"""

from __future__ import annotations

from learnrace_pipeline.lib.models.av import (
    AV_SAMPLER,
    AvConfig,
    AvPriors,
    av_capability_table,
    av_mpd_forecast,
    compare_av_forms,
    compile_av,
    fit_av,
    prepare_av_data,
    simulate_av_testing,
)
from learnrace_pipeline.lib.models.chinchilla import (
    BESIROGLU_2024,
    ChinchillaConfig,
    chinchilla_summary,
    compute_optimal,
    fit_chinchilla,
    simulate_runs,
    tokens_per_parameter,
)
from learnrace_pipeline.lib.models.frontier import (
    FRONTIER_SAMPLER,
    FrontierConfig,
    FrontierPriors,
    fit_frontier,
    frontier_at,
    frontier_table,
    gap_years,
    select_frontier,
)

__all__ = [
    "AV_SAMPLER",
    "BESIROGLU_2024",
    "FRONTIER_SAMPLER",
    "AvConfig",
    "AvPriors",
    "ChinchillaConfig",
    "FrontierConfig",
    "FrontierPriors",
    "av_capability_table",
    "av_mpd_forecast",
    "chinchilla_summary",
    "compare_av_forms",
    "compile_av",
    "compute_optimal",
    "fit_av",
    "fit_chinchilla",
    "fit_frontier",
    "frontier_at",
    "frontier_table",
    "gap_years",
    "prepare_av_data",
    "select_frontier",
    "simulate_av_testing",
    "simulate_runs",
    "tokens_per_parameter",
]
