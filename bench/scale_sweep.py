"""Benchmark: how wall time and peak memory grow with the number of series (100 to 10,000).

A synthetic panel of ``N`` series x 30 years (1990-2019) is drawn from known parameters
(:func:`synthetic_panel`) and run through five stages, each in a fresh subprocess:

1. ``ingest``: the tidy CSV snapshot (``technologies``, ``cost_observations``, ``production``,
   written by :func:`learnrace_pipeline.lib.storage.snapshot.write_source` into a temporary
   ``datasets/`` folder under the slot of the ``pcdb_carnegie`` source) is loaded and checked
   (``snapshot.load``: sha256, schema, table rules) and written to ``raw.*`` of a fresh DuckDB
   file (``warehouse.write_tables``), as the source asset does;
2. ``harmonize``: ``harmonized.<table>`` = the harmonize asset's ``union_raw`` + cast +
   ``conform`` across sources, written back (``write_tables``) as its IO manager does;
3. ``fit``: the pooled learning fit (Student-t MA(1) noise, by default the Wright trend) with
   the sampler ``--chains`` x ``--tune``/``--draws``, by ``--route``: ``full`` (one pooled NUTS
   model, ``pooled_wright_panel`` + ``LearningCurveModel``), ``blocked`` (one NUTS fit per block
   of at most ``--max-series`` series of one industry, pooled in two stages:
   :mod:`learnrace_pipeline.lib.models.learning.blocked`) or ``auto`` (full up to 2,000 series);
   stopped after ``--fit-budget`` seconds (recorded "over budget");
   where it finishes, the share of series whose 90% interval of ``w`` covers the true ``w``
   and the 90% intervals of the shared parameters against their true values;
4. ``forecast_step``: :func:`learnrace_pipeline.lib.forecast.forecaster.simulate` for every
   series at one hindcast origin (``--origin``, default 2009: 20 years observed, 10 forecast with
   the known production), with the industry priors of the stage-3 fit, or the shipped prior
   when the fit did not finish;
5. ``cli_forecast``: ``.venv/bin/learnrace forecast --input ... --output ...`` on the same
   series and years (blank costs after the origin), start-up included.

Each stage's wall time is measured by the parent around the subprocess (start-up and imports
included; ``work_s`` is the part inside the stage after its imports) and its peak resident set
is the child's ``ru_maxrss`` from ``os.wait4``. Results: a table (<= 100 columns) and
``bench/results/scale_sweep.json``, with the growth exponent of each stage's time, the slope of
log time on log N from 1,000 to 10,000 and over every N.

Generative model of :func:`synthetic_panel` (series ``s`` in industry ``i``, years t = 0..29)::

    w_i = w_all + tau_industry z_i,   w_s = w_i + tau_series z_s
    annual_t = 10 exp(g_s t + 0.1 z_t),   g_s ~ Uniform(0.05, 0.30)
    Q_t = annual_0 / g_s + sum_{u <= t} annual_u          (initial stock as Lafond et al. 2018)
    dlog c_t = -w_s dlog Q_t - m + e_t + rho e_{t-1},
    e_t = sigma_s * T(nu) (or Normal),  log sigma_s ~ Normal(log sigma, sigma_spread)

``m`` is the shared time drift (log cost per year); the Wright fit has no time term, so its
panel is drawn with ``m = 0`` by default, and a non-zero ``--drift`` goes with
``--trend both`` (experience+time).

Run: ``.venv/bin/python -m bench.scale_sweep [--sizes 100,1000,10000] [--fit-budget 900]
[--route blocked --max-series 100 --chains 4 --tune 500 --draws 500]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from bench.common import RESULTS, save_json
from learnrace_pipeline.lib.sources.schema import TABLES

ROOT = Path(__file__).resolve().parents[1]
#: the source slot the synthetic tables are loaded under (a source providing all three tables)
SLOT = "pcdb_carnegie"
PANEL_TABLES = ("technologies", "cost_observations", "production")
START_YEAR = 1990
STAGES = ("ingest", "harmonize", "fit", "forecast_step", "cli_forecast")


@dataclass(frozen=True)
class SweepTruth:
    """The known parameters a synthetic panel was drawn from.

    Units: ``w`` unit-free (cost ~ Q^-w); ``m`` log cost per year; ``sigma`` the scale of the
    annual log-cost innovations; ``nu`` the Student-t degrees of freedom (``inf``: normal).
    Series-level values are keyed by ``series_id``.
    """

    w_all: float
    tau_industry: float
    tau_series: float
    m: float
    sigma: float
    sigma_spread: float
    rho: float
    nu: float
    w_industry: dict[str, float]
    w_series: dict[str, float]
    industry_of: dict[str, str]
    growth: dict[str, float]


def n_industries_for(n_series: int) -> int:
    """Industries of a panel of ``n_series``: one per 10 series, between 2 and 20."""
    return int(min(20, max(2, n_series // 10)))


def synthetic_panel(
    n_series: int,
    *,
    n_years: int = 30,
    w_all: float = 0.35,
    tau_industry: float = 0.08,
    tau_series: float = 0.08,
    m: float = 0.0,
    sigma: float = 0.08,
    sigma_spread: float = 0.3,
    rho: float = 0.2,
    nu: float = 5.0,
    growth: tuple[float, float] = (0.05, 0.30),
    seed: int = 0,
) -> tuple[dict[str, pl.DataFrame], SweepTruth]:
    """Draw ``n_series`` series x ``n_years`` years (module docstring); return the tidy tables
    ``{technologies, cost_observations, production}`` (declared schemas, costs in
    ``2020 USD/unit`` starting near 100, production in ``unit``, nation ``WLD``) and the truth.
    ``nu = inf`` draws normal innovations."""
    if n_series < 1 or n_years < 4:
        raise ValueError("need n_series >= 1 and n_years >= 4")
    rng = np.random.default_rng(seed)
    k = n_industries_for(n_series)
    industries = [f"industry_{i:02d}" for i in range(k)]
    w_ind = w_all + tau_industry * rng.standard_normal(k)
    ind_idx = np.arange(n_series) % k
    w_s = w_ind[ind_idx] + tau_series * rng.standard_normal(n_series)
    g = rng.uniform(*growth, size=n_series)
    sig_s = sigma * np.exp(sigma_spread * rng.standard_normal(n_series))
    t = np.arange(n_years)
    annual = 10.0 * np.exp(g[:, None] * t[None, :] + 0.1 * rng.standard_normal((n_series, n_years)))
    cum = annual[:, :1] / g[:, None] + np.cumsum(annual, axis=1)
    dlogq = np.diff(np.log(cum), axis=1)
    shocks = (
        rng.standard_normal((n_series, n_years))
        if math.isinf(nu)
        else rng.standard_t(nu, size=(n_series, n_years))
    )
    eps = sig_s[:, None] * shocks  # eps[:, 0] is the pre-sample shock
    dlogc = -w_s[:, None] * dlogq - m + eps[:, 1:] + rho * eps[:, :-1]
    logc = np.log(100.0) + np.concatenate(
        [np.zeros((n_series, 1)), np.cumsum(dlogc, axis=1)], axis=1
    )
    width = len(str(n_series - 1))
    techs = [f"synthetic_{i:0{width}d}" for i in range(n_series)]
    sids = [f"synthetic:{x}" for x in techs]
    ind_names = [industries[i] for i in ind_idx]
    technologies = pl.DataFrame(
        {
            "series_id": sids,
            "technology": techs,
            "industry": ind_names,
            "source": ["synthetic"] * n_series,
            "unit": ["2020 USD/unit"] * n_series,
            "production_unit": ["unit"] * n_series,
            "metric_kind": ["cost"] * n_series,
            "description": [f"synthetic series, w={x:.4f}" for x in w_s],
        },
        schema=TABLES["technologies"],
    )
    long = pl.DataFrame(
        {
            "series_id": np.repeat(sids, n_years),
            "technology": np.repeat(techs, n_years),
            "nation": ["WLD"] * (n_series * n_years),
            "year": np.tile(START_YEAR + t, n_series).astype(np.int32),
        }
    )
    cost = long.with_columns(
        pl.Series("unit_cost", np.exp(logc).ravel()),
        pl.lit("2020 USD/unit").alias("unit"),
        pl.lit(2020, pl.Int32).alias("price_basis_year"),
        pl.lit("synthetic").alias("source"),
    ).select(list(TABLES["cost_observations"]))
    production = long.with_columns(
        pl.Series("annual_production", annual.ravel()),
        pl.Series("cumulative_production", cum.ravel()),
        pl.lit("unit").alias("unit"),
        pl.lit("initial_stock_lafond2018").alias("cumulative_method"),
        pl.lit("synthetic").alias("source"),
    ).select(list(TABLES["production"]))
    tables = {
        "technologies": technologies,
        "cost_observations": cost.cast(TABLES["cost_observations"]),
        "production": production.cast(TABLES["production"]),
    }
    truth = SweepTruth(
        w_all=w_all,
        tau_industry=tau_industry,
        tau_series=tau_series,
        m=m,
        sigma=sigma,
        sigma_spread=sigma_spread,
        rho=rho,
        nu=nu,
        w_industry=dict(zip(industries, w_ind.tolist(), strict=True)),
        w_series=dict(zip(sids, w_s.tolist(), strict=True)),
        industry_of=dict(zip(sids, ind_names, strict=True)),
        growth=dict(zip(sids, g.tolist(), strict=True)),
    )
    return tables, truth


# ----------------------------------------------------------------------------- stages


def ingest(dataset_dir: Path, db: Path) -> dict[str, int]:
    """Load the slot's snapshot tables (sha256, schema and rules checked) into ``raw.*``."""
    from learnrace_pipeline.lib.storage import snapshot
    from learnrace_pipeline.lib.storage.warehouse import write_tables

    tables = snapshot.load(dataset_dir, SLOT)
    return write_tables(db, {("raw", f"{SLOT}__{t}"): tables[t] for t in PANEL_TABLES})


