"""Online recalibration of hindcast forecasts from errors known before each origin.

Reads the forecasts that ``python -m bench.hindcast_experience_time`` saves
(``bench/results/hindcast_experience_time_forecasts.parquet``: one row per model, origin, series
and target year, with the log-cost quantiles ``q05 .. q95`` and the outcome) and re-scores each
model after one of these corrections, all in log cost and leak-free: at origin ``o`` a correction
uses only forecasts made at earlier origins whose target year is ``<= o``.

- ``shift``: per horizon group (1-2, 3-5, 6-10 years), subtract the mean past median error
  ``b = sum(e) / (n + n0)`` (``n0`` pseudo-forecasts of zero error shrink it when few are known).
- ``drift``: subtract ``beta h``, with ``beta = sum(e h) / sum(h^2)`` over every past forecast:
  the bias read as a missing drift in log cost per year.
- ``scale+shift``: ``shift`` (``n0 = 20``), then the quantiles' distances from the median are
  multiplied by the ``k`` in ``[0.5, 4]`` that minimises the past forecasts' mean pinball loss,
  shrunk toward 1 on the log scale by ``n / (n + 20)``.

For each it prints, per horizon group, the 50%/90% interval coverage (%), the median's mean log
error and the mean pinball loss over the 7 levels 0.05..0.95, beside the uncorrected model. A
table of where the 6-10 year error sits (median, 5% trimmed mean, the technology with the largest
mean error) follows. Results go to ``bench/results/hindcast_recalibration.json``.

Usage: ``.venv/bin/python -m bench.hindcast_recalibration`` (after ``bench.hindcast_experience_time``)
"""

from __future__ import annotations

import numpy as np
import polars as pl

from bench.common import RESULTS, save_json
from learnrace_pipeline.lib.evaluation.scores import mean_pinball
from learnrace_pipeline.lib.forecast.types import LEVELS, qname

MODELS = (
    "pooled_wright",
    "pooled_experience_time",
    "pool_wright_experience_time",
    "ols_wright",
)
GROUPS = ("1-2", "3-5", "6-10")
QCOLS = [qname(t) for t in LEVELS]
#: scale factors tried by ``scale+shift``
SCALES = np.exp(np.linspace(np.log(0.5), np.log(4.0), 61))
MEDIAN = LEVELS.index(0.5)


def horizon_group(h: np.ndarray) -> np.ndarray:
    """Horizon group label of each horizon (years)."""
    return np.where(h <= 2, "1-2", np.where(h <= 5, "3-5", "6-10"))


def _scores(lq: np.ndarray, y: np.ndarray, g: np.ndarray) -> list[dict]:
    lo50, hi50 = LEVELS.index(0.25), LEVELS.index(0.75)
    lo90, hi90 = LEVELS.index(0.05), LEVELS.index(0.95)
    out = []
    for gg in GROUPS:
        s = g == gg
        out.append(
            {
                "horizon_group": gg,
                "n": int(s.sum()),
                "coverage50": float(100 * ((y[s] >= lq[s, lo50]) & (y[s] <= lq[s, hi50])).mean()),
                "coverage90": float(100 * ((y[s] >= lq[s, lo90]) & (y[s] <= lq[s, hi90])).mean()),
                "bias_log": float((lq[s, MEDIAN] - y[s]).mean()),
                "log_pinball": float(mean_pinball(lq[s], y[s]).mean()),
            }
        )
    return out


