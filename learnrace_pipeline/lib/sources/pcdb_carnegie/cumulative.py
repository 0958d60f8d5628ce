"""Cumulative production through each year of a ``pcdb_carnegie`` series, checked.

Works on the :class:`.series.Obs` of one file, in the file's production unit (values are never
rescaled). Column 4 is production through the previous year (``previous``: cumulative = column 4
+ the year's production, or the next row's column 4) or through the year itself
(``through_year``: column 4 as is, checked against previous + annual). A running sum that
demonstrably starts at the first row gets the Lafond et al. (2018) initial stock. Cumulative
production must not fall: declared source errors (:data:`.catalogue.KNOWN_REPAIRS`) are dropped
with a note, anything else is a :class:`DataError`. The source's running sums are compared with a
relative tolerance of :data:`REL_TOL`.
"""

from __future__ import annotations

import math

import numpy as np

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import Notes
from learnrace_pipeline.lib.sources.pcdb_carnegie.catalogue import KNOWN_REPAIRS, SOURCE
from learnrace_pipeline.lib.sources.pcdb_carnegie.series import Obs
from learnrace_pipeline.lib.vocab.cumulative import initial_stock

REL_TOL = 1e-3  # relative tolerance for the source's own running sums


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b), 1e-300)


def cumulative_from_previous(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> None:
    """Cumulative through the year when column 4 is production through the previous year."""
    checked = mismatched = 0
    for i, o in enumerate(obs):
        nxt = obs[i + 1] if i + 1 < len(obs) else None
        consecutive = nxt is not None and nxt.year == o.year + 1
        if o.cum_last is not None:  # aggregated sub-annual year
            o.cum, o.method, o.cum_row = o.cum_last, "reported_previous_plus_annual", o.last_row
        elif o.cum_col is not None and o.annual is not None:
            o.cum, o.method, o.cum_row = (
                o.cum_col + o.annual,
                "reported_previous_plus_annual",
                o.row,
            )
        elif consecutive and nxt is not None and nxt.cum_col is not None:
            o.cum, o.method, o.cum_row = nxt.cum_col, "reported", nxt.row
        if nxt is None or o.cum_col is None or o.annual is None or nxt.cum_col is None:
            continue
        implied = o.cum if o.cum is not None else o.cum_col + o.annual
        if consecutive:
            checked += 1
            if not _close(implied, nxt.cum_col):
                mismatched += 1
                notes.add(
                    rel,
                    nxt.row,
                    h[3],
                    f"{nxt.cum_col:g}",
                    f"previous-production {nxt.cum_col:g} differs from the prior row's previous + annual "
                    f"({implied:g}); each year's cumulative uses its own row",
                )
        elif _close(implied, nxt.cum_col):
            notes.add(
                rel,
                nxt.row,
                h[3],
                f"{nxt.cum_col:g}",
                f"gap {o.year:g} -> {nxt.year:g}: the source's running sum skips the unlisted years "
                "(counted as zero production), so cumulative production is understated",
            )
    if checked >= 4 and mismatched * 2 > checked:
        raise DataError(
            f"column 4 is not production through the previous year in {mismatched} of {checked} "
            "consecutive rows (declared convention 'previous')",
            source=SOURCE,
            file=rel,
            row=1,
            column=h[3],
        )


def sum_starts_at_first_row(obs: list[Obs]) -> bool:
    """Whether column 4 demonstrably sums production from the first row on, with no stock.

    True when the first row's column 4 is ``NA`` or 0 and the second row's column 4 equals the
    first row's production. A first row without production is ambiguous (the second row's
    column 4 is then often far larger than a year's output, i.e. a stock): it is left alone.
    """
    if len(obs) < 2 or obs[0].cum_col not in (None, 0.0):
        return False
    first, second = obs[0], obs[1]
    return (
        first.annual is not None
        and first.annual > 0
        and second.cum_col is not None
        and _close(first.annual, second.cum_col)
    )


def add_initial_stock(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> None:
    """Add the Lafond et al. (2018) initial stock to a series whose running sum starts at zero."""
    q = [
        o.annual if o.annual is not None else (o.cum if i == 0 and o.cum is not None else math.nan)
        for i, o in enumerate(obs)
    ]
    z0 = initial_stock(np.asarray(q, dtype=float))
    first = obs[0]
    if z0 is None:
        notes.add(
            rel,
            first.row,
            h[3],
            "NA" if first.cum_col is None else f"{first.cum_col:g}",
            "the source's running sum starts at the first row and early production does not "
            "grow, so no initial stock can be estimated (Lafond et al. 2018): cumulative "
            "production excludes everything made before the first year",
        )
        return
    for o in obs:
        if o.cum is not None:
            o.cum += z0
            o.method = "initial_stock_lafond2018"
    notes.add(
        rel,
        first.row,
        h[3],
        "NA" if first.cum_col is None else f"{first.cum_col:g}",
        f"the source's running sum starts at the first row: initial stock Z0 = q1/g = {z0:.6g} "
        f"({z0 / q[0]:.3g} years of first-year production; Lafond et al. 2018) added to every "
        "cumulative value",
    )


def cumulative_through_year(obs: list[Obs], rel: str, h: list[str]) -> None:
    """Cumulative through the year when column 4 runs through the year itself (checked)."""
    for i, o in enumerate(obs):
        if o.cum_col is not None:
            o.cum, o.method, o.cum_row = o.cum_col, "reported", o.row
        prev = obs[i - 1] if i else None
        if prev is None or prev.year != o.year - 1:
            continue
        if prev.cum_col is None or o.annual is None or o.cum_col is None:
            continue
        implied = prev.cum_col + o.annual
        if not _close(implied, o.cum_col):
            raise DataError(
                f"cumulative {o.cum_col:g} is not the previous cumulative plus this year's "
                f"production ({implied:g}) (declared convention 'through_year')",
                source=SOURCE,
                file=rel,
                row=o.row,
                column=h[3],
            )


def check_monotone(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> None:
    """Cumulative production must not fall; declared source errors are dropped, others refused."""
    best: float | None = None
    for o in obs:
        if o.cum is None:
            continue
        if best is not None and o.cum < best * (1 - 1e-9):
            repair = KNOWN_REPAIRS.get((rel, int(o.year), 3))
            if repair is None:
                raise DataError(
                    f"cumulative production through {int(o.year)} ({o.cum:g}) is below an earlier "
                    f"year's ({best:g}): the running sum must not fall",
                    source=SOURCE,
                    file=rel,
                    row=o.cum_row,
                    column=h[3],
                )
            notes.add(rel, o.cum_row, h[3], f"{o.cum:g}", repair)
            o.cum = o.method = None
            continue
        best = o.cum if best is None else max(best, o.cum)
