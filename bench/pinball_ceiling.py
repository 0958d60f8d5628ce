"""How much log-pinball gain over baseline (a) is there to be had at all? A look-ahead bound.

Baseline (a) forecasts each series with its own least-squares Wright exponent ``w`` and noise
scale ``s`` (log cost per sqrt(year)), both estimated from the training points up to the origin.
A forecaster can only beat it by knowing ``w`` or ``s`` better. This script scores, on exactly
the forecasts of a hindcast (same origins, series, target years and realised production),
forecasters that *cheat* by estimating the parameters on the whole series, future included:

- ``lookahead_w``: ``w`` from the whole series, ``s`` and the Student-t (n - 1 df) from the
  training points, no parameter uncertainty on ``w``;
- ``lookahead_s``: (a)'s ``w`` and parameter uncertainty, ``s`` from the whole series, normal;
- ``lookahead_both``: both from the whole series, normal with variance ``s^2 h``;
- ``ols_wright_plugin``: (a) with its point estimates plugged in (normal, no parameter
  uncertainty), an overconfident variant of (a) for comparison;
- ``discounted_hl<k>``: an honest variant, (a) with weights halving every ``k`` years back from
  the origin (a learning exponent that drifts), for comparison. The hindcast's own models are
  added on the same forecasts, among them another honest variant of (a):
  ``ols_wright_shared_drift``, (a) plus a time drift shared by all series.

None of the look-ahead rows is a forecaster: they bound what any estimate of ``w`` and ``s``
from the past could gain under the Wright random-walk model. The script first recomputes (a)
and checks it reproduces the hindcast's own ``ols_wright`` scores, so the rows are comparable.

Run after ``bench.bench_forecast`` (which writes ``bench/results/hindcast_forecasts.parquet``):
``.venv/bin/python -m bench.pinball_ceiling`` (PCDB snapshot panel, as the benchmark uses), or
on the warehouse of a ``learnrace run``: ``... -m bench.pinball_ceiling --db
.learnrace/learnrace.duckdb`` (the panel the pipeline's hindcast used: every series with cost
and cumulative production, unless the run restricted the industries).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

from bench.common import RESULTS
from learnrace_pipeline.lib.evaluation import baselines as bl
from learnrace_pipeline.lib.evaluation.scores import LEVELS, StudentT, mean_pinball
from learnrace_pipeline.lib.models.learning.panel import Panel, load_panel


def _wls_wright(dt: np.ndarray, dy: np.ndarray, dx: np.ndarray, weight: np.ndarray):
    """Weighted Wright fit on differences: (w, s2, sum of weighted dx^2/dt, effective n)."""
    sxx = float(np.sum(weight * dx * dx / dt))
    w = -float(np.sum(weight * dx * dy / dt)) / sxx
    n_eff = float(weight.sum() ** 2 / np.sum(weight**2))
    s2 = float(np.sum(weight * (dy + w * dx) ** 2 / dt) / weight.sum()) * n_eff / (n_eff - 1)
    return w, s2, sxx, n_eff


def ceiling_scores(
    panel: Panel, forecasts: pl.DataFrame, half_lives: tuple[float, ...] = (5.0, 10.0)
) -> pl.DataFrame:
    """Mean log-pinball (log cost) and 50/90% interval coverage of (a), its variants and the
    look-ahead bounds, per model, over the ``ols_wright`` forecasts of ``forecasts`` (a
    hindcast's forecasts frame); the hindcast's own models are added on the same forecasts."""
    ref = forecasts.filter(pl.col("model") == bl.OLS_WRIGHT)
    levels = panel.levels.sort("series", "year")
    by_series = {key[0]: g for key, g in levels.group_by(["series"])}
    rows: list[dict] = []
    for (origin, series), g in ref.sort("origin", "series", "year").group_by(
        ["origin", "series"], maintain_order=True
    ):
        full = by_series[series]
        train = full.filter(pl.col("year") <= origin)
        years = train["year"].to_numpy().astype(float)
        y, x = train["log_cost"].to_numpy(), train["log_q"].to_numpy()
        target_years = g["year"].to_numpy()
        target = full.filter(pl.col("year").is_in(pl.Series(target_years).implode())).sort("year")
        tq, actual = target["log_q"].to_numpy(), target["log_cost"].to_numpy()
        h = target_years.astype(float) - years[-1]
        big_x = tq - x[-1]
        dt, dy, dx = np.diff(years), np.diff(y), np.diff(x)
        n = dy.size
        fy = full["year"].to_numpy().astype(float)
        w_all, s2_all, _, _ = _wls_wright(
            np.diff(fy),
            np.diff(full["log_cost"].to_numpy()),
            np.diff(full["log_q"].to_numpy()),
            np.ones(fy.size - 1),
        )
        w_tr, s2_tr, sxx_tr, _ = _wls_wright(dt, dy, dx, np.ones(n))
        models = {
            bl.OLS_WRIGHT: bl.ols_wright(years, y, x, target_years, tq),
            # (a) with plug-in parameters: normal, no uncertainty about w or s (overconfident)
            "ols_wright_plugin": StudentT(
                y[-1] - w_tr * big_x, np.sqrt(s2_tr * h), np.full(h.size, np.inf)
            ),
            "lookahead_w": StudentT(
                y[-1] - w_all * big_x, np.sqrt(s2_tr * h), np.full(h.size, n - 1.0)
            ),
            "lookahead_s": StudentT(
                y[-1] - w_tr * big_x,
                np.sqrt(s2_all * (h + big_x**2 / sxx_tr)),
                np.full(h.size, np.inf),
            ),
            "lookahead_both": StudentT(
                y[-1] - w_all * big_x, np.sqrt(s2_all * h), np.full(h.size, np.inf)
            ),
        }
        for hl in half_lives:
            weight = 0.5 ** ((years[-1] - years[1:]) / hl)
            w_d, s2_d, sxx_d, n_eff = _wls_wright(dt, dy, dx, weight)
            var_w = s2_d * np.sum(weight**2 * dx * dx / dt) / sxx_d**2
            models[f"discounted_hl{hl:g}"] = StudentT(
                y[-1] - w_d * big_x,
                np.sqrt(s2_d * h + var_w * big_x**2),
                np.full(h.size, max(n_eff - 1.0, 1.0)),
            )
        for name, dist in models.items():
            q = dist.quantiles(LEVELS)
            lp = mean_pinball(q, actual)
            # LEVELS are 5, 10, 25, 50, 75, 90, 95%: the central 50% and 90% intervals
            in50 = (actual >= q[:, 2]) & (actual <= q[:, 4])
            in90 = (actual >= q[:, 0]) & (actual <= q[:, 6])
            rows += [
                {
                    "model": name,
                    "origin": origin,
                    "series": series,
                    "year": int(t),
                    "lp": float(v),
                    "cover50": bool(a),
                    "cover90": bool(b),
                }
                for t, v, a, b in zip(target_years, lp, in50, in90, strict=True)
            ]
    out = pl.DataFrame(rows)
    # the recomputed (a) must be the hindcast's (a), forecast by forecast
    check = out.filter(pl.col("model") == bl.OLS_WRIGHT).join(
        ref.select("origin", "series", "year", "log_pinball"), on=["origin", "series", "year"]
    )
    if check.height != ref.height or not np.allclose(check["lp"], check["log_pinball"]):
        raise RuntimeError("recomputed baseline (a) does not reproduce the hindcast's scores")
    base = float(check["lp"].mean())
    table = out.group_by("model").agg(
        pl.len().alias("n"),
        pl.col("lp").mean().alias("log_pinball"),
        pl.col("cover50").mean().alias("coverage50"),
        pl.col("cover90").mean().alias("coverage90"),
    )
    hindcast_models = (
        forecasts.filter(pl.col("model") != bl.OLS_WRIGHT)
        .join(ref.select("origin", "series", "year"), on=["origin", "series", "year"])
        .group_by("model")
        .agg(
            pl.len().alias("n"),
            pl.col("log_pinball").mean(),
            pl.col("cover50").mean().alias("coverage50"),
            pl.col("cover90").mean().alias("coverage90"),
        )
    )
    table = pl.concat([table, hindcast_models.select(table.columns)])
    return table.with_columns((pl.col("log_pinball") / base).alias("ratio_to_a")).sort(
        "log_pinball"
    )


def warehouse_inputs(db: Path) -> tuple[Panel, pl.DataFrame]:
    """The panel and hindcast forecasts of a warehouse after ``learnrace run`` (read-only)."""
    import duckdb

    from learnrace_pipeline.lib.models.learning.panel import build_panel
    from learnrace_pipeline.lib.storage.warehouse import fetch_pl

    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {
            name: fetch_pl(con, f"select * from harmonized.{name}")
            for name in ("cost_observations", "production", "technologies")
        }
        forecasts = fetch_pl(con, "select * from evaluation.forecasts")
    finally:
        con.close()
    panel = build_panel(tables["cost_observations"], tables["production"], tables["technologies"])
    return panel, forecasts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--forecasts", default=str(RESULTS / "hindcast_forecasts.parquet"))
    ap.add_argument(
        "--db",
        type=Path,
        help="score a warehouse's hindcast instead (e.g. .learnrace/learnrace.duckdb)",
    )
    args = ap.parse_args()
    if args.db is not None:
        panel, forecasts = warehouse_inputs(args.db)
    else:
        panel, forecasts = load_panel(["pcdb_carnegie"]), pl.read_parquet(args.forecasts)
    table = ceiling_scores(panel, forecasts)
    with pl.Config(tbl_rows=30):
        print(table)
    table.write_csv(RESULTS / "pinball_ceiling.csv")


if __name__ == "__main__":
    main()