def harmonize(db: Path) -> dict[str, int]:
    """``harmonized.<table>`` for the panel tables, as the harmonize assets build them."""
    from learnrace_pipeline.defs.harmonize.assets import union_raw
    from learnrace_pipeline.lib.sources.validate import conform
    from learnrace_pipeline.lib.storage.snapshot import schema_of
    from learnrace_pipeline.lib.storage.warehouse import write_tables

    out = {}
    for table in PANEL_TABLES:
        df = union_raw(str(db), table)
        df = df.select([pl.col(c).cast(t) for c, t in schema_of(table).items()])
        out[("harmonized", table)] = conform(table, df, "warehouse")
    return write_tables(db, out)


def _interval(x: np.ndarray) -> list[float]:
    return [float(v) for v in np.quantile(x, [0.05, 0.5, 0.95])]


def fit(db: Path, work: Path, truth_path: Path, args: dict) -> dict:
    """The pooled fit on the harmonized panel; saves the population priors for stage 4 and
    returns timings, diagnostics and the recovery of the known parameters."""
    from learnrace_pipeline.lib.forecast.priors import population_priors, save_priors
    from learnrace_pipeline.lib.models import base
    from learnrace_pipeline.lib.models.diagnostics import check_fit
    from learnrace_pipeline.lib.models.learning import LearningConfig, LearningCurveModel
    from learnrace_pipeline.lib.models.learning.blocked import fit_blocked, fit_route
    from learnrace_pipeline.lib.models.learning.panel import pooled_wright_panel
    from learnrace_pipeline.lib.storage.warehouse import read_table

    t = {n: read_table(db, "harmonized", n) for n in PANEL_TABLES}
    t0 = time.perf_counter()
    panel = pooled_wright_panel(t["cost_observations"], t["production"], t["technologies"])
    panel_s = time.perf_counter() - t0
    sampler = base.SamplerConfig(
        chains=args["chains"], tune=args["tune"], draws=args["draws"], seed=args["seed"]
    )
    config = LearningConfig(trend=args["trend"], noise="student_t")
    route = fit_route(panel.n_series, args.get("route", "full"))
    blocks = None
    if route == "full":
        lcm = LearningCurveModel(panel, config, sampler)
        t1 = time.perf_counter()
        lcm.compile()
        compile_s = time.perf_counter() - t1
        t2 = time.perf_counter()
        dt = lcm.fit(log_likelihood=False, predictive=False)
        sample_s = time.perf_counter() - t2
    else:
        res = fit_blocked(panel, config, sampler, max_series=args.get("max_series", 500))
        dt, blocks = res.tree, res.blocks
        compile_s, sample_s = res.compile_seconds, res.sample_seconds + res.combine_seconds
    t3 = time.perf_counter()
    priors = population_priors(dt)
    save_priors(priors, work / "prior.csv", {"source": "scale_sweep"})
    prior_s = time.perf_counter() - t3

    truth = json.loads(truth_path.read_text())
    post = dt["posterior"].to_dataset()
    ws = post["w_series"].stack(sample=("chain", "draw")).transpose("series", "sample")
    lo, hi = np.quantile(ws.values, [0.05, 0.95], axis=1)
    true_w = np.array([truth["w_series"][str(s)] for s in ws["series"].values])
    covered = (lo <= true_w) & (true_w <= hi)
    shared_truth = {
        "w_all": truth["w_all"],
        "tau_w_industry": truth["tau_industry"],
        "tau_w_series": truth["tau_series"],
        "rho": truth["rho"],
        "nu": truth["nu"],
        "log_sigma_all": math.log(truth["sigma"]),
        "tau_log_sigma": truth["sigma_spread"],
    }
    if args["trend"] == "both":
        shared_truth["m_all"] = truth["m"]
    shared = {}
    for name, true in shared_truth.items():
        if name in post:
            q = _interval(post[name].values.ravel())
            shared[name] = {"true": true, "q05_q50_q95": q, "covered": q[0] <= true <= q[2]}
    if blocks is None:
        check = check_fit(dt)
        checks_passed, checks = bool(check.passed), check.describe()
        block_rows = None
    else:
        # the combined posterior is made of resampled block draws: its convergence is that of
        # the blocks, each checked on its own sampler output
        worst_rhat = float(blocks["rhat_max"].max())
        min_ess = float(blocks["ess_bulk_min"].min())
        divs = int(blocks["divergences"].sum())
        checks_passed = worst_rhat <= 1.01 and min_ess >= 400 and divs == 0
        checks = (
            f"{blocks.height} blocks | worst R-hat {worst_rhat:.3f}, smallest bulk ESS "
            f"{min_ess:.0f}, {divs} divergences, median shrinkage slope "
            f"{float(dt.attrs['shrink_slope_median']):.2f}"
        )
        block_rows = blocks.to_dicts()
    return {
        "route": route,
        "n_series_fitted": int(panel.n_series),
        "n_obs": int(panel.n_obs),
        "panel_s": round(panel_s, 2),
        "compile_s": round(compile_s, 2),
        "sample_s": round(sample_s, 2),
        "prior_s": round(prior_s, 2),
        "sampler": f"{args['chains']} chains x {args['tune']} tune / {args['draws']} draws",
        "trend": args["trend"],
        "w_coverage_90": float(covered.mean()),
        "w_interval_width_median": float(np.median(hi - lo)),
        "shared": shared,
        "checks_passed": checks_passed,
        "checks": checks,
        "blocks": block_rows,
    }


