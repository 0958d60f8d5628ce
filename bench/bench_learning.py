"""Benchmark: the pooled hierarchical learning-curve fit of every PCDB series.

Measures, in one run on this machine:

1. **Pooled fit, compiled once**: every PCDB technology series (the ``expCurveData`` files read
   by :mod:`learnrace_pipeline.lib.sources.pcdb_carnegie`: about 70 series, 1,400 differences)
   in one partially pooled Wright model (default :class:`LearningConfig`: Student-t noise,
   MA(1), series within industry within all), sampled with nutpie (the model's default sampler:
   4 chains x 2,000 draws after 1,000 tuning steps). Compile time, sampling time,
   post-processing (log-likelihood, predictive draws, provenance) and the blocking checks are
   timed separately. Target: the whole fit in <= 60 s wall with every check passing
   (docs/decisions/2026-11-28-benchmark-targets.md).
2. **Naive**: each series in its own freshly built and compiled model (same config, same
   sampler settings), one after another; compile and sampling totals reported.

Prints a table and writes ``bench/results/bench_learning.json`` (gitignored).
Run: ``.venv/bin/python -m bench.bench_learning [--naive-limit N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import polars as pl
from rich.console import Console
from rich.table import Table

from bench.common import save_json
from learnrace_pipeline.lib.models import base, diagnostics
from learnrace_pipeline.lib.models.learning import (
    DEFAULT_SAMPLER,
    LearningConfig,
    LearningCurveModel,
    summaries,
)
from learnrace_pipeline.lib.models.learning.panel import Panel, build_panel
from learnrace_pipeline.lib.sources import pcdb_carnegie

RAW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"
console = Console()


def pcdb_panel(raw_dir: Path) -> tuple[Panel, dict[str, pl.DataFrame]]:
    tables = pcdb_carnegie.read(raw_dir)
    tech = tables["technologies"]
    ids = tech.filter(pl.col("description").str.starts_with("PCDB "))["series_id"].to_list()
    panel = build_panel(tables["cost_observations"], tables["production"], tech, series_ids=ids)
    return panel, tables


def pooled(panel: Panel, sampler: base.SamplerConfig) -> dict:
    t0 = time.perf_counter()
    lcm = LearningCurveModel(panel, LearningConfig(), sampler)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    lcm.compile()
    compile_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    dt = lcm.fit()
    fit_s = time.perf_counter() - t2
    t3 = time.perf_counter()
    check = diagnostics.check_fit(dt)
    check_s = time.perf_counter() - t3
    total = time.perf_counter() - t0
    table = summaries.learning_rates(dt)
    pooled_row = table.filter(pl.col("level") == "all_technologies").row(0, named=True)
    pop_row = table.filter(pl.col("level") == "all").row(0, named=True)
    return {
        "series": panel.n_series,
        "points": panel.n_obs,
        "build_s": build,
        "compile_s": compile_s,
        "sample_s": float(dt.attrs["sample_seconds"]),
        "postprocess_s": fit_s - float(dt.attrs["sample_seconds"]),
        "checks_s": check_s,
        "total_s": total,
        "checks_passed": check.passed,
        "checks": check.describe(),
        "w_mean_of_series": pooled_row["w_mean"],
        "w_mean_of_series_q05_q95": [pooled_row["w_q05"], pooled_row["w_q95"]],
        "w_all": pop_row["w_mean"],
        "w_all_q05_q95": [pop_row["w_q05"], pop_row["w_q95"]],
        "rho": pop_row["rho_mean"],
        "model_id": dt.attrs["model_id"],
    }


def naive(panel_tables: dict[str, pl.DataFrame], ids: list[str], sampler) -> dict:
    compile_s = sample_s = 0.0
    t0 = time.perf_counter()
    for sid in ids:
        one = build_panel(
            panel_tables["cost_observations"],
            panel_tables["production"],
            panel_tables["technologies"],
            series_ids=[sid],
        )
        lcm = LearningCurveModel(one, LearningConfig(), sampler)
        t1 = time.perf_counter()
        lcm.compile()
        compile_s += time.perf_counter() - t1
        t2 = time.perf_counter()
        lcm.fit()
        sample_s += time.perf_counter() - t2
    return {
        "series": len(ids),
        "compile_s": compile_s,
        "sample_s": sample_s,
        "total_s": time.perf_counter() - t0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--raw-dir", type=Path, default=RAW)
    parser.add_argument("--naive-limit", type=int, default=None, help="naive: first N series")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    sampler = DEFAULT_SAMPLER
    load_before = os.getloadavg()
    panel, tables = pcdb_panel(args.raw_dir)
    res_pooled = pooled(panel, sampler)
    ids = panel.series["series_id"].to_list()[: args.naive_limit]
    res_naive = naive(tables, ids, sampler)
    load_after = os.getloadavg()

    tab = Table(
        title=f"Learning-curve fit of the PCDB series (nutpie, {sampler.chains} chains x "
        f"{sampler.draws} draws)"
    )
    for col in ("approach", "series", "compile s", "sample s", "other s", "total s"):
        tab.add_column(col, justify="right" if col != "approach" else "left")
    p = res_pooled
    tab.add_row(
        "pooled hierarchical, compiled once", str(p["series"]), f"{p['compile_s']:.1f}",
        f"{p['sample_s']:.1f}", f"{p['build_s'] + p['postprocess_s'] + p['checks_s']:.1f}",
        f"{p['total_s']:.1f}",
    )  # fmt: skip
    n = res_naive
    tab.add_row(
        "naive: fresh model per series", str(n["series"]), f"{n['compile_s']:.1f}",
        f"{n['sample_s']:.1f}", f"{n['total_s'] - n['compile_s'] - n['sample_s']:.1f}",
        f"{n['total_s']:.1f}",
    )  # fmt: skip
    console.print(tab)
    console.print(
        f"pooled: {p['points']} differences; checks passed: {p['checks_passed']} "
        f"({p['checks']}); mean series exponent {p['w_mean_of_series']:.3f}, "
        f"w_all {p['w_all']:.3f}, rho {p['rho']:.3f}; target <= 60 s: "
        f"{'met' if p['total_s'] <= 60 and p['checks_passed'] else 'NOT met'}"
    )
    console.print(f"load average before {load_before}, after {load_after} (2-core machine)")
    out = {
        "pooled": res_pooled,
        "naive": res_naive,
        "sampler": json.loads(base.config_json(sampler)),
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    save_json("bench_learning.json", out)


if __name__ == "__main__":
    main()
