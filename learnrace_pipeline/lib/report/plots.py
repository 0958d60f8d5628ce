"""Plots of the learning-curve fits, returned as PNG bytes (matplotlib Agg, no global state).

- :func:`forest_learning_rates`: learning rate per doubling (1 - 2^-w) per industry (or nation),
  posterior mean with 50% and 90% intervals, one marker per model, from the learning-rates table
  of :func:`learnrace_pipeline.lib.models.learning.summaries.learning_rates`.
- :func:`experience_curves`: unit cost against cumulative production per series (log-log), the
  observed points and the fitted curve's posterior median with a 90% band.
- :func:`lambda_prior_posterior_plot`: the spillover share lambda, prior beside posterior.
- :func:`joint_w_m_plot`: joint posterior of w and m (experience+time fits), to show how far the
  data separate deployment-driven from time-driven learning.
"""

from __future__ import annotations

import io
import json

import numpy as np
import polars as pl
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator, NullLocator

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.learning import lambda_prior_posterior

MODEL_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")


def _png(fig: Figure, dpi: int = 100) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def forest_learning_rates(
    table: pl.DataFrame, *, level: str = "industry", title: str | None = None
) -> bytes:
    """Forest plot of learning rates (%, per doubling) for one ``level`` of the table, plus the
    ``all`` and ``all_technologies`` rows; several models are drawn side by side."""
    need = {"level", "name", "model", "w_q05", "w_q25", "w_q75", "w_q95", "w_mean"}
    if not need <= set(table.columns):
        raise ModelError(f"forest plot needs columns {sorted(need)}")
    rows = table.filter(
        pl.col("level").is_in([level, "all", "all_technologies"]) & pl.col("w_mean").is_not_null()
    )
    if rows.height == 0:
        raise ModelError(f"no rows with level {level!r} and a Wright exponent")
    rows = rows.with_columns(
        pl.when(pl.col("level") == "all")
        .then(pl.lit("all (population)"))
        .when(pl.col("level") == "all_technologies")
        .then(pl.lit("all (mean of series)"))
        .otherwise(pl.col("name"))
        .alias("label")
    )
    labels = [
        *sorted(rows.filter(pl.col("level") == level)["label"].unique().to_list(), reverse=True),
        "all (mean of series)",
        "all (population)",
    ]
    labels = [lab for lab in labels if lab in set(rows["label"].to_list())]
    models = sorted(rows["model"].unique().to_list())
    fig = Figure(figsize=(7.5, 0.45 * len(labels) * max(1, len(models) ** 0.5) + 1.5))
    ax = fig.add_subplot()
    offset = np.linspace(-0.25, 0.25, len(models)) if len(models) > 1 else np.zeros(1)

    def lr(w: np.ndarray) -> np.ndarray:
        return 100 * (1 - np.power(2.0, -w))

    for k, model in enumerate(models):
        sub = rows.filter(pl.col("model") == model)
        colour = MODEL_COLOURS[k % len(MODEL_COLOURS)]
        for r in sub.iter_rows(named=True):
            y = labels.index(r["label"]) + offset[k]
            ax.plot(lr(np.array([r["w_q05"], r["w_q95"]])), [y, y], color=colour, lw=1)
            ax.plot(lr(np.array([r["w_q25"], r["w_q75"]])), [y, y], color=colour, lw=3)
            ax.plot(lr(np.array([r["w_mean"]])), [y], "o", color=colour, ms=4)
        ax.plot([], [], "o-", color=colour, label=model)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("learning rate per doubling of cumulative production, % (1 - 2^-w)")
    ax.set_title(title or f"Learning rates by {level}: mean, 50% and 90% intervals")
    ax.legend(loc="lower right", fontsize=7)
    return _png(fig)


def _slope_draws(dt: xr.DataTree, n_draws: int, seed: int) -> dict[str, np.ndarray]:
    """``n_draws`` posterior draws (chains stacked, chosen once with ``seed``) of the slope
    variables the curves need: ``w_series``, ``m_series`` (dims sample, series) and
    ``lambda_nation`` (sample, nation), whichever the fit has."""
    post = dt.posterior.to_dataset()
    names = [v for v in ("w_series", "m_series", "lambda_nation") if v in post]
    stacked = post[names].stack(sample=("chain", "draw"))
    n = stacked.sizes["sample"]
    pick = np.random.default_rng(seed).choice(n, size=min(n_draws, n), replace=False)
    return {v: stacked[v].transpose("sample", ...).values[pick] for v in names}


