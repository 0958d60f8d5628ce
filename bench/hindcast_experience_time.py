"""The warehouse hindcast with the experience+time forecaster beside the pooled Wright one.

Runs :func:`learnrace_pipeline.lib.evaluation.hindcast.run_hindcast` on the pooled Wright panel
of the ``datasets/`` snapshot (the panel of the ``hindcast`` asset) with
``warehouse_config()`` (the ``hindcast`` asset's setting), and prints, per forecaster and horizon group (1-2,
3-5, 6-10 years), the 50%/90% coverage, the median's bias (mean log error) and log-pinball,
with the 6-10 year ratios to baseline (a) and to the pooled Wright forecaster, plus the seconds
spent and the per-origin sampler diagnostics of both fits. Results go to
``bench/results/hindcast_experience_time.json``.

Usage: ``.venv/bin/python -m bench.hindcast_experience_time [--refit K] [--et-refit K]
[--et-draws N] [--tag NAME]``: ``--refit`` refits the pooled Wright population model every
``K``-th origin (default 4), ``--et-refit`` the experience+time one (default 4), ``--et-draws``
sets the draws per chain of the experience+time fits (default 500); ``--tag`` suffixes the
result files. The defaults are the warehouse's.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import polars as pl

from bench.common import RESULTS, save_json
from learnrace_pipeline.lib.evaluation.hindcast import run_hindcast, warehouse_config
from learnrace_pipeline.lib.models.learning.panel import load_tables, pooled_wright_panel
from learnrace_pipeline.lib.sources import SOURCES

REFIT = 4
MODELS = (
    "pooled_wright",
    "pooled_experience_time",
    "pool_wright_experience_time",
    "ols_wright",
    "ols_wright_shared_drift",
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--refit", type=int, default=4)
    ap.add_argument("--et-refit", type=int, default=REFIT)
    ap.add_argument("--et-draws", type=int, default=500)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    tag = f"_{args.tag}" if args.tag else ""
    t = load_tables(list(SOURCES))
    panel = pooled_wright_panel(t["cost_observations"], t["production"], t["technologies"])
    t0 = time.perf_counter()
    base = warehouse_config()
    cfg = dataclasses.replace(
        base,
        refit=args.refit,
        experience_time_refit=args.et_refit,
        experience_time_sampler=dataclasses.replace(
            base.experience_time_sampler, draws=args.et_draws
        ),
    )
    out = run_hindcast(panel, cfg, progress=lambda m: print(m, flush=True))
    seconds = time.perf_counter() - t0
    groups = out["scores_by_horizon_group"].filter(pl.col("model").is_in(MODELS))
    cols = ["model", "horizon_group", "n", "coverage50", "coverage90", "bias_log", "log_pinball"]
    with pl.Config(tbl_cols=20, tbl_width_chars=160, tbl_rows=40):
        print(groups.select(cols).sort("horizon_group", "model"))
        long = groups.filter(pl.col("horizon_group") == "6-10")
        ref = {r["model"]: r["log_pinball"] for r in long.iter_rows(named=True)}
        ratios = {
            m: {
                "to_ols_wright": ref[m] / ref["ols_wright"],
                "to_pooled_wright": ref[m] / ref["pooled_wright"],
            }
            for m in ref
        }
        print("6-10 year log-pinball ratios:", ratios)
        origins = out["origins"]
        diag = [
            c
            for c in origins.columns
            if c.endswith(("fit_origin", "max_rhat", "divergences", "fit_seconds"))
        ]
        print(origins.select("origin", *diag))
    print(f"hindcast seconds: {seconds:.1f}")
    keep = out["forecasts"].filter(pl.col("model").is_in(MODELS))
    keep.write_parquet(RESULTS / f"hindcast_experience_time_forecasts{tag}.parquet")
    save_json(
        f"hindcast_experience_time{tag}.json",
        {
            "seconds": seconds,
            "config": vars(args),
            "by_group": groups.select(cols).to_dicts(),
            "ratios_6_10": ratios,
            "scores": out["scores"].to_dicts(),
            "origins": out["origins"].to_dicts(),
        },
    )


if __name__ == "__main__":
    main()
