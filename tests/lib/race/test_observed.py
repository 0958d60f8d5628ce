"""Observed race metrics: each measure on small hand-made frames, and on the shipped snapshot
with values checked by hand against the tidy rows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.race.observed import observed_metric
from learnrace_pipeline.lib.race.spec import (
    IndustrySpec,
    Metric,
    NationEntry,
    Threshold,
    load_spec,
    snapshot_tables,
)


def _metric(measure: str, **kw) -> Metric:
    base = dict(
        role="volume",
        name="m",
        table="t",
        filter=(),
        value="v",
        unit="unit",
        measure=measure,
        threshold=Threshold("at_least", 1.0),
        nation_column="nation",
        time_column="year",
    )
    return Metric(**(base | kw))


def _industry(*entries: NationEntry) -> IndustrySpec:
    return IndustrySpec(id="toy", name="Toy", status="data", horizon=2035, nations=entries)


AB = _industry(NationEntry("AAA", "hybrid"), NationEntry("BBB", "hybrid"))


def _value(out: pl.DataFrame, nation: str, year: int, col: str = "value") -> float:
    hit = out.filter((pl.col("nation") == nation) & (pl.col("year") == year))
    assert hit.height == 1, (nation, year, hit)
    return hit[col][0]


# ---------------------------------------------------------------------------- hand-made frames


def test_value_one_row_per_nation_year_and_duplicates_refused():
    t = pl.DataFrame(
        {
            "nation": ["AAA", "AAA", "BBB", "CCC"],
            "year": [2020, 2021, 2020, 2020],
            "v": [1.0, 2, 3, 4],
        },
        schema_overrides={"year": pl.Int32},
    )
    out = observed_metric(AB, _metric("value"), {"t": t})
    assert out.schema == pl.Schema(
        {"nation": pl.String, "year": pl.Int32, "value": pl.Float64, "share": pl.Float64}
    )
    assert out.select("nation", "year", "value").rows() == [
        ("AAA", 2020, 1.0),
        ("AAA", 2021, 2.0),
        ("BBB", 2020, 3.0),
    ]
    assert out["share"].is_null().all()  # not a fraction
    dup = pl.concat([t, t.head(1)])
    with pytest.raises(DataError, match="sharing a nation and year, first AAA 2020"):
        observed_metric(AB, _metric("value"), {"t": dup})


def test_running_max_and_min_over_dates_carry_to_the_data_end():
    t = pl.DataFrame(
        {
            "nation": ["AAA", "AAA", "AAA", "BBB", "BBB"],
            "date": [
                dt.date(2018, 3, 1),
                dt.date(2018, 9, 1),
                dt.date(2020, 1, 5),
                dt.date(2019, 6, 1),
                dt.date(2022, 2, 2),
            ],
            "v": [5.0, 7.0, 6.0, 3.0, 9.0],
        }
    )
    mx = observed_metric(AB, _metric("running_max", time_column="date"), {"t": t})
    # AAA: 7 from 2018 (max of its two 2018 rows), still 7 in 2020 (6 does not beat it), to 2022
    assert mx.filter(pl.col("nation") == "AAA")["value"].to_list() == [7.0] * 5
    assert mx.filter(pl.col("nation") == "AAA")["year"].to_list() == list(range(2018, 2023))
    assert mx.filter(pl.col("nation") == "BBB")["value"].to_list() == [3.0, 3.0, 3.0, 9.0]
    mn = observed_metric(AB, _metric("running_min", time_column="date"), {"t": t})
    assert mn.filter(pl.col("nation") == "AAA")["value"].to_list() == [5.0, 5.0, 5.0, 5.0, 5.0]
    assert _value(mn, "BBB", 2022) == 3.0


def test_ratio_best_company_sums_rows_and_skips_zero_denominators():
    t = pl.DataFrame(
        {
            "nation": ["AAA", "AAA", "AAA", "AAA", "BBB"],
            "company": ["x", "x", "y", "z", "w"],
            "year": [2020, 2020, 2020, 2020, 2020],
            "v": [100.0, 50.0, 120.0, 1e6, 10.0],
            "d": [1, 2, 2, 0, 5],
        },
        schema_overrides={"year": pl.Int32},
    )
    m = _metric("ratio_best_company", per="d", role="capability")
    out = observed_metric(AB, m, {"t": t})
    # x: 150 / 3 = 50, y: 120 / 2 = 60, z has no disengagement (no ratio): best 60
    assert _value(out, "AAA", 2020) == pytest.approx(60.0)
    assert _value(out, "BBB", 2020) == pytest.approx(2.0)
    with pytest.raises(DataError, match="company"):
        observed_metric(AB, m, {"t": t.drop("company")})


def test_cumulative_sum_through_each_year_with_gap_years_adding_nothing():
    t = pl.DataFrame(
        {
            "nation": ["AAA", "AAA", "AAA", "BBB"],
            "year": [2019, 2019, 2021, 2022],
            "v": [1.0, 2.0, 4.0, 8.0],
        },
        schema_overrides={"year": pl.Int32},
    )
    out = observed_metric(AB, _metric("cumulative_sum"), {"t": t})
    assert out.filter(pl.col("nation") == "AAA")["value"].to_list() == [3.0, 3.0, 7.0, 7.0]
    assert out.filter(pl.col("nation") == "BBB").select("year", "value").rows() == [(2022, 8.0)]


def test_count_share_counts_every_row_of_the_year():
    t = pl.DataFrame(
        {
            "nation": ["AAA", "AAA", "BBB", "CCC", None, "AAA"],
            "year": [2020] * 5 + [2022],
            "v": ["a", "b", "c", "d", "e", "f"],
        },
        schema_overrides={"year": pl.Int32},
    )
    out = observed_metric(AB, _metric("count", unit="model"), {"t": t})
    # 2020: 5 rows (one credited to no nation, one to a non-competitor) -> AAA 2/5, BBB 1/5
    assert _value(out, "AAA", 2020) == 2.0
    assert _value(out, "AAA", 2020, "share") == pytest.approx(0.4)
    assert _value(out, "BBB", 2020, "share") == pytest.approx(0.2)
    assert _value(out, "BBB", 2022) == 0.0 and _value(out, "BBB", 2022, "share") == 0.0
    assert _value(out, "AAA", 2021) == 0.0  # a year with no rows at all: count 0, share unknown
    assert _value(out, "AAA", 2021, "share") is None


def test_world_scope_proxy_and_declared_missing():
    t = pl.DataFrame(
        {
            "nation": ["WLD", "WLD", "EUROPE", "AAA"],
            "year": [2020, 2021, 2020, 2020],
            "v": [0.5, 0.4, 0.3, 0.2],
        },
        schema_overrides={"year": pl.Int32},
    )
    ind = _industry(
        NationEntry("AAA", "hybrid"),
        NationEntry("DEU", "hybrid", proxy=(("volume", "EUROPE"),)),
        NationEntry("BBB", "hybrid", missing=(("volume", "no rows"),)),
    )
    world = observed_metric(ind, _metric("value", scope="world", unit="fraction"), {"t": t})
    assert world.filter(pl.col("nation") == "AAA")["value"].to_list() == [0.5, 0.4]
    assert world.filter(pl.col("nation") == "DEU")["value"].to_list() == [0.5, 0.4]
    assert _value(world, "DEU", 2021, "share") == 0.4  # a fraction is its own share
    national = observed_metric(ind, _metric("value", unit="fraction"), {"t": t})
    assert national.select("nation", "year", "value").rows()[:2] == [
        ("AAA", 2020, 0.2),
        ("DEU", 2020, 0.3),  # Germany through EUROPE, reported under DEU
    ]
    gap = national.filter(pl.col("nation") == "BBB")
    assert gap.height == 1 and gap["year"][0] is None and gap["value"][0] is None


def test_learning_rate_from_the_fits():
    t = pl.DataFrame(
        {"nation": ["AAA", "AAA", "BBB"], "year": [2010, 2018, 2015], "v": [3.0, 2.0, 1.0]},
        schema_overrides={"year": pl.Int32},
    )
    m = _metric("learning_rate", role="capability")
    with pytest.raises(ModelError, match="learning fits"):
        observed_metric(AB, m, {"t": t})
    out = observed_metric(AB, m, {"t": t}, learning_rates={"AAA": 0.2, "BBB": 0.25})
    assert out.select("nation", "year", "value").rows() == [("AAA", 2018, 0.2), ("BBB", 2015, 0.25)]
    with pytest.raises(ModelError, match="no learning rate given for BBB"):
        observed_metric(AB, m, {"t": t}, learning_rates={"AAA": 0.2})


# ---------------------------------------------------------------------------- the snapshot


@pytest.fixture(scope="module")
def real():
    return load_spec(), snapshot_tables()


def test_snapshot_pv_module_share_and_germany_through_europe(real):
    spec, tables = real
    ind = spec.industry("solar_pv")
    out = observed_metric(ind, ind.volume, tables)
    # market_shares, basis pv_module_production_of_world, 2020: CHN 0.726539, EUROPE 0.003594
    assert _value(out, "CHN", 2020) == pytest.approx(0.726539, abs=1e-6)
    assert _value(out, "CHN", 2020, "share") == pytest.approx(0.726539, abs=1e-6)
    assert _value(out, "DEU", 2020) == pytest.approx(0.003594, abs=1e-6)
    assert set(out["nation"]) == {"USA", "CHN", "DEU"}


def test_snapshot_ai_record_and_model_share(real):
    spec, tables = real
    ind = spec.industry("ai_foundation_models")
    cap = observed_metric(ind, ind.capability, tables)
    # the US record through 2021 is FLAN 137B (2021-09-03), 2.047e24 FLOP; it stands in 2022
    # until a larger US model is published that year
    assert _value(cap, "USA", 2021) == pytest.approx(2.047e24)
    assert _value(cap, "USA", 2022) >= _value(cap, "USA", 2021)
    vol = observed_metric(ind, ind.volume, tables)
    # 2022 notable models: 87 rows (10 credited to no nation), 62 USA, 8 CHN
    assert _value(vol, "USA", 2022) == 62.0
    assert _value(vol, "USA", 2022, "share") == pytest.approx(62 / 87)
    assert _value(vol, "CHN", 2022, "share") == pytest.approx(8 / 87)


def test_snapshot_av_best_company_and_cumulative_miles(real):
    spec, tables = real
    ind = spec.industry("autonomous_vehicles")
    cap = observed_metric(ind, ind.capability, tables)
    # RY2022 USA: Cruise 863110.92 safety-driver miles / 9 disengagements (Aurora: 0, no ratio)
    assert _value(cap, "USA", 2022) == pytest.approx(863110.92 / 9)
    vol = observed_metric(ind, ind.volume, tables)
    # CHN miles RY2016-2019: 22.6 + 12313.68 + 80613.39 + 340998.81
    assert _value(vol, "CHN", 2019) == pytest.approx(433948.48)


def test_snapshot_process_node_gaps_and_world_cost(real):
    spec, tables = real
    semi = spec.industry("semiconductors")
    node = observed_metric(semi, semi.capability, tables)
    # Samsung (KOR): 32 nm in 2011, 14 nm from 2016, 8 nm from 2020 (NVIDIA A10, 2021-04-12)
    assert _value(node, "KOR", 2013) == 32.0
    assert _value(node, "KOR", 2016) == 14.0
    assert _value(node, "KOR", 2021) == 8.0
    chn = node.filter(pl.col("nation") == "CHN")
    assert chn.height == 1 and chn["value"][0] is None  # declared missing
    bat = spec.industry("batteries_evs")
    cost = observed_metric(bat, bat.cost, tables)
    by_nation = cost.group_by("nation").agg(pl.col("value").sort_by("year"))
    assert len({tuple(v) for v in by_nation["value"]}) == 1  # the same world series for all
    assert cost["nation"].unique().sort().to_list() == ["CHN", "EU27", "JPN", "KOR", "USA"]
