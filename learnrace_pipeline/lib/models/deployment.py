"""Deployment growth: each nation's annual volume per industry, log-linear and logistic forms.

**Data.** The panel of :mod:`.deployment_data`: per industry, one series per competing nation and
one ``OTHER`` series (the world less those nations), observed in years ``t``; ``tau = t - c_i``
is the time from the industry's centre year ``c_i``. Level series (GW, vehicles, robots per
year) are observed as ``y = ln v``; count series (notable AI models) as counts ``k``.

**Mean log volume** of series ``s`` in industry ``i``, natural-log units:

- log-linear: ``mu_s(tau) = m_s + g_s tau`` (``g_s``: growth rate, ln per year);
- logistic in levels, ``ln v = ln K_s - ln(1 + exp(-r_s (t - t0_s)))``, written through the
  level at the centre year ``m_s``, the growth rate there ``g_s`` (as in the log-linear form)
  and the headroom ``H_s = ln K_s - m_s > 0``::

      mu_s(tau) = m_s + H_s - softplus(h_s - r_s tau)
      h_s = softplus^-1(H_s) = ln(e^H_s - 1),   r_s = g_s / (1 - e^-H_s)

  so ``ln K_s = m_s + H_s`` (ceiling), ``t0_s = c_i + h_s / r_s`` (midpoint year), and the log
  growth rate at ``tau`` is ``r_s sigmoid(h_s - r_s tau)`` (``g_s`` at the centre year; H -> inf
  gives the log-linear form). ``g_s < 0`` (so ``r_s < 0``) is a series falling from a past
  plateau ``K_s``. Growth at the centre and headroom are nearly orthogonal in the data, where
  ``r`` and ``K`` of a series still growing exponentially are not.

**Noise.** Level series: AR(1) residuals ``e_t = y_t - mu_t``, one coefficient ``phi_i`` per
industry, Student-t innovations (one ``nu`` for all, ``sigma_s`` per series; ``noise="normal"``
for normal ones)::

    y_t ~ StudentT(nu, mu_t + phi_i e_(t-1), sigma_s)          after an observation at t - 1
    y_t ~ StudentT(nu, mu_t, sigma_s / sqrt(1 - phi_i^2))       a series' first observation

The residuals of iid fits were autocorrelated (lag-1 correlation 0.3 to 0.5 in every industry),
and iid noise projected every series back onto its trend the year after the data;
``residuals="iid"`` keeps that variant. Count series: ``k ~ NegBinomial(mean e^mu, alpha_i)``
per count industry, independent across years. PSIS-LOO scores each observation's one-step
conditional density.

**Priors and pooling** within industry (dims ``industry``, ``series``)::

    m_s ~ Normal(ybar_i, 3)                                      (levels: not pooled)
    g_s = growth_mu_i + growth_sd_i z_s;  growth_mu_i ~ Normal(0.2, 0.3), growth_sd_i ~ HalfNormal(0.3)
    ln H_s ~ Normal(lh_mu_i, 0.75);       lh_mu_i ~ Normal(1, 1)
    sigma_s ~ HalfNormal(0.5);  (phi_i + 1) / 2 ~ Beta(2, 2);  nu ~ Gamma(2, 0.1)
    1/sqrt(alpha_i) ~ HalfNormal(1)

``ybar_i`` is the industry's mean observed log volume (counts: ``ln(mean + 0.5)``). Levels are
not pooled: nations differ by orders of magnitude and each series pins its own level (a learned
between-nation scale of levels gave a funnel once residuals were autocorrelated). Growth is
partially pooled, non-centred; the headroom's between-nation scale is fixed (0.75): four to six
nations cannot identify the spread of a curvature each series barely identifies; it is sampled
centred for level series and non-centred for count series (:data:`CENTRED`).

**Fit.** Both forms are compiled and sampled with nutpie (:func:`.base.fit`) and stored in one
``xarray.DataTree`` (:func:`fit_deployment`): children ``loglinear`` and ``logistic`` (each with
``posterior``, ``sample_stats``, ``log_likelihood`` of ``log_volume`` and ``count`` computed in
NumPy), and groups ``series_data`` (per series: industry, nation, kind, unit, centre, first and
last observed year; observed volumes by year), ``observed_share`` (every share industry,
cross-sections included) and ``model_comparison`` (PSIS-LOO per industry, the preferred form).
Tables from a fit: :mod:`.deployment_posterior`; projections: :mod:`learnrace_pipeline.lib.race.volume`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import stats

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models import deployment_data as ddata
from learnrace_pipeline.lib.models.cache import fit_or_load
from learnrace_pipeline.lib.models.deployment_data import (
    COUNT,
    LEVEL,
    DeploymentData,
    DeploymentDataConfig,
    VolumeMetric,
    build_deployment_data,
)
from learnrace_pipeline.lib.models.diagnostics import DiagnosticsResult, check_fit
from learnrace_pipeline.lib.models.psis import loo_pointwise

Form = Literal["loglinear", "logistic"]
FORMS: tuple[Form, ...] = ("loglinear", "logistic")
Noise = Literal["student_t", "normal"]
Residuals = Literal["ar1", "iid"]
MODEL_TYPE = "deployment_growth"
SAMPLE_DIMS = ("chain", "draw")
#: How national parameters are sampled: centred (data-rich), non-centred (weakly identified),
#: or "level": centred for level series, non-centred for count series (a few models a year).
CENTRED = {"growth": False, "log_headroom": "level"}

#: Sampler defaults: enough for ESS >= 400 on every parameter of both forms, a few seconds each.
DEPLOYMENT_SAMPLER = base.SamplerConfig(
    draws=1500, tune=1000, chains=4, target_accept=0.98, seed=20240601
)


@dataclass(frozen=True)
class DeploymentPriors:
    """Prior scales of the growth models (natural-log units; rates per year)."""

    level_sd: float = 3.0  # sd of each series' level around its industry's mean log volume
    growth_mu: tuple[float, float] = (0.2, 0.3)
    growth_sd: float = 0.3
    rate_mu: tuple[float, float] = (0.3, 0.5)
    rate_sd: float = 0.3
    log_headroom_mu: tuple[float, float] = (1.0, 1.0)
    log_headroom_sd: float = 0.75
    sigma: float = 0.5
    ar1: tuple[float, float] = (2.0, 2.0)  # Beta prior of (phi + 1) / 2
    nu: tuple[float, float] = (2.0, 0.1)
    overdispersion: float = 1.0


@dataclass(frozen=True)
class DeploymentConfig:
    """What defines a deployment-growth fit (hashed into the model id)."""

    data: DeploymentDataConfig = field(default_factory=DeploymentDataConfig)
    priors: DeploymentPriors = field(default_factory=DeploymentPriors)
    noise: Noise = "student_t"
    residuals: Residuals = "ar1"


@dataclass(frozen=True)
class Indices:
    """Integer maps of the panel: series -> industry, observations -> series and time."""

    industries: list[str]
    series: list[str]
    series_industry: np.ndarray  # (series,)
    level_series: list[str]
    level_pos: np.ndarray  # (series,) position in level_series, -1 for count series
    count_industries: list[str]
    count_pos: np.ndarray  # (series,) position in count_industries, -1 for level series
    centre: np.ndarray  # (series,) centre year of the series' industry
    obs_series: np.ndarray
    obs_tau: np.ndarray
    obs_y: np.ndarray  # ln volume
    obs_prev: np.ndarray  # index of the same series' observation a year earlier, -1 if none
    level_industries: list[str]  # industries with level series (the AR(1) coefficient dim)
    obs_ar: np.ndarray  # position of each level observation's industry in level_industries
    cobs_series: np.ndarray
    cobs_tau: np.ndarray
    cobs_k: np.ndarray  # counts
    ybar: np.ndarray  # (industry,)


def indices(data: DeploymentData) -> Indices:
    """The integer maps of ``data`` (series in panel order, observations by series and year)."""
    if not data.industries:
        raise ModelError("deployment growth: the panel has no industry to fit")
    industries = list(data.industries)
    series = data.series["series"].to_list()
    s_of = {s: k for k, s in enumerate(series)}
    s_ind = np.array([industries.index(i) for i in data.series["industry"]], dtype=np.int64)
    kinds = data.series["kind"].to_list()
    level_series = [s for s, k in zip(series, kinds, strict=True) if k == LEVEL]
    level_pos = np.array([level_series.index(s) if s in level_series else -1 for s in series])
    count_inds = sorted(
        {i for i, k in zip(data.series["industry"], kinds, strict=True) if k == COUNT},
        key=industries.index,
    )
    count_pos = np.array(
        [
            count_inds.index(i) if k == COUNT else -1
            for i, k in zip(data.series["industry"], kinds, strict=True)
        ],
        dtype=np.int64,
    )
    centre = np.array([data.centre_year[industries[i]] for i in s_ind])
    obs = data.obs.with_columns(
        pl.col("series").replace_strict(s_of, return_dtype=pl.Int64).alias("s")
    )
    lev = obs.filter(pl.col("s").is_in([s_of[s] for s in level_series]))
    cnt = obs.filter(~pl.col("s").is_in([s_of[s] for s in level_series]))
    ls, cs = lev["s"].to_numpy(), cnt["s"].to_numpy()
    ybar = np.zeros(len(industries))
    for k in range(len(industries)):
        sel_l = s_ind[ls] == k
        sel_c = s_ind[cs] == k
        if sel_l.any():
            ybar[k] = float(np.log(lev["volume"].to_numpy()[sel_l]).mean())
        else:
            ybar[k] = float(np.log(cnt["volume"].to_numpy()[sel_c].mean() + 0.5))
    years = lev["year"].to_numpy()
    prev = np.full(ls.size, -1, dtype=np.int64)
    at = {(int(s), int(y)): k for k, (s, y) in enumerate(zip(ls, years, strict=True))}
    for k, (s_k, y_k) in enumerate(zip(ls, years, strict=True)):
        prev[k] = at.get((int(s_k), int(y_k) - 1), -1)
    level_inds = [ind for k, ind in enumerate(industries) if (s_ind[ls] == k).any()]
    obs_ar = np.array([level_inds.index(industries[s_ind[s]]) for s in ls], dtype=np.int64)
    return Indices(
        industries=industries,
        series=series,
        series_industry=s_ind,
        level_series=level_series,
        level_pos=level_pos.astype(np.int64),
        count_industries=count_inds,
        count_pos=count_pos,
        centre=centre,
        obs_series=ls.astype(np.int64),
        obs_tau=lev["year"].to_numpy().astype(float) - centre[ls],
        obs_y=np.log(lev["volume"].to_numpy()),
        obs_prev=prev,
        level_industries=level_inds,
        obs_ar=obs_ar,
        cobs_series=cs.astype(np.int64),
        cobs_tau=cnt["year"].to_numpy().astype(float) - centre[cs],
        cobs_k=cnt["volume"].to_numpy().astype(np.int64),
        ybar=ybar,
    )


def _pooled(name: str, mu, sd, dims: str, centred: bool | np.ndarray):
    """``Normal(mu, sd)`` with ``dims``, sampled centred where ``centred`` (bool, or a mask over
    the elements) and non-centred (``mu + sd * z``, ``z`` standard normal) elsewhere; a mixed
    or non-centred variable is the deterministic of the free ``<name>_raw``."""
    if centred is True:
        return pm.Normal(name, mu, sd, dims=dims)
    mask = np.asarray(centred, dtype=bool)
    raw = pm.Normal(f"{name}_raw", pt.where(mask, mu, 0.0), pt.where(mask, sd, 1.0), dims=dims)
    return pm.Deterministic(name, pt.where(mask, raw, mu + sd * raw), dims=dims)


def _ar1_terms(mu, y: np.ndarray, phi, sigma, ix: Indices, xp=pt):
    """(location, scale) of each level observation under AR(1) residuals: ``mu + phi (y_prev -
    mu_prev)`` and ``sigma`` after an observation a year earlier; ``mu`` and
    ``sigma / sqrt(1 - phi^2)`` (the stationary scale) for a series' first observation.
    ``xp`` is ``pytensor.tensor`` or ``numpy`` (arrays with draws first)."""
    has = ix.obs_prev >= 0
    prev = np.where(has, ix.obs_prev, 0)
    resid_prev = y[prev] - mu[..., prev]
    loc = mu + xp.where(has, phi * resid_prev, 0.0)
    scale = xp.where(has, sigma, sigma / xp.sqrt(1.0 - phi**2))
    return loc, scale


def _centring(how: bool | str, ix: Indices) -> bool | np.ndarray:
    """A :data:`CENTRED` entry as ``_pooled`` takes it."""
    if how == "level":
        return ix.level_pos >= 0
    return bool(how)


def _softplus_inv(h):
    """``ln(e^H - 1)`` for H > 0, stably (``H + ln(1 - e^-H)``)."""
    return h + pt.log1mexp(-h)


def build_deployment_model(
    data: DeploymentData,
    form: Form = "loglinear",
    priors: DeploymentPriors | None = None,
    noise: Noise = "student_t",
    residuals: Residuals = "ar1",
) -> pm.Model:
    """The PyMC model of one form over every industry of the panel (module doc)."""
    if form not in FORMS:
        raise ModelError(f"unknown deployment form {form!r}: use one of {FORMS}")
    if noise not in ("student_t", "normal"):
        raise ModelError(f"unknown noise {noise!r}: use 'student_t' or 'normal'")
    p = priors or DeploymentPriors()
    ix = indices(data)
    coords = {
        "industry": ix.industries,
        "series": ix.series,
        "obs": np.arange(ix.obs_y.size),
        "cobs": np.arange(ix.cobs_k.size),
    }
    if ix.level_series:
        coords["level_series"] = ix.level_series
        coords["level_industry"] = ix.level_industries
    if ix.count_industries:
        coords["count_industry"] = ix.count_industries
    with pm.Model(coords=coords) as model:
        _add_form(form, ix, p, noise, residuals)
    return model


def _add_form(
    form: Form, ix: Indices, p: DeploymentPriors, noise: Noise, residuals: Residuals
) -> None:
    """The variables of one form, added to the model in context."""
    si = ix.series_industry
    # levels are not pooled: nations differ by orders of magnitude, and each series pins its own
    m = pm.Normal("level", ix.ybar[si], p.level_sd, dims="series")
    g_mu = pm.Normal("growth_mu", *p.growth_mu, dims="industry")
    g_sd = pm.HalfNormal("growth_sd", p.growth_sd, dims="industry")
    g = _pooled("growth", g_mu[si], g_sd[si], "series", _centring(CENTRED["growth"], ix))
    if form == "loglinear":

        def mean(s, tau):
            return m[s] + g[s] * tau

    else:
        lh_mu = pm.Normal("log_headroom_mu", *p.log_headroom_mu, dims="industry")
        # fixed between-nation scale: a handful of nations cannot identify the spread of a
        # curvature that each series barely identifies (a learned scale gave a funnel)
        lh = _pooled(
            "log_headroom",
            lh_mu[si],
            p.log_headroom_sd,
            "series",
            _centring(CENTRED["log_headroom"], ix),
        )
        big_h = pt.exp(lh)
        h = _softplus_inv(big_h)
        r = g / -pt.expm1(-big_h)

        def mean(s, tau):
            return m[s] + big_h[s] - pt.softplus(h[s] - r[s] * tau)

    if ix.obs_y.size:
        sigma = pm.HalfNormal("sigma", p.sigma, dims="level_series")
        mu = mean(ix.obs_series, ix.obs_tau)
        loc, sd = mu, sigma[ix.level_pos[ix.obs_series]]
        if residuals == "ar1":
            phi_raw = pm.Beta("ar1_raw", *p.ar1, dims="level_industry")
            phi = pm.Deterministic("ar1", 2.0 * phi_raw - 1.0, dims="level_industry")
            loc, sd = _ar1_terms(mu, ix.obs_y, phi[ix.obs_ar], sd, ix)
        if noise == "student_t":
            nu = pm.Gamma("nu", alpha=p.nu[0], beta=p.nu[1])
            pm.StudentT("log_volume", nu=nu, mu=loc, sigma=sd, observed=ix.obs_y, dims="obs")
        else:
            pm.Normal("log_volume", mu=loc, sigma=sd, observed=ix.obs_y, dims="obs")
    if ix.cobs_k.size:
        inv = pm.HalfNormal("inv_sqrt_alpha", p.overdispersion, dims="count_industry")
        alpha = 1.0 / pt.sqr(inv)
        mu_c = mean(ix.cobs_series, ix.cobs_tau)
        pm.NegativeBinomial(
            "count",
            mu=pt.exp(mu_c),
            alpha=alpha[ix.count_pos[ix.cobs_series]],
            observed=ix.cobs_k,
            dims="cobs",
        )


# ---------------------------------------------------------------------------------------------
# NumPy mirror of the mean and the noise (log-likelihood, projections)
# ---------------------------------------------------------------------------------------------


def softplus_inv(big_h: np.ndarray) -> np.ndarray:
    """``ln(e^H - 1)`` in NumPy, stable for small and large H."""
    return big_h + np.log(-np.expm1(-big_h))


def mean_log_volume(
    params: Mapping[str, np.ndarray], form: Form, s: np.ndarray, tau: np.ndarray
) -> np.ndarray:
    """``mu`` (module doc) for draws x points: ``params`` hold ``level`` and ``growth`` (or
    ``rate`` and ``log_headroom``) shaped (draws, series); ``s`` and ``tau`` broadcast against
    each other; the result is (draws, *broadcast shape)."""
    m = params["level"][:, s]
    g = params["growth"][:, s]
    if form == "loglinear":
        return m + g * tau
    big_h = np.exp(params["log_headroom"][:, s])
    r = g / -np.expm1(-big_h)
    return m + big_h - np.logaddexp(0.0, softplus_inv(big_h) - r * tau)


def logistic_rate(growth: np.ndarray, log_headroom: np.ndarray) -> np.ndarray:
    """The logistic rate ``r = g / (1 - e^-H)`` from the growth at the centre year and
    ``ln H``."""
    return growth / -np.expm1(-np.exp(log_headroom))


def _stacked(post: xr.Dataset, names: list[str]) -> dict[str, np.ndarray]:
    """Posterior variables with (chain, draw) flattened to one leading draw axis."""
    out = {}
    for n in names:
        if n in post:
            da = post[n]
            other = [d for d in da.dims if d not in SAMPLE_DIMS]
            v = da.transpose(*SAMPLE_DIMS, *other).values
            out[n] = v.reshape(-1, *v.shape[2:])
    return out


PARAMS = ("level", "growth", "log_headroom", "sigma", "ar1", "nu", "inv_sqrt_alpha")


def log_likelihood(
    post: xr.Dataset, form: Form, ix: Indices, noise: Noise, residuals: Residuals = "ar1"
) -> xr.Dataset:
    """Pointwise log-likelihood of ``log_volume`` (dims chain, draw, obs) and ``count`` (chain,
    draw, cobs), in NumPy."""
    shape = (post.sizes["chain"], post.sizes["draw"])
    p = _stacked(post, list(PARAMS))
    out = {}
    if ix.obs_y.size:
        mu = mean_log_volume(p, form, ix.obs_series, ix.obs_tau)
        loc, sd = mu, p["sigma"][:, ix.level_pos[ix.obs_series]]
        if residuals == "ar1":
            loc, sd = _ar1_terms(mu, ix.obs_y, p["ar1"][:, ix.obs_ar], sd, ix, xp=np)
        if noise == "student_t":
            ll = stats.t.logpdf(ix.obs_y, p["nu"][:, None], loc, sd)
        else:
            ll = stats.norm.logpdf(ix.obs_y, loc, sd)
        out["log_volume"] = (("chain", "draw", "obs"), ll.reshape(*shape, -1))
    if ix.cobs_k.size:
        mu = np.exp(mean_log_volume(p, form, ix.cobs_series, ix.cobs_tau))
        alpha = 1.0 / p["inv_sqrt_alpha"][:, ix.count_pos[ix.cobs_series]] ** 2
        ll = stats.nbinom.logpmf(ix.cobs_k, alpha, alpha / (alpha + mu))
        out["count"] = (("chain", "draw", "cobs"), ll.reshape(*shape, -1))
    return xr.Dataset(out, coords={k: post.coords[k] for k in SAMPLE_DIMS})


# ---------------------------------------------------------------------------------------------
# Fit
# ---------------------------------------------------------------------------------------------


def _series_data(data: DeploymentData, ix: Indices) -> xr.Dataset:
    """Per series: industry, nation, data nation, kind, unit, centre, first and last observed
    year; ``volume`` (series, year) with NaN where unobserved."""
    years = sorted(data.obs["year"].unique().to_list())
    vol = np.full((len(ix.series), len(years)), np.nan)
    pos = {s: k for k, s in enumerate(ix.series)}
    for s, y, v in data.obs.select("series", "year", "volume").iter_rows():
        vol[pos[s], years.index(y)] = v
    span = data.obs.group_by("series").agg(
        pl.col("year").min().alias("first"), pl.col("year").max().alias("last")
    )
    first = dict(zip(span["series"], span["first"], strict=True))
    last = dict(zip(span["series"], span["last"], strict=True))
    sd = data.series
    return xr.Dataset(
        {
            "industry": ("series", np.array(sd["industry"].to_list(), dtype=str)),
            "nation": ("series", np.array(sd["nation"].to_list(), dtype=str)),
            "data_nation": ("series", np.array(sd["data_nation"].to_list(), dtype=str)),
            "kind": ("series", np.array(sd["kind"].to_list(), dtype=str)),
            "unit": ("series", np.array(sd["unit"].to_list(), dtype=str)),
            "centre_year": ("series", ix.centre),
            "first_year": ("series", np.array([first[s] for s in ix.series], dtype=np.int64)),
            "last_year": ("series", np.array([last[s] for s in ix.series], dtype=np.int64)),
            "volume": (("series", "year"), vol),
        },
        coords={"series": ix.series, "year": np.array(years, dtype=np.int64)},
    )


def _observed_share(data: DeploymentData) -> xr.Dataset:
    sh = data.shares
    cross = set(data.cross_sections)
    return xr.Dataset(
        {
            "industry": ("share_obs", np.array(sh["industry"].to_list(), dtype=str)),
            "nation": ("share_obs", np.array(sh["nation"].to_list(), dtype=str)),
            "year": ("share_obs", sh["year"].to_numpy().astype(np.int64)),
            "share": ("share_obs", sh["share"].to_numpy().astype(float)),
            "cross_section": (
                "share_obs",
                np.array([i in cross for i in sh["industry"]], dtype=bool),
            ),
        },
        coords={"share_obs": np.arange(sh.height)},
    )


def loo_by_industry(forms: Mapping[str, xr.DataTree], ix: Indices) -> xr.Dataset:
    """PSIS-LOO per industry of each form (dims industry, form) and the paired difference.

    Variables: ``elpd_loo``, ``se``, ``p_loo``, ``n_high_pareto_k`` (k > 0.7) per (industry,
    form); ``elpd_diff`` and ``dse`` (logistic minus log-linear; s.e. of the pointwise paired
    difference, ``sqrt(n var(d_i))``); ``n_obs``; ``preferred`` (the form with the larger
    elpd_loo).
    """
    names = list(forms)
    elpd = np.zeros((len(ix.industries), len(names)))
    se, p_loo, nk = np.zeros_like(elpd), np.zeros_like(elpd), np.zeros_like(elpd)
    pointwise: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for f, dt in forms.items():
        parts_e, parts_i, parts_k, parts_l = [], [], [], []
        for var, series in (("log_volume", ix.obs_series), ("count", ix.cobs_series)):
            if series.size:
                e, k, lppd = loo_pointwise(dt, var)
                parts_e.append(e)
                parts_k.append(k)
                parts_l.append(lppd)
                parts_i.append(ix.series_industry[series])
        pointwise[f] = (np.concatenate(parts_e), np.concatenate(parts_i))
        kk, ll = np.concatenate(parts_k), np.concatenate(parts_l)
        e_all, ind_all = pointwise[f]
        j = names.index(f)
        for i in range(len(ix.industries)):
            sel = ind_all == i
            n = int(sel.sum())
            elpd[i, j] = e_all[sel].sum()
            se[i, j] = np.sqrt(n * np.var(e_all[sel]))
            p_loo[i, j] = (ll[sel] - e_all[sel]).sum()
            nk[i, j] = int((kk[sel] > 0.7).sum())
    ind_all = pointwise[names[0]][1]
    diff = np.zeros(len(ix.industries))
    dse = np.zeros(len(ix.industries))
    n_obs = np.zeros(len(ix.industries), dtype=np.int64)
    if len(names) == 2:
        d = pointwise[names[1]][0] - pointwise[names[0]][0]
        for i in range(len(ix.industries)):
            sel = ind_all == i
            n_obs[i] = int(sel.sum())
            diff[i] = d[sel].sum()
            dse[i] = np.sqrt(sel.sum() * np.var(d[sel]))
    preferred = np.array([names[int(np.argmax(elpd[i]))] for i in range(len(ix.industries))])
    return xr.Dataset(
        {
            "elpd_loo": (("industry", "form"), elpd),
            "se": (("industry", "form"), se),
            "p_loo": (("industry", "form"), p_loo),
            "n_high_pareto_k": (("industry", "form"), nk.astype(np.int64)),
            "elpd_diff": ("industry", diff),
            "dse": ("industry", dse),
            "n_obs": ("industry", n_obs),
            "preferred": ("industry", preferred.astype(str)),
        },
        coords={"industry": ix.industries, "form": names},
        attrs={"elpd_diff": f"{names[-1]} minus {names[0]}"},
    )


def fit_form(
    data: DeploymentData,
    form: Form,
    config: DeploymentConfig | None = None,
    sampler: base.SamplerConfig | None = None,
) -> xr.DataTree:
    """One form fitted (compiled here) into a provenance-stamped tree with ``log_likelihood``."""
    config = config or DeploymentConfig()
    sampler = sampler or DEPLOYMENT_SAMPLER
    ix = indices(data)
    model = build_deployment_model(data, form, config.priors, config.noise, config.residuals)

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        ll = log_likelihood(dt.posterior.to_dataset(), form, ix, config.noise, config.residuals)
        return {"log_likelihood": ll}

    dt = base.fit(
        model,
        sampler,
        model_type=f"{MODEL_TYPE}_{form}",
        model_config=config,
        data=data.frames(),
        code_version=base.code_version(__file__, ddata.__file__),
        postprocess=post,
    )
    dt.attrs["form"] = form
    return dt


def fit_deployment(
    data: DeploymentData,
    config: DeploymentConfig | None = None,
    sampler: base.SamplerConfig | None = None,
) -> xr.DataTree:
    """Both forms fitted on ``data``, in one tree (module doc), root provenance attrs."""
    config = config or DeploymentConfig()
    sampler = sampler or DEPLOYMENT_SAMPLER
    ix = indices(data)
    forms = {f: fit_form(data, f, config, sampler) for f in FORMS}
    root = xr.DataTree()
    for f, dt in forms.items():
        root[f] = dt
    root["series_data"] = xr.DataTree(dataset=_series_data(data, ix))
    root["observed_share"] = xr.DataTree(dataset=_observed_share(data))
    root["model_comparison"] = xr.DataTree(dataset=loo_by_industry(forms, ix))
    cv = base.code_version(__file__, ddata.__file__)
    root.attrs.update(
        {
            "model_id": base.model_id(MODEL_TYPE, config, sampler, cv),
            "model_type": MODEL_TYPE,
            "data_version": base.data_version(*data.frames()),
            "code_version": cv,
            "sampler_config": base.config_json(sampler),
            "model_config": base.config_json(config),
            "compile_seconds": float(sum(d.attrs["compile_seconds"] for d in forms.values())),
            "sample_seconds": float(sum(d.attrs["sample_seconds"] for d in forms.values())),
            "noise": config.noise,
        }
    )
    return root


def deployment_fit(
    tables: Mapping[str, pl.DataFrame],
    fits_dir: Path,
    metrics: Sequence[VolumeMetric] | Any,
    config: DeploymentConfig | None = None,
    sampler: base.SamplerConfig | None = None,
) -> tuple[xr.DataTree, bool]:
    """(fit, reused): :func:`fit_deployment` on the panel of the volume ``metrics`` (or of a
    race specification's industries, :func:`.deployment_data.volume_metrics`) from ``tables``
    (``production``, ``market_shares``, ``ai_models``), loaded from ``fits_dir`` when a fit of
    the same model id and data version is saved there."""
    config = config or DeploymentConfig()
    sampler = sampler or DEPLOYMENT_SAMPLER
    data = build_deployment_data(metrics, tables, config.data)
    cv = base.code_version(__file__, ddata.__file__)
    mid = base.model_id(MODEL_TYPE, config, sampler, cv)
    version = hashlib.sha256(base.data_version(*data.frames()).encode()).hexdigest()
    return fit_or_load(
        fits_dir, "deployment", mid, version, lambda: fit_deployment(data, config, sampler)
    )


def check_deployment_fit(dt: xr.DataTree, **kwargs) -> dict[str, DiagnosticsResult]:
    """The blocking convergence checks (:func:`.diagnostics.check_fit`) of each form."""
    return {f: check_fit(dt[f], **kwargs) for f in FORMS if f in dt.children}


def preferred_form(dt: xr.DataTree, industry: str) -> str:
    """The form PSIS-LOO prefers for ``industry`` (the larger elpd_loo)."""
    cmp = dt["model_comparison"]
    if industry not in cmp["industry"].values:
        raise ModelError(f"deployment fit: no growth model for industry {industry!r}")
    return str(cmp["preferred"].sel(industry=industry).values)


def stacked_params(dt: xr.DataTree, form: str) -> dict[str, np.ndarray]:
    """The form's parameters with (chain, draw) flattened (``level``, ``growth`` | ``rate``,
    ``log_headroom``, ``sigma``, ``nu``, ``inv_sqrt_alpha``)."""
    return _stacked(dt[form].posterior.to_dataset(), list(PARAMS))
