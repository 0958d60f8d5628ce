"""Bayesian learning-curve models: Wright, time trend (Moore) and both, pooled hierarchically.

Observation equation, for difference ``t`` of series ``s`` (see :mod:`.panel`)::

    dlogc[t] = mu[t] + e[t] + rho * e[t-1]            (MA(1); rho = 0 for iid noise)
    e[t] ~ Normal(0, sigma_s * sqrt(dt[t]))  or  StudentT(nu, 0, sigma_s * sqrt(dt[t]))

with ``mu = -w_s * dlogq`` (Wright), ``mu = -m_s * dt`` (time trend) or both. ``w`` is unit-free
(cost ~ Q^-w; learning rate LR = 1 - 2^-w); ``m`` is the log cost decline per year; ``sigma`` is
the sd of the log cost innovations per year. The noise scale grows with sqrt(dt) across gaps.

MA(1), exactly within each series: the innovations are recovered from the data by the recursion
``e[t] = r[t] - rho * e[t-1]`` (``r = dlogc - mu``), started from a latent pre-sample shock
``e0_s ~ Normal(0, sigma_s)`` (integrating it out gives the exact Gaussian MA(1) likelihood;
under Student-t noise the start stays Normal, which avoids a bimodal posterior for e0). In the
model the recursion is one O(n) loop over the flat observation vector that restarts at every
series start (:mod:`.ma1_op`, a PyTensor Op with a numba kernel and its adjoint), so no series
leaks into the next. :func:`ma1_innovations` runs the same recursion over every posterior
draw (a cached numba loop); it gives pointwise log-likelihoods, predictive draws and forecasts
from the posterior without compiling anything per fit.

Partial pooling (non-centred), ``pooled`` level::

    w_all ~ Normal(w_mu, w_sd)
    w_industry = w_all + tau_w_industry * z_w_industry        (dims industry)
    w_series = w_industry[industry of s] + tau_w_series * z_w_series   (dims series)

and the same for ``m``; ``log sigma_series ~ Normal(log_sigma_all, tau_log_sigma)``, centred
for large panels (each series' noise scale is then well identified by its own data) and
non-centred for small ones (``LearningConfig.sigma_param``). A level with a single member (one
industry, one series per industry, a single series) is left out: its spread would only echo the
prior, and the funnel it leaves makes NUTS diverge.

Experience+time (``trend="both"``): the same prior, sampled in other coordinates. Where a
series' production grows at a steady exponential rate ``g_s``, ``dlogq ~ g_s dt`` and the data
only fix the drift ``d_s = m_s + g_s w_s`` (the cost decline per year along the series' path);
``w_s`` and ``m_s`` slide along that ridge. Sampled as independent offsets (above), this gave
1 divergence in 8,000 draws and R-hat 1.011 on an industry offset of ``w`` on the 77-series
real panel, even with target_accept 0.99, longer tuning, Normal noise or a centred industry
level of ``w``. So every level below the top (industry, series) samples, instead of the two
offsets, ::

    d ~ Normal(m_parent + g w_parent, sd_d),   sd_d = sqrt(tau_m^2 + g^2 tau_w^2)
    w = w_parent + g tau_w^2 / sd_d^2 (d - m_parent - g w_parent)
          + tau_w tau_m / sd_d * z_w_<level>_given_drift,   z ~ Normal(0, 1)
    m = d - g w

i.e. the drift, then ``w`` given the drift from its conditional Normal: an exact rewrite of
``w ~ Normal(w_parent, tau_w)``, ``m ~ Normal(m_parent, tau_m)`` independent (the Jacobian of
(d, z) -> (w, m), ``tau_w tau_m / sd_d``, is the density ratio; tests/lib/models/learning/
test_learning_drift.py checks the identity to 1e-10), so priors and posterior are unchanged;
only the geometry is. The drift, which the data pin down, is centred (free ``drift_<level>``)
for panels of :data:`CENTRED_SIGMA_MIN_SERIES` series and more, else standardised
(``z_drift_<level>``; ``LearningConfig.trend_param``); ``w`` given the drift, about which the
data say little, is non-centred. ``g`` is data, :func:`mean_growth`: ``sum dlogq / sum dt``
over the group's fitted differences (series; all series of the industry), which makes
``dlogq - g dt`` orthogonal to ``dt`` under noise variance proportional to ``dt``; it is part of
the graph, so refits with a new ``mask`` recompute it. Any ``g`` gives the same model; this one
decorrelates (same real panel, 4 x 2,000 draws: R-hat max 1.006, bulk ESS min 947, no
divergences, and faster). ``w_industry``, ``m_industry``, ``w_series``, ``m_series``
keep their names and meaning as deterministics; ``tau_*`` are unchanged. The nation level
applies it to series only (``m`` has no nation level), with ``g`` from national experience.

``nation`` level (nation panels from :func:`.panel.build_nation_panel`): national exponents
``w_nation = w_all + tau_w_nation * z`` (dims nation), series around their nation, and a spillover
share per nation in effective experience::

    log Q_eff = lambda_n log Q_nation + (1 - lambda_n) log Q_world
    lambda_n = invlogit(lambda_logit_all + tau_lambda * z_lambda_n),  lambda_all = invlogit(mu)

National and world cumulative capacity are highly correlated over short national series, so
lambda is weakly identified: fits of this level carry a ``prior`` group with draws of
``lambda_all`` and ``lambda_nation`` from the prior, to plot beside the posterior.

Compile once, refit many times: data enter through ``pm.Data`` containers named as in
:meth:`.panel.Panel.data` (``dlogc``, ``dlogq``, ``dt``, ``pos``, ``series_idx``, ``mask`` ...);
:class:`LearningCurveModel` compiles once and refits with new values of the same shapes (e.g. a
hindcast origin's ``mask``) via nutpie's ``with_data``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numba
import numpy as np
import polars as pl
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import special

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.ma1_op import ma1_filter
from learnrace_pipeline.lib.models.panel import Panel

MODEL_TYPE = "learning_curve"

#: Default sampler of :class:`LearningCurveModel`: 4 chains x 2,000 draws after 1,000 tuning
#: steps; with a few hundred parameters the largest rank-normalised R-hat of 4 x 1,000 draws
#: sits right at the 1.01 threshold by chance alone, 4 x 2,000 leaves a margin.
DEFAULT_SAMPLER = base.SamplerConfig(draws=2000, tune=1000, chains=4, seed=20240601)

Trend = Literal["wright", "time", "both"]
Noise = Literal["normal", "student_t"]
Level = Literal["pooled", "nation"]


@dataclass(frozen=True)
class LearningPriors:
    """Prior hyperparameters (units: ``w`` unit-free, ``m`` and ``sigma`` per year).

    ``tau_*`` are HalfNormal scales of between-group spreads. ``rho`` is Normal(rho_mu, rho_sd)
    truncated to (-0.95, 0.95) (invertible MA(1)); ``nu`` is Gamma(nu_alpha, nu_beta).
    """

    w_mu: float = 0.25
    w_sd: float = 0.25
    tau_w_industry: float = 0.15
    tau_w_series: float = 0.15
    m_mu: float = 0.02
    m_sd: float = 0.05
    tau_m_industry: float = 0.03
    tau_m_series: float = 0.03
    log_sigma_mu: float = -2.3
    log_sigma_sd: float = 1.0
    tau_log_sigma: float = 0.7
    rho_mu: float = 0.0
    rho_sd: float = 0.3
    nu_alpha: float = 2.0
    nu_beta: float = 0.1
    tau_w_nation: float = 0.15
    lambda_logit_mu: float = 0.0
    lambda_logit_sd: float = 1.5
    tau_lambda: float = 1.0


@dataclass(frozen=True)
class LearningConfig:
    """Which learning-curve model: trend terms, noise law, MA(1) or iid, pooling level, priors."""

    trend: Trend = "wright"
    noise: Noise = "student_t"
    ma1: bool = True
    level: Level = "pooled"
    priors: LearningPriors = field(default_factory=LearningPriors)
    #: parameterisation of the per-series log noise scales: ``centred`` suits many series with
    #: well-identified scales (PCDB), ``non_centred`` few series (avoids a funnel as
    #: tau_log_sigma -> 0); ``auto`` picks centred from :data:`CENTRED_SIGMA_MIN_SERIES` series.
    sigma_param: Literal["auto", "centred", "non_centred"] = "auto"
    #: parameterisation of the industry level of the time trend (``m_industry``): with many
    #: series per industry the non-centred form leaves a ridge between ``m_all`` and the industry
    #: offsets (R-hat 1.05+ on PCDB); ``auto`` centres it from
    #: :data:`CENTRED_SIGMA_MIN_SERIES` series, like the noise scales. Series-level ``m`` stays
    #: non-centred. In the experience+time model the same switch centres the drifts of the
    #: industry and series levels (module docstring); ``w`` given the drift is never centred.
    trend_param: Literal["auto", "centred", "non_centred"] = "auto"

    def __post_init__(self) -> None:
        if self.trend not in ("wright", "time", "both"):
            raise ModelError(f"unknown trend {self.trend!r}")
        if self.noise not in ("normal", "student_t"):
            raise ModelError(f"unknown noise {self.noise!r}")
        if self.level not in ("pooled", "nation"):
            raise ModelError(f"unknown level {self.level!r}")
        if self.sigma_param not in ("auto", "centred", "non_centred"):
            raise ModelError(f"unknown sigma_param {self.sigma_param!r}")
        if self.trend_param not in ("auto", "centred", "non_centred"):
            raise ModelError(f"unknown trend_param {self.trend_param!r}")
        if self.level == "nation" and self.trend == "time":
            raise ModelError("the nation level needs an experience term (trend wright or both)")

    @property
    def name(self) -> str:
        """Short label, e.g. ``wright_normal_ma1`` or ``both_student_t_iid_nation``."""
        label = f"{self.trend}_{self.noise}_{'ma1' if self.ma1 else 'iid'}"
        return label if self.level == "pooled" else f"{label}_nation"

    @property
    def has_w(self) -> bool:
        return self.trend in ("wright", "both")

    @property
    def has_m(self) -> bool:
        return self.trend in ("time", "both")


#: ``sigma_param="auto"`` uses the centred form from this many series on.
CENTRED_SIGMA_MIN_SERIES = 30


def centred_trend(config: LearningConfig, n_series: int) -> bool:
    """Whether the time-trend levels are centred for this config and panel size."""
    if config.trend_param == "auto":
        return n_series >= CENTRED_SIGMA_MIN_SERIES
    return config.trend_param == "centred"


def centred_sigma(config: LearningConfig, n_series: int) -> bool:
    """Whether the per-series log noise scales are centred for this config and panel size."""
    if config.sigma_param == "auto":
        return n_series >= CENTRED_SIGMA_MIN_SERIES
    return config.sigma_param == "centred"


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


def learning_rate(w: np.ndarray | float) -> np.ndarray | float:
    """Learning rate per doubling of cumulative production: ``1 - 2**-w``."""
    return 1.0 - np.power(2.0, -np.asarray(w))


# ----------------------------------------------------------------------------- PyMC model


def _spread(
    name: str, parent: Any, tau_scale: float, dim: str, n: int, vary: bool, centred: bool = False
) -> Any:
    """Non-centred group effects ``parent + tau * z`` (free ``tau_<name>``, ``z_<name>``), or
    centred ones (free ``tau_<name>`` and ``<name>`` itself), or just ``parent`` broadcast to
    ``n`` members when the level does not vary."""
    if not vary:
        return parent * pt.ones(n)
    tau_name, z_name = _SPREAD_NAMES.get(name, (f"tau_{name}", f"z_{name}"))
    tau = pm.HalfNormal(tau_name, tau_scale)
    if centred:
        return pm.Normal(name, parent, tau, dims=dim)
    z = pm.Normal(z_name, 0.0, 1.0, dims=dim)
    return parent + tau * z


#: free-parameter names of the non-centred levels whose names do not follow tau_/z_<name>
_SPREAD_NAMES = {"log_sigma": ("tau_log_sigma", "z_sigma")}


def drift_names(level: str, centred: bool) -> tuple[str, str]:
    """Free parameters of a joint (w, m) level of the experience+time model (module
    docstring): the drift (``drift_<level>``, or its standardised ``z_drift_<level>``) and the
    standardised deviation of ``w`` given the drift (``z_w_<level>_given_drift``)."""
    return (f"drift_{level}" if centred else f"z_drift_{level}", f"z_w_{level}_given_drift")


def mean_growth(
    dlogq: np.ndarray, dt: np.ndarray, mask: np.ndarray, group: np.ndarray, n_groups: int
) -> np.ndarray:
    """Average growth of log cumulative production per year of each group (series, industry).

    ``sum(mask * dlogq) / sum(mask * dt)`` over the group's differences (per year; 0 for a
    group with no fitted difference): the growth rate ``g`` that makes ``dlogq - g dt``
    orthogonal to ``dt`` under the model's noise variance (proportional to ``dt``).
    """
    idx = np.asarray(group, dtype=np.int64)
    m = np.asarray(mask, dtype=float)
    num = np.bincount(idx, weights=m * np.asarray(dlogq, dtype=float), minlength=n_groups)
    den = np.bincount(idx, weights=m * np.asarray(dt, dtype=float), minlength=n_groups)
    return np.divide(num, den, out=np.zeros(n_groups), where=den > 0)


def _mean_growth_pt(dlogq: Any, dt: Any, mask: Any, group: Any, n_groups: int) -> Any:
    """:func:`mean_growth` on the model's data containers (refits with new data update it)."""
    num = pt.inc_subtensor(pt.zeros(n_groups)[group], mask * dlogq)
    den = pt.inc_subtensor(pt.zeros(n_groups)[group], mask * dt)
    return pt.switch(den > 0, num / pt.switch(den > 0, den, 1.0), 0.0)


