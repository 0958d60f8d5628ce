"""NumPy mirrors of the learning-curve model (:mod:`.model`), used after sampling.

Fits store only the free parameters (short nutpie compiles); everything else a fit reports is
computed here from the posterior draws, so refits need no extra compilation:

- :func:`ma1_innovations`: the exact within-series MA(1) recursion over many draws (a cached
  numba loop), the NumPy twin of the recursion in the model's fused Op (:mod:`.loglik_op`);
- :func:`add_deterministics`: the model's ``pm.Deterministic`` quantities from free draws;
- :func:`pointwise_log_likelihood` and :func:`one_step_predictive`: the ``log_likelihood`` and
  one-step ``posterior_predictive`` groups of a fit, from per-draw, per-obs parts that one
  compiled pass computes (:func:`_obs_parts`; the arithmetic, and so every value, of the plain
  NumPy expressions, without their full-size temporaries);
- :func:`simulate_dlogc`: the generative model (prior predictive checks, simulation tests).
"""

from __future__ import annotations

from collections.abc import Mapping

import numba
import numpy as np
import xarray as xr
from scipy import special

from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.model import (
    _SPREAD_NAMES,
    _w_m_from_drift,
    drift_names,
    mean_growth,
)


def ma1_innovations(
    r: np.ndarray, rho: np.ndarray | float, pos: np.ndarray, e0: np.ndarray | None = None
) -> np.ndarray:
    """Innovations ``e`` of ``r[t] = e[t] + rho e[t-1]`` within each series, for many draws.

    Args:
        r: residuals, shape ``(n_obs,)`` or ``(n_draws, n_obs)`` on the flat obs layout of a
            panel.
        rho: MA(1) coefficient, a scalar or one per draw (shape ``(n_draws,)`` or
            ``(n_draws, 1)``).
        pos: 0-based position of each obs within its series, shape ``(n_obs,)``.
        e0: pre-sample shock per obs' series (``e[-1]``, read at series starts), shape like
            ``r`` (default 0).

    The recursion restarts at every series start; it is a compiled loop (numba), one pass per
    draw.
    """
    r = np.asarray(r, dtype=float)
    one = r.ndim == 1
    r2 = np.atleast_2d(r)
    a = -np.broadcast_to(np.asarray(rho, dtype=float).reshape(-1), (r2.shape[0],))
    z = np.zeros_like(r2) if e0 is None else np.broadcast_to(np.asarray(e0, float), r2.shape)
    out = _ma1_batch(
        np.ascontiguousarray(r2), np.ascontiguousarray(a), np.ascontiguousarray(z),
        np.ascontiguousarray(pos, dtype=np.int64),
    )  # fmt: skip
    return out[0] if one else out


@numba.njit(cache=True)
def _ma1_batch(r: np.ndarray, a: np.ndarray, e0: np.ndarray, pos: np.ndarray) -> np.ndarray:
    out = np.empty_like(r)
    for d in range(r.shape[0]):
        prev = 0.0
        for i in range(r.shape[1]):
            if pos[i] == 0:
                prev = e0[d, i]
            prev = r[d, i] + a[d] * prev
            out[d, i] = prev
    return out


Draws = xr.DataTree | xr.Dataset


def _post(dt: Draws) -> xr.Dataset:
    return dt.posterior.to_dataset() if isinstance(dt, xr.DataTree) else dt


def _stacked(dt: Draws, name: str) -> np.ndarray:
    """Posterior draws of ``name`` as an array with (chain*draw) first (chain-major); a view of
    the posterior's data where its layout allows (read it, do not write to it)."""
    da = _post(dt)[name].transpose("chain", "draw", ...)
    return da.values.reshape(-1, *da.shape[2:])


