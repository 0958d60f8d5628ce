"""The experience map in the panel, one series per technology and nation, time-trend panels."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.model import create_learning_model
from learnrace_pipeline.lib.models.learning.panel import (
    build_panel,
    load_tables,
    pooled_wright_panel,
)
from learnrace_pipeline.lib.models.learning.selection import one_per_technology
from learnrace_pipeline.lib.models.learning.time_panel import build_time_panel
from learnrace_pipeline.lib.sources import SOURCES
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.vocab import experience_map as em


def _tech(sid: str, technology: str, unit: str = "2020 USD/kWh", kind: str = "price") -> dict:
    return {"series_id": sid, "technology": technology, "industry": "batteries", "source": "t",
            "unit": unit, "production_unit": None, "metric_kind": kind, "description": ""}  # fmt: skip


def _cost(sid: str, nation: str, years, values, unit: str = "2020 USD/kWh") -> list[dict]:
    return [
        {"series_id": sid, "technology": "x", "nation": nation, "year": y, "unit_cost": v,
         "unit": unit, "price_basis_year": None, "source": "t"}
        for y, v in zip(years, values, strict=True)
    ]  # fmt: skip


def _prod(sid: str, nation: str, years, cum) -> list[dict]:
    return [
        {"series_id": sid, "technology": "x", "nation": nation, "year": y,
         "annual_production": None, "cumulative_production": q, "unit": "GWh",
         "cumulative_method": "reported", "source": "t"}
        for y, q in zip(years, cum, strict=True)
    ]  # fmt: skip


YEARS = list(range(2000, 2010))


def test_world_scope_and_year_bounds_from_the_map() -> None:
    """A US cost joins world production (scope world); last_year cuts the spliced tail."""
    tech = pl.DataFrame([_tech("a:pack", "pack")], schema=TABLES["technologies"])
    cost = pl.DataFrame(
        _cost("a:pack", "USA", YEARS, [100.0 * 0.8**k for k in range(10)]),
        schema=TABLES["cost_observations"],
    )
    prod = pl.DataFrame(
        _prod("a:q", "WLD", YEARS, [2.0**k for k in range(10)])
        + _prod("a:q", "USA", YEARS, [3.0**k for k in range(10)]),
        schema=TABLES["production"],
    )
    entries = em.parse(
        "cost_series_id,production_series_id,scope,nations,first_year,last_year,reason\n"
        "a:pack,a:q,world,,,2007,r\n"
    )
    p = build_panel(cost, prod, tech, experience_map=entries)
    assert p.obs["year"].to_list() == list(range(2001, 2008))
    np.testing.assert_allclose(p.obs["dlogq"].to_numpy(), np.log(2.0))  # world, not US (3x)
    np.testing.assert_allclose(p.obs["dlogc"].to_numpy(), np.log(0.8))
    national = em.parse(
        "cost_series_id,production_series_id,scope,nations,first_year,last_year,reason\n"
        "a:pack,a:q,national,,,,r\n"
    )
    p = build_panel(cost, prod, tech, experience_map=national)
    np.testing.assert_allclose(p.obs["dlogq"].to_numpy(), np.log(3.0))
    bad = em.parse(
        "cost_series_id,production_series_id,scope,nations,first_year,last_year,reason\n"
        "a:pack,a:missing,world,,,,r\n"
    )
    with pytest.raises(DataError, match="unknown production series 'a:missing'"):
        build_panel(cost, prod, tech, experience_map=bad)


def test_one_per_technology_rule() -> None:
    """Constant money beats nominal, then more points, then source priority, then the id."""
    rows = []
    for sid, unit, n in [
        ("owid_datasets:long_nominal", "USD/W", 12),
        ("farmer_lafond_alstott:const", "2013 USD/W", 8),
        ("pcdb_carnegie:const", "2013 USD/W", 8),
        ("helveston_solar_2022:other_nation", "USD/W", 5),
    ]:
        nation = "USA" if "other" in sid else "WLD"
        rows += [
            {"series_id": sid, "nation": nation, "year": 2000 + k, "technology": "pv",
             "unit": unit}
            for k in range(n)
        ]  # fmt: skip
    kept, dropped = one_per_technology(pl.DataFrame(rows))
    assert sorted(kept["series_id"].unique().to_list()) == [
        "helveston_solar_2022:other_nation",
        "pcdb_carnegie:const",
    ]
    reasons = {d["series_id"]: d["reason"] for d in dropped}
    assert set(reasons) == {"owid_datasets:long_nominal", "farmer_lafond_alstott:const"}
    assert "as pcdb_carnegie:const (8 points, kept)" in reasons["owid_datasets:long_nominal"]


def test_time_panel_takes_series_without_production_and_flips_performance() -> None:
    tech = pl.DataFrame(
        [_tech("t:cost", "c"), _tech("t:perf", "p", unit="FLOP/s", kind="performance")],
        schema=TABLES["technologies"],
    )
    cost = pl.DataFrame(
        _cost("t:cost", "WLD", YEARS, [50.0 * 0.9**k for k in range(10)])
        + _cost("t:perf", "WLD", YEARS, [1e9 * 2.0**k for k in range(10)], unit="FLOP/s"),
        schema=TABLES["cost_observations"],
    )
    costs = build_time_panel(cost, tech)
    assert costs.series["series"].to_list() == ["t:cost"] and not costs.has_experience
    np.testing.assert_allclose(costs.obs["dlogc"].to_numpy(), np.log(0.9))
    np.testing.assert_allclose(costs.obs["dlogq"].to_numpy(), 0.0)
    perf = build_time_panel(cost, tech, performance=True)
    assert perf.series["series"].to_list() == ["t:perf"] and perf.meta["performance"]
    # 1/performance: the cost-like decline is the performance gain, log 2 per year
    np.testing.assert_allclose(perf.obs["dlogc"].to_numpy(), -np.log(2.0))
    assert perf.excluded.filter(pl.col("series_id") == "t:cost")["reason"].item() == (
        "metric_kind 'price' not modelled"
    )
    with pytest.raises(ModelError, match="needs experience"):
        create_learning_model(costs, LearningConfig(trend="wright"))
    create_learning_model(costs, LearningConfig(trend="time"))


@pytest.fixture(scope="module")
def snapshot_tables() -> dict[str, pl.DataFrame]:
    return load_tables(SOURCES)


def test_pooled_panel_has_batteries_hydrogen_and_no_exclusion_by_id(snapshot_tables) -> None:
    t = snapshot_tables
    p = pooled_wright_panel(t["cost_observations"], t["production"], t["technologies"])
    by_ind = dict(p.series.group_by("industry").len().iter_rows())
    assert by_ind["batteries"] == 4 and by_ind["hydrogen"] == 1
    ids = set(p.series["series_id"].to_list())
    for sid in ("way2022_battery_cost_spliced", "zt2021_cell_price_all",
                "zt2021_cell_price_cylindrical", "doe_pack_cost_constant",
                "way2022_pem_electrolyzer_cost"):  # fmt: skip
        assert f"mvpf_climate_vendored:{sid}" in ids
    battery = p.series.filter(pl.col("series_id").str.ends_with("battery_cost_spliced"))
    assert battery["last_year"].item() == 2016  # the cell part only
    # each exclusion for want of experience: no production of its technology at its nation
    # or the world exists under any id (so no series is excluded only because ids differ)
    prod = t["production"].join(
        t["technologies"].select("series_id", pl.col("technology").alias("tech")),
        on="series_id",
        how="left",
    )
    no_exp = p.excluded.filter(pl.col("reason").str.starts_with("no experience")).join(
        t["technologies"].select("series_id", "technology"), on="series_id"
    )
    assert no_exp.height > 0
    for r in no_exp.iter_rows(named=True):
        if "which the fit uses" in r["reason"]:
            continue
        if r["reason"].startswith("no experience at this nation"):
            # declared: IRENA national rows (the map's entry covers the world series only)
            assert r["series_id"].startswith("owid_datasets:irena_") and r["nation"] != "WLD"
            continue
        same = prod.filter(
            (pl.col("technology") == r["technology"]) & pl.col("nation").is_in([r["nation"], "WLD"])
        )
        assert same.height == 0, (r["series_id"], same["series_id"].unique().to_list())
    # one series per technology and nation
    assert p.series.group_by("technology", "nation").len()["len"].max() == 1


def test_time_panel_covers_every_cost_series_of_six_years(snapshot_tables) -> None:
    t = snapshot_tables
    p = build_time_panel(t["cost_observations"], t["technologies"])
    assert p.n_series == 144 and len(p.technologies) == 90
    fla = t["technologies"].filter(
        pl.col("series_id").str.starts_with("farmer_lafond_alstott:"),
        pl.col("metric_kind") != "performance",
    )
    assert set(fla["technology"]) <= set(p.technologies)
    reasons = p.excluded["reason"].to_list()
    assert all(r.startswith(("copy:", "metric_kind", "1 point", "2 point", "3 point",
                             "4 point", "5 point")) for r in reasons)  # fmt: skip
    perf = build_time_panel(t["cost_observations"], t["technologies"], performance=True)
    ids = perf.series["series_id"].to_list()
    assert "owid_datasets:top500_fastest_flops" in ids
    assert "owid_datasets:transistors_per_microprocessor" in ids
    # the Magee et al. (2016) performance series with >= 6 points (farmer_lafond_alstott)
    magee = [i for i in ids if i.startswith("farmer_lafond_alstott:magee_")]
    assert perf.n_series == 28 and len(magee) == 26 and perf.n_obs == 373
    assert "farmer_lafond_alstott:magee_integrated_circuit_memory_transistors_per_die" in magee
    assert "farmer_lafond_alstott:magee_computation_electronic_CPS" in magee
    assert {"semiconductors", "computing"} <= set(perf.industries)
    why = dict(zip(perf.excluded["series_id"], perf.excluded["reason"], strict=True))
    # Magee's 12 microprocessor counts are a copy of OWID's longer transistor series (kept)
    micro = "farmer_lafond_alstott:magee_integrated_circuit_microprocessor_transistors_per_die"
    assert why[micro].startswith("copy: same technology 'microprocessor'")
    assert why["farmer_lafond_alstott:magee_Milling_yearlyaverage_hp.accuracy"].startswith(
        "5 point"
    )
    # performance series never enter the cost-series time fit
    assert not any(i.startswith("farmer_lafond_alstott:magee_") for i in p.series["series_id"])