def _origin_task(db: Path, origin: int):
    from learnrace_pipeline.lib.forecast.types import ForecastTask
    from learnrace_pipeline.lib.storage.warehouse import read_table

    cost = read_table(db, "harmonized", "cost_observations")
    prod = read_table(db, "harmonized", "production")
    joined = cost.join(
        prod.select("series_id", "year", "cumulative_production"), on=["series_id", "year"]
    )
    joined = joined.select(
        "series_id",
        "year",
        pl.col("unit_cost").log().alias("log_cost"),
        pl.col("cumulative_production").log().alias("log_q"),
    ).sort("series_id", "year")
    obs = joined.filter(pl.col("year") <= origin).select("series_id", "year", "log_cost", "log_q")
    targets = joined.filter(pl.col("year") > origin).select("series_id", "year", "log_q")
    return ForecastTask(obs=obs, targets=targets), joined


def forecast_step(db: Path, work: Path, origin: int, seed: int) -> dict:
    """One hindcast origin's forecasts of every series (industry priors of the stage-3 fit, else
    the shipped all-level prior); returns the 90% interval coverage of the held-out costs."""
    from learnrace_pipeline.lib.forecast.forecaster import simulate
    from learnrace_pipeline.lib.forecast.priors import ALL, load_priors
    from learnrace_pipeline.lib.forecast.types import ForecastConfig
    from learnrace_pipeline.lib.storage.warehouse import read_table

    task, joined = _origin_task(db, origin)
    prior_path = work / "prior.csv"
    if prior_path.is_file():
        priors, which = load_priors(prior_path), "stage-3 fit (industry level)"
        tech = read_table(db, "harmonized", "technologies")
        level_of = dict(zip(tech["series_id"], tech["industry"], strict=True))
    else:
        priors, which = load_priors(), "shipped prior (all level)"
        level_of = {s: ALL for s in task.obs["series_id"].unique()}
    t0 = time.perf_counter()
    fs = simulate(task, priors, level_of, ForecastConfig(seed=seed))
    sim_s = time.perf_counter() - t0
    q = fs.quantiles((0.05, 0.95))
    truth = (
        fs.targets.select("series_id", "year")
        .join(joined.select("series_id", "year", "log_cost"), on=["series_id", "year"], how="left")[
            "log_cost"
        ]
        .to_numpy()
    )
    cov = float(np.mean((q[:, 0] <= truth) & (truth <= q[:, 1])))
    return {
        "simulate_s": round(sim_s, 2),
        "prior": which,
        "targets": int(q.shape[0]),
        "cost_coverage_90": cov,
    }


