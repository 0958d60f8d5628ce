"""Hindcast of the production projection alone: how well does the forecaster's projected
cumulative production match what was later produced, for several damping factors phi?

Every production series of the snapshot (all sources, per series and nation) with at least
``MIN_TRAIN`` years of positive annual production before an origin is projected 1-10 years ahead
from each origin (every 2 years) with :func:`learnrace_pipeline.lib.forecast.production.project`,
using only the annual production up to the origin, and scored against the realised log
cumulative production: log-pinball (7 quantiles, log units), coverage of the central 50% and 90%
intervals and the mean log error of the median (positive = projected too much production), for
all horizons and for 6-10 years ahead. No cost model is involved, so this is cheap (seconds).

    .venv/bin/python -m bench.production_projection [--cost]

``--cost`` also runs the cost hindcast of the PCDB panel with projected production (the
forecaster's ``pooled_wright_projected`` model) for phi = 1 (the undamped random walk with drift)
and phi = 0.8, and compares their cost-forecast scores (a few minutes: per-origin fits).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from bench.common import save_json
from learnrace_pipeline.lib.evaluation.scores import mean_pinball
from learnrace_pipeline.lib.forecast.production import production_model, project
from learnrace_pipeline.lib.forecast.types import LEVELS
from learnrace_pipeline.lib.sources import SOURCE_TABLES, SOURCES
from learnrace_pipeline.lib.storage import snapshot

PHIS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7)
MIN_TRAIN = 5
MAX_H = 10
K = 2000
SEED = 20261206


def production_panel() -> pl.DataFrame:
    """``series_id`` (series|nation), ``year``, ``annual``, ``cumulative`` (> 0), one row a year."""
    frames = []
    for s in SOURCES:
        if "production" in SOURCE_TABLES[s]:
            frames.append(snapshot.load(snapshot.DEFAULT_DATASETS, s)["production"])
    prod = pl.concat([f.select("series_id", "nation", "year", "annual_production",
                               "cumulative_production") for f in frames])  # fmt: skip
    return (
        prod.filter((pl.col("annual_production") > 0) & (pl.col("cumulative_production") > 0))
        .with_columns(pl.format("{}|{}", "series_id", "nation").alias("series_id"))
        .select("series_id", "year", annual="annual_production", cumulative="cumulative_production")
        .sort("series_id", "year")
    )


def score(panel: pl.DataFrame, phi: float) -> pl.DataFrame:
    """One row per (series, origin, horizon): realised log cumulative, projected quantiles."""
    rng = np.random.default_rng(SEED)
    rows = []
    for sid, g in panel.group_by("series_id", maintain_order=True):
        years = g["year"].to_numpy()
        if np.any(np.diff(years) != 1):
            continue  # annual series only
        for o in range(int(years[0]) + MIN_TRAIN - 1, int(years[-1]), 2):
            train = g.filter(pl.col("year") <= o)
            future = g.filter((pl.col("year") > o) & (pl.col("year") <= o + MAX_H))
            if train.height < MIN_TRAIN or future.is_empty():
                continue
            annual = train.select(
                pl.lit(sid[0]).alias("series_id"),
                "year",
                pl.col("annual").log().alias("log_annual"),
            )
            pm = production_model(annual, [sid[0]])
            pm["lq_last"] = pm.pop("last_lq")
            pm["lz_last"] = np.array([np.log(train["cumulative"][-1])])
            hp = (future["year"].to_numpy() - o).astype(np.int64)
            tg = {"projected": np.ones(hp.size, bool), "hp": hp}
            sims = project(tg, pm, np.zeros(hp.size, np.int64), K, rng, phi)
            q = np.quantile(sims, LEVELS, axis=1).T
            y = np.log(future["cumulative"].to_numpy())
            for j in range(hp.size):
                rows.append((sid[0], o, int(hp[j]), y[j], *q[j]))
    cols = ["series_id", "origin", "horizon", "y", *[f"q{i}" for i in range(len(LEVELS))]]
    return pl.DataFrame(rows, schema=cols, orient="row")


def summarise(f: pl.DataFrame) -> dict[str, float]:
    q = f.select([f"q{i}" for i in range(len(LEVELS))]).to_numpy()
    y = f["y"].to_numpy()
    i25, i75, i05, i95, i50 = (LEVELS.index(v) for v in (0.25, 0.75, 0.05, 0.95, 0.5))
    return {
        "n": int(y.size),
        "log_pinball": float(mean_pinball(q, y, LEVELS).mean()),
        "coverage50": float(np.mean((y >= q[:, i25]) & (y <= q[:, i75]))),
        "coverage90": float(np.mean((y >= q[:, i05]) & (y <= q[:, i95]))),
        "bias_log": float(np.mean(q[:, i50] - y)),
    }


def cost_hindcast() -> dict:
    """Cost-forecast scores of ``pooled_wright_projected`` for phi = 1 and the default phi."""
    from learnrace_pipeline.lib.evaluation.hindcast import HindcastConfig, run_hindcast
    from learnrace_pipeline.lib.evaluation.hindcast_scores import POOLED_PROJECTED
    from learnrace_pipeline.lib.forecast.types import PRODUCTION_DAMPING, ForecastConfig
    from learnrace_pipeline.lib.models.learning.panel import load_panel

    panel = load_panel(["pcdb_carnegie"])
    out = {}
    for phi in sorted({1.0, 0.8, PRODUCTION_DAMPING}, reverse=True):
        cfg = HindcastConfig(
            production="projected",
            forecast=ForecastConfig(
                n_samples=1000, max_prior_draws=400, seed=20240601, production_damping=phi
            ),
        )
        res = run_hindcast(panel, cfg)
        for name in ("scores", "scores_by_horizon"):
            f = res[name].filter(pl.col("model") == POOLED_PROJECTED)
            out[f"{phi}/{name}"] = f.to_dicts()
        s = res["scores"].filter(pl.col("model") == POOLED_PROJECTED).row(0, named=True)
        by_h = res["scores_by_horizon"].filter(
            (pl.col("model") == POOLED_PROJECTED) & (pl.col("horizon") >= 6)
        )
        print(
            f"phi={phi}: n={s['n']} log-pinball {s['log_pinball']:.4f} cov50 {s['coverage50']:.3f}"
            f" cov90 {s['coverage90']:.3f} bias {s['bias_log']:+.3f}; h6-10 mean pinball "
            f"{by_h['log_pinball'].mean():.4f} bias {by_h['bias_log'].mean():+.3f}"
        )
    return out


def main() -> None:
    import sys

    panel = production_panel()
    out = {}
    table = Table(title="Projected log cumulative production vs realised (all sources)")
    for c in ("phi", "n", "pinball", "cov50", "cov90", "bias", "pinball h6-10", "cov90 h6-10",
              "bias h6-10"):  # fmt: skip
        table.add_column(c, justify="right")
    for phi in PHIS:
        f = score(panel, phi)
        a, lng = summarise(f), summarise(f.filter(pl.col("horizon") >= 6))
        out[str(phi)] = {"all": a, "h6_10": lng, "n_series": f["series_id"].n_unique()}
        table.add_row(
            f"{phi:.2f}", str(a["n"]), f"{a['log_pinball']:.4f}", f"{a['coverage50']:.3f}",
            f"{a['coverage90']:.3f}", f"{a['bias_log']:+.3f}", f"{lng['log_pinball']:.4f}",
            f"{lng['coverage90']:.3f}", f"{lng['bias_log']:+.3f}",
        )  # fmt: skip
    Console(width=120).print(table)
    if "--cost" in sys.argv:
        out["cost_hindcast"] = cost_hindcast()
    print("wrote", save_json("production_projection.json", out))


if __name__ == "__main__":
    main()
