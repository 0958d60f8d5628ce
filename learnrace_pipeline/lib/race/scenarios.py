"""Scenarios: a declared scenario as the projectors' knobs, and its shift against the base case.

:func:`knobs_for` turns one :class:`~learnrace_pipeline.lib.race.spec.Scenario` into the
:class:`~learnrace_pipeline.lib.race.draws.Knobs` of one industry:

| parameter, operation | knob |
|---|---|
| ``compute_growth``, ``cap`` | ``compute_growth_cap`` (log10 FLOP per year) |
| ``deployment_growth``, ``scale`` | ``deployment_growth_scale`` |
| ``spillover_lambda``, ``set`` | ``spillover_lambda`` |
| ``research_rate``, ``scale`` | ``research_rate_scale`` |

``industry: all`` applies to every industry with data, ``nation: all`` to each of the industry's
nations; a scenario aimed at another industry (or a nation not competing in this one) leaves it
at the base case. Any other parameter/operation pair is a :class:`ModelError`.

:func:`scenario_shift` compares two race tables (:func:`closing.race_table`) row by row.
"""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.race.draws import BASE, Knobs
from learnrace_pipeline.lib.race.spec import ALL, RaceSpec, Scenario

#: (parameter, operation) -> the Knobs field it sets.
KNOB_FIELDS = {
    ("compute_growth", "cap"): "compute_growth_cap",
    ("deployment_growth", "scale"): "deployment_growth_scale",
    ("spillover_lambda", "set"): "spillover_lambda",
    ("research_rate", "scale"): "research_rate_scale",
}


def knobs_for(spec: RaceSpec, scenario: Scenario | None, industry: str) -> Knobs:
    """The knobs ``scenario`` sets in ``industry`` (the base case for None or another target)."""
    ind = spec.industry(industry)
    if scenario is None:
        return BASE
    field = KNOB_FIELDS.get((scenario.parameter, scenario.operation))
    if field is None:
        raise ModelError(
            f"scenario {scenario.name!r}: {scenario.operation} of {scenario.parameter} is not a "
            f"knob; expected one of {', '.join(f'{o} of {p}' for p, o in KNOB_FIELDS)}"
        )
    if ind.status != "data" or scenario.industry not in (ALL, industry):
        return BASE
    codes = [e.code for e in ind.nations]
    targets = codes if scenario.nation == ALL else [n for n in codes if n == scenario.nation]
    if not targets:
        return BASE
    return Knobs(**{field: {n: float(scenario.value) for n in targets}})


SHIFT_SCHEMA = {
    "industry": pl.String,
    "nation": pl.String,
    "status": pl.String,
    "median_base": pl.Int32,
    "median_scenario": pl.Int32,
    "median_shift": pl.Int32,  # years, scenario - base; null when either is past the horizon
    "median_direction": pl.String,  # earlier | later | same | unknown (past the horizon both)
    "p_closed_base": pl.Float64,
    "p_closed_scenario": pl.Float64,
    "p_closed_shift": pl.Float64,
    "p_first_base": pl.Float64,
    "p_first_scenario": pl.Float64,
    "p_first_shift": pl.Float64,
}


def scenario_shift(base_table: pl.DataFrame, scenario_table: pl.DataFrame) -> pl.DataFrame:
    """Per industry and nation: the scenario's closing-year median, P(closed by horizon) and
    P(first) against the base case's, and their shifts (scenario minus base).

    A median past the horizon (null in the race table) counts as later than any year: base 2030
    and scenario past the horizon is "later" with a null shift; past the horizon in both is
    "unknown". Rows of industries with no data keep status "no data" and null numbers. The two
    tables must list the same (industry, nation) rows."""
    cols = ["industry", "nation", "status", "closing_median", "p_closed_by_horizon", "p_first"]
    keys = ["industry", "nation"]
    b = base_table.select(cols)
    s = scenario_table.select(cols)
    if set(b.select(keys).rows()) != set(s.select(keys).rows()):
        raise ModelError("scenario shift: the base and scenario tables list different rows")
    j = b.join(s.drop("status"), on=keys, how="left", suffix="_s", nulls_equal=True)
    mb, ms = pl.col("closing_median"), pl.col("closing_median_s")
    data = pl.col("status") == "data"
    direction = (
        pl.when(~data)
        .then(None)
        .when(mb.is_null() & ms.is_null())
        .then(pl.lit("unknown"))
        .when(mb.is_null())
        .then(pl.lit("earlier"))
        .when(ms.is_null())
        .then(pl.lit("later"))
        .when(ms < mb)
        .then(pl.lit("earlier"))
        .when(ms > mb)
        .then(pl.lit("later"))
        .otherwise(pl.lit("same"))
    )
    out = j.select(
        "industry",
        "nation",
        "status",
        mb.alias("median_base"),
        ms.alias("median_scenario"),
        (ms - mb).alias("median_shift"),
        direction.alias("median_direction"),
        pl.col("p_closed_by_horizon").alias("p_closed_base"),
        pl.col("p_closed_by_horizon_s").alias("p_closed_scenario"),
        (pl.col("p_closed_by_horizon_s") - pl.col("p_closed_by_horizon")).alias("p_closed_shift"),
        pl.col("p_first").alias("p_first_base"),
        pl.col("p_first_s").alias("p_first_scenario"),
        (pl.col("p_first_s") - pl.col("p_first")).alias("p_first_shift"),
    )
    return out.cast(SHIFT_SCHEMA)
