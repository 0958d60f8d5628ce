"""Way et al. (2022, Joule, Fig. 5) historical series in ``way_etal.xlsx`` (mvpf_climate_vendored).

Sheet ``Fig5_technology_historical_data``: header rows located by their labels, one row per
year until the first blank row; the ``Data Source Key`` table below is excluded from the data and
only documents each series (its keys are formula cells read as cached values). Costs in 2020 USD
per MWh (solar, wind LCOE), kWh (battery, spliced cell -> BNEF pack from 2017), kW (PEM
electrolyzer), barrel (crude oil), t (US coal) and MMBtu (gas blend); experience as reported
cumulative production in TWh (generation), GWh (batteries) and MW (PEM installs).
"""

from __future__ import annotations

from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import cell, col_letter, read_sheet, text
from learnrace_pipeline.lib.sources.base import Notes, parse_number
from learnrace_pipeline.lib.sources.mvpf_climate_vendored._common import (
    SOURCE,
    _cost,
    _int_year,
    _prod,
    _tech_row,
)

F_WAY = "data/6_tables/tables_data/way_etal.xlsx"
S_WAY = "Fig5_technology_historical_data"

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
