"""Benchmark: the warehouse hindcast in-process vs partitioned on a local Dask cluster.

Side by side in one run, on the pooled Wright panel of the shipped ``datasets/`` snapshot (the
``hindcast`` asset's panel) with ``warehouse_config()`` (both population models refitted at
every 4th origin: 37 origins in 10 partitions):

1. **in-process**: :func:`learnrace_pipeline.lib.evaluation.hindcast.run_hindcast`, the
   asset's default (nutpie samples the 2 chains of each fit in 2 threads);
2. **dask**: :func:`learnrace_pipeline.lib.distributed.hindcast.run_partitions` on a
   ``LocalCluster`` of ``--workers`` single-threaded worker processes (each compiles both models
   once; a partition's 2 chains still sample in 2 nutpie threads), timed with and without the
   cluster's start-up.

Reported: wall seconds, speed-up, whether every frame is equal (timing columns aside), CPU
seconds of each run (this process; for Dask also the workers', from ``resource.getrusage``
inside each worker), each run's mean busy cores (CPU / wall), and, for the in-process run, the
CPU and wall seconds of its compile (done up front), its fits (sampling in nutpie's 2 chain
threads, priors, diagnostics) and the rest (forecasts, baselines, scores). Two figures for an
idle machine follow from CPU seconds, which another agent's load hardly changes while wall
seconds under a shared load do: the bound ``cores x CPU_in / CPU_dask`` (the in-process run
takes at most its CPU seconds, keeping >= 1 core busy; the Dask run at least its CPU seconds
over ``cores``), and the estimate ``(compile + fits / 2 + rest) / (CPU_dask / cores)``
(in-process compile and the rest on one core, fits on two).

Reductions: ``--last-origin YEAR`` stops the hindcast earlier, ``--draws N`` sets both
samplers' draws (and warm-up) per chain; the JSON records which were used.

Run: ``nice -n 19 .venv/bin/python -m bench.dask_hindcast [--workers 2] [--order in,dask]``.
Writes ``bench/results/dask_hindcast.json`` (gitignored) and the Parquet partitions under a
temporary folder (removed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import resource
import tempfile
import time
from typing import Any

import polars as pl

from bench.common import save_json
from learnrace_pipeline.lib.distributed.engine import Engine, dask_client
from learnrace_pipeline.lib.distributed.hindcast import plan_partitions, run_partitions
from learnrace_pipeline.lib.evaluation.hindcast import (
    HindcastConfig,
    origin_fitters,
    run_hindcast,
    warehouse_config,
)
from learnrace_pipeline.lib.models.learning.panel import Panel, load_tables, pooled_wright_panel
from learnrace_pipeline.lib.sources import SOURCES


def _cpu_self() -> float:
    """CPU seconds (user + system) of this process so far, every thread."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timing_free(frame: pl.DataFrame) -> pl.DataFrame:
    """A frame without its timing columns (names ending in ``seconds``)."""
    return frame.drop([c for c in frame.columns if c.endswith("seconds")])