def add_deterministics(
    posterior: xr.Dataset, config: LearningConfig, panel_data: Mapping[str, np.ndarray]
) -> xr.Dataset:
    """Add the model's deterministic quantities to draws of its free parameters (NumPy).

    Mirrors the ``pm.Deterministic`` definitions of
    :func:`.model.create_learning_model` (fits store only free parameters, which keeps
    nutpie's compile short): ``w_industry``/``w_nation``, ``w_series``, ``m_industry``,
    ``m_series``, ``sigma_series``, ``sigma_all``, ``lambda_nation``, ``lambda_all``.
    """
    post = posterior.copy()

    def take(da: xr.DataArray, dim: str, idx: np.ndarray) -> xr.DataArray:
        out = da.isel({dim: xr.DataArray(np.asarray(idx), dims="series")})
        return out.drop_vars(dim, errors="ignore")

    def spread(name: str, parent: xr.DataArray, dim: str, n: int) -> xr.DataArray:
        tau_name, z_name = _SPREAD_NAMES.get(name, (f"tau_{name}", f"z_{name}"))
        if z_name in post:
            return parent + post[tau_name] * post[z_name]
        ones = xr.DataArray(np.ones(n), dims=dim)
        if dim in post.coords:
            ones = ones.assign_coords({dim: post.coords[dim].values})
        return parent * ones

    n_series = len(panel_data["industry_of_series"] if "industry_of_series" in panel_data
                   else panel_data["nation_of_series"])  # fmt: skip
    if config.level == "nation":
        group_dim, group_of_series = "nation", panel_data["nation_of_series"]
        n_groups = post.sizes.get("nation", int(np.max(group_of_series)) + 1)
        logit = spread("lambda", post["lambda_logit_all"], "nation", n_groups)
        post["lambda_nation"] = special.expit(logit)
        post["lambda_all"] = special.expit(post["lambda_logit_all"])
    else:
        group_dim, group_of_series = "industry", panel_data["industry_of_series"]
        n_groups = post.sizes.get("industry", int(np.max(group_of_series)) + 1)

    def joint(level: str, w_parent: xr.DataArray, m_parent: xr.DataArray, group: np.ndarray,
              n: int) -> tuple[xr.DataArray, xr.DataArray] | None:  # fmt: skip
        """(w, m) of a level sampled as (drift, w | drift), or None when it was not."""
        for centred in (True, False):
            d_name, z_name = drift_names(level, centred)
            if d_name in post:
                g = mean_growth(panel_data["dlogq"], panel_data["dt"], panel_data["mask"],
                                group, n)  # fmt: skip
                return _w_m_from_drift(
                    w_parent, m_parent, xr.DataArray(g, dims=level), post[f"tau_w_{level}"],
                    post[f"tau_m_{level}"], post[d_name], post[z_name], centred, np.sqrt,
                )  # fmt: skip
        return None

    s_idx = np.asarray(panel_data["series_idx"])
    pair = None
    if config.has_w and config.has_m and config.level == "pooled":
        pair = joint("industry", post["w_all"], post["m_all"], group_of_series[s_idx], n_groups)
    if pair is not None:
        post["w_industry"], post["m_industry"] = pair
    elif config.has_w or config.has_m:
        if config.has_w:
            post[f"w_{group_dim}"] = spread(f"w_{group_dim}", post["w_all"], group_dim, n_groups)
        centred = "tau_m_industry" in post and "z_m_industry" not in post
        if config.has_m and config.level == "pooled" and not (centred and "m_industry" in post):
            post["m_industry"] = spread("m_industry", post["m_all"], "industry", n_groups)
    w_parent = take(post[f"w_{group_dim}"], group_dim, group_of_series) if config.has_w else None
    if config.has_m and config.level == "pooled":
        m_parent = take(post["m_industry"], "industry", group_of_series)
    elif config.has_m:
        m_parent = post["m_all"] * xr.DataArray(np.ones(n_series), dims="series")
    pair = None
    if config.has_w and config.has_m:
        pair = joint("series", w_parent, m_parent, s_idx, n_series)
    if pair is not None:
        post["w_series"], post["m_series"] = pair
    else:
        if config.has_w:
            post["w_series"] = spread("w_series", w_parent, "series", n_series)
        if config.has_m:
            post["m_series"] = spread("m_series", m_parent, "series", n_series)
    if "log_sigma_series" not in post:
        post["log_sigma_series"] = spread("log_sigma", post["log_sigma_all"], "series", n_series)
    post["sigma_series"] = np.exp(post["log_sigma_series"])
    post["sigma_all"] = np.exp(post["log_sigma_all"])
    return post


PARTS = ("mu", "scale", "e", "carry", "loc")


