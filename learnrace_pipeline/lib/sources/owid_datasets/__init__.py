"""Reader for ``owid_datasets``: legacy Our World in Data dataset exports (owid/owid-datasets).

Each dataset is a folder ``datasets/<title>/`` holding one long-format CSV (``Entity, Year,
<value columns>``) and OWID's ``datapackage.json`` (field list, descriptions, display units). The
CSV header must match the datapackage's field list. Every value column is either read (as declared
below, with its unit) or skipped with a data note; an undeclared column is a :class:`DataError`,
so an upstream change cannot slip in unread or mislabelled.

What is read, and where its unit comes from:

- *Solar PV Module Costs & Capacity - Lafond et al. (2017) & IRENA*: world module cost in
  ``2019 USD/W`` (datapackage ``$/W``; the description states the 2019 US$ conversion) and
  cumulative installed capacity in ``MW`` (datapackage), ``cumulative_method = "reported"``.
- *Transistors per microprocessor - Rupp & Horowitz*: the largest transistor count per chip
  (``transistor``, metric kind ``performance``); no unit in the datapackage, the column name is
  the unit.
- *NIH - DNA Sequencing Costs*: cost per megabase (``USD/Mb``) and per human-size genome
  (``USD/genome``), datapackage unit "current US$" = nominal; ``base_pairs_per_dollar`` is the
  reciprocal of the per-megabase cost (computed by OWID) and is skipped.
- *Supercomputer power (FLOPS) - TOP500*: fastest system, ``FLOP/s`` (column name), performance.
- *Renewable energy costs (IRENA, 2020)*: cost columns by nation, units parsed from the column
  headers (``Total installed cost onshore wind (2019 USD/kW)``). Columns without a unit
  (residential/commercial solar, large/small hydro), with an impossible unit (solar LCOE "per
  kW") or a malformed basis year (``219 USD/kWh``) are excluded with a note; capacity factors and
  turbine sizes are not costs and are skipped. **Regional fill-ins:** IRENA's early national
  onshore-wind costs repeat across countries. For every installed-cost or price column, a value
  shared by two or more nations (World excluded) in the same year is flagged as a regional
  fill-in and those observations are dropped (one note per year-value, naming the nations); the
  LCOE of a dropped nation-year is dropped too, since IRENA computes it from that installed cost.
- *Renewable Energy Capacity by Technology - IRENA (2017)*: world installed capacity by
  technology (Entity = technology) as ``production`` in ``MW`` with ``cumulative_method =
  "reported"``. The datapackage's unit "Rate" is wrong; MW is IRENA's unit and matches the
  magnitudes (hydropower 2000 = 781,804 MW). Installed capacity is net of retirements: a year
  below an earlier year's capacity cannot be cumulative production and is dropped with a note.
  Solar capacity (PV and CSP) is labelled ``solar_pv_module``, wind (onshore and offshore)
  ``wind_onshore``: the experience variables of those cost series.
- *European vehicle passenger sales (ICCT, 2021)*: battery-electric (BEV) and BEV + plug-in
  hybrid (PHEV) new-car registrations by nation as ``production`` of ``ev_car`` in ``vehicle``
  (cumulative derived with :func:`~learnrace_pipeline.lib.vocab.cumulative.derive_cumulative`),
  and their shares of new-car sales as ``market_shares`` (ICCT shares are percentages; divided by
  100 and checked against counts / total sales). ``Europe`` (EU27 + Iceland + Norway + UK per
  OWID) is the region ``EUROPE``. ``vehicle_price_eur`` is the average price of all new cars, not
  an EV cost: skipped.
- *Solar PV Systems Costs - Barbose & Darghouth (2016)*: US median residential installed price
  and module price. The datapackage's units ("Constant USD", "Percent", "Number") are wrong or
  incomplete; the cited report (LBNL Tracking the Sun IX) states all prices in real 2015 USD per
  W (DC), recorded as ``2015 USD/W``. ``Non-Module Costs`` = total - module (OWID's own
  subtraction) is skipped.
- *Learning costs, J. Doyne Farmer and François Lafond (2016)*: **excluded**. Units differ per
  technology and are absent from the CSV and the datapackage (empty description); the same data,
  with units, is read by the ``farmer_lafond_alstott`` reader. The CSV is still parsed (so a
  malformed file is reported) and one note per technology records the exclusion.

Tables: ``technologies``, ``cost_observations``, ``production``, ``market_shares``,
``data_notes``. Production-only series (IRENA capacity, ICCT sales) have no ``technologies`` row
(that table lists cost series).

Modules: :mod:`.dataset` (a dataset folder parsed and checked; the row builders),
:mod:`.series` (the fixed-column datasets: solar module, transistors, TOP500, DNA, LBNL,
Farmer-Lafond), :mod:`.irena` (IRENA costs by nation and capacity by technology), :mod:`.icct`
(European EV sales and shares). This module keeps the dataset titles, ``INFO`` and :func:`read`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.sources._sheets import conformed
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo
from learnrace_pipeline.lib.sources.owid_datasets.dataset import (
    SOURCE,
    CostColumn,
    Dataset,
    Out,
    load,
)
from learnrace_pipeline.lib.sources.owid_datasets.icct import (
    ICCT_PRODUCTION,
    ICCT_SHARES,
    ICCT_SKIPPED,
    ICCT_TOTAL,
    read_sales,
)
from learnrace_pipeline.lib.sources.owid_datasets.irena import (
    IRENA_CAPACITY_TECH,
    IRENA_COSTS,
    IRENA_EXCLUDED,
    IRENA_NOT_COSTS,
    read_capacity,
    read_costs,
)
from learnrace_pipeline.lib.sources.owid_datasets.series import (
    check_learning_costs,
    read_dna,
    read_lbnl_prices,
    read_single,
    read_solar_module,
)

__all__ = [
    "D_BARBOSE",
    "D_DNA",
    "D_ICCT",
    "D_IRENA_CAP",
    "D_IRENA_COST",
    "D_LEARNING",
    "D_SOLAR",
    "D_TOP500",
    "D_TRANSISTORS",
    "ICCT_PRODUCTION",
    "ICCT_SHARES",
    "ICCT_SKIPPED",
    "ICCT_TOTAL",
    "INFO",
    "IRENA_CAPACITY_TECH",
    "IRENA_COSTS",
    "IRENA_EXCLUDED",
    "IRENA_NOT_COSTS",
    "SOURCE",
    "CostColumn",
    "Dataset",
    "load",
    "read",
]


INFO = SourceInfo(
    name=SOURCE,
    producer="Our World in Data (legacy owid/owid-datasets exports) compiling Lafond et al. "
    "(2017), IRENA, Rupp & Horowitz, NHGRI, TOP500, ICCT/EEA and LBNL (Barbose & Darghouth)",
    citation="Our World in Data, owid/owid-datasets; third-party sources as cited in each "
    "dataset's datapackage.json",
    url="https://github.com/owid/owid-datasets",
    licence="OWID CC BY 4.0; third-party sources keep their own terms (IRENA, ICCT, TOP500, "
    "NIH, Navigant via Lafond et al., LBNL)",
    retrieval_date="2024-10-21",
    notes="HEAD 48c9992ae317b35ed327fc36d2af75fe8b3ef7ed "
    "(retrieval_date is its commit date; no download date is recorded); each CSV from the last commit where it "
    "was non-empty (see PROVENANCE.md). Some series and recent years are withheld from this copy "
    "for evaluation.",
)

D_SOLAR = "Solar PV Module Costs & Capacity - Lafond et al. (2017) & IRENA"
D_TRANSISTORS = "Transistors per microprocessor - Rupp & Horowitz"
D_DNA = "NIH - DNA Sequencing Costs"
D_TOP500 = "Supercomputer power (FLOPS) – TOP500 Database"
D_IRENA_COST = "Renewable energy costs (IRENA, 2020)"
D_IRENA_CAP = "Renewable Energy Capacity by Technology - IRENA (2017)"
D_ICCT = "European vehicle passenger sales (ICCT, 2021)"
D_BARBOSE = "Solar PV Systems Costs - Barbose & Darghouth (2016)"
D_LEARNING = "Learning costs, J. Doyne Farmer and François Lafond (2016)"


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse ``raw_dir/owid_datasets``; return conformed tables plus ``data_notes``."""
    raw_dir = Path(raw_dir)
    notes = Notes(SOURCE)
    out = Out()
    read_solar_module(load(raw_dir, D_SOLAR), out, notes)
    read_single(
        load(raw_dir, D_TRANSISTORS),
        out,
        notes,
        "Transistors per microprocessor",
        "transistor",
        CostColumn(
            "transistors_per_microprocessor",
            "microprocessor",
            "performance",
            "Largest transistor count per microprocessor in the year (Rupp; Horowitz et al.; "
            "OWID updates for 2015 and 2017)",
        ),
    )
    read_single(
        load(raw_dir, D_TOP500),
        out,
        notes,
        "Floating-Point Operations per Second",
        "FLOP/s",
        CostColumn(
            "top500_fastest_flops",
            "supercomputer",
            "performance",
            "Fastest TOP500 supercomputer, floating-point operations per second",
        ),
    )
    read_dna(load(raw_dir, D_DNA), out, notes)
    read_costs(load(raw_dir, D_IRENA_COST), out, notes)
    read_capacity(load(raw_dir, D_IRENA_CAP), out, notes)
    read_sales(load(raw_dir, D_ICCT), out, notes)
    read_lbnl_prices(load(raw_dir, D_BARBOSE), out, notes)
    check_learning_costs(load(raw_dir, D_LEARNING), notes)
    return conformed(
        SOURCE,
        {
            "technologies": out.tech,
            "cost_observations": out.cost,
            "production": out.prod,
            "market_shares": out.shares,
        },
        notes,
    )
