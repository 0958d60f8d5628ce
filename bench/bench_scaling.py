"""Benchmark: the AV capability and AI-frontier models fit with every convergence check passing.

For each model, on the real public tables (CA DMV ``av_testing``, Epoch ``ai_models``) when the
raw folder is present, else on data simulated from the model:

- wall time of the whole fit (compile + sample + post-processing) and of each part;
- the blocking checks of :func:`learnrace_pipeline.lib.models.diagnostics.check_fit`
  (R-hat <= 1.01, bulk/tail ESS >= 400, no divergences, E-BFMI >= 0.3);
- the headline figures (slopes per company and nation; doubling times and gap per nation);
- figures written to ``bench/results/`` (gitignored), plus ``bench_scaling.json``.

Target: each model <= 60 s on this 2-core machine
(docs/decisions/2026-11-28-benchmark-targets.md).
Run: ``.venv/bin/python -m bench.bench_scaling [--raw-dir DIR] [--saturating]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import polars as pl

from bench.common import RESULTS, save_json
from learnrace_pipeline.lib.models import av, frontier, frontier_data, frontier_posterior
from learnrace_pipeline.lib.models.av_data import simulate_av_testing
from learnrace_pipeline.lib.models.av_posterior import av_capability_table
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.report.plots_scaling import plot_av_experience, plot_frontier

TARGET_S = 60.0


def _load(raw_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame | None, str]:
    if raw_dir.is_dir():
        from learnrace_pipeline.lib.sources import ca_dmv_av, epoch_ai

        return ca_dmv_av.read(raw_dir)["av_testing"], epoch_ai.read(raw_dir)["ai_models"], "raw"
    frame, _ = simulate_av_testing(seed=7)
    return frame, None, "simulated"


def bench_av(av_testing: pl.DataFrame, form: str) -> dict:
    t0 = time.perf_counter()
    fit = av.fit_av(av_testing, av.AvConfig(form=form))
    wall = time.perf_counter() - t0
    check = av.check_av_fit(fit)
    table = av_capability_table(fit)
    png = plot_av_experience(fit)
    (RESULTS / f"av_experience_{form}.png").write_bytes(png)
    slopes = {
        (r["company"] or r["nation"]): [
            round(r["slope_q05"], 3),
            round(r["slope_q50"], 3),
            round(r["slope_q95"], 3),
        ]
        for r in table.iter_rows(named=True)
    }
    return {
        "form": form,
        "wall_s": round(wall, 2),
        "compile_s": round(fit.attrs["compile_seconds"], 2),
        "sample_s": round(fit.attrs["sample_seconds"], 2),
        "checks_passed": check.passed,
        "checks": check.describe(),
        "slopes_q05_q50_q95": slopes,
        "fit": fit,
    }


def bench_frontier(ai_models: pl.DataFrame | None) -> dict:
    t0 = time.perf_counter()
    if ai_models is None:
        data = frontier_data.simulate_frontier_data(seed=7)
        fit = frontier.fit_frontier_data(data)
    else:
        fit = frontier.fit_frontier(ai_models)
    wall = time.perf_counter() - t0
    check = check_fit(fit)
    table = frontier_posterior.frontier_table(fit)  # at the data end: records, leader
    (RESULTS / "frontier_compute.png").write_bytes(plot_frontier(fit))
    rows = {
        r["nation"]: {
            "doubling_months": [r[f"doubling_months_q{q}"] for q in ("05", "50", "95")],
            "log10_flop": [r[f"log10_flop_q{q}"] for q in ("05", "50", "95")],
            "gap_years_to_" + r["leader"]: [r[f"gap_years_q{q}"] for q in ("05", "50", "95")],
            "p_leader": round(r["p_leader"], 3),
        }
        for r in table.filter(pl.col("status") != "insufficient data").iter_rows(named=True)
    }
    return {
        "wall_s": round(wall, 2),
        "compile_s": round(fit.attrs["compile_seconds"], 2),
        "sample_s": round(fit.attrs["sample_seconds"], 2),
        "checks_passed": check.passed,
        "checks": check.describe(),
        "as_of": str(frontier_posterior.data_end(fit)),
        "nations": rows,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    default_raw = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw"
    ap.add_argument("--raw-dir", type=Path, default=default_raw)
    ap.add_argument("--saturating", action="store_true", help="also fit the saturating AV form")
    args = ap.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    av_testing, ai_models, origin = _load(args.raw_dir)
    out: dict = {"data": origin, "target_s": TARGET_S, "av": []}
    forms = ["power", "saturating"] if args.saturating else ["power"]
    fits = {}
    for form in forms:
        res = bench_av(av_testing, form)
        fits[form] = res.pop("fit")
        out["av"].append(res)
        print(
            f"AV {form}: {res['wall_s']} s (compile {res['compile_s']}, sample {res['sample_s']})"
        )
        print("  " + res["checks"])
        for k, v in res["slopes_q05_q50_q95"].items():
            print(f"  slope {k:16s} {v[1]:6.3f}  [{v[0]:6.3f}, {v[2]:6.3f}]")
    if len(fits) == 2:
        cmp = av.compare_av_forms(fits)
        out["av_loo"] = cmp.to_dicts()
        print(cmp)
    res = bench_frontier(ai_models)
    out["frontier"] = res
    print(f"frontier: {res['wall_s']} s (compile {res['compile_s']}, sample {res['sample_s']})")
    print("  " + res["checks"])
    for n, r in res["nations"].items():
        print(f"  {n}: {r}")
    ok = all(r["checks_passed"] and r["wall_s"] <= TARGET_S for r in [*out["av"], res])
    out["all_within_target_and_passing"] = ok
    save_json("bench_scaling.json", out)
    print("all within target and passing:", ok)


if __name__ == "__main__":
    main()
