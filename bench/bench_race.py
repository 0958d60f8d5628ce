"""Benchmark: the race of every industry and scenario from saved posteriors (target <= 60 s).

Measures, in one run on this machine, from an existing warehouse (``--db``; its fits are read
from ``<db folder>/fits/assets/<asset key>.nc``, keys in ``compute.FITS``):

1. **Loading**: each fit (``xarray.load_datatree``) and the harmonized tables the race reads
   (DuckDB, read only).
2. **Races**: the base race and each declared scenario (``spec.scenarios``), every industry,
   through ``compute.run_race``; their sum is **the whole** against the 60 s target (also given
   with the loading included). Per industry of the base case: projecting and aligning the draws
   (``compute.industry_draws``) against the closing step (``closing.closing_years``).
3. **Naive ways, side by side in the same run**:
   - the closing step with per-draw Python loops (each draw's thresholds evaluated on a
     one-draw slice, then combined and scanned year by year in Python), on the base case's
     draws; its closing years are asserted equal to ``closing.closing_years``'s;
   - the base race at ``--draws-factor`` (default 4) times the draws.
4. **Peak RSS** (``getrusage``) after each stage, and the 1-minute load average at start/end.

Prints a table and writes ``bench/results/bench_race.json`` (gitignored).
Run: ``.venv/bin/python -m bench.bench_race [--db PATH] [--draws-factor 4] [--skip-naive]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
import xarray as xr
from rich.console import Console
from rich.table import Table

from bench.common import save_json
from learnrace_pipeline.lib.race import closing, compute
from learnrace_pipeline.lib.race.draws import ROLES, MetricDraws
from learnrace_pipeline.lib.race.spec import (
    IndustrySpec,
    Metric,
    MissingMetric,
    RaceSpec,
    load_spec,
)
from learnrace_pipeline.lib.storage.warehouse import connect, default_db_path, fetch_pl

console = Console()

#: the whole (every industry, every scenario, from loaded posteriors), seconds
TARGET_S = 60.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def race_tables(spec: RaceSpec) -> list[str]:
    """The harmonized tables the race reads: every declared metric's, and ``production`` (the
    cost projector's experience)."""
    names = {"production"}
    for ind in spec.industries:
        for role in ROLES:
            m = getattr(ind, role)
            if isinstance(m, Metric):
                names.add(m.table)
    return sorted(names)


def load_fits(fits_dir: Path) -> tuple[dict[str, xr.DataTree], dict[str, float]]:
    """Every fit of ``compute.FITS`` loaded into memory, and the seconds each took."""
    fits, secs = {}, {}
    for name, key in compute.FITS.items():
        path = fits_dir / "assets" / f"{key}.nc"
        if not path.exists():
            raise SystemExit(f"no saved fit {path}: materialize the calibration assets first")
        t0 = time.perf_counter()
        fits[name] = xr.load_datatree(path)
        secs[name] = time.perf_counter() - t0
    return fits, secs


def load_tables(db: Path, names: list[str]) -> dict[str, pl.DataFrame]:
    """``harmonized.<name>`` for each name, read through a read-only connection."""
    with connect(db, read_only=True) as con:
        return {t: fetch_pl(con, f'SELECT * FROM harmonized."{t}"') for t in names}


# --------------------------------------------------------------------------------------------
# The naive closing step: per-draw Python loops
# --------------------------------------------------------------------------------------------


def _one_draw(d: MetricDraws, i: int, keep: list[str]) -> MetricDraws:
    values = d.values.isel(draw=[i]).sel(nation=keep)
    world = d.world.isel(draw=[i]) if d.world is not None else None
    return MetricDraws(
        d.industry, d.role, values, d.unit, d.source, dict(d.observed_through), world=world
    )


