"""Ziegler & Trancik (2021) representative Li-ion cell series in ``battery_costs_zt.xlsx``.

One sheet per series (mvpf_climate_vendored): cell prices, all cell types and cylindrical, in
2018 USD/kWh (checked against each sheet's ``DependentAxisUnits``); annual market size in MWh
and in millions of cells, with cumulative production derived from the annual figures (Lafond
et al. 2018 initial stock). The cylindrical market-size sheet's "- All" series name is read as
cylindrical (noted).
"""

from __future__ import annotations

from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import cell, read_sheet, text, with_cumulative
from learnrace_pipeline.lib.sources.base import Notes, parse_number
from learnrace_pipeline.lib.sources.mvpf_climate_vendored._common import (
    SOURCE,
    _cost,
    _int_year,
    _prod,
    _tech_row,
)

F_ZT = "data/1_assumptions/evs/battery_costs_zt.xlsx"

# sheet -> (series name, kind, technology, unit, expected DependentAxisUnits, Other1)
ZT_SHEETS: dict[str, tuple[str, str, str, str, str, str]] = {
    "RepreSeries_Price_All_Cells": (
        "zt2021_cell_price_all",
        "cost",
        "li_ion_cell",
        "2018 USD/kWh",
        "2018_USD per kWh",
        "All",
    ),
    "RepreSeries_Price_cy": (
        "zt2021_cell_price_cylindrical",
        "cost",
        "li_ion_cell_cylindrical",
        "2018 USD/kWh",
        "2018_USD per kWh",
        "Cylindrical",
    ),
    "RepreSeries_MarketSize_All_MWh": (
        "zt2021_market_size_all_mwh",
        "production",
        "li_ion_cell",
        "MWh",
        "MWh",
        "All",
    ),
    "RepreSeries_MarketSize_AllCells": (
        "zt2021_market_size_all_cells",
        "production",
        "li_ion_cell",
        "million cell",
        "millions of cells",
        "All",
    ),
    "RepreSeries_MarketSize_CylCells": (
        "zt2021_market_size_cylindrical_cells",
        "production",
        "li_ion_cell_cylindrical",
        "million cell",
        "millions of cells",
        "Cylindrical",
    ),
}


def _read_zt(raw_dir: Path, notes: Notes) -> tuple[list[dict], list[dict], list[dict]]:
    techs, costs, annual = [], [], []
    for sheet, (name, kind, tech, unit, want_units, want_kind) in ZT_SHEETS.items():
        rel = f"{F_ZT}#{sheet}"
        rows = read_sheet(raw_dir, SOURCE, F_ZT, sheet)
        hrow, head = rows[0]
        head_t = [text(h) for h in head]
        need = (
            "IndependentAxisData",
            "DependentAxisData",
            "DependentAxisUnits",
            "SeriesName",
            "Other1",
        )
        for h in need:
            if h not in head_t:
                raise DataError(
                    f"missing column {h!r}", source=SOURCE, file=rel, row=hrow, column=h
                )
        jx, jy, ju, jn, jo = (head_t.index(h) for h in need)
        if len(rows) < 2:
            raise DataError("header only: no data rows", source=SOURCE, file=rel)
        r1, c1 = rows[1]
        got_units = text(cell(c1, ju))
        if got_units != want_units:
            raise DataError(
                f"unit {got_units!r}, expected {want_units!r}",
                source=SOURCE,
                file=rel,
                row=r1,
                column="DependentAxisUnits",
            )
        if text(cell(c1, jo)) != want_kind:
            raise DataError(
                f"cell type {text(cell(c1, jo))!r}, expected {want_kind!r}",
                source=SOURCE,
                file=rel,
                row=r1,
                column="Other1",
            )
        series_name = text(cell(c1, jn))
        if want_kind == "Cylindrical" and series_name.endswith("- All"):
            notes.add(
                rel,
                r1,
                "SeriesName",
                series_name,
                "SeriesName says '- All' but the sheet name and Other1 say Cylindrical: read as cylindrical cells",
            )
        seen: set[int] = set()
        for r, c in rows[1:]:
            if all(text(x) == "" for x in c):
                continue
            year = _int_year(cell(c, jx), file=rel, row=r, column="IndependentAxisData")
            if year in seen:
                raise DataError(
                    f"year {year} repeated",
                    source=SOURCE,
                    file=rel,
                    row=r,
                    column="IndependentAxisData",
                )
            seen.add(year)
            v = parse_number(
                cell(c, jy), source=SOURCE, file=rel, row=r, column="DependentAxisData", notes=notes
            )
            if v is None:
                continue
            if kind == "cost":
                costs.append(_cost(name, tech, "WLD", year, v, unit, rel, r))
            else:
                annual.append(_prod(name, tech, "WLD", year, v, None, unit, None, rel, r))
        if kind == "cost":
            pairs = "MWh" if want_kind == "All" else "million cell"
            techs.append(
                _tech_row(
                    name,
                    tech,
                    unit,
                    pairs,
                    "price",
                    f"Ziegler & Trancik 2021 representative Li-ion cell price, {want_kind.lower()} cells, "
                    f"2018 USD per kWh ({series_name})",
                )
            )
    return techs, costs, with_cumulative(annual).to_dicts()
