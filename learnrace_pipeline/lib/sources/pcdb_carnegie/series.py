"""A parsed ``pcdb_carnegie`` series and its rows of the tidy tables.

:class:`Obs` is one year (or sub-annual period) as published: cost in the file's cost unit,
annual production and column 4 in its production unit, plus the derived cumulative production
through the year. :class:`Series` is a whole file with its canonical units
(:class:`.._pcdb_common.Unit`). :func:`emit` turns a series into ``technologies``,
``cost_observations`` (cost multiplied by the unit's factor into the canonical unit) and
``production`` rows, each with the ``_file``/``_row`` bookkeeping columns.
"""

from __future__ import annotations

from dataclasses import dataclass

from learnrace_pipeline.lib.sources._pcdb_common import Unit
from learnrace_pipeline.lib.sources._pcdb_format import technology_row
from learnrace_pipeline.lib.sources.base import cost_row, production_row
from learnrace_pipeline.lib.sources.pcdb_carnegie.catalogue import SOURCE


@dataclass
class Obs:
    """One year (or sub-annual period) of a four-column series, as published."""

    row: int
    year: float
    cost: float | None
    annual: float | None
    cum_col: float | None  # column 4 as published
    cum: float | None = None  # cumulative through the year (derived)
    method: str | None = None
    cum_row: int | None = None  # the row the cumulative value came from
    cum_last: float | None = None  # aggregated years: cumulative after the last observation
    last_row: int | None = None  # aggregated years: row of the last observation


@dataclass
class Series:
    """A parsed four-column file."""

    rel: str
    name: str
    header: list[str]
    cost_label: str
    cost_unit: Unit
    prod_unit: Unit
    obs: list[Obs]


class Out:
    """Rows of the output tables, with bookkeeping columns."""

    def __init__(self) -> None:
        self.tech: list[dict] = []
        self.cost: list[dict] = []
        self.prod: list[dict] = []


def emit(out: Out, s: Series, tech: str, nation: str, description: str) -> None:
    """Append the rows of series ``s`` (canonical technology ``tech``, ``nation``) to ``out``."""
    sid = f"{SOURCE}:{s.name}"
    unit = s.cost_unit
    out.tech.append(
        technology_row(SOURCE, sid, tech, unit, s.prod_unit.unit, s.cost_label, description, s.rel)
    )
    for o in s.obs:
        y = int(o.year)
        if o.cost is not None:
            out.cost.append(
                cost_row(
                    SOURCE, sid, tech, nation, y, o.cost * unit.factor, unit.unit, s.rel, o.row
                )
            )
        if o.annual is not None or o.cum is not None:
            out.prod.append(
                production_row(
                    SOURCE,
                    sid,
                    tech,
                    nation,
                    y,
                    o.annual,
                    o.cum,
                    s.prod_unit.unit,
                    o.method,
                    s.rel,
                    o.row,
                )
            )