def _curve_draws(dt: xr.DataTree, s: int, draws: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Observed log q, log c and fitted log c draws (draws, points) for series index ``s``,
    from the slope draws of :func:`_slope_draws`."""
    fd = dt.fit_data
    label = str(fd["series"].values[s])
    pts = fd["point_series"].values.astype(str) == label
    logq = fd["point_log_q"].values[pts]
    logc = fd["point_log_cost"].values[pts]
    year = fd["point_year"].values[pts].astype(float)
    n_pick = next(iter(draws.values())).shape[0] if draws else 1
    x = np.broadcast_to(logq, (n_pick, logq.size)).copy()
    if "lambda_nation" in draws:
        nat = int(fd["nation_of_series"].values[s])
        lam = draws["lambda_nation"][:, nat][:, None]
        x = lam * logq + (1 - lam) * fd["point_log_q_world"].values[pts]
    pred = np.zeros_like(x)
    if "w_series" in draws:
        pred -= draws["w_series"][:, s][:, None] * x
    if "m_series" in draws:
        pred -= draws["m_series"][:, s][:, None] * (year - year[0])
    pred += (logc - pred).mean(axis=1, keepdims=True)  # least-squares level given the slope
    return logq, logc, pred


def experience_curves(
    dt: xr.DataTree,
    *,
    series: list[str] | None = None,
    ncols: int = 5,
    n_draws: int = 400,
    seed: int = 0,
) -> bytes:
    """Small multiples, one per series: observed unit cost against cumulative production
    (log-log axes, in the series' own units) with the posterior median fit and 90% band."""
    fd = dt.fit_data
    labels = [str(v) for v in fd["series"].values]
    chosen = labels if series is None else [s for s in series if s in labels]
    if not chosen:
        raise ModelError("no series to plot")
    model = dt.attrs.get("model_name") or json.loads(dt.attrs["model_config"]).get("trend")
    nrows = int(np.ceil(len(chosen) / ncols))
    cols = min(ncols, len(chosen))
    fig = Figure(figsize=(2.6 * cols, 2.2 * nrows + 0.6))
    draws = _slope_draws(dt, n_draws, seed)
    for k, label in enumerate(chosen):
        s = labels.index(label)
        ax = fig.add_subplot(nrows, cols, k + 1)
        logq, logc, pred = _curve_draws(dt, s, draws)
        lo, mid, hi = np.quantile(pred, [0.05, 0.5, 0.95], axis=0)
        q = np.exp(logq)
        ax.fill_between(q, np.exp(lo), np.exp(hi), color="#1f77b4", alpha=0.25, lw=0)
        ax.plot(q, np.exp(mid), color="#1f77b4", lw=1.2)
        ax.plot(q, np.exp(logc), ".", color="black", ms=3)
        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # no minor ticks: 90 log panels render in seconds
            axis.set_major_locator(LogLocator(numticks=4))
            axis.set_minor_locator(NullLocator())
        unit = str(fd["series_unit"].values[s])
        short = label.split(":", 1)[-1]
        ax.set_title(short if len(short) < 32 else short[:30] + "…", fontsize=8)
        ax.set_ylabel(unit, fontsize=6)
        ax.tick_params(labelsize=6)
    fig.suptitle(f"Experience curves ({model}): posterior median and 90% band", fontsize=10)
    fig.tight_layout()
    return _png(fig, dpi=80)


def lambda_prior_posterior_plot(dt: xr.DataTree) -> bytes:
    """Histograms of lambda (spillover share), prior beside posterior, for the population and
    each nation of a nation-level fit."""
    table = lambda_prior_posterior(dt)
    keys = [("lambda_all", None)] + [
        ("lambda_nation", n)
        for n in sorted(table.filter(pl.col("nation").is_not_null())["nation"].unique().to_list())
    ]
    fig = Figure(figsize=(3.0 * len(keys), 2.6))
    bins = np.linspace(0, 1, 31)
    for k, (quantity, nation) in enumerate(keys):
        ax = fig.add_subplot(1, len(keys), k + 1)
        sub = table.filter(pl.col("quantity") == quantity)
        sub = sub.filter(
            pl.col("nation").is_null() if nation is None else pl.col("nation") == nation
        )
        for source, colour in (("prior", "#999999"), ("posterior", "#d62728")):
            v = sub.filter(pl.col("source") == source)["value"].to_numpy()
            ax.hist(v, bins=bins, density=True, alpha=0.5, color=colour, label=source)
        ax.set_title("all nations" if nation is None else nation, fontsize=9)
        ax.set_xlabel("lambda (weight of national experience)", fontsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def joint_w_m_plot(dt: xr.DataTree, series: list[str] | None = None) -> bytes:
    """Scatter of posterior draws of (w, m): population and up to 5 series (trend 'both')."""
    post = dt.posterior
    if "w_all" not in post or "m_all" not in post:
        raise ModelError("joint_w_m_plot needs an experience+time fit (trend 'both')")
    labels = [str(v) for v in post["series"].values]
    chosen = ["all", *(series or labels[:5])]
    fig = Figure(figsize=(3.0 * len(chosen), 2.8))
    for k, label in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), k + 1)
        if label == "all":
            w, m = post["w_all"].values.ravel(), post["m_all"].values.ravel()
        else:
            w = post["w_series"].sel(series=label).values.ravel()
            m = post["m_series"].sel(series=label).values.ravel()
        ax.plot(w, m, ".", ms=1, alpha=0.3, color="#1f77b4")
        r = np.corrcoef(w, m)[0, 1]
        title = label.split(":", 1)[-1]
        ax.set_title(f"{title[:24]}  corr {r:+.2f}", fontsize=8)
        ax.set_xlabel("w (experience)", fontsize=7)
        ax.set_ylabel("m (per year)", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return _png(fig)
