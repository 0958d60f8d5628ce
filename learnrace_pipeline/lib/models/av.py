"""Autonomous-vehicle capability against experience (CA DMV disengagement reports).

Measure: miles per disengagement (MPD) on safety-driver permits, against cumulative autonomous
miles (safety-driver + driverless, counted from each company's first report, through the end of
the reporting year, inclusive).

Model (one PyMC graph; dims ``company``, ``nation``, ``obs``, ``mobs``, ``bridge``, ``year``,
``step``):

- Capability curve, per company ``c`` with nation of headquarters ``n[c]``::

      x = ln(cumulative miles) - ln(1e5)
      power:       ln MPD = a_c + b_c * x
      saturating:  1/MPD  = floor_c + exp(-(a_c + b_c * x))   (irreducible disengagement rate)

  ``a_c, b_c`` are drawn around nation effects (``a_nation``, ``b_nation``), which are drawn
  around global means with fixed prior scales (a handful of nations cannot identify a
  between-nation variance); company scales are learned. The saturating form adds a
  per-company floor in disengagements per mile, ``floor_c = exp(-ceiling_c)``, so MPD can never
  exceed ``exp(ceiling_c)``; the company ceilings have a fixed prior scale around their mean.
- Likelihood: disengagements ~ NegativeBinomial(mu = safety-driver miles / MPD, alpha) (or Poisson),
  i.e. a count model with exposure; a company-year with few miles has a small expected count and
  weighs little. Years with zero disengagements are kept (they are information, not infinities).
- Miles submodel: ln(annual total miles) is a random walk with drift per company,
  ``ln m[t2] - ln m[t1] ~ StudentT(4, g_c * (t2 - t1), sigma_miles * sqrt(t2 - t1))`` over
  consecutive reported years, drifts pooled over companies. It does two jobs: it imputes the
  missing reporting year 2020 and it projects miles forward for :func:`av_mpd_forecast`.
- The missing RY2020: for every company with reports both before and after 2020 ("bridging"
  companies), ln RY2020 annual miles are a latent node of that random walk, pinned down by the
  steps from RY2019 (or the last earlier year) and to RY2021 (or the next later year).
  Cumulative miles from 2020 on include it, so its uncertainty flows into every later ``x``.
  Companies first seen after 2020 start their cumulative count at their first report (an
  assumption: their unreported RY2020 miles, if any, are not known).

Partial reporting years (``partial_year``) are excluded from both likelihoods but their miles
count towards the cumulative total. Data preparation: :mod:`.av_data`; posterior summaries
(capability table, MPD forecast): :mod:`.av_posterior`.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import asdict, dataclass, field
from typing import Literal

import arviz as az
import numpy as np
import polars as pl
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import stats

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.av_data import (
    MISSING_YEAR,
    X0_MILES,
    AvData,
    prepare_av_data,
)
from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, compile_model, fit
from learnrace_pipeline.lib.models.diagnostics import DiagnosticsResult, check_fit
from learnrace_pipeline.lib.models.groups import check_var_names, constant_data, observed_data

Form = Literal["power", "saturating"]
Likelihood = Literal["negbin", "poisson"]


@dataclass(frozen=True)
class AvPriors:
    """Prior scales of the AV capability model (natural-log units unless stated)."""

    a_mu: tuple[float, float] = (float(np.log(1e3)), 2.5)  # ln MPD at 1e5 cumulative miles
    a_nation_sd: float = 1.0  # fixed scale of nation deviations from a_mu
    a_company_sd: float = 1.5
    b_mu: tuple[float, float] = (0.7, 0.5)  # power-law slope of ln MPD on ln cumulative miles
    b_nation_sd: float = 0.3  # fixed scale of nation deviations from b_mu
    b_company_sd: float = 0.5
    ceiling_mu: tuple[float, float] = (float(np.log(1e5)), 1.5)  # ln of the MPD ceiling
    ceiling_company_sd: float = 1.0  # fixed scale of company ceilings around ceiling_mu
    overdispersion: float = 1.0  # half-normal scale of 1/sqrt(alpha): CV of the rate noise
    g_mu: tuple[float, float] = (0.3, 0.5)  # drift of ln annual miles per year
    g_sd: float = 0.5
    sigma_miles: float = 1.0  # half-normal scale of the sd of one year's ln-miles step

    def to_dict(self) -> dict:
        return asdict(self)


def _nc(name: str, mu, sd, dims: str, z_dims: str | None = None):
    """Non-centred normal: mu + sd * z, registered as a deterministic with ``dims``."""
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=z_dims or dims)
    return pm.Deterministic(name, mu + sd * z, dims=dims)


def _miles_steps(data: AvData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive (node_from, node_to, company, years apart) of the miles random walk.

    Nodes are the observed ln annual miles (``miles_obs`` rows, in order) followed by one latent
    RY2020 node per bridging company.
    """
    ci = data.company_index
    n_obs = data.miles_obs.height
    nodes: dict[int, list[tuple[int, int]]] = {}
    for k, (c, y) in enumerate(data.miles_obs.select("company", "report_year").iter_rows()):
        nodes.setdefault(ci[c], []).append((int(y), k))
    for j, c in enumerate(data.bridge):
        nodes[ci[c]].append((MISSING_YEAR, n_obs + j))
    src, dst, comp, gap = [], [], [], []
    for c, seq in nodes.items():
        seq.sort()
        for (y1, k1), (y2, k2) in itertools.pairwise(seq):
            src.append(k1), dst.append(k2), comp.append(c), gap.append(y2 - y1)
    return (np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
            np.array(comp, dtype=np.int64), np.array(gap, dtype=float))  # fmt: skip