def naive_closing_years(
    industry: IndustrySpec, draws_by_role: Mapping[str, MetricDraws]
) -> np.ndarray:
    """The closing year per (draw, nation) as ``closing.closing_years`` defines it, computed the
    naive way: each draw's thresholds on a one-draw slice (``closing.holds``), then the run of
    years closed and the first closing year found by Python loops over draws and years."""
    horizon = int(industry.horizon)  # type: ignore[arg-type]
    nations = [e.code for e in industry.nations]
    given = {r: d for r, d in draws_by_role.items() if d is not None}
    years = sorted({int(y) for d in given.values() for y in d.years if int(y) <= horizon})
    n_draws = next(iter(given.values())).n_draws
    measured: dict[str, list[str]] = {n: [] for n in nations}
    last: dict[str, int | None] = {n: None for n in nations}
    roles = []
    for role in ROLES:
        metric = getattr(industry, role)
        if metric is None or isinstance(metric, MissingMetric) or role not in given:
            continue
        d = given[role]
        keep = [n for n in d.nations if n in nations or n == metric.threshold.reference]
        roles.append((role, metric, d, keep))
        for entry in industry.nations:
            n = entry.code
            if role in dict(entry.missing) or n not in keep:
                continue
            v = d.values.sel(nation=n, year=[y for y in years if y in set(d.years)]).values
            if np.isnan(v).all():
                continue
            measured[n].append(role)
            seen = d.observed_through.get(n)
            if seen is not None:
                last[n] = int(seen) if last[n] is None else min(last[n], int(seen))

    out = np.full((n_draws, len(nations)), np.nan)
    for i in range(n_draws):
        held = {n: [True] * len(years) for n in nations}
        for role, metric, d, keep in roles:
            h = closing.holds(metric, _one_draw(d, i, keep))
            h_years = [int(y) for y in h["year"].values]
            for n in nations:
                if role not in measured[n]:
                    continue
                row = h.sel(nation=n).values[0]
                for k, y in enumerate(years):
                    ok = bool(row[h_years.index(y)]) if y in h_years else False
                    held[n][k] = held[n][k] and ok
        for j, n in enumerate(nations):
            if not measured[n]:
                continue
            li = -1
            for k, y in enumerate(years):
                if last[n] is not None and y <= last[n]:
                    li = k
            year = horizon + 1
            if li >= 0 and held[n][li]:
                k = li
                while k > 0 and held[n][k - 1]:
                    k -= 1
                year = years[k]
            else:
                for k in range(li + 1, len(years)):
                    if held[n][k]:
                        year = years[k]
                        break
            out[i, j] = year
    return out


# --------------------------------------------------------------------------------------------


