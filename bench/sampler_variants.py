"""Benchmark: what each per-origin sampler setting of the hindcast costs and what it gives.

The hindcast compiles the pooled Wright model once and refits it per origin, so against the
naive approach (a fresh compile per origin, same sampler) the speed-up is
``(compile + sample) / sample``. This script measures, side by side in one run on the PCDB
panel of ``datasets/``, the per-origin sampling time and the diagnostics of the population
parameters (:data:`~learnrace_pipeline.lib.evaluation.hindcast_fit.HYPER_PARAMETERS`) at a few
origins for several nutpie settings, next to the one compile they share, and prints the
speed-up each setting would give. Variants:

- ``default``: the hindcast's own (2 chains x 1000 draws after 1000 warm-up, target_accept
  0.95, diagonal mass matrix);
- ``short``: 2 x 500 after 400 warm-up, same target;
- ``short_ta90``: as ``short`` at target_accept 0.9 (bigger steps);
- ``low_rank``: the default with nutpie's low-rank mass-matrix adaptation;
- ``mclmc``: nutpie's microcanonical Langevin sampler, 2 x 500 after 400 warm-up.

A setting is only worth its speed if R-hat stays near 1 (<= 1.05 here is lenient), the bulk
ESS of every population parameter stays in the hundreds and nothing diverges. The figures of
the run behind the current choice: docs/decisions/2026-11-29-hindcast-sampler-variants.md.

Run: ``.venv/bin/python -m bench.sampler_variants [--origins 1971,1991,2011] [--skip low_rank]``.
Writes ``bench/results/sampler_variants.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from bench.common import save_json
from learnrace_pipeline.lib.evaluation import hindcast as hc
from learnrace_pipeline.lib.evaluation.hindcast_fit import HYPER_PARAMETERS, PooledFitter
from learnrace_pipeline.lib.models.learning.panel import load_panel

console = Console()
SEED = 20240601

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {"tune": 1000, "draws": 1000, "target_accept": 0.95},
    "short": {"tune": 400, "draws": 500, "target_accept": 0.95},
    "short_ta90": {"tune": 400, "draws": 500, "target_accept": 0.9},
    "low_rank": {"tune": 1000, "draws": 1000, "target_accept": 0.95, "adaptation": "low_rank"},
    "mclmc": {"tune": 400, "draws": 500, "sampler": "mclmc"},
}


def diagnostics(dt: Any) -> dict[str, float]:
    """Worst R-hat and bulk ESS over the population parameters, divergences, mean steps."""
    import arviz as az

    post = dt["posterior"].to_dataset()
    names = [v for v in HYPER_PARAMETERS if v in post]
    rhat = az.rhat(dt, var_names=names)
    ess = az.ess(dt, var_names=names)
    stats = dt["sample_stats"].to_dataset()
    return {
        "max_rhat": max(float(rhat[v].max()) for v in names),
        "min_ess_bulk": min(float(ess[v].min()) for v in names),
        "divergences": int(stats["diverging"].sum()) if "diverging" in stats else -1,
        "mean_steps": float(stats["n_steps"].mean()) if "n_steps" in stats else float("nan"),
        "w_all_mean": float(post["w_all"].mean()),
    }


def main() -> None:
    import nutpie

    ap = argparse.ArgumentParser()
    ap.add_argument("--origins", default="1971,1991,2011", help="comma-separated origin years")
    ap.add_argument("--skip", default="", help="comma-separated variants to leave out")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    skip = {s for s in args.skip.split(",") if s}
    variants = {k: v for k, v in VARIANTS.items() if k not in skip}
    out: dict[str, Any] = {"load_average_start": os.getloadavg()}

    panel = load_panel(["pcdb_carnegie"])
    years = hc.origins(panel, hc.HindcastConfig())
    picked = [int(y) for y in args.origins.split(",")]
    unknown = [y for y in picked if y not in years]
    if unknown:
        raise SystemExit(f"not hindcast origins: {unknown} (origins are {years})")
    fitter = PooledFitter(panel)
    compile_s = fitter.compile()
    lcm = fitter.lcm
    compiled = lcm._compiled
    shared = {v.name for v in compiled.shared_var_keys}
    out["compile_s"] = compile_s
    rows = []
    for origin in picked:
        data = lcm.data(panel.origin_mask(origin), hc.training_view(panel, origin))
        model = compiled.with_data(**{k: np.asarray(v) for k, v in data.items() if k in shared})
        for name, kwargs in variants.items():
            t0 = time.perf_counter()
            dt = nutpie.sample(
                model, chains=2, seed=SEED, progress_bar=False, save_warmup=False, **kwargs
            )
            seconds = time.perf_counter() - t0
            row = {"origin": origin, "variant": name, "sample_s": seconds, **diagnostics(dt)}
            row["speedup_vs_naive"] = (compile_s + seconds) / seconds
            rows.append(row)
            console.print(row)
    out["rows"] = rows
    out["load_average_end"] = os.getloadavg()

    t = Table(title=f"per-origin sampling, PCDB (one compile: {compile_s:.1f} s)")
    for c in ("origin", "variant", "sample s", "speed-up", "max R-hat", "min ESS", "div", "steps"):
        t.add_column(c)
    for r in rows:
        t.add_row(
            str(r["origin"]), r["variant"], f"{r['sample_s']:.2f}",
            f"{r['speedup_vs_naive']:.1f}x", f"{r['max_rhat']:.3f}",
            f"{r['min_ess_bulk']:.0f}", str(r["divergences"]), f"{r['mean_steps']:.1f}",
        )  # fmt: skip
    console.print(t)
    la0, la1 = out["load_average_start"][0], out["load_average_end"][0]
    console.print(f"load average (1 min) start/end: {la0:.1f} / {la1:.1f}")
    console.print(f"saved {save_json('sampler_variants.json', out)}")


if __name__ == "__main__":
    main()
