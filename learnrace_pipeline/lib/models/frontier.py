"""The research frontier of AI training compute against time, per nation (Epoch AI tables).

Selection (documented choice): **record-setters**. For each nation, the models whose training
compute strictly exceeds that of every earlier model of that nation (whole history) are records;
those published from ``start`` (default 2015-01-01) are the frontier observations. A model lists the countries of
its organisations; it counts for each of them (Hong Kong is folded into China by default;
the ``MULTI`` "Multinational" tag is not a nation and is dropped). Record-setters are preferred to
top-k per year because before 2020 China has one to four models with compute per year, so its
top-k picks models far from any frontier (e.g. 1.3e15 FLOP in 2017) and the slope is inflated.
``selection="top_k"`` (top ``k`` per calendar year) is available for sensitivity.

Data checks, selection and simulation: :mod:`.frontier_data`.

Model (dims ``nation``, ``obs``)::

    y_i = log10(training compute, FLOP) of record i of nation n[i], at t_i (decimal year - 2020)
    y_i ~ Normal(alpha_n + beta_n * t_i, sqrt(sigma^2 + tau_spec^2 * spec_i + tau_unr^2 * unr_i))
    alpha_n ~ Normal(alpha_mu, 1.5);  beta_n ~ Normal(beta_mu, 0.2)  (OOM per year)

``spec_i`` flags Epoch's ``Confidence == "Speculative"`` (estimate within an order of magnitude)
and ``unr_i`` an unrated value (blank, ``Unknown``, ``Unverified``); both get an extra, learned
noise term, which widens and down-weights them. Record-setters are serially dependent and
selected on the outcome, so the intervals describe the fitted trend of records, not a
sampling-theory frontier.

Derived quantities: doubling time ``12 * log10(2) / beta_n`` months; frontier at a date
``alpha_n + beta_n * t`` (log10 FLOP); gap in years from nation n to the leader at a date:
``(F_leader - F_n) / beta_n`` (years nation n needs, at its own rate, to reach the leader's
level), where the leader is the nation holding the largest training run to date (or a nation
the caller names).
"""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import pymc as pm
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, compile_model, fit
from learnrace_pipeline.lib.models.frontier_data import (
    SPECULATIVE,
    T0,
    FrontierConfig,
    FrontierData,
    FrontierPriors,
    decimal_year,
    prepare_frontier_data,
    select_frontier,
    simulate_frontier_data,
    to_decimal_year,
)
from learnrace_pipeline.lib.models.groups import constant_data, observed_data, quantile_columns

__all__ = [
    "FRONTIER_SAMPLER",
    "MODEL_TYPE",
    "SPECULATIVE",
    "T0",
    "FrontierConfig",
    "FrontierData",
    "FrontierPriors",
    "build_frontier_model",
    "compile_frontier",
    "decimal_year",
    "fit_frontier",
    "fit_frontier_data",
    "frontier_at",
    "frontier_curve",
    "frontier_log_likelihood",
    "frontier_table",
    "gap_years",
    "leader_probability",
    "prepare_frontier_data",
    "record_leader",
    "select_frontier",
    "simulate_frontier_data",
    "to_decimal_year",
]

LOG10_2 = float(np.log10(2.0))


