"""Capability trajectories of the race (and the AV test-mile volume), as joint posterior draws.

Each projector returns a :class:`~learnrace_pipeline.lib.race.draws.MetricDraws` of dims
``(draw, nation, year)`` for the industry's competing nations, in the unit ``race.yaml``
declares; draw d of every nation comes from one posterior draw, and every draw is one path
through the years (a record never falls back, a cumulative total never shrinks). NaN where the
fit has no data for a nation, before its first observation, and past a model's forecast limit.

- :func:`ai_capability_draws`: each nation's training-compute record at the end of each year
  (FLOP), from the AI frontier fit (:mod:`learnrace_pipeline.lib.models.frontier`): observed up
  to the data end T_end, then the fitted record process, one path per draw; NaN past
  :data:`~learnrace_pipeline.lib.models.frontier_posterior.MAX_FORECAST_YEARS` after T_end.
  ``knobs.compute_growth_cap[n] = c`` caps the record beyond T_end at ``R_n(T_end) + c (t -
  T_end)`` (log10 FLOP); ``knobs.research_rate_scale[n] = k`` scales the trend's growth beyond
  T_end (``k beta_n``). The cap applies after the scale.
- :func:`av_capability_draws` / :func:`av_volume_draws`: from one AV capability fit
  (:mod:`learnrace_pipeline.lib.models.av`), the nation's best company's miles per
  disengagement and the cumulative autonomous miles of its companies (headquarters nation) in
  each reporting year; one set of company mile paths serves both, so capability and volume of
  a draw belong together. Beyond its last report an active company's ln annual miles follow its
  fitted random walk (drift ``g_c``, Student-t(4) steps of scale ``sigma_miles``); its MPD is the
  capability curve at the cumulative miles. ``knobs.deployment_growth_scale[n] = k`` scales the
  growth of the nation's companies, ``k max(g_c, 0) + min(g_c, 0)``: a draw in which a company's
  miles decline keeps its decline (scaling a negative drift by k < 1 would speed up growth).
  The capability curve moves with miles only (no time drift): ``research_rate_scale`` does not
  act on it.
- :func:`node_capability_draws`: each foundry nation's leading process node (nm) at the end of
  each year from the node-frontier fit (:func:`~learnrace_pipeline.lib.models.node_frontier_posterior.
  node_paths`); ``knobs.research_rate_scale[n]`` scales its shrink rate beyond T_end.

Every random draw is seeded (``seed``); the same random numbers are used whatever the knobs, so
the base case is reproduced exactly when a knob is removed.
"""

from __future__ import annotations

import datetime as dt_
from collections.abc import Sequence

import numpy as np
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import frontier_posterior as fp
from learnrace_pipeline.lib.models import node_frontier_posterior as nfp
from learnrace_pipeline.lib.models.av_data import MISSING_YEAR, X0_MILES
from learnrace_pipeline.lib.models.frontier_data import CLASSES, T0, to_decimal_year
from learnrace_pipeline.lib.race.draws import BASE, Knobs, MetricDraws, make_draws
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric

AI_SOURCE = "calibration/ai_frontier_fit"
NODE_SOURCE = "calibration/node_frontier_fit"


def _year_end(year: int) -> dt_.date:
    return dt_.date(int(year), 12, 31)


def _metric(industry: IndustrySpec, role: str) -> Metric:
    m = getattr(industry, role)
    if not isinstance(m, Metric):
        raise ModelError(f"race industry {industry.id}: no {role} metric with data")
    return m


def _unit(metric: Metric, nations: Sequence[str]) -> str:
    units = {metric.unit_of(n) for n in nations} - {None}
    if len(units) != 1:
        raise ModelError(f"race metric {metric.name!r}: one unit expected, got {sorted(units)}")
    return str(units.pop())


def _frame(
    industry: IndustrySpec, role: str, years: Sequence[int], n_draws: int
) -> tuple[list[str], list[int], np.ndarray, str]:
    nations = [e.code for e in industry.nations]
    yrs = [int(y) for y in years]
    if not yrs:
        raise ModelError(f"race industry {industry.id}: no years asked for")
    unit = _unit(_metric(industry, role), nations)
    return nations, yrs, np.full((n_draws, len(nations), len(yrs)), np.nan), unit


# --------------------------------------------------------------------------------------------
# AI: training-compute record paths
# --------------------------------------------------------------------------------------------


