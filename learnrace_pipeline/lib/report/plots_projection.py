"""The race's metric draws as a plot: each nation's observed figure and its projection.

For one metric (:class:`~learnrace_pipeline.lib.race.draws.MetricDraws`): per nation, the median
of the draws through the years (solid up to its last observed year, dashed after) and the 80%
band (10-90% of the draws) beyond the data; a fixed threshold (``at_least``, ``at_most``,
``share_at_least``, ``cumulative_at_least``, a parity ``level``) as a grey line. Units are the
metric's (a share of the world where the draws carry a world total).
"""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from learnrace_pipeline.lib.race.draws import MetricDraws
from learnrace_pipeline.lib.race.spec import Metric

FIXED_KINDS = ("at_least", "at_most", "share_at_least", "cumulative_at_least")


def projection_png(d: MetricDraws, metric: Metric, title: str) -> bytes:
    """PNG of ``d``'s observed and projected medians with 80% bands per nation (module doc)."""
    values = d.values.values
    if d.world is not None:
        values = values / d.world.values[:, None, :]
    years = d.years
    fig = Figure(figsize=(7.5, 4.2))
    ax = fig.subplots()
    positive = np.nanmin(values) > 0 if np.isfinite(values).any() else False
    spread = np.nanmax(values) / np.nanmin(values) if positive else 1.0
    for j, nation in enumerate(d.nations):
        v = values[:, j, :]
        ok = np.isfinite(v).mean(axis=0) > 0.5
        if not ok.any():
            continue
        with np.errstate(all="ignore"):
            q10, q50, q90 = np.nanquantile(np.where(np.isfinite(v), v, np.nan), [0.1, 0.5, 0.9], 0)
        last = d.observed_through.get(nation, int(years.min()) - 1)
        seen = ok & (years <= last)
        ahead = ok & (years >= last)
        (line,) = ax.plot(years[seen], q50[seen], lw=2, label=nation)
        ax.plot(years[ahead], q50[ahead], lw=1.5, ls="--", color=line.get_color())
        fut = ok & (years > last)
        ax.fill_between(years[fut], q10[fut], q90[fut], color=line.get_color(), alpha=0.15)
    th = metric.threshold
    level = th.level if th.kind == "parity" and th.reference == "level" else None
    if th.kind in FIXED_KINDS:
        level = th.value
    if level is not None:
        ax.axhline(level, color="grey", lw=1, ls=":")
        ax.annotate("threshold", (years.min(), level), fontsize=8, color="grey")
    if positive and spread > 100:
        ax.set_yscale("log")
    unit = "share of the world" if d.world is not None else d.unit
    ax.set_ylabel(f"{metric.name} ({unit})")
    ax.set_xlabel("year (solid: observed; dashed: projected median; band: 80% of draws)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncols=min(5, len(d.nations)))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()