def _w_m_from_drift(
    w_parent: Any,
    m_parent: Any,
    g: Any,
    tau_w: Any,
    tau_m: Any,
    drift_free: Any,
    z_w: Any,
    centred: bool,
    sqrt: Any,
) -> tuple[Any, Any]:
    """``(w, m)`` of a joint level from its drift ``d = m + g w`` (``drift_free`` is ``d`` when
    centred, else its standardised value) and the standardised deviation ``z_w`` of ``w``
    given ``d``. Operands are PyTensor tensors or xarray/NumPy arrays (``sqrt`` to match)."""
    var_d = tau_m**2 + (g * tau_w) ** 2
    sd_d = sqrt(var_d)
    mean_d = m_parent + g * w_parent
    offset = drift_free - mean_d if centred else sd_d * drift_free  # d - E[d]
    w = w_parent + g * tau_w**2 / var_d * offset + tau_w * tau_m / sd_d * z_w
    return w, mean_d + offset - g * w


def _joint_level(
    level: str,
    w_parent: Any,
    m_parent: Any,
    g: Any,
    tau_w_scale: float,
    tau_m_scale: float,
    centred: bool,
) -> tuple[Any, Any]:
    """A level of group effects ``(w, m)`` of the experience+time model (dims ``level``),
    sampled as (drift, w given drift).

    The prior is the model's: ``w ~ Normal(w_parent, tau_w_<level>)`` and independently
    ``m ~ Normal(m_parent, tau_m_<level>)``, written as the drift ``d = m + g w``, Normal with
    mean ``m_parent + g w_parent`` and sd ``sqrt(tau_m^2 + g^2 tau_w^2)`` (centred when
    ``centred``: the data pin it down), and ``w`` given ``d`` (its conditional Normal,
    non-centred: the data say little about it). ``g`` is the level's :func:`mean_growth`.
    """
    tau_w = pm.HalfNormal(f"tau_w_{level}", tau_w_scale)
    tau_m = pm.HalfNormal(f"tau_m_{level}", tau_m_scale)
    d_name, z_name = drift_names(level, centred)
    if centred:
        sd_d = pt.sqrt(tau_m**2 + (g * tau_w) ** 2)
        drift_free = pm.Normal(d_name, m_parent + g * w_parent, sd_d, dims=level)
    else:
        drift_free = pm.Normal(d_name, 0.0, 1.0, dims=level)
    z = pm.Normal(z_name, 0.0, 1.0, dims=level)
    return _w_m_from_drift(w_parent, m_parent, g, tau_w, tau_m, drift_free, z, centred, pt.sqrt)


