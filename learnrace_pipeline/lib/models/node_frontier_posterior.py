"""What a node-frontier fit says: each foundry nation's leading node (nm) up to the data end
and forecast paths beyond it, and the per-nation table (model: :mod:`.node_frontier`).

- :func:`node_paths`: per posterior draw, K ~ Poisson(nu_n H) leading-edge introductions at
  uniform dates in (T_end, T_end + H], each ``mu_n(T_end) - k r_n (s - T_end) + e`` (log2 nm)
  with ``k`` the research-rate factor (1 in the base case); the leading node at date t is the
  smallest of the record at T_end and the introductions up to t. One path per draw, so it never
  rises; a nation with too few record setters keeps its record; NaN past
  :data:`MAX_FORECAST_YEARS` after T_end.
- :func:`node_frontier_table`: leading node now, projected at a date (quantiles), halving time.
- :func:`flat_draws` / :func:`flat_values`: a seeded subset of a fit's (chain, draw) sample.
"""

from __future__ import annotations

import datetime as dt_
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.frontier_data import to_decimal_year
from learnrace_pipeline.lib.models.node_frontier_data import T0

FORECAST_SEED = 20240601
#: Furthest the leading node is forecast past T_end, in years: the race's 2035 horizon from a
#: data end in early 2024. The fit window is 14 years (2010-2024).
MAX_FORECAST_YEARS = 12


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
