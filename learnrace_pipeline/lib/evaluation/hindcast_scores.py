"""Scored forecast rows and score tables of a rolling-origin hindcast.

:func:`forecast_rows` turns one model's predictive quantiles (of log unit cost, at
:data:`~.scores.HINDCAST_LEVELS`), PIT values and CRPS at one origin into rows of the
``evaluation.forecasts`` table (quantiles back in cost units, interval hits and log-pinball
added); :func:`baseline_rows` does so for the three baselines of :mod:`.baselines`, fitted to
each series' training points. :func:`summarise` aggregates the rows into the score tables
(by horizon, by industry, overall with ratios to baseline (a) and the growth of the point error
with the horizon, :func:`error_growth`; PIT histograms) and :func:`coverage_check` tests the
overall coverage against :data:`COVERAGE_BANDS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from learnrace_pipeline.lib.evaluation import baselines as bl
from learnrace_pipeline.lib.evaluation.scores import (
    HINDCAST_LEVELS,
    INTERVALS,
    forecast_scores,
    pit_histogram,
    qname,
    score_table,
)

POOLED = "pooled_wright"
POOLED_PROJECTED = "pooled_wright_projected"
POOLED_EXPERIENCE_TIME = "pooled_experience_time"
POOL = "pool_wright_experience_time"
#: The hindcast model of each ``learnrace forecast --model`` choice it scores.
FORECASTER_MODELS: dict[str, str] = {
    "wright": POOLED,
    "experience_time": POOLED_EXPERIENCE_TIME,
    "pool": POOL,
}
#: Coverage bands the evaluation check warns outside of (nominal -> (low, high)).
COVERAGE_BANDS: dict[int, tuple[float, float]] = {50: (0.45, 0.55), 90: (0.85, 0.95)}
#: Horizon groups of ``scores_by_horizon_group``: label -> (first, last) horizon, years ahead.
HORIZON_GROUPS: dict[str, tuple[int, int]] = {"1-2": (1, 2), "3-5": (3, 5), "6-10": (6, 10)}
#: Bands every horizon group of the pooled forecaster should stay in: central-interval coverage
#: (nominal level -> (low, high) share) and the largest absolute mean log error of the median.
GROUP_COVERAGE_BANDS: dict[int, tuple[float, float]] = {50: (0.42, 0.58), 90: (0.85, 0.95)}
GROUP_BIAS_MAX = 0.05


def forecast_rows(
    model: str,
    origin: int,
    meta: pl.DataFrame,
    log_q: np.ndarray,
    pit: np.ndarray,
    crps: np.ndarray,
    production: Sequence[str] | str,
) -> pl.DataFrame:
    """Forecast rows: ``meta`` has series, series_id, technology, industry, nation, year,
    horizon, log_actual; ``log_q`` has log quantiles at HINDCAST_LEVELS."""
    sc = forecast_scores(log_q, HINDCAST_LEVELS, meta["log_actual"].to_numpy())
    q = np.exp(log_q)
    return meta.with_columns(
        pl.lit(model).alias("model"),
        pl.lit(origin, pl.Int32).alias("origin"),
        pl.col("log_actual").exp().alias("actual"),
        *[pl.Series(qname(v), q[:, j]) for j, v in enumerate(HINDCAST_LEVELS)],
        *[pl.Series(k, v) for k, v in sc.items()],
        pl.Series("crps", crps),
        pl.Series("pit", pit),
        (
            pl.Series("production", list(production))
            if not isinstance(production, str)
            else pl.lit(production).alias("production")
        ),
    )


FORECAST_COLUMNS = (
    "model", "origin", "series", "series_id", "technology", "industry", "nation", "year",
    "horizon", "actual", "log_actual", *[qname(v) for v in HINDCAST_LEVELS],
    *[f"cover{k}" for k in INTERVALS], "log_pinball", "log_error", "crps", "pit", "production",
)  # fmt: skip


def baseline_rows(
    origin: int,
    train: pl.DataFrame,
    meta: pl.DataFrame,
    theta: float,
    drift: float,
) -> list[pl.DataFrame]:
    """Scored rows of the three baselines and diagnostic (d) at ``origin``, one frame each.

    ``train`` holds every forecast series' training points (series, year, log_cost, log_q);
    ``meta`` one row per target (as for :func:`forecast_rows`, plus ``log_q``, the realised log
    cumulative production that baseline (a) and (d) are conditioned on); ``theta`` is the MA(1)
    coefficient of baseline (b), ``drift`` the shared time drift of (d) (log cost per year).
    """
    out: dict[str, list[tuple[pl.DataFrame, np.ndarray, np.ndarray, np.ndarray]]] = {
        m: [] for m in (*bl.BASELINES, bl.WRIGHT_SHARED_DRIFT)
    }
    tr = {s: g for (s,), g in train.group_by("series", maintain_order=True)}
    for (s,), tg in meta.group_by("series", maintain_order=True):
        g = tr[s]
        yrs, y, x = (g[c].to_numpy() for c in ("year", "log_cost", "log_q"))
        ty, tx, ya = tg["year"].to_numpy(), tg["log_q"].to_numpy(), tg["log_actual"].to_numpy()
        preds = {
            bl.OLS_WRIGHT: bl.ols_wright(yrs, y, x, ty, tx),
            bl.RW_DRIFT: bl.rw_drift(yrs, y, ty, theta),
            bl.NO_CHANGE: bl.no_change(yrs, y, ty),
            bl.WRIGHT_SHARED_DRIFT: bl.ols_wright(yrs, y, x, ty, tx, drift=drift),
        }
        for name, p in preds.items():
            out[name].append((tg, p.quantiles(HINDCAST_LEVELS), p.cdf(ya), p.crps(ya)))
    frames = []
    for name, parts in out.items():
        if not parts:
            continue
        meta_all = pl.concat([p[0] for p in parts])
        frames.append(
            forecast_rows(
                name,
                origin,
                meta_all.drop("log_q"),
                np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]),
                np.concatenate([p[3] for p in parts]),
                "given" if name in (bl.OLS_WRIGHT, bl.WRIGHT_SHARED_DRIFT) else "none",
            )
        )
    return frames


def error_growth(scores_by_horizon: pl.DataFrame) -> pl.DataFrame:
    """How fast each model's point error grows with the horizon.

    Per model, the least-squares line ``rmse_log(h) = a + b h`` through the RMS log error of the
    median at each horizon ``h`` (years; unweighted, as a plot of error against horizon would be
    read). Nagy et al. (2013) found this error growing about linearly, at a typical 0.025 per
    year for Wright's law; the comparison is loose (their series, origins and windows differ).
    Columns: ``model``, ``rmse_log_growth`` (``b``, log units per year of horizon),
    ``rmse_log_growth_intercept`` (``a``) and ``rmse_log_growth_r2``; null for a model scored at
    fewer than 2 horizons.
    """
    rows = []
    for (model,), g in scores_by_horizon.sort("horizon").group_by("model", maintain_order=True):
        h = g["horizon"].cast(pl.Float64).to_numpy()
        r = g["rmse_log"].to_numpy()
        slope = intercept = r2 = None
        if np.unique(h).size >= 2:
            slope, intercept = (float(v) for v in np.polyfit(h, r, 1))
            resid = r - (intercept + slope * h)
            total = float(np.sum((r - r.mean()) ** 2))
            r2 = 1.0 - float(np.sum(resid**2)) / total if total > 0 else None
        rows.append((model, slope, intercept, r2))
    schema = {"model": pl.String} | {
        name: pl.Float64
        for name in ("rmse_log_growth", "rmse_log_growth_intercept", "rmse_log_growth_r2")
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def ratios_to(forecasts: pl.DataFrame, reference: str, suffix: str) -> pl.DataFrame | None:
    """Per model, its mean log-pinball and CRPS over the ``reference`` model's on the same
    forecasts (origin, series, year): columns ``model``, ``log_pinball_ratio_<suffix>``,
    ``crps_ratio_<suffix>`` (below 1 beats the reference); None when ``reference`` made none."""
    key = ["origin", "series", "year"]
    ref = forecasts.filter(pl.col("model") == reference).select(
        *key, pl.col("log_pinball").alias("_lp_ref"), pl.col("crps").alias("_crps_ref")
    )
    if ref.height == 0:
        return None
    return (
        forecasts.join(ref, on=key, how="inner")
        .group_by("model")
        .agg(
            (pl.col("log_pinball").mean() / pl.col("_lp_ref").mean()).alias(
                f"log_pinball_ratio_{suffix}"
            ),
            (pl.col("crps").mean() / pl.col("_crps_ref").mean()).alias(f"crps_ratio_{suffix}"),
        )
    )


def summarise(forecasts: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Score tables from a forecasts frame: by horizon, by industry, overall, PIT histograms.

    ``scores`` (one row per model) adds ``log_pinball_ratio_ols`` and ``crps_ratio_ols``: the
    model's mean score over the ``ols_wright`` mean on the same forecasts (origin, series,
    year) - below 1 is better than baseline (a); and the growth of its point error with the
    horizon (:func:`error_growth`).
    """
    by_h = score_table(forecasts, ["model", "horizon"])
    by_g = score_table(
        forecasts.with_columns(horizon_group(pl.col("horizon")).alias("horizon_group")),
        ["model", "horizon_group"],
    )
    by_i = score_table(forecasts, ["model", "industry"])
    overall = score_table(forecasts, ["model"])
    ratios = ratios_to(forecasts, bl.OLS_WRIGHT, "ols")
    if ratios is not None:
        overall = overall.join(ratios, on="model", how="left")
    overall = overall.join(error_growth(by_h), on="model", how="left")
    return {
        "forecasts": forecasts,
        "scores_by_horizon": by_h,
        "scores_by_horizon_group": by_g,
        "scores_by_industry": by_i,
        "scores": overall.sort("model"),
        "pit": pit_histogram(forecasts, ["model"]),
    }


