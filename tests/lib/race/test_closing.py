"""The race engine: thresholds, closing years, the race and pair tables, on synthetic draws with
known answers."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.race.closing import (
    NONE_BY_HORIZON,
    closing_years,
    holds,
    lower_is_better,
    pairwise,
    race_table,
)
from learnrace_pipeline.lib.race.draws import align, make_draws
from learnrace_pipeline.lib.race.spec import Threshold, load_spec

SPEC = load_spec()
YEARS = list(range(2010, 2041))


def _draws(industry, role, arr, nations, years=YEARS, *, unit="fraction", seen=None, world=None):
    arr = np.asarray(arr, dtype=float)
    if arr.ndim == 2:  # (nation, year): the same in every draw
        arr = arr[None]
    return make_draws(
        industry,
        role,
        arr,
        nations,
        years,
        unit=unit,
        source="test",
        observed_through=seen,
        world=world,
    )


def _with_threshold(metric, **kw):
    return dataclasses.replace(metric, threshold=Threshold(**kw))


def _row(table: pl.DataFrame, nation: str) -> dict:
    return table.filter(pl.col("nation") == nation).row(0, named=True)


def _ramp(start: float, step: float, years=YEARS, first=2010) -> np.ndarray:
    return start + step * (np.asarray(years) - first)


# ---------------------------------------------------------------------------- direction, holds


def test_direction_of_each_shipped_metric():
    ind = SPEC.industry
    assert lower_is_better(ind("semiconductors").capability)  # running_min process node
    assert lower_is_better(ind("solar_pv").cost)  # cost role, parity
    assert lower_is_better(ind("batteries_evs").capability)  # at_most pack cost
    assert not lower_is_better(ind("ai_foundation_models").capability)  # running record
    assert not lower_is_better(ind("autonomous_vehicles").capability)  # miles/disengagement
    assert not lower_is_better(ind("solar_pv").capability)  # learning rate
    assert not lower_is_better(ind("industrial_robots").volume)


def test_within_factor_higher_and_lower_is_better():
    av = SPEC.industry("autonomous_vehicles").capability  # within 10x of the best
    d = _draws(
        "autonomous_vehicles",
        "capability",
        [[100.0], [10.0], [9.9], [np.nan]],
        ["USA", "CHN", "DEU", "JPN"],
        [2024],
        unit="mile/disengagement",
    )
    assert holds(av, d).values[0, :, 0].tolist() == [True, True, False, False]
    node = SPEC.industry("semiconductors").capability  # within 2x of the smallest node
    d = _draws(
        "semiconductors",
        "capability",
        [[4.0], [8.0], [9.0], [np.nan]],
        ["TWN", "KOR", "JPN", "USA"],
        [2024],
        unit="nm",
    )
    assert holds(node, d).values[0, :, 0].tolist() == [True, True, False, False]


def test_within_points_of_the_best_learning_rate():
    lr = SPEC.industry("solar_pv").capability  # within 0.05 points
    d = _draws("solar_pv", "capability", [[0.20], [0.16], [0.14]], ["USA", "CHN", "DEU"], [2024])
    assert holds(lr, d).values[0, :, 0].tolist() == [True, True, False]


def test_within_years_reads_the_leaders_trajectory():
    ai = SPEC.industry("ai_foundation_models").capability  # at most 1 year behind
    years = list(range(2020, 2026))
    lead = 2.0 ** (np.arange(6))  # doubles every year
    arr = [lead, lead / 2, lead / 4 * 1.01, lead * 0.76 / 1]
    d = _draws(
        "ai_foundation_models", "capability", arr, ["USA", "CHN", "KOR", "JPN"], years, unit="FLOP"
    )
    h = holds(ai, d).values[0]
    assert not h[:, 0].any()  # the first year has no year before it
    assert h[0, 1:].all()  # the leader holds
    assert h[1, 1:].all()  # exactly one year behind
    assert not h[2, 1:].any()  # about two years behind
    half = _with_threshold(ai, kind="within_of_leader", value=0.5, unit="years")
    # L(y - 0.5) interpolated linearly: (L(y-1) + L(y)) / 2 = 0.75 L(y)
    hh = holds(half, d).values[0]
    assert hh[3, 1:].all() and not hh[1, 1:].any()


def test_levels_shares_cumulative_and_units():
    bat = SPEC.industry("batteries_evs")
    d = _draws(
        "batteries_evs",
        "capability",
        [[99.0, 100.0, 101.0, np.nan]],
        ["USA"],
        [2020, 2021, 2022, 2023],
        unit="2021 USD/kWh",
    )
    assert holds(bat.capability, d).values[0, 0].tolist() == [True, True, False, False]
    wrong = _draws("batteries_evs", "capability", [[99.0]], ["USA"], [2020], unit="USD/kWh")
    with pytest.raises(ModelError, match="threshold is in '2021 USD/kWh'"):
        holds(bat.capability, wrong)
    # share of a level: 30 of a world 100 is 0.3 >= 0.25; 20 of 100 is not
    lvl = _draws(
        "batteries_evs",
        "volume",
        [[30.0], [20.0]],
        ["USA", "CHN"],
        [2030],
        unit="car",
        world=np.array([[100.0]]),
    )
    assert holds(bat.volume, lvl).values[0, :, 0].tolist() == [True, False]
    share = _draws("batteries_evs", "volume", [[0.3], [0.2]], ["USA", "CHN"], [2030])
    assert holds(bat.volume, share).values[0, :, 0].tolist() == [True, False]
    av = SPEC.industry("autonomous_vehicles").volume  # cumulative miles >= 1e7, already summed
    cum = _draws(
        "autonomous_vehicles",
        "volume",
        [[4e6, 9e6, 1.1e7]],
        ["USA"],
        [2021, 2022, 2023],
        unit="mile",
    )
    assert holds(av, cum).values[0, 0].tolist() == [False, False, True]
    annual = dataclasses.replace(av, measure="value")  # annual miles: summed over the years
    ann = _draws(
        "autonomous_vehicles",
        "volume",
        [[4e6, 5e6, 1e6], [np.nan, 2e7, 2e7]],
        ["USA", "CHN"],
        [2021, 2022, 2023],
        unit="mile",
    )
    assert holds(annual, ann).values[0].tolist() == [[False, False, True], [False] * 3]


def test_parity_against_leader_nation_and_level():
    solar = SPEC.industry("solar_pv").cost  # within 10% of the cheapest
    d = _draws(
        "solar_pv",
        "cost",
        [[1000.0], [1099.0], [1101.0]],
        ["CHN", "USA", "DEU"],
        [2030],
        unit="2019 USD/kW",
    )
    assert holds(solar, d).values[0, :, 0].tolist() == [True, True, False]
    vs_usa = _with_threshold(solar, kind="parity", value=0.0, reference="USA")
    assert holds(vs_usa, d).values[0, :, 0].tolist() == [True, True, False]
    vs_deu = _with_threshold(solar, kind="parity", value=0.0, reference="JPN")
    with pytest.raises(ModelError, match="parity reference JPN"):
        holds(vs_deu, d)
    level = SPEC.industry("batteries_evs").cost  # at or below 100
    w = _draws(
        "batteries_evs",
        "cost",
        [[100.0, 99.0, np.nan]],
        ["USA"],
        [2024, 2025, 2026],
        unit="2020 USD/kWh",
    )
    assert holds(level, w).values[0, 0].tolist() == [True, True, False]


# ---------------------------------------------------------------------------- closing years


ROBOTS = SPEC.industry("industrial_robots")  # volume only; capability declared missing
R_NATIONS = [e.code for e in ROBOTS.nations]


def _robots(arr, seen=2023):
    return {
        "volume": _draws(ROBOTS.id, "volume", arr, R_NATIONS, seen={n: seen for n in R_NATIONS})
    }


def test_a_share_crossing_in_2027_in_every_draw_closes_in_2027():
    arr = np.full((50, 5, len(YEARS)), 0.1)
    arr[:, 1, YEARS.index(2027) :] = 0.3  # CHN crosses 0.25 in 2027
    cl = closing_years(ROBOTS, _robots(arr))
    assert (cl.years.sel(nation="CHN").values == 2027).all()
    assert (cl.years.sel(nation="USA").values == 2036).all()  # horizon 2035 + 1: not closed
    t = race_table(ROBOTS, cl)
    chn = _row(t, "CHN")
    assert (chn["closing_q10"], chn["closing_median"], chn["closing_q90"]) == (2027, 2027, 2027)
    assert chn["p_closed_by_horizon"] == 1.0 and chn["p_first"] == 1.0
    assert chn["unmeasured_roles"] == "capability" and chn["measured_roles"] == "volume"
    assert chn["note"].startswith("judged on volume only; capability unmeasured: no robot")
    assert chn["leading_strategy"] == "deployment_engine" and chn["leading_nation"] == "CHN"
    usa = _row(t, "USA")
    assert usa["closing_median"] is None and usa["p_closed_by_horizon"] == 0.0
    assert usa["p_first"] == 0.0


def test_half_the_draws_close_half_never():
    arr = np.full((40, 5, len(YEARS)), 0.1)
    arr[:20, 2, YEARS.index(2027) :] = 0.3  # DEU closes in 2027 in draws 0-19, never in 20-39
    cl = closing_years(ROBOTS, _robots(arr))
    deu = _row(race_table(ROBOTS, cl), "DEU")
    assert deu["p_closed_by_horizon"] == 0.5
    assert deu["closing_median"] == 2027 and deu["closing_q90"] is None
    assert deu["p_first"] == 0.5 and deu["p_none_by_horizon"] == 0.5
    assert deu["leading_strategy"] == "hybrid"
    arr[20:, 2, :] = 0.1
    arr[:15, 2, :] = 0.1  # now 5 of 40 close: P(none) dominates
    t = race_table(ROBOTS, closing_years(ROBOTS, _robots(arr)))
    assert _row(t, "DEU")["p_first"] == pytest.approx(5 / 40)
    assert set(t["leading_strategy"]) == {NONE_BY_HORIZON}
    assert t["leading_nation"].is_null().all()


def test_already_closed_and_a_lost_lead_are_told_apart():
    arr = np.full((10, 5, len(YEARS)), 0.1)
    ci = R_NATIONS.index("CHN")
    arr[:, ci, YEARS.index(2012)] = 0.3  # held in 2012, broke in 2013-2014
    arr[:, ci, YEARS.index(2015) :] = 0.5  # unbroken from 2015 through the data (2023) and on
    ui = R_NATIONS.index("USA")
    arr[:, ui, : YEARS.index(2013)] = 0.4  # held 2010-2012, then lost
    arr[:5, ui, YEARS.index(2030) :] = 0.3  # and back in 2030 in half the draws
    cl = closing_years(ROBOTS, _robots(arr))
    assert cl.closed_year == {"USA": None, "CHN": 2015, "DEU": None, "JPN": None, "KOR": None}
    assert (cl.years.sel(nation="CHN").values == 2015).all()
    usa = cl.years.sel(nation="USA").values
    assert (usa[:5] == 2030).all() and (usa[5:] == 2036).all()  # not 2010: it lost that lead
    t = race_table(ROBOTS, cl)
    assert _row(t, "CHN")["already_closed"] and _row(t, "CHN")["closed_year"] == 2015
    assert "closed in the data since 2015" in _row(t, "CHN")["note"]
    assert not _row(t, "USA")["already_closed"]


def test_the_leader_is_the_best_competing_nation():
    av = SPEC.industry("autonomous_vehicles")  # capability within 10x of the best
    nations = [e.code for e in av.nations] + ["GBR"]  # GBR does not compete
    mpd = np.array([[100.0], [20.0], [5.0], [5.0], [5.0], [1000.0]])
    miles = np.array([[2e7], [2e7], [0.0], [0.0], [0.0], [2e7]])
    draws = {
        "capability": _draws(av.id, "capability", mpd, nations, [2030], unit="mile/disengagement"),
        "volume": _draws(av.id, "volume", miles, nations, [2030], unit="mile"),
    }
    cl = closing_years(av, draws)
    assert cl.nations == ["USA", "CHN", "DEU", "JPN", "KOR"]
    # GBR's 1000 would make the bar 100; among the competitors it is 100 / 10 = 10
    assert cl.years.sel(nation="CHN").item() == 2030


def test_without_observed_years_the_first_crossing_counts():
    arr = np.full((4, 5, len(YEARS)), 0.1)
    arr[:, 0, YEARS.index(2011)] = 0.3
    arr[:, 0, YEARS.index(2020) :] = 0.3
    cl = closing_years(ROBOTS, {"volume": _draws(ROBOTS.id, "volume", arr, R_NATIONS)})
    assert (cl.years.sel(nation="USA").values == 2011).all()
    assert cl.last_observed["USA"] is None and cl.closed_year["USA"] is None


def test_lower_is_better_node_with_a_declared_gap():
    semi = SPEC.industry("semiconductors")  # node within 2x, fab share >= 0.20; CHN node missing
    nations = [e.code for e in semi.nations]  # USA CHN TWN KOR JPN
    node = np.array(
        [
            np.full(len(YEARS), 7.0),
            np.full(len(YEARS), np.nan),
            np.where(np.array(YEARS) < 2020, 3.0, 2.0),
            np.where(np.array(YEARS) < 2028, 5.0, 4.0),
            np.full(len(YEARS), 40.0),
        ]
    )
    share = np.array([np.full(len(YEARS), v) for v in (0.1, 0.3, 0.45, 0.25, 0.01)])
    seen = {n: 2024 for n in nations}
    draws = {
        "capability": _draws(semi.id, "capability", node, nations, unit="nm", seen=seen),
        "volume": _draws(semi.id, "volume", share, nations, seen=seen),
    }
    cl = closing_years(semi, draws)
    # TWN: 3 nm leads (2x = 6) and 0.45 share: closed through the data from the first year
    assert cl.closed_year["TWN"] == 2010
    # KOR: 5 nm was within 2x of 3 nm, lost it to the 2 nm leader in 2020; at 4 nm from 2028
    assert cl.closed_year["KOR"] is None
    assert (cl.years.sel(nation="KOR").values == 2028).all()
    # CHN judged on its share alone, flagged
    assert cl.unmeasured["CHN"][0][0] == "capability" and cl.measured["CHN"] == ("volume",)
    assert cl.closed_year["CHN"] == 2010
    t = race_table(semi, cl)
    assert _row(t, "CHN")["unmeasured_roles"] == "capability"
    assert _row(t, "USA")["p_closed_by_horizon"] == 0.0  # 7 nm is within 2x but 0.1 share
    # TWN and CHN both closed since 2010: they share P(first)
    assert _row(t, "TWN")["p_first"] == 0.5 and _row(t, "CHN")["p_first"] == 0.5
    assert t["leading_strategy"][0] == "deployment_engine"


def test_unmeasured_when_no_projection_or_no_draws():
    bat = SPEC.industry("batteries_evs")
    nations = [e.code for e in bat.nations]  # USA CHN EU27 JPN KOR; capability only USA
    vol = np.full((len(nations), len(YEARS)), 0.3)
    vol[nations.index("KOR")] = np.nan  # no draws for KOR
    draws = {"volume": _draws(bat.id, "volume", vol, nations)}
    cl = closing_years(bat, draws)
    assert cl.unmeasured["USA"] == (
        ("capability", "no projection given"),
        ("cost", "no projection given"),
    )
    assert [r for r, _ in cl.unmeasured["KOR"]] == ["capability", "volume", "cost"]
    assert cl.measured["KOR"] == () and np.isnan(cl.years.sel(nation="KOR").values).all()
    t = race_table(bat, cl)
    kor = _row(t, "KOR")
    assert kor["p_first"] is None and kor["p_closed_by_horizon"] is None
    assert kor["note"].startswith("cannot be judged")
    # the four judged nations close in the first year together: a four-way tie
    assert t.filter(pl.col("nation") != "KOR")["p_first"].to_list() == [0.25] * 4
    pw = pairwise(cl)
    with_kor = pw.filter(pl.col("nation_b") == "KOR")
    assert with_kor["p_a_first"].is_null().all() and with_kor["unmeasured_b"][0] is not None


def test_all_three_roles_with_a_world_cost():
    bat = SPEC.industry("batteries_evs")
    nations = [e.code for e in bat.nations]
    y = np.array(YEARS)
    pack = np.full((len(nations), len(YEARS)), np.nan)
    pack[0] = np.where(y < 2029, 120.0, 95.0)  # US pack cost at most 100 from 2029
    vol = np.array(
        [np.where(y < 2031, 0.1, 0.26), np.full(len(YEARS), 0.6), *[np.full(len(YEARS), 0.05)] * 3]
    )
    world_cost = np.tile(np.where(y < 2027, 130.0, 90.0), (len(nations), 1))  # <= 100 from 2027
    seen = {n: 2023 for n in nations}
    draws = {
        "capability": _draws(bat.id, "capability", pack, nations, unit="2021 USD/kWh", seen=seen),
        "volume": _draws(bat.id, "volume", vol, nations, seen=seen),
        "cost": _draws(bat.id, "cost", world_cost, nations, unit="2020 USD/kWh", seen=seen),
    }
    cl = closing_years(bat, draws)
    assert cl.years.sel(nation="USA").item() == 2031  # the last of 2029, 2031, 2027
    assert cl.years.sel(nation="CHN").item() == 2027  # volume and cost only
    assert cl.measured["CHN"] == ("volume", "cost")
    assert np.all(cl.years.sel(nation="JPN").values == 2036)
    t = race_table(bat, cl)
    assert _row(t, "CHN")["note"].startswith("judged on volume and cost only; capability")
    assert _row(t, "USA")["note"] is None
    # the same draws on other grids: US capability alone from 2020, volume nations reversed
    late = YEARS.index(2020)
    draws["capability"] = _draws(
        bat.id,
        "capability",
        pack[:1, late:],
        ["USA"],
        YEARS[late:],
        unit="2021 USD/kWh",
        seen={"USA": 2023},
    )
    draws["volume"] = _draws(bat.id, "volume", vol[::-1], nations[::-1], seen=seen)
    regrid = closing_years(bat, draws)
    assert regrid.years.equals(cl.years) and regrid.measured == cl.measured


def test_inputs_refused():
    arr = np.full((3, 5, len(YEARS)), 0.1)
    d = _draws(ROBOTS.id, "volume", arr, R_NATIONS)
    with pytest.raises(ModelError, match="no data"):
        closing_years(SPEC.industry("smartphones"), {})
    with pytest.raises(ModelError, match="draws for 'volume' are industrial_robots/volume"):
        closing_years(SPEC.industry("solar_pv"), {"volume": d})
    short = _draws(ROBOTS.id, "volume", arr[:2], R_NATIONS)
    bat_like = {"volume": d, "cost": dataclasses.replace(short, role="cost")}
    with pytest.raises(ModelError):
        closing_years(ROBOTS, bat_like)
    with pytest.raises(ModelError, match="no closing years"):
        race_table(ROBOTS, None)


# ---------------------------------------------------------------------------- tables


def test_no_data_industry_is_one_row_with_no_number():
    t = race_table(SPEC.industry("aerospace_launch"), None)
    assert t.height == 1
    r = t.row(0, named=True)
    assert r["status"] == "no data" and r["note"].startswith("no data: no launch cost")
    numbers = [k for k, v in r.items() if isinstance(v, int | float) and not isinstance(v, bool)]
    assert numbers == []


def _random_closing(seed: int, n_draws: int = 4000):
    rng = np.random.default_rng(seed)
    growth = rng.normal([0.01, 0.03, 0.0, 0.005, 0.004], 0.01, size=(n_draws, 5))
    start = np.array([0.08, 0.2, 0.05, 0.09, 0.05])
    t = np.arange(len(YEARS)) - 13  # 0 at 2023
    arr = start[None, :, None] + growth[:, :, None] * np.maximum(t, 0)[None, None, :]
    arr = arr + rng.normal(0, 0.01, size=arr.shape)
    return _robots(arr)


def test_pairwise_probabilities_sum_to_one_and_match_a_count():
    cl = closing_years(ROBOTS, _random_closing(1))
    pw = pairwise(cl)
    assert pw.height == 10
    total = pw["p_a_first"] + pw["p_b_first"] + pw["p_tie"] + pw["p_neither"]
    assert np.allclose(total.to_numpy(), 1.0, atol=1e-12)
    r = pw.filter((pl.col("nation_a") == "USA") & (pl.col("nation_b") == "CHN")).row(0, named=True)
    a, b = cl.years.sel(nation="USA").values, cl.years.sel(nation="CHN").values
    wins = sum(1 for x, y in zip(a, b, strict=True) if x <= 2035 and x < y)
    assert r["p_a_first"] == wins / len(a)
    assert 0 < r["p_b_first"] < 1 and r["p_neither"] == np.mean((a > 2035) & (b > 2035))
    early = pairwise(cl, horizon=2030)
    assert early["p_neither"].sum() >= pw["p_neither"].sum()
    t = race_table(ROBOTS, cl)
    assert t["p_first"].sum() + t["p_none_by_horizon"][0] == pytest.approx(1.0)


def test_same_input_same_tables_and_aligned_draws_reproduce():
    a = _random_closing(3)["volume"]
    b = _draws(
        ROBOTS.id, "volume", a.values.values[:1000], R_NATIONS, seen={n: 2023 for n in R_NATIONS}
    )

    def run(seed):
        aligned = align({"volume": b}, 2000, YEARS, seed)
        cl = closing_years(ROBOTS, aligned)
        return race_table(ROBOTS, cl), pairwise(cl)

    t1, p1 = run(7)
    t2, p2 = run(7)
    assert t1.equals(t2) and p1.equals(p2)
    t3, _ = run(8)
    assert not t3.equals(t1)  # another seed resamples other draws


def test_four_thousand_draws_take_milliseconds():
    draws = _random_closing(5)
    closing_years(ROBOTS, draws)  # warm
    start = time.perf_counter()
    cl = closing_years(ROBOTS, draws)
    race_table(ROBOTS, cl)
    pairwise(cl)
    assert time.perf_counter() - start < 0.5
