"""Closing the loop: which thresholds hold, the closing year per draw, the race and pair tables.

Definitions (draw d, nation n, year y; v = the metric's draws in its unit, :mod:`.draws`):

- **direction** (:func:`lower_is_better`): a metric is better when lower for a ``running_min``
  measure (e.g. the process node), for the cost role and for ``at_most`` / ``parity``
  thresholds; higher otherwise.
- **leader** L(d, y): the best v over the industry's nations in the draws, NaN ignored (NaN when
  every nation is NaN).
- **holds** (:func:`holds`), by threshold kind:
  ``within_of_leader`` unit ``factor`` f: v >= L / f (higher better) or v <= L * f (lower);
  unit ``points`` x: v >= L - x or v <= L + x; unit ``years`` N: v(y) >= L(y - N) or
  v(y) <= L(y - N), at most N years behind the leader's trajectory (L linearly interpolated
  between years for a fractional N; nothing holds where y - N precedes the first year);
  ``at_least`` x: v >= x; ``at_most`` x: v <= x; ``share_at_least`` x: v / W >= x with W the
  world total of the draws when given, else v (already a share) >= x; ``cumulative_at_least``
  x: C >= x, C = v for a ``cumulative_sum`` measure, else the running sum of v over the years
  (an unknown year makes every later C unknown); ``parity`` x: v <= (1 + x) * ref, ref = the
  cheapest nation (``leader``), a named nation, or ``level``.
  A NaN value never holds.
- **closing year** (:func:`closing_years`): with H(d, n, y) = every measured threshold of n
  holds, and O_n the nation's last observed year (the earliest of its measured roles'
  ``observed_through``; the year before the first when none is given): if H holds at O_n, the
  closing year is the first year of the unbroken run of H up to O_n; otherwise the first year
  after O_n in which H holds. A nation that held once and lost it before its data ends has not
  closed. Closing years after the horizon are the sentinel ``horizon + 1`` ("not closed by the
  horizon"); NaN means the nation cannot be judged (no role measured).
- **already closed**: H holds at O_n in every draw; its year is the first of the unbroken run up
  to O_n over which H holds in every draw.
- **unmeasured roles**: a role the industry declares missing (robots' capability), a role a
  nation declares missing (China's battery capability), a declared metric with no draws given,
  or one whose draws are all NaN for the nation. The nation is judged on its measured roles
  only, and every table says which (e.g. "judged on volume only"); it is never read as a fail
  or a pass of the unmeasured role.
- **P(first)** (:func:`race_table`): per draw, the nations with the earliest closing year by the
  horizon share the win equally (a tie of k nations gives each 1/k); P(none by horizon) is the
  share of draws where no judged nation closes. Over the judged nations they sum to 1.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.race.draws import ROLES, MetricDraws
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, MissingMetric

QUANTILES = (0.1, 0.5, 0.9)  # the 80% interval and the median
NONE_BY_HORIZON = "none by horizon"
NO_DATA = "no data"


def lower_is_better(metric: Metric) -> bool:
    """True where a smaller figure is better: a ``running_min`` measure, the cost role, or an
    ``at_most`` / ``parity`` threshold."""
    return (
        metric.measure == "running_min"
        or metric.role == "cost"
        or metric.threshold.kind in ("at_most", "parity")
    )


def _leader(v: np.ndarray, lower: bool) -> np.ndarray:
    """Best value over nations (axis 1) of a (draw, nation, year) array, NaN ignored."""
    nan = np.isnan(v)
    best = np.where(nan, np.inf, v).min(axis=1) if lower else np.where(nan, -np.inf, v).max(axis=1)
    return np.where(nan.all(axis=1), np.nan, best)


def _lagged(lead: np.ndarray, years: np.ndarray, lag: float) -> np.ndarray:
    """L(y - lag) for every year y of a (draw, year) leader, linearly interpolated; NaN before
    the first year."""
    t = years.astype(float) - lag
    pos = np.searchsorted(years, t, side="right") - 1
    lo = np.clip(pos, 0, len(years) - 1)
    hi = np.clip(pos + 1, 0, len(years) - 1)
    span = (years[hi] - years[lo]).astype(float)
    w = np.divide(t - years[lo], span, out=np.zeros_like(t), where=span > 0)
    exact = w == 0
    out = np.where(exact, lead[:, lo], lead[:, lo] * (1 - w) + lead[:, hi] * w)
    out[:, pos < 0] = np.nan
    return out


def _check_unit(metric: Metric, draws: MetricDraws) -> None:
    unit = metric.threshold.unit
    kind = metric.threshold.kind
    if kind in ("at_least", "at_most", "cumulative_at_least") and unit and unit != draws.unit:
        raise ModelError(
            f"race {draws.industry}/{metric.role}: the threshold is in {unit!r} but the draws "
            f"are in {draws.unit!r}"
        )


def holds(metric: Metric, draws: MetricDraws) -> xr.DataArray:
    """Whether ``metric``'s threshold holds, bool (draw, nation, year) (see the module doc)."""
    ok = _holds(metric, draws)
    return xr.DataArray(ok, dims=draws.values.dims, coords=draws.values.coords)


