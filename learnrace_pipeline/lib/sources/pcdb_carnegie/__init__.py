"""Reader for ``pcdb_carnegie``: PCDB experience curves as vendored by carnegie/clab_experience_curve.

Files read (relative to ``raw_dir/pcdb_carnegie``):

- ``expCurveData/*.csv``: one PCDB technology per file, four columns whose units appear only in
  the header: (1) unit cost or price, e.g. ``Price (1966 USD/lbs)``; (2) year, fractional for
  sub-annual series; (3) yearly production; (4) production through the **previous** year
  (``NA`` in the first row of most files).
- ``solar_pv_PCDB_IEA_IRENA.csv`` (solar PV LCOE-like cost in 2022 USD/MWh vs. generation in MWh;
  its ``Cumulative production`` column is, like PCDB column 4, production through the previous
  year) and ``wind_Bolinger_IEA_IRENA.csv`` (wind, same layout, but its cumulative column runs
  through the year itself). The convention of each file is declared and checked.
- ``OurWorldInData/solar-pv-prices-vs-cumulative-capacity.csv``: world solar module price ($/W)
  and cumulative capacity (MW), 1975-2022.

``ExpCurves.csv`` is a combination derived by the upstream authors' script and is not read.
``AdditionalData/`` (an IEA world generation table and the IRENA 2022 cost workbook, inputs the
upstream authors used to build the combined solar and wind files) is not read either.

Tables: ``technologies``, ``cost_observations``, ``production``, ``data_notes``.

Units: every header unit is canonicalised by :mod:`.._pcdb_common` (e.g. ``1966 USD/lbs`` ->
``1966 USD/lb``, ``Mil. lbs`` -> ``million lb``, ``2005 US cents/KWH`` -> ``2005 USD/kWh`` with
values divided by 100, ``Heads/Mil. lbs`` -> ``head/million lb``); non-money "costs" get
``metric_kind = "input_per_output"``.

Cumulative production through year t (``cumulative_method``):

- ``reported_previous_plus_annual``: the file's production-through-previous-year plus the year's
  production, where both are given;
- ``reported``: otherwise, the next row's production-through-previous-year when that row is year
  t + 1 (this gives the first year of most files, and years whose own production is missing), or
  a file whose cumulative column runs through the year itself;
- no cumulative (null) where neither is available; such a row is kept only if it has annual
  production.

Initial stock. Where column 4 of a ``previous``-convention file is ``NA`` or 0 in its first row
and the second row's column 4 equals the first row's production, the source's running sum
demonstrably starts at the file's first year: everything produced before it is missing, so the first differences of log cumulative production are far too large (log 2 or more
in the second year) and the fitted exponent far too small. As Lafond et al. (2018) did for these
same PCDB files, such a series gets the initial stock ``Z_0 = q_1 / g`` of
:func:`learnrace_pipeline.lib.vocab.cumulative.initial_stock` (g from the early growth of
annual production; the first year's production is its cumulative when its own cell is empty),
added to every cumulative value, with ``cumulative_method = "initial_stock_lafond2018"`` and a
data note giving Z_0. Where g is not positive the stock cannot be estimated: the series keeps the
source's running sum and a note says so. Files whose first row carries a stock keep it, and so do
files whose first row has no production (their second row's column 4 is usually several years'
output, i.e. a stock, so nothing shows the sum starting at zero).

Sub-annual series (``Shotgun_Sanger_DNA_Sequencing``, years like 2002.25) are aggregated to
calendar years: cost = production-weighted mean of the year's observations (plain mean where a
production value is missing), annual production = sum over the year's observations, cumulative =
through the year's last observation. The first and last calendar years are partial; a note says so.

Cost rows without production and production rows without cost are kept in their own table only;
nothing is filled in. Known source errors are repaired only where declared in
:data:`KNOWN_REPAIRS`; any other broken rule is a :class:`DataError`.

Modules: :mod:`.catalogue` (file names, column-4 conventions, declared repairs and remarks),
:mod:`.four_columns` (a PCDB-layout file parsed and checked; sub-annual years aggregated),
:mod:`.cumulative` (cumulative production derived and checked; the initial stock),
:mod:`.owid` (the OWID module price and capacity file), :mod:`.series` (a parsed series and its
rows). This module keeps ``INFO`` and :func:`read`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._pcdb_common import nation_of
from learnrace_pipeline.lib.sources._sheets import conformed
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo
from learnrace_pipeline.lib.sources.pcdb_carnegie.catalogue import (
    COMBINED_TECH,
    CONVENTIONS,
    EXP_DIR,
    KNOWN_REPAIRS,
    OWID_FILE,
    REMARKS,
    SOLAR_FILE,
    SOURCE,
    WIND_FILE,
)
from learnrace_pipeline.lib.sources.pcdb_carnegie.cumulative import REL_TOL
from learnrace_pipeline.lib.sources.pcdb_carnegie.four_columns import read_four_columns
from learnrace_pipeline.lib.sources.pcdb_carnegie.owid import read_owid
from learnrace_pipeline.lib.sources.pcdb_carnegie.series import Obs, Out, Series, emit
from learnrace_pipeline.lib.vocab import taxonomy

__all__ = [
    "COMBINED_TECH",
    "CONVENTIONS",
    "EXP_DIR",
    "INFO",
    "KNOWN_REPAIRS",
    "OWID_FILE",
    "REL_TOL",
    "REMARKS",
    "SOLAR_FILE",
    "SOURCE",
    "WIND_FILE",
    "Obs",
    "Series",
    "known_series",
    "read",
    "read_four_columns",
]

INFO = SourceInfo(
    name=SOURCE,
    producer="Santa Fe Institute Performance Curve Database (PCDB), vendored by the Carnegie "
    "Institution for Science (carnegie/clab_experience_curve)",
    citation="Nagy, Farmer, Bui & Trancik (2013), Statistical basis for predicting technological "
    "progress, PLoS ONE 8(2): e52669; Carlino et al., Learning rate variability and "
    "implications for technology forecasts (carnegie/clab_experience_curve, "
    "doi:10.5281/zenodo.13308841); OWID solar PV prices vs cumulative capacity (CC BY 4.0)",
    url="https://github.com/carnegie/clab_experience_curve",
    licence="Repository MIT (Carnegie Institution for Science); PCDB data terms unstated, cite the "
    "original sources; OWID export CC BY 4.0",
    retrieval_date="2024-08-12",
    notes="HEAD 9a6f8c494d8406eef10bb90808c28a3c4293ac32 "
    "(retrieval_date is its commit date; no download date is recorded); the OWID csv from commit "
    "2c792ed8ecea256d88c990e63fc268f8793d7170. Some series and recent years are withheld from "
    "this copy for evaluation.",
)


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse ``raw_dir/pcdb_carnegie``; return conformed tables plus ``data_notes``."""
    raw_dir = Path(raw_dir)
    notes = Notes(SOURCE)
    out = Out()
    exp = raw_dir / SOURCE / EXP_DIR
    if not exp.is_dir():
        raise DataError("folder not found", source=SOURCE, file=EXP_DIR)
    files = sorted(p.name for p in exp.glob("*.csv"))
    if not files:
        raise DataError("no *.csv files", source=SOURCE, file=EXP_DIR)
    for name in files:
        rel = f"{EXP_DIR}/{name}"
        series = read_four_columns(raw_dir, rel, notes, convention="previous")
        tech, _ = taxonomy.classify(
            series.name, source=SOURCE, file=rel, row=1, column=series.header[0]
        )
        nation, reason = nation_of(tech, series.name)
        desc = f"PCDB {series.name}: {series.header[0]} vs {series.header[2]}; nation {nation} ({reason})"
        emit(out, series, tech, nation, desc)
    for rel in (SOLAR_FILE, WIND_FILE):
        series = read_four_columns(raw_dir, rel, notes, convention=CONVENTIONS[rel])
        tech, what = COMBINED_TECH[rel]
        emit(out, series, tech, "WLD", f"{what}: {series.header[0]} vs {series.header[2]}; world")
    read_owid(raw_dir, out, notes)
    for rel, remark in REMARKS.items():
        if (raw_dir / SOURCE / rel).is_file():
            notes.add(rel, None, None, "", remark)
    rows = {"technologies": out.tech, "cost_observations": out.cost, "production": out.prod}
    return conformed(SOURCE, rows, notes)


def known_series(raw_dir: Path) -> list[str]:
    """Stems of the PCDB technology files present (for tests and reports)."""
    return sorted(p.stem for p in (Path(raw_dir) / SOURCE / EXP_DIR).glob("*.csv"))