def _company_arrays(data: AvData) -> dict[str, np.ndarray]:
    """Per-company constants: last fitted year, cumulative miles then, last miles node."""
    obs, mo = data.obs, data.miles_obs
    last_year = np.array(
        [int(obs.filter(pl.col("company") == c)["report_year"].max()) for c in data.companies]
    )
    mlast = np.array(
        [int(mo.filter(pl.col("company") == c)["report_year"].max()) for c in data.companies]
    )
    mlast_val = np.array(
        [
            float(
                mo.filter((pl.col("company") == c) & (pl.col("report_year") == y))["total_miles"][0]
            )
            for c, y in zip(data.companies, mlast, strict=True)
        ]
    )
    col = [data.years.index(int(y)) for y in last_year]
    xbar = np.array(
        [
            float(np.mean(np.log(obs.filter(pl.col("company") == c)["cum_obs"].to_numpy())))
            for c in data.companies
        ]
    ) - np.log(X0_MILES)
    return {
        "company_last_year": last_year,
        "company_cum_last": data.cum_grid[np.arange(len(data.companies)), col],
        "company_miles_last_year": mlast,
        "company_log_miles_last": np.log(mlast_val),
        "company_xbar": xbar,
    }


def build_av_model(
    data: AvData,
    *,
    form: Form = "power",
    likelihood: Likelihood = "negbin",
    priors: AvPriors | None = None,
) -> pm.Model:
    """The AV capability-vs-experience PyMC model (see module docstring for the equations)."""
    if form not in ("power", "saturating"):
        raise ModelError(f"unknown form {form!r}: use 'power' or 'saturating'")
    if likelihood not in ("negbin", "poisson"):
        raise ModelError(f"unknown likelihood {likelihood!r}: use 'negbin' or 'poisson'")
    p = priors or AvPriors()
    ci = data.company_index
    obs = data.obs
    n_c = len(data.companies)
    o_comp = np.array([ci[c] for c in obs["company"]], dtype=np.int64)
    o_year = obs["report_year"].to_numpy()
    bridge_idx = np.array([ci[c] for c in data.bridge], dtype=np.int64)
    # position of each company in the bridge vector (len(bridge) = "no latent")
    bpos = np.full(n_c, len(data.bridge), dtype=np.int64)
    bpos[bridge_idx] = np.arange(len(data.bridge))
    src, dst, s_comp, s_gap = _miles_steps(data)
    arrays = _company_arrays(data)
    coords = {
        "company": data.companies,
        "nation": data.nations,
        "obs": np.arange(obs.height),
        "mobs": np.arange(data.miles_obs.height),
        "bridge": data.bridge,
        "year": data.years,
        "step": np.arange(len(src)),
    }
    with pm.Model(coords=coords) as model:
        safety_miles = pm.Data("safety_miles", obs["safety_miles"].to_numpy(), dims="obs")
        cum_obs = pm.Data("cum_obs", obs["cum_obs"].to_numpy(), dims="obs")
        pm.Data("obs_company", o_comp, dims="obs")
        pm.Data("obs_year", o_year, dims="obs")
        pm.Data("company_nation", data.company_nation, dims="company")
        pm.Data("company_nation_certain", data.nation_certain.astype(np.int64), dims="company")
        for name, arr in arrays.items():
            pm.Data(name, arr, dims="company")
        pm.Data("company_bridge", (bpos < len(data.bridge)).astype(np.int64), dims="company")
        pm.Data("cum_grid", data.cum_grid, dims=("company", "year"))
        log_miles = pm.Data(
            "log_miles", np.log(data.miles_obs["total_miles"].to_numpy()), dims="mobs"
        )

        # --- miles submodel: random walk with drift on ln annual miles; latent RY2020 ---------
        g_mu = pm.Normal("g_mu", *p.g_mu)
        g_sd = pm.HalfNormal("g_sd", p.g_sd)
        g = _nc("g", g_mu, g_sd, "company")  # drift of ln annual miles per year (noisy steps)
        s = pm.HalfNormal("sigma_miles", p.sigma_miles)  # sd of one year's step
        if len(data.bridge):
            # flat-ish start; the two random-walk steps around 2020 pin it down
            log_m20 = pm.Normal("log_miles_2020", float(np.log(1e4)), 5.0, dims="bridge")
            m20 = pm.Deterministic("miles_2020", pt.exp(log_m20), dims="bridge")
            nodes = pt.concatenate([log_miles, log_m20])
            m20_pad = pt.concatenate([m20, pt.zeros((1,))])
        else:
            nodes = log_miles
            m20_pad = pt.zeros((1,))
        step = nodes[dst] - nodes[src]
        pm.Potential(
            "miles_steps",
            pm.logp(
                pm.StudentT.dist(nu=4, mu=g[s_comp] * s_gap, sigma=s * np.sqrt(s_gap)), step
            ).sum(),
        )
        latent = m20_pad[bpos[o_comp]] * (o_year >= MISSING_YEAR)
        cum = pm.Deterministic("cum_miles", cum_obs + latent, dims="obs")
        x = pt.log(cum) - np.log(X0_MILES)

        # --- capability curve ------------------------------------------------------------------
        a_mu = pm.Normal("a_mu", *p.a_mu)
        # nation effects: fixed prior scale (a few nations cannot identify a between-nation sd);
        # centred: with a fixed scale there is no funnel, and the nation means are data-rich
        a_nat = pm.Normal("a_nation", a_mu, p.a_nation_sd, dims="nation")
        b_mu = pm.Normal("b_mu", *p.b_mu)
        b_nat = pm.Normal("b_nation", b_mu, p.b_nation_sd, dims="nation")
        b_sd = pm.HalfNormal("b_company_sd", p.b_company_sd)
        b = _nc("b", b_nat[data.company_nation], b_sd, "company")
        # a_c (ln MPD at 1e5 cumulative miles) ~ Normal(a_nation, a_sd), sampled through the
        # company's ln MPD at its own mean experience xbar_c (a_c = a_mid_c - b_c * xbar_c,
        # unit Jacobian) to remove the a-b posterior correlation.
        a_sd = pm.HalfNormal("a_company_sd", p.a_company_sd)
        xbar = arrays["company_xbar"]
        a_mid = pm.Normal("a_mid", a_nat[data.company_nation] + b * xbar, a_sd, dims="company")
        a = pm.Deterministic("a", a_mid - b * xbar, dims="company")
        log_mpd = a[o_comp] + b[o_comp] * x
        if form == "saturating":
            c_mu = pm.Normal("ceiling_mu", *p.ceiling_mu)
            # company ceilings around ceiling_mu with the fixed scale ceiling_company_sd (the
            # data barely identify them; see docs/decisions/2026-11-28-av-fixed-ceiling-scale.md)
            ceiling = _nc("log_ceiling", c_mu, p.ceiling_company_sd, "company")
            log_mpd = -pt.logaddexp(-log_mpd, -ceiling[o_comp])
        log_mpd = pm.Deterministic("log_mpd", log_mpd, dims="obs")
        mu = safety_miles * pt.exp(-log_mpd)
        if likelihood == "negbin":
            inv_sqrt_alpha = pm.HalfNormal("inv_sqrt_alpha", p.overdispersion)
            alpha = pm.Deterministic("alpha", 1.0 / pt.sqr(inv_sqrt_alpha))
            pm.NegativeBinomial(
                "disengagements",
                mu=mu,
                alpha=alpha,
                observed=obs["disengagements"].to_numpy(),
                dims="obs",
            )
        else:
            pm.Poisson(
                "disengagements", mu=mu, observed=obs["disengagements"].to_numpy(), dims="obs"
            )
    return model


