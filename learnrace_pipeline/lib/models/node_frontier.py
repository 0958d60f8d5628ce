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

**Forecast paths** (:func:`node_paths`): per posterior draw, K ~ Poisson(nu_n H) introductions at
uniform dates in (T_end, T_end + H], each ``mu_n(T_end) - k r_n (s - T_end) + e`` with ``k`` the
research-rate factor (1 in the base case), the leading node at date t being the smallest of the
record at T_end and the introductions up to t; one path per draw, so it never rises. A nation
with too few record setters (:mod:`.node_frontier_data`) keeps its record. Dates are answered up
to :data:`MAX_FORECAST_YEARS` past T_end.
"""

from __future__ import annotations

import datetime as dt_
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pymc as pm
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import base, cache
from learnrace_pipeline.lib.models import node_frontier_data as nfd
from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, fit
from learnrace_pipeline.lib.models.frontier_data import to_decimal_year
from learnrace_pipeline.lib.models.groups import constant_data, observed_data
from learnrace_pipeline.lib.models.node_frontier_data import T0, NodeConfig, NodeData, NodePriors

MODEL_TYPE = "node_frontier"
FORECAST_SEED = 20240601
#: Furthest the leading node is forecast past T_end, in years: the race's 2035 horizon from a
#: data end in early 2024. The fit window is 14 years (2010-2024).
MAX_FORECAST_YEARS = 12

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


def _str(values) -> np.ndarray:
    return np.asarray([str(v) for v in values], dtype=str)


def _data_groups(data: NodeData) -> dict[str, xr.Dataset]:
    """``fit_data`` (record setters fitted), ``records`` (every nation's running records up to
    T_end) and ``insufficient`` (nations with too few record setters)."""
    pts, rec, ins = data.points, data.records, data.insufficient
    fit_data = xr.Dataset(
        {
            "nation": ("obs", _str(pts["nation"])),
            "product": ("obs", _str(pts["product"])),
            "release_date": ("obs", _str(pts["release_date"].cast(pl.String))),
        },
        coords={"obs": np.arange(pts.height)},
    )
    records = xr.Dataset(
        {
            "nation": ("record", _str(rec["nation"])),
            "product": ("record", _str(rec["product"])),
            "release_date": ("record", _str(rec["release_date"].cast(pl.String))),
            "process_nm": ("record", rec["process_nm"].to_numpy().astype(float)),
        },
        coords={"record": np.arange(rec.height)},
    )
    insufficient = xr.Dataset(
        {"n_points": ("other", ins["n_points"].to_numpy().astype(np.int64))},
        coords={"other": _str(ins["nation"])},
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


# --------------------------------------------------------------------------------------------
# What a fit says
# --------------------------------------------------------------------------------------------


def data_end(dt: xr.DataTree) -> dt_.date:
    """T_end of the fit."""
    return dt_.date.fromisoformat(str(dt.attrs["end"]))


def modelled_nations(dt: xr.DataTree) -> list[str]:
    """Nations with a trend (enough record setters), in fit order."""
    return [str(n) for n in dt["posterior"]["nation"].values]


def records(dt: xr.DataTree) -> pl.DataFrame:
    """Every nation's running records up to T_end: nation, product, release_date, process_nm."""
    rec = dt["records"].to_dataset()
    return pl.DataFrame(
        {
            "nation": rec["nation"].values.astype(str),
            "product": rec["product"].values.astype(str),
            "release_date": [dt_.date.fromisoformat(d) for d in rec["release_date"].values],
            "process_nm": rec["process_nm"].values.astype(float),
        },
        schema={
            "nation": pl.String,
            "product": pl.String,
            "release_date": pl.Date,
            "process_nm": pl.Float64,
        },
    )


def record_at(dt: xr.DataTree, when: dt_.date) -> dict[str, float]:
    """nation -> its leading node (nm) at ``when`` (at T_end when later); nations without a
    product by then are absent."""
    cut = min(when, data_end(dt))
    rec = records(dt).filter(pl.col("release_date") <= cut)
    out = rec.group_by("nation").agg(pl.col("process_nm").min())
    return dict(zip(out["nation"].to_list(), out["process_nm"].to_list(), strict=True))


