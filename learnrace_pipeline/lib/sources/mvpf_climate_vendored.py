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
production is derived with :func:`..harmonize.cumulative.derive_cumulative` (Lafond et al. 2018
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
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.harmonize import taxonomy
from learnrace_pipeline.lib.harmonize.cumulative import derive_cumulative
from learnrace_pipeline.lib.sources._sheets import cell, col_letter, frame, read_sheet, text
from learnrace_pipeline.lib.sources.base import (
    Notes,
    SourceInfo,
    cost_row,
    parse_number,
    production_row,
)
from learnrace_pipeline.lib.sources.validate import conform

SOURCE = "mvpf_climate_vendored"

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

F_WAY = "data/6_tables/tables_data/way_etal.xlsx"
S_WAY = "Fig5_technology_historical_data"
F_ZT = "data/1_assumptions/evs/battery_costs_zt.xlsx"
F_DOE = "data/1_assumptions/evs/battery_costs_doe.xlsx"
S_DOE = "FOTW #1272"
F_STATISTA = "data/1_assumptions/evs/marg_batt_sales_2016_2022_statista.xlsx"
S_STATISTA = "Data"

#: First year of BNEF pack prices in the Way et al. battery cost series.
WAY_SPLICE_YEAR = 2017

# (technology label, variable, units label) -> (series name, kind, technology, unit, nation, metric)
WAY_COLUMNS: dict[tuple[str, str, str], tuple[str, str, str, str, str, str | None]] = {
    ("Solar", "Experience", "Cumulative generation,TWh"): (
        "way2022_solar_cumulative_generation",
        "production",
        "solar_pv_lcoe",
        "TWh",
        "WLD",
        None,
    ),
    ("Solar", "Cost", "Global average LCOE, 2020$/MWh"): (
        "way2022_solar_lcoe",
        "cost",
        "solar_pv_lcoe",
        "2020 USD/MWh",
        "WLD",
        "lcoe",
    ),
    ("Wind", "Experience", "Cumulative generation,TWh"): (
        "way2022_wind_cumulative_generation",
        "production",
        "wind_lcoe",
        "TWh",
        "WLD",
        None,
    ),
    ("Wind", "Cost", "Global average LCOE, 2020$/MWh"): (
        "way2022_wind_lcoe",
        "cost",
        "wind_lcoe",
        "2020 USD/MWh",
        "WLD",
        "lcoe",
    ),
    ("Batteries", "Experience", "Battery cumulative production, GWh"): (
        "way2022_battery_cumulative_production",
        "production",
        "li_ion_battery",
        "GWh",
        "WLD",
        None,
    ),
    ("Batteries", "Cost", "Battery cell/pack costs, 2020$/kWh"): (
        "way2022_battery_cost_spliced",
        "cost",
        "li_ion_battery",
        "2020 USD/kWh",
        "WLD",
        "price",
    ),
    ("P2X electrolyzers", "Experience", "PEMEL cumulative installs, MW"): (
        "way2022_pem_electrolyzer_cumulative_installs",
        "production",
        "electrolyzer_pem",
        "MW",
        "WLD",
        None,
    ),
    ("P2X electrolyzers", "Cost", "PEMEL cost, 2020$/kW"): (
        "way2022_pem_electrolyzer_cost",
        "cost",
        "electrolyzer_pem",
        "2020 USD/kW",
        "WLD",
        "installed_cost",
    ),
    ("Crude oil", "Cost", "Crude oil price, 2020$/barrel"): (
        "way2022_crude_oil_price",
        "cost",
        "crude_oil",
        "2020 USD/barrel",
        "WLD",
        "price",
    ),
    ("Coal", "Cost", "Coal US average bituminous, 2020$/metric ton"): (
        "way2022_coal_price_us",
        "cost",
        "coal",
        "2020 USD/t",
        "USA",
        "price",
    ),
    ("Gas", "Cost", "Gas wellhead blend, 2020$/MMBtu"): (
        "way2022_gas_price_blend",
        "cost",
        "natural_gas",
        "2020 USD/MMBtu",
        "WLD",
        "price",
    ),
}

#: Experience (production) unit that each Way et al. cost series pairs with.
WAY_PAIRS = {
    "way2022_solar_lcoe": "TWh",
    "way2022_wind_lcoe": "TWh",
    "way2022_battery_cost_spliced": "GWh",
    "way2022_pem_electrolyzer_cost": "MW",
}

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
        "li_ion_cell",
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
        "li_ion_cell",
        "million cell",
        "millions of cells",
        "Cylindrical",
    ),
}

