"""Cumulative production from annual production.

Where a source gives annual production only, cumulative production through year t is

    Z_t = Z_0 + sum_{s <= t} q_s,

with the initial stock Z_0 estimated as in Lafond et al. (2018, "How well do experience curves
predict technological progress?", TFSC 128): production before the first observation is assumed to
have grown at the early growth rate g, so Z_0 = q_1 / g, with g the mean log growth rate of annual
production over the first ``early_years`` transitions (converted to a simple rate, exp(g) - 1).
When g is not positive (flat or falling early production) Z_0 cannot be estimated that way: the
stock then starts at zero and the method column says ``sum_from_first_year``.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

EARLY_YEARS = 5


def initial_stock(annual: np.ndarray, early_years: int = EARLY_YEARS) -> float | None:
    """Lafond et al. 2018 initial stock q1 / g, or None when g <= 0 or undefined.

    ``annual`` is annual production in year order (positive values only are used for g).
    """
    q = np.asarray(annual, dtype=float)
    q = q[np.isfinite(q)]
    if q.size < 2 or q[0] <= 0:
        return None
    head = q[: early_years + 1]
    head = head[head > 0]
    if head.size < 2:
        return None
    g_log = float(np.mean(np.diff(np.log(head))))
    g = math.expm1(g_log)
    if not g > 0:
        return None
    return float(q[0] / g)


def derive_cumulative(
    df: pl.DataFrame, by: list[str], year: str = "year", annual: str = "annual_production"
) -> pl.DataFrame:
    """Add ``cumulative_production`` and ``cumulative_method`` to rows that have annual production.

    Rows are ordered by ``year`` within each ``by`` group; nulls in ``annual`` count as zero in
    the running sum (and are reported by the caller, who knows whether that is acceptable).
    """
    out = []
    for _, g in df.sort([*by, year]).group_by(by, maintain_order=True):
        q = g[annual].to_numpy()
        z0 = initial_stock(q)
        method = "initial_stock_lafond2018" if z0 is not None else "sum_from_first_year"
        cum = (z0 or 0.0) + np.nancumsum(np.where(np.isnan(q), 0.0, q))
        out.append(
            g.with_columns(
                pl.Series("cumulative_production", cum), pl.lit(method).alias("cumulative_method")
            )
        )
    if not out:
        return df.with_columns(
            pl.lit(None, pl.Float64).alias("cumulative_production"),
            pl.lit(None, pl.String).alias("cumulative_method"),
        )
    return pl.concat(out)