def _holds(metric: Metric, draws: MetricDraws) -> np.ndarray:
    if metric.role != draws.role:
        raise ModelError(
            f"race {draws.industry}: draws of role {draws.role!r} given for the "
            f"{metric.role} metric {metric.name!r}"
        )
    _check_unit(metric, draws)
    v = np.asarray(draws.values.values, dtype=float)
    t = metric.threshold
    x = t.value
    lower = lower_is_better(metric)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if t.kind == "within_of_leader":
            lead = _leader(v, lower)
            if t.unit == "factor":
                ok = v <= lead[:, None, :] * x if lower else v >= lead[:, None, :] / x
            elif t.unit == "points":
                ok = v <= lead[:, None, :] + x if lower else v >= lead[:, None, :] - x
            elif t.unit == "years":
                past = _lagged(lead, draws.years, x)[:, None, :]
                ok = v <= past if lower else v >= past
            else:
                raise ModelError(f"race {draws.industry}: unknown within unit {t.unit!r}")
        elif t.kind == "at_least":
            ok = v >= x
        elif t.kind == "at_most":
            ok = v <= x
        elif t.kind == "share_at_least":
            share = v if draws.world is None else v / np.asarray(draws.world.values)[:, None, :]
            ok = share >= x
        elif t.kind == "cumulative_at_least":
            cum = v if metric.measure == "cumulative_sum" else np.cumsum(v, axis=2)
            ok = cum >= x
        elif t.kind == "parity":
            if t.reference == "leader":
                ref = _leader(v, lower=True)[:, None, :]
            elif t.reference == "level":
                ref = np.full((1, 1, 1), float(t.level))  # type: ignore[arg-type]
            else:
                nations = draws.nations
                if t.reference not in nations:
                    raise ModelError(
                        f"race {draws.industry}/{metric.role}: parity reference {t.reference} "
                        f"is not among the draws' nations {nations}"
                    )
                ref = v[:, [nations.index(str(t.reference))], :]
            ok = v <= (1.0 + x) * ref
        else:
            raise ModelError(f"race {draws.industry}: unknown threshold kind {t.kind!r}")
    return np.asarray(ok) & ~np.isnan(v)


@dataclass(frozen=True)
class Closing:
    """One industry's closing years and what they rest on (see the module doc).

    ``years``: float64 (draw, nation): the closing year; ``horizon + 1`` = not closed by the
    horizon; NaN = cannot be judged (no measured role). ``measured``: nation -> roles judged;
    ``unmeasured``: nation -> ((role, why), ...); ``last_observed``: nation -> O_n (None when no
    observed year was given); ``closed_year``: nation -> first year of the unbroken run closed
    in every draw up to O_n, None when not already closed.
    """

    industry: str
    horizon: int
    years: xr.DataArray
    measured: Mapping[str, tuple[str, ...]]
    unmeasured: Mapping[str, tuple[tuple[str, str], ...]]
    last_observed: Mapping[str, int | None]
    closed_year: Mapping[str, int | None]

    @property
    def nations(self) -> list[str]:
        return [str(n) for n in self.years["nation"].values]

    @property
    def not_closed(self) -> int:
        return self.horizon + 1

    def judged(self, nation: str) -> bool:
        return bool(self.measured[nation])


def _first_closing(h: np.ndarray, last: int) -> np.ndarray:
    """Per draw, the index of the closing year in a (draw, year) bool array with the last
    observed year at index ``last`` (-1: none); -1 where it never closes."""
    n_draws = h.shape[0]
    out = np.full(n_draws, -1, dtype=np.int64)
    if last >= 0:
        sub = ~h[:, : last + 1]
        rev = sub[:, ::-1]
        last_false = np.where(rev.any(axis=1), last - rev.argmax(axis=1), -1)
        held = h[:, last]
        out[held] = last_false[held] + 1
    later = h[:, last + 1 :]
    if later.shape[1]:
        hit = later.any(axis=1) & (out < 0)
        out[hit] = last + 1 + later[hit].argmax(axis=1)
    return out