STATISTA_REGIONS = {"China": "CHN", "Europe": "EUROPE", "United States": "USA", "Other": "OTHER"}


def _sid(name: str) -> str:
    return f"{SOURCE}:{name}"


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

    for part in (_read_way(raw_dir, notes), _read_zt(raw_dir, notes), _read_doe(raw_dir)):
        techs += part[0]
        costs += part[1]
        prod += part[2]
    demand, shares = _read_statista(raw_dir, notes)
    prod += demand

    return {
        "technologies": conform("technologies", frame("technologies", techs), SOURCE),
        "cost_observations": conform(
            "cost_observations", frame("cost_observations", costs), SOURCE
        ),
        "production": conform("production", frame("production", prod), SOURCE),
        "market_shares": conform("market_shares", frame("market_shares", shares), SOURCE),
        "data_notes": notes.frame(),
    }


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


# --- Way et al. 2022 -----------------------------------------------------------------------------


def _read_way(raw_dir: Path, notes: Notes) -> tuple[list[dict], list[dict], list[dict]]:
    rows = read_sheet(raw_dir, SOURCE, F_WAY, S_WAY)
    rel = f"{F_WAY}#{S_WAY}"

    def find(label: str, start: int = 0) -> int:
        for i in range(start, len(rows)):
            if text(cell(rows[i][1], 0)).lower().startswith(label.lower()):
                return i
        raise DataError(
            f"no row labelled {label!r} in column A", source=SOURCE, file=rel, column="A"
        )

    i_key, i_tech, i_var, i_year = (
        find("Data source key"),
        find("Technology"),
        find("Variable"),
        find("Year"),
    )
    if not i_key < i_tech < i_var < i_year:
        raise DataError(
            "header rows out of order (expected source key, Technology, Variable, Year)",
            source=SOURCE,
            file=rel,
            row=rows[i_year][0],
        )
    width = max(len(c) for _, c in rows[i_key : i_year + 1])
    columns: dict[int, tuple[str, str, str, tuple[str, str, str, str, str, str | None], int]] = {}
    for j in range(1, width):
        key = (
            text(cell(rows[i_tech][1], j)),
            text(cell(rows[i_var][1], j)),
            text(cell(rows[i_year][1], j)),
        )
        if key == ("", "", ""):
            continue
        if key not in WAY_COLUMNS:
            raise DataError(
                f"unknown column (technology, variable, units) {key}",
                source=SOURCE,
                file=rel,
                row=rows[i_year][0],
                column=col_letter(j),
            )
        # The source key above each column is a formula cell (=CELL("col")-1): its cached number is used.
        k = cell(rows[i_key][1], j)
        if not isinstance(k, float) or not k.is_integer():
            raise DataError(
                f"source key {k!r} is not a number (formula cell without a cached value?)",
                source=SOURCE,
                file=rel,
                row=rows[i_key][0],
                column=col_letter(j),
            )
        columns[j] = (*key, WAY_COLUMNS[key], int(k))
    missing = set(WAY_COLUMNS) - {c[:3] for c in columns.values()}
    if missing:
        raise DataError(
            f"column(s) {sorted(missing)} absent", source=SOURCE, file=rel, row=rows[i_year][0]
        )

    # Data rows: from below the Year header to the first blank row; the notes table follows.
    data: list[tuple[int, list]] = []
    i = i_year + 1
    while i < len(rows) and text(cell(rows[i][1], 0)) != "":
        data.append(rows[i])
        i += 1
    if not data:
        raise DataError(
            "no year rows below the header", source=SOURCE, file=rel, row=rows[i_year][0]
        )
    source_notes = _way_source_notes(rows[i:], rel)

    techs, costs, prod = [], [], []
    prev_year = None
    for r, c in data:
        year = _int_year(cell(c, 0), file=rel, row=r, column="A")
        if prev_year is not None and year <= prev_year:
            raise DataError(
                f"year {year} does not follow {prev_year}",
                source=SOURCE,
                file=rel,
                row=r,
                column="A",
            )
        prev_year = year
        for j, (_, _, _, spec, _) in columns.items():
            name, kind, tech, unit, nation, _ = spec
            v = parse_number(
                cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j), notes=notes
            )
            if v is None:
                continue
            if kind == "cost":
                costs.append(_cost(name, tech, nation, year, v, unit, rel, r))
                if name == "way2022_battery_cost_spliced" and year >= WAY_SPLICE_YEAR:
                    notes.add(
                        rel,
                        r,
                        col_letter(j),
                        text(cell(c, j)),
                        f"battery cost {year} is a BNEF pack price spliced onto the cell-price series "
                        f"(IEA EVO 2018, to {WAY_SPLICE_YEAR - 1}): kept as published, marked spliced",
                    )
            else:
                prod.append(_prod(name, tech, nation, year, None, v, unit, "reported", rel, r))

    bat_key = next(c[4] for c in columns.values() if c[3][0] == "way2022_battery_cost_spliced")
    bat_notes = " ".join(source_notes.get(bat_key, []))
    if "BNEF" not in bat_notes or f"{WAY_SPLICE_YEAR}-" not in bat_notes:
        raise DataError(
            f"the source notes for key {bat_key} do not confirm BNEF pack prices from {WAY_SPLICE_YEAR}: {bat_notes!r}",
            source=SOURCE,
            file=rel,
            column="D",
        )
    for tech_label, var, label, spec, key in columns.values():
        name, kind, tech, unit, nation, metric = spec
        if kind != "cost":
            continue
        desc = f"Way et al. 2022 Fig. 5: {tech_label} {var.lower()}, {label}"
        if name == "way2022_battery_cost_spliced":
            desc += f". SPLICED: cell prices to {WAY_SPLICE_YEAR - 1}, BNEF pack prices from {WAY_SPLICE_YEAR}"
        if nation == "USA":
            desc += ". US series"
        src = "; ".join(source_notes.get(key, []))
        techs.append(
            _tech_row(
                name,
                tech,
                unit,
                WAY_PAIRS.get(name),
                str(metric),
                f"{desc}. Sources: {src}" if src else desc,
            )
        )
    return techs, costs, prod


