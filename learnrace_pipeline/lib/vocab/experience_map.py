"""The declared experience map: which cumulative production is the experience of a cost series.

A cost series whose own ``series_id`` has production in the warehouse is joined to it (same id,
same nation). Every other cost series that has an experience variable is declared in
``experience_map.csv`` beside this module, one row per cost series:

===========================  ==================================================================
``cost_series_id``           the cost series (``technologies.series_id``)
``production_series_id``     the production series whose ``cumulative_production`` (through the
                             end of each year) is the experience ``Q`` of Wright's law
``scope``                    ``national``: that production series at the cost row's nation;
                             ``world``: at ``WLD``, whatever the cost row's nation
``nations``                  optional ``|``-separated nations of the cost series the entry
                             covers (blank: all); rows of other nations get no experience
``first_year``, ``last_year`` optional bounds on the cost years used (e.g. the cell part of a
                             series spliced from cells to packs)
``reason``                   one line: why this production is the right experience
===========================  ==================================================================

Lines starting with ``#`` are comments. :func:`load` checks the file's own rules (columns, a
known scope, years that are integers with ``first_year <= last_year``, a reason, each cost series
once); :func:`check_against` checks the entries against the warehouse tables: both series known,
the production series in one unit (a unit change across the join is refused), a unit that can be
an experience (a physical amount: no money, no rate or ratio such as ``FLOP/s`` or
``gallon/mile``), and of the same :func:`dimension` as the cost series' declared
``production_unit`` where it has one (``GW`` and ``MW`` agree: a constant factor cancels in log
differences; ``MWh`` and ``million cell`` do not).
Every breach is a :class:`DataError` naming the file, the row (line number, header = the first
non-comment line) and the column.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.vocab import units

EXPERIENCE_MAP_FILE = Path(__file__).with_name("experience_map.csv")
COLUMNS = (
    "cost_series_id",
    "production_series_id",
    "scope",
    "nations",
    "first_year",
    "last_year",
    "reason",
)
SCOPES = ("national", "world")
WORLD = "WLD"

Scope = Literal["national", "world"]


@dataclass(frozen=True)
class ExperienceEntry:
    """One row of the map (see module docstring); ``row`` is its line number in the file."""

    cost_series_id: str
    production_series_id: str
    scope: Scope
    nations: tuple[str, ...] | None
    first_year: int | None
    last_year: int | None
    reason: str
    row: int
    file: str = EXPERIENCE_MAP_FILE.name


def _error(problem: str, file: str, row: int | None, column: str | None) -> DataError:
    return DataError(problem, source="experience_map", file=file, row=row, column=column)


def _year(text: str, file: str, row: int, column: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise _error(f"{column} {text!r} is not a year", file, row, column) from None


def parse(text: str, file: str = EXPERIENCE_MAP_FILE.name) -> tuple[ExperienceEntry, ...]:
    """Entries of a map given as text (the file's format); DataError on any breach."""
    lines = text.splitlines()
    body = [(i, line) for i, line in enumerate(lines, start=1) if not line.startswith("#")]
    if not body:
        raise _error("no header", file, None, None)
    header_row, header = body[0]
    cols = tuple(next(csv.reader([header])))
    if cols != COLUMNS:
        raise _error(f"columns {cols} != {COLUMNS}", file, header_row, None)
    entries: list[ExperienceEntry] = []
    seen: dict[str, int] = {}
    for row, line in body[1:]:
        if not line.strip():
            continue
        fields = next(csv.reader(io.StringIO(line)))
        if len(fields) != len(COLUMNS):
            raise _error(f"{len(fields)} fields, expected {len(COLUMNS)}", file, row, None)
        rec = dict(zip(COLUMNS, (f.strip() for f in fields), strict=True))
        for col in ("cost_series_id", "production_series_id", "reason"):
            if not rec[col]:
                raise _error(f"{col} is empty", file, row, col)
        if rec["scope"] not in SCOPES:
            raise _error(f"scope {rec['scope']!r} not in {SCOPES}", file, row, "scope")
        first = _year(rec["first_year"], file, row, "first_year")
        last = _year(rec["last_year"], file, row, "last_year")
        if first is not None and last is not None and first > last:
            raise _error(f"first_year {first} > last_year {last}", file, row, "first_year")
        if rec["cost_series_id"] in seen:
            raise _error(
                f"cost series {rec['cost_series_id']!r} already mapped in row "
                f"{seen[rec['cost_series_id']]}",
                file,
                row,
                "cost_series_id",
            )
        seen[rec["cost_series_id"]] = row
        entries.append(
            ExperienceEntry(
                cost_series_id=rec["cost_series_id"],
                production_series_id=rec["production_series_id"],
                scope=rec["scope"],  # type: ignore[arg-type]
                nations=tuple(rec["nations"].split("|")) if rec["nations"] else None,
                first_year=first,
                last_year=last,
                reason=rec["reason"],
                row=row,
                file=file,
            )
        )
    return tuple(entries)


@functools.cache
def load(path: Path = EXPERIENCE_MAP_FILE) -> tuple[ExperienceEntry, ...]:
    """The entries of the map file at ``path`` (default: the shipped map)."""
    return parse(path.read_text(encoding="utf-8"), file=path.name)


#: Physical units that are rates or ratios, never a cumulative amount.
_NOT_AMOUNTS = frozenset({"FLOP/s", "gallon/mile", "acre/1000 bushels", "head/million lb"})
#: Money amounts listed among the physical units (values of goods, not quantities made).
_MONEY_AMOUNTS = frozenset({"USD", "2019 USD", "2023 USD", "dollar value"})


def is_experience_unit(unit: str | None) -> bool:
    """True when cumulative ``unit`` can be experience: a declared physical amount (capacity,
    energy, mass, count ...), not money and not a rate or ratio."""
    if unit is None or unit not in units.PHYSICAL:
        return False
    return unit not in _NOT_AMOUNTS and unit not in _MONEY_AMOUNTS and "/" not in unit


_POWER = frozenset({"W", "kW", "MW", "GW", "Wp", "MWp"})
_ENERGY = frozenset({"kWh", "MWh", "GWh", "TWh"})
_SCALES = ("thousand ", "million ", "billion ")


def dimension(unit: str) -> str:
    """What a physical unit measures, with its scale dropped: ``"power"`` (W ... GW, Wp),
    ``"energy"`` (kWh ... TWh), else the unit without a leading ``thousand``/``million``/
    ``billion`` (``"million cell"`` -> ``"cell"``). Units of one dimension differ by a constant
    factor, which log differences do not see."""
    if unit in _POWER:
        return "power"
    if unit in _ENERGY:
        return "energy"
    for scale in _SCALES:
        if unit.startswith(scale):
            return unit[len(scale) :]
    return unit


def check_against(
    entries: Iterable[ExperienceEntry],
    technologies: pl.DataFrame,
    production: pl.DataFrame,
    *,
    require_cost: bool = True,
) -> None:
    """Check entries against warehouse tables (see module docstring).

    ``require_cost=False`` skips entries whose cost series is absent from ``technologies`` (a
    panel built from a subset of the sources); with ``True`` an absent cost series is an error.
    """
    tech = {
        r["series_id"]: r.get("production_unit")
        for r in technologies.select(
            "series_id",
            *(["production_unit"] if "production_unit" in technologies.columns else []),
        )
        .unique("series_id")
        .iter_rows(named=True)
    }
    prod_units = (
        production.group_by("series_id").agg(pl.col("unit").drop_nulls().unique().sort())
        if "unit" in production.columns
        else production.select("series_id").unique().with_columns(pl.lit([]).alias("unit"))
    )
    units_of = {r["series_id"]: list(r["unit"]) for r in prod_units.iter_rows(named=True)}
    for e in entries:
        if e.cost_series_id not in tech:
            if not require_cost:
                continue
            raise _error(
                f"unknown cost series {e.cost_series_id!r} (not in technologies)",
                e.file,
                e.row,
                "cost_series_id",
            )
        if e.production_series_id not in units_of:
            raise _error(
                f"unknown production series {e.production_series_id!r} (not in production)",
                e.file,
                e.row,
                "production_series_id",
            )
        found = units_of[e.production_series_id]
        if len(found) != 1:
            raise _error(
                f"production series {e.production_series_id!r} changes unit across its rows "
                f"({found}): one unit is needed for cumulative production",
                e.file,
                e.row,
                "production_series_id",
            )
        unit = found[0]
        if not is_experience_unit(unit):
            raise _error(
                f"production series {e.production_series_id!r} is in {unit!r}, which cannot be "
                "experience (money, a rate or a ratio)",
                e.file,
                e.row,
                "production_series_id",
            )
        declared = tech[e.cost_series_id]
        if declared and dimension(declared) != dimension(unit):
            raise _error(
                f"unit change across the join: cost series {e.cost_series_id!r} declares "
                f"production in {declared!r} ({dimension(declared)}), production series "
                f"{e.production_series_id!r} is in {unit!r} ({dimension(unit)})",
                e.file,
                e.row,
                "production_series_id",
            )
