"""What a frontier fit says at a date: each nation's frontier (its record; forecast beyond the
data), who leads, how far behind the others are, as posterior draws and as one table.

All values are log10 FLOP, dates are calendar dates, the model is :mod:`.frontier`.

- :func:`frontier_draws`: F_n(t) per draw. Up to the data end T_end it is the observed record
  R_n(t), the same in every draw. Beyond T_end a modelled nation's frontier is
  ``max(R_n(T_end), largest new record setter)``: K ~ Poisson(nu_n (t - T_end)) runs at
  uniform dates s_k in (T_end, t], each ``mu_n(s_k) + e_k`` with e_k normal of the sd of a record
  setter whose confidence class is drawn with the fitted shares. A nation with too few record
  setters keeps its record (it is reported as insufficient data, with no interval).
- :func:`leader_probability`: share of draws in which a nation's frontier is the highest.
- :func:`gap_years`: years a nation needs at its own trend rate beta_n to reach the frontier of
  the nation leading in that draw, ``(max_m F_m - F_n) / beta_n`` (0 where it leads).
- :func:`frontier_at`: the table per nation (record, frontier quantiles, doubling time, gap,
  P(leader), status).

Dates it answers for (:func:`check_as_of`): from the first record in the data (the first model
with known compute credited to a nation) to :data:`MAX_FORECAST_YEARS` past T_end. Before the
first record there is no frontier; far beyond T_end the record process is extrapolated further
than it was ever checked (and its run count grows with the horizon), so those dates are refused.
Beyond T_end the status column says ``forecast``.

Every random draw is seeded (``seed``).
"""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import frontier_data
from learnrace_pipeline.lib.models.frontier_data import CLASSES, T0, to_decimal_year
from learnrace_pipeline.lib.models.groups import QUANTILES, SAMPLE_DIMS

FORECAST_SEED = 20240601
#: Furthest the frontier is forecast past the data end T_end, in years. The record process is
#: fitted on about a decade of frontier runs and hindcast 1-2 years ahead; 10 years out the
#: USA's 90% interval already spans 3 orders of magnitude, and further out it would be trend
#: extrapolation with no check at all (at 9999-12-31 a median of 10^6593 FLOP).
MAX_FORECAST_YEARS = 10
OBSERVED, FORECAST, INSUFFICIENT = "observed", "forecast", "insufficient data"


def _quantile_names(name: str) -> list[str]:
    return [f"{name}_q{round(v * 100):02d}" for v in QUANTILES]


#: Columns of :func:`frontier_at` (log10 FLOP, months, years, runs per year).
TABLE_SCHEMA: dict[str, pl.DataType] = {
    "nation": pl.String(),
    "as_of": pl.Date(),
    "status": pl.String(),
    "leader": pl.String(),
    "p_leader": pl.Float64(),
    "record_model": pl.String(),
    "record_date": pl.Date(),
    "record_log10_flop": pl.Float64(),
    **{c: pl.Float64() for c in _quantile_names("log10_flop")},
    **{c: pl.Float64() for c in _quantile_names("doubling_months")},
    **{c: pl.Float64() for c in _quantile_names("gap_years")},
    "runs_per_year_q50": pl.Float64(),
    "n_points": pl.Int32(),
    "data_end": pl.Date(),
}


def data_end(dt: xr.DataTree) -> dt_.date:
    """T_end of the fit: the last date its data covers."""
    return dt_.date.fromisoformat(str(dt.attrs["end"]))


def _add_years(d: dt_.date, years: int) -> dt_.date:
    """``d`` plus whole calendar years (29 February -> 28 February in a common year), capped at
    the last representable date."""
    year = min(d.year + years, dt_.MAXYEAR)
    try:
        return d.replace(year=year)
    except ValueError:
        return d.replace(year=year, day=28)


def as_of_window(first: dt_.date, end: dt_.date) -> tuple[dt_.date, dt_.date]:
    """(earliest, latest) date a frontier is given for: the first record ``first`` and
    :data:`MAX_FORECAST_YEARS` past the data end ``end``."""
    return first, _add_years(end, MAX_FORECAST_YEARS)


def check_as_of(when: dt_.date, first: dt_.date, end: dt_.date) -> None:
    """Raise ModelError, naming the allowed range, unless ``when`` is in
    :func:`as_of_window` of the first record ``first`` and the data end ``end``."""
    lo, hi = as_of_window(first, end)
    allowed = (
        f"the frontier is given from {lo} (the first model with known compute) to {hi} "
        f"({MAX_FORECAST_YEARS} years past the data end, {end})"
    )
    if when < lo:
        raise ModelError(f"as-of date {when} is before the first model in the data: {allowed}")
    if when > hi:
        raise ModelError(
            f"as-of date {when} is more than {MAX_FORECAST_YEARS} years past the data end: "
            f"{allowed}"
        )


