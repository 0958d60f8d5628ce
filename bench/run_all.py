"""Run every benchmark in turn (``make bench``); each prints its own table and writes JSON to
``bench/results/``. Benchmarks are not tests: they measure, and the figures go in the notes."""

from __future__ import annotations

import runpy
import sys
import time

BENCHES = (
    "bench.bench_ingest",
    "bench.bench_learning",
    "bench.bench_scaling",
    "bench.bench_forecast",
    "bench.bench_race",
)


def main() -> None:
    for name in BENCHES:
        print(f"\n=== {name} ===", flush=True)
        t0 = time.perf_counter()
        argv, sys.argv = sys.argv, [name]
        try:
            runpy.run_module(name, run_name="__main__")
        finally:
            sys.argv = argv
        print(f"=== {name}: {time.perf_counter() - t0:.1f} s ===", flush=True)


if __name__ == "__main__":
    main()
