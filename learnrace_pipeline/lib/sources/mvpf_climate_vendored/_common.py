"""Shared pieces of the mvpf_climate_vendored reader: the source name, series ids, row builders.

Row builders for the tidy tables (technologies, cost_observations, production:
:class:`..base.SeriesRows` bound to this source) and calendar-year cells (numeric or text) as
integer years. Values pass through unchanged: units are whatever the calling workbook module
states.
"""

from __future__ import annotations

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import text
from learnrace_pipeline.lib.sources.base import SeriesRows

SOURCE = "mvpf_climate_vendored"
ROWS = SeriesRows(SOURCE)
_tech_row = ROWS.technology
_cost = ROWS.cost
_prod = ROWS.production


def _int_year(v: object, *, file: str, row: int, column: str) -> int:
    """A calendar year from a numeric or text cell (``2016.0`` or ``"2016"``)."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    s = text(v)
    if s.isdigit() and len(s) == 4:
        return int(s)
    raise DataError(f"not a calendar year: {v!r}", source=SOURCE, file=file, row=row, column=column)
