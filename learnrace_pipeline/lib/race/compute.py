"""The race from posteriors: every industry's metric draws, closing years, tables, scenarios.

Which projector serves a metric is decided by the metric itself (table, measure, role), so the
race file stays declarative:

| metric | projector | fit (:data:`FITS`) |
|---|---|---|
| measure ``learning_rate`` | :func:`.rates.learning_rate_draws` | ``solar_nation`` |
| ``ai_models`` ``running_max`` | :func:`.capability.ai_capability_draws` | ``ai_frontier`` |
| ``av_testing`` ``ratio_best_company`` | :func:`.capability.av_capability_draws` | ``av`` |
| ``av_testing`` ``cumulative_sum`` | :func:`.capability.av_volume_draws` | ``av`` |
| ``chip_products`` ``running_min`` | :func:`.capability.node_capability_draws` | ``node_frontier`` |
| other volume metrics | :func:`.volume.volume_draws` | ``deployment`` |
| cost role, national scope | :func:`.cost.cost_draws` | ``national_learning`` |
| cost role, world scope | :func:`.cost.cost_draws` | ``wright`` |
| a cost series as capability | :func:`.cost.cost_draws` on that series | ``wright`` |

Every metric is resampled onto ``n_draws`` common draws and the years ``FIRST_YEAR..horizon``
(:func:`.draws.align`, seeded), then :mod:`.closing` gives closing years, the race table and the
pairwise table. A scenario (:mod:`.scenarios`) changes the projectors' knobs; the same seed
gives the same random numbers, so a scenario's shift against the base case is the knob's
effect alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.race import capability, closing, cost, rates, scenarios, volume
from learnrace_pipeline.lib.race.draws import BASE, Knobs, MetricDraws, align
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, RaceSpec, Scenario, select_rows

#: Seed of the race's draws (every projector and the alignment derive theirs from it).
RACE_SEED = 20261206
#: Draws per industry after alignment.
N_DRAWS = 2000
#: First year of the race's common year grid (closing years before it count from it).
FIRST_YEAR = 1990
#: The fits the race reads, by name: the asset key of each.
FITS = {
    "solar_nation": "calibration/solar_nation_fit",
    "deployment": "calibration/deployment_fit",
    "national_learning": "calibration/national_learning_fit",
    "wright": "calibration/wright_fit",
    "ai_frontier": "calibration/ai_frontier_fit",
    "av": "calibration/av_saturating_fit",
    "node_frontier": "calibration/node_frontier_fit",
}

Projector = Callable[..., MetricDraws]


@dataclass(frozen=True)
class Route:
    """How one metric is projected: the fit it reads and the projector."""

    fit: str
    call: Projector


def _cost_as(role: str) -> Projector:
    """The cost projector applied to the industry's ``role`` metric (a cost series used as a
    capability, e.g. the US EV pack cost): the metric is projected as a cost and relabelled."""

    def call(
        fit: xr.DataTree,
        industry: IndustrySpec,
        years: Sequence[int],
        knobs: Knobs,
        *,
        tables: Mapping[str, pl.DataFrame],
        seed: int,
        n_draws: int,
    ) -> MetricDraws:
        metric = getattr(industry, role)
        as_cost = dataclasses.replace(
            industry, cost=dataclasses.replace(metric, role="cost"), capability=None, volume=None
        )
        d = cost.cost_draws(
            as_cost, fit, tables, years, knobs, seed=seed, n_draws=n_draws, via_wright=True
        )
        return dataclasses.replace(d, role=role)

    return call


def _cost(
    fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    knobs: Knobs,
    *,
    tables: Mapping[str, pl.DataFrame],
    seed: int,
    n_draws: int,
) -> MetricDraws:
    return cost.cost_draws(industry, fit, tables, years, knobs, seed=seed, n_draws=n_draws)


def _no_tables(f: Callable[..., MetricDraws]) -> Projector:
    def call(fit, industry, years, knobs, *, tables, seed, n_draws):
        return f(fit, industry, years, knobs, seed=seed, n_draws=n_draws)

    return call


def _rates(fit, industry, years, knobs, *, tables, seed, n_draws):
    metric = industry.capability
    assert isinstance(metric, Metric)
    rows = select_rows(metric, tables)
    last = {
        str(n): int(y)
        for n, y in rows.group_by(metric.nation_column)
        .agg(pl.col(metric.time_column).max())
        .iter_rows()
    }
    return rates.learning_rate_draws(
        fit, industry, years, seed=seed, n_draws=n_draws, observed_through=last
    )


def route(industry: IndustrySpec, role: str) -> Route | None:
    """The projector of ``industry``'s ``role`` metric (module table); None where the role is
    missing or not declared."""
    metric = getattr(industry, role)
    if not isinstance(metric, Metric):
        return None
    if metric.measure == "learning_rate":
        return Route("solar_nation", _rates)
    if metric.table == "ai_models" and metric.measure == "running_max":
        return Route("ai_frontier", _no_tables(capability.ai_capability_draws))
    if metric.table == "av_testing" and metric.measure == "ratio_best_company":
        return Route("av", _no_tables(capability.av_capability_draws))
    if metric.table == "av_testing" and metric.measure == "cumulative_sum":
        return Route("av", _no_tables(capability.av_volume_draws))
    if metric.table == "chip_products" and metric.measure == "running_min":
        return Route("node_frontier", _no_tables(capability.node_capability_draws))
    if role == "volume":
        return Route("deployment", _no_tables(volume.volume_draws))
    if role == "cost":
        return Route("national_learning" if metric.scope == "national" else "wright", _cost)
    if metric.table == "cost_observations":
        return Route("wright", _cost_as(role))
    raise ModelError(
        f"race {industry.id}: no projector for the {role} metric {metric.name!r} "
        f"({metric.table}, {metric.measure})"
    )


def unavailable(route_: Route, fit: xr.DataTree, metric: Metric) -> str | None:
    """Why ``fit`` cannot project ``metric`` (None when it can): a pooled Wright fit restricted
    to some industries (``CalibrationSettings.industries``) may lack the metric's series."""
    if route_.fit != "wright":
        return None
    ids = [str(i) for i in dict(metric.filter).get("series_id", ())]
    post = fit["posterior"]
    fitted = {str(s) for s in post["series"].values} if "series" in post.coords else set()
    missing = [i for i in ids if i not in fitted]
    return f"the pooled Wright fit has no series {', '.join(missing)}" if missing else None