def data_window(dt: xr.DataTree) -> tuple[dt_.date, dt_.date]:
    """(first record, T_end) of a fit: the dates :func:`check_as_of` is given."""
    dates = dt["records"]["publication_date"].values
    if dates.size == 0:
        raise ModelError("the frontier fit has no records")
    return dt_.date.fromisoformat(str(min(dates))), data_end(dt)


def table_window(ai_models: pl.DataFrame) -> tuple[dt_.date, dt_.date]:
    """(first record, T_end) of an ``ai_models`` table, as a fit of it would have them (so a
    date can be checked before fitting)."""
    first = frontier_data.running_records(ai_models)["publication_date"].min()
    if first is None:
        raise ModelError("no model in the data has known compute and a nation")
    return first, frontier_data.data_end(ai_models)  # type: ignore[return-value]


def modelled_nations(dt: xr.DataTree) -> list[str]:
    """Nations with a trend (enough record setters), in fit order."""
    return [str(n) for n in dt["posterior"]["nation"].values]


def records(dt: xr.DataTree) -> pl.DataFrame:
    """Every nation's running records up to T_end: nation, model, publication_date,
    log10_flop."""
    rec = dt["records"].to_dataset()
    return pl.DataFrame(
        {
            "nation": rec["nation"].values.astype(str),
            "model": rec["model"].values.astype(str),
            "publication_date": [dt_.date.fromisoformat(d) for d in rec["publication_date"].values],
            "log10_flop": rec["log10_flop"].values.astype(float),
        },
        schema={
            "nation": pl.String,
            "model": pl.String,
            "publication_date": pl.Date,
            "log10_flop": pl.Float64,
        },
    )


def record_at(dt: xr.DataTree, when: dt_.date) -> pl.DataFrame:
    """Each nation's record at ``when`` (at T_end when ``when`` is later): nation, model,
    publication_date, log10_flop; nations without a model by then are absent."""
    cut = min(when, data_end(dt))
    rec = records(dt).filter(pl.col("publication_date") <= cut)
    return rec.sort("log10_flop").group_by("nation").last().sort("nation")


def _class_shares(dt: xr.DataTree) -> np.ndarray:
    cls = dt["fit_data"]["confidence_class"].values.astype(str)
    return np.array([(cls == c).mean() for c in CLASSES])


def frontier_draws(dt: xr.DataTree, when: dt_.date, *, seed: int = FORECAST_SEED) -> xr.DataArray:
    """F_n(when) per draw (chain, draw, nation) for every nation with a model by ``when`` (module
    docstring). Nation order: modelled nations, then the others, each alphabetical."""
    post = dt["posterior"].to_dataset()
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    rec = record_at(dt, when)
    rmap = dict(zip(rec["nation"], rec["log10_flop"], strict=True))
    modelled = [n for n in modelled_nations(dt) if n in rmap]
    others = sorted(n for n in rmap if n not in modelled)
    nations = modelled + others
    out = np.empty((n_chain, n_draw, len(nations)))
    for j, n in enumerate(nations):
        out[..., j] = rmap[n]
    end = data_end(dt)
    horizon = to_decimal_year(when) - to_decimal_year(end)
    if when > end and modelled:
        rng = np.random.default_rng(seed)
        shares = _class_shares(dt)
        sig2 = post["sigma"].values[..., None] ** 2
        extra2 = np.stack(
            [
                np.zeros((n_chain, n_draw)),
                post["tau_speculative"].values ** 2,
                post["tau_unrated"].values ** 2,
            ],
            axis=-1,
        )
        t_end = to_decimal_year(end) - T0
        for j, n in enumerate(modelled):
            lam = post["runs_per_year"].sel(nation=n).values
            k = rng.poisson(lam * horizon)
            k_max = int(k.max())
            if k_max == 0:
                continue
            s = t_end + horizon * rng.random((n_chain, n_draw, k_max))
            mu = post["alpha"].sel(nation=n).values[..., None] + (
                post["beta"].sel(nation=n).values[..., None] * s
            )
            cls = rng.choice(len(CLASSES), size=(n_chain, n_draw, k_max), p=shares)
            var = sig2 + np.take_along_axis(extra2, cls, axis=-1)
            vals = mu + np.sqrt(var) * rng.standard_normal((n_chain, n_draw, k_max))
            vals[np.arange(k_max)[None, None, :] >= k[..., None]] = -np.inf
            out[..., j] = np.maximum(out[..., j], vals.max(axis=-1))
    return xr.DataArray(
        out,
        dims=("chain", "draw", "nation"),
        coords={"chain": post["chain"], "draw": post["draw"], "nation": nations},
        name="log10_flop",
    )


def leader_probability(f: xr.DataArray) -> xr.DataArray:
    """Share of draws in which each nation's frontier ``f`` (chain, draw, nation) is highest."""
    top = f.argmax("nation")
    probs = [(top == i).mean(SAMPLE_DIMS) for i in range(f.sizes["nation"])]
    return xr.concat(probs, dim="nation").assign_coords(nation=f["nation"])