def create_learning_model(
    panel: Panel,
    config: LearningConfig = LearningConfig(),
) -> pm.Model:
    """Build the PyMC model for ``panel`` (see the module docstring for the equations).

    Data enter through ``pm.Data`` containers named as in :meth:`LearningCurveModel.data`, so
    a compiled model can be refitted on any panel of the same layout.
    """
    if config.level == "nation" and not panel.has_world:
        raise ModelError("the nation level needs a nation panel (build_nation_panel)")
    pr = config.priors
    data = panel.data()
    coords = panel.coords()
    nation_of_series = panel.series["nation_idx"].to_numpy().astype(np.int64)

    with pm.Model(coords=coords) as model:
        dlogc = pm.Data("dlogc", data["dlogc"], dims="obs")
        dlogq = pm.Data("dlogq", data["dlogq"], dims="obs")
        dt = pm.Data("dt", data["dt"], dims="obs")
        pos = pm.Data("pos", data["pos"], dims="obs")
        series_idx = pm.Data("series_idx", data["series_idx"], dims="obs")
        mask = pm.Data("mask", data["mask"], dims="obs")

        n_series = panel.n_series
        if config.level == "pooled":
            ind_of_series = pm.Data("industry_of_series", data["industry_of_series"], dims="series")
            group_dim, group_of_series, n_groups = "industry", ind_of_series, len(panel.industries)
            x = dlogq
        else:
            dlogq_world = pm.Data("dlogq_world", data["dlogq_world"], dims="obs")
            nat_of_series = pm.Data("nation_of_series", nation_of_series, dims="series")
            group_dim, group_of_series, n_groups = "nation", nat_of_series, len(panel.nations)
            lam_mu = pm.Normal("lambda_logit_all", pr.lambda_logit_mu, pr.lambda_logit_sd)
            lam_logit = _spread("lambda", lam_mu, pr.tau_lambda, "nation", n_groups, n_groups > 1)
            lam = pm.Deterministic("lambda_nation", pm.math.invlogit(lam_logit), dims="nation")
            pm.Deterministic("lambda_all", pm.math.invlogit(lam_mu))
            lam_obs = lam[nat_of_series[series_idx]]
            x = lam_obs * dlogq + (1.0 - lam_obs) * dlogq_world
        # a level with a single member is left out (its spread would be unidentified)
        groups_vary = n_groups > 1
        series_vary = n_series > n_groups

        mu = pt.zeros_like(dlogc)
        w_parent = m_parent = None
        m_vary = False
        # experience+time: (w, m) of each level below the top sampled as (drift, w | drift)
        joint = config.has_w and config.has_m
        c_m = centred_trend(config, n_series) if config.has_m else False
        if config.has_w:
            w_all = pm.Normal("w_all", pr.w_mu, pr.w_sd)
        if config.has_m:
            m_all = pm.Normal("m_all", pr.m_mu, pr.m_sd)
        if joint and config.level == "pooled" and groups_vary:
            ind_growth = _mean_growth_pt(dlogq, dt, mask, ind_of_series[series_idx], n_groups)
            w_val, m_val = _joint_level("industry", w_all, m_all, ind_growth,
                                        pr.tau_w_industry, pr.tau_m_industry, c_m)  # fmt: skip
            w_group = pm.Deterministic("w_industry", w_val, dims="industry")
            m_ind = pm.Deterministic("m_industry", m_val, dims="industry")
            w_parent, m_parent = w_group[group_of_series], m_ind[ind_of_series]
            m_vary = series_vary
        else:
            if config.has_w:
                tau_group = pr.tau_w_industry if config.level == "pooled" else pr.tau_w_nation
                w_group = pm.Deterministic(
                    f"w_{group_dim}",
                    _spread(f"w_{group_dim}", w_all, tau_group, group_dim, n_groups, groups_vary),
                    dims=group_dim,
                )
                w_parent = w_group[group_of_series]
            if config.has_m and config.level == "pooled":
                # a centred level is already a named free variable
                m_val = _spread("m_industry", m_all, pr.tau_m_industry, "industry", n_groups,
                                groups_vary, c_m and groups_vary)  # fmt: skip
                m_ind = (
                    m_val
                    if "m_industry" in model.named_vars
                    else pm.Deterministic("m_industry", m_val, dims="industry")
                )
                m_parent, m_vary = m_ind[ind_of_series], series_vary
            elif config.has_m:
                m_parent, m_vary = m_all * pt.ones(n_series), n_series > 1
        if joint and series_vary and m_vary:
            growth = _mean_growth_pt(dlogq, dt, mask, series_idx, n_series)
            w_val, m_val = _joint_level("series", w_parent, m_parent, growth,
                                        pr.tau_w_series, pr.tau_m_series, c_m)  # fmt: skip
            w_ser = pm.Deterministic("w_series", w_val, dims="series")
            m_ser = pm.Deterministic("m_series", m_val, dims="series")
        else:
            if config.has_w:
                w_ser = pm.Deterministic(
                    "w_series",
                    _spread("w_series", w_parent, pr.tau_w_series, "series", n_series,
                            series_vary),
                    dims="series",
                )  # fmt: skip
            if config.has_m:
                m_ser = pm.Deterministic(
                    "m_series",
                    _spread("m_series", m_parent, pr.tau_m_series, "series", n_series, m_vary),
                    dims="series",
                )
        if config.has_w:
            mu = mu - w_ser[series_idx] * x
        if config.has_m:
            mu = mu - m_ser[series_idx] * dt

        log_sigma_all = pm.Normal("log_sigma_all", pr.log_sigma_mu, pr.log_sigma_sd)
        if n_series == 1:
            log_sig = pm.Deterministic(
                "log_sigma_series", log_sigma_all * pt.ones(1), dims="series"
            )
        elif centred_sigma(config, n_series):
            tau_sig = pm.HalfNormal("tau_log_sigma", pr.tau_log_sigma)
            log_sig = pm.Normal("log_sigma_series", log_sigma_all, tau_sig, dims="series")
        else:
            log_sig = pm.Deterministic(
                "log_sigma_series",
                _spread("log_sigma", log_sigma_all, pr.tau_log_sigma, "series", n_series, True),
                dims="series",
            )
        sigma = pm.Deterministic("sigma_series", pt.exp(log_sig), dims="series")
        pm.Deterministic("sigma_all", pt.exp(log_sigma_all))
        scale = sigma[series_idx] * pt.sqrt(dt)
        nu = pm.Gamma("nu", pr.nu_alpha, pr.nu_beta) if config.noise == "student_t" else None

        r = dlogc - mu
        if config.ma1:
            rho = pm.TruncatedNormal("rho", pr.rho_mu, pr.rho_sd, lower=-0.95, upper=0.95)
            # pre-sample shock: Normal even under Student-t innovations (a heavy-tailed e0 gives
            # a second mode, "a huge e0 explains the first point's outlier", that chains can
            # get stuck in); exact for normal noise, a light-tailed start for Student-t
            z0 = pm.Normal("z_e0", 0.0, 1.0, dims="series")
            e0 = sigma * z0
            e = ma1_filter(r, -rho, e0[series_idx], pos)
        else:
            e = r
        if nu is None:
            logp = -0.5 * pt.square(e / scale) - pt.log(scale) - 0.5 * np.log(2 * np.pi)
        else:
            # Student-t log density with its normalising constant computed once (scalar nu)
            const = pt.gammaln((nu + 1.0) / 2.0) - pt.gammaln(nu / 2.0) - 0.5 * pt.log(np.pi * nu)
            logp = const - pt.log(scale) - (nu + 1.0) / 2.0 * pt.log1p(pt.square(e / scale) / nu)
        pm.Potential("loglik", pt.sum(mask * logp))
    return model


