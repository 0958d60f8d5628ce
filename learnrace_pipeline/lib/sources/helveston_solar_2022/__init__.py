"""Solar PV module prices, installed capacity and module production by nation (Helveston et al. 2022).

Reads ``raw/helveston_solar_2022`` (the ``jhelvy/solar-learning-2021`` data folder) and returns
national solar series in their **native currencies** (no exchange rate is applied: the repo's
``exchange-rates.xlsx`` was broken upstream and not copied, and no other in-repo source gives
RMB/USD or EUR/USD rates).

Cost observations (``cost_observations``; one row per series, nation and year):

- ``china_module_price_cpia`` (CHN, ``RMB/W`` nominal, 2007-2020) and ``china_system_price_cpia``
  (technology ``solar_pv_system``): ``data/china/wang_ndrc_data.csv``, a wide table (variables as
  rows, years as columns, UTF-8 BOM) hand-copied from CPIA slides. The inverter price row is
  read and checked but not kept (no inverter technology in the taxonomy).
- ``germany_module_price_fraunhofer`` (DEU, ``EUR/W`` nominal, 2006-2020): digitized from
  Fraunhofer ISE "Recent facts about photovoltaics in Germany" Fig. 2 (``fraunhofer_fig2.csv``
  plus the single 2020 point in ``Fig2-2020.csv``). The file states no unit; the values
  (3306.6 -> 438.8) read as **EUR per kWp, nominal**, and are divided by 1000 to EUR/W.
  Digitized x positions are fractional years; each point is assigned to the nearest calendar year
  (points are the figure's annual markers, so offsets are digitizing noise: a point more than
  0.25 year from a marker is refused), and points falling in one year would be averaged. Every
  assignment is recorded in ``data_notes``.
- ``us_module_price_index_lbnl`` (USA, ``2018 USD/W``, 2000-2018): LBNL Tracking the Sun 2019,
  sheet ``Fig 17``, column "Module Price Index" (real 2018 dollars, as Helveston's code treats it).
- ``us_module_cost_nrel`` (USA, ``2020 USD/W``, 2010-2020): the NREL utility-scale module cost
  benchmark as plotted by Helveston et al. (``figs/data/ex_fig4_compare_cost.csv``, source NREL,
  USD/kW in 2020 dollars, divided by 1000). The LBNL rows of that file are the Fig 17 index times
  a constant 2018->2020 inflation factor; they are checked against Fig 17 and not kept twice.

Known problems handled deliberately:

- **Germany "USD" price is mis-converted.** ``figs/data/fig2_prices_historical_national_global.csv``
  (and its Global half, ``prices_historical_only.csv``) gives Germany ``cost_per_kw_hist`` equal to
  the Fraunhofer EUR value **divided** by the USD-per-EUR rate (factor 1.11-1.47), an inverted
  conversion. It is never used as USD: the reader computes the implied factor per year and
  records it in ``data_notes`` as a flag; Germany is kept in EUR only.
- **"National" cumulative capacity is a model scenario.** The ``learning == "National"`` rows
  of the same file carry a scenario ``cumCapKw`` (US 2020: 137 GW against 75.6 GW observed).
  They are excluded and flagged in ``data_notes``; observed national cumulative capacity comes
  from ``data/irena/irenaCumCapacityMw.csv``.

Production (``production``):

- ``pv_cumulative_capacity_irena``: cumulative installed PV, MW, WLD/DEU/CHN/USA 2006-2020,
  ``cumulative_method = "reported"`` (annual left null: only the stock is published).
- ``china_cumulative_capacity_cpia``: CHN cumulative installed, GW, 2007-2020 (reported).
- ``seia_us_cumulative_capacity``: ``data/seia/seiaCapacity.json``, US cumulative MW 2007-2020,
  the sum of the four PV segments (Residential, Commercial, Community Solar, Utility; the order
  per Helveston's code); the fifth value (CSP, not PV) is dropped and the partial "2021 Q1"
  object is skipped (both recorded in ``data_notes``).
- ``seia_us_annual_installs_early``: ``data/seia/seiaEarlyYears.csv``, US annual installs MW/yr
  (sum of Residential, Commercial, Utility), 2000-2013; cumulative derived with
  :func:`..vocab.cumulative.derive_cumulative`.
- ``pv_module_production_pvs``: PV **module production** (where modules are made), GW/yr,
  2010-2021, for CHN, TWN, EUROPE, JPN, MYS, USA, ROW and WLD (the workbook's ``Total`` row, a
  ``SUM`` formula whose cached value is read and checked against the sum of the rows) from
  ``data/production/PVS Fig 1 2022.xlsx`` sheet ``Data``; cumulative derived (Lafond initial
  stock; production before 2010 is not in the file). ``figs/data/fig1_pv_production.csv`` holds
  the same numbers and is not read.

The experience variable of module prices in this literature is cumulative installed capacity,
so installed-capacity and module-production series both carry technology ``solar_pv_module``
(distinguished by ``series_id``).

Market shares (``market_shares``): ``pv_module_production_of_world`` (nation / Total of the PVS
table) and ``pv_cumulative_capacity_of_world`` (IRENA national / IRENA world).

Not read, deliberately: ``data/spv/Table 4.2.xlsx`` (nation ambiguous), silicon prices (unit not
stated), top-manufacturer shipments (firm level), ``Solar PV projections.xlsx`` (projections),
``ex_fig3_compare_capacity_cumulative.csv`` (copies of SEIA/IRENA plus a short NREL series).

Layout: this package holds ``INFO`` and :func:`read`; the parsing lives in ``prices`` (CPIA,
Fraunhofer, LBNL and NREL price files), ``capacity`` (IRENA and SEIA installed capacity),
``production`` (the PVS module-production workbook), ``figure_flags`` (the two traps in the figure
file, noted and never used) and ``_common`` (the series catalogue and row builders).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.sources._sheets import conformed
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo
from learnrace_pipeline.lib.sources.helveston_solar_2022._common import ROWS, SERIES, SOURCE
from learnrace_pipeline.lib.sources.helveston_solar_2022.capacity import (
    F_IRENA,
    F_SEIA_EARLY,
    F_SEIA_JSON,
    SEIA_SEGMENTS,
    _irena_shares,
    _read_irena,
    _read_seia_early,
    _read_seia_json,
)
from learnrace_pipeline.lib.sources.helveston_solar_2022.figure_flags import (
    F_FIG2,
    _flag_figure_file,
)
from learnrace_pipeline.lib.sources.helveston_solar_2022.prices import (
    CHINA_VARIABLES,
    F_CHINA,
    F_DE,
    F_DE_2020,
    F_FIG4,
    F_LBNL,
    MAX_YEAR_OFFSET,
    _read_china,
    _read_fig4,
    _read_germany,
    _read_lbnl,
)
from learnrace_pipeline.lib.sources.helveston_solar_2022.production import (
    F_PVS,
    PVS_NAMES,
    _read_pvs,
)

__all__ = [
    "CHINA_VARIABLES",
    "F_CHINA",
    "F_DE",
    "F_DE_2020",
    "F_FIG2",
    "F_FIG4",
    "F_IRENA",
    "F_LBNL",
    "F_PVS",
    "F_SEIA_EARLY",
    "F_SEIA_JSON",
    "INFO",
    "MAX_YEAR_OFFSET",
    "PVS_NAMES",
    "SEIA_SEGMENTS",
    "SERIES",
    "SOURCE",
    "read",
]

INFO = SourceInfo(
    name=SOURCE,
    producer="J. P. Helveston, G. He, M. R. Davidson (data hand-copied or digitized from CPIA, "
    "Fraunhofer ISE, IRENA, SEIA, LBNL, NREL and Jäger-Waldau / JRC PV Status Report)",
    citation="Helveston, J. P., He, G. & Davidson, M. R. (2022). Quantifying the cost savings of "
    "global solar photovoltaic supply chains. Nature 612, 83-87. doi:10.1038/s41586-022-05316-6",
    url="https://github.com/jhelvy/solar-learning-2021 (commit cb730d490eab03a22c709190c171ace0fc4da06d)",
    licence="No licence file in the repository; third-party data (CPIA, Fraunhofer, IRENA, SEIA, "
    "LBNL, NREL, JRC): cite the paper and the original sources",
    retrieval_date="2023-07-06",
    notes="Native currencies kept (RMB/W nominal for China, EUR/W nominal for Germany, constant USD "
    "for the US); no exchange rates applied. The Germany 'USD' figure series is mis-converted "
    "(EUR divided by USD/EUR) and is not used; the 'National' cumulative capacity in the figure "
    "files is a model scenario and is excluded.",
)


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse the Helveston solar folder; tidy tables conformed to the declared schemas.

    Units: prices in RMB/W, EUR/W (nominal) and 2018/2020 USD/W; capacity in MW or GW
    (cumulative); module production in GW per year; shares as fractions.
    """
    notes = Notes(SOURCE)
    costs: list[dict] = []
    prod: list[dict] = []
    shares: list[dict] = []

    china_costs, china_cap = _read_china(raw_dir, notes)
    costs += china_costs
    prod += china_cap
    de_costs = _read_germany(raw_dir, notes)
    costs += de_costs
    irena = _read_irena(raw_dir, notes)
    prod += irena
    shares += _irena_shares(irena)
    prod += _read_seia_json(raw_dir, notes)
    prod += _read_seia_early(raw_dir, notes)
    lbnl = _read_lbnl(raw_dir, notes)
    costs += lbnl
    costs += _read_fig4(raw_dir, lbnl, notes)
    pvs_prod, pvs_shares = _read_pvs(raw_dir, notes)
    prod += pvs_prod
    shares += pvs_shares
    _flag_figure_file(raw_dir, de_costs, irena, notes)

    techs = [
        ROWS.technology(
            name,
            str(s["technology"]),
            str(s["unit"]),
            s["production_unit"],
            str(s["metric_kind"]),
            str(s["description"]),
        )
        for name, s in SERIES.items()
    ]
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
