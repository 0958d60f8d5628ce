"""One PCDB-layout file of ``pcdb_carnegie``: cost, year, annual and cumulative production.

Column 1 is the unit cost or price with its unit in the header (``Price (1966 USD/lbs)``), column
2 the year (fractional for sub-annual series), column 3 yearly production and column 4 cumulative
production (units in the headers, e.g. ``Mil. lbs``; the same unit in both), which holds
production through the previous year (PCDB, ``"previous"``) or through the year itself
(``"through_year"``). Units are canonicalised by :mod:`.._pcdb_common`; values stay as published
here (the cost unit's factor is applied when rows are emitted). Sub-annual observations are
aggregated to calendar years; cumulative production is derived and checked by
:mod:`.cumulative`.
"""

from __future__ import annotations

import math
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._pcdb_common import (
    Where,
    parse_cost_unit,
    parse_quantity_unit,
    split_header,
)
from learnrace_pipeline.lib.sources.base import Notes, delimiter_hint, parse_number, read_csv
from learnrace_pipeline.lib.sources.pcdb_carnegie.catalogue import KNOWN_REPAIRS, SOURCE
from learnrace_pipeline.lib.sources.pcdb_carnegie.cumulative import (
    add_initial_stock,
    check_monotone,
    cumulative_from_previous,
    cumulative_through_year,
    sum_starts_at_first_row,
)
from learnrace_pipeline.lib.sources.pcdb_carnegie.series import Obs, Series

#: Years a PCDB observation may carry (fractional years inside it are sub-annual stamps).
YEAR_RANGE = (1000.0, 2200.0)


def read_four_columns(raw_dir: Path, rel: str, notes: Notes, *, convention: str) -> Series:
    """Parse one PCDB-layout file (cost, year, annual production, cumulative production).

    ``convention`` says what column 4 holds: ``"previous"`` (through the previous year, PCDB) or
    ``"through_year"``. Returns the series with yearly observations and derived cumulative
    production; raises DataError naming file, row and column for anything malformed.
    """
    table = read_csv(raw_dir, SOURCE, rel)
    h = table.header
    if len(h) != 4:
        hint = delimiter_hint(",".join(h))
        raise DataError(
            f"expected 4 columns (cost, year, annual production, cumulative production), "
            f"header has {len(h)}{hint}",
            source=SOURCE,
            file=rel,
            row=1,
        )
    cost_where = Where(SOURCE, rel, 1, h[0])
    label, unit_text = split_header(h[0], cost_where)
    cost_unit = parse_cost_unit(unit_text, cost_where, label=label)
    if "year" not in h[1].lower():
        raise DataError(
            f"column 2 should be the year, header is {h[1]!r}",
            source=SOURCE,
            file=rel,
            row=1,
            column=h[1],
        )
    prod_unit = parse_quantity_unit(
        split_header(h[2], Where(SOURCE, rel, 1, h[2]))[1], Where(SOURCE, rel, 1, h[2])
    )
    cum_where = Where(SOURCE, rel, 1, h[3])
    cum_unit = parse_quantity_unit(split_header(h[3], cum_where)[1], cum_where)
    if cum_unit.unit != prod_unit.unit:
        raise cum_where.error(
            f"cumulative unit {cum_unit.unit!r} differs from the annual production unit {prod_unit.unit!r}"
        )
    for col, unit in ((h[0], cost_unit), (h[2], prod_unit)):
        for repair in unit.repairs:
            notes.add(rel, 1, col, col, repair)

    obs: list[Obs] = []
    for rec in table.records:
        f = rec.fields

        def num(j: int, _f: list[str] = f, _row: int = rec.row) -> float | None:
            return parse_number(_f[j], source=SOURCE, file=rel, row=_row, column=h[j], notes=notes)

        year = num(1)
        if year is None:
            raise DataError("missing year", source=SOURCE, file=rel, row=rec.row, column=h[1])
        if not YEAR_RANGE[0] <= year <= YEAR_RANGE[1]:  # also refuses inf and nan
            raise DataError(
                f"year {f[1].strip()} is not a calendar year in {YEAR_RANGE}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=h[1],
            )
        cost, annual, cum_col = num(0), num(2), num(3)
        if cost is not None and cost <= 0:
            raise DataError(
                f"cost must be positive, got {cost:g}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=h[0],
            )
        if annual is not None and annual < 0:
            repair = KNOWN_REPAIRS.get((rel, int(year), 2))
            if repair is None:
                raise DataError(
                    f"negative production {annual:g}",
                    source=SOURCE,
                    file=rel,
                    row=rec.row,
                    column=h[2],
                )
            notes.add(rel, rec.row, h[2], f[2], repair)
            annual = None
        if cum_col is not None and cum_col < 0:
            raise DataError(
                f"negative cumulative production {cum_col:g}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=h[3],
            )
        if obs and year == obs[-1].year:
            raise DataError(
                f"duplicate year {f[1].strip()}", source=SOURCE, file=rel, row=rec.row, column=h[1]
            )
        if obs and year < obs[-1].year:
            raise DataError(
                f"years out of order ({f[1].strip()} after {obs[-1].year:g})",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=h[1],
            )
        obs.append(Obs(rec.row, year, cost, annual, cum_col))

    if any(o.year != math.floor(o.year) for o in obs):
        obs = _to_calendar_years(obs, rel, h, notes)
    if convention == "previous":
        cumulative_from_previous(obs, rel, h, notes)
        if sum_starts_at_first_row(obs):
            add_initial_stock(obs, rel, h, notes)
    elif convention == "through_year":
        cumulative_through_year(obs, rel, h)
    else:  # pragma: no cover - programming error
        raise ValueError(convention)
    check_monotone(obs, rel, h, notes)
    name = Path(rel).stem
    n_cost_only = sum(o.cost is not None and o.cum is None and o.annual is None for o in obs)
    n_prod_only = sum(o.cost is None and (o.cum is not None or o.annual is not None) for o in obs)
    if n_cost_only:
        notes.add(
            rel,
            None,
            h[2],
            "",
            f"{n_cost_only} cost row(s) without production: kept in cost_observations only",
        )
    if n_prod_only:
        notes.add(
            rel,
            None,
            h[0],
            "",
            f"{n_prod_only} production row(s) without cost: kept in production only",
        )
    return Series(rel, name, h, label, cost_unit, prod_unit, obs)