def _way_source_notes(rest: list[tuple[int, list]], rel: str) -> dict[int, list[str]]:
    """key -> note texts from the 'Data Source Key' table below the data (excluded from data)."""
    start = next(
        (k for k, (_, c) in enumerate(rest) if text(cell(c, 0)).lower() == "data source key"), None
    )
    if start is None:
        return {}
    out: dict[int, list[str]] = {}
    for r, c in rest[start + 1 :]:
        k = cell(c, 0)
        if isinstance(k, float) and k.is_integer():  # cached value of =B5, =C5, ...
            out.setdefault(int(k), []).append(text(cell(c, 3)))
        elif text(k) == "" and text(cell(c, 3)) != "":
            raise DataError(
                "source note without a key (formula cell without a cached value?)",
                source=SOURCE,
                file=rel,
                row=r,
                column="A",
            )
    return out


# --- Ziegler & Trancik 2021 ----------------------------------------------------------------------


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
    return techs, costs, _with_cumulative(annual)


# --- DOE pack cost -------------------------------------------------------------------------------


def _read_doe(raw_dir: Path) -> tuple[list[dict], list[dict], list[dict]]:
    rel = f"{F_DOE}#{S_DOE}"
    rows = read_sheet(raw_dir, SOURCE, F_DOE, S_DOE)
    hi = next((i for i, (_, c) in enumerate(rows) if text(cell(c, 0)) == "Year"), None)
    if hi is None:
        raise DataError("no header row starting with 'Year'", source=SOURCE, file=rel, column="A")
    hrow, head = rows[hi]
    cur_label, const_label = text(cell(head, 1)), text(cell(head, 2))
    if cur_label != "Current Dollars":
        raise DataError(
            f"column B is {cur_label!r}, expected 'Current Dollars'",
            source=SOURCE,
            file=rel,
            row=hrow,
            column="B",
        )
    m = re.fullmatch(r"(\d{4}) Constant Dollars", const_label)
    if not m:
        raise DataError(
            f"column C is {const_label!r}, expected '<year> Constant Dollars'",
            source=SOURCE,
            file=rel,
            row=hrow,
            column="C",
        )
    const_unit = f"{m[1]} USD/kWh"
    usable = any("usable energy" in text(cell(c, 0)) for _, c in rows[hi:])
    costs = []
    for r, c in rows[hi + 1 :]:
        if text(cell(c, 0)) == "":
            break  # the notes and sources below the table are not data
        year = _int_year(cell(c, 0), file=rel, row=r, column="A")
        for j, name, unit in (
            (2, "doe_pack_cost_constant", const_unit),
            (1, "doe_pack_cost_current", "USD/kWh"),
        ):
            v = parse_number(cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j))
            if v is None:
                raise DataError(
                    "missing pack cost", source=SOURCE, file=rel, row=r, column=col_letter(j)
                )
            costs.append(_cost(name, "li_ion_pack", "USA", year, v, unit, rel, r))
    if not costs:
        raise DataError("no data rows under the header", source=SOURCE, file=rel, row=hrow)
    per = "usable kWh" if usable else "kWh"
    desc = (
        "US DOE VTO Fact of the Week #1272, estimated EV Li-ion battery pack cost per "
        + per
        + " (BatPaC 2018-2022, DOE AMR 2016-2017, National Academies 2008-2015); a DOE estimate, not a market price"
    )
    techs = [
        _tech_row(
            "doe_pack_cost_constant",
            "li_ion_pack",
            const_unit,
            None,
            "cost",
            f"{desc}; constant {m[1]} dollars",
        ),
        _tech_row(
            "doe_pack_cost_current",
            "li_ion_pack",
            "USD/kWh",
            None,
            "cost",
            f"{desc}; current (nominal) dollars",
        ),
    ]
    return techs, costs, []


