"""Shared pieces of the Helveston reader: the series catalogue and tidy-row builders.

``SERIES`` declares the cost series (technology, cost unit, production unit, metric kind,
description) that become the ``technologies`` table; ``_cost`` and ``_prod`` build
``cost_observations`` and ``production`` rows in the units given to them (no conversion here;
:class:`..base.SeriesRows` bound to this source); ``_year`` parses a four-digit calendar year.
"""

from __future__ import annotations

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import SeriesRows

SOURCE = "helveston_solar_2022"
ROWS = SeriesRows(SOURCE)
_prod = ROWS.production

SERIES: dict[str, dict[str, str | None]] = {
    "china_module_price_cpia": {
        "technology": "solar_pv_module",
        "unit": "RMB/W",
        "production_unit": "GW",
        "metric_kind": "price",
        "description": "China PV module price, nominal RMB per W, CPIA (Wang Bohua slides) via "
        "Helveston et al. 2022; wang_ndrc_data.csv",
    },
    "china_system_price_cpia": {
        "technology": "solar_pv_system",
        "unit": "RMB/W",
        "production_unit": "GW",
        "metric_kind": "installed_cost",
        "description": "China PV system price, nominal RMB per W, CPIA via Helveston et al. 2022",
    },
    "germany_module_price_fraunhofer": {
        "technology": "solar_pv_module",
        "unit": "EUR/W",
        "production_unit": "MW",
        "metric_kind": "price",
        "description": "Germany PV module cost, nominal EUR per W: digitized from Fraunhofer ISE "
        "'Recent facts about photovoltaics in Germany' Fig. 2 (unit not stated in the file; read as "
        "EUR/kWp and divided by 1000); fractional digitized years rounded to calendar years. The "
        "Helveston 'USD' version of this series is mis-converted and not used.",
    },
    "us_module_price_index_lbnl": {
        "technology": "solar_pv_module",
        "unit": "2018 USD/W",
        "production_unit": "MW",
        "metric_kind": "price",
        "description": "US module price index, real 2018 USD per W, LBNL Tracking the Sun 2019 "
        "summary tables, sheet 'Fig 17'",
    },
    "us_module_cost_nrel": {
        "technology": "solar_pv_module",
        "unit": "2020 USD/W",
        "production_unit": "MW",
        "metric_kind": "cost",
        "description": "US utility-scale PV module cost benchmark (NREL), 2020 USD per W, as plotted "
        "by Helveston et al. 2022 (ex_fig4_compare_cost.csv, source NREL, divided by 1000)",
    },
}


def _cost(name: str, nation: str, year: int, value: float, file: str, row: int | None) -> dict:
    """A cost row of catalogue series ``name``: its technology and unit from ``SERIES``."""
    s = SERIES[name]
    return ROWS.cost(name, str(s["technology"]), nation, year, value, str(s["unit"]), file, row)


def _year(text_: str, *, file: str, row: int | None, column: str) -> int:
    s = text_.strip()
    if not s.isdigit() or len(s) != 4:
        raise DataError(
            f"not a calendar year: {text_!r}", source=SOURCE, file=file, row=row, column=column
        )
    return int(s)
