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
series start, so no series leaks into the next; that loop and the noise density are one fused
PyTensor Op with a numba kernel that returns the gradients too (:mod:`.loglik_op`).
:func:`.numpy_mirror.ma1_innovations` runs the same recursion over every posterior draw (a
cached numba loop); it gives pointwise log-likelihoods, predictive draws and forecasts from the
posterior without compiling anything per fit.

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
``w_s`` and ``m_s`` slide along that ridge, which independent offsets (above) sample poorly
(see docs/decisions/2026-11-28-experience-time-drift-parameterisation.md). So every level below
the top (industry, series) samples, instead of the two offsets, ::

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
leaves the drift and ``w`` given the drift nearly uncorrelated in the posterior. ``w_industry``,
``m_industry``, ``w_series``, ``m_series`` keep their names and meaning as deterministics;
``tau_*`` are unchanged. The nation level
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
:class:`.fit.LearningCurveModel` compiles once and refits with new values of the same
shapes (e.g. a hindcast origin's ``mask``) via nutpie's ``with_data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from learnrace_pipeline.lib.errors import ModelError

# the settings live in .config; the names callers import from here are re-exported
from learnrace_pipeline.lib.models.learning.config import (
    CENTRED_SIGMA_MIN_SERIES as CENTRED_SIGMA_MIN_SERIES,
)
from learnrace_pipeline.lib.models.learning.config import LearningConfig as LearningConfig
from learnrace_pipeline.lib.models.learning.config import LearningPriors as LearningPriors
from learnrace_pipeline.lib.models.learning.config import Level as Level
from learnrace_pipeline.lib.models.learning.config import Noise as Noise
from learnrace_pipeline.lib.models.learning.config import Trend as Trend
from learnrace_pipeline.lib.models.learning.config import centred_sigma as centred_sigma
from learnrace_pipeline.lib.models.learning.config import centred_trend as centred_trend
from learnrace_pipeline.lib.models.learning.config import config_from_attrs as config_from_attrs
from learnrace_pipeline.lib.models.learning.config import learning_rate as learning_rate
from learnrace_pipeline.lib.models.learning.loglik_op import learning_loglik
from learnrace_pipeline.lib.models.learning.panel import Panel

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

    Data enter through ``pm.Data`` containers named as in
    :meth:`.fit.LearningCurveModel.data`, so a compiled model can be refitted on any panel
    of the same layout.
    """
    if config.level == "nation" and not panel.has_world:
        raise ModelError("the nation level needs a nation panel (build_nation_panel)")
    if config.has_w and not panel.has_experience:
        raise ModelError(f"trend {config.trend!r} needs experience; this panel has none")
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
        nu = pm.Gamma("nu", pr.nu_alpha, pr.nu_beta) if config.noise == "student_t" else None

        if config.ma1:
            rho = pm.TruncatedNormal("rho", pr.rho_mu, pr.rho_sd, lower=-0.95, upper=0.95)
            # pre-sample shock: Normal even under Student-t innovations (a heavy-tailed e0 gives
            # a second mode, "a huge e0 explains the first point's outlier", that chains can
            # get stuck in); exact for normal noise, a light-tailed start for Student-t
            z0 = pm.Normal("z_e0", 0.0, 1.0, dims="series")
            a, e0 = -rho, sigma * z0
        else:
            a, e0 = pt.constant(0.0), pt.zeros(n_series)
        # the per-point density (MA(1) filter, scale sigma * sqrt(dt), Normal or Student-t
        # kernel) is one fused numba Op (.loglik_op); its constants are added once per point
        if nu is None:
            const = -0.5 * np.log(2 * np.pi)
        else:
            const = pt.gammaln((nu + 1.0) / 2.0) - pt.gammaln(nu / 2.0) - 0.5 * pt.log(np.pi * nu)
        kernel = learning_loglik(config.noise, dlogc, mu, dt, pos, series_idx, mask, sigma, a, e0,
                                 pt.constant(1.0) if nu is None else nu)  # fmt: skip
        pm.Potential("loglik", kernel + const * pt.sum(mask))
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
