"""Statista (IEA) Li-ion battery demand for EVs by region in ``marg_batt_sales_2016_2022_statista.xlsx``.

Demand where the EVs are sold, in GWh per year, China, Europe, United States and Other, 2016-2022
(mvpf_climate_vendored). World (``WLD``) is the sum of the four regions (the file has no World
column); cumulative production is derived from the annual figures, and each region's share of
World demand is a fraction in [0, 1] (basis ``ev_battery_demand_of_world``). Statista's terms
restrict redistribution: internal use only.
"""

from __future__ import annotations

from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import (
    cell,
    col_letter,
    read_sheet,
    text,
    with_cumulative,
)
from learnrace_pipeline.lib.sources.base import Notes, parse_number
from learnrace_pipeline.lib.sources.mvpf_climate_vendored._common import (
    SOURCE,
    _int_year,
    _prod,
)

F_STATISTA = "data/1_assumptions/evs/marg_batt_sales_2016_2022_statista.xlsx"
S_STATISTA = "Data"

STATISTA_REGIONS = {"China": "CHN", "Europe": "EUROPE", "United States": "USA", "Other": "OTHER"}


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
    return with_cumulative(annual).to_dicts(), shares