def _on_grid(
    arr: np.ndarray, d: MetricDraws, nations: Sequence[str], years: np.ndarray, fill: object
) -> np.ndarray:
    """A (draw, nation, year) array of ``d``'s coordinates on ``nations`` x ``years``, ``fill``
    where ``d`` has no such nation or year."""
    src_n, src_y = d.nations, d.years
    if src_n == list(nations) and len(years):
        i0 = int(np.searchsorted(src_y, years[0]))
        if np.array_equal(src_y[i0 : i0 + len(years)], years):
            return arr[:, :, i0 : i0 + len(years)]  # a view
    out = np.full((arr.shape[0], len(nations), len(years)), fill, dtype=arr.dtype)
    n_pos = {n: i for i, n in enumerate(src_n)}
    y_pos = {int(y): i for i, y in enumerate(src_y)}
    dst_n = [i for i, n in enumerate(nations) if n in n_pos]
    dst_y = [i for i, y in enumerate(years) if int(y) in y_pos]
    take_n = [n_pos[nations[i]] for i in dst_n]
    take_y = [y_pos[int(years[i])] for i in dst_y]
    part = arr[:, take_n, :][:, :, take_y]
    out[:, np.asarray(dst_n, dtype=int)[:, None], np.asarray(dst_y, dtype=int)[None, :]] = part
    return out


def _competitors(d: MetricDraws, metric: Metric, nations: Sequence[str]) -> MetricDraws:
    """``d`` without nations outside the race (a parity reference nation is kept), so a leader
    is the best of the competing nations."""
    keep = [n for n in d.nations if n in nations or n == metric.threshold.reference]
    if keep == d.nations:
        return d
    return dataclasses.replace(d, values=d.values.sel(nation=keep))


def closing_years(
    industry: IndustrySpec,
    draws_by_role: Mapping[str, MetricDraws],
    *,
    horizon: int | None = None,
) -> Closing:
    """The closing year per draw and nation of ``industry`` from its metrics' draws (aligned on
    common draws, :func:`draws.align`), years up to ``horizon`` (default: the industry's)."""
    if industry.status != "data":
        raise ModelError(f"race {industry.id}: no data, nothing to close")
    horizon = int(horizon if horizon is not None else industry.horizon)  # type: ignore[arg-type]
    nations = [e.code for e in industry.nations]
    given = {r: d for r, d in draws_by_role.items() if d is not None}
    for role, d in given.items():
        if d.industry != industry.id or d.role != role:
            raise ModelError(f"race {industry.id}: draws for {role!r} are {d.industry}/{d.role}")
    counts = {d.n_draws for d in given.values()}
    if len(counts) > 1:
        raise ModelError(
            f"race {industry.id}: roles have different draw counts {sorted(counts)}; "
            "align them first (draws.align)"
        )
    years = np.array(
        sorted({int(y) for d in given.values() for y in d.years if int(y) <= horizon}), dtype=int
    )
    n_draws = counts.pop() if counts else 0
    if not len(years) or not n_draws:
        raise ModelError(f"race {industry.id}: no draws up to the horizon {horizon}")

    unmeasured: dict[str, list[tuple[str, str]]] = {n: [] for n in nations}
    measured: dict[str, list[str]] = {n: [] for n in nations}
    last: dict[str, int | None] = {n: None for n in nations}
    h_all = np.ones((n_draws, len(nations), len(years)), dtype=bool)
    for role in ROLES:
        metric = getattr(industry, role)
        if metric is None:
            continue
        if isinstance(metric, MissingMetric):
            for n in nations:
                unmeasured[n].append((role, metric.missing))
            continue
        if role not in given:
            for n in nations:
                unmeasured[n].append((role, "no projection given"))
            continue
        d = _competitors(given[role], metric, nations)
        h = _on_grid(_holds(metric, d), d, nations, years, False)
        known = ~np.isnan(_on_grid(d.values.values, d, nations, years, np.nan))
        for i, entry in enumerate(industry.nations):
            n = entry.code
            why = dict(entry.missing).get(role)
            if why is not None:
                unmeasured[n].append((role, why))
                continue
            if not known[:, i, :].any():
                unmeasured[n].append((role, "no draws for this nation"))
                continue
            measured[n].append(role)
            h_all[:, i, :] &= h[:, i, :]
            seen = d.observed_through.get(n)
            if seen is not None:
                last[n] = int(seen) if last[n] is None else min(last[n], int(seen))

    out = np.full((n_draws, len(nations)), np.nan)
    closed_year: dict[str, int | None] = {n: None for n in nations}
    for i, n in enumerate(nations):
        if not measured[n]:
            continue
        li = -1 if last[n] is None else int(np.searchsorted(years, last[n], side="right")) - 1
        idx = _first_closing(h_all[:, i, :], li)
        out[:, i] = np.where(idx >= 0, years[np.maximum(idx, 0)], horizon + 1)
        if li >= 0:
            every = h_all[:, i, : li + 1].all(axis=0)[None, :]
            start = _first_closing(every, li)[0]
            if every[0, li]:
                closed_year[n] = int(years[start])
    da = xr.DataArray(
        out,
        dims=("draw", "nation"),
        coords={"draw": np.arange(n_draws), "nation": nations},
        attrs={"horizon": horizon, "not_closed": horizon + 1, "industry": industry.id},
        name="closing_year",
    )
    return Closing(
        industry=industry.id,
        horizon=horizon,
        years=da,
        measured={n: tuple(r) for n, r in measured.items()},
        unmeasured={n: tuple(r) for n, r in unmeasured.items()},
        last_observed=last,
        closed_year=closed_year,
    )


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------

