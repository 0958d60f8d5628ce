"""The race's cost projector and its channel attribution.

A nation's cost metric (``race.yaml``, role ``cost``) is projected from the last observed year
``T0`` (per nation) as posterior predictive draws of log cost::

    log c[T0 + h] = log c[T0] - own[h] - world[h] - time[h] + u[h]
    own[h]   = w lambda (log Qn[T0 + h] - log Qn[T0])          own deployment
    world[h] = w (1 - lambda) (log Qw[T0 + h] - log Qw[T0])    world deployment (spillover)
    time[h]  = s m h                                            time / research

with ``u`` the cumulated Student-t MA(1) noise of the fit (fresh from ``T0``: the last in-sample
innovation is not carried over, since ``T0`` may lie past the fitted years), ``s`` the scenario's
research scale (``Knobs.research_rate_scale``, default 1) and ``lambda`` the fit's spillover share
or the scenario's (``Knobs.spillover_lambda``); a scenario's deployment growth scale
(``Knobs.deployment_growth_scale``) multiplies the projected growth of the nation's own annual
deployment where it has a national experience series. Which fit gives the parameters:

- a **national** cost metric (solar PV: IRENA installed cost by nation, 2019 USD/kW): the
  national learning fit (:mod:`learnrace_pipeline.lib.models.learning.national`), draws of the
  nation's ``w``, the technology's ``m``, ``lambda`` where the nation has a national experience
  series, ``sigma``, ``rho``, ``nu``. Without a national experience series the fit learns from
  world experience only (``lambda = 0``); a scenario ``lambda = 1`` then leaves no learning from
  deployment at all, which the output says (``notes``).
- a **world** cost metric (batteries: the Way et al. spliced Li-ion series, 2020 USD/kWh, the same
  for every nation): the pooled Wright fit (``calibration/wright_fit``), the series' ``w`` and
  noise; no time term (``m = 0``, so research scales change nothing) and no national experience
  (all learning is world deployment; ``lambda = 1`` stops it, as above).

Experience paths: cumulative production as observed through its last year, log-interpolated
inside gaps, then projected per draw by the forecaster's production model
(:func:`learnrace_pipeline.lib.forecast.production.project`: log annual production a random walk
with drift fitted to the series' own history, with parameter uncertainty, undamped as the
forecaster's default :data:`~learnrace_pipeline.lib.forecast.types.PRODUCTION_DAMPING`). World
paths are shared by every nation in a draw; each national path is drawn on its own.

:func:`attribution` splits the projected deterministic decline ``own + world + time`` from ``T0``
to the horizon into shares per draw (the experience/time split is
:func:`~learnrace_pipeline.lib.forecast.experience_time.decline_parts`), over the draws whose
decline is positive, with 5/50/95% quantiles.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.forecast.experience_time import decline_parts
from learnrace_pipeline.lib.forecast.production import production_model, project
from learnrace_pipeline.lib.forecast.types import PRODUCTION_DAMPING
from learnrace_pipeline.lib.models.learning import national as national_mod
from learnrace_pipeline.lib.race.draws import BASE, Knobs, MetricDraws, make_draws
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, select_rows
from learnrace_pipeline.lib.vocab import experience_map

SOURCE = "race cost projector"
NATIONAL_SOURCE = "calibration/national_learning_fit"
WRIGHT_SOURCE = "calibration/wright_fit"
SHARE_PARTS = ("own_deployment", "world_spillover", "time_research")


@dataclass(frozen=True)
class CostParams:
    """Posterior draws (``n``) of one nation's cost model and its experience series."""

    w: np.ndarray
    m: np.ndarray
    lam: np.ndarray | None  # None: no national experience series
    sigma: np.ndarray
    rho: np.ndarray
    nu: np.ndarray
    world_series: str
    national_series: str | None = None


@dataclass(frozen=True)
class CostProjection:
    """Projected log cost and its deterministic parts, per draw, nation and year.

    ``log_cost``, ``own``, ``world``, ``time``: ``(draw, nation, year)`` over ``years``; the
    parts are cumulated from the nation's ``T0`` (0 at and before it, NaN where the nation has
    no model). ``notes``: nation -> what the projection could not do.
    """

    industry: str
    nations: list[str]
    years: np.ndarray
    log_cost: np.ndarray
    own: np.ndarray
    world: np.ndarray
    time: np.ndarray
    last_observed: dict[str, int]
    unit: str
    source: str
    notes: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- building blocks


