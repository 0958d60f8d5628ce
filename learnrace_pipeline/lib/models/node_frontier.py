"""The leading process node per foundry nation: a record process of leading-edge node
introductions around a shrinking trend (chip data, one foundry nation per product).

**What the frontier is.** A nation's leading node at date t is the smallest process node of any
CPU/GPU its foundries have made by t, its record L_n(t) (log2 nm). Up to the data end T_end it
is observed; beyond T_end it is forecast by the record process below (:func:`node_paths`).

**Model.** A modelled nation n makes leading-edge introductions as a Poisson process of rate
nu_n per year; an introduction at date s has node ``mu_n(s) + e`` (log2 nm),
``mu_n(s) = alpha_n - r_n (s - 2020)``, e ~ Normal(0, sigma). Those that go below the nation's
record are its record setters; the others leave no trace. For the record setters y_i at t_i after
the nation's entry (conditioned on) and the record L(s) in force over its window (entry, T_end]::

    log L = sum_i [log nu_n + log Normal(y_i | mu_n(t_i), sigma)]
            - integral nu_n * Phi((L(s) - mu_n(s)) / sigma) ds

plus ``log Normal(y_entry | mu_n, sigma)`` for the entry; the integral is a sum over the cells of
:func:`~.node_frontier_data.make_cells` (about a month each). The second term is what a long
spell without a new node says (fewer introductions, or a trend nearer the record).

Priors (dims ``nation``; the shrink rates partially pooled, non-centred)::

    alpha_n ~ Normal(alpha_mu, 1);  alpha_mu ~ Normal(3, 1.5)       (log2 nm at 2020.0)
    r_n = r_mu + r_sd z_n;  z_n ~ Normal(0, 1);  r_mu ~ Normal(0.25, 0.15);  r_sd ~ HalfNormal(0.1)
    sigma ~ Gamma(4, 8);  nu_n ~ Gamma(2, 1)   (log2 nm; introductions per year)

Derived: halving time of the trend node ``1 / r_n`` years.

Forecasts and the per-nation table: :mod:`.node_frontier_posterior`.
"""

from __future__ import annotations

import datetime as dt_
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
import pymc as pm
import xarray as xr

from learnrace_pipeline.lib.models import base, cache
from learnrace_pipeline.lib.models import node_frontier_data as nfd
from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, fit
from learnrace_pipeline.lib.models.groups import constant_data, observed_data, str_array
from learnrace_pipeline.lib.models.node_frontier_data import T0, NodeConfig, NodeData, NodePriors
from learnrace_pipeline.lib.models.node_frontier_posterior import (  # re-exported: a fit's
    data_end as data_end,  # data end and modelled nations, asked of the fit module by callers
)
from learnrace_pipeline.lib.models.node_frontier_posterior import (
    modelled_nations as modelled_nations,
)

MODEL_TYPE = "node_frontier"

#: Sampler defaults (a few seconds of sampling).
NODE_SAMPLER = SamplerConfig(draws=2000, tune=1000, chains=4, target_accept=0.99, seed=20240601)