def gap_years(dt: xr.DataTree, f: xr.DataArray) -> xr.DataArray:
    """Years behind the leader of each draw, ``(max_m F_m - F_n) / beta_n`` (chain, draw,
    nation), for the modelled nations in ``f``."""
    modelled = [n for n in modelled_nations(dt) if n in f["nation"].values]
    beta = dt["posterior"]["beta"].sel(nation=modelled)
    behind = f.max("nation") - f.sel(nation=modelled)
    return xr.where(behind == 0, 0.0, behind / beta)


def _quantiles(da: xr.DataArray, name: str, nations: list[str]) -> dict[str, list]:
    """``{name}_q05..q95`` per nation (None where ``da`` has no such nation)."""
    q = da.quantile(list(QUANTILES), dim=SAMPLE_DIMS)
    out: dict[str, list] = {}
    have = set(str(n) for n in da["nation"].values)
    for v in QUANTILES:
        col = q.sel(quantile=v, drop=True)
        out[f"{name}_q{round(v * 100):02d}"] = [
            float(col.sel(nation=n)) if n in have else None for n in nations
        ]
    return out


def frontier_at(dt: xr.DataTree, as_of: dt_.date, *, seed: int = FORECAST_SEED) -> pl.DataFrame:
    """One row per nation with a model by ``as_of``, highest median frontier first (a nation
    with insufficient data at its record).

    Columns: nation; as_of; status (``observed``: as_of inside the data; ``forecast``: beyond
    T_end; ``insufficient data``: too few record setters for a trend, beyond T_end); leader (the
    nation with the highest P(leader)); p_leader; record_model, record_date,
    record_log10_flop (its record at as_of, at T_end if as_of is later); log10_flop_q05..q95
    (frontier; null for insufficient data); doubling_months_q05..q95 and gap_years_q05..q95
    (modelled nations only); runs_per_year_q50; n_points (record setters fitted); data_end.

    Raises ModelError for a date outside :func:`check_as_of`'s window.
    """
    check_as_of(as_of, *data_window(dt))
    rec = record_at(dt, as_of)
    if rec.height == 0:
        return pl.DataFrame(schema=TABLE_SCHEMA)
    f = frontier_draws(dt, as_of, seed=seed)
    nations = [str(n) for n in f["nation"].values]
    modelled = set(modelled_nations(dt))
    end = data_end(dt)
    p = leader_probability(f)
    med = f.median(SAMPLE_DIMS)
    leader = nations[
        max(range(len(nations)), key=lambda i: (float(p.values[i]), float(med.values[i])))
    ]
    order = sorted(range(len(nations)), key=lambda i: (-float(med.values[i]), -float(p.values[i])))
    rmap = {r["nation"]: r for r in rec.iter_rows(named=True)}
    fit_nations = dt["fit_data"]["nation"].values.astype(str)
    ins = dt["insufficient"].to_dataset()
    ins_pts = dict(zip(ins["other"].values.astype(str), ins["n_points"].values, strict=True))

    def status(n: str) -> str:
        if as_of <= end:
            return OBSERVED
        return FORECAST if n in modelled else INSUFFICIENT

    post = dt["posterior"].to_dataset()
    mod = [n for n in nations if n in modelled]
    f_shown = f.where(
        xr.DataArray([status(n) != INSUFFICIENT for n in nations], dims="nation").assign_coords(
            nation=f["nation"]
        )
    )
    rows: dict[str, list] = {
        "nation": nations,
        "as_of": [as_of] * len(nations),
        "status": [status(n) for n in nations],
        "leader": [leader] * len(nations),
        "p_leader": [float(v) for v in p.values],
        "record_model": [rmap[n]["model"] for n in nations],
        "record_date": [rmap[n]["publication_date"] for n in nations],
        "record_log10_flop": [float(rmap[n]["log10_flop"]) for n in nations],
    }
    rows |= _quantiles(f_shown.dropna("nation", how="all"), "log10_flop", nations)
    rows |= _quantiles(post["doubling_months"].sel(nation=mod), "doubling_months", nations)
    rows |= _quantiles(gap_years(dt, f), "gap_years", nations)
    rate = post["runs_per_year"].median(SAMPLE_DIMS)
    rows["runs_per_year_q50"] = [
        float(rate.sel(nation=n)) if n in modelled else None for n in nations
    ]
    rows["n_points"] = [
        int((fit_nations == n).sum()) if n in modelled else int(ins_pts.get(n, 0)) for n in nations
    ]
    rows["data_end"] = [end] * len(nations)
    out = pl.DataFrame(rows, schema=TABLE_SCHEMA, strict=False)
    return out.select(pl.all().gather(order)) if order else out


def frontier_table(dt: xr.DataTree, as_of: dt_.date | None = None) -> pl.DataFrame:
    """:func:`frontier_at` at ``as_of`` (default: the data end T_end)."""
    return frontier_at(dt, as_of or data_end(dt))
