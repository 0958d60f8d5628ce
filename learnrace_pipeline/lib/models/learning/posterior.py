"""What a learning-curve fit gives downstream (pure NumPy/xarray/Polars on the DataTree).

- :func:`forecast_log_cost`: predictive draws of a series' future log unit cost change;
- :func:`population_priors`: moment-matched priors for new series from a pooled fit;
- :func:`lambda_prior_posterior`: the spillover shares lambda, prior beside posterior (nation
  fits), as a long table for plotting.

They read a saved fit only, so they are not part of the fit's code version (editing them does
not invalidate saved fits).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.learning.config import LearningPriors, config_from_attrs
from learnrace_pipeline.lib.models.learning.numpy_mirror import _obs_parts, _stacked


def forecast_log_cost(
    dt: xr.DataTree,
    series: str,
    future_dlogq: np.ndarray,
    future_dt: np.ndarray | None = None,
    *,
    seed: int = 0,
    future_dlogq_world: np.ndarray | None = None,
) -> np.ndarray:
    """Predictive draws of the log unit cost change from a series' last fitted point.

    Args:
        dt: a fit from :class:`.fit.LearningCurveModel` (uses ``fit_data`` and the
            posterior).
        series: a label of the ``series`` dim.
        future_dlogq: log cumulative production increments for the next ``h`` steps.
        future_dt: year steps (default 1 each).
        seed: seed of the noise draws.
        future_dlogq_world: world increments (nation level only).

    Returns:
        ``(n_draws, h)`` array of ``log c[T+k] - log c[T]`` for k = 1..h, including parameter
        uncertainty, the last in-sample innovation (MA(1)) and future noise.
    """
    config = config_from_attrs(dt.attrs["model_config"])
    fd = dt["fit_data"].to_dataset()
    labels = list(fd["series"].values)
    if series not in labels:
        raise ModelError(f"unknown series {series!r}")
    s = labels.index(series)
    dq = np.asarray(future_dlogq, dtype=float)
    h = dq.size
    step = np.ones(h) if future_dt is None else np.asarray(future_dt, dtype=float)
    data = {k: fd[k].values for k in ("dlogc", "dlogq", "dt", "pos", "series_idx", "mask")}
    if config.level == "nation":
        data["dlogq_world"] = fd["dlogq_world"].values
        data["nation_of_series"] = fd["nation_of_series"].values
    parts = _obs_parts(dt, data, config, keys=("e",))
    in_s = np.flatnonzero((data["series_idx"] == s) & (data["mask"] > 0))
    n = parts["e"].shape[0]
    e_last = parts["e"][:, in_s[-1]] if in_s.size else np.zeros(n)
    mu = np.zeros((n, h))
    if config.level == "nation":
        lam = _stacked(dt, "lambda_nation")[:, [int(data["nation_of_series"][s])]]
        if future_dlogq_world is None:
            raise ModelError("nation-level forecasts need future_dlogq_world")
        x = lam * dq + (1 - lam) * np.asarray(future_dlogq_world, dtype=float)
    else:
        x = np.broadcast_to(dq, (n, h))
    if config.has_w:
        mu -= _stacked(dt, "w_series")[:, [s]] * x
    if config.has_m:
        mu -= _stacked(dt, "m_series")[:, [s]] * step
    scale = _stacked(dt, "sigma_series")[:, [s]] * np.sqrt(step)
    rng = np.random.default_rng(seed)
    if config.noise == "student_t":
        nu = _stacked(dt, "nu")[:, None]
        eps = rng.standard_t(np.broadcast_to(nu, (n, h))) * scale
    else:
        eps = rng.standard_normal((n, h)) * scale
    y = mu + eps
    if config.ma1:
        rho = _stacked(dt, "rho")[:, None]
        prev = np.concatenate([e_last[:, None], eps[:, :-1]], axis=1)
        y = y + rho * prev
    return np.cumsum(y, axis=1)


def population_priors(
    dt: xr.DataTree, industry: str | None = None, *, inflate: float = 1.0
) -> LearningPriors:
    """Moment-matched priors for new series from a pooled fit's population-level posterior.

    ``w_mu/w_sd`` (and ``m``) come from ``w_all`` or, with ``industry``, ``w_industry``; the
    series spread ``tau_*_series``, the noise scale and ``rho`` are set from their posterior
    means so a fresh model of a few new short series borrows the pooled strength. ``inflate``
    multiplies the prior sds (e.g. 1.5 for robustness). Correlations between parameters are
    not carried over.
    """
    config = config_from_attrs(dt.attrs["model_config"])
    post = dt.posterior

    def mom(name: str) -> tuple[float, float]:
        da = post[name]
        if industry is not None and "industry" in da.dims:
            if industry not in list(da["industry"].values):
                raise ModelError(f"unknown industry {industry!r}")
            da = da.sel(industry=industry)
        return float(da.mean()), float(da.std())

    def tau_mean(name: str) -> float:
        # a level left out of the fit (a single member) contributes no spread
        return float(post[name].mean()) if name in post else 1e-3

    upd: dict[str, float] = {}
    if config.has_w:
        mu, sd = mom("w_industry" if industry else "w_all")
        upd |= {
            "w_mu": mu,
            "w_sd": sd * inflate,
            "tau_w_series": tau_mean("tau_w_series"),
        }
        upd["tau_w_industry"] = 1e-3 if industry else tau_mean("tau_w_industry")
    if config.has_m:
        mu, sd = mom("m_industry" if industry else "m_all")
        upd |= {
            "m_mu": mu,
            "m_sd": sd * inflate,
            "tau_m_series": tau_mean("tau_m_series"),
        }
        upd["tau_m_industry"] = 1e-3 if industry else tau_mean("tau_m_industry")
    mu, sd = mom("log_sigma_all")
    upd |= {"log_sigma_mu": mu, "log_sigma_sd": sd * inflate}
    upd["tau_log_sigma"] = tau_mean("tau_log_sigma")
    if config.ma1:
        mu, sd = mom("rho")
        upd |= {"rho_mu": mu, "rho_sd": max(sd * inflate, 1e-3)}
    if config.noise == "student_t":
        mu, sd = mom("nu")
        var = (sd * inflate) ** 2
        upd |= {"nu_alpha": mu**2 / var, "nu_beta": mu / var}
    return replace(config.priors, **upd)


def lambda_prior_posterior(dt: xr.DataTree) -> pl.DataFrame:
    """Long table of lambda draws, prior beside posterior, for plotting.

    Columns ``quantity`` (``lambda_all`` or ``lambda_nation``), ``nation`` (null for all),
    ``source`` (``prior``/``posterior``), ``value``.
    """
    if "prior" not in dt.children or "lambda_all" not in dt.posterior:
        raise ModelError("lambda_prior_posterior needs a nation-level fit (prior group present)")
    frames = []
    for source in ("prior", "posterior"):
        grp = dt[source]
        frames.append(
            pl.DataFrame(
                {
                    "quantity": "lambda_all",
                    "nation": None,
                    "source": source,
                    "value": grp["lambda_all"].values.ravel(),
                },
                schema_overrides={"nation": pl.String},
            )
        )
        lam = grp["lambda_nation"]
        for nation in lam["nation"].values:
            frames.append(
                pl.DataFrame(
                    {
                        "quantity": "lambda_nation",
                        "nation": str(nation),
                        "source": source,
                        "value": lam.sel(nation=nation).values.ravel(),
                    }
                )
            )
    return pl.concat(frames)