def log_cumulative_paths(
    cumulative: pl.DataFrame,
    years: Sequence[int],
    n: int,
    rng: np.random.Generator,
    *,
    damping: float = PRODUCTION_DAMPING,
    growth_scale: float = 1.0,
    label: str = "",
) -> np.ndarray:
    """``(n, len(years))`` draws of log cumulative production at ``years``: observed where the
    frame (``year``, ``cumulative_production`` > 0) has the year, log-linear between observed
    years, projected past the last (module docstring), the fitted growth of annual production
    multiplied by ``growth_scale`` (a scenario's deployment growth). DataError for a year before
    the first observation or a history too short to project (fewer than 3 years of annual
    production)."""
    c = cumulative.filter(pl.col("cumulative_production") > 0).sort("year")
    yrs = c["year"].to_numpy().astype(int)
    if yrs.size == 0:
        raise DataError(f"no cumulative production for {label}", source=SOURCE,
                        column="cumulative_production")  # fmt: skip
    lz = np.log(c["cumulative_production"].to_numpy().astype(float))
    target = np.asarray(years, dtype=int)
    if target.size and target.min() < yrs[0]:
        raise DataError(
            f"{label}: year {target.min()} is before its first cumulative production ({yrs[0]})",
            source=SOURCE,
            column="cumulative_production",
        )
    out = np.empty((n, target.size))
    inside = target <= yrs[-1]
    out[:, inside] = np.interp(target[inside], yrs, lz)[None, :]
    if (~inside).any():
        annual = pl.DataFrame(
            {
                "series_id": label,
                "year": yrs[1:],
                "log_annual": np.log(np.diff(np.exp(lz)) / np.diff(yrs)),  # per year of a gap
            }
        ).filter(pl.col("log_annual").is_finite())
        prod = production_model(annual, [label])
        if not np.isfinite(prod["g_hat"][0]):
            raise DataError(
                f"{label}: fewer than 3 years of annual production to project from",
                source=SOURCE,
                column="cumulative_production",
            )
        prod["g_hat"] = prod["g_hat"] * growth_scale
        prod["lq_last"] = prod.pop("last_lq")
        prod["lz_last"] = np.array([lz[-1]])
        hp = target[~inside] - yrs[-1]
        tg = {"projected": np.ones(hp.size, dtype=bool), "hp": hp}
        out[:, ~inside] = project(tg, prod, np.zeros(hp.size, dtype=np.int64), n, rng,
                                  damping).T  # fmt: skip
    return out


