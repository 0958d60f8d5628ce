"""Benchmark: the rolling-origin hindcast and ``learnrace forecast``.

Measures, in one run on this machine:

1. **Whole hindcast** of every PCDB series (``datasets/`` snapshot): origins every 2 years,
   horizons 1-10, the pooled Wright model compiled once and refitted per origin, the three
   baselines, production both realised and projected. Target: <= 3 min wall.
2. **Compile once vs naive** on a subset of origins, side by side: the same origins fitted with
   one compiled model (data swapped) and with a freshly built and compiled model per origin
   (the naive approach). Reported: subset totals, per-origin cost, and the whole-hindcast ratio
   (naive per-origin cost x number of origins, against the measured whole hindcast). Target:
   >= 20x.
3. ``learnrace forecast`` (the installed command, in a subprocess, start-up included) on 1,000
   synthetic series with 5 forecast years each, production given for some and projected for
   the others. Target: <= 30 s.

The targets and the figures measured against them:
docs/decisions/2026-11-28-benchmark-targets.md.

After 1, :func:`bench.pinball_ceiling.ceiling_scores` scores look-ahead bounds on the same
forecasts (parameters estimated on the whole series, future included), i.e. how much
log-pinball gain over baseline (a) exists at all under the Wright random-walk model.

Prints a table and writes ``bench/results/bench_forecast.json`` (gitignored).
Run: ``.venv/bin/python -m bench.bench_forecast [--subset 3] [--series 1000]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from bench.common import RESULTS, save_json
from bench.pinball_ceiling import ceiling_scores
from learnrace_pipeline.lib.evaluation import hindcast as hc
from learnrace_pipeline.lib.evaluation.hindcast_fit import PooledFitter
from learnrace_pipeline.lib.evaluation.hindcast_scores import POOLED, coverage_check
from learnrace_pipeline.lib.models.learning.panel import load_panel

console = Console()

#: the forecasters timed through the command (auto is pool)
CLI_MODELS = ("wright", "experience_time", "pool")


def synthetic_csv(path: Path, n_series: int, seed: int = 1) -> int:
    """Write a forecast input with ``n_series`` series; returns the number of rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_series):
        n_obs = int(rng.integers(5, 31))
        g = rng.uniform(0.05, 0.4)
        w = rng.normal(0.3, 0.12)
        total = n_obs + 5
        annual = 10 * np.exp(g * np.arange(total) + 0.1 * rng.standard_normal(total))
        cum = annual[0] / g + np.cumsum(annual)
        e = 0.08 * rng.standard_normal(total)
        d = -w * np.diff(np.log(cum)) + e[1:] + 0.2 * e[:-1]
        cost = 100 * np.exp(np.concatenate([[0.0], np.cumsum(d)]))
        give_future = i % 2 == 0  # half the series give their future production
        for t in range(total):
            observed = t < n_obs
            rows.append(
                (
                    f"series_{i:05d}",
                    2000 + t,
                    f"{cost[t]:.6g}" if observed else "",
                    f"{annual[t]:.6g}" if observed or give_future else "",
                )
            )
    text = "series_id,year,unit_cost,annual_production\n" + "\n".join(
        ",".join(map(str, r)) for r in rows
    )
    path.write_text(text + "\n", encoding="utf-8")
    return len(rows)


