"""Hindcast plots as PNG bytes (matplotlib, Agg backend): coverage against nominal by horizon,
PIT histograms, log-pinball loss by horizon, and the median's RMS log error by horizon. Inputs
are the frames of :func:`learnrace_pipeline.lib.evaluation.hindcast.run_hindcast`."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import polars as pl

from learnrace_pipeline.lib.evaluation.hindcast_scores import POOLED, error_growth
from learnrace_pipeline.lib.evaluation.scores import INTERVALS

_STYLE = {
    "pooled_wright": ("#1b6ca8", "-", "o"),
    "pooled_wright_projected": ("#6aa6d6", "--", "o"),
    "ols_wright": ("#d1495b", "-", "s"),
    "ols_wright_shared_drift": ("#8d3b72", ":", "s"),
    "rw_drift": ("#edae49", "-", "^"),
    "no_change": ("#66a182", "-", "v"),
}


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _models(frame: pl.DataFrame, models: Sequence[str] | None) -> list[str]:
    present = frame["model"].unique().sort().to_list()
    return [m for m in (models or present) if m in present]


def _style(model: str) -> dict:
    color, ls, marker = _STYLE.get(model, ("#555555", "-", "."))
    return {"color": color, "linestyle": ls, "marker": marker, "markersize": 3.5, "lw": 1.4}


def coverage_by_horizon_png(
    scores_by_horizon: pl.DataFrame, models: Sequence[str] | None = None
) -> bytes:
    """One panel per central interval (50/80/90/95%): empirical coverage against horizon (years),
    one line per model, the nominal level dashed."""
    models = _models(scores_by_horizon, models)
    fig, axes = plt.subplots(1, len(INTERVALS), figsize=(3.2 * len(INTERVALS), 3.2), sharey=True)
    for ax, nominal in zip(axes, INTERVALS, strict=True):
        for m in models:
            d = scores_by_horizon.filter(pl.col("model") == m).sort("horizon")
            ax.plot(d["horizon"], d[f"coverage{nominal}"], label=m, **_style(m))
        ax.axhline(nominal / 100, color="black", ls=":", lw=1)
        ax.set_title(f"{nominal}% interval")
        ax.set_xlabel("horizon (years after origin)")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("share of outcomes inside")
    axes[-1].legend(fontsize=7, loc="lower left")
    fig.suptitle("Hindcast coverage against nominal", fontsize=11, y=1.04)
    return _png(fig)


def pit_histogram_png(pit: pl.DataFrame, models: Sequence[str] | None = None) -> bytes:
    """PIT histogram per model (density; 1 = calibrated, dotted)."""
    models = _models(pit, models)
    fig, axes = plt.subplots(
        1, len(models), figsize=(2.8 * len(models), 2.8), sharey=True, squeeze=False
    )
    for ax, m in zip(axes[0], models, strict=True):
        d = pit.filter(pl.col("model") == m).sort("bin")
        ax.bar(
            d["bin_lo"],
            d["density"],
            width=(d["bin_hi"] - d["bin_lo"]).to_list(),
            align="edge",
            color=_style(m)["color"],
            edgecolor="white",
        )
        ax.axhline(1.0, color="black", ls=":", lw=1)
        ax.set_title(m, fontsize=9)
        ax.set_xlabel("PIT")
        ax.set_xlim(0, 1)
    axes[0][0].set_ylabel("density")
    fig.suptitle("PIT histograms of log cost", fontsize=11)
    return _png(fig)


def _by_horizon_png(
    scores_by_horizon: pl.DataFrame,
    column: str,
    ylabel: str,
    title: str,
    models: Sequence[str] | None,
    labels: dict[str, str] | None = None,
    reference: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> bytes:
    """One line per model of ``column`` against horizon (years); ``reference`` is an extra
    dotted line ``(x, y, label)``."""
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    for m in _models(scores_by_horizon, models):
        d = scores_by_horizon.filter(pl.col("model") == m).sort("horizon")
        ax.plot(d["horizon"], d[column], label=(labels or {}).get(m, m), **_style(m))
    if reference is not None:
        x, y, label = reference
        ax.plot(x, y, color="black", ls=":", lw=1, label=label)
    ax.set_xlabel("horizon (years after origin)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def pinball_by_horizon_png(
    scores_by_horizon: pl.DataFrame, models: Sequence[str] | None = None
) -> bytes:
    """Mean log-pinball loss (log cost, 7 quantiles) against horizon, one line per model."""
    return _by_horizon_png(scores_by_horizon, "log_pinball", "mean pinball loss of log cost",
                           "Log-pinball loss by horizon (lower is better)", models)  # fmt: skip


#: Nagy et al. (2013): the RMS log error of Wright's-law hindcasts grows about 0.025 per year.
NAGY_GROWTH_PER_YEAR = 0.025


def rmse_by_horizon_png(
    scores_by_horizon: pl.DataFrame, models: Sequence[str] | None = None
) -> bytes:
    """RMS log error of the median forecast against horizon (years), one line per model (its
    growth per year, :func:`.hindcast_scores.error_growth`, in the legend), and a dotted line
    of slope :data:`NAGY_GROWTH_PER_YEAR` through the pooled model's (else the first model's)
    first point for reference."""
    models = _models(scores_by_horizon, models)
    growth = dict(error_growth(scores_by_horizon).select("model", "rmse_log_growth").rows())
    labels = {m: f"{m} ({growth[m]:+.3f}/yr)" for m in models if growth.get(m) is not None}
    reference = None
    if models:
        anchor = POOLED if POOLED in models else models[0]
        first = scores_by_horizon.filter(pl.col("model") == anchor).sort("horizon")
        h, r = first["horizon"].to_numpy().astype(float), first["rmse_log"].to_numpy()
        line = r[0] + NAGY_GROWTH_PER_YEAR * (h - h[0])
        reference = (h, line, f"Nagy et al. 2013 slope (+{NAGY_GROWTH_PER_YEAR}/yr)")
    return _by_horizon_png(scores_by_horizon, "rmse_log", "RMS error of log median",
                           "Point error by horizon (lower is better)", models, labels,
                           reference)  # fmt: skip


def hindcast_plots(results: dict[str, pl.DataFrame]) -> dict[str, bytes]:
    """All four plots from :func:`run_hindcast` output, keyed by a file-friendly name."""
    return {
        "coverage_by_horizon": coverage_by_horizon_png(results["scores_by_horizon"]),
        "pit_histogram": pit_histogram_png(results["pit"]),
        "pinball_by_horizon": pinball_by_horizon_png(results["scores_by_horizon"]),
        "rmse_by_horizon": rmse_by_horizon_png(results["scores_by_horizon"]),
    }