def industry_draws(
    industry: IndustrySpec,
    fits: Mapping[str, xr.DataTree],
    tables: Mapping[str, pl.DataFrame],
    knobs: Knobs = BASE,
    *,
    seed: int = RACE_SEED,
    n_draws: int = N_DRAWS,
) -> dict[str, MetricDraws]:
    """Every measured metric of ``industry`` as draws on common draws and years. A metric the
    given fit cannot project (:func:`unavailable`) is left out, so the closing engine reports
    that half as unmeasured."""
    years = list(range(FIRST_YEAR, int(industry.horizon) + 1))  # type: ignore[arg-type]
    out: dict[str, MetricDraws] = {}
    for k, role in enumerate(("capability", "volume", "cost")):
        r = route(industry, role)
        if r is None:
            continue
        if r.fit not in fits:
            raise ModelError(f"race {industry.id}: the {role} metric needs the fit {FITS[r.fit]}")
        if unavailable(r, fits[r.fit], getattr(industry, role)) is not None:
            continue
        out[role] = r.call(
            fits[r.fit], industry, years, knobs, tables=tables, seed=seed + k, n_draws=n_draws
        )
    return align(out, n_draws, years, seed)


@dataclass(frozen=True)
class RaceResult:
    """The race of one scenario (None = base case): per industry and nation, per pair."""

    scenario: str | None
    race: pl.DataFrame
    pairwise: pl.DataFrame
    closings: dict[str, closing.Closing]
    draws: dict[str, dict[str, MetricDraws]]


def run_race(
    spec: RaceSpec,
    fits: Mapping[str, xr.DataTree],
    tables: Mapping[str, pl.DataFrame],
    scenario: Scenario | None = None,
    *,
    industries: Sequence[str] | None = None,
    seed: int = RACE_SEED,
    n_draws: int = N_DRAWS,
) -> RaceResult:
    """The race of every industry (or those named) under ``scenario``."""
    race_rows: list[pl.DataFrame] = []
    pair_rows: list[pl.DataFrame] = []
    closings: dict[str, closing.Closing] = {}
    draws: dict[str, dict[str, MetricDraws]] = {}
    for ind in spec.industries:
        if industries is not None and ind.id not in industries:
            continue
        if ind.status != "data":
            race_rows.append(closing.race_table(ind, None))
            continue
        knobs = scenarios.knobs_for(spec, scenario, ind.id)
        d = industry_draws(ind, fits, tables, knobs, seed=seed, n_draws=n_draws)
        c = closing.closing_years(ind, d)
        closings[ind.id] = c
        draws[ind.id] = d
        race_rows.append(closing.race_table(ind, c))
        pair_rows.append(closing.pairwise(c))
    name = scenario.name if scenario is not None else None
    race = pl.concat(race_rows, how="vertical_relaxed") if race_rows else pl.DataFrame()
    pairs = pl.concat(pair_rows, how="vertical_relaxed") if pair_rows else pl.DataFrame()
    return RaceResult(name, race, pairs, closings, draws)


def scenario_rows(base: pl.DataFrame, scenario: RaceResult) -> pl.DataFrame:
    """A scenario's race rows with its shift against the base case (``scenarios.scenario_shift``:
    closing-year median shift in years, its direction, the P(closed) and P(first) shifts)."""
    shift = scenarios.scenario_shift(base, scenario.race)
    return scenario.race.join(
        shift.select(
            "industry",
            "nation",
            "median_shift",
            "median_direction",
            "p_closed_shift",
            "p_first_shift",
        ),
        on=["industry", "nation"],
        how="left",
        nulls_equal=True,
    ).with_columns(pl.lit(scenario.scenario).alias("scenario"))