def _obs_parts(
    dt: Draws,
    panel_data: Mapping[str, np.ndarray],
    config: LearningConfig,
    keys: tuple[str, ...] = ("mu", "scale", "e", "carry"),
) -> dict[str, np.ndarray]:
    """Per draw and obs (arrays ``(chain*draw, n_obs)``): mean ``mu``, innovation ``scale``,
    innovations ``e``, ``carry`` = rho*e[t-1] and ``loc`` = mu + carry (the one-step mean);
    only the ``keys`` asked for are returned.

    One pass of a compiled loop over draws and obs (:func:`_parts_kernel`) with the
    arithmetic of the NumPy expressions it replaces, in the same order::

        x = dlogq                                   # nation level: lam dlogq + (1 - lam) dlogq_world
        mu = (0 - w[s] x) - m[s] dt                 # the terms a model has
        scale = sigma[s] sqrt(dt);  r = dlogc - mu
        e = r - rho e[t-1] (e[-1] = sigma[s] z_e0[s]);  carry = r - e   # MA(1); else e = r, carry 0
    """
    unknown = set(keys) - set(PARTS)
    if unknown:
        raise ValueError(f"unknown parts {sorted(unknown)}: choose from {PARTS}")
    s_idx = np.ascontiguousarray(panel_data["series_idx"], dtype=np.int64)
    dlogc = np.ascontiguousarray(panel_data["dlogc"], dtype=float)
    dtv = np.ascontiguousarray(panel_data["dt"], dtype=float)
    sigma = np.ascontiguousarray(_stacked(dt, "sigma_series"), dtype=float)
    n_draws, n_obs = sigma.shape[0], dlogc.size
    none = np.zeros((n_draws, 1))

    def draws(name: str, wanted: bool) -> np.ndarray:
        return np.ascontiguousarray(_stacked(dt, name), dtype=float) if wanted else none

    nation = config.level == "nation"
    if nation:
        lam = draws("lambda_nation", True)
        nation_of_series = np.asarray(panel_data["nation_of_series"], dtype=np.int64)
        dlogq_world = np.ascontiguousarray(panel_data["dlogq_world"], dtype=float)
    else:
        lam, nation_of_series, dlogq_world = none, np.zeros(1, np.int64), np.zeros(1)
    rho = _stacked(dt, "rho").reshape(-1) if config.ma1 else np.zeros(n_draws)
    out = {k: np.empty((n_draws, n_obs)) if k in keys else np.empty((0, 0)) for k in PARTS}
    _parts_kernel(
        dlogc, np.ascontiguousarray(panel_data["dlogq"], dtype=float), dtv, np.sqrt(dtv), s_idx,
        np.ascontiguousarray(panel_data["pos"], dtype=np.int64),
        nation, lam, nation_of_series, dlogq_world,
        config.has_w, draws("w_series", config.has_w),
        config.has_m, draws("m_series", config.has_m),
        sigma, config.ma1, np.ascontiguousarray(rho, dtype=float), draws("z_e0", config.ma1),
        out["mu"], out["scale"], out["e"], out["carry"], out["loc"],
    )  # fmt: skip
    return {k: out[k] for k in keys}


# Plain IEEE arithmetic (no fastmath, so no fused multiply-adds): each value is the one the NumPy
# expressions give, operation for operation.
@numba.njit(cache=True)
def _parts_kernel(
    dlogc, dlogq, dt, sqrt_dt, s_idx, pos, nation, lam, nation_of_series, dlogq_world,
    has_w, w, has_m, m, sigma, ma1, rho, z_e0, mu_out, scale_out, e_out, carry_out, loc_out,
):  # fmt: skip
    n_draws, n_obs = sigma.shape[0], dlogc.size
    want_mu, want_scale, want_e = mu_out.size > 0, scale_out.size > 0, e_out.size > 0
    want_carry, want_loc = carry_out.size > 0, loc_out.size > 0
    for d in range(n_draws):
        a = -rho[d]
        prev = 0.0
        for i in range(n_obs):
            s = s_idx[i]
            x = dlogq[i]
            if nation:
                share = lam[d, nation_of_series[s]]
                x = share * dlogq[i] + (1.0 - share) * dlogq_world[i]
            mu = 0.0
            if has_w:
                mu = mu - w[d, s] * x
            if has_m:
                mu = mu - m[d, s] * dt[i]
            r = dlogc[i] - mu
            if ma1:
                if pos[i] == 0:
                    prev = sigma[d, s] * z_e0[d, s]
                prev = r + a * prev
                e = prev
                carry = r - e
            else:
                e = r
                carry = 0.0
            if want_mu:
                mu_out[d, i] = mu
            if want_scale:
                scale_out[d, i] = sigma[d, s] * sqrt_dt[i]
            if want_e:
                e_out[d, i] = e
            if want_carry:
                carry_out[d, i] = carry
            if want_loc:
                loc_out[d, i] = mu + carry


def _logpdf(e: np.ndarray, scale: np.ndarray, nu: np.ndarray | None) -> np.ndarray:
    """Log density of innovations ``e`` (Normal, or Student-t with ``nu`` per draw) of scale
    ``scale``; in-place steps with the operations of ``-0.5 (e/scale)^2 - log(scale) -
    log(2 pi)/2`` and ``const(nu) - log(scale) - (nu + 1)/2 log1p((e/scale)^2 / nu)``."""
    z = np.divide(e, scale)
    np.square(z, out=z)
    out = np.log(scale)
    if nu is None:
        z *= -0.5
        np.subtract(z, out, out=out)
        out -= 0.5 * np.log(2 * np.pi)
        return out
    v = nu[:, None]
    const = special.gammaln((v + 1) / 2) - special.gammaln(v / 2) - 0.5 * np.log(np.pi * v)
    z /= v
    np.log1p(z, out=z)
    z *= (v + 1) / 2
    np.subtract(const, out, out=out)
    out -= z
    return out