def create_wright_model(panel: Panel, priors: LearningPriors | None = None, **kw: Any) -> pm.Model:
    """Wright's law ``dlogc = -w dlogQ + noise`` (options: ``noise``, ``ma1``)."""
    return create_learning_model(panel, _cfg("wright", priors, kw))


def create_time_trend_model(
    panel: Panel, priors: LearningPriors | None = None, **kw: Any
) -> pm.Model:
    """Time trend (Moore) ``dlogc = -m dt + noise`` (options: ``noise``, ``ma1``)."""
    return create_learning_model(panel, _cfg("time", priors, kw))


def create_experience_time_model(
    panel: Panel, priors: LearningPriors | None = None, **kw: Any
) -> pm.Model:
    """Experience and time ``dlogc = -w dlogQ - m dt + noise`` (w and m nearly collinear;
    sampled as drift and w given drift, see the module docstring)."""
    return create_learning_model(panel, _cfg("both", priors, kw))


def create_nation_model(panel: Panel, priors: LearningPriors | None = None, **kw: Any) -> pm.Model:
    """National exponents with spillover share lambda (nation panels; ``trend`` wright/both)."""
    kw.setdefault("trend", "wright")
    return create_learning_model(panel, _cfg(kw.pop("trend"), priors, {**kw, "level": "nation"}))


