"""Battery, solar, wind, electrolyzer and fuel series vendored in Policy-Impacts/mvpf-climate.

Four workbooks, read with python-calamine, which returns the **cached value** of formula cells
(the value Excel saved), never the formula text:

``data/6_tables/tables_data/way_etal.xlsx`` (Way et al. 2022, Joule, Fig. 5), sheet
``Fig5_technology_historical_data``. Header rows are located by their labels (``Data source key``,
``Technology``, ``Variable``, ``Year``; the sheet's rows 5, 6, 7 and 9), then one row per year
(1861-2021) until the first blank row. The source-notes table below the data (``Data Source
Key``...) is **excluded from the data** and used only to document each series; its keys, and the
key row above the header, are formula cells (``=CELL("col")-1``, ``=B5``) whose cached numbers
link each column to its notes. All series are world series in 2020 US dollars except coal (US
average bituminous, ``USA``) and gas (US wellhead to 1984, then a 50:50 US/Europe blend; kept as
``WLD``, Way et al.'s global proxy). Experience columns (cumulative generation TWh, cumulative
battery production GWh, cumulative PEM electrolyzer installs MW) are ``production`` rows with
``cumulative_method = "reported"``; each carries the technology of the cost it pairs with
(``solar_pv_lcoe``, ``wind_lcoe``, ``li_ion_battery``, ``electrolyzer_pem``).

**Spliced battery cost.** The Way et al. battery cost switches from cell prices (IEA EV Outlook
2018, 1995-2016) to BNEF pack prices (2017-2020). It is kept as the single published series
``way2022_battery_cost_spliced`` (the one behind the published Wright exponent), with the splice
named in its description and one ``data_notes`` row per pack-price year. The splice year is
confirmed from the workbook's own source notes (DataError if they no longer say so).

``data/1_assumptions/evs/battery_costs_zt.xlsx`` (Ziegler & Trancik 2021): representative cell
prices, all cell types (1991-2018) and cylindrical (1991-2016), in 2018 USD/kWh (units checked
against each sheet's ``DependentAxisUnits``); annual market size in MWh (1991-2016) and in
millions of cells (all 1992-2017, cylindrical 1992-2016). Market size is **annual**, so cumulative
production is derived with :func:`..vocab.cumulative.derive_cumulative` (Lafond et al. 2018
initial stock). The cylindrical market-size sheet names its series "- All" although the sheet and
``Other1`` say cylindrical: read as cylindrical (noted). The specific-energy, energy-density and
patent sheets are not cost or production series and are not read.

``data/1_assumptions/evs/battery_costs_doe.xlsx`` (US DOE VTO Fact of the Week #1272): estimated
EV Li-ion pack cost per **usable** kWh, 2008-2022. The constant-dollar column (2021 USD/kWh) is
the cost observation ``doe_pack_cost_constant``; the current-dollar column is kept as the
separate nominal series ``doe_pack_cost_current`` (USD/kWh, price_basis_year null). Nation USA
(a DOE/BatPaC estimate, not a market price).

``data/1_assumptions/evs/marg_batt_sales_2016_2022_statista.xlsx`` (Statista re-publication of
IEA data): Li-ion battery **demand** for EVs by region where the EVs are sold (GWh/yr), China,
Europe, United States, Other, 2016-2022. World (``WLD``) = the sum of the four (the file has no
World column). Production rows per region with derived cumulative, and ``market_shares`` with
basis ``ev_battery_demand_of_world``. **Statista's terms restrict redistribution**: internal use
only (``INFO.licence``, ``INFO.non_commercial``).

The reader is split by workbook: :mod:`.way_etal`, :mod:`.ziegler_trancik`, :mod:`.doe_pack_cost`
and :mod:`.statista_demand` each parse one file; :mod:`._common` holds the row builders they share.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.sources._sheets import conformed
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo
from learnrace_pipeline.lib.sources.mvpf_climate_vendored._common import SOURCE
from learnrace_pipeline.lib.sources.mvpf_climate_vendored.doe_pack_cost import (
    F_DOE,
    S_DOE,
    _read_doe,
)
from learnrace_pipeline.lib.sources.mvpf_climate_vendored.statista_demand import (
    F_STATISTA,
    S_STATISTA,
    STATISTA_REGIONS,
    _read_statista,
)
from learnrace_pipeline.lib.sources.mvpf_climate_vendored.way_etal import (
    F_WAY,
    S_WAY,
    WAY_COLUMNS,
    WAY_PAIRS,
    WAY_SPLICE_YEAR,
    _read_way,
)
from learnrace_pipeline.lib.sources.mvpf_climate_vendored.ziegler_trancik import (
    F_ZT,
    ZT_SHEETS,
    _read_zt,
)

__all__ = [
    "F_DOE",
    "F_STATISTA",
    "F_WAY",
    "F_ZT",
    "INFO",
    "SOURCE",
    "STATISTA_REGIONS",
    "S_DOE",
    "S_STATISTA",
    "S_WAY",
    "WAY_COLUMNS",
    "WAY_PAIRS",
    "WAY_SPLICE_YEAR",
    "ZT_SHEETS",
    "read",
]

INFO = SourceInfo(
    name=SOURCE,
    producer="Way, Ives, Mealy & Farmer (Oxford INET); Ziegler & Trancik (MIT); US DOE Vehicle "
    "Technologies Office; IEA via Statista. Vendored by Policy-Impacts/mvpf-climate",
    citation="Way, R., Ives, M. C., Mealy, P. & Farmer, J. D. (2022). Empirically grounded technology "
    "forecasts and the energy transition. Joule 6(9), 2057-2082. Ziegler, M. S. & Trancik, J. E. "
    "(2021). Re-examining rates of lithium-ion battery technology improvement and cost decline. "
    "Energy Environ. Sci. 14, 1635-1651 (data doi:10.7910/DVN/9FEJ7C). US DOE VTO Fact of the Week "
    "#1272 (2023). Statista (2023), Lithium-ion battery demand for EVs worldwide 2016-2022, by "
    "region, source IEA.",
    url="https://github.com/Policy-Impacts/mvpf-climate (commit 211005c6c868fd30ac2089b75fa3b8eb9f2edd23)",
    licence="No licence file in the vendoring repository. way_etal.xlsx: not stated (cite Way et al. "
    "2022); battery_costs_zt.xlsx: Harvard Dataverse default CC0 (not verified); battery_costs_doe.xlsx: "
    "US government work, public domain; marg_batt_sales_2016_2022_statista.xlsx: Statista terms "
    "restrict redistribution - internal use only, do not republish the figures",
    retrieval_date="2025-09-04",
    notes="Statista battery-demand data may not be redistributed (internal use only). Battery demand "
    "is where EVs are sold, not where cells are made. Way et al. battery cost is a cell->pack splice "
    "(pack from 2017). No battery cost by nation exists in these files.",
    non_commercial=True,
)


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse the four vendored workbooks; tidy tables conformed to the declared schemas.

    Units: costs in 2020 USD per MWh/kWh/kW/barrel/t/MMBtu (Way et al.), 2018 USD/kWh (Ziegler &
    Trancik), 2021 USD/kWh and nominal USD/kWh (DOE); production in TWh, GWh, MW (cumulative), MWh
    and million cells per year, GWh per year (battery demand); shares as fractions.
    """
    notes = Notes(SOURCE)
    techs: list[dict] = []
    costs: list[dict] = []
    prod: list[dict] = []

    for part in (_read_way(raw_dir, notes), _read_zt(raw_dir, notes), _read_doe(raw_dir, notes)):
        techs += part[0]
        costs += part[1]
        prod += part[2]
    demand, shares = _read_statista(raw_dir, notes)
    prod += demand

    return conformed(
        SOURCE,
        {
            "technologies": techs,
            "cost_observations": costs,
            "production": prod,
            "market_shares": shares,
        },
        notes,
    )
