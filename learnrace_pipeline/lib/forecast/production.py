"""Production paths of the pooled-prior forecaster (:mod:`.forecaster`).

For every forecast year the forecaster needs log cumulative production (in the input's
production units). :func:`prepare_targets` labels each target year:

- ``given``: cumulative production is in the input for that year (the forecast is conditional on
  it, as in the distributional forecasts of Lafond et al. 2018);
- ``interpolated``: between two years of known production, log cumulative production is
  interpolated linearly in the year;
- ``projected``: after the last year of known production, log annual production follows a
  damped trend fitted to the series' own annual history (:func:`production_model`, at least 3
  years) and is simulated with parameter uncertainty (:func:`project`)::

      log a[T + j] = log a[T + j - 1] + g phi^(j - 1) + e[j],   e[j] ~ N(0, s_q^2)
      g ~ N(g_hat, s_q^2 / span),   s_q^2 ~ (m - 1) s^2 / chi2(m - 1)

  (``g_hat`` the mean yearly growth over the history's ``span`` years, ``s^2`` the variance of
  its yearly growth around it over ``m`` differences). ``phi = 1`` is the random walk with drift;
  ``phi < 1`` lets growth fade (total further growth at most ``g / (1 - phi)`` in logs), so a
  series that grew 50% a year is not projected to keep that pace for a decade. Cumulative
  production adds the simulated annual production to the last known cumulative value.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from learnrace_pipeline.lib.forecast.streams import SeriesStreams, production_stream
from learnrace_pipeline.lib.forecast.types import ForecastTask


def production_model(annual: pl.DataFrame | None, series: list[str]) -> dict[str, np.ndarray]:
    """Per series: growth estimates of log annual production (RW with drift), NaN if < 3 years."""
    n = len(series)
    out = {k: np.full(n, np.nan) for k in ("g_hat", "s2", "span", "m", "last_year", "last_lq")}
    if annual is None or annual.height == 0:
        return out
    a = annual.filter(pl.col("series_id").is_in(series)).sort("series_id", "year")
    stats_ = (
        a.with_columns(
            (pl.col("log_annual") - pl.col("log_annual").shift(1)).over("series_id").alias("d"),
            (pl.col("year") - pl.col("year").shift(1)).over("series_id").alias("k"),
        )
        .group_by("series_id")
        .agg(
            pl.col("year").first().alias("y0"),
            pl.col("year").last().alias("y1"),
            pl.col("log_annual").first().alias("l0"),
            pl.col("log_annual").last().alias("l1"),
            pl.col("d").drop_nulls().alias("d"),
            pl.col("k").drop_nulls().alias("k"),
        )
    )
    pos = {s: i for i, s in enumerate(series)}
    for r in stats_.iter_rows(named=True):
        i = pos[r["series_id"]]
        m = len(r["d"])
        span = float(r["y1"] - r["y0"])
        out["last_year"][i] = r["y1"]
        out["last_lq"][i] = r["l1"]
        if m < 2 or span <= 0:
            continue
        g = (r["l1"] - r["l0"]) / span
        d = np.asarray(r["d"], float)
        k = np.asarray(r["k"], float)
        out["g_hat"][i] = g
        out["s2"][i] = float(np.sum((d - g * k) ** 2 / k) / (m - 1))
        out["span"][i] = span
        out["m"][i] = m
    return out


def prepare_targets(task: ForecastTask, series: list[str], last_year: np.ndarray) -> pl.DataFrame:
    """Targets with horizon, the kind of production path, and the last known production."""
    t = task.targets.sort("series_id", "year").select("series_id", "year", "log_q")
    known = pl.concat(
        [
            task.obs.select("series_id", "year", "log_q"),
            t.filter(pl.col("log_q").is_not_null()),
        ]
    ).with_columns(pl.lit(True).alias("_known"))
    unknown = t.filter(pl.col("log_q").is_null()).with_columns(pl.lit(False).alias("_known"))
    both = pl.concat([known, unknown]).sort("series_id", "year")
    yk = pl.when(pl.col("_known")).then(pl.col("year"))
    lk = pl.when(pl.col("_known")).then(pl.col("log_q"))
    both = both.with_columns(
        yk.forward_fill().over("series_id").alias("py"),
        lk.forward_fill().over("series_id").alias("plq"),
        yk.backward_fill().over("series_id").alias("ny"),
        lk.backward_fill().over("series_id").alias("nlq"),
    ).with_columns(
        (
            pl.col("plq")
            + (pl.col("nlq") - pl.col("plq"))
            * (pl.col("year") - pl.col("py")).cast(pl.Float64)
            / (pl.col("ny") - pl.col("py")).cast(pl.Float64)
        ).alias("lq_interp")
    )
    interp = both.filter(~pl.col("_known")).select("series_id", "year", "lq_interp")
    last_known = (
        known.sort("series_id", "year")
        .group_by("series_id")
        .agg(pl.col("year").last().alias("lk_year"), pl.col("log_q").last().alias("lk_lq"))
    )
    pos = {s: i for i, s in enumerate(series)}
    t = (
        t.join(interp, on=["series_id", "year"], how="left")
        .join(last_known, on="series_id", how="left")
        .with_columns(
            pl.when(pl.col("log_q").is_not_null())
            .then(pl.lit("given"))
            .when(pl.col("lq_interp").is_not_null())
            .then(pl.lit("interpolated"))
            .otherwise(pl.lit("projected"))
            .alias("production"),
            pl.coalesce("log_q", "lq_interp").alias("lq_fixed"),
            pl.col("series_id").replace_strict(pos, return_dtype=pl.Int64).alias("_i"),
        )
    )
    t = t.with_columns(
        (pl.col("year") - pl.lit(pl.Series(last_year.astype(np.int64))).gather(pl.col("_i")))
        .cast(pl.Int64)
        .alias("horizon")
    )
    return t.sort("_i", "year")


def project(
    tg: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    ti: np.ndarray,
    k: int,
    rng: np.random.Generator | SeriesStreams,
    damping: float = 1.0,
) -> np.ndarray:
    """Simulated log cumulative production at projected targets ``(n_proj, K)``; ``damping`` is
    phi of the damped trend (module docstring)."""
    proj = tg["projected"]
    series = np.unique(ti)
    out = np.empty((ti.size, k))
    hp_all = tg["hp"][proj]
    streams = rng
    for i in series:  # one simulation per series, shared by its projected targets
        rng = production_stream(streams, int(i))
        rows = np.flatnonzero(ti == i)
        hp = hp_all[rows]
        m, s2, span, g_hat = prod["m"][i], prod["s2"][i], prod["span"][i], prod["g_hat"][i]
        sq2 = s2 * (m - 1) / rng.chisquare(m - 1, size=k)
        g = g_hat + np.sqrt(sq2 / span) * rng.standard_normal(k)
        steps = int(hp.max())
        shocks = np.sqrt(sq2)[:, None] * rng.standard_normal((k, steps))
        fade = damping ** np.arange(steps)
        lq = prod["lq_last"][i] + np.cumsum(g[:, None] * fade[None, :] + shocks, axis=1)
        z = np.exp(prod["lz_last"][i]) + np.cumsum(np.exp(lq), axis=1)
        out[rows] = np.log(z[:, hp - 1]).T
    return out