def _cfg(trend: str, priors: LearningPriors | None, kw: Mapping[str, Any]) -> LearningConfig:
    return LearningConfig(trend=trend, priors=priors or LearningPriors(), **kw)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- post-processing


Draws = xr.DataTree | xr.Dataset


def _post(dt: Draws) -> xr.Dataset:
    return dt.posterior.to_dataset() if isinstance(dt, xr.DataTree) else dt


def _stacked(dt: Draws, name: str) -> np.ndarray:
    """Posterior draws of ``name`` as an array with (chain*draw) first."""
    da = _post(dt)[name]
    return da.stack(sample=("chain", "draw")).transpose("sample", ...).values


def add_deterministics(
    posterior: xr.Dataset, config: LearningConfig, panel_data: Mapping[str, np.ndarray]
) -> xr.Dataset:
    """Add the model's deterministic quantities to draws of its free parameters (NumPy).

    Mirrors the ``pm.Deterministic`` definitions of :func:`create_learning_model` (fits store
    only free parameters, which keeps nutpie's compile short): ``w_industry``/``w_nation``,
    ``w_series``, ``m_industry``, ``m_series``, ``sigma_series``, ``sigma_all``,
    ``lambda_nation``, ``lambda_all``.
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


def _obs_parts(
    dt: Draws, panel_data: Mapping[str, np.ndarray], config: LearningConfig
) -> dict[str, np.ndarray]:
    """Per draw and obs: mean mu, innovation scale, innovations e, and rho*e[t-1]."""
    s_idx = panel_data["series_idx"]
    dlogc, dlogq, dtv, pos = (
        panel_data["dlogc"],
        panel_data["dlogq"],
        panel_data["dt"],
        panel_data["pos"],
    )
    mu = np.zeros((_stacked(dt, "sigma_all").shape[0], dlogc.size))
    if config.level == "nation":
        lam = _stacked(dt, "lambda_nation")[:, panel_data["nation_of_series"][s_idx]]
        x = lam * dlogq + (1 - lam) * panel_data["dlogq_world"]
    else:
        x = dlogq
    if config.has_w:
        mu = mu - _stacked(dt, "w_series")[:, s_idx] * x
    if config.has_m:
        mu = mu - _stacked(dt, "m_series")[:, s_idx] * dtv
    sigma = _stacked(dt, "sigma_series")
    scale = sigma[:, s_idx] * np.sqrt(dtv)
    r = dlogc - mu
    if config.ma1:
        rho = _stacked(dt, "rho")[:, None]
        e0 = (sigma * _stacked(dt, "z_e0"))[:, s_idx]
        e = ma1_innovations(r, rho, pos, e0)
        carry = r - e  # rho * e[t-1]
    else:
        e = r
        carry = np.zeros_like(r)
    return {"mu": mu, "scale": scale, "e": e, "carry": carry}


def _logpdf(e: np.ndarray, scale: np.ndarray, nu: np.ndarray | None) -> np.ndarray:
    if nu is None:
        return -0.5 * (e / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
    v = nu[:, None]
    const = special.gammaln((v + 1) / 2) - special.gammaln(v / 2) - 0.5 * np.log(np.pi * v)
    return const - np.log(scale) - (v + 1) / 2 * np.log1p((e / scale) ** 2 / v)


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
    it equals the model's likelihood term (the ``loglik`` potential). ``parts`` (from a
    previous call's internals) avoids recomputing the innovations.
    """
    parts = parts or _obs_parts(dt, panel_data, config)
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
    """Posterior predictive draws of each difference given its observed past (chain, draw, obs)."""
    parts = parts or _obs_parts(dt, panel_data, config)
    rng = np.random.default_rng(seed)
    if config.noise == "student_t":
        nu = _stacked(dt, "nu")[:, None]
        eps = rng.standard_t(np.broadcast_to(nu, parts["scale"].shape)) * parts["scale"]
    else:
        eps = rng.standard_normal(parts["scale"].shape) * parts["scale"]
    y = parts["mu"] + parts["carry"] + eps
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