def flat_draws(dt: xr.DataTree, n_draws: int | None, seed: int) -> np.ndarray:
    """Indices into the flattened (chain, draw) sample: all of them in order (``n_draws`` None),
    else ``n_draws`` of them chosen with one seeded generator (without replacement when enough)."""
    post = dt["posterior"]
    total = int(post.sizes["chain"] * post.sizes["draw"])
    if n_draws is None:
        return np.arange(total)
    if n_draws < 1:
        raise ModelError(f"n_draws must be >= 1, got {n_draws}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(total, size=n_draws, replace=n_draws > total))


def flat_values(da: xr.DataArray, idx: np.ndarray) -> np.ndarray:
    """(chain, draw[, ...]) -> (sample[, ...]) at the flat indices ``idx``."""
    arr = da.transpose("chain", "draw", ...).values
    return arr.reshape((-1, *arr.shape[2:]))[idx]


def node_paths(
    dt: xr.DataTree,
    dates: Sequence[dt_.date],
    *,
    rate_scale: Mapping[str, float] | None = None,
    n_draws: int | None = None,
    seed: int = FORECAST_SEED,
) -> xr.DataArray:
    """Leading node (nm) per draw, nation and date: dims ``(draw, nation, date)`` (module
    docstring), one forecast path per draw. Nations: those with a product in the data (modelled
    first, then the others, each alphabetical); NaN before a nation's first product and past
    :data:`MAX_FORECAST_YEARS` after T_end. ``rate_scale``: nation -> factor on its shrink rate
    beyond T_end (the same random numbers are used whatever the factor)."""
    end = data_end(dt)
    t_end = to_decimal_year(end)
    limit = t_end + MAX_FORECAST_YEARS
    t = np.array([to_decimal_year(d) for d in dates])
    rec_all = records(dt)
    first = rec_all.group_by("nation").agg(pl.col("release_date").min())
    first_t = {n: to_decimal_year(d) for n, d in first.iter_rows()}
    modelled = modelled_nations(dt)
    others = sorted(n for n in first_t if n not in modelled)
    nations = [n for n in modelled if n in first_t] + others
    idx = flat_draws(dt, n_draws, seed)
    n = idx.size
    post = dt["posterior"]
    out = np.full((n, len(nations), t.size), np.nan)
    horizon = max(float(t.max()) - t_end, 0.0) if t.size else 0.0
    horizon = min(horizon, MAX_FORECAST_YEARS)
    rng = np.random.default_rng(seed)
    scale = dict(rate_scale or {})
    for j, nat in enumerate(nations):
        r = rec_all.filter(pl.col("nation") == nat).sort("release_date")
        rt = np.array([to_decimal_year(d) for d in r["release_date"]])
        rv = r["process_nm"].to_numpy()
        # observed record at each date inside the data (running minimum)
        obs = np.array([rv[rt <= min(x, t_end)].min() if (rt <= x).any() else np.nan for x in t])
        out[:, j, :] = obs[None, :]
        if nat not in modelled or horizon <= 0:
            continue
        nu = flat_values(post["runs_per_year"].sel(nation=nat), idx)
        alpha = flat_values(post["alpha"].sel(nation=nat), idx)
        rate = flat_values(post["rate"].sel(nation=nat), idx)
        sigma = flat_values(post["sigma"], idx)
        k = rng.poisson(nu * horizon)
        k_max = max(int(k.max()), 1)
        s = horizon * rng.random((n, k_max))  # years after T_end
        e = rng.standard_normal((n, k_max))
        mu_end = alpha - rate * (t_end - T0)
        vals = mu_end[:, None] - scale.get(nat, 1.0) * rate[:, None] * s + sigma[:, None] * e
        vals[np.arange(k_max)[None, :] >= k[:, None]] = np.inf
        rec_end = np.log2(rv.min())
        for i, x in enumerate(t):
            if x <= t_end:
                continue
            seen = np.where(s <= x - t_end, vals, np.inf).min(axis=1)
            out[:, j, i] = 2.0 ** np.minimum(rec_end, seen)
    for i, x in enumerate(t):
        if x > limit:
            out[:, :, i] = np.nan
    for j, nat in enumerate(nations):
        out[:, j, t < first_t[nat]] = np.nan
    return xr.DataArray(
        out,
        dims=("draw", "nation", "date"),
        coords={"draw": np.arange(n), "nation": nations, "date": [str(d) for d in dates]},
        name="process_nm",
        attrs={"unit": "nm"},
    )


#: Columns of :func:`node_frontier_table` (nm, years, introductions per year).
TABLE_SCHEMA: dict[str, pl.DataType] = {
    "nation": pl.String(),
    "status": pl.String(),
    "record_product": pl.String(),
    "record_date": pl.Date(),
    "record_nm": pl.Float64(),
    "as_of": pl.Date(),
    **{f"nm_q{q:02d}": pl.Float64() for q in (5, 25, 50, 75, 95)},
    **{f"halving_years_q{q:02d}": pl.Float64() for q in (5, 50, 95)},
    "runs_per_year_q50": pl.Float64(),
    "n_points": pl.Int32(),
    "data_end": pl.Date(),
}


def node_frontier_table(
    dt: xr.DataTree, as_of: dt_.date | None = None, *, seed: int = FORECAST_SEED
) -> pl.DataFrame:
    """One row per foundry nation: its leading node now (record product, date, nm at T_end),
    the projected leading node at ``as_of`` (default: 2030-12-31) as quantiles q05..q95 (nm),
    the halving time of its trend node q05/q50/q95 (years), introductions per year (median) and
    the record setters fitted; status ``forecast`` for modelled nations, ``insufficient data``
    (held at its record) for the others. Sorted by the median projected node."""
    end = data_end(dt)
    as_of = as_of or dt_.date(2030, 12, 31)
    paths = node_paths(dt, [as_of], seed=seed).isel(date=0)
    rec = records(dt).sort("process_nm").group_by("nation").first()
    rmap = {r["nation"]: r for r in rec.iter_rows(named=True)}
    modelled = set(modelled_nations(dt))
    post = dt["posterior"]
    fit_nations = dt["fit_data"]["nation"].values.astype(str)
    ins = dt["insufficient"].to_dataset()
    ins_pts = dict(zip(ins["other"].values.astype(str), ins["n_points"].values, strict=True))
    rows = []
    for nat in [str(x) for x in paths["nation"].values]:
        v = paths.sel(nation=nat).values
        q = np.nanquantile(v, [0.05, 0.25, 0.5, 0.75, 0.95]) if np.isfinite(v).any() else [None] * 5
        row = {
            "nation": nat,
            "status": "forecast" if nat in modelled else "insufficient data",
            "record_product": rmap[nat]["product"],
            "record_date": rmap[nat]["release_date"],
            "record_nm": float(rmap[nat]["process_nm"]),
            "as_of": as_of,
            **{
                f"nm_q{p:02d}": (None if x is None else float(x))
                for p, x in zip((5, 25, 50, 75, 95), q, strict=True)
            },
            "runs_per_year_q50": None,
            "n_points": int(ins_pts.get(nat, 0)),
            "data_end": end,
        }
        for p in (5, 50, 95):
            row[f"halving_years_q{p:02d}"] = None
        if nat in modelled:
            hv = post["halving_years"].sel(nation=nat).values.ravel()
            for p, x in zip((5, 50, 95), np.quantile(hv, [0.05, 0.5, 0.95]), strict=True):
                row[f"halving_years_q{p:02d}"] = float(x)
            row["runs_per_year_q50"] = float(post["runs_per_year"].sel(nation=nat).median())
            row["n_points"] = int((fit_nations == nat).sum())
        rows.append(row)
    out = pl.DataFrame(rows, schema=TABLE_SCHEMA)
    return out.sort("nm_q50", "record_nm", nulls_last=True)