RACE_SCHEMA = {
    "industry": pl.String,
    "industry_name": pl.String,
    "nation": pl.String,  # null for an industry with no data
    "archetype": pl.String,
    "status": pl.String,  # "data" | "no data"
    "horizon": pl.Int32,
    "closing_q10": pl.Int32,  # 80% interval and median of the closing year; null = after horizon
    "closing_median": pl.Int32,
    "closing_q90": pl.Int32,
    "p_closed_by_horizon": pl.Float64,
    "already_closed": pl.Boolean,
    "closed_year": pl.Int32,
    "measured_roles": pl.String,  # e.g. "volume+cost"
    "unmeasured_roles": pl.String,  # e.g. "capability"; null when none
    "p_first": pl.Float64,  # first to close among the judged nations, ties split evenly
    "p_none_by_horizon": pl.Float64,  # the industry's: no judged nation closes by the horizon
    "leading_nation": pl.String,
    "leading_strategy": pl.String,  # archetype of the highest P(first), or "none by horizon"
    "note": pl.String,
    "n_draws": pl.Int32,
}


def _quantile_years(c: np.ndarray, horizon: int) -> list[int | None]:
    """The closing-year quantiles (draw values, inverted CDF); None past the horizon."""
    qs = np.quantile(c, QUANTILES, method="inverted_cdf")
    return [int(q) if q <= horizon else None for q in qs]


def first_probabilities(closing: Closing) -> tuple[dict[str, float], float]:
    """P(first) per judged nation (ties split evenly) and P(none by horizon)."""
    judged = [n for n in closing.nations if closing.judged(n)]
    c = closing.years.sel(nation=judged).values if judged else np.empty((0, 0))
    n_draws = closing.years.sizes["draw"]
    if not judged:
        return {}, 1.0
    earliest = c.min(axis=1)
    closed = earliest <= closing.horizon
    winners = (c == earliest[:, None]) & closed[:, None]
    k = winners.sum(axis=1)
    credit = np.divide(winners, k[:, None], out=np.zeros(c.shape), where=k[:, None] > 0)
    p = credit.sum(axis=0) / n_draws
    return {n: float(p[i]) for i, n in enumerate(judged)}, float(1.0 - closed.mean())


def _roles_text(roles: Sequence[str]) -> str:
    return " and ".join(roles) if len(roles) < 3 else ", ".join(roles[:-1]) + " and " + roles[-1]