def horizon_group(horizon: pl.Expr) -> pl.Expr:
    """The :data:`HORIZON_GROUPS` label of a horizon (years ahead); ``">10"`` beyond them."""
    expr = pl.lit(">10")
    for label, (lo, hi) in reversed(HORIZON_GROUPS.items()):
        expr = pl.when(horizon.is_between(lo, hi)).then(pl.lit(label)).otherwise(expr)
    return expr


def horizon_group_check(by_group: pl.DataFrame, model: str = POOLED) -> tuple[bool, str]:
    """Whether every horizon group of ``model`` keeps its coverage in
    :data:`GROUP_COVERAGE_BANDS` and its median's mean log error within +-:data:`GROUP_BIAS_MAX`;
    a message naming each group's figures either way. ``by_group`` is
    ``scores_by_horizon_group``."""
    rows = by_group.filter(pl.col("model") == model).sort("horizon_group")
    if rows.height == 0:
        return False, f"model {model!r} has no scores by horizon group"
    ok, parts = True, []
    for r in rows.iter_rows(named=True):
        bad = [
            f"{nominal}% cover {r[f'coverage{nominal}']:.1%} (band {lo:.0%}-{hi:.0%})"
            for nominal, (lo, hi) in GROUP_COVERAGE_BANDS.items()
            if not lo <= r[f"coverage{nominal}"] <= hi
        ]
        if abs(r["bias_log"]) > GROUP_BIAS_MAX:
            bad.append(f"bias {r['bias_log']:+.3f} log (limit +-{GROUP_BIAS_MAX})")
        ok &= not bad
        figures = f"50% {r['coverage50']:.1%}, 90% {r['coverage90']:.1%}, bias {r['bias_log']:+.3f}"
        parts.append(
            f"h{r['horizon_group']}: {figures}" + (f" OUTSIDE: {'; '.join(bad)}" if bad else "")
        )
    return ok, f"{model} by horizon group: " + " | ".join(parts)


