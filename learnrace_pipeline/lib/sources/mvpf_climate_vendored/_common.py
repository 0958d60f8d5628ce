"""Shared pieces of the mvpf_climate_vendored reader: the source name, series ids, row builders.

Row builders for the tidy tables (technologies, cost_observations, production), the derived
cumulative production from annual figures (Lafond et al. 2018 initial stock, in the unit of the
annual rows), and calendar-year cells (numeric or text) as integer years. Values pass through
unchanged: units are whatever the calling workbook module states.
"""

from __future__ import annotations

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.harmonize import taxonomy
from learnrace_pipeline.lib.harmonize.cumulative import derive_cumulative
from learnrace_pipeline.lib.sources._sheets import frame, text
from learnrace_pipeline.lib.sources.base import cost_row, production_row

SOURCE = "mvpf_climate_vendored"


def _sid(name: str) -> str:
    return f"{SOURCE}:{name}"


# --- row builders ------------------------------------------------------------------------------


def _tech_row(
    name: str,
    technology: str,
    unit: str,
    production_unit: str | None,
    metric: str,
    description: str,
) -> dict:
    tech, industry = taxonomy.classify(technology, source=SOURCE)
    return {
        "series_id": _sid(name),
        "technology": tech,
        "industry": industry,
        "source": SOURCE,
        "unit": unit,
        "production_unit": production_unit,
        "metric_kind": metric,
        "description": description,
        "_file": None,
        "_row": None,
    }


def _cost(
    name: str, technology: str, nation: str, year: int, value: float, unit: str, file: str, row: int
) -> dict:
    return cost_row(SOURCE, _sid(name), technology, nation, year, value, unit, file, row)


def _prod(
    name: str,
    technology: str,
    nation: str,
    year: int,
    annual: float | None,
    cumulative: float | None,
    unit: str,
    method: str | None,
    file: str,
    row: int,
) -> dict:
    return production_row(
        SOURCE, _sid(name), technology, nation, year, annual, cumulative, unit, method, file, row
    )


def _with_cumulative(rows: list[dict]) -> list[dict]:
    """Cumulative from annual production (Lafond et al. 2018 initial stock) per series and nation."""
    if not rows:
        return rows
    df = frame("production", rows).drop("cumulative_production", "cumulative_method")
    return derive_cumulative(df, by=["series_id", "nation"]).to_dicts()


def _int_year(v: object, *, file: str, row: int, column: str) -> int:
    """A calendar year from a numeric or text cell (``2016.0`` or ``"2016"``)."""
    if isinstance(v, float) and v.is_integer():
        return int(v)
    s = text(v)
    if s.isdigit() and len(s) == 4:
        return int(s)
    raise DataError(f"not a calendar year: {v!r}", source=SOURCE, file=file, row=row, column=column)