def build_node_model(data: NodeData, priors: NodePriors | None = None) -> pm.Model:
    """The node-frontier PyMC model (module docstring)."""
    p = priors or NodePriors()
    pts, cells = data.points, data.cells
    nidx = {n: i for i, n in enumerate(data.nations)}
    n_of = np.array([nidx[n] for n in pts["nation"]], dtype=np.int64)
    c_of = np.array([nidx[n] for n in cells["nation"]], dtype=np.int64)
    coords = {"nation": data.nations, "obs": np.arange(pts.height), "cell": np.arange(cells.height)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", pts["t"].to_numpy() - T0, dims="obs")
        pm.Data("obs_nation", n_of, dims="obs")
        event = pm.Data("event", pts["event"].to_numpy().astype(float), dims="obs")
        pm.Data("cell_nation", c_of, dims="cell")
        cell_t = pm.Data("cell_t", cells["t"].to_numpy() - T0, dims="cell")
        width = pm.Data("cell_width", cells["width_years"].to_numpy(), dims="cell")
        rec = pm.Data("cell_record", cells["record"].to_numpy(), dims="cell")
        alpha_mu = pm.Normal("alpha_mu", *p.alpha_mu)
        alpha = pm.Normal("alpha", alpha_mu, p.alpha_nation_sd, dims="nation")
        rate_mu = pm.Normal("rate_mu", *p.rate_mu)
        rate_sd = pm.HalfNormal("rate_sd", p.rate_nation_sd)
        rate_z = pm.Normal("rate_z", 0.0, 1.0, dims="nation")
        rate = pm.Deterministic("rate", rate_mu + rate_sd * rate_z, dims="nation")
        sigma = pm.Gamma("sigma", alpha=p.sigma[0], beta=p.sigma[1])
        nu = pm.Gamma("runs_per_year", alpha=p.runs[0], beta=p.runs[1], dims="nation")
        pm.Deterministic("halving_years", 1.0 / rate, dims="nation")
        pm.Normal(
            "log2_nm", alpha[n_of] - rate[n_of] * t, sigma, observed=pts["log2_nm"].to_numpy(),
            dims="obs",
        )  # fmt: skip
        mu_cell = alpha[c_of] - rate[c_of] * cell_t
        beat = 0.5 * pm.math.erfc((mu_cell - rec) / (sigma * np.sqrt(2.0)))
        pm.Potential(
            "record_process",
            pm.math.sum(event * pm.math.log(nu[n_of])) - pm.math.sum(nu[c_of] * width * beat),
        )
    return model


def record_process_term(point: Mapping[str, np.ndarray], data: NodeData) -> float:
    """The record-process term of the log-likelihood (module docstring) at one parameter point
    (alpha, rate, sigma, runs_per_year), in NumPy."""
    from scipy.special import erfc

    nidx = {n: i for i, n in enumerate(data.nations)}
    pts, cells = data.points, data.cells
    n_of = np.array([nidx[n] for n in pts["nation"]])
    c_of = np.array([nidx[n] for n in cells["nation"]])
    nu = np.asarray(point["runs_per_year"])
    mu = point["alpha"][c_of] - point["rate"][c_of] * (cells["t"].to_numpy() - T0)
    beat = 0.5 * erfc((mu - cells["record"].to_numpy()) / (float(point["sigma"]) * np.sqrt(2.0)))
    events = pts["event"].to_numpy()
    width = cells["width_years"].to_numpy()
    return float(np.sum(np.log(nu[n_of])[events]) - np.sum(nu[c_of] * width * beat))


def _data_groups(data: NodeData) -> dict[str, xr.Dataset]:
    """``fit_data`` (record setters fitted), ``records`` (every nation's running records up to
    T_end) and ``insufficient`` (nations with too few record setters)."""
    pts, rec, ins = data.points, data.records, data.insufficient
    fit_data = xr.Dataset(
        {
            "nation": ("obs", str_array(pts["nation"])),
            "product": ("obs", str_array(pts["product"])),
            "release_date": ("obs", str_array(pts["release_date"].cast(pl.String))),
        },
        coords={"obs": np.arange(pts.height)},
    )
    records = xr.Dataset(
        {
            "nation": ("record", str_array(rec["nation"])),
            "product": ("record", str_array(rec["product"])),
            "release_date": ("record", str_array(rec["release_date"].cast(pl.String))),
            "process_nm": ("record", rec["process_nm"].to_numpy().astype(float)),
        },
        coords={"record": np.arange(rec.height)},
    )
    insufficient = xr.Dataset(
        {"n_points": ("other", ins["n_points"].to_numpy().astype(np.int64))},
        coords={"other": str_array(ins["nation"])},
    )
    return {"fit_data": fit_data, "records": records, "insufficient": insufficient}


def fit_node_data(
    data: NodeData,
    config: NodeConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    frame: pl.DataFrame | None = None,
) -> xr.DataTree:
    """Fit the node model to prepared data (``frame`` is hashed as the data version; default:
    the fitted points). Groups: posterior, sample_stats, constant_data, observed_data, fit_data,
    records, insufficient; root attrs add ``start``, ``end`` (T_end, ISO date), ``min_records``."""
    cfg = config or NodeConfig()
    model = build_node_model(data, cfg.priors)
    const, observed = constant_data(model), observed_data(model)
    groups = _data_groups(data)

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        return {"constant_data": const, "observed_data": observed, **groups}

    dt = fit(
        model,
        sampler or NODE_SAMPLER,
        model_type=MODEL_TYPE,
        model_config=cfg,
        data=frame if frame is not None else data.points,
        code_version=code_version(__file__, nfd.__file__),
        postprocess=post,
    )
    dt.attrs.update(
        {"start": cfg.start, "end": data.end.isoformat(), "min_records": int(cfg.min_records)}
    )
    return dt


def _frame(chips: pl.DataFrame, end: dt_.date) -> pl.DataFrame:
    cols = ["product", "chip_type", "variant", "release_date", "process_nm", "foundry_nation"]
    cols = [c for c in cols if c in chips.columns]
    return chips.filter(pl.col("release_date") <= end).select(cols).sort(cols)


def fit_node_frontier(
    chips: pl.DataFrame, config: NodeConfig | None = None, sampler: SamplerConfig | None = None
) -> xr.DataTree:
    """Fit the node model to a ``chip_products`` table; return a provenance-stamped tree."""
    cfg = config or NodeConfig()
    data = nfd.prepare_node_data(chips, cfg)
    return fit_node_data(data, cfg, sampler, frame=_frame(chips, data.end))


def node_frontier_fit(
    chips: pl.DataFrame,
    fits_dir: Path,
    config: NodeConfig | None = None,
    sampler: SamplerConfig | None = None,
) -> tuple[xr.DataTree, bool]:
    """(posterior, reused): the fit saved under ``fits_dir`` by model id and data version,
    sampled when absent."""
    cfg = config or NodeConfig()
    sampler = sampler or NODE_SAMPLER
    mid = base.model_id(MODEL_TYPE, cfg, sampler, code_version(__file__, nfd.__file__))
    version = base.data_version(_frame(chips, nfd.data_end(chips, cfg)))
    return cache.fit_or_load(
        fits_dir, "node_frontier", mid, version, lambda: fit_node_frontier(chips, cfg, sampler)
    )