def base_by_industry(
    spec: RaceSpec, fits: Mapping[str, xr.DataTree], tables: Mapping[str, pl.DataFrame]
) -> dict[str, dict]:
    """Per industry with data, base case: seconds projecting the draws and closing them, and
    the draws and closing (for the naive comparison)."""
    out = {}
    for ind in spec.industries:
        if ind.status != "data":
            continue
        t0 = time.perf_counter()
        d = compute.industry_draws(ind, fits, tables)
        t1 = time.perf_counter()
        c = closing.closing_years(ind, d)
        t2 = time.perf_counter()
        out[ind.id] = {"draws_s": t1 - t0, "closing_s": t2 - t1, "draws": d, "closing": c}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=None, help="warehouse (default $LEARNRACE_DB)")
    ap.add_argument("--draws-factor", type=int, default=4, help="naive: the race at k x draws")
    ap.add_argument("--skip-naive", action="store_true", help="skip the per-draw closing loops")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    db = Path(args.db or default_db_path())
    if not db.exists():
        raise SystemExit(f"no warehouse {db}: pass --db or materialize the pipeline first")
    out: dict = {"db": str(db), "load_average_start": os.getloadavg(), "n_draws": compute.N_DRAWS}

    spec = load_spec()
    names = race_tables(spec)
    console.print(f"[bold]1. loading[/] {len(compute.FITS)} fits and tables {names} from {db}")
    t0 = time.perf_counter()
    fits, fit_s = load_fits(db.parent / "fits")
    out["load_fits_s"] = time.perf_counter() - t0
    out["load_fit_s"] = fit_s
    t0 = time.perf_counter()
    tables = load_tables(db, names)
    out["load_tables_s"] = time.perf_counter() - t0
    out["table_rows"] = {t: df.height for t, df in tables.items()}
    out["load_s"] = out["load_fits_s"] + out["load_tables_s"]
    out["rss_after_load_mb"] = peak_rss_mb()

    console.print(f"[bold]2. races[/]: base and {len(spec.scenarios)} scenarios")
    runs: dict[str, float] = {}
    results = {}
    t_whole = time.perf_counter()
    for sc in (None, *spec.scenarios):
        label = "base" if sc is None else sc.name
        t0 = time.perf_counter()
        results[label] = compute.run_race(spec, fits, tables, sc)
        if sc is not None:
            compute.scenario_rows(results["base"].race, results[label])
        runs[label] = time.perf_counter() - t0
        console.print(f"  {label}: {runs[label]:.2f} s")
    out["whole_s"] = time.perf_counter() - t_whole
    out["race_s"] = runs
    out["whole_with_load_s"] = out["whole_s"] + out["load_s"]
    out["industries"] = [i.id for i in spec.industries if i.status == "data"]
    out["rss_after_races_mb"] = peak_rss_mb()

    per = base_by_industry(spec, fits, tables)
    out["base_by_industry"] = {
        k: {"draws_s": v["draws_s"], "closing_s": v["closing_s"]} for k, v in per.items()
    }
    for k, v in per.items():  # the split run gives the race's closing years
        a = v["closing"].years.values
        b = results["base"].closings[k].years.values
        assert np.array_equal(a, b, equal_nan=True), f"{k}: split run differs from run_race"

    if not args.skip_naive:
        console.print("[bold]3a. naive closing[/]: per-draw Python loops on the base draws")
        naive: dict[str, dict] = {}
        for k, v in per.items():
            ind = spec.industry(k)
            t0 = time.perf_counter()
            years = naive_closing_years(ind, v["draws"])
            secs = time.perf_counter() - t0
            ours = v["closing"].years.values
            assert np.array_equal(years, ours, equal_nan=True), f"{k}: naive closing years differ"
            naive[k] = {"naive_s": secs, "vectorised_s": v["closing_s"], "equal": True}
            console.print(f"  {k}: naive {secs:.2f} s, vectorised {v['closing_s'] * 1e3:.1f} ms")
        out["naive_closing"] = naive
        out["naive_closing_s"] = sum(x["naive_s"] for x in naive.values())
        out["vectorised_closing_s"] = sum(x["vectorised_s"] for x in naive.values())

    k = args.draws_factor
    console.print(f"[bold]3b. base race at {k}x draws[/] ({k * compute.N_DRAWS})")
    t0 = time.perf_counter()
    compute.run_race(spec, fits, tables, n_draws=k * compute.N_DRAWS)
    out["base_kx_draws_s"] = time.perf_counter() - t0
    out["draws_factor"] = k
    out["rss_peak_mb"] = peak_rss_mb()
    out["load_average_end"] = os.getloadavg()

    t = Table(title=f"bench_race ({compute.N_DRAWS} draws, {len(out['industries'])} industries)")
    for c in ("measure", "value", "target"):
        t.add_column(c)
    t.add_row("load fits (s)", f"{out['load_fits_s']:.1f}", "")
    for name, s in fit_s.items():
        t.add_row(f"  {compute.FITS[name]}", f"{s:.2f}", "")
    t.add_row("load tables (s)", f"{out['load_tables_s']:.2f}", "")
    for label, s in runs.items():
        t.add_row(f"race: {label} (s)", f"{s:.2f}", "")
    t.add_row(
        f"whole: every industry, base + {len(spec.scenarios)} scenarios (s)",
        f"{out['whole_s']:.1f}",
        f"<= {TARGET_S:.0f}",
    )
    t.add_row("whole incl. loading (s)", f"{out['whole_with_load_s']:.1f}", "")
    for name, v in out["base_by_industry"].items():
        t.add_row(
            f"  base {name}: draws / closing (s)", f"{v['draws_s']:.2f} / {v['closing_s']:.3f}", ""
        )
    if "naive_closing" in out:
        t.add_row(
            "closing, vectorised, all industries (s)", f"{out['vectorised_closing_s']:.3f}", ""
        )
        t.add_row("closing, naive per-draw loops (s)", f"{out['naive_closing_s']:.1f}", "")
        t.add_row(
            "  naive / vectorised",
            f"{out['naive_closing_s'] / out['vectorised_closing_s']:.0f}x",
            "",
        )
        t.add_row("  identical closing years", "True", "True")
    t.add_row(f"base race at {k}x draws (s)", f"{out['base_kx_draws_s']:.1f}", "")
    t.add_row("  / base race at 1x", f"{out['base_kx_draws_s'] / runs['base']:.1f}x", "")
    t.add_row("peak RSS after load / races / end (MB)",
              f"{out['rss_after_load_mb']:.0f} / {out['rss_after_races_mb']:.0f} / "
              f"{out['rss_peak_mb']:.0f}", "")  # fmt: skip
    t.add_row(
        "load average (1 min) start/end",
        f"{out['load_average_start'][0]:.1f} / {out['load_average_end'][0]:.1f}",
        "",
    )
    console.print(t)
    console.print(f"saved {save_json('bench_race.json', out)}")


if __name__ == "__main__":
    main()