def run_subset(panel, years: list[int], recompile: bool, cfg: hc.HindcastConfig) -> dict:
    """Fit the given origins with one compiled model (or a fresh compile each); time it."""
    fitter = PooledFitter(
        panel, cfg.sampler, recompile=recompile, max_prior_draws=cfg.forecast.max_prior_draws
    )
    t0 = time.perf_counter()
    compile_s = fitter.compile()
    per_origin = []
    priors_out = []
    for o in years:
        t1 = time.perf_counter()
        priors, _ = fitter(o, hc.training_view(panel, o), panel.origin_mask(o))
        per_origin.append(time.perf_counter() - t1)
        priors_out.append(priors)
    return {
        "total_s": time.perf_counter() - t0,
        "compile_s": compile_s if not recompile else fitter.compile_seconds,
        "per_origin_s": per_origin,
        "w_all_mean": [float(p["all"].w_mu.mean()) for p in priors_out],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", type=int, default=3, help="origins in the side-by-side run")
    ap.add_argument("--series", type=int, default=1000, help="series in the CLI benchmark")
    ap.add_argument("--skip-hindcast", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    out: dict = {"load_average_start": os.getloadavg()}

    panel = load_panel(["pcdb_carnegie"])
    cfg = hc.HindcastConfig(production="projected")
    years = hc.origins(panel, cfg)
    out["panel"] = {"series": panel.n_series, "differences": panel.n_obs, "origins": len(years)}

    if not args.skip_hindcast:
        console.print(f"[bold]1. whole hindcast[/]: {panel.n_series} series, {len(years)} origins")
        t0 = time.perf_counter()
        res = hc.run_hindcast(panel, cfg)
        out["hindcast_s"] = time.perf_counter() - t0
        org = res["origins"]
        out["hindcast_first_origin_s"] = float(org["seconds"][0])  # includes the one compile
        out["hindcast_fit_s_median"] = float(org["fit_seconds"][1:].median())
        out["hindcast_max_rhat"] = float(org["max_rhat"].max())
        out["hindcast_min_ess"] = float(org["min_ess_bulk"].min())
        out["hindcast_divergences"] = float(org["divergences"].sum())
        scores = res["scores"]
        out["scores"] = scores.to_dicts()
        out["scores_by_horizon"] = res["scores_by_horizon"].to_dicts()
        ok, msg = coverage_check(scores)
        out["coverage_check"] = {"ok": ok, "message": msg}
        t = Table(title=f"hindcast scores ({out['hindcast_s']:.0f} s)")
        cols = ["model", "n", "coverage50", "coverage80", "coverage90", "coverage95",
                "log_pinball", "crps", "log_pinball_ratio_ols", "crps_ratio_ols"]  # fmt: skip
        for c in cols:
            t.add_column(c)
        for r in scores.iter_rows(named=True):
            t.add_row(*[f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c]) for c in cols])
        console.print(t)
        console.print(msg)
        for name, frame in res.items():
            RESULTS.mkdir(exist_ok=True)
            frame.write_parquet(RESULTS / f"hindcast_{name}.parquet")
        from learnrace_pipeline.lib.report.plots_evaluation import hindcast_plots

        for name, png in hindcast_plots(res).items():
            (RESULTS / f"hindcast_{name}.png").write_bytes(png)
        # how much log-pinball gain over (a) exists at all: bounds that peek at the future
        ceiling = ceiling_scores(panel, res["forecasts"])
        out["pinball_ceiling"] = ceiling.to_dicts()
        console.print(ceiling)

    console.print(f"[bold]2. compile once vs naive[/] on {args.subset} origins")
    pick = [years[int(i)] for i in np.linspace(0, len(years) - 1, args.subset).round()]
    ours = run_subset(panel, pick, recompile=False, cfg=cfg)
    naive = run_subset(panel, pick, recompile=True, cfg=cfg)
    ours_marginal = float(np.mean(ours["per_origin_s"]))
    naive_marginal = float(np.mean(naive["per_origin_s"]))
    out["subset"] = {
        "origins": pick,
        "ours": ours,
        "naive": naive,
        "ratio_subset_totals": naive["total_s"] / ours["total_s"],
        "ratio_per_origin": naive_marginal / ours_marginal,
        "same_posteriors": ours["w_all_mean"] == naive["w_all_mean"],
    }
    if "hindcast_s" in out:
        out["subset"]["ratio_whole_hindcast"] = naive_marginal * len(years) / out["hindcast_s"]

    console.print(f"[bold]3. learnrace forecast[/] on {args.series} synthetic series")
    out["cli"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "series.csv"
        n_rows = synthetic_csv(src, args.series)
        exe = Path(sys.executable).with_name("learnrace")
        for model in CLI_MODELS:
            dest = Path(tmp) / f"forecasts_{model}.csv"
            t0 = time.perf_counter()
            proc = subprocess.run(
                [str(exe), "forecast", "--input", str(src), "--output", str(dest),
                 "--model", model],
                capture_output=True,
                text=True,
                check=False,
            )  # fmt: skip
            cli_s = time.perf_counter() - t0
            if proc.returncode != 0:
                console.print(proc.stderr)
                raise SystemExit(proc.returncode)
            fc_out = pl.read_csv(dest)
            out["cli"][model] = {
                "series": args.series,
                "input_rows": n_rows,
                "output_rows": fc_out.height,
                "projected_rows": int((fc_out["production"] == "projected").sum()),
                "seconds": cli_s,
            }
            console.print(f"  --model {model}: {cli_s:.1f} s")
    out["load_average_end"] = os.getloadavg()

    t = Table(title="bench_forecast")
    for c in ("measure", "value", "target"):
        t.add_column(c)
    if "hindcast_s" in out:
        t.add_row("whole hindcast (s)", f"{out['hindcast_s']:.1f}", "<= 180")
        t.add_row("  first origin incl. compile (s)", f"{out['hindcast_first_origin_s']:.1f}", "")
        t.add_row("  median per-origin fit (s)", f"{out['hindcast_fit_s_median']:.2f}", "")
        ratio = {r["model"]: r["ratio_to_a"] for r in out["pinball_ceiling"]}
        t.add_row("log-pinball / (a), ours", f"{ratio[POOLED]:.3f}", "<= 0.90")
        t.add_row("  look-ahead bound: w from the whole series", f"{ratio['lookahead_w']:.3f}", "")
    s = out["subset"]
    t.add_row(f"subset of {len(pick)} origins: ours (s)", f"{ours['total_s']:.1f}", "")
    t.add_row("  of which one compile (s)", f"{ours['compile_s']:.1f}", "")
    t.add_row(f"subset of {len(pick)} origins: naive (s)", f"{naive['total_s']:.1f}", "")
    t.add_row("  naive compile per origin (s)", f"{naive['compile_s'] / len(pick):.1f}", "")
    t.add_row("speed-up, subset totals", f"{s['ratio_subset_totals']:.1f}x", "")
    t.add_row("speed-up, per origin", f"{s['ratio_per_origin']:.1f}x", ">= 20x")
    if "ratio_whole_hindcast" in s:
        t.add_row(
            "speed-up, whole hindcast (naive extrapolated)",
            f"{s['ratio_whole_hindcast']:.1f}x",
            ">= 20x",
        )
    t.add_row("identical posteriors (ours vs naive)", str(s["same_posteriors"]), "True")
    for model, run in out["cli"].items():
        t.add_row(
            f"learnrace forecast --model {model}, {args.series} series (s)",
            f"{run['seconds']:.1f}",
            "<= 30",
        )
    t.add_row(
        "load average (1 min) start/end",
        f"{out['load_average_start'][0]:.1f} / {out['load_average_end'][0]:.1f}",
        "",
    )
    console.print(t)
    console.print(f"saved {save_json('bench_forecast.json', out)}")


if __name__ == "__main__":
    main()