def ai_record_paths(
    dt: xr.DataTree,
    dates: Sequence[dt_.date],
    *,
    n_draws: int,
    seed: int,
    cap: dict[str, float] | None = None,
    rate_scale: dict[str, float] | None = None,
) -> xr.DataArray:
    """Each nation's record (log10 FLOP) per draw and date, dims ``(draw, nation, date)``.

    Up to T_end the observed record (the same in every draw); beyond it, per draw, K ~
    Poisson(nu_n H) frontier runs at uniform dates in (T_end, T_end + H], each ``mu_n(s) + e``
    with a confidence class drawn with the fitted shares (as
    :func:`~learnrace_pipeline.lib.models.frontier_posterior.frontier_draws`, whose marginal at
    one date this path has), and the record at t is the largest of R_n(T_end) and the runs up to
    t. ``cap``: nation -> c, the record held at or below ``R_n(T_end) + c (t - T_end)``;
    ``rate_scale``: nation -> k, the trend beyond T_end ``mu_n(T_end) + k beta_n (s - T_end)``.
    NaN before a nation's first record and past ``MAX_FORECAST_YEARS`` after T_end. Nations: every
    nation with a record (modelled first, then the others; a nation with too few record setters
    keeps its record)."""
    end = fp.data_end(dt)
    t_end = to_decimal_year(end)
    t = np.array([to_decimal_year(d) for d in dates])
    limit_date = fp.as_of_window(end, end)[1]
    rec = fp.records(dt)
    modelled = fp.modelled_nations(dt)
    present = sorted(set(rec["nation"].to_list()))
    nations = [n for n in modelled if n in present] + [n for n in present if n not in modelled]
    idx = nfp.flat_draws(dt, n_draws, seed)
    n = idx.size
    out = np.full((n, len(nations), t.size), np.nan)
    post = dt["posterior"]
    cls = dt["fit_data"]["confidence_class"].values.astype(str)
    shares = np.array([(cls == c).mean() for c in CLASSES])
    sigma = nfp.flat_values(post["sigma"], idx)
    extra = np.stack(
        [
            np.zeros(n),
            nfp.flat_values(post["tau_speculative"], idx),
            nfp.flat_values(post["tau_unrated"], idx),
        ],
        axis=-1,
    )
    horizon = float(np.clip(t.max() - t_end, 0.0, fp.MAX_FORECAST_YEARS))
    rng = np.random.default_rng(seed)
    caps, scale = dict(cap or {}), dict(rate_scale or {})
    for j, nat in enumerate(nations):
        r = rec.filter(rec["nation"] == nat)
        rt = np.array([to_decimal_year(d) for d in r["publication_date"]])
        rv = r["log10_flop"].to_numpy()
        for i, x in enumerate(t):
            if (rt <= x).any():
                out[:, j, i] = rv[rt <= min(x, t_end)].max()
        if nat not in modelled or horizon <= 0:
            continue
        nu = nfp.flat_values(post["runs_per_year"].sel(nation=nat), idx)
        alpha = nfp.flat_values(post["alpha"].sel(nation=nat), idx)
        beta = nfp.flat_values(post["beta"].sel(nation=nat), idx)
        k = rng.poisson(nu * horizon)
        k_max = max(int(k.max()), 1)
        s = horizon * rng.random((n, k_max))  # years after T_end
        c = rng.choice(len(CLASSES), size=(n, k_max), p=shares)
        e = rng.standard_normal((n, k_max))
        sd = np.sqrt(sigma[:, None] ** 2 + np.take_along_axis(extra, c, axis=-1) ** 2)
        k_rate = scale.get(nat, 1.0)
        vals = alpha[:, None] + beta[:, None] * (t_end - T0 + k_rate * s) + sd * e
        vals[np.arange(k_max)[None, :] >= k[:, None]] = -np.inf
        r_end = rv.max()
        for i, x in enumerate(t):
            if x <= t_end:
                continue
            f = np.maximum(r_end, np.where(s <= x - t_end, vals, -np.inf).max(axis=1))
            if nat in caps:
                f = np.minimum(f, r_end + caps[nat] * (x - t_end))
            out[:, j, i] = f
    late = np.array([d > limit_date for d in dates])
    out[:, :, late] = np.nan
    return xr.DataArray(
        out,
        dims=("draw", "nation", "date"),
        coords={"draw": np.arange(n), "nation": nations, "date": [str(d) for d in dates]},
        name="log10_flop",
    )


