"""What the ledger keeps of a race: forecast quantiles of every projected year, closing years,
and the observed figures that later data scores them against.

- :func:`forecast_rows`: per industry, nation and measured role, the metric's 5..95% quantiles
  in every year after the nation's last observed year up to the horizon (the metric's unit), and
  the closing year's quantiles (``inf`` = not closed by the horizon) with P(closed by the
  horizon), in the ledger's schema (:data:`.ledger.FORECAST_SCHEMA`).
- :func:`observed_rows`: each nation's observed yearly figure of every race metric
  (:func:`.observed.observed_metric`; the share for share thresholds), in the ledger's observed
  schema; the learning-rate metric has no yearly observation and is left out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

from learnrace_pipeline.lib.race import ledger
from learnrace_pipeline.lib.race.closing import Closing
from learnrace_pipeline.lib.race.draws import MetricDraws
from learnrace_pipeline.lib.race.observed import observed_metric
from learnrace_pipeline.lib.race.spec import Metric, RaceSpec

LEVELS = np.asarray(ledger.LEVELS)


def _metric_rows(d: MetricDraws, horizon: int) -> list[dict]:
    rows: list[dict] = []
    years = d.years
    values = d.values.values  # (draw, nation, year)
    world = d.world.values if d.world is not None else None
    for j, nation in enumerate(d.nations):
        last = d.observed_through.get(nation)
        if last is None:
            continue
        for k, year in enumerate(years):
            if year <= last or year > horizon:
                continue
            v = values[:, j, k]
            if world is not None:
                v = v / world[:, k]
            v = v[np.isfinite(v)]
            if v.size < 0.9 * values.shape[0]:
                continue  # the model does not project this year for most draws
            q = np.quantile(v, LEVELS)
            rows.append(
                {
                    "industry": d.industry,
                    "nation": nation,
                    "quantity": d.role,
                    "target_year": int(year),
                    "unit": "fraction" if world is not None else d.unit,
                    **dict(zip(ledger.QCOLS, q.tolist(), strict=True)),
                }
            )
    return rows


def _closing_rows(c: Closing) -> list[dict]:
    rows: list[dict] = []
    years = c.years.values
    for j, nation in enumerate(c.years["nation"].values):
        y = years[:, j]
        if not np.isfinite(y).any():
            continue
        y = np.where(y > c.horizon, np.inf, y)
        q = np.quantile(y, LEVELS, method="inverted_cdf")
        rows.append(
            {
                "industry": c.industry,
                "nation": str(nation),
                "quantity": ledger.CLOSING,
                "target_year": int(c.horizon),
                "unit": "year",
                **dict(zip(ledger.QCOLS, q.tolist(), strict=True)),
                "p_closed": float(np.isfinite(y).mean()),
            }
        )
    return rows


def forecast_rows(
    draws: Mapping[str, Mapping[str, MetricDraws]],
    closings: Mapping[str, Closing],
) -> pl.DataFrame:
    """The ledger rows of one race (see the module doc), checked by
    :func:`.ledger.forecast_rows`."""
    rows: list[dict] = []
    for ind, by_role in draws.items():
        horizon = int(closings[ind].horizon)
        for d in by_role.values():
            rows.extend(_metric_rows(d, horizon))
        rows.extend(_closing_rows(closings[ind]))
    if not rows:
        return pl.DataFrame(schema=ledger.FORECAST_SCHEMA)
    return ledger.forecast_rows(pl.DataFrame(rows, infer_schema_length=None))


def observed_rows(spec: RaceSpec, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """Every race metric's observed yearly figure per competing nation (the share where the
    threshold is a share of the world), in the ledger's observed schema."""
    frames: list[pl.DataFrame] = []
    for ind in spec.industries:
        if ind.status != "data":
            continue
        for role in ("capability", "volume", "cost"):
            metric = getattr(ind, role)
            if not isinstance(metric, Metric) or metric.measure == "learning_rate":
                continue
            obs = observed_metric(ind, metric, tables)
            use_share = (
                metric.threshold.kind == "share_at_least" and obs["share"].is_not_null().any()
            )
            col = "share" if use_share else "value"
            frames.append(
                obs.filter(pl.col(col).is_not_null() & pl.col(col).is_finite()).select(
                    pl.lit(ind.id).alias("industry"),
                    "nation",
                    pl.lit(role).alias("quantity"),
                    "year",
                    pl.col(col).alias("value"),
                )
            )
    if not frames:
        return pl.DataFrame(schema=ledger.OBSERVED_SCHEMA)
    return (
        pl.concat(frames)
        .unique(["industry", "nation", "quantity", "year"], keep="first")
        .sort("industry", "nation", "quantity", "year")
    )
