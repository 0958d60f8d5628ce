"""The race report's plots as PNG bytes (matplotlib ``Figure``, Agg canvas), drawn from tables:
closing-year intervals per nation, learning rates with their intervals, and each nation's
observed volume metric by year."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

import polars as pl
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from learnrace_pipeline.lib.report.plots_scaling import nation_colours


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _finite(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def closing_years_png(rows: pl.DataFrame, horizon: int | None, title: str) -> bytes:
    """One line per nation of ``rows`` (columns ``nation``, ``closing_median``, ``closing_q10``,
    ``closing_q90``; optional ``already_closed``, ``closed_year``, ``p_closed_by_horizon``):
    the 80% interval of the closing year (q10-q90) as a bar (an arrow past the horizon where
    q90 lies beyond it: the race gives no year there), the median as a dot, a nation that
    already closed as a star at its year; a nation whose median lies past the horizon (or that
    cannot be judged) says so under its name; the horizon dashed."""
    nations = rows["nation"].to_list()
    colours = nation_colours(nations)
    fig = Figure(figsize=(7.5, 0.55 * len(nations) + 1.3))
    ax = fig.subplots()
    xmax = horizon or 0
    xmin = math.inf
    labels = list(nations)
    for i, r in enumerate(rows.iter_rows(named=True)):
        col = colours[r["nation"]]
        lo, med, hi = r.get("closing_q10"), r.get("closing_median"), r.get("closing_q90")
        if r.get("already_closed") and _finite(r.get("closed_year")):
            ax.plot(r["closed_year"], i, marker="*", ms=14, color=col)
            ax.annotate(
                f"closed {r['closed_year']:.0f}",
                (r["closed_year"], i),
                xytext=(8, -3),
                textcoords="offset points",
                fontsize=8,
            )
            xmin = min(xmin, r["closed_year"])
            continue
        beyond = _finite(lo) and not _finite(hi) and horizon is not None
        if beyond:  # the 90% quantile lies past the horizon: the bar runs on past it
            hi = horizon + 1
        if _finite(lo) and _finite(hi):
            ax.plot([lo, hi], [i, i], color=col, lw=5, alpha=0.45, solid_capstyle="butt")
            if beyond:
                ax.plot(hi, i, marker=">", color=col, ms=8, alpha=0.8)
            xmin, xmax = min(xmin, lo), max(xmax, hi)
        if _finite(med):
            ax.plot(med, i, "o", color=col, ms=7)
            xmin, xmax = min(xmin, med), max(xmax, med)
        else:
            p = r.get("p_closed_by_horizon")
            after = f"after {horizon}" if horizon is not None else "after the horizon"
            labels[i] += f"\nmedian {after}" if _finite(p) else "\nnot judged"
    if horizon is not None:
        ax.axvline(horizon, color="black", ls="--", lw=1)
        ax.annotate("horizon", (horizon, len(nations) - 0.5), fontsize=8, ha="right")
    if math.isfinite(xmin):
        ax.set_xlim(xmin - 1.5, max(xmax, xmin) + 1.5)
    ax.set_yticks(range(len(nations)), labels, fontsize=8)
    ax.set_ylim(-0.7, len(nations) - 0.3)
    ax.invert_yaxis()
    ax.set_xlabel("year the nation closes the loop (dot: median; bar: 80% interval)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def learning_rates_png(
    rows: pl.DataFrame, label: str, title: str, *, lo: str = "lr_q05", hi: str = "lr_q95"
) -> bytes:
    """A forest plot of learning rates (fractional cost decline per doubling of cumulative
    production): one row per line of ``rows``, named by column ``label``, the mean
    (``lr_mean``) as a dot and ``lo``-``hi`` (default the central 90% interval) as a bar."""
    fig = Figure(figsize=(7.5, 0.32 * rows.height + 1.2))
    ax = fig.subplots()
    for i, r in enumerate(rows.iter_rows(named=True)):
        if _finite(r[lo]) and _finite(r[hi]):
            ax.plot([r[lo], r[hi]], [i, i], color="#1b6ca8", lw=2.5, alpha=0.6)
        if _finite(r["lr_mean"]):
            ax.plot(r["lr_mean"], i, "o", color="#1b6ca8", ms=5)
    ax.set_yticks(range(rows.height), [str(v) for v in rows[label].to_list()], fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("learning rate (cost decline per doubling; dot: mean, bar: 90% interval)")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=10)
    return _png(fig)


def observed_metric_png(
    series: pl.DataFrame, nations: Sequence[str], ylabel: str, title: str, *, log: bool = False
) -> bytes:
    """Each nation's observed yearly figure (``series``: columns ``nation``, ``year``,
    ``value``) as a line with markers; a single year shows as bars."""
    colours = nation_colours(list(nations))
    fig = Figure(figsize=(7.5, 3.6))
    ax = fig.subplots()
    years = series["year"].unique().sort().to_list()
    if len(years) == 1:
        d = series.filter(pl.col("nation").is_in(list(nations)))
        names = [n for n in nations if n in d["nation"].to_list()]
        vals = [d.filter(pl.col("nation") == n)["value"][0] for n in names]
        ax.bar(names, vals, color=[colours[n] for n in names])
        ax.set_xlabel(f"nation ({years[0]}: one year of data)")
    else:
        for n in nations:
            d = series.filter(pl.col("nation") == n).sort("year")
            if d.height:
                ax.plot(d["year"], d["value"], marker="o", ms=3, lw=1.5, color=colours[n], label=n)
        ax.set_xlabel("year")
        ax.legend(fontsize=8, ncol=min(len(nations), 5))
    if log:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    return _png(fig)
