"""Scenarios: the shipped scenarios as knobs per industry, and a scenario's shift of the race
table against the base case."""

from __future__ import annotations

import dataclasses

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.race.closing import closing_years, race_table
from learnrace_pipeline.lib.race.draws import BASE, make_draws
from learnrace_pipeline.lib.race.scenarios import knobs_for, scenario_shift
from learnrace_pipeline.lib.race.spec import load_spec

SPEC = load_spec()


def test_shipped_scenarios_as_knobs():
    ai = SPEC.industry("ai_foundation_models")
    ai_nations = [e.code for e in ai.nations]
    assert knobs_for(SPEC, None, "ai_foundation_models") is BASE
    export = SPEC.scenario("export_controls")
    assert knobs_for(SPEC, export, "ai_foundation_models").compute_growth_cap == {"CHN": 0.3}
    assert knobs_for(SPEC, export, "solar_pv").is_base()  # aimed at another industry
    slow = knobs_for(SPEC, SPEC.scenario("deployment_slowdown"), "industrial_robots")
    assert slow.deployment_growth_scale == {"CHN": 0.5} and not slow.spillover_lambda
    lam = knobs_for(SPEC, SPEC.scenario("no_spillover"), "solar_pv")
    assert lam.spillover_lambda == {"USA": 1.0, "CHN": 1.0, "DEU": 1.0}
    fast = knobs_for(SPEC, SPEC.scenario("faster_research"), "ai_foundation_models")
    assert list(fast.research_rate_scale) == ai_nations
    assert set(fast.research_rate_scale.values()) == {1.5}
    assert knobs_for(SPEC, SPEC.scenario("no_spillover"), "smartphones").is_base()  # no data


def test_other_nation_and_unknown_operation():
    only_twn = dataclasses.replace(SPEC.scenario("deployment_slowdown"), nation="TWN")
    assert knobs_for(SPEC, only_twn, "semiconductors").deployment_growth_scale == {"TWN": 0.5}
    assert knobs_for(SPEC, only_twn, "solar_pv").is_base()  # TWN does not compete there
    odd = dataclasses.replace(SPEC.scenario("no_spillover"), operation="scale")
    with pytest.raises(ModelError, match="scale of spillover_lambda is not a knob"):
        knobs_for(SPEC, odd, "solar_pv")
    with pytest.raises(KeyError):
        knobs_for(SPEC, None, "no_such_industry")


ROBOTS = SPEC.industry("industrial_robots")
NATIONS = [e.code for e in ROBOTS.nations]
YEARS = list(range(2012, 2041))


def _table(chn_growth_scale: float, usa_growth: float = 0.02) -> pl.DataFrame:
    """Race table of shares growing linearly from 2023, CHN's growth scaled (seeded noise)."""
    rng = np.random.default_rng(11)
    growth = rng.normal([usa_growth, 0.03, 0.0, 0.0, 0.0], 0.004, size=(2000, 5))
    growth[:, 1] *= chn_growth_scale
    start = np.array([0.08, 0.12, 0.05, 0.09, 0.05])
    t = np.maximum(np.arange(len(YEARS)) - 11, 0)  # 0 through 2023
    arr = start[None, :, None] + growth[:, :, None] * t[None, None, :]
    d = make_draws(
        ROBOTS.id,
        "volume",
        arr,
        NATIONS,
        YEARS,
        unit="fraction",
        source="test",
        observed_through={n: 2023 for n in NATIONS},
    )
    return pl.concat(
        [
            race_table(ROBOTS, closing_years(ROBOTS, {"volume": d})),
            race_table(SPEC.industry("smartphones"), None),
        ]
    )


def test_halving_growth_moves_the_closing_later():
    base = _table(1.0)
    slow = _table(0.5)
    shift = scenario_shift(base, slow)
    assert shift.height == base.height
    assert shift.select("industry", "nation").rows() == base.select("industry", "nation").rows()
    chn = shift.filter(pl.col("nation") == "CHN").row(0, named=True)
    # CHN needs 0.13 more share: ~4.3 years at 0.03/yr (2028), ~8.7 at half speed (2032)
    assert chn["median_base"] < chn["median_scenario"] <= 2035
    assert chn["median_shift"] == chn["median_scenario"] - chn["median_base"]
    assert chn["median_direction"] == "later"
    assert chn["p_first_shift"] == pytest.approx(chn["p_first_scenario"] - chn["p_first_base"])
    assert chn["p_first_shift"] < 0
    usa = shift.filter(pl.col("nation") == "USA").row(0, named=True)
    assert usa["median_direction"] == "same" and usa["median_shift"] == 0
    assert usa["p_closed_shift"] == 0.0 and usa["p_first_shift"] > 0
    no_data = shift.filter(pl.col("status") == "no data")
    assert no_data.height == 1 and no_data["median_direction"][0] is None
    faster = scenario_shift(base, _table(2.0)).filter(pl.col("nation") == "CHN").row(0, named=True)
    assert faster["median_direction"] == "earlier" and faster["median_shift"] < 0


def test_median_direction_when_the_horizon_is_passed():
    base = _table(1.0, usa_growth=0.02)
    later = scenario_shift(base, _table(1.0, usa_growth=0.001))
    usa = later.filter(pl.col("nation") == "USA").row(0, named=True)
    assert usa["median_base"] is not None and usa["median_scenario"] is None
    assert usa["median_direction"] == "later" and usa["median_shift"] is None
    with pytest.raises(ModelError, match="different rows"):
        scenario_shift(base, base.head(2))