MODEL_TYPE = "av_capability"

#: Per-observation deterministics left out of the convergence checks: functions of the checked
#: parameters (``cum_miles`` is constant across draws for companies without a latent RY2020).
CHECK_EXCLUDE = ("cum_miles", "log_mpd")

#: Sampler defaults for the AV model: enough draws for ESS >= 400 on every parameter.
AV_SAMPLER = SamplerConfig(draws=1000, tune=1000, chains=4, target_accept=0.95, seed=20240601)


@dataclass(frozen=True)
class AvConfig:
    """What defines an AV capability fit (hashed into the model id)."""

    form: Form = "power"
    likelihood: Likelihood = "negbin"
    min_years: int = 3
    priors: AvPriors = field(default_factory=AvPriors)


def av_log_likelihood(dt: xr.DataTree) -> xr.Dataset:
    """Pointwise log-likelihood of the disengagement counts (dims chain, draw, obs), in NumPy."""
    post = dt["posterior"].to_dataset()
    y = dt["observed_data"]["disengagements"]
    miles = dt["constant_data"]["safety_miles"]
    mu = miles * np.exp(-post["log_mpd"])
    if "alpha" in post:
        alpha = post["alpha"]
        ll = xr.apply_ufunc(
            lambda k, n, p: stats.nbinom.logpmf(k, n, p), y, alpha, alpha / (alpha + mu)
        )
    else:
        ll = xr.apply_ufunc(stats.poisson.logpmf, y, mu)
    return xr.Dataset({"disengagements": ll.transpose("chain", "draw", "obs")})