def project_parts(
    p: CostParams,
    dlq_nation: np.ndarray | None,
    dlq_world: np.ndarray,
    h: np.ndarray,
    *,
    lam: float | None = None,
    research_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(own, world, time)``, each ``(n, H)``: the deterministic log-cost decline by channel
    from ``T0`` after ``h`` years, for log cumulative increments ``dlq_*`` (``(n, H)``) since
    ``T0``. ``lam`` overrides the fit's spillover share; without a national series the own
    channel is 0 and the world channel is ``w (1 - lam) dlogQw`` (``lam`` default 0)."""
    w = p.w[:, None]
    if p.lam is not None and dlq_nation is not None:
        share = np.full_like(p.lam, lam)[:, None] if lam is not None else p.lam[:, None]
        x = share * dlq_nation + (1.0 - share) * dlq_world
        exp_part, time_part = decline_parts(w, research_scale * p.m[:, None], x, h[None, :])
        own = w * share * dlq_nation
        return own, exp_part - own, time_part
    share = 0.0 if lam is None else float(lam)
    exp_part, time_part = decline_parts(
        w, research_scale * p.m[:, None], (1.0 - share) * dlq_world, h[None, :]
    )
    return np.zeros_like(exp_part), exp_part, time_part


def noise_paths(p: CostParams, horizon: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, horizon)`` cumulated Student-t MA(1) noise ``u[h] = sum_k (e_k + rho e_{k-1})``,
    ``e_k ~ sigma t(nu)`` per year, ``e_0 = 0``."""
    n = p.w.size
    if horizon == 0:
        return np.zeros((n, 0))
    e = rng.standard_t(np.broadcast_to(p.nu[:, None], (n, horizon))) * p.sigma[:, None]
    prev = np.concatenate([np.zeros((n, 1)), e[:, :-1]], axis=1)
    return np.cumsum(e + p.rho[:, None] * prev, axis=1)


def _flat(post: xr.Dataset, name: str, idx: np.ndarray, **sel: object) -> np.ndarray:
    da = post[name].sel(**sel) if sel else post[name]
    return np.asarray(da.values, dtype=float).reshape(-1)[idx]


def _draw_index(post: xr.Dataset, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    total = int(post.sizes["chain"] * post.sizes["draw"])
    return rng.choice(total, size=n_draws, replace=n_draws > total)


def national_params(
    dt: xr.DataTree, cost_series_id: str, nation: str, idx: np.ndarray
) -> CostParams | None:
    """Draws ``idx`` (flat chain x draw) of the national fit for the series of
    ``cost_series_id`` at ``nation``; None where the fit has no such series."""
    national_mod.check_posterior(dt)
    fd = dt["fit_data"].to_dataset()
    hit = np.flatnonzero(
        (fd["series_cost_id"].values == cost_series_id) & (fd["series_nation"].values == nation)
    )
    if hit.size == 0:
        return None
    label = str(fd["series"].values[hit[0]])
    tech = str(fd["series_technology"].values[hit[0]])
    entry = national_mod.NATIONAL_COST_SERIES.get(tech)
    if entry is None:
        raise ModelError(f"national fit technology {tech!r} is not in NATIONAL_COST_SERIES")
    post = dt.posterior
    lam = None
    if bool(fd["series_has_national"].values[hit[0]]):
        lam = _flat(post, "lambda", idx, lambda_series=label)
    return CostParams(
        w=_flat(post, "w_series", idx, series=label),
        m=_flat(post, "m_series", idx, series=label),
        lam=lam,
        sigma=_flat(post, "sigma_series", idx, series=label),
        rho=_flat(post, "rho", idx),
        nu=_flat(post, "nu", idx),
        world_series=entry.world_experience,
        national_series=entry.national_experience if lam is not None else None,
    )


def wright_params(dt: xr.DataTree, cost_series_id: str, idx: np.ndarray) -> CostParams:
    """Draws ``idx`` of the pooled Wright fit for the world series ``cost_series_id``; its
    experience is the world production series of the experience map."""
    post = dt.posterior
    if "w_series" not in post or cost_series_id not in list(post["series"].values):
        raise ModelError(f"the Wright fit has no series {cost_series_id!r}")
    entries = [e for e in experience_map.load() if e.cost_series_id == cost_series_id]
    if not entries or entries[0].scope != "world":
        raise ModelError(f"{cost_series_id}: no world experience entry in the experience map")
    n = idx.size
    return CostParams(
        w=_flat(post, "w_series", idx, series=cost_series_id),
        m=np.zeros(n),
        lam=None,
        sigma=_flat(post, "sigma_series", idx, series=cost_series_id),
        rho=_flat(post, "rho", idx) if "rho" in post else np.zeros(n),
        nu=_flat(post, "nu", idx) if "nu" in post else np.full(n, np.inf),
        world_series=entries[0].production_series_id,
    )


# ----------------------------------------------------------------------------- projection


def _cost_series_id(metric: Metric) -> str:
    ids = dict(metric.filter).get("series_id", ())
    if len(ids) != 1:
        raise ModelError(f"cost metric {metric.name!r} must select one series_id, got {ids}")
    return str(ids[0])


def _cumulative(production: pl.DataFrame, series_id: str, nation: str) -> pl.DataFrame:
    return production.filter(
        (pl.col("series_id") == series_id) & (pl.col("nation") == nation)
    ).select("year", "cumulative_production")


def project_cost(
    industry: IndustrySpec,
    fit: xr.DataTree,
    tables: Mapping[str, pl.DataFrame],
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
    via_wright: bool | None = None,
) -> CostProjection:
    """The :class:`CostProjection` of ``industry``'s cost metric on ``years`` (module
    docstring); ``fit`` is the national learning fit for a national metric, the pooled Wright
    fit for a world one; ``tables`` holds ``cost_observations`` and ``production``.
    ``via_wright``: True projects a national series that is in the pooled Wright fit (with
    world experience, e.g. the US DOE pack cost) through that fit (default: world metrics)."""
    metric = industry.cost
    if metric is None:
        raise ModelError(f"industry {industry.id!r} has no cost metric")
    for t in ("cost_observations", "production"):
        if t not in tables:
            raise DataError(f"the cost projector needs table {t!r}", source=SOURCE, column=t)
    cost_id = _cost_series_id(metric)
    rows = select_rows(metric, tables)
    years_arr = np.asarray(sorted(years), dtype=int)
    nations = [e.code for e in industry.nations]
    rng = np.random.default_rng(seed)
    world_scope = metric.scope == "world"
    use_wright = world_scope if via_wright is None else via_wright
    post = fit.posterior
    idx = _draw_index(post, n_draws, rng)
    shape = (n_draws, len(nations), years_arr.size)
    log_cost = np.full(shape, np.nan)
    parts = {k: np.full(shape, np.nan) for k in ("own", "world", "time")}
    last: dict[str, int] = {}
    notes: dict[str, str] = {}
    world_cache: dict[tuple[str, int], np.ndarray] = {}
    production = tables["production"]
    first_world: int | None = None  # a world metric: every nation copies the first one's draws

    for j, entry in enumerate(industry.nations):
        nation = entry.code
        if (
            world_scope
            and first_world is not None
            and not _knobs_differ(knobs, nation, nations[first_world])
        ):
            log_cost[:, j] = log_cost[:, first_world]
            for k in parts:
                parts[k][:, j] = parts[k][:, first_world]
            last[nation] = last[nations[first_world]]
            notes[nation] = notes[nations[first_world]]
            continue
        data_nation = "WLD" if world_scope else entry.data_code("cost")
        obs = rows.filter(pl.col(metric.nation_column or "nation") == data_nation).sort("year")
        if obs.height == 0:
            notes[nation] = "no observed cost"
            continue
        oy = obs["year"].to_numpy().astype(int)
        oc = np.log(obs[metric.value].to_numpy().astype(float))
        t0 = int(oy[-1])
        last[nation] = t0
        at = np.isin(years_arr, oy)
        log_cost[:, j, at] = oc[np.searchsorted(oy, years_arr[at])][None, :]
        upto = years_arr <= t0
        for k in parts:
            parts[k][:, j, upto] = 0.0
        params = (
            wright_params(fit, cost_id, idx)
            if use_wright
            else national_params(fit, cost_id, data_nation, idx)
        )
        if params is None:
            notes[nation] = f"no series of {cost_id} at {data_nation} in the national fit"
            continue
        fut = years_arr[years_arr > t0]
        if fut.size == 0:
            continue
        steps = np.arange(t0, int(fut.max()) + 1)
        key = (params.world_series, t0)
        if key not in world_cache:
            world_cache[key] = log_cumulative_paths(
                _cumulative(production, params.world_series, "WLD"), steps, n_draws, rng,
                label=f"{params.world_series}[WLD]",
            )  # fmt: skip
        lw = world_cache[key]
        dlq_world = lw[:, 1:] - lw[:, [0]]
        dlq_nation = None
        if params.national_series is not None:
            ln = log_cumulative_paths(
                _cumulative(production, params.national_series, data_nation), steps, n_draws,
                rng, growth_scale=float(knobs.deployment_growth_scale.get(nation, 1.0)),
                label=f"{params.national_series}[{data_nation}]",
            )  # fmt: skip
            dlq_nation = ln[:, 1:] - ln[:, [0]]
        lam = knobs.spillover_lambda.get(nation)
        scale = float(knobs.research_rate_scale.get(nation, 1.0))
        h = (steps[1:] - t0).astype(float)
        own, world, time_ = project_parts(
            params, dlq_nation, dlq_world, h, lam=lam, research_scale=scale
        )
        noise = noise_paths(params, h.size, rng)
        path = oc[-1] - own - world - time_ + noise
        sel = np.searchsorted(steps[1:], fut)
        cols = np.flatnonzero(years_arr > t0)
        log_cost[:, j, cols] = path[:, sel]
        for k, v in (("own", own), ("world", world), ("time", time_)):
            parts[k][:, j, cols] = v[:, sel]
        notes[nation] = _note(use_wright, params, lam, scale)
        if world_scope and first_world is None:
            first_world = j
    return CostProjection(
        industry=industry.id,
        nations=nations,
        years=years_arr,
        log_cost=log_cost,
        own=parts["own"],
        world=parts["world"],
        time=parts["time"],
        last_observed=last,
        unit=metric.unit if isinstance(metric.unit, str) else "",
        source=WRIGHT_SOURCE if use_wright else NATIONAL_SOURCE,
        notes=notes,
    )


def _knobs_differ(knobs: Knobs, a: str, b: str) -> bool:
    return any(d.get(a) != d.get(b) for d in (knobs.spillover_lambda, knobs.research_rate_scale))


def _note(world_scope: bool, p: CostParams, lam: float | None, scale: float) -> str:
    out = []
    if world_scope:
        out.append("world series, the same for every nation; Wright only: no time term")
    if p.lam is None:
        out.append("no national experience series: all learning from deployment is world")
        if lam is not None and lam >= 1.0:
            out.append("lambda = 1: no learning from deployment at all")
    if scale != 1.0 and not np.any(p.m):
        out.append("research scale has no effect (no time term)")
    return "; ".join(out)


def cost_draws(
    industry: IndustrySpec,
    fit: xr.DataTree,
    tables: Mapping[str, pl.DataFrame],
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
    via_wright: bool | None = None,
) -> MetricDraws:
    """The industry's cost metric as race draws (role ``cost``, the metric's unit): observed
    cost through each nation's last observed year, posterior predictive cost after it (module
    docstring). ``values.attrs["notes"]`` says, per nation, what the projection could not do
    (e.g. no national experience, lambda = 1 stopping all learning from deployment).
    ``via_wright``: as :func:`project_cost`."""
    proj = project_cost(
        industry, fit, tables, years, knobs, seed=seed, n_draws=n_draws, via_wright=via_wright
    )
    draws = make_draws(
        industry.id,
        "cost",
        np.exp(proj.log_cost),
        proj.nations,
        [int(y) for y in proj.years],
        unit=proj.unit,
        source=proj.source,
        observed_through=proj.last_observed,
    )
    draws.values.attrs["notes"] = "; ".join(f"{k}: {v}" for k, v in proj.notes.items() if v)
    return draws


# ----------------------------------------------------------------------------- attribution


def decline_shares(
    own: np.ndarray, world: np.ndarray, time: np.ndarray
) -> dict[str, np.ndarray | int]:
    """Per channel, the 5/50/95% quantiles of its share of the decline ``own + world + time``
    over the draws (1-D arrays) whose decline is positive (NaN where none is), the quantiles of
    the decline itself (log units) and the number of draws used."""
    total = own + world + time
    ok = total > 0
    out: dict[str, np.ndarray | int] = {
        "decline": np.quantile(total, [0.05, 0.5, 0.95]),
        "n_positive": int(ok.sum()),
    }
    for name, part in zip(SHARE_PARTS, (own, world, time), strict=True):
        out[name] = (
            np.quantile(part[ok] / total[ok], [0.05, 0.5, 0.95]) if ok.any() else np.full(3, np.nan)
        )
    return out


def attribution(
    industry: IndustrySpec,
    fit: xr.DataTree,
    tables: Mapping[str, pl.DataFrame],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
    horizon: int | None = None,
) -> pl.DataFrame:
    """Per nation of ``industry``: the projected log-cost decline from its last observed year
    to ``horizon`` (default the industry's) split into own deployment, world deployment through
    spillover and time/research; each share's 5/50/95% quantiles over the draws with a positive
    decline (``share_<channel>_q05/_q50/_q95``), the decline's quantiles (``decline_log_q*``),
    ``n_draws_positive`` and a ``note`` (e.g. Wright only: time share 0)."""
    end = int(horizon or industry.horizon or 0)
    proj = project_cost(industry, fit, tables, [end], knobs, seed=seed, n_draws=n_draws)
    # one year suffices: the parts are cumulated from each nation's T0 inside project_cost
    rows = []
    for j, nation in enumerate(proj.nations):
        row: dict[str, object] = {
            "industry": industry.id,
            "nation": nation,
            "from_year": proj.last_observed.get(nation),
            "to_year": end,
        }
        own, world, time_ = (a[:, j, 0] for a in (proj.own, proj.world, proj.time))
        if np.isnan(own).any() or proj.last_observed.get(nation, end) >= end:
            stats = None
        else:
            stats = decline_shares(own, world, time_)
        for q, lvl in zip(("q05", "q50", "q95"), range(3), strict=True):
            row[f"decline_log_{q}"] = None if stats is None else float(stats["decline"][lvl])  # type: ignore[index]
        for name in SHARE_PARTS:
            for q, lvl in zip(("q05", "q50", "q95"), range(3), strict=True):
                v = None if stats is None else float(stats[name][lvl])  # type: ignore[index]
                row[f"share_{name}_{q}"] = None if v is None or np.isnan(v) else v
        row["n_draws_positive"] = 0 if stats is None else int(stats["n_positive"])
        row["source"] = proj.source
        row["note"] = proj.notes.get(nation, "")
        rows.append(row)
    return pl.DataFrame(rows)
