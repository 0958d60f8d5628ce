"""The harmonized tables' data-quality rules, on hand-made frames with known offenders."""

from __future__ import annotations

import math

import polars as pl

from learnrace_pipeline.lib.harmonize import checks


def _costs(values: list[float], series: str = "s:a") -> pl.DataFrame:
    return pl.DataFrame(
        {
            "series_id": [series] * len(values),
            "nation": ["WLD"] * len(values),
            "year": list(range(2000, 2000 + len(values))),
            "unit_cost": values,
        }
    )


def test_duplicate_keys_lists_every_copy() -> None:
    df = pl.concat([_costs([1.0, 2.0]), _costs([3.0])])
    dup = checks.duplicate_keys("cost_observations", df)
    assert dup.height == 2 and dup["year"].to_list() == [2000, 2000]
    assert checks.duplicate_keys("cost_observations", _costs([1.0, 2.0])).is_empty()


def test_nonpositive_costs_are_flagged_and_nan_too() -> None:
    bad = checks.nonpositive_costs(_costs([1.0, 0.0, -2.0, float("nan"), 3.0]))
    assert bad["year"].to_list() == [2001, 2002, 2003]


def test_decreasing_cumulative_within_a_series_only() -> None:
    df = pl.DataFrame(
        {
            "series_id": ["a", "a", "a", "b", "b"],
            "nation": ["WLD"] * 5,
            "year": [2000, 2001, 2002, 2000, 2001],
            "cumulative_production": [1.0, 5.0, 4.0, 100.0, 1.0],
        }
    )
    bad = checks.decreasing_cumulative(df)
    assert bad.select("series_id", "year").rows() == [("a", 2002), ("b", 2001)]
    assert bad["previous_cumulative"].to_list() == [5.0, 100.0]


def test_extreme_outliers_spike_and_jump() -> None:
    spike = checks.extreme_outliers(_costs([10.0, 10.0, 200.0, 10.0, 10.0]))
    assert spike["year"].to_list() == [2002]
    assert math.isclose(spike["dlog_in"][0], math.log(20.0))
    jump = checks.extreme_outliers(_costs([1000.0, 900.0, 5.0, 4.0]))
    assert jump["year"].to_list() == [2002]
    assert checks.extreme_outliers(_costs([10.0, 8.0, 6.0, 5.0])).is_empty()


def test_unknown_codes_name_undeclared_nations_and_units() -> None:
    df = pl.DataFrame(
        {"nation": ["USA", "XXX", "CHN"], "unit": ["2019 USD/W", "2019 USD/W", "furlongs"]}
    )
    assert checks.unknown_codes(df)["nation"].to_list() == ["XXX", "CHN"]


def test_undeclared_technologies_and_wrong_industry() -> None:
    df = pl.DataFrame(
        {
            "technology": ["solar_thermal", "not_a_technology", "solar_thermal"],
            "industry": ["solar", "solar", "chemicals"],
        }
    )
    assert checks.undeclared_technologies(df)["technology"].to_list() == [
        "not_a_technology",
        "solar_thermal",
    ]


def test_annual_total_discrepancies_beyond_the_rounding_tolerance() -> None:
    df = pl.DataFrame(
        {
            "company": ["A", "B", "C"],
            "report_year": [2021, 2021, 2021],
            "permit_type": ["drivered"] * 3,
            "source_file": ["f"] * 3,
            "autonomous_miles": [100.0, 100.0, 100.0],
            "reported_annual_total": [101.5, 1182.0, None],
        }
    )
    bad = checks.annual_total_discrepancies(df)
    assert bad["company"].to_list() == ["B"] and bad["difference_miles"].to_list() == [1082.0]