def race_table(industry: IndustrySpec, closing: Closing | None) -> pl.DataFrame:
    """One row per (industry, nation) (see :data:`RACE_SCHEMA`); an industry with no data gives
    one row, status "no data", with the missing data named in ``note`` and no number."""
    if industry.status != "data":
        row = {k: None for k in RACE_SCHEMA} | {
            "industry": industry.id,
            "industry_name": industry.name,
            "status": NO_DATA,
            "note": f"no data: {industry.missing}",
        }
        return pl.DataFrame([row], schema=RACE_SCHEMA)
    if closing is None or closing.industry != industry.id:
        raise ModelError(f"race {industry.id}: no closing years given for an industry with data")
    p_first, p_none = first_probabilities(closing)
    lead_nation, lead_strategy = None, NONE_BY_HORIZON
    if p_first:
        best = max(p_first.values())
        if best >= p_none and best > 0:
            tied = [n for n, p in p_first.items() if p == best]
            arch = {e.code: e.archetype for e in industry.nations}
            lead_nation = " / ".join(tied)
            lead_strategy = " / ".join(sorted({arch[n] for n in tied}))
    h = closing.horizon
    rows = []
    for entry in industry.nations:
        n = entry.code
        c = closing.years.sel(nation=n).values
        measured = closing.measured[n]
        missing = closing.unmeasured[n]
        notes = []
        if not measured:
            notes.append("cannot be judged: no role measured")
        elif missing:
            notes.append(f"judged on {_roles_text(measured)} only")
        notes += [f"{role} unmeasured: {why}" for role, why in missing]
        if closing.closed_year[n] is not None:
            notes.append(f"closed in the data since {closing.closed_year[n]}")
        q = _quantile_years(c, h) if measured else [None, None, None]
        rows.append(
            {
                "industry": industry.id,
                "industry_name": industry.name,
                "nation": n,
                "archetype": entry.archetype,
                "status": "data",
                "horizon": h,
                "closing_q10": q[0],
                "closing_median": q[1],
                "closing_q90": q[2],
                "p_closed_by_horizon": float((c <= h).mean()) if measured else None,
                "already_closed": closing.closed_year[n] is not None,
                "closed_year": closing.closed_year[n],
                "measured_roles": "+".join(measured) or None,
                "unmeasured_roles": "+".join(r for r, _ in missing) or None,
                "p_first": p_first.get(n),
                "p_none_by_horizon": p_none,
                "leading_nation": lead_nation,
                "leading_strategy": lead_strategy,
                "note": "; ".join(notes) or None,
                "n_draws": closing.years.sizes["draw"],
            }
        )
    return pl.DataFrame(rows, schema=RACE_SCHEMA)


PAIR_SCHEMA = {
    "industry": pl.String,
    "nation_a": pl.String,
    "nation_b": pl.String,
    "p_a_first": pl.Float64,
    "p_b_first": pl.Float64,
    "p_tie": pl.Float64,  # both close in the same year, by the horizon
    "p_neither": pl.Float64,  # neither closes by the horizon
    "unmeasured_a": pl.String,
    "unmeasured_b": pl.String,
    "horizon": pl.Int32,
}


def pairwise(closing: Closing | Sequence[Closing], horizon: int | None = None) -> pl.DataFrame:
    """Per industry, each pair of nations once (A before B in the declared order): P(A closes
    first), P(B first), P(same year), P(neither by the horizon); the four sum to 1. A pair with
    a nation that cannot be judged has null probabilities. ``horizon`` (default: the closing's)
    may be earlier than the closing's, not later."""
    items = [closing] if isinstance(closing, Closing) else list(closing)
    rows = []
    for cl in items:
        h = cl.horizon if horizon is None else int(horizon)
        if h > cl.horizon:
            raise ModelError(f"race {cl.industry}: horizon {h} is past the closing's {cl.horizon}")
        nations = cl.nations
        for i, a in enumerate(nations):
            for b in nations[i + 1 :]:
                row = {
                    "industry": cl.industry,
                    "nation_a": a,
                    "nation_b": b,
                    "unmeasured_a": "+".join(r for r, _ in cl.unmeasured[a]) or None,
                    "unmeasured_b": "+".join(r for r, _ in cl.unmeasured[b]) or None,
                    "horizon": h,
                }
                if cl.judged(a) and cl.judged(b):
                    ca = cl.years.sel(nation=a).values
                    cb = cl.years.sel(nation=b).values
                    n = len(ca)
                    a_in, b_in = ca <= h, cb <= h
                    row |= {
                        "p_a_first": int((a_in & ~(b_in & (cb <= ca))).sum()) / n,
                        "p_b_first": int((b_in & ~(a_in & (ca <= cb))).sum()) / n,
                        "p_tie": int((a_in & b_in & (ca == cb)).sum()) / n,
                        "p_neither": int((~a_in & ~b_in).sum()) / n,
                    }
                rows.append(row)
    return pl.DataFrame(rows, schema=PAIR_SCHEMA)
