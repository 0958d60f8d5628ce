"""The model panel: joins, first differences, filters, indices and masks."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models.learning.panel import build_panel
from learnrace_pipeline.lib.sources.schema import TABLES


def _frames(rows: dict[str, list[tuple]], kinds: dict[str, str] | None = None):
    """Tiny warehouse frames: rows[series_id] = [(year, unit_cost, cumulative), ...]."""
    kinds = kinds or {}
    tech, cost, prod = [], [], []
    for sid, pts in rows.items():
        tech.append(
            {"series_id": sid, "technology": sid.split(":")[1], "industry": "chemicals",
             "source": "t", "unit": "USD/kg", "production_unit": "kg",
             "metric_kind": kinds.get(sid, "price"), "description": ""}
        )  # fmt: skip
        for year, c, q in pts:
            if c is not None:
                cost.append(
                    {"series_id": sid, "technology": sid.split(":")[1], "nation": "WLD",
                     "year": year, "unit_cost": c, "unit": "USD/kg", "price_basis_year": None,
                     "source": "t"}
                )  # fmt: skip
            if q is not None:
                prod.append(
                    {"series_id": sid, "technology": sid.split(":")[1], "nation": "WLD",
                     "year": year, "annual_production": None, "cumulative_production": q,
                     "unit": "kg", "cumulative_method": "reported", "source": "t"}
                )  # fmt: skip
    return (
        pl.DataFrame(cost, schema=TABLES["cost_observations"]),
        pl.DataFrame(prod, schema=TABLES["production"]),
        pl.DataFrame(tech, schema=TABLES["technologies"]),
    )


def test_synthetic_panel_shapes_and_differences(synthetic, synthetic_panel) -> None:
    frames, _ = synthetic
    p = synthetic_panel
    n_points = frames["cost_observations"].group_by("series_id").len()["len"]
    assert p.n_series == 12
    assert p.n_obs == int((n_points - 1).sum())
    assert p.industries == ("industry_0", "industry_1", "industry_2")
    sid = "synthetic:industry_1_s2"
    c = frames["cost_observations"].filter(pl.col("series_id") == sid).sort("year")
    q = frames["production"].filter(pl.col("series_id") == sid).sort("year")
    obs = p.obs.filter(pl.col("series_id") == sid)
    np.testing.assert_allclose(obs["dlogc"].to_numpy(), np.diff(np.log(c["unit_cost"].to_numpy())))
    np.testing.assert_allclose(
        obs["dlogq"].to_numpy(), np.diff(np.log(q["cumulative_production"].to_numpy()))
    )
    assert obs["pos"].to_list() == list(range(obs.height))
    assert set(obs["dt"].to_list()) == {1.0}
    # indices point at the coordinate labels
    s_idx = obs["series_idx"][0]
    assert p.coords()["series"][s_idx] == sid
    assert p.industries[obs["industry_idx"][0]] == "industry_1"
    assert p.obs["series_idx"].is_sorted()


def test_filters_are_reported() -> None:
    cost, prod, tech = _frames(
        {
            "t:long": [(2000 + k, 10.0 * 0.9**k, 100.0 * 1.3**k) for k in range(8)],
            "t:short": [(2000 + k, 5.0, 10.0 + k) for k in range(3)],
            "t:perf": [(2000 + k, 1.0 + k, 1.0 + k) for k in range(8)],
            "t:noprod": [(2000 + k, 3.0, None) for k in range(8)],
        },
        kinds={"t:perf": "performance"},
    )
    p = build_panel(cost, prod, tech, min_points=6)
    assert p.series["series"].to_list() == ["t:long"]
    reasons = dict(zip(p.excluded["series_id"], p.excluded["reason"], strict=True))
    assert reasons["t:short"] == "3 point(s) < min_points 6"
    assert reasons["t:perf"] == "metric_kind 'performance' not modelled"
    assert reasons["t:noprod"] == (
        "no experience: no production with this series_id and no entry in experience_map.csv"
    )
    assert p.n_obs == 7
    np.testing.assert_allclose(p.obs["dlogc"].to_numpy(), np.log(0.9))
    np.testing.assert_allclose(p.obs["dlogq"].to_numpy(), np.log(1.3))


def test_gaps_give_multi_year_steps_and_missing_production_drops_years() -> None:
    pts = [(2000, 10.0, 1.0), (2001, 9.0, 2.0), (2003, 7.0, 4.0), (2004, 6.5, None),
           (2005, 6.0, 8.0), (2006, 5.5, 9.0)]  # fmt: skip
    cost, prod, tech = _frames({"t:gap": pts})
    p = build_panel(cost, prod, tech, min_points=4)
    assert p.obs["year"].to_list() == [2001, 2003, 2005, 2006]
    assert p.obs["dt"].to_list() == [1.0, 2.0, 2.0, 1.0]
    np.testing.assert_allclose(p.obs["dlogc"][2], np.log(6.0 / 7.0))


def test_experience_mapping_joins_another_production_series() -> None:
    cost, prod, tech = _frames({"t:price": [(2000 + k, 10.0 - k, None) for k in range(6)]})
    prod = pl.DataFrame(
        [
            {"series_id": "t:capacity", "technology": "price", "nation": "WLD", "year": 2000 + k,
             "annual_production": None, "cumulative_production": 2.0**k, "unit": "kg",
             "cumulative_method": "reported", "source": "t"}
            for k in range(6)
        ],
        schema=TABLES["production"],
    )  # fmt: skip
    with pytest.raises(DataError, match="no series left"):
        build_panel(cost, prod, tech)
    p = build_panel(cost, prod, tech, experience={"t:price": "t:capacity"})
    np.testing.assert_allclose(p.obs["dlogq"].to_numpy(), np.log(2.0))


def test_bad_input_raises_data_error() -> None:
    cost, prod, tech = _frames({"t:a": [(2000 + k, 10.0, 1.0 + k) for k in range(6)]})
    with pytest.raises(DataError, match="unit_cost must be positive"):
        build_panel(cost.with_columns(pl.lit(0.0).alias("unit_cost")), prod, tech)
    with pytest.raises(DataError, match="no row in technologies"):
        build_panel(cost, prod, tech.with_columns(pl.lit("t:other").alias("series_id")))
    falling = prod.with_columns(
        (100.0 - pl.col("cumulative_production")).alias("cumulative_production")
    )
    with pytest.raises(DataError, match="cumulative production falls"):
        build_panel(cost, falling, tech)
    with pytest.raises(DataError, match="lacks column"):
        build_panel(cost.drop("unit_cost"), prod, tech)
    with pytest.raises(DataError, match="min_points"):
        build_panel(cost, prod, tech, min_points=1)


def test_masks(synthetic_panel) -> None:
    p = synthetic_panel
    mask = p.origin_mask(1980)
    assert mask.sum() == (p.obs["year"] <= 1980).sum()
    assert p.data(mask)["mask"].sum() == mask.sum()
    bad = np.ones(p.n_obs)
    bad[3] = 0.0  # a hole inside the first series
    with pytest.raises(DataError, match="trailing"):
        p.data(bad)
    with pytest.raises(DataError, match="shape"):
        p.data(np.ones(p.n_obs - 1))


def test_nation_panel_has_world_experience(nation_panel) -> None:
    p = nation_panel
    assert p.has_world
    assert p.nations == ("CHN", "DEU", "USA")
    assert p.n_series == 3 and p.n_obs == 3 * 14
    lv = p.levels.filter(pl.col("nation") == "DEU")
    obs = p.obs.filter(pl.col("nation") == "DEU")
    np.testing.assert_allclose(obs["dlogq_world"].to_numpy(), np.diff(lv["log_q_world"].to_numpy()))
    assert (p.levels["cumulative_world"] > p.levels["cumulative_production"]).all()
    assert "dlogq_world" in p.data()