def _unstack(arr: np.ndarray, dt: Draws, dim: str = "obs") -> xr.DataArray:
    post = _post(dt)
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    return xr.DataArray(
        arr.reshape(n_chain, n_draw, -1),
        dims=("chain", "draw", dim),
        coords={"chain": post["chain"].values, "draw": post["draw"].values},
    )


def pointwise_log_likelihood(
    dt: Draws,
    panel_data: Mapping[str, np.ndarray],
    config: LearningConfig,
    parts: Mapping[str, np.ndarray] | None = None,
) -> xr.Dataset:
    """Pointwise log density of each difference given its series' past (dims chain, draw, obs).

    Computed in NumPy from the posterior, so refits need no extra compilation. Summed over obs
    it equals the model's likelihood term (the ``loglik`` potential). ``parts`` (from
    :func:`_obs_parts`, with ``e`` and ``scale``) avoids recomputing the innovations.
    """
    parts = parts or _obs_parts(dt, panel_data, config, keys=("e", "scale"))
    nu = _stacked(dt, "nu") if config.noise == "student_t" else None
    ll = _logpdf(parts["e"], parts["scale"], nu)
    return xr.Dataset({"dlogc": _unstack(ll, dt)})


def one_step_predictive(
    dt: Draws,
    panel_data: Mapping[str, np.ndarray],
    config: LearningConfig,
    seed: int,
    parts: Mapping[str, np.ndarray] | None = None,
) -> xr.Dataset:
    """Posterior predictive draws of each difference given its observed past (chain, draw, obs):
    ``(mu + carry) + eps * scale``, eps Student-t (or Normal) from ``default_rng(seed)``.
    ``parts`` (from :func:`_obs_parts`, with ``scale`` and ``loc`` or ``mu`` and ``carry``)
    avoids recomputing them."""
    parts = parts or _obs_parts(dt, panel_data, config, keys=("scale", "loc"))
    loc = parts["loc"] if "loc" in parts else parts["mu"] + parts["carry"]
    rng = np.random.default_rng(seed)
    if config.noise == "student_t":
        nu = _stacked(dt, "nu")[:, None]
        y = rng.standard_t(np.broadcast_to(nu, parts["scale"].shape))
    else:
        y = rng.standard_normal(parts["scale"].shape)
    y *= parts["scale"]
    np.add(loc, y, out=y)
    return xr.Dataset({"dlogc": _unstack(y, dt)})


def simulate_dlogc(
    params: Mapping[str, np.ndarray],
    panel_data: Mapping[str, np.ndarray],
    config: LearningConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Generate differences from parameter draws (shape ``(n_draws, n_obs)``): the generative
    model used for prior predictive checks and for simulation-based tests.

    ``params`` holds draws (leading axis) of ``w_series``/``m_series`` (series),
    ``sigma_series`` (series), ``rho`` (scalar), ``nu`` (Student-t) and ``lambda_nation``.
    """
    s_idx, pos, dtv = panel_data["series_idx"], panel_data["pos"], panel_data["dt"]
    sigma = np.atleast_2d(params["sigma_series"])
    n = sigma.shape[0]
    mu = np.zeros((n, s_idx.size))
    x = panel_data["dlogq"]
    if config.level == "nation":
        lam = np.atleast_2d(params["lambda_nation"])[:, panel_data["nation_of_series"][s_idx]]
        x = lam * panel_data["dlogq"] + (1 - lam) * panel_data["dlogq_world"]
    if config.has_w:
        mu = mu - np.atleast_2d(params["w_series"])[:, s_idx] * x
    if config.has_m:
        mu = mu - np.atleast_2d(params["m_series"])[:, s_idx] * dtv
    scale = sigma[:, s_idx] * np.sqrt(dtv)
    if config.noise == "student_t":
        nu = np.asarray(params["nu"]).reshape(n, 1)
        eps = rng.standard_t(np.broadcast_to(nu, scale.shape)) * scale
    else:
        eps = rng.standard_normal(scale.shape) * scale
    e0 = rng.standard_normal(sigma.shape) * sigma  # the model's Normal pre-sample shock
    if not config.ma1:
        return mu + eps
    rho = np.asarray(params["rho"]).reshape(n, 1)
    prev = np.empty_like(eps)
    prev[:, 1:] = eps[:, :-1]
    first = pos == 0
    prev[:, first] = e0[:, s_idx[first]]
    return mu + eps + rho * prev
