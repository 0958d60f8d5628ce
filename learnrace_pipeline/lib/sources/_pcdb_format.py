"""What the PCDB-family readers (``pcdb_carnegie``, ``farmer_lafond_alstott``) share besides units.

- :func:`technology_row`: a series' ``technologies`` row from its cost unit as parsed by
  :func:`._pcdb_common.parse_cost_unit` (the canonical unit string, e.g. ``1966 USD/lb``; the
  metric kind from the cost column's label and that unit: non-money units are
  ``input_per_output``).

Cost rows come from :func:`.base.cost_row` with the published value times ``Unit.factor`` (the
factor into the canonical unit: ``US cents/kWh`` values x 0.01 -> ``USD/kWh``, every other unit
x 1).
"""

from __future__ import annotations

from learnrace_pipeline.lib.sources._pcdb_common import Unit, metric_kind
from learnrace_pipeline.lib.vocab import taxonomy


def technology_row(
    source: str,
    series_id: str,
    technology: str,
    cost_unit: Unit,
    production_unit: str | None,
    label: str,
    description: str,
    file: str,
) -> dict:
    """One ``technologies`` row (bookkeeping ``_file`` = ``file``, ``_row`` = 1, the header).

    ``technology`` is a canonical taxonomy name (its industry is looked up); ``label`` is the cost
    column's label (``Price``, ``Cost``, ``""`` when there is none), which with ``cost_unit``
    gives the metric kind (:func:`._pcdb_common.metric_kind`). ``production_unit`` is the
    canonical production unit, or None for a source without production.
    """
    return {
        "series_id": series_id,
        "technology": technology,
        "industry": taxonomy.industry_of(technology),
        "source": source,
        "unit": cost_unit.unit,
        "production_unit": production_unit,
        "metric_kind": metric_kind(label, cost_unit),
        "description": description,
        "_file": file,
        "_row": 1,
    }
