"""Scaling laws and the research frontier: one import point for the Dagster and CLI layers.

The models live in three modules, one idea each:

- :mod:`.av` (+ :mod:`.av_data`, :mod:`.av_posterior`): autonomous-vehicle capability (miles per disengagement) against cumulative miles,
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
    check_av_fit,
    compare_av_forms,
    compile_av,
    fit_av,
)
from learnrace_pipeline.lib.models.av_data import AvData, prepare_av_data, simulate_av_testing
from learnrace_pipeline.lib.models.av_posterior import av_capability_table, av_mpd_forecast
from learnrace_pipeline.lib.models.chinchilla import (
    BESIROGLU_2024,
    ChinchillaConfig,
    chinchilla_summary,
    compile_chinchilla,
    compute_optimal,
    fit_chinchilla,
    simulate_runs,
    tokens_per_parameter,
)
from learnrace_pipeline.lib.models.frontier import (
    FRONTIER_SAMPLER,
    FrontierConfig,
    FrontierData,
    FrontierPriors,
    compile_frontier,
    fit_frontier,
    fit_frontier_data,
    frontier_at,
    frontier_table,
    gap_years,
    leader_probability,
    prepare_frontier_data,
    record_leader,
    select_frontier,
    simulate_frontier_data,
)

__all__ = [
    "AV_SAMPLER",
    "BESIROGLU_2024",
    "FRONTIER_SAMPLER",
    "AvConfig",
    "AvData",
    "AvPriors",
    "ChinchillaConfig",
    "FrontierConfig",
    "FrontierData",
    "FrontierPriors",
    "av_capability_table",
    "av_mpd_forecast",
    "check_av_fit",
    "chinchilla_summary",
    "compare_av_forms",
    "compile_av",
    "compile_chinchilla",
    "compile_frontier",
    "compute_optimal",
    "fit_av",
    "fit_chinchilla",
    "fit_frontier",
    "fit_frontier_data",
    "frontier_at",
    "frontier_table",
    "gap_years",
    "leader_probability",
    "prepare_av_data",
    "prepare_frontier_data",
    "record_leader",
    "select_frontier",
    "simulate_av_testing",
    "simulate_frontier_data",
    "simulate_runs",
    "tokens_per_parameter",
]
