"""Time-trend panels: every cost series (production or not), and performance series sign-flipped.

The time-trend (Moore) model ``dlogc = -m dt + noise`` needs no production, so its panel takes
every cost-like series of ``cost_observations`` with at least ``min_points`` years, one series
per technology and nation (:mod:`.selection`). Farmer & Lafond (2016) forecast exactly such
series with a time trend.

A **performance** series ``p`` (higher is better: FLOP/s, transistors per chip) enters as its
reciprocal ``1/p``, so ``dlogc = -dlog p`` and the fitted ``m`` is the improvement rate of ``p``
in log units per year (doubling time ``ln 2 / m`` years): Moore's law in the same pooled
form as the cost series' time trends.

Both are :class:`.panel.Panel` objects with ``has_experience=False``: ``dlogq`` is 0 and
``cumulative_production`` null, and only ``LearningConfig(trend="time")`` fits them.
``Panel.meta["performance"]`` records the sign flip.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from learnrace_pipeline.lib.models.learning.panel import (
    COST_METRIC_KINDS,
    Panel,
    cost_with_technology,
    finish_panel,
)

PERFORMANCE_METRIC_KINDS = ("performance",)


def build_time_panel(
    cost_observations: pl.DataFrame,
    technologies: pl.DataFrame,
    *,
    min_points: int = 6,
    performance: bool = False,
    series_ids: Iterable[str] | None = None,
    one_per_technology: bool = True,
) -> Panel:
    """The time-trend panel of every cost-like series (``performance=False``) or every
    performance series, reciprocal (``performance=True``), with ``>= min_points`` years.

    Raises:
        DataError: non-positive values, series unknown to ``technologies``, nothing left.
    """
    kinds = PERFORMANCE_METRIC_KINDS if performance else COST_METRIC_KINDS
    excluded: list[dict] = []
    levels = cost_with_technology(
        cost_observations, technologies, kinds, series_ids, None, excluded
    )
    if performance:
        levels = levels.with_columns((1.0 / pl.col("unit_cost")).alias("unit_cost"))
    levels = levels.with_columns(
        pl.lit(None, pl.Float64).alias("cumulative_production"),
        pl.lit(None, pl.String).alias("production_unit"),
    )
    panel = finish_panel(
        levels,
        excluded,
        min_points,
        has_world=False,
        one_per_technology=one_per_technology,
        has_experience=False,
    )
    panel.meta["performance"] = performance
    return panel
