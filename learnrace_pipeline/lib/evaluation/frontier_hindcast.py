"""Hindcast of the AI frontier model: from past origins, forecast each nation's record one and two
years ahead and score the intervals against what happened.

For each origin (default 2018-01-01, 2020-01-01, 2022-01-01) the frontier model
(:mod:`learnrace_pipeline.lib.models.frontier`) is fitted to the models published **before** the
origin only (:func:`training_view`; the fit's data end is the day before the origin). For each
modelled nation and horizon h (1 and 2 years) its frontier at origin + h is drawn
(:func:`~learnrace_pipeline.lib.models.frontier_posterior.frontier_draws`) and compared with its
actual record then: the largest training compute (log10 FLOP) of its models published on or
before that date in the full table. A nation reported as insufficient data at an origin has no
forecast and is not scored.

Scores per forecast: the 5/25/50/75/95% quantiles, whether the central 50% and 90% intervals
contain the actual record (bounds included: a forecast with no new record has an atom at the
record at the origin, which is often its lower quantiles too), and whether a new record was
set. :func:`coverage_table` sums them by horizon and overall.

The organization -> nation map is today's (ownership as of 2024-06-30) at every origin; no other
information from after an origin reaches its fit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt_
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.models.frontier import FRONTIER_SAMPLER, fit_frontier
from learnrace_pipeline.lib.models.frontier_data import FrontierConfig
from learnrace_pipeline.lib.models.frontier_posterior import (
    FORECAST_SEED,
    frontier_draws,
    modelled_nations,
    record_at,
)
from learnrace_pipeline.lib.models.groups import QUANTILES, SAMPLE_DIMS

ORIGINS = ("2018-01-01", "2020-01-01", "2022-01-01")
HORIZONS = (1, 2)

Fitter = Callable[[pl.DataFrame, FrontierConfig, SamplerConfig], xr.DataTree]


@dataclass(frozen=True)
class FrontierHindcastSettings:
    """Origins (ISO dates), horizons (whole years), the frontier config (its ``end`` is set to
    each origin), the sampler and the seed of the forecast draws."""

    origins: tuple[str, ...] = ORIGINS
    horizons: tuple[int, ...] = HORIZONS
    config: FrontierConfig = field(default_factory=FrontierConfig)
    sampler: SamplerConfig = FRONTIER_SAMPLER
    seed: int = FORECAST_SEED


def training_view(ai_models: pl.DataFrame, origin: dt_.date) -> pl.DataFrame:
    """The rows an origin's fit may see: models published before ``origin``."""
    return ai_models.filter(pl.col("publication_date") < origin)


def actual_records(ai_models: pl.DataFrame, when: dt_.date) -> pl.DataFrame:
    """Each nation's record at ``when`` in the full table: nation, actual_log10_flop,
    actual_model (the largest compute of its models published on or before ``when``)."""
    return (
        ai_models.filter(
            pl.col("nation").is_not_null()
            & pl.col("training_compute_flop").is_not_null()
            & (pl.col("publication_date") <= when)
        )
        .sort("training_compute_flop")
        .group_by("nation")
        .agg(
            pl.col("training_compute_flop").last().log10().alias("actual_log10_flop"),
            pl.col("model").last().alias("actual_model"),
        )
    )


def _add_years(d: dt_.date, years: int) -> dt_.date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def _fit(ai: pl.DataFrame, cfg: FrontierConfig, sampler: SamplerConfig) -> xr.DataTree:
    return fit_frontier(ai, cfg, sampler)


def forecast_rows(
    dt: xr.DataTree, ai_models: pl.DataFrame, origin: dt_.date, horizons, seed: int
) -> list[dict]:
    """One scored row per modelled nation and horizon of a fit made at ``origin`` (horizons
    whose target date is after the table's last publication date are skipped)."""
    rows = []
    start = record_at(dt, origin)
    start_map = dict(zip(start["nation"], start["log10_flop"], strict=True))
    last = ai_models["publication_date"].max()
    for h in horizons:
        target = _add_years(origin, h)
        if target > last:  # the table cannot say what the record was then
            continue
        f = frontier_draws(dt, target, seed=seed)
        q = f.quantile(list(QUANTILES), dim=SAMPLE_DIMS)
        actual = actual_records(ai_models, target)
        amap = {r["nation"]: r for r in actual.iter_rows(named=True)}
        for n in modelled_nations(dt):
            qs = [float(q.sel(quantile=v, nation=n)) for v in QUANTILES]
            y = float(amap[n]["actual_log10_flop"])
            rows.append(
                {
                    "origin": origin,
                    "horizon_years": h,
                    "target_date": target,
                    "nation": n,
                    "record_at_origin": float(start_map[n]),
                    "actual_log10_flop": y,
                    "actual_model": amap[n]["actual_model"],
                    "new_record": bool(y > start_map[n] + 1e-9),
                    **{f"q{round(v * 100):02d}": x for v, x in zip(QUANTILES, qs, strict=True)},
                    "in_50": bool(qs[1] <= y <= qs[3]),
                    "in_90": bool(qs[0] <= y <= qs[4]),
                }
            )
    return rows


def run_frontier_hindcast(
    ai_models: pl.DataFrame,
    settings: FrontierHindcastSettings | None = None,
    fitter: Fitter = _fit,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(forecasts, origins): one scored row per origin, horizon and modelled nation
    (:func:`forecast_rows`), and one row per origin with the fit's diagnostics (origin,
    n_models seen, last date seen, nations modelled, max R-hat, min bulk ESS, divergences)."""
    s = settings or FrontierHindcastSettings()
    rows, diag = [], []
    for o in s.origins:
        origin = dt_.date.fromisoformat(o)
        train = training_view(ai_models, origin)
        dt = fitter(train, dataclasses.replace(s.config, end=o), s.sampler)
        rows += forecast_rows(dt, ai_models, origin, s.horizons, s.seed)
        check = check_fit(dt)
        diag.append(
            {
                "origin": origin,
                "n_models": train.height,
                "last_date_seen": train["publication_date"].max(),
                "nations": ",".join(modelled_nations(dt)),
                "rhat_max": check.rhat_max,
                "ess_bulk_min": check.ess_bulk_min,
                "divergences": check.divergences,
            }
        )
    return pl.DataFrame(rows), pl.DataFrame(diag)


def coverage_table(forecasts: pl.DataFrame) -> pl.DataFrame:
    """Coverage of the 50% and 90% intervals by horizon and overall: horizon ("1", "2",
    "all"), n forecasts, new_records (how many saw one), coverage_50, coverage_90."""

    def agg(df: pl.DataFrame, label: str) -> dict:
        return {
            "horizon": label,
            "n": df.height,
            "new_records": int(df["new_record"].sum()),
            "coverage_50": float(df["in_50"].mean()) if df.height else np.nan,
            "coverage_90": float(df["in_90"].mean()) if df.height else np.nan,
        }

    out = [
        agg(forecasts.filter(pl.col("horizon_years") == h), str(h))
        for h in sorted(forecasts["horizon_years"].unique())
    ]
    return pl.DataFrame([*out, agg(forecasts, "all")])
