"""Shared, session-scoped fixtures of the learning-curve tests: synthetic panels and fits.

Compiling a model takes seconds, so each model is compiled once per session and reused; tests
that need other data swap it in with ``LearningCurveModel.fit(panel=...)``.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
from learnrace_pipeline.lib.models.learning.panel import Panel, build_nation_panel, build_panel
from learnrace_pipeline.lib.models.learning.simulate import TruePanel, synthetic_frames
from learnrace_pipeline.lib.sources.schema import TABLES

SMALL = base.SamplerConfig(draws=300, tune=300, chains=2, seed=7)


@pytest.fixture(scope="session")
def synthetic() -> tuple[dict[str, pl.DataFrame], TruePanel]:
    return synthetic_frames(n_industries=3, series_per_industry=4, n_points=(15, 25), seed=1)


@pytest.fixture(scope="session")
def synthetic_panel(synthetic) -> Panel:
    frames, _ = synthetic
    return build_panel(frames["cost_observations"], frames["production"], frames["technologies"])


@pytest.fixture(scope="session")
def wright_model(synthetic_panel: Panel) -> LearningCurveModel:
    model = LearningCurveModel(
        synthetic_panel, LearningConfig(trend="wright", noise="normal", ma1=True), SMALL
    )
    model.compile()
    return model


@pytest.fixture(scope="session")
def wright_fit(wright_model: LearningCurveModel) -> xr.DataTree:
    return wright_model.fit()


@pytest.fixture(scope="session")
def both_model(synthetic_panel: Panel) -> LearningCurveModel:
    return LearningCurveModel(
        synthetic_panel, LearningConfig(trend="both", noise="student_t", ma1=True), SMALL
    )


@pytest.fixture(scope="session")
def both_fit(both_model: LearningCurveModel) -> xr.DataTree:
    return both_model.fit()


def nation_frames(seed: int = 3, lam: float = 0.3, w: float = 0.35) -> dict[str, pl.DataFrame]:
    """National solar-like cost series (CHN, DEU, USA; 2006-2020) whose effective experience is
    lam * national + (1 - lam) * world cumulative capacity, in warehouse shape."""
    rng = np.random.default_rng(seed)
    years = np.arange(2006, 2021)
    growth = {"CHN": 0.55, "DEU": 0.25, "USA": 0.35}
    national = {
        n: 100.0
        * np.exp(g * np.arange(years.size) + 0.05 * rng.standard_normal(years.size).cumsum())
        for n, g in growth.items()
    }
    for n in national:
        national[n] = np.maximum.accumulate(national[n])
    world = sum(national.values()) + 500.0 * np.exp(0.3 * np.arange(years.size))
    tech, cost, prod = [], [], []
    for n, q in national.items():
        sid = f"synthetic:{n.lower()}_module_price"
        tech.append(
            {"series_id": sid, "technology": "solar_pv_module", "industry": "solar",
             "source": "synthetic", "unit": "2020 USD/W", "production_unit": "MW",
             "metric_kind": "price", "description": "synthetic national module price"}
        )  # fmt: skip
        logq = lam * np.log(q) + (1 - lam) * np.log(world)
        logc = np.log(4.0) - w * (logq - logq[0]) + 0.05 * rng.standard_normal(years.size)
        for k, y in enumerate(years):
            cost.append(
                {"series_id": sid, "technology": "solar_pv_module", "nation": n, "year": int(y),
                 "unit_cost": float(np.exp(logc[k])), "unit": "2020 USD/W",
                 "price_basis_year": 2020, "source": "synthetic"}
            )  # fmt: skip
    for n, q in [*national.items(), ("WLD", world)]:
        for k, y in enumerate(years):
            prod.append(
                {"series_id": "synthetic:pv_capacity", "technology": "solar_pv_module",
                 "nation": n, "year": int(y), "annual_production": None,
                 "cumulative_production": float(q[k]), "unit": "MW",
                 "cumulative_method": "reported", "source": "synthetic"}
            )  # fmt: skip
    return {
        "technologies": pl.DataFrame(tech, schema=TABLES["technologies"]),
        "cost_observations": pl.DataFrame(cost, schema=TABLES["cost_observations"]),
        "production": pl.DataFrame(prod, schema=TABLES["production"]),
    }


@pytest.fixture(scope="session")
def nation_panel() -> Panel:
    f = nation_frames()
    exp = {s: "synthetic:pv_capacity" for s in f["technologies"]["series_id"]}
    return build_nation_panel(
        f["cost_observations"], f["production"], f["technologies"], experience=exp
    )


@pytest.fixture(scope="session")
def nation_fit(nation_panel: Panel) -> xr.DataTree:
    model = LearningCurveModel(
        nation_panel,
        LearningConfig(trend="wright", noise="normal", ma1=False, level="nation"),
        SMALL,
    )
    return model.fit()