def fit_av(
    av_testing: pl.DataFrame,
    config: AvConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    compiled=None,
    data: AvData | None = None,
) -> xr.DataTree:
    """Fit the AV capability model to an ``av_testing`` table; return a provenance-stamped tree.

    Groups: ``posterior``, ``sample_stats``, ``constant_data``, ``observed_data``,
    ``log_likelihood`` (of ``disengagements``, for PSIS-LOO). Root attrs add ``form`` and
    ``likelihood``. Pass ``compiled`` (from :func:`compile_av`) to reuse a compiled model for the
    same data.
    """
    config = config or AvConfig()
    sampler = sampler or AV_SAMPLER
    data = data or prepare_av_data(av_testing, min_years=config.min_years)
    model = build_av_model(
        data, form=config.form, likelihood=config.likelihood, priors=config.priors
    )
    const, observed = constant_data(model), observed_data(model)

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        tmp = dt.copy()
        tmp["constant_data"] = xr.DataTree(dataset=const)
        tmp["observed_data"] = xr.DataTree(dataset=observed)
        return {
            "constant_data": const,
            "observed_data": observed,
            "log_likelihood": av_log_likelihood(tmp),
        }

    frame = av_testing.sort(av_testing.columns)
    dt = fit(
        compiled if compiled is not None else model,
        sampler,
        model_type=MODEL_TYPE,
        model_config=config,
        data=frame,
        code_version=code_version(__file__),
        postprocess=post,
    )
    dt.attrs["form"] = config.form
    dt.attrs["likelihood"] = config.likelihood
    return dt


def compile_av(data: AvData, config: AvConfig | None = None):
    """Compile the AV model once (nutpie, numba) for repeated fits on the same data."""
    config = config or AvConfig()
    return compile_model(
        build_av_model(data, form=config.form, likelihood=config.likelihood, priors=config.priors)
    )


def check_av_fit(dt: xr.DataTree, **kwargs) -> DiagnosticsResult:
    """The blocking convergence checks (:func:`.diagnostics.check_fit`) on every parameter."""
    return check_fit(dt, var_names=check_var_names(dt, CHECK_EXCLUDE), **kwargs)


def compare_av_forms(fits: dict[str, xr.DataTree]) -> pl.DataFrame:
    """PSIS-LOO comparison of AV fits (e.g. ``{"power": dt1, "saturating": dt2}``).

    Returns one row per fit: rank, elpd_loo, p_loo, elpd_diff, dse (s.e. of the difference),
    weight (stacking), n_high_pareto_k (k > 0.7: PSIS unreliable for those points).
    """
    with warnings.catch_warnings():
        # high Pareto k is reported per fit in n_high_pareto_k instead of as a warning
        warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")
        cmp = az.compare(fits, var_name="disengagements", round_to="none")
        loos = {name: az.loo(fit, var_name="disengagements") for name, fit in fits.items()}
    cmp = cmp.reset_index(names="model")
    out = []
    for name in cmp["model"]:
        loo = loos[name]
        r = cmp[cmp["model"] == name].iloc[0]
        out.append(
            {
                "model": str(name),
                "rank": int(r["rank"]),
                "elpd_loo": float(r["elpd"]),
                "p_loo": float(r["p"]),
                "elpd_diff": float(r["elpd_diff"]),
                "dse": float(r["dse"]),
                "weight": float(r["weight"]),
                "n_high_pareto_k": int((np.asarray(loo.pareto_k) > 0.7).sum()),
            }
        )
    return pl.DataFrame(out).sort("rank")