def _fit_data(panel: Panel, data: Mapping[str, np.ndarray]) -> xr.Dataset:
    s, lv = panel.series, panel.levels
    ds = xr.Dataset(
        {
            "year": ("obs", panel.obs["year"].to_numpy()),
            "dt": ("obs", data["dt"]),
            "dlogc": ("obs", data["dlogc"]),
            "dlogq": ("obs", data["dlogq"]),
            "pos": ("obs", data["pos"]),
            "series_idx": ("obs", data["series_idx"]),
            "mask": ("obs", data["mask"]),
            "series_id": ("series", s["series_id"].to_numpy().astype(str)),
            "series_technology": ("series", s["technology"].to_numpy().astype(str)),
            "series_industry": ("series", s["industry"].to_numpy().astype(str)),
            "series_nation": ("series", s["nation"].to_numpy().astype(str)),
            "series_unit": ("series", s["unit"].fill_null("").to_numpy().astype(str)),
            "series_n_points": ("series", s["n_points"].to_numpy()),
            "industry_of_series": ("series", s["industry_idx"].to_numpy().astype(np.int64)),
            "point_series": ("point", lv["series"].to_numpy().astype(str)),
            "point_year": ("point", lv["year"].to_numpy()),
            "point_log_cost": ("point", lv["log_cost"].to_numpy()),
            "point_log_q": ("point", lv["log_q"].to_numpy()),
        },
        coords={
            "obs": np.arange(panel.n_obs),
            "series": s["series"].to_numpy().astype(str),
            "industry": np.array(panel.industries, dtype=str),
            "nation": np.array(panel.nations, dtype=str),
            "point": np.arange(lv.height),
        },
    )
    if panel.has_world:
        ds["dlogq_world"] = ("obs", data["dlogq_world"])
        ds["nation_of_series"] = ("series", s["nation_idx"].to_numpy().astype(np.int64))
        ds["point_log_q_world"] = ("point", lv["log_q_world"].to_numpy())
    return ds