def ai_capability_draws(
    frontier_fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
) -> MetricDraws:
    """Each competing nation's training-compute record at the end of each year, FLOP (module
    docstring); years ending on or before the data end are observed."""
    nations, yrs, arr, unit = _frame(industry, "capability", years, n_draws)
    paths = ai_record_paths(
        frontier_fit,
        [_year_end(y) for y in yrs],
        n_draws=n_draws,
        seed=seed,
        cap=dict(knobs.compute_growth_cap),
        rate_scale=dict(knobs.research_rate_scale),
    )
    end = fp.data_end(frontier_fit)
    have = [str(x) for x in paths["nation"].values]
    observed = {}
    for j, nat in enumerate(nations):
        if nat in have:
            arr[:, j, :] = 10.0 ** paths.sel(nation=nat).values
            done = [y for y in yrs if _year_end(y) <= end and np.isfinite(arr[0, j, yrs.index(y)])]
            if done:
                observed[nat] = max(done)
    return make_draws(
        industry.id, "capability", arr, nations, yrs, unit=unit, source=AI_SOURCE,
        observed_through=observed,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# AV: company mile paths, capability and volume
# --------------------------------------------------------------------------------------------


def av_company_paths(
    av_fit: xr.DataTree,
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    n_draws: int,
    seed: int,
) -> xr.Dataset:
    """Per draw, company and reporting year: ``cum_miles`` (cumulative autonomous miles through
    the year; the latent RY2020 included from 2020 on; 0 before the company's first report),
    ``log_mpd`` (ln MPD of the capability curve at those miles; NaN where cum_miles is 0) and
    per company ``nation``, ``last_year`` (last fitted year), ``miles_last_year`` and ``active``
    (reported in the latest fitted year: only active companies are projected; the others keep
    their miles and leave the capability projection)."""
    post, const = av_fit["posterior"], av_fit["constant_data"]
    companies = [str(c) for c in post["company"].values]
    fit_nations = [str(x) for x in post["nation"].values]
    cn = const["company_nation"].values.astype(int)
    last = const["company_last_year"].values.astype(int)
    mlast = const["company_miles_last_year"].values.astype(int)
    log_last = const["company_log_miles_last"].values.astype(float)
    grid_years = [int(y) for y in const["year"].values]
    grid = const["cum_grid"].values
    active = last == last.max()
    idx = nfp.flat_draws(av_fit, n_draws, seed)
    n, m = idx.size, len(companies)
    m20 = np.zeros((n, m))
    if "miles_2020" in post:
        lat = post["miles_2020"].rename(bridge="company").reindex(company=companies, fill_value=0.0)
        m20 = nfp.flat_values(lat, idx)
    g = nfp.flat_values(post["g"], idx)
    scale = np.array([knobs.deployment_growth_scale.get(fit_nations[i], 1.0) for i in cn])
    sig = nfp.flat_values(post["sigma_miles"], idx)
    yrs = [int(y) for y in years]
    cum = np.zeros((n, m, len(yrs)))
    for i in range(m):
        for k, y in enumerate(yrs):
            if y < grid_years[0]:
                continue
            yb = min(y, int(mlast[i]))
            cum[:, i, k] = grid[i, grid_years.index(yb)] + m20[:, i] * (yb >= MISSING_YEAR)
    rng = np.random.default_rng(seed)
    top = max(yrs)
    v = np.broadcast_to(log_last, (n, m)).copy()
    total = np.zeros((n, m))
    for y in range(int(mlast.min()) + 1, top + 1):
        shock = sig[:, None] * rng.standard_t(4, size=(n, m))  # drawn whatever the knobs
        step = y > mlast  # companies past their last miles year
        drift = scale[None, :] * np.maximum(g, 0.0) + np.minimum(g, 0.0)  # growth scaled
        v = np.where(step, v + drift + shock, v)
        total = total + np.where(step & active[None, :], np.exp(v), 0.0)
        if y in yrs:
            cum[:, :, yrs.index(y)] += total
    a = nfp.flat_values(post["a"], idx)[..., None]
    b = nfp.flat_values(post["b"], idx)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        lm = a + b * (np.log(cum) - np.log(X0_MILES))
        if "log_ceiling" in post:
            lm = -np.logaddexp(-lm, -nfp.flat_values(post["log_ceiling"], idx)[..., None])
    lm = np.where(cum > 0, lm, np.nan)
    coords = {"draw": np.arange(n), "company": companies, "year": yrs}
    return xr.Dataset(
        {
            "cum_miles": (("draw", "company", "year"), cum),
            "log_mpd": (("draw", "company", "year"), lm),
            "nation": ("company", [fit_nations[i] for i in cn]),
            "last_year": ("company", last),
            "miles_last_year": ("company", mlast),
            "active": ("company", active),
        },
        coords=coords,
    )


def _observed_mpd(av_fit: xr.DataTree) -> dict[tuple[str, int], float]:
    """(nation, year) -> the best observed MPD of the fit's companies that year: safety-driver
    miles / disengagements; a company-year without a disengagement has no ratio and is left out
    (as in :mod:`learnrace_pipeline.lib.race.observed`)."""
    const, obs = av_fit["constant_data"], av_fit["observed_data"]
    fit_nations = [str(x) for x in av_fit["posterior"]["nation"].values]
    cn = const["company_nation"].values.astype(int)
    comp = const["obs_company"].values.astype(int)
    yr = const["obs_year"].values.astype(int)
    dis = obs["disengagements"].values
    ratio = const["safety_miles"].values / np.maximum(dis, 1)
    out: dict[tuple[str, int], float] = {}
    for c, y, r, k in zip(comp, yr, ratio, dis, strict=True):
        if k == 0:
            continue
        key = (fit_nations[cn[c]], int(y))
        out[key] = max(out.get(key, -np.inf), float(r))
    return out


def _av_draws(
    av_fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    knobs: Knobs,
    role: str,
    *,
    seed: int,
    n_draws: int,
) -> MetricDraws:
    nations, yrs, arr, unit = _frame(industry, role, years, n_draws)
    paths = av_company_paths(av_fit, yrs, knobs, n_draws=n_draws, seed=seed)
    comp_nation = paths["nation"].values.astype(str)
    last = paths["last_year"].values
    mlast = paths["miles_last_year"].values
    active = paths["active"].values
    seen = _observed_mpd(av_fit) if role == "capability" else {}
    observed = {}
    for j, nat in enumerate(nations):
        mine = np.flatnonzero(comp_nation == nat)
        if mine.size == 0:
            continue
        through = int(last[mine].max())
        observed[nat] = through
        cum = paths["cum_miles"].values[:, mine, :]
        if role == "volume":
            total = cum.sum(axis=1)
            arr[:, j, :] = np.where(total > 0, total, np.nan)
            continue
        lm = paths["log_mpd"].values[:, mine, :]
        for k, y in enumerate(yrs):
            if (nat, y) in seen:
                arr[:, j, k] = seen[(nat, y)]
                continue
            # a year without reports inside the data (RY2020), or beyond it: the model's MPD of
            # the companies testing then (inside: up to their last miles year; beyond: active)
            on = (y <= mlast[mine]) if y <= through else active[mine]
            if not on.any() or not np.isfinite(lm[:, on, k]).any():
                continue
            with np.errstate(all="ignore"):
                arr[:, j, k] = np.exp(np.nanmax(lm[:, on, k], axis=1))
    return make_draws(
        industry.id, role, arr, nations, yrs, unit=unit,
        source=f"calibration/av_{av_fit.attrs.get('form', 'power')}_fit",
        observed_through=observed,
    )  # fmt: skip


def av_capability_draws(
    av_fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
) -> MetricDraws:
    """Each competing nation's best company's miles per disengagement per reporting year (module
    docstring). Reported years: the observed ratio (safety-driver miles / disengagements, company
    years without a disengagement left out) of the best of its fitted companies; a year with no
    such ratio inside the data (e.g. the missing RY2020) and years after the nation's last
    report: the capability curve at each company's cumulative miles, best company per draw
    (active companies only beyond the data). NaN for a nation without a fitted company."""
    return _av_draws(av_fit, industry, years, knobs, "capability", seed=seed, n_draws=n_draws)


def av_volume_draws(
    av_fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
) -> MetricDraws:
    """Each competing nation's cumulative autonomous test miles through each reporting year, miles
    (module docstring): the sum over its fitted companies (companies with fewer fitted years than
    the AV fit asks for are not counted); from 2020 on it includes the latent RY2020 miles, so it
    varies by draw inside the data too. With the same ``seed`` and ``n_draws`` its paths are
    those of :func:`av_capability_draws`."""
    return _av_draws(av_fit, industry, years, knobs, "volume", seed=seed, n_draws=n_draws)


# --------------------------------------------------------------------------------------------
# Semiconductors: leading process node
# --------------------------------------------------------------------------------------------


def node_capability_draws(
    node_fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
) -> MetricDraws:
    """Each competing nation's leading process node at the end of each year, nm (module
    docstring); years ending on or before the data end are observed; NaN for a nation without a
    foundry in the data."""
    nations, yrs, arr, unit = _frame(industry, "capability", years, n_draws)
    paths = nfp.node_paths(
        node_fit,
        [_year_end(y) for y in yrs],
        rate_scale=dict(knobs.research_rate_scale),
        n_draws=n_draws,
        seed=seed,
    )
    end = nfp.data_end(node_fit)
    have = [str(x) for x in paths["nation"].values]
    observed = {}
    for j, nat in enumerate(nations):
        if nat in have:
            arr[:, j, :] = paths.sel(nation=nat).values
            done = [y for y in yrs if _year_end(y) <= end and np.isfinite(arr[0, j, yrs.index(y)])]
            if done:
                observed[nat] = max(done)
    return make_draws(
        industry.id, "capability", arr, nations, yrs, unit=unit, source=NODE_SOURCE,
        observed_through=observed,
    )  # fmt: skip
