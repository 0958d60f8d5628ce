"""Projected draws of one race metric: what every model hands the race.

A :class:`MetricDraws` holds one industry's capability, volume or cost metric for its competing
nations, year by year, as joint posterior draws:

- ``values``: ``xarray.DataArray`` of dims ``("draw", "nation", "year")``, float64, in the
  metric's declared unit (``race.yaml``). Draw ``d`` of every nation comes from the same posterior
  draw, so quantities of several nations (who leads, who is first) are joint.
- Years up to ``observed_through[nation]`` hold the observed figure (the same in every draw);
  later years hold posterior predictive draws.
- NaN means unknown: a nation the data does not cover (a declared gap) or a year outside what
  the model projects. The race never reads NaN as a pass or as zero.
- ``world``: for share thresholds of volume metrics, the world total per draw and year when the
  metric is a level (e.g. units per year); None when ``values`` already is a share.

Draw counts differ between models; :func:`align` resamples every metric of an industry to a
common number of draws with one seeded generator, so the race's draws are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError

DIMS = ("draw", "nation", "year")


@dataclass(frozen=True)
class Knobs:
    """A scenario's changes to the models' parameters, per nation (empty = the base case).

    Each projector reads the knobs it knows and ignores the rest:

    - ``compute_growth_cap``: nation -> the largest growth of its training-compute record, log10
      FLOP per year (the AI capability projection);
    - ``deployment_growth_scale``: nation -> factor on its deployment growth rate (volume);
    - ``spillover_lambda``: nation -> lambda set (1 = learns from its own deployment only; cost);
    - ``research_rate_scale``: nation -> factor on its time/research drift (cost, capability).
    """

    compute_growth_cap: Mapping[str, float] = field(default_factory=dict)
    deployment_growth_scale: Mapping[str, float] = field(default_factory=dict)
    spillover_lambda: Mapping[str, float] = field(default_factory=dict)
    research_rate_scale: Mapping[str, float] = field(default_factory=dict)

    def is_base(self) -> bool:
        return not (
            self.compute_growth_cap
            or self.deployment_growth_scale
            or self.spillover_lambda
            or self.research_rate_scale
        )


BASE = Knobs()
ROLES = ("capability", "volume", "cost")


@dataclass(frozen=True)
class MetricDraws:
    """One industry's metric for its nations: draws x nation x year (see the module doc)."""

    industry: str
    role: str  # capability | volume | cost
    values: xr.DataArray  # dims (draw, nation, year), the metric's unit
    unit: str
    source: str  # what produced the projection, e.g. "calibration/ai_frontier_fit"
    observed_through: Mapping[str, int] = field(default_factory=dict)  # nation -> last year
    world: xr.DataArray | None = None  # dims (draw, year): world total, for shares of a level

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ModelError(f"race draws {self.industry}/{self.role}: unknown role")
        if tuple(self.values.dims) != DIMS:
            raise ModelError(
                f"race draws {self.industry}/{self.role}: dims {tuple(self.values.dims)}, "
                f"expected {DIMS}"
            )
        if self.world is not None and tuple(self.world.dims) != ("draw", "year"):
            raise ModelError(
                f"race draws {self.industry}/{self.role}: world dims must be (draw, year)"
            )

    @property
    def nations(self) -> list[str]:
        return [str(n) for n in self.values["nation"].values]

    @property
    def years(self) -> np.ndarray:
        return np.asarray(self.values["year"].values, dtype=int)

    @property
    def n_draws(self) -> int:
        return int(self.values.sizes["draw"])


def make_draws(
    industry: str,
    role: str,
    array: np.ndarray,
    nations: Sequence[str],
    years: Sequence[int],
    *,
    unit: str,
    source: str,
    observed_through: Mapping[str, int] | None = None,
    world: np.ndarray | None = None,
) -> MetricDraws:
    """A :class:`MetricDraws` from a ``(draw, nation, year)`` array (and a ``(draw, year)``
    world total)."""
    arr = np.asarray(array, dtype=float)
    if arr.shape[1:] != (len(nations), len(years)):
        raise ModelError(
            f"race draws {industry}/{role}: array shape {arr.shape} does not match "
            f"{len(nations)} nations x {len(years)} years"
        )
    coords = {"draw": np.arange(arr.shape[0]), "nation": list(nations), "year": list(years)}
    values = xr.DataArray(arr, dims=DIMS, coords=coords, attrs={"unit": unit})
    w = None
    if world is not None:
        w = xr.DataArray(
            np.asarray(world, dtype=float),
            dims=("draw", "year"),
            coords={"draw": coords["draw"], "year": coords["year"]},
            attrs={"unit": unit},
        )
    return MetricDraws(industry, role, values, unit, source, dict(observed_through or {}), world=w)


def align(
    metrics: Mapping[str, MetricDraws], n_draws: int, years: Sequence[int], seed: int
) -> dict[str, MetricDraws]:
    """Every metric resampled to ``n_draws`` draws (with replacement, one seeded generator,
    metrics taken in sorted role order) on the common ``years`` (NaN where a metric has no year).

    Each metric keeps its nations' draws together; different metrics are resampled
    independently, which is exact when they come from separate fits (as every race metric does).
    """
    rng = np.random.default_rng(seed)
    out: dict[str, MetricDraws] = {}
    for role in sorted(metrics):
        m = metrics[role]
        idx = rng.integers(0, m.n_draws, size=n_draws)
        v = m.values.isel(draw=idx).reindex(year=list(years))
        v = v.assign_coords(draw=np.arange(n_draws))
        w = None
        if m.world is not None:
            w = m.world.isel(draw=idx).reindex(year=list(years))
            w = w.assign_coords(draw=np.arange(n_draws))
        out[role] = MetricDraws(
            m.industry, m.role, v, m.unit, m.source, dict(m.observed_through), world=w
        )
    return out
