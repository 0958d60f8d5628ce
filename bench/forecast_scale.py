"""Benchmark: ``learnrace forecast`` (default model, ``auto`` = ``pool``) on 1,000 and 10,000
synthetic series, the code of a base checkout against the working tree, side by side.

Input: :func:`bench.scale_sweep.synthetic_panel` (seed 0; 30 years 1990-2019, one industry per
10 series, Student-t(5) MA(1) noise, production growing 5-30% a year), written as the
command's CSV (``series_id, year, unit_cost, cumulative_production``) with ``unit_cost`` blank
after ``--origin`` (default 2009: 20 years observed, 10 forecast on the known production), as
:func:`bench.scale_sweep.forecast_frame` builds it.

Each run is the real command in a fresh subprocess (``<venv python> <venv>/bin/learnrace
forecast --input ... --output ...``, start-up included), with ``PYTHONPATH`` set to the
checkout whose code it runs: ``--base`` (a clone of an earlier commit, "before") or this
repository ("after"); both use this repository's venv. Wall time is measured around the
subprocess, peak RSS is the child's ``ru_maxrss`` from ``os.wait4`` (the largest single
process: the command or one of its forked workers) and the largest sum of resident memory over
the command and its workers, sampled every 0.1 s from ``/proc``, and an address-space cap
(``--memory-limit`` GiB, ``RLIMIT_AS``) guards the shared machine. The load average before
and after each run is recorded, since other work shares the 2 cores.

Where both runs finish, the outputs are compared: the largest and median absolute difference
of each quantile of log unit cost across targets (the two draw different random numbers, so
they agree within Monte Carlo error, not exactly), and the same for the medians.

Run: ``nice -n 19 .venv/bin/python -m bench.forecast_scale --base /tmp/h2_base
[--sizes 1000,10000]``; results in ``bench/results/forecast_scale.json``.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from bench.common import RESULTS, save_json
from bench.scale_sweep import forecast_frame, synthetic_panel

ROOT = Path(__file__).resolve().parents[1]
QUANTILES = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")


def forecast_input(n_series: int, path: Path, origin: int = 2009, seed: int = 0) -> int:
    """Write the command's input CSV for a synthetic panel of ``n_series``; returns its rows."""
    tables, _ = synthetic_panel(n_series, seed=seed)
    df = forecast_frame(tables["cost_observations"], tables["production"], origin)
    df.write_csv(path, null_value="")
    return df.height


def tree_rss_mib(pid: int) -> float:
    """Resident memory (MiB) of process ``pid`` and its child processes now (``/proc``; pages
    shared copy-on-write by forked workers count once per process, so this over-counts)."""
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            kids = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) / 1024
        todo += [int(k) for k in kids]
    return total


def run_cli(code: Path, args: list[str], log: Path, budget: float, memory_limit_gib: float) -> dict:
    """Run ``learnrace forecast <args>`` with the code of ``code``; wall seconds, peak RSS
    (MiB: the largest single process, from ``os.wait4``, and the largest sampled sum over the
    process tree), CPU seconds (user + system, with the worker processes the command waited for),
    return code, whether ``budget`` seconds stopped it, load averages."""

    def limit() -> None:
        cap = int(memory_limit_gib * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = {**os.environ, "PYTHONPATH": str(code), "LEARNRACE_PROGRESS": "0"}
    cmd = [sys.executable, str(Path(sys.executable).parent / "learnrace"), "forecast", *args]
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=code,
            start_new_session=True, preexec_fn=limit,
        )  # fmt: skip
        over = False
        tree_peak = 0.0
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            tree_peak = max(tree_peak, tree_rss_mib(proc.pid))
            if time.perf_counter() - t0 > budget:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, ru = os.wait4(proc.pid, 0)
                over = True
                break
            time.sleep(0.1)
    wall = time.perf_counter() - t0
    code_rc = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
        # the largest sum over the command and its workers, sampled every 0.1 s
        "peak_tree_rss_mib": round(tree_peak, 1),
        # CPU seconds of the command and the worker processes it waited for
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "returncode": code_rc,
        "over_budget": over,
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "error_tail": None if code_rc == 0 else text[-800:],
    }


def compare(before: Path, after: Path) -> dict:
    """Differences of log unit cost quantiles between two outputs (same rows)."""
    a = pl.read_csv(before).sort("series_id", "year")
    b = pl.read_csv(after).sort("series_id", "year")
    if a.select("series_id", "year").equals(b.select("series_id", "year")) is False:
        return {"same_rows": False}
    out: dict = {"same_rows": True, "rows": a.height}
    for q in QUANTILES:
        d = np.abs(np.log(a[q].to_numpy()) - np.log(b[q].to_numpy()))
        out[q] = {"max_abs_log": float(d.max()), "median_abs_log": float(np.median(d))}
    width = np.log(a["q95"].to_numpy()) - np.log(a["q05"].to_numpy())
    out["median_width_q05_q95_log"] = float(np.median(width))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", type=Path, required=True, help="checkout of the code 'before'")
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--origin", type=int, default=2009)
    ap.add_argument("--budget", type=float, default=400.0, help="seconds per run")
    ap.add_argument("--memory-limit", type=float, default=16.0, help="GiB address space")
    ap.add_argument("--skip-before", default="", help="sizes not to run with the base code")
    opts = ap.parse_args(argv)
    sizes = [int(s) for s in opts.sizes.split(",")]
    skip = {int(s) for s in opts.skip_before.split(",") if s}
    RESULTS.mkdir(parents=True, exist_ok=True)
    base_commit = subprocess.run(
        ["git", "-C", str(opts.base), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    report: dict = {"base": str(opts.base), "base_commit": base_commit, "after_head": head,
                    "after_tree_dirty": bool(subprocess.run(
                        ["git", "-C", str(ROOT), "status", "--porcelain", "learnrace_pipeline"],
                        capture_output=True, text=True).stdout.strip()),
                    "cpus": os.cpu_count(), "sizes": {}}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="forecast_scale_") as tmp:
        work = Path(tmp)
        for n in sizes:
            csv_in = work / f"series_{n}.csv"
            rows = forecast_input(n, csv_in, opts.origin)
            entry: dict = {"input_rows": rows}
            outs = {}
            for label, code in (("before", opts.base), ("after", ROOT)):
                if label == "before" and n in skip:
                    continue
                dest = work / f"{label}_{n}.csv"
                log = RESULTS / f"forecast_scale_{n}_{label}.log"
                m = run_cli(code, ["--input", str(csv_in), "--output", str(dest)], log,
                            opts.budget, opts.memory_limit)  # fmt: skip
                if m["returncode"] == 0:
                    m["output_rows"] = pl.read_csv(dest).height
                    outs[label] = dest
                entry[label] = m
                print(f"N={n} {label}: {m['wall_s']} s ({m['cpu_s']} s CPU), "
                      f"{m['peak_rss_mib']} MiB, "
                      f"rc={m['returncode']}, load {m['load_before']}->{m['load_after']}",
                      flush=True)  # fmt: skip
            if len(outs) == 2:
                entry["before_vs_after"] = compare(outs["before"], outs["after"])
            report["sizes"][str(n)] = entry
    path = save_json("forecast_scale.json", report)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