class LearningCurveModel:
    """A learning-curve model on one panel: default priors and sampler, compile-once fits.

    Typical use::

        lcm = LearningCurveModel(panel, LearningConfig(trend="wright"), SamplerConfig())
        dt = lcm.fit()                              # compiles on first use
        dt_h = lcm.fit(mask=panel.origin_mask(2000))  # hindcast origin, no recompilation
        table = summaries.learning_rates(dt)
    """

    def __init__(
        self,
        panel: Panel,
        config: LearningConfig | None = None,
        sampler: base.SamplerConfig | None = None,
    ) -> None:
        self.panel = panel
        self.config = config or LearningConfig()
        self.sampler = sampler or DEFAULT_SAMPLER
        self.model = create_learning_model(panel, self.config)
        self._compiled: Any = None
        self.compile_seconds = 0.0

    @property
    def code_version(self) -> str:
        """Package version + hash of the code defining the fit (this module, the panel
        builder and the MA(1) Op)."""
        import sys

        from learnrace_pipeline.lib.models import ma1_op, panel

        return base.code_version(sys.modules[__name__], panel, ma1_op)

    @property
    def model_id(self) -> str:
        return base.model_id(MODEL_TYPE, self.config, self.sampler, self.code_version)

    def data(
        self, mask: np.ndarray | None = None, panel: Panel | None = None
    ) -> dict[str, np.ndarray]:
        """The ``pm.Data`` values for a panel (default: the model's own)."""
        panel = panel or self.panel
        d = panel.data(mask)
        if self.config.level == "nation":
            d["nation_of_series"] = panel.series["nation_idx"].to_numpy().astype(np.int64)
        else:
            d.pop("dlogq_world", None)
        d.pop("technology_of_series", None)
        if self.config.level == "nation":
            d.pop("industry_of_series", None)
        return d

    def compile(self) -> Any:
        """Compile with nutpie once (cached); ``compile_seconds`` records the time taken."""
        if self._compiled is None:
            t0 = time.perf_counter()
            free = [v.name for v in self.model.free_RVs]
            self._compiled = base.compile_model(self.model, var_names=free)
            self.compile_seconds = time.perf_counter() - t0
        return self._compiled

    def check_layout(self, panel: Panel) -> None:
        """Raise ModelError unless ``panel`` can be swapped into the compiled model.

        Same number of observations, series, industries and nations (labels may differ: a
        synthetic replicate or another panel of the same shape fits, and its own labels are
        stored with the fit).
        """
        own = self.panel
        same = (
            panel.n_obs == own.n_obs
            and panel.n_series == own.n_series
            and len(panel.industries) == len(own.industries)
            and len(panel.nations) == len(own.nations)
            and panel.has_world == own.has_world
        )
        if not same:
            raise ModelError(
                f"panel layout differs from the compiled model's ({panel.n_obs} obs, "
                f"{panel.n_series} series vs {own.n_obs}, {own.n_series}): build a new model"
            )

    def fit(
        self,
        mask: np.ndarray | None = None,
        *,
        panel: Panel | None = None,
        sampler: base.SamplerConfig | None = None,
        log_likelihood: bool = True,
        predictive: bool = True,
    ) -> xr.DataTree:
        """Sample the posterior and return a provenance-stamped DataTree.

        Args:
            mask: 0/1 per difference (see :meth:`.panel.Panel.origin_mask`); masked points do
                not enter the likelihood (hindcast training windows).
            panel: another panel of the same layout (:meth:`check_layout`) to fit with the
                already compiled model; default the model's own panel.
            sampler: override the sampler config for this fit.
            log_likelihood, predictive: compute the ``log_likelihood`` and one-step
                ``posterior_predictive`` groups (NumPy, cheap; skip for speed).

        Groups: ``posterior``, ``sample_stats``, ``log_likelihood``, ``posterior_predictive``,
        ``observed_data``, ``fit_data`` and, for the nation level, ``prior`` (lambda draws).
        """
        sampler = sampler or self.sampler
        panel = panel or self.panel
        if panel is not self.panel:
            self.check_layout(panel)
        compiled = self.compile()
        compile_seconds = self.compile_seconds
        data = self.data(mask, panel)
        shared_names = {var.name for var in compiled.shared_var_keys}
        updates = {k: v for k, v in data.items() if k in shared_names}
        config = self.config

        def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
            posterior = dt.posterior.to_dataset()
            labels = panel.coords()
            posterior = posterior.assign_coords(
                {d: labels[d] for d in ("series", "industry", "nation") if d in posterior.dims}
            )
            posterior = add_deterministics(posterior, config, data)
            groups: dict[str, xr.Dataset] = {
                "posterior": posterior,
                "observed_data": xr.Dataset({"dlogc": ("obs", data["dlogc"])}),
                "fit_data": _fit_data(panel, data),
            }
            parts = _obs_parts(posterior, data, config) if log_likelihood or predictive else None
            if log_likelihood:
                groups["log_likelihood"] = pointwise_log_likelihood(posterior, data, config, parts)
            if predictive:
                groups["posterior_predictive"] = one_step_predictive(
                    posterior, data, config, seed=sampler.seed + 1, parts=parts
                )
            if config.level == "nation":
                groups["prior"] = self.prior_draws(2000, seed=sampler.seed + 2)
            return groups

        frame = panel.frame().with_columns(pl.Series("mask", data["mask"]))
        dt = base.fit(
            compiled,
            sampler,
            model_type=MODEL_TYPE,
            model_config=config,
            data=frame,
            code_version=self.code_version,
            data_updates=updates,
            postprocess=post,
        )
        dt.attrs["compile_seconds"] = float(compile_seconds)
        dt.attrs["model_name"] = config.name
        self.compile_seconds = 0.0  # later fits reuse the compiled model
        return dt

    def prior_draws(self, draws: int, seed: int) -> xr.Dataset:
        """Draws of every model parameter from the prior (PyMC forward sampling, chain dim 1)."""
        names = [v.name for v in self.model.free_RVs] + [v.name for v in self.model.deterministics]
        with warnings.catch_warnings():
            # the likelihood is a Potential (masked, MA(1)); only parameters are drawn here
            warnings.filterwarnings("ignore", message=".*Potential.*")
            warnings.filterwarnings("ignore", message=".*object mode.*truncated_normal.*")
            prior = pm.sample_prior_predictive(
                draws=draws, model=self.model, var_names=names, random_seed=seed
            )
        return prior["prior"].to_dataset()

    def prior_predictive(self, draws: int = 50, seed: int = 1) -> xr.DataTree:
        """Prior draws of the parameters and of the differences (groups prior, prior_predictive).

        The differences are simulated with :func:`simulate_dlogc` (the generative model,
        including the MA(1) pre-sample shock), dims ``(chain, draw, obs)``.
        """
        prior = self.prior_draws(draws, seed)
        data = self.data()
        params = {
            k: prior[k].stack(sample=("chain", "draw")).transpose("sample", ...).values
            for k in ("w_series", "m_series", "sigma_series", "rho", "nu", "lambda_nation")
            if k in prior
        }
        y = simulate_dlogc(params, data, self.config, np.random.default_rng(seed))
        ppc = xr.Dataset(
            {"dlogc": (("chain", "draw", "obs"), y.reshape(1, draws, -1))},
            coords={"chain": [0], "draw": np.arange(draws), "obs": np.arange(self.panel.n_obs)},
        )
        return xr.DataTree.from_dict({"prior": prior, "prior_predictive": ppc})


# ----------------------------------------------------------------------------- forecasts


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
        dt: a fit from :class:`LearningCurveModel` (uses ``fit_data`` and the posterior).
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
    parts = _obs_parts(dt, data, config)
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


def config_from_attrs(model_config_json: str) -> LearningConfig:
    """Rebuild a :class:`LearningConfig` from a fit's ``model_config`` attribute."""
    import json

    raw = json.loads(model_config_json)
    priors = LearningPriors(**raw.pop("priors"))
    return LearningConfig(priors=priors, **raw)


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


__all__ = [
    "DEFAULT_SAMPLER",
    "MODEL_TYPE",
    "LearningConfig",
    "LearningCurveModel",
    "LearningPriors",
    "config_from_attrs",
    "create_experience_time_model",
    "create_learning_model",
    "create_nation_model",
    "create_time_trend_model",
    "create_wright_model",
    "drift_names",
    "forecast_log_cost",
    "lambda_prior_posterior",
    "learning_rate",
    "ma1_innovations",
    "mean_growth",
    "one_step_predictive",
    "pointwise_log_likelihood",
    "population_priors",
    "simulate_dlogc",
]