def compare(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> dict[str, bool]:
    """Per frame: equal values, dtypes and row order, timing columns aside."""
    return {name: timing_free(a[name]).equals(timing_free(b[name])) for name in a}


def in_process_parts(origins: pl.DataFrame) -> dict[str, float]:
    """Compile, sampling and the rest of an in-process run from its origin rows: each fit's
    seconds appear on every origin that reuses it, so they are counted once per fit origin."""
    out: dict[str, float] = {}
    total = float(origins["total_seconds"][0])
    fit = sample = 0.0
    for prefix in ("", "et_"):
        fits = origins.unique(f"{prefix}fit_origin", keep="first")
        fit += float(fits[f"{prefix}fit_seconds"].sum())
        sample += float(fits[f"{prefix}sample_seconds"].sum())
    out["total_seconds"] = total
    out["fit_seconds"] = fit
    out["sample_seconds"] = sample
    out["fit_not_sampling_seconds"] = fit - sample  # compile (first fits), priors, diagnostics
    out["forecast_and_score_seconds"] = total - fit
    return out


class CpuTimed:
    """The same fitter, with the CPU and wall seconds of each call recorded (process CPU:
    nutpie's chain threads included)."""

    def __init__(self, fitter: Any) -> None:
        self.fitter = fitter
        self.cpu = self.wall = 0.0

    def __call__(self, origin: int, train: Panel, mask: Any) -> Any:
        c0, t0 = _cpu_self(), time.perf_counter()
        try:
            return self.fitter(origin, train, mask)
        finally:
            self.cpu += _cpu_self() - c0
            self.wall += time.perf_counter() - t0


def run_in_process(panel: Panel, config: HindcastConfig) -> dict[str, Any]:
    """``run_hindcast`` with its default fitters, compiled up front (timed) and wrapped so the
    CPU of compile, fits (sampling in nutpie's threads, priors, diagnostics) and the rest
    (forecasts, baselines, scores) are known."""
    cpu0, t0 = _cpu_self(), time.perf_counter()
    fitters = origin_fitters(panel, config)
    for f in fitters:
        f.compile()
    compile_cpu, compile_wall = _cpu_self() - cpu0, time.perf_counter() - t0
    timed = [CpuTimed(f) for f in fitters]
    frames = run_hindcast(
        panel,
        config,
        fitter=timed[0],
        experience_time_fitter=timed[1],
        progress=lambda m: print("  in-process", m, flush=True),
    )
    wall, cpu = time.perf_counter() - t0, _cpu_self() - cpu0
    fit_cpu = sum(f.cpu for f in timed)
    fit_wall = sum(f.wall for f in timed)
    return {
        "frames": frames,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "busy_cores": cpu / wall,
        "compile": {"cpu_seconds": compile_cpu, "wall_seconds": compile_wall},
        "fits": {"cpu_seconds": fit_cpu, "wall_seconds": fit_wall},
        "rest": {
            "cpu_seconds": cpu - compile_cpu - fit_cpu,
            "wall_seconds": wall - compile_wall - fit_wall,
        },
        "parts": in_process_parts(frames["origins"]),
    }


def _worker_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_dask(panel: Panel, config: HindcastConfig, workers: int) -> dict[str, Any]:
    t_start = time.perf_counter()
    cpu0 = _cpu_self()
    with (
        dask_client(Engine("local", workers=workers)) as client,
        tempfile.TemporaryDirectory(prefix="dask_hindcast_") as tmp,
    ):
        t_up = time.perf_counter()
        worker_cpu0 = client.run(_worker_cpu)
        run = run_partitions(
            panel, config, tmp, client=client, progress=lambda m: print("  dask", m, flush=True)
        )
        t_done = time.perf_counter()
        worker_cpu1 = client.run(_worker_cpu)
        sizes = {
            p.partition.name: sum(f.stat().st_size for f in p.folder.iterdir())
            for p in run.partitions
        }
    t_end = time.perf_counter()
    worker_cpu = sum(worker_cpu1[w] - worker_cpu0.get(w, 0.0) for w in worker_cpu1)
    client_cpu = _cpu_self() - cpu0
    wall = t_done - t_up
    return {
        "frames": run.frames,
        "startup_seconds": t_up - t_start,
        "wall_seconds": wall,
        "wall_with_startup_seconds": t_done - t_start,
        "shutdown_seconds": t_end - t_done,
        "cpu_seconds_workers": worker_cpu,
        "cpu_seconds_client": client_cpu,
        "busy_cores": (worker_cpu + client_cpu) / wall,
        "partition_bytes": sizes,
        "partitions": [
            {
                "partition": p.partition.index,
                "origins": list(p.partition.origins),
                "seconds": p.seconds,
                "compile_seconds": p.compile_seconds,
                "worker": f"{p.host}:{p.pid}",
            }
            for p in run.partitions
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--order", default="in,dask", help="which run goes first: in,dask or dask,in")
    ap.add_argument("--last-origin", type=int, default=None)
    ap.add_argument("--draws", type=int, default=None)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    t = load_tables(list(SOURCES))
    panel = pooled_wright_panel(t["cost_observations"], t["production"], t["technologies"])
    config = warehouse_config()
    reductions: dict[str, Any] = {}
    if args.last_origin is not None:
        config = dataclasses.replace(config, last_origin=args.last_origin)
        reductions["last_origin"] = args.last_origin
    if args.draws is not None:
        config = dataclasses.replace(
            config,
            sampler=dataclasses.replace(config.sampler, draws=args.draws, tune=args.draws),
            experience_time_sampler=dataclasses.replace(
                config.experience_time_sampler, draws=args.draws, tune=args.draws
            ),
        )
        reductions["draws_and_tune_per_chain"] = args.draws
    parts = plan_partitions(panel, config)
    print(
        f"panel: {panel.n_series} series, {panel.n_obs} differences; "
        f"{sum(len(p.origins) for p in parts)} origins in {len(parts)} partitions; "
        f"cores {os.cpu_count()}; load {os.getloadavg()}",
        flush=True,
    )
    runs: dict[str, dict[str, Any]] = {}
    load: dict[str, Any] = {"before": os.getloadavg()}
    for which in args.order.split(","):
        if which == "in":
            runs["in_process"] = run_in_process(panel, config)
        elif which == "dask":
            runs["dask"] = run_dask(panel, config, args.workers)
        else:
            raise SystemExit(f"--order: unknown run {which!r}")
        load[f"after_{which}"] = os.getloadavg()
        print(f"{which}: {runs[list(runs)[-1]]['wall_seconds']:.1f} s", flush=True)
    inp, dk = runs["in_process"], runs["dask"]
    equal = compare(inp["frames"], dk["frames"])
    cores = os.cpu_count() or 1
    out = {
        "panel": {"n_series": panel.n_series, "n_obs": panel.n_obs},
        "config": {
            "refit": config.refit,
            "experience_time_refit": config.experience_time_refit,
            "sampler": dataclasses.asdict(config.sampler),
            "experience_time_sampler": dataclasses.asdict(config.experience_time_sampler),
            "reductions": reductions or "none: warehouse_config()",
        },
        "n_origins": sum(len(p.origins) for p in parts),
        "n_partitions": len(parts),
        "workers": args.workers,
        "cores": cores,
        "order": args.order,
        "load_average": load,
        "in_process": {k: v for k, v in inp.items() if k != "frames"},
        "dask": {k: v for k, v in dk.items() if k != "frames"},
        "speedup": inp["wall_seconds"] / dk["wall_seconds"],
        "speedup_with_startup": inp["wall_seconds"] / dk["wall_with_startup_seconds"],
        "bound_cores_x_wall_over_cpu": cores * inp["wall_seconds"] / inp["cpu_seconds"],
        # on an idle machine: in-process wall <= its CPU (>= 1 core busy), Dask wall >= its
        # CPU / cores, so the speed-up is at most cores x CPU_in / CPU_dask
        "bound_idle_cpu": cores
        * inp["cpu_seconds"]
        / (dk["cpu_seconds_workers"] + dk["cpu_seconds_client"]),
        # estimate for an idle machine: compile and the rest on one core, fits on two threads
        "estimate_idle": (
            inp["compile"]["cpu_seconds"]
            + inp["fits"]["cpu_seconds"] / 2
            + inp["rest"]["cpu_seconds"]
        )
        / ((dk["cpu_seconds_workers"] + dk["cpu_seconds_client"]) / cores),
        "equal": equal,
        "all_equal": all(equal.values()),
    }
    path = save_json(f"dask_hindcast{'_' + args.tag if args.tag else ''}.json", out)
    print(
        f"in-process {inp['wall_seconds']:.1f} s (CPU {inp['cpu_seconds']:.1f} s, "
        f"{inp['busy_cores']:.2f} busy cores); dask {dk['wall_seconds']:.1f} s "
        f"(+{dk['startup_seconds']:.1f} s start-up; CPU {dk['cpu_seconds_workers']:.1f} s "
        f"workers + {dk['cpu_seconds_client']:.1f} s client); speed-up {out['speedup']:.2f}x "
        f"({out['speedup_with_startup']:.2f}x with start-up); idle-machine bound "
        f"{out['bound_idle_cpu']:.2f}x, estimate {out['estimate_idle']:.2f}x; "
        f"equal {out['all_equal']} -> {path}"
    )


if __name__ == "__main__":
    main()