def build_frontier_model(data: FrontierData, priors: FrontierPriors | None = None) -> pm.Model:
    """The frontier PyMC model (module docstring): nation trends of log10 compute."""
    p = priors or FrontierPriors()
    pts = data.points
    nidx = {n: i for i, n in enumerate(data.nations)}
    n_of = np.array([nidx[n] for n in pts["nation"]], dtype=np.int64)
    cls = pts["confidence_class"].to_numpy()
    coords = {"nation": data.nations, "obs": np.arange(pts.height)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", pts["t"].to_numpy() - T0, dims="obs")
        pm.Data("obs_nation", n_of, dims="obs")
        spec = pm.Data("speculative", (cls == "speculative").astype(float), dims="obs")
        unr = pm.Data("unrated", (cls == "unrated").astype(float), dims="obs")
        alpha_mu = pm.Normal("alpha_mu", *p.alpha_mu)
        alpha = pm.Normal("alpha", alpha_mu, p.alpha_nation_sd, dims="nation")
        beta_mu = pm.Normal("beta_mu", *p.beta_mu)
        # fixed between-nation scale: a handful of nations cannot identify it (a learned scale
        # gave a funnel and divergences); centred, as each nation has several points
        beta = pm.Normal("beta", beta_mu, p.beta_nation_sd, dims="nation")
        sigma = pm.HalfNormal("sigma", p.sigma)
        tau_s = pm.HalfNormal("tau_speculative", p.tau_speculative)
        tau_u = pm.HalfNormal("tau_unrated", p.tau_unrated)
        sd = pm.math.sqrt(sigma**2 + tau_s**2 * spec + tau_u**2 * unr)
        pm.Deterministic("doubling_months", 12.0 * LOG10_2 / beta, dims="nation")
        pm.Normal(
            "log10_flop",
            alpha[n_of] + beta[n_of] * t,
            sd,
            observed=pts["log10_flop"].to_numpy(),
            dims="obs",
        )
    return model


MODEL_TYPE = "frontier_compute"

#: Sampler defaults for the frontier model.
FRONTIER_SAMPLER = SamplerConfig(draws=1000, tune=1000, chains=4, target_accept=0.95, seed=20240601)


def frontier_log_likelihood(dt: xr.DataTree) -> xr.Dataset:
    """Pointwise normal log-likelihood of the frontier points (chain, draw, obs), in NumPy."""
    post = dt["posterior"].to_dataset()
    const = dt["constant_data"].to_dataset()
    y = dt["observed_data"]["log10_flop"]
    n = const["obs_nation"]
    mu = post["alpha"].isel(nation=n) + post["beta"].isel(nation=n) * const["t"]
    var = (
        post["sigma"] ** 2
        + post["tau_speculative"] ** 2 * const["speculative"]
        + post["tau_unrated"] ** 2 * const["unrated"]
    )
    ll = -0.5 * (np.log(2 * np.pi * var) + (y - mu) ** 2 / var)
    return xr.Dataset({"log10_flop": ll.transpose("chain", "draw", "obs")})


def fit_frontier(
    ai_models: pl.DataFrame,
    config: FrontierConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    compiled=None,
) -> xr.DataTree:
    """Fit the frontier model to an ``ai_models`` table; return a provenance-stamped tree.

    Groups: posterior, sample_stats, constant_data, observed_data, log_likelihood, and
    ``fit_data`` (the selected points: nation, model, date, confidence class per ``obs``).
    Root attrs add ``selection`` and ``start``.
    """
    cfg = config or FrontierConfig()
    data = prepare_frontier_data(ai_models, cfg)
    cols = ["model", "publication_date", "training_compute_flop", "confidence", "dataset"]
    frame = ai_models.select([*cols, pl.col("nations").list.join(",")]).sort(cols, nulls_last=True)
    return fit_frontier_data(data, cfg, sampler, frame=frame, compiled=compiled)


def fit_frontier_data(
    data: FrontierData,
    config: FrontierConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    frame: pl.DataFrame | None = None,
    compiled=None,
) -> xr.DataTree:
    """Fit the frontier model to already selected points (``frame`` is hashed as the data
    version; default: the points themselves)."""
    cfg = config or FrontierConfig()
    model = build_frontier_model(data, cfg.priors)
    const, observed = constant_data(model), observed_data(model)
    pts = data.points
    fit_data = xr.Dataset(
        {
            "nation": ("obs", pts["nation"].to_numpy().astype(str)),
            "model": ("obs", pts["model"].to_numpy().astype(str)),
            "publication_date": (
                "obs",
                pts["publication_date"].cast(pl.String).to_numpy().astype(str),
            ),
            "confidence_class": ("obs", pts["confidence_class"].to_numpy().astype(str)),
        },
        coords={"obs": np.arange(pts.height)},
    )

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        tmp = dt.copy()
        tmp["constant_data"] = xr.DataTree(dataset=const)
        tmp["observed_data"] = xr.DataTree(dataset=observed)
        return {
            "constant_data": const,
            "observed_data": observed,
            "log_likelihood": frontier_log_likelihood(tmp),
            "fit_data": fit_data,
        }

    dt = fit(
        compiled if compiled is not None else model,
        sampler or FRONTIER_SAMPLER,
        model_type=MODEL_TYPE,
        model_config=cfg,
        data=frame if frame is not None else pts,
        code_version=code_version(__file__),
        postprocess=post,
    )
    dt.attrs["selection"] = cfg.selection
    dt.attrs["start"] = cfg.start
    return dt


def compile_frontier(data: FrontierData, priors: FrontierPriors | None = None):
    """Compile the frontier model once (nutpie, numba) for repeated fits on the same data."""
    return compile_model(build_frontier_model(data, priors))


# --------------------------------------------------------------------------------------------
# posterior summaries
# --------------------------------------------------------------------------------------------


def frontier_curve(dt: xr.DataTree, when: dt_.date | float) -> xr.DataArray:
    """Posterior log10 FLOP of each nation's fitted frontier at a date (chain, draw, nation)."""
    t = to_decimal_year(when) if isinstance(when, dt_.date) else float(when)
    post = dt["posterior"].to_dataset()
    return post["alpha"] + post["beta"] * (t - T0)


def record_leader(dt: xr.DataTree, when: dt_.date) -> str | None:
    """The nation holding the largest selected training run published up to ``when`` (ties: the
    nation with more fitted points, then the higher posterior-median frontier); None if no
    nation has a point by then."""
    fd = dt["fit_data"].to_dataset()
    y = dt["observed_data"]["log10_flop"].values
    dates = np.array([dt_.date.fromisoformat(d) for d in fd["publication_date"].values])
    nations = fd["nation"].values
    med = frontier_curve(dt, when).median(("chain", "draw"))
    best: tuple | None = None
    for n in med["nation"].values:
        m = (nations == n) & (dates <= when)
        if m.any():
            key = (round(float(y[m].max()), 6), int((nations == n).sum()), float(med.sel(nation=n)))
            if best is None or key > best[0]:
                best = (key, str(n))
    return None if best is None else best[1]


def gap_years(
    dt: xr.DataTree, when: dt_.date | float, leader: str | None = None
) -> tuple[str, xr.DataArray]:
    """The leader at a date and each nation's gap to it in years (chain, draw, nation).

    Gap of nation n = (F_leader - F_n) / beta_n with F the fitted frontier at ``when``: the
    years n needs at its own posterior rate to reach the leader's level (0 for the leader,
    negative in draws where n is ahead). The leader is ``leader`` if given, else the holder of
    the largest training run to date (:func:`record_leader`), else the nation with the highest
    posterior-median frontier. The empirical record holder is the default because the fitted
    lines of nations with five or six points extrapolate steeply and would often "lead".
    """
    f = frontier_curve(dt, when)
    if leader is None and isinstance(when, dt_.date):
        leader = record_leader(dt, when)
    if leader is None:
        med = f.median(("chain", "draw"))
        leader = str(med["nation"].values[int(med.argmax("nation"))])
    elif leader not in f["nation"].values:
        raise ModelError(f"leader {leader!r} is not a fitted nation: {list(f['nation'].values)}")
    return leader, (f.sel(nation=leader) - f) / dt["posterior"]["beta"]


def leader_probability(dt: xr.DataTree, when: dt_.date | float) -> xr.DataArray:
    """Posterior probability that each nation has the highest fitted frontier at ``when``."""
    f = frontier_curve(dt, when)
    top = f.argmax("nation")
    return xr.concat(
        [(top == i).mean(("chain", "draw")) for i in range(f.sizes["nation"])], dim="nation"
    ).assign_coords(nation=f["nation"])


def frontier_at(dt: xr.DataTree, as_of: dt_.date, *, leader: str | None = None) -> pl.DataFrame:
    """Per nation at ``as_of``: quantiles of the fitted frontier (log10 FLOP), the doubling time
    (months) and the gap to the leader (years), plus the leader and the observed record.

    ``leader`` fixes the reference nation (default: the holder of the largest training run to
    date, see :func:`gap_years`). Columns: nation, as_of, leader, p_leader (posterior probability that the nation's fitted
    frontier is the highest), log10_flop_q05..q95, doubling_months_q05..q95, gap_years_q05..q95,
    record_log10_flop (largest selected point up to ``as_of``; null if none), record_model,
    n_points (selected points of the nation in the fit).
    """
    leader, gap = gap_years(dt, as_of, leader)
    f = frontier_curve(dt, as_of)
    post = dt["posterior"].to_dataset()
    nations = [str(n) for n in post["nation"].values]
    rows: dict = {
        "nation": nations,
        "as_of": [as_of] * len(nations),
        "leader": [leader] * len(nations),
        "p_leader": leader_probability(dt, as_of).sel(nation=nations).values.astype(float),
    }
    rows |= quantile_columns(f.transpose("chain", "draw", "nation"), "log10_flop")
    rows |= quantile_columns(
        post["doubling_months"].transpose("chain", "draw", "nation"), "doubling_months"
    )
    rows |= quantile_columns(gap.transpose("chain", "draw", "nation"), "gap_years")
    fd = dt["fit_data"].to_dataset()
    y = dt["observed_data"]["log10_flop"].values
    dates = np.array([dt_.date.fromisoformat(d) for d in fd["publication_date"].values])
    rec, rec_model, npts = [], [], []
    for n in nations:
        m = (fd["nation"].values == n) & (dates <= as_of)
        npts.append(int((fd["nation"].values == n).sum()))
        if m.any():
            k = np.flatnonzero(m)[np.argmax(y[m])]
            rec.append(float(y[k]))
            rec_model.append(str(fd["model"].values[k]))
        else:
            rec.append(None)
            rec_model.append(None)
    out = pl.DataFrame(rows).with_columns(
        pl.Series("record_log10_flop", rec, dtype=pl.Float64),
        pl.Series("record_model", rec_model, dtype=pl.String),
        pl.Series("n_points", npts, dtype=pl.Int32),
    )
    return out.with_columns(pl.col("as_of").cast(pl.Date))


def frontier_table(dt: xr.DataTree, as_of: dt_.date | None = None) -> pl.DataFrame:
    """Summary per nation: doubling time (months), current frontier (log10 FLOP) and gap to the
    leader (years) at ``as_of`` (default: the date of the last fitted point)."""
    if as_of is None:
        as_of = max(dt_.date.fromisoformat(d) for d in dt["fit_data"]["publication_date"].values)
    return frontier_at(dt, as_of)