def coverage_check(
    scores: pl.DataFrame,
    model: str = POOLED,
    bands: Mapping[int, tuple[float, float]] = COVERAGE_BANDS,
) -> tuple[bool, str]:
    """Whether ``model``'s overall coverage lies in ``bands``; a message either way.

    ``scores`` is the ``scores`` frame of :func:`run_hindcast`.
    """
    row = scores.filter(pl.col("model") == model)
    if row.height == 0:
        return False, f"model {model!r} has no scores"
    r = row.row(0, named=True)
    parts, ok = [], True
    for nominal, (lo, hi) in bands.items():
        cov = r[f"coverage{nominal}"]
        inside = lo <= cov <= hi
        ok &= inside
        parts.append(
            f"{nominal}% intervals cover {cov:.1%} (band {lo:.0%}-{hi:.0%})"
            + ("" if inside else " OUTSIDE")
        )
    return ok, f"{model}: " + "; ".join(parts) + f" over {r['n']} forecasts"


def auto_model_check(
    by_group: pl.DataFrame, auto: str, group: str = "6-10", reference: str = "ols_wright"
) -> tuple[bool, str]:
    """Whether the forecaster ``auto`` (a ``learnrace forecast --model`` name) has the lowest
    log-pinball in horizon group ``group`` among the forecasters of :data:`FORECASTER_MODELS`
    scored in ``by_group`` (``scores_by_horizon_group``); a message giving each one's
    log-pinball (log units) and its ratio to ``reference`` either way."""
    rows = by_group.filter(pl.col("horizon_group") == group)
    pinball = dict(zip(rows["model"], rows["log_pinball"], strict=True))
    scored = {name: pinball[m] for name, m in FORECASTER_MODELS.items() if m in pinball}
    if auto not in scored:
        return False, f"auto model {auto!r} has no {group} year scores"
    ref = pinball.get(reference)
    parts = [
        f"{name} {v:.4f}" + (f" ({v / ref:.3f} of {reference})" if ref else "")
        for name, v in sorted(scored.items(), key=lambda kv: kv[1])
    ]
    best = min(scored, key=scored.__getitem__)
    ok = best == auto
    head = f"auto = {auto}" + ("" if ok else f", but {best} scores best")
    return ok, f"{head}; {group} year log-pinball: " + ", ".join(parts)
