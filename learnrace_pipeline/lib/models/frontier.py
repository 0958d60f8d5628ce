"""The AI training-compute frontier per nation: a record process of frontier runs around a
trend (Epoch AI models, one nation per model).

**What the frontier is.** A nation's frontier at date t is the largest training run it has done
by t, its record R_n(t) (log10 FLOP). Up to the data end T_end the record is observed, so the
model never places a nation above (or below) its own record inside the data. Beyond T_end it is
forecast by the record process below (:mod:`.frontier_posterior`).

**Model.** A modelled nation n does frontier runs as a Poisson process of rate nu_n per year;
a run at date s has log10 compute ``mu_n(s) + e``, ``mu_n(s) = alpha_n + beta_n (s - 2020)``,
e normal with the sd of its confidence class (``sigma`` for Confident and Likely values,
``sqrt(sigma^2 + tau_spec^2)`` for Speculative ones, ``sqrt(sigma^2 + tau_unr^2)`` for unrated
ones). The runs that beat the nation's record are its record setters; the others leave no trace
in the fit. Its likelihood, for the record setters y_i at t_i after the nation's entry (first
fitted record setter, conditioned on) and the record R(s) in force over its window (entry, T_end]::

    log L = sum_i [log nu_n + log Normal(y_i | mu_n(t_i), sd_i)]
            - integral nu_n * P(a run at s beats R(s)) ds
    P(a run at s beats R) = sum_c share_c * (1 - Phi((R - mu_n(s)) / sd_c))

with the confidence-class shares of all fitted record setters; the integral is a sum over the
cells of :func:`~.frontier_data.make_cells` (about a month each). The entry's value adds
``log Normal(y_entry | mu_n, sd)``. The second term is what a long spell without records says:
a nation whose trend ran far above its record and set none is pulled down (fewer or smaller runs).

Priors (dims ``nation``)::

    alpha_n ~ Normal(alpha_mu, 1.5);  alpha_mu ~ Normal(23, 2)   (log10 FLOP at 2020.0)
    beta_n = beta_mu + 0.1 z_n;  z_n ~ Normal(0, 1);  beta_mu ~ Normal(0.5, 0.3)   (OOM/year)
    sigma ~ Gamma(4, 8);  tau_spec, tau_unr ~ HalfNormal(0.5);  nu_n ~ Gamma(2, 1) (runs/year)

The slopes are pooled hard (0.1 OOM per year around the common slope): two or three record
setters cannot identify a nation's own rate, and free slopes extrapolated sparse nations far
above anything they had done. Selection of the record setters, data end, cells:
:mod:`.frontier_data`. The hindcast (:mod:`learnrace_pipeline.lib.evaluation.frontier_hindcast`)
measures how well forecasts cover what happened next.

Derived: doubling time ``12 * log10(2) / beta_n`` months.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pymc as pm
import xarray as xr

from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, fit
from learnrace_pipeline.lib.models.frontier_data import (
    CLASSES,
    T0,
    FrontierConfig,
    FrontierData,
    FrontierPriors,
    prepare_frontier_data,
)
from learnrace_pipeline.lib.models.groups import constant_data, observed_data, str_array

MODEL_TYPE = "frontier_compute"
LOG10_2 = float(np.log10(2.0))

#: Sampler defaults for the frontier model (well under a second of sampling).
FRONTIER_SAMPLER = SamplerConfig(draws=2000, tune=1000, chains=4, target_accept=0.99, seed=20240601)


def class_shares(points: pl.DataFrame) -> np.ndarray:
    """Shares of the confidence classes (rated, speculative, unrated) among record setters."""
    cls = points["confidence_class"].to_numpy()
    return np.array([(cls == c).mean() for c in CLASSES], dtype=float)


def build_frontier_model(data: FrontierData, priors: FrontierPriors | None = None) -> pm.Model:
    """The frontier PyMC model (module docstring)."""
    p = priors or FrontierPriors()
    pts, cells = data.points, data.cells
    nidx = {n: i for i, n in enumerate(data.nations)}
    n_of = np.array([nidx[n] for n in pts["nation"]], dtype=np.int64)
    c_of = np.array([nidx[n] for n in cells["nation"]], dtype=np.int64)
    cls = pts["confidence_class"].to_numpy()
    shares = class_shares(pts)
    coords = {"nation": data.nations, "obs": np.arange(pts.height), "cell": np.arange(cells.height)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", pts["t"].to_numpy() - T0, dims="obs")
        pm.Data("obs_nation", n_of, dims="obs")
        spec = pm.Data("speculative", (cls == "speculative").astype(float), dims="obs")
        unr = pm.Data("unrated", (cls == "unrated").astype(float), dims="obs")
        event = pm.Data("event", pts["event"].to_numpy().astype(float), dims="obs")
        pm.Data("cell_nation", c_of, dims="cell")
        cell_t = pm.Data("cell_t", cells["t"].to_numpy() - T0, dims="cell")
        width = pm.Data("cell_width", cells["width_years"].to_numpy(), dims="cell")
        rec = pm.Data("cell_record", cells["record"].to_numpy(), dims="cell")
        alpha_mu = pm.Normal("alpha_mu", *p.alpha_mu)
        alpha = pm.Normal("alpha", alpha_mu, p.alpha_nation_sd, dims="nation")
        beta_mu = pm.Normal("beta_mu", *p.beta_mu)
        # fixed between-nation scale: a handful of nations cannot identify it (a learned scale
        # gave a funnel and divergences); non-centred, as two or three points per nation say
        # little beyond the common slope
        beta_z = pm.Normal("beta_z", 0.0, 1.0, dims="nation")
        beta = pm.Deterministic("beta", beta_mu + p.beta_nation_sd * beta_z, dims="nation")
        # kept away from 0 (mean 0.5, 5% below 0.2): with a handful of record setters a small
        # sigma turns the record-beating probability into a step and the sampler diverges
        sigma = pm.Gamma("sigma", alpha=p.sigma[0], beta=p.sigma[1])
        tau_s = pm.HalfNormal("tau_speculative", p.tau_speculative)
        tau_u = pm.HalfNormal("tau_unrated", p.tau_unrated)
        nu = pm.Gamma("runs_per_year", alpha=p.runs[0], beta=p.runs[1], dims="nation")
        pm.Deterministic("doubling_months", 12.0 * LOG10_2 / beta, dims="nation")
        sd = pm.math.sqrt(sigma**2 + tau_s**2 * spec + tau_u**2 * unr)
        pm.Normal(
            "log10_flop",
            alpha[n_of] + beta[n_of] * t,
            sd,
            observed=pts["log10_flop"].to_numpy(),
            dims="obs",
        )
        mu_cell = alpha[c_of] + beta[c_of] * cell_t
        beat = 0.0
        for share, extra in zip(shares, (0.0, tau_s, tau_u), strict=True):
            if share > 0:
                sd_c = pm.math.sqrt(sigma**2 + extra**2)
                beat = beat + share * 0.5 * pm.math.erfc((rec - mu_cell) / (sd_c * np.sqrt(2.0)))
        pm.Potential(
            "record_process",
            pm.math.sum(event * pm.math.log(nu[n_of])) - pm.math.sum(nu[c_of] * width * beat),
        )
    return model


def record_process_term(point: dict[str, np.ndarray], data: FrontierData) -> float:
    """The record-process term of the log-likelihood (module docstring) at one parameter point
    (alpha, beta, sigma, tau_speculative, tau_unrated, runs_per_year), in NumPy."""
    from scipy.special import erfc

    nidx = {n: i for i, n in enumerate(data.nations)}
    pts, cells = data.points, data.cells
    n_of = np.array([nidx[n] for n in pts["nation"]])
    c_of = np.array([nidx[n] for n in cells["nation"]])
    nu = np.asarray(point["runs_per_year"])
    mu = point["alpha"][c_of] + point["beta"][c_of] * (cells["t"].to_numpy() - T0)
    sig = float(point["sigma"])
    beat = np.zeros(cells.height)
    for share, extra in zip(
        class_shares(pts), (0.0, point["tau_speculative"], point["tau_unrated"]), strict=True
    ):
        sd_c = np.sqrt(sig**2 + float(extra) ** 2)
        beat += share * 0.5 * erfc((cells["record"].to_numpy() - mu) / (sd_c * np.sqrt(2.0)))
    events = pts["event"].to_numpy()
    width = cells["width_years"].to_numpy()
    return float(np.sum(np.log(nu[n_of])[events]) - np.sum(nu[c_of] * width * beat))


def _data_groups(data: FrontierData) -> dict[str, xr.Dataset]:
    """``fit_data`` (the fitted record setters), ``records`` (every nation's running records up
    to T_end) and ``insufficient`` (nations with too few record setters), as datasets."""
    pts, rec, ins = data.points, data.records, data.insufficient
    fit_data = xr.Dataset(
        {
            "nation": ("obs", str_array(pts["nation"])),
            "model": ("obs", str_array(pts["model"])),
            "publication_date": ("obs", str_array(pts["publication_date"].cast(pl.String))),
            "confidence_class": ("obs", str_array(pts["confidence_class"])),
        },
        coords={"obs": np.arange(pts.height)},
    )
    records = xr.Dataset(
        {
            "nation": ("record", str_array(rec["nation"])),
            "model": ("record", str_array(rec["model"])),
            "publication_date": ("record", str_array(rec["publication_date"].cast(pl.String))),
            "log10_flop": ("record", rec["log10_flop"].to_numpy().astype(float)),
        },
        coords={"record": np.arange(rec.height)},
    )
    insufficient = xr.Dataset(
        {"n_points": ("other", ins["n_points"].to_numpy().astype(np.int64))},
        coords={"other": str_array(ins["nation"])},
    )
    return {"fit_data": fit_data, "records": records, "insufficient": insufficient}


def fit_frontier(
    ai_models: pl.DataFrame,
    config: FrontierConfig | None = None,
    sampler: SamplerConfig | None = None,
) -> xr.DataTree:
    """Fit the frontier model to an ``ai_models`` table (models published before
    ``config.end`` when it is set); return a provenance-stamped tree.

    Groups: posterior, sample_stats, constant_data, observed_data, fit_data, records,
    insufficient (see :func:`_data_groups`). Root attrs add ``selection``, ``start``,
    ``end`` (T_end, ISO date) and ``min_records``.
    """
    cfg = config or FrontierConfig()
    data = prepare_frontier_data(ai_models, cfg)
    cols = ["model", "publication_date", "training_compute_flop", "confidence", "nation"]
    frame = ai_models.filter(pl.col("publication_date") <= data.end).select(cols).sort(cols)
    return fit_frontier_data(data, cfg, sampler, frame=frame)


def fit_frontier_data(
    data: FrontierData,
    config: FrontierConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    frame: pl.DataFrame | None = None,
) -> xr.DataTree:
    """Fit the frontier model to prepared data (``frame`` is hashed as the data version;
    default: the fitted points)."""
    cfg = config or FrontierConfig()
    model = build_frontier_model(data, cfg.priors)
    const, observed = constant_data(model), observed_data(model)
    groups = _data_groups(data)

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        return {"constant_data": const, "observed_data": observed, **groups}

    dt = fit(
        model,
        sampler or FRONTIER_SAMPLER,
        model_type=MODEL_TYPE,
        model_config=cfg,
        data=frame if frame is not None else data.points,
        code_version=code_version(__file__),
        postprocess=post,
    )
    dt.attrs.update(
        {
            "selection": cfg.selection,
            "start": cfg.start,
            "end": data.end.isoformat(),
            "min_records": int(cfg.min_records),
        }
    )
    return dt