def forecast_frame(cost: pl.DataFrame, prod: pl.DataFrame, origin: int) -> pl.DataFrame:
    """``learnrace forecast``'s input from ``cost_observations`` and ``production`` frames:
    every series and year with its cumulative production, ``unit_cost`` blank after
    ``origin``."""
    return (
        cost.join(
            prod.select("series_id", "year", "cumulative_production"), on=["series_id", "year"]
        )
        .select(
            "series_id",
            "year",
            pl.when(pl.col("year") <= origin).then(pl.col("unit_cost")).alias("unit_cost"),
            "cumulative_production",
        )
        .sort("series_id", "year")
    )


def cli_input(db: Path, path: Path, origin: int) -> int:
    """Write ``learnrace forecast``'s input CSV (:func:`forecast_frame`) from the warehouse's
    harmonized tables; returns the rows written."""
    from learnrace_pipeline.lib.storage.warehouse import read_table

    cost = read_table(db, "harmonized", "cost_observations")
    prod = read_table(db, "harmonized", "production")
    df = forecast_frame(cost, prod, origin)
    df.write_csv(path, null_value="")
    return df.height


def _stage_main(argv: list[str]) -> None:
    """Entry of a stage subprocess: ``--stage NAME --db ... --work ...``; prints one JSON line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--args", default="{}")
    a = ap.parse_args(argv)
    args = json.loads(a.args)
    t0 = time.perf_counter()
    if a.stage == "ingest":
        res: dict = {"rows": ingest(a.work / "datasets", a.db)}
    elif a.stage == "harmonize":
        res = {"rows": harmonize(a.db)}
    elif a.stage == "fit":
        res = fit(a.db, a.work, a.work / "truth.json", args)
    elif a.stage == "forecast_step":
        res = forecast_step(a.db, a.work, args["origin"], args["seed"])
    else:
        raise SystemExit(f"unknown stage {a.stage}")
    res["work_s"] = round(time.perf_counter() - t0, 2)
    print("RESULT " + json.dumps(res, default=str), flush=True)


# ----------------------------------------------------------------------------- runner


def run_measured(
    cmd: list[str], budget: float | None, log: Path, memory_limit_gib: float | None = None
) -> dict:
    """Run ``cmd`` in its own process group; return wall seconds, peak RSS (MiB, from
    ``os.wait4``), return code, the ``RESULT`` JSON line it printed and whether the budget
    stopped it (the whole group is killed when ``budget`` seconds pass). ``memory_limit_gib``
    caps the child's address space (``RLIMIT_AS``; a guard for a shared machine: past it the
    child fails with a memory error)."""

    def limit() -> None:
        if memory_limit_gib:
            cap = int(memory_limit_gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=limit
        )
        over = False
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if budget is not None and time.perf_counter() - t0 > budget:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, ru = os.wait4(proc.pid, 0)
                over = True
                break
            time.sleep(0.2)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    result = None
    for line in text.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    return {
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(ru.ru_maxrss / 1024, 1),
        "returncode": proc.returncode,
        "over_budget": over,
        "result": result,
        "log_tail": None if proc.returncode == 0 else text[-1500:],
    }


def sweep_one(n: int, opts: argparse.Namespace) -> dict:
    """Every stage for a panel of ``n`` series; returns ``{stage: measurement}``."""
    from learnrace_pipeline.lib.storage import snapshot

    out: dict = {"n_series": n}
    with tempfile.TemporaryDirectory(prefix=f"scale_sweep_{n}_") as tmp:
        work = Path(tmp)
        db = work / "warehouse.duckdb"
        t0 = time.perf_counter()
        tables, truth = synthetic_panel(n, m=opts.drift, seed=opts.seed)
        snapshot.write_source(work / "datasets", SLOT, tables)
        (work / "truth.json").write_text(json.dumps(asdict(truth)))
        out["generate_s"] = round(time.perf_counter() - t0, 2)
        out["rows"] = tables["cost_observations"].height
        py = [sys.executable, "-m", "bench.scale_sweep", "--stage-child"]
        base = ["--db", str(db), "--work", str(work)]
        stage_args = {
            "chains": opts.chains,
            "tune": opts.tune,
            "draws": opts.draws,
            "seed": opts.seed,
            "trend": opts.trend,
            "origin": opts.origin,
            "route": opts.route,
            "max_series": opts.max_series,
        }
        for stage in STAGES:
            if stage not in opts.stage_list:
                continue
            log = RESULTS / f"scale_sweep_{n}_{stage}.log"
            if stage == "cli_forecast":
                csv_in = work / "series.csv"
                cli_input(db, csv_in, opts.origin)
                cmd = [
                    str(ROOT / ".venv" / "bin" / "learnrace"),
                    "forecast",
                    "--input",
                    str(csv_in),
                    "--output",
                    str(work / "forecasts.csv"),
                ]
                budget = opts.cli_budget
            else:
                cmd = [*py, "--stage", stage, *base, "--args", json.dumps(stage_args)]
                budget = opts.fit_budget if stage == "fit" else None
            m = run_measured(cmd, budget, log, opts.memory_limit)
            if stage == "cli_forecast" and m["returncode"] == 0:
                m["result"] = {"output_rows": pl.read_csv(work / "forecasts.csv").height}
            out[stage] = m
            status = "over budget" if m["over_budget"] else f"rc={m['returncode']}"
            print(
                f"  N={n} {stage}: {m['wall_s']} s, {m['peak_rss_mib']} MiB, {status}", flush=True
            )
    return out


def growth_exponent(ns: list[int], secs: list[float | None]) -> float | None:
    """Least-squares slope of log time on log N over the points with a time (None if < 2)."""
    pts = [(math.log(n), math.log(s)) for n, s in zip(ns, secs, strict=True) if s]
    if len(pts) < 2:
        return None
    x, y = np.array(pts).T
    return float(np.polyfit(x, y, 1)[0])


def _ok(m: dict | None) -> bool:
    return bool(m) and m["returncode"] == 0 and not m["over_budget"]


def _cell(m: dict | None) -> str:
    if m is None:
        return "-"
    if m["over_budget"]:
        return f">{m['wall_s']:.0f}s OB {m['peak_rss_mib'] / 1024:.1f}G"
    if m["returncode"] != 0:
        return f"FAIL {m['wall_s']:.0f}s"
    return f"{m['wall_s']:.1f}s {m['peak_rss_mib'] / 1024:.2f}G"


def stage_exponents(ns: list[int], ms: list[dict | None]) -> dict:
    """Growth exponents of one stage's wall time: from 1,000 series up and over every N.

    A stage stopped by its budget enters with its budget as its time and the exponent is then a
    lower bound (``*_lower_bound`` true): the stage would have taken longer. Failed stages are
    left out."""
    secs = [m["wall_s"] if (_ok(m) or (m and m["over_budget"])) else None for m in ms]
    censored = [bool(m and m["over_budget"]) for m in ms]
    big = [i for i, n in enumerate(ns) if n >= 1000]
    return {
        "1000_to_10000": growth_exponent([ns[i] for i in big], [secs[i] for i in big]),
        "1000_to_10000_lower_bound": any(censored[i] and secs[i] for i in big),
        "all": growth_exponent(ns, secs),
        "all_lower_bound": any(c and s for c, s in zip(censored, secs, strict=True)),
    }


def table(runs: list[dict]) -> str:
    """Stage x N: wall seconds and peak RSS (GiB); OB = over budget (killed); ``>=`` marks an
    exponent that is a lower bound."""
    ns = [r["n_series"] for r in runs]
    head = (
        f"{'stage':<14}"
        + "".join(f"{'N=' + str(n):>18}" for n in ns)
        + f"{'exp 1k-10k':>11}{'exp all':>9}"
    )
    lines = [head, "-" * len(head)]

    def fmt(e: float | None, lower: bool) -> str:
        return "-" if e is None else (">=" if lower else "") + f"{e:.2f}"

    for stage in STAGES:
        ms = [r.get(stage) for r in runs]
        e = stage_exponents(ns, ms)
        lines.append(
            f"{stage:<14}"
            + "".join(f"{_cell(m):>18}" for m in ms)
            + f"{fmt(e['1000_to_10000'], e['1000_to_10000_lower_bound']):>11}"
            + f"{fmt(e['all'], e['all_lower_bound']):>9}"
        )
    return "\n".join(lines)


def exponents(runs: list[dict]) -> dict:
    """:func:`stage_exponents` of every stage."""
    ns = [r["n_series"] for r in runs]
    return {stage: stage_exponents(ns, [r.get(stage) for r in runs]) for stage in STAGES}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--stage-child":
        _stage_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="100,1000,10000", help="comma-separated series counts")
    ap.add_argument(
        "--fit-budget", type=float, default=900.0, help="seconds before the fit is stopped"
    )
    ap.add_argument("--cli-budget", type=float, default=1800.0)
    ap.add_argument("--chains", type=int, default=2)
    ap.add_argument("--tune", type=int, default=300)
    ap.add_argument("--draws", type=int, default=300)
    ap.add_argument("--trend", choices=("wright", "both"), default="wright")
    ap.add_argument(
        "--route",
        choices=("auto", "full", "blocked"),
        default="full",
        help="the fit: one pooled NUTS model, blocks pooled in two stages, or auto by size",
    )
    ap.add_argument("--max-series", type=int, default=500, help="largest block of --route blocked")
    ap.add_argument("--drift", type=float, default=0.0, help="shared time drift m, log cost/year")
    ap.add_argument("--origin", type=int, default=2009)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument(
        "--stages",
        default=",".join(STAGES),
        help="stages to run (ingest and harmonize always run: the others read their tables)",
    )
    ap.add_argument(
        "--memory-limit", type=float, default=None, help="address-space cap per stage, GiB"
    )
    ap.add_argument("--out", default="scale_sweep.json")
    opts = ap.parse_args()
    opts.stage_list = {"ingest", "harmonize", *opts.stages.split(",")}
    unknown = opts.stage_list - set(STAGES)
    if unknown:
        ap.error(f"unknown stage(s) {sorted(unknown)}; known: {STAGES}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in opts.sizes.split(",")]
    runs = []
    for n in sizes:
        print(f"N = {n}", flush=True)
        runs.append(sweep_one(n, opts))
        save_json(opts.out, {"options": vars(opts), "runs": runs, "exponents": exponents(runs)})
    print(table(runs))
    for r in runs:
        f = r.get("fit")
        if f is None:
            pass
        elif f["result"]:
            res = f["result"]
            print(
                f"N={r['n_series']} fit ({res.get('route', 'full')}): {res['sampler']}, compile {res['compile_s']} s, "
                f"sample {res['sample_s']} s; w 90% coverage {res['w_coverage_90']:.3f} "
                f"(target 0.85-0.95); checks {'passed' if res['checks_passed'] else 'failed'}: "
                f"{res['checks'].split(' | ')[-1]}"
            )
            for k, v in res["shared"].items():
                q = v["q05_q50_q95"]
                print(
                    f"    {k:<15} true {v['true']:8.4f}  90% [{q[0]:.4f}, {q[2]:.4f}]  "
                    f"median {q[1]:.4f}  {'covered' if v['covered'] else 'MISSED'}"
                )
        else:
            print(
                f"N={r['n_series']} fit: {'over budget' if f['over_budget'] else 'failed'} "
                f"after {f['wall_s']} s"
            )
        fs = (r.get("forecast_step") or {}).get("result")
        if fs:
            print(
                f"N={r['n_series']} forecast step: {fs['targets']} targets, prior {fs['prior']}, "
                f"90% cost coverage {fs['cost_coverage_90']:.3f}"
            )
    path = save_json(opts.out, {"options": vars(opts), "runs": runs, "exponents": exponents(runs)})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
