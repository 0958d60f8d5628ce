"""Summary tables of learning-curve fits (Polars frames, ready for DuckDB).

:func:`learning_rates` — one row per level and group of a fit:

===================  ===========================================================================
``level``            ``all`` (population mean ``w_all``), ``all_technologies`` (the average of
                     the series exponents, equal weight per series), ``industry``, ``nation``
                     (nation-level fits) or ``series``
``name``             group label (``all``, an industry, a nation or a series label)
``model``            model name, e.g. ``wright_student_t_ma1``
``w_*``              Wright exponent (unit-free): mean, sd, q05, q25, q50, q75, q95
``lr_*``             learning rate per doubling 1 - 2^-w: mean, q05, q95
``m_*``              time-trend rate (log cost decline per year): mean, sd, q05..q95
``corr_w_m``         posterior correlation of w and m (experience+time models): values near -1
                     mean the data cannot tell deployment from time apart
``rho_*``            MA(1) coefficient (shared): mean, q05, q95
``sigma_*``          innovation sd per year (group: mean over its series; all: exp(log_sigma_all))
``lambda_*``         spillover share (nation fits): mean, q05, q95
``n_points``         differences used (mask > 0); ``n_series``
===================  ===========================================================================

Columns of quantities a model does not have are null. :func:`model_comparison` gives PSIS-LOO
``elpd`` and its ``se`` per model and industry (pointwise ELPD summed over the industry's
differences), with the difference to the best model of the industry (the values of ArviZ 1.x
``loo``, computed for all differences at once by :mod:`learnrace_pipeline.lib.models.psis`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import psis

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_QNAMES = ("q05", "q25", "q50", "q75", "q95")

LEARNING_RATE_SCHEMA: dict[str, pl.DataType] = {
    "level": pl.String(),
    "name": pl.String(),
    "model": pl.String(),
    **{f"w_{s}": pl.Float64() for s in ("mean", "sd", *_QNAMES)},
    **{f"lr_{s}": pl.Float64() for s in ("mean", "q05", "q95")},
    **{f"m_{s}": pl.Float64() for s in ("mean", "sd", *_QNAMES)},
    "corr_w_m": pl.Float64(),
    **{f"rho_{s}": pl.Float64() for s in ("mean", "q05", "q95")},
    **{f"sigma_{s}": pl.Float64() for s in ("mean", "q05", "q95")},
    **{f"lambda_{s}": pl.Float64() for s in ("mean", "q05", "q95")},
    "n_points": pl.Int64(),
    "n_series": pl.Int64(),
}


def _draws(da: xr.DataArray) -> np.ndarray:
    """Flatten chain and draw into the last axis."""
    return da.stack(sample=("chain", "draw")).transpose(..., "sample").values


def _stats(prefix: str, x: np.ndarray | None, full: bool = True) -> dict[str, float | None]:
    keys = ("mean", "sd", *_QNAMES) if full else ("mean", "q05", "q95")
    if x is None:
        return {f"{prefix}_{k}": None for k in keys}
    out: dict[str, float | None] = {f"{prefix}_mean": float(np.mean(x))}
    if full:
        out[f"{prefix}_sd"] = float(np.std(x, ddof=1))
        qs = np.quantile(x, QUANTILES)
        out |= {f"{prefix}_{n}": float(q) for n, q in zip(_QNAMES, qs, strict=True)}
    else:
        lo, hi = np.quantile(x, [0.05, 0.95])
        out |= {f"{prefix}_q05": float(lo), f"{prefix}_q95": float(hi)}
    return out


def _row(
    level: str,
    name: str,
    model: str,
    w: np.ndarray | None,
    m: np.ndarray | None,
    rho: np.ndarray | None,
    sigma: np.ndarray | None,
    lam: np.ndarray | None,
    n_points: int,
    n_series: int,
) -> dict:
    row: dict = {"level": level, "name": name, "model": model}
    row |= _stats("w", w)
    row |= _stats("lr", None if w is None else 1.0 - np.power(2.0, -w), full=False)
    row |= _stats("m", m)
    row["corr_w_m"] = float(np.corrcoef(w, m)[0, 1]) if w is not None and m is not None else None
    row |= _stats("rho", rho, full=False)
    row |= _stats("sigma", sigma, full=False)
    row |= _stats("lambda", lam, full=False)
    row["n_points"] = n_points
    row["n_series"] = n_series
    return row


def learning_rates(dt: xr.DataTree, model: str | None = None) -> pl.DataFrame:
    """The learning-rates table of one fit (see module docstring); ``model`` names the rows
    (default: the fit's ``model_name`` attribute)."""
    if "fit_data" not in dt.children:
        raise ModelError("learning_rates needs a fit with a fit_data group")
    post = dt.posterior
    fd = dt.fit_data
    model = model or str(dt.attrs.get("model_name", "learning_curve"))
    cfg = json.loads(dt.attrs["model_config"])
    level_kind = cfg.get("level", "pooled")

    series = [str(s) for s in fd["series"].values]
    mask = fd["mask"].values > 0
    s_idx = fd["series_idx"].values
    n_by_series = np.bincount(s_idx[mask], minlength=len(series))
    has_w, has_m = "w_series" in post, "m_series" in post
    w_s = _draws(post["w_series"]) if has_w else None  # (series, sample)
    m_s = _draws(post["m_series"]) if has_m else None
    sig_s = _draws(post["sigma_series"])
    rho = _draws(post["rho"]) if "rho" in post else None

    rows = [
        _row(
            "all", "all", model,
            _draws(post["w_all"]) if has_w else None,
            _draws(post["m_all"]) if has_m else None,
            rho, _draws(post["sigma_all"]),
            _draws(post["lambda_all"]) if "lambda_all" in post else None,
            int(mask.sum()), len(series),
        ),
        _row(
            "all_technologies", "all", model,
            w_s.mean(axis=0) if w_s is not None else None,
            m_s.mean(axis=0) if m_s is not None else None,
            rho, sig_s.mean(axis=0), None, int(mask.sum()), len(series),
        ),
    ]  # fmt: skip

    if level_kind == "pooled":
        groups = [str(g) for g in fd["industry"].values]
        group_of_series = fd["industry_of_series"].values
        level, w_name, m_name, lam_name = "industry", "w_industry", "m_industry", None
    else:
        groups = [str(g) for g in fd["nation"].values]
        group_of_series = fd["nation_of_series"].values
        level, w_name, m_name, lam_name = "nation", "w_nation", None, "lambda_nation"
    for g, label in enumerate(groups):
        members = np.flatnonzero(group_of_series == g)
        if members.size == 0:
            continue
        w_g = _draws(post[w_name].isel({level: g})) if has_w else None
        if has_m:
            m_g = (
                _draws(post[m_name].isel({level: g}))
                if m_name is not None
                else m_s[members].mean(axis=0)  # type: ignore[index]
            )
        else:
            m_g = None
        lam = _draws(post[lam_name].isel({level: g})) if lam_name else None
        rows.append(
            _row(
                level, label, model, w_g, m_g, rho, sig_s[members].mean(axis=0), lam,
                int(n_by_series[members].sum()), int(members.size),
            )
        )  # fmt: skip

    for s, label in enumerate(series):
        lam = None
        if lam_name:
            lam = _draws(post[lam_name].isel(nation=int(fd["nation_of_series"].values[s])))
        rows.append(
            _row(
                "series", label, model,
                w_s[s] if w_s is not None else None,
                m_s[s] if m_s is not None else None,
                rho, sig_s[s], lam, int(n_by_series[s]), 1,
            )
        )  # fmt: skip
    return pl.DataFrame(rows, schema=LEARNING_RATE_SCHEMA)


MODEL_COMPARISON_SCHEMA: dict[str, pl.DataType] = {
    "industry": pl.String(),
    "model": pl.String(),
    "elpd_loo": pl.Float64(),
    "se": pl.Float64(),
    "p_loo": pl.Float64(),
    "elpd_diff": pl.Float64(),
    "se_diff": pl.Float64(),
    "rank": pl.Int64(),
    "n_points": pl.Int64(),
    "n_pareto_k_gt_0_7": pl.Int64(),
}


def pointwise_loo(dt: xr.DataTree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PSIS-LOO pointwise ``elpd_i``, ``p_loo_i`` and Pareto ``k`` per difference (the values
    of ArviZ 1.x ``loo``, computed for all differences at once by
    :func:`learnrace_pipeline.lib.models.psis.loo_pointwise`)."""
    if "log_likelihood" not in dt.children:
        raise ModelError("model comparison needs a log_likelihood group (fit with log_likelihood)")
    elpd_i, k, lppd_i = psis.loo_pointwise(dt, "dlogc")
    # pointwise effective number of parameters: lppd_i - elpd_i
    return elpd_i, lppd_i - elpd_i, k


def model_comparison(fits: Mapping[str, xr.DataTree]) -> pl.DataFrame:
    """PSIS-LOO elpd and se per model and industry (plus ``all``), fits on the same panel.

    ``elpd_diff``/``se_diff`` are relative to the best model within each industry (se of the
    pointwise differences, as in ArviZ's ``compare``); ``rank`` 0 is the best.
    """
    if not fits:
        raise ModelError("model_comparison needs at least one fit")
    pointwise: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    industry_of_obs: np.ndarray | None = None
    n_obs = None
    for name, dt in fits.items():
        fd = dt.fit_data
        ind = fd["industry"].values[fd["industry_of_series"].values[fd["series_idx"].values]]
        if industry_of_obs is None:
            industry_of_obs, n_obs = ind.astype(str), ind.size
        elif ind.size != n_obs or not np.array_equal(ind.astype(str), industry_of_obs):
            raise ModelError(f"fit {name!r} is on another panel: LOO needs the same data")
        pointwise[name] = pointwise_loo(dt)
    assert industry_of_obs is not None
    rows = []
    groups = ["all", *sorted(set(industry_of_obs.tolist()))]
    for group in groups:
        sel = np.ones(industry_of_obs.size, bool) if group == "all" else industry_of_obs == group
        n = int(sel.sum())
        elpd = {m: float(v[0][sel].sum()) for m, v in pointwise.items()}
        best = max(elpd, key=elpd.__getitem__)
        order = sorted(elpd, key=elpd.__getitem__, reverse=True)
        for model, (elpd_i, p_i, k) in pointwise.items():
            diff_i = pointwise[best][0][sel] - elpd_i[sel]
            rows.append(
                {
                    "industry": group,
                    "model": model,
                    "elpd_loo": elpd[model],
                    "se": float(np.sqrt(n * np.var(elpd_i[sel]))) if n > 1 else float("nan"),
                    "p_loo": float(p_i[sel].sum()),
                    "elpd_diff": elpd[best] - elpd[model],
                    "se_diff": float(np.sqrt(n * np.var(diff_i))) if model != best else 0.0,
                    "rank": order.index(model),
                    "n_points": n,
                    "n_pareto_k_gt_0_7": int((k[sel] > 0.7).sum()),
                }
            )
    return pl.DataFrame(rows, schema=MODEL_COMPARISON_SCHEMA)


def joint_w_m(dt: xr.DataTree, series: str | None = None) -> pl.DataFrame:
    """Posterior draws of (w, m) for the population (``series=None``) or one series, to show
    the experience/time collinearity of experience+time fits. Columns ``w``, ``m``."""
    post = dt.posterior
    if "w_all" not in post or "m_all" not in post:
        raise ModelError("joint_w_m needs an experience+time fit (trend 'both')")
    if series is None:
        w, m = _draws(post["w_all"]), _draws(post["m_all"])
    else:
        w = _draws(post["w_series"].sel(series=series))
        m = _draws(post["m_series"].sel(series=series))
    return pl.DataFrame({"w": w, "m": m})