def recalibrate(frame: pl.DataFrame, method: str, n0: float = 20.0) -> np.ndarray:
    """Corrected log-cost quantiles ``(n, 7)`` of one model's forecasts (rows sorted by origin)."""
    lq = np.log(frame.select(QCOLS).to_numpy())
    y = frame["log_actual"].to_numpy()
    origin = frame["origin"].to_numpy()
    year = frame["year"].to_numpy()
    h = frame["horizon"].to_numpy().astype(float)
    g = horizon_group(h)
    med = lq[:, MEDIAN : MEDIAN + 1]
    dev = lq - med
    err = lq[:, MEDIAN] - y
    out = lq.copy()
    for o in np.unique(origin):
        now = origin == o
        known = (year <= o) & (origin < o)
        if method == "drift":
            k = known
            beta = (err[k] * h[k]).sum() / (h[k] ** 2).sum() if k.any() else 0.0
            out[now] = lq[now] - beta * h[now, None]
            continue
        for gg in GROUPS:
            sel = now & (g == gg)
            past = known & (g == gg)
            n = int(past.sum())
            if not sel.any():
                continue
            b = err[past].sum() / (n + n0) if n else 0.0
            k = 1.0
            if method == "scale+shift" and n:
                loss = [mean_pinball(med[past] - b + s * dev[past], y[past]).mean() for s in SCALES]
                k = float(np.exp(n / (n + 20.0) * np.log(SCALES[int(np.argmin(loss))])))
            out[sel] = med[sel] - b + k * dev[sel]
    return out


def main() -> None:
    path = RESULTS / "hindcast_experience_time_forecasts.parquet"
    if not path.exists():
        raise SystemExit(f"{path} is missing: run `python -m bench.hindcast_experience_time` first")
    forecasts = pl.read_parquet(path)
    variants = [
        ("none", {}),
        ("shift", {"n0": 5.0}),
        ("shift", {"n0": 20.0}),
        ("shift", {"n0": 100.0}),
        ("drift", {}),
        ("scale+shift", {"n0": 20.0}),
    ]
    rows = []
    for model in MODELS:
        f = forecasts.filter(pl.col("model") == model).sort("origin", "series", "year")
        y = f["log_actual"].to_numpy()
        g = horizon_group(f["horizon"].to_numpy())
        for method, kw in variants:
            lq = (
                np.log(f.select(QCOLS).to_numpy())
                if method == "none"
                else recalibrate(f, method, **kw)
            )
            label = method + (f" n0={kw['n0']:g}" if "n0" in kw and method == "shift" else "")
            for s in _scores(lq, y, g):
                rows.append({"model": model, "correction": label, **s})
    table = pl.DataFrame(rows)
    short = {
        "pooled_wright": "wright",
        "pooled_experience_time": "exp+time",
        "pool_wright_experience_time": "pool",
        "ols_wright": "(a)",
    }
    shown = table.with_columns(
        pl.col("model").replace(short),
        pl.col("coverage50", "coverage90").round(1),
        pl.col("bias_log").round(3),
        pl.col("log_pinball").round(4),
    ).rename({"horizon_group": "h", "coverage50": "cov50", "coverage90": "cov90"})
    with pl.Config(tbl_rows=200, tbl_cols=10, tbl_width_chars=100, tbl_hide_dataframe_shape=True):
        print(shown)
    long = forecasts.filter(pl.col("horizon") >= 6)
    where = []
    for model in MODELS:
        e = long.filter(pl.col("model") == model)
        err = np.sort(e["log_error"].to_numpy())
        cut = int(0.05 * len(err))
        worst = (
            e.group_by("technology")
            .agg(pl.col("log_error").mean().alias("mean"), pl.len().alias("n"))
            .sort("mean", descending=True)
            .row(0, named=True)
        )
        where.append(
            {
                "model": model,
                "mean": float(err.mean()),
                "median": float(np.median(err)),
                "trimmed5": float(err[cut:-cut].mean()),
                "worst_technology": worst["technology"],
                "worst_mean": float(worst["mean"]),
                "worst_n": int(worst["n"]),
                "mean_without_worst": float(
                    e.filter(pl.col("technology") != worst["technology"])["log_error"].mean()
                ),
            }
        )
    with pl.Config(tbl_cols=10, tbl_width_chars=100, float_precision=3):
        print(pl.DataFrame(where).with_columns(pl.col("model").replace(short)))
    save_json("hindcast_recalibration.json", {"scores": rows, "long_horizon_errors": where})


if __name__ == "__main__":
    main()