def _to_calendar_years(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> list[Obs]:
    """Aggregate sub-annual observations to calendar years (see the package docstring)."""
    groups: dict[int, list[Obs]] = {}
    for o in obs:
        groups.setdefault(math.floor(o.year), []).append(o)
    years = sorted(groups)
    out = []
    for y in years:
        g = groups[y]
        costs = [o.cost for o in g if o.cost is not None]
        weights = [o.annual for o in g if o.cost is not None]
        if costs and all(w is not None and w > 0 for w in weights):
            cost = sum(c * w for c, w in zip(costs, weights, strict=True)) / sum(weights)
            how = "production-weighted mean cost"
        elif costs:
            cost = sum(costs) / len(costs)
            how = "plain mean cost (a production value is missing)"
        else:
            cost, how = None, "no cost"
        annual = sum(o.annual for o in g) if all(o.annual is not None for o in g) else None
        stamps = ", ".join(f"{o.year:g}" for o in g)
        partial = (
            " (partial year: first or last calendar year of the series)"
            if y in (years[0], years[-1])
            else ""
        )
        notes.add(
            rel,
            g[0].row,
            h[1],
            stamps,
            f"{len(g)} sub-annual observation(s) aggregated to calendar year {y}: {how}, annual "
            f"production = sum, cumulative = through the last observation{partial}",
        )
        last = g[-1]
        cum_last = (
            last.cum_col + last.annual
            if last.cum_col is not None and last.annual is not None
            else None
        )
        out.append(
            Obs(
                g[0].row, float(y), cost, annual, g[0].cum_col, cum_last=cum_last, last_row=last.row
            )
        )
    return out