# --- Statista EV battery demand ------------------------------------------------------------------


def _read_statista(raw_dir: Path, notes: Notes) -> tuple[list[dict], list[dict]]:
    rel = f"{F_STATISTA}#{S_STATISTA}"
    rows = read_sheet(raw_dir, SOURCE, F_STATISTA, S_STATISTA)
    if not any("gigawatt-hours" in text(x) for _, c in rows[:3] for x in c):
        raise DataError("title does not state the unit (gigawatt-hours)", source=SOURCE, file=rel)
    hi = next((i for i, (_, c) in enumerate(rows) if "China" in [text(x) for x in c]), None)
    if hi is None:
        raise DataError("no header row with the region names", source=SOURCE, file=rel)
    hrow, head = rows[hi]
    regions: dict[int, str] = {}
    for j, x in enumerate(head):
        name = text(x)
        if name == "":
            continue
        if name not in STATISTA_REGIONS:
            raise DataError(
                f"unknown region {name!r}; expected {list(STATISTA_REGIONS)}",
                source=SOURCE,
                file=rel,
                row=hrow,
                column=col_letter(j),
            )
        regions[j] = STATISTA_REGIONS[name]
    if set(regions.values()) != set(STATISTA_REGIONS.values()):
        raise DataError(
            f"regions {sorted(regions.values())} incomplete: World cannot be formed",
            source=SOURCE,
            file=rel,
            row=hrow,
        )
    jyear = min(regions) - 1  # years sit in the column left of the first region
    annual: list[dict] = []
    world: dict[int, tuple[float, int]] = {}
    text_years = 0
    for r, c in rows[hi + 1 :]:
        if all(text(x) == "" for x in c):
            continue
        y = cell(c, jyear)
        year = _int_year(y, file=rel, row=r, column=col_letter(jyear))
        text_years += isinstance(y, str)
        vals = {}
        for j, code in regions.items():
            v = parse_number(
                cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j), notes=notes
            )
            if v is None:
                raise DataError(
                    "missing battery demand: World (sum of regions) cannot be formed",
                    source=SOURCE,
                    file=rel,
                    row=r,
                    column=col_letter(j),
                )
            vals[code] = v
            annual.append(
                _prod(
                    "statista_ev_battery_demand",
                    "li_ion_battery",
                    code,
                    year,
                    v,
                    None,
                    "GWh",
                    None,
                    rel,
                    r,
                )
            )
        if year in world:
            raise DataError(
                f"year {year} repeated", source=SOURCE, file=rel, row=r, column=col_letter(jyear)
            )
        world[year] = (sum(vals.values()), r)
    if not world:
        raise DataError("header only: no data rows", source=SOURCE, file=rel)
    for year, (tot, r) in world.items():
        annual.append(
            _prod(
                "statista_ev_battery_demand",
                "li_ion_battery",
                "WLD",
                year,
                tot,
                None,
                "GWh",
                None,
                rel,
                r,
            )
        )
    notes.add(
        rel,
        None,
        None,
        "",
        "World (WLD) battery demand = China + Europe + United States + Other (no World column)",
    )
    if text_years:
        notes.add(
            rel,
            None,
            col_letter(jyear),
            "",
            f"{text_years} year cells stored as text: read as integer years",
        )
    shares = [
        {
            "industry": "batteries",
            "technology": "li_ion_battery",
            "nation": d["nation"],
            "year": d["year"],
            "share": d["annual_production"] / world[d["year"]][0],
            "basis": "ev_battery_demand_of_world",
            "source": SOURCE,
            "_file": rel,
            "_row": d["_row"],
        }
        for d in annual
        if d["nation"] != "WLD" and world[d["year"]][0] > 0
    ]
    return _with_cumulative(annual), shares
