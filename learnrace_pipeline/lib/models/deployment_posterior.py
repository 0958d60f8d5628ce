"""Tables from a deployment-growth fit (:func:`.deployment.fit_deployment`).

- :func:`growth_table`: per industry, nation and form, the growth rate (ln per year at the
  industry's centre year; the log-linear ``g``, the logistic ``g`` and its rate ``r``), the log
  growth rate at the industry's last observed year, and for the logistic the ceiling ``K``
  (the series' unit per year) and the midpoint year ``t0``: posterior mean and central 90%
  interval (``ci_kind`` "eti", ``ci_prob`` 0.9), plus whether PSIS-LOO prefers the form.
- :func:`comparison_table`: per industry, elpd_loo (and its s.e., p_loo, Pareto k > 0.7 count)
  of each form, the difference logistic minus log-linear and its s.e., the preferred form.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.models.deployment import (
    FORMS,
    logistic_rate,
    softplus_inv,
    stacked_params,
)

CI_KIND = "eti"
CI_PROB = 0.9
_Q = ((1 - CI_PROB) / 2, (1 + CI_PROB) / 2)


def _summary(name: str, x: np.ndarray) -> dict[str, float]:
    """Mean and central 90% interval of draws ``x`` (NaN when every draw is NaN)."""
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return {name: np.nan, f"{name}_q05": np.nan, f"{name}_q95": np.nan}
    lo, hi = np.quantile(finite, _Q)
    return {name: float(finite.mean()), f"{name}_q05": float(lo), f"{name}_q95": float(hi)}


def growth_table(dt: xr.DataTree) -> pl.DataFrame:
    """One row per industry, nation (``OTHER``: the rest of the world) and form (module doc)."""
    sd = dt["series_data"].to_dataset()
    cmp = dt["model_comparison"].to_dataset()
    rows = []
    for form in FORMS:
        p = stacked_params(dt, form)
        for k, series in enumerate(sd["series"].values):
            industry = str(sd["industry"].values[k])
            centre = float(sd["centre_year"].values[k])
            tau_end = float(sd["last_year"].values[k]) - centre
            g = p["growth"][:, k]
            row: dict = {
                "industry": industry,
                "nation": str(sd["nation"].values[k]),
                "series": str(series),
                "form": form,
                "unit": str(sd["unit"].values[k]),
                "centre_year": centre,
                "last_year": int(sd["last_year"].values[k]),
            }
            row |= _summary("growth", g)
            if form == "loglinear":
                row |= _summary("growth_at_end", g)
                row |= _summary("rate", np.full_like(g, np.nan))
                row |= _summary("ceiling", np.full_like(g, np.nan))
                row |= _summary("midpoint_year", np.full_like(g, np.nan))
            else:
                lh = p["log_headroom"][:, k]
                big_h = np.exp(lh)
                r = logistic_rate(g, lh)
                h = softplus_inv(big_h)
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    row |= _summary("growth_at_end", r / (1 + np.exp(-(h - r * tau_end))))
                    row |= _summary("rate", r)
                    row |= _summary("ceiling", np.exp(p["level"][:, k] + big_h))
                    row |= _summary("midpoint_year", centre + h / r)
            row["preferred"] = str(cmp["preferred"].sel(industry=industry).values) == form
            row["ci_kind"] = CI_KIND
            row["ci_prob"] = CI_PROB
            rows.append(row)
    return pl.DataFrame(rows)


def comparison_table(dt: xr.DataTree) -> pl.DataFrame:
    """One row per industry: PSIS-LOO of each form, the difference and the preferred form."""
    cmp = dt["model_comparison"].to_dataset()
    rows = []
    for industry in cmp["industry"].values:
        c = cmp.sel(industry=industry)
        row: dict = {"industry": str(industry), "n_obs": int(c["n_obs"])}
        for form in cmp["form"].values:
            cf = c.sel(form=form)
            row[f"elpd_loo_{form}"] = float(cf["elpd_loo"])
            row[f"se_{form}"] = float(cf["se"])
            row[f"p_loo_{form}"] = float(cf["p_loo"])
            row[f"n_high_pareto_k_{form}"] = int(cf["n_high_pareto_k"])
        row["elpd_diff_logistic_minus_loglinear"] = float(c["elpd_diff"])
        row["dse"] = float(c["dse"])
        row["preferred"] = str(c["preferred"].values)
        rows.append(row)
    return pl.DataFrame(rows)
