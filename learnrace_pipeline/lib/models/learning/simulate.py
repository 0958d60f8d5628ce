"""Synthetic warehouse-shaped panels drawn from known learning-curve parameters.

Used by parameter-recovery tests, benchmarks and the forecast/hindcast tests: the frames have the
declared schemas of ``technologies``, ``cost_observations`` and ``production``, so they go through
:func:`learnrace_pipeline.lib.models.learning.panel.build_panel` like real data.

Generative model (per series ``s`` in industry ``i``, consecutive years)::

    annual production grows at g_s ~ Uniform(g_low, g_high) per year with lognormal noise;
    Q = cumulative production (initial stock q1 / g, as in Lafond et al. 2018)
    w_i = w_all + tau_industry * z_i,   w_s = w_i + tau_series * z_s     (same for m)
    dlog c_t = -w_s dlog Q_t - m_s + e_t + rho e_{t-1},   e ~ Normal(0, sigma_s)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from learnrace_pipeline.lib.sources.schema import TABLES


@dataclass(frozen=True)
class TruePanel:
    """Known parameters a synthetic panel was drawn from (series-level arrays in series order)."""

    w_all: float
    m_all: float
    rho: float
    tau_industry: float
    tau_series: float
    sigma: float
    w_industry: dict[str, float]
    w_series: dict[str, float]
    m_series: dict[str, float]
    sigma_series: dict[str, float]


def synthetic_frames(
    *,
    n_industries: int = 3,
    series_per_industry: int = 4,
    n_points: tuple[int, int] = (15, 30),
    w_all: float = 0.35,
    m_all: float = 0.0,
    tau_industry: float = 0.08,
    tau_series: float = 0.08,
    tau_m: float = 0.0,
    sigma: float = 0.08,
    sigma_spread: float = 0.3,
    rho: float = 0.2,
    growth: tuple[float, float] = (0.08, 0.35),
    start_year: int = 1970,
    seed: int = 0,
) -> tuple[dict[str, pl.DataFrame], TruePanel]:
    """Draw a panel; return ``({technologies, cost_observations, production}, truth)``.

    Units: costs in ``2020 USD/unit`` (starting near 100), production in ``unit``.
    """
    rng = np.random.default_rng(seed)
    tech_rows, cost_rows, prod_rows = [], [], []
    w_ind: dict[str, float] = {}
    w_ser: dict[str, float] = {}
    m_ser: dict[str, float] = {}
    s_ser: dict[str, float] = {}
    for i in range(n_industries):
        industry = f"industry_{i}"
        wi = w_all + tau_industry * rng.standard_normal()
        mi = m_all + tau_m * rng.standard_normal()
        w_ind[industry] = wi
        for j in range(series_per_industry):
            sid = f"synthetic:{industry}_s{j}"
            ws = wi + tau_series * rng.standard_normal()
            ms = mi + tau_m * rng.standard_normal()
            ss = sigma * float(np.exp(sigma_spread * rng.standard_normal()))
            w_ser[sid], m_ser[sid], s_ser[sid] = ws, ms, ss
            n = int(rng.integers(n_points[0], n_points[1] + 1))
            g = rng.uniform(*growth)
            annual = 10.0 * np.exp(g * np.arange(n) + 0.1 * rng.standard_normal(n))
            cum = annual[0] / g + np.cumsum(annual)
            dlogq = np.diff(np.log(cum))
            eps = ss * rng.standard_normal(n)  # eps[0] is the pre-sample shock
            dlogc = -ws * dlogq - ms + eps[1:] + rho * eps[:-1]
            logc = np.log(100.0) + np.concatenate([[0.0], np.cumsum(dlogc)])
            tech = f"{industry}_s{j}"
            tech_rows.append(
                {
                    "series_id": sid,
                    "technology": tech,
                    "industry": industry,
                    "source": "synthetic",
                    "unit": "2020 USD/unit",
                    "production_unit": "unit",
                    "metric_kind": "cost",
                    "description": f"synthetic series, w={ws:.3f}",
                }
            )
            for k in range(n):
                year = start_year + k
                cost_rows.append(
                    {
                        "series_id": sid,
                        "technology": tech,
                        "nation": "WLD",
                        "year": year,
                        "unit_cost": float(np.exp(logc[k])),
                        "unit": "2020 USD/unit",
                        "price_basis_year": 2020,
                        "source": "synthetic",
                    }
                )
                prod_rows.append(
                    {
                        "series_id": sid,
                        "technology": tech,
                        "nation": "WLD",
                        "year": year,
                        "annual_production": float(annual[k]),
                        "cumulative_production": float(cum[k]),
                        "unit": "unit",
                        "cumulative_method": "initial_stock_lafond2018",
                        "source": "synthetic",
                    }
                )
    frames = {
        "technologies": pl.DataFrame(tech_rows, schema=TABLES["technologies"]),
        "cost_observations": pl.DataFrame(cost_rows, schema=TABLES["cost_observations"]),
        "production": pl.DataFrame(prod_rows, schema=TABLES["production"]),
    }
    truth = TruePanel(
        w_all=w_all,
        m_all=m_all,
        rho=rho,
        tau_industry=tau_industry,
        tau_series=tau_series,
        sigma=sigma,
        w_industry=w_ind,
        w_series=w_ser,
        m_series=m_ser,
        sigma_series=s_ser,
    )
    return frames, truth
