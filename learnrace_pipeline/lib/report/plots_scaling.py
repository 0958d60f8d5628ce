"""Plots of the scaling-law fits, returned as PNG bytes (matplotlib, Agg, no global state).

- :func:`plot_av_experience`: miles per disengagement against cumulative autonomous miles, per
  company (posterior median curve + 90 % band, observed points), and the typical company of each
  nation; coloured by nation of headquarters.
- :func:`plot_frontier`: each modelled nation's record (largest training run so far, log10
  FLOP) against date, its fitted record setters, the median trend of its runs and, beyond the
  data, the forecast frontier (median and 90 % band).
"""

from __future__ import annotations

import datetime as dt_
import io

import numpy as np
import xarray as xr
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from learnrace_pipeline.lib.models import av_data, av_posterior
from learnrace_pipeline.lib.models import frontier_data as fr_data
from learnrace_pipeline.lib.models import frontier_posterior as fr_post

FIXED_COLOURS = {"USA": "#1f77b4", "CHN": "#d62728", "GBR": "#2ca02c", "DEU": "#ff7f0e"}
OTHER_COLOURS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79")
BAND = (0.05, 0.95)


def nation_colours(nations: list[str]) -> dict[str, str]:
    """A stable colour per nation (USA blue, CHN red, GBR green, DEU orange, then a palette)."""
    out, k = {}, 0
    for n in sorted(nations):
        if n in FIXED_COLOURS:
            out[n] = FIXED_COLOURS[n]
        else:
            out[n] = OTHER_COLOURS[k % len(OTHER_COLOURS)]
            k += 1
    return out


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def _band(da: xr.DataArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    q = da.quantile([BAND[0], 0.5, BAND[1]], dim=("chain", "draw"))
    return (
        q.sel(quantile=BAND[0]).values,
        q.sel(quantile=0.5).values,
        q.sel(quantile=BAND[1]).values,
    )


def plot_av_experience(dt: xr.DataTree, *, label_top: int = 6) -> bytes:
    """AV experience curves: MPD (miles per disengagement) vs cumulative miles, log-log.

    Left: each company's posterior median curve over its observed span with a 90 % band, and its
    observed MPD (hollow triangles: years with 0 disengagements, drawn at miles / 1 as a lower
    bound). Right: the typical company of each nation (nation intercept and slope) with a 90 %
    band. The ``label_top`` companies with the most cumulative miles are named.
    """
    post = dt["posterior"].to_dataset()
    const = dt["constant_data"].to_dataset()
    obs_y = dt["observed_data"]["disengagements"].values
    companies = [str(c) for c in post["company"].values]
    nations = [str(n) for n in post["nation"].values]
    cn = const["company_nation"].values
    colours = nation_colours(nations)
    cum = post["cum_miles"].median(("chain", "draw")).values
    miles = const["safety_miles"].values
    oc = const["obs_company"].values
    fig = Figure(figsize=(13, 5.5))
    ax, ax2 = fig.subplots(1, 2, sharey=True)
    totals = np.array([cum[oc == i].max() for i in range(len(companies))])
    top = set(np.argsort(totals)[::-1][:label_top])
    for i, c in enumerate(companies):
        col = colours[nations[cn[i]]]
        m = oc == i
        lo, hi = cum[m].min(), cum[m].max() * 1.5
        grid = np.geomspace(lo, hi, 40)
        lc = xr.DataArray(np.log(grid), dims="grid")
        curve = av_posterior.log_mpd_curve(dt, lc).sel(company=c)
        q05, q50, q95 = (np.exp(v) for v in _band(curve.transpose("chain", "draw", "grid")))
        ax.fill_between(grid, q05, q95, color=col, alpha=0.08, lw=0)
        ax.plot(grid, q50, color=col, lw=1.6 if i in top else 0.8, alpha=0.9)
        pos = obs_y[m] > 0
        ax.scatter(cum[m][pos], miles[m][pos] / obs_y[m][pos], s=14, color=col, alpha=0.8)
        ax.scatter(
            cum[m][~pos], miles[m][~pos], s=22, marker="^", facecolors="none", edgecolors=col
        )
        if i in top:
            ax.annotate(
                c, (hi, q50[-1]), fontsize=8, color=col, xytext=(3, 0), textcoords="offset points"
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cumulative autonomous miles (safety-driver + driverless, CA)")
    ax.set_ylabel("miles per disengagement (safety-driver permits)")
    form = dt.attrs.get("form", "power")
    ax.set_title(f"Companies: posterior median and 90% band ({form} form)")
    # nation panel: typical company a_nation + b_nation * x over the pooled span
    grid = np.geomspace(max(cum.min(), 100.0), cum.max() * 3, 60)
    x = xr.DataArray(np.log(grid) - np.log(av_data.X0_MILES), dims="grid")
    lm = post["a_nation"] + post["b_nation"] * x
    if "ceiling_mu" in post:
        lm = -np.logaddexp(-lm, -post["ceiling_mu"])
    for j, n in enumerate(nations):
        q05, q50, q95 = (
            np.exp(v) for v in _band(lm.isel(nation=j).transpose("chain", "draw", "grid"))
        )
        k = int((cn == j).sum())
        ax2.fill_between(grid, q05, q95, color=colours[n], alpha=0.18, lw=0)
        ax2.plot(
            grid,
            q50,
            color=colours[n],
            lw=2,
            label=f"{n} ({k} {'company' if k == 1 else 'companies'})",
        )
    ax2.set_xscale("log")
    ax2.set_xlabel("cumulative autonomous miles")
    ax2.set_title("Typical company per nation of headquarters (90% band)")
    ax2.legend(fontsize=8, loc="upper left")
    handles = [Line2D([], [], color=colours[n], lw=2, label=n) for n in nations]
    handles.append(
        Line2D(
            [],
            [],
            marker="^",
            ls="",
            markerfacecolor="none",
            markeredgecolor="k",
            label="0 disengagements",
        )
    )
    ax.legend(handles=handles, fontsize=7, loc="upper left", ncol=2)
    fig.suptitle("Autonomous-vehicle capability against experience (CA DMV reports)", fontsize=11)
    return _png(fig)


def plot_frontier(
    dt: xr.DataTree, *, until: dt_.date | None = None, start: dt_.date = dt_.date(2015, 1, 1)
) -> bytes:
    """The frontier per modelled nation, log10 FLOP against date: the record as a step line
    (from ``start`` to the data end), the fitted record setters (filled: Confident or Likely;
    hollow: Speculative or unrated), the median trend of the nation's runs (dotted) and, from the
    data end to ``until`` (default: a year later), the forecast frontier's median and 90 % band.
    """
    post = dt["posterior"].to_dataset()
    fd = dt["fit_data"].to_dataset()
    y = dt["observed_data"]["log10_flop"].values
    t = dt["constant_data"]["t"].values + fr_data.T0
    end = fr_post.data_end(dt)
    until = until or end.replace(year=end.year + 1)
    nations = fr_post.modelled_nations(dt)
    colours = nation_colours(nations)
    rec = fr_post.records(dt)
    t_end = fr_data.to_decimal_year(end)
    grid = np.linspace(fr_data.to_decimal_year(start), t_end, 80)
    dates = [end + dt_.timedelta(days=int(d)) for d in np.linspace(1, (until - end).days, 12)]
    fc = [fr_post.frontier_draws(dt, d) for d in dates]
    t_fc = np.array([fr_data.to_decimal_year(d) for d in dates])
    fig = Figure(figsize=(9, 5.5))
    ax = fig.subplots()
    for n in nations:
        col = colours[n]
        r = rec.filter(rec["nation"] == n)
        tr = np.array([fr_data.to_decimal_year(d) for d in r["publication_date"]])
        yr = r["log10_flop"].to_numpy()
        xs, ys = list(tr[tr >= grid[0]]), list(yr[tr >= grid[0]])
        if (tr < grid[0]).any():  # the record in force at the plot's start
            xs, ys = [grid[0], *xs], [float(yr[tr < grid[0]].max()), *ys]
        ax.step([*xs, t_end], [*ys, ys[-1]], where="post", color=col, lw=1.8)
        trend = post["alpha"].sel(nation=n) + post["beta"].sel(nation=n) * xr.DataArray(
            grid - fr_data.T0, dims="grid"
        )
        ax.plot(grid, trend.median(("chain", "draw")).values, color=col, lw=1, ls=":")
        band = np.array([_band(f.sel(nation=n)) for f in fc])
        ax.fill_between(t_fc, band[:, 0], band[:, 2], color=col, alpha=0.15, lw=0)
        d = post["doubling_months"].sel(nation=n).median().item()
        ax.plot(t_fc, band[:, 1], color=col, lw=1.8, ls="--", label=f"{n}: doubling {d:.1f} months")
        m = fd["nation"].values == n
        rated = fd["confidence_class"].values == "rated"
        ax.scatter(t[m & rated], y[m & rated], color=col, s=22)
        ax.scatter(t[m & ~rated], y[m & ~rated], facecolors="none", edgecolors=col, s=26)
    ax.axvline(t_end, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("date")
    ax.set_ylabel("largest training run so far, log10 FLOP")
    ax.set_title(
        f"AI training-compute frontier per nation (data to {end}; forecast median, 90% band; "
        "dotted: trend of runs)",
        fontsize=9,
    )
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)
