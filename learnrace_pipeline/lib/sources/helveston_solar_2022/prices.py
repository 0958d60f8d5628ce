"""National module and system prices of the Helveston folder, in native currencies.

Parses ``data/china/wang_ndrc_data.csv`` (CPIA: module and system price, RMB/W nominal; the
cumulative capacity row, GW, is returned too because it lives in the same table; the inverter row
is checked and dropped), the digitized Fraunhofer ISE Fig. 2 points (EUR/kWp nominal, divided by
1000 to EUR/W; fractional years assigned to calendar years), LBNL Tracking the Sun 2019 sheet
``Fig 17`` (module price index, 2018 USD/W) and ``figs/data/ex_fig4_compare_cost.csv`` (NREL
module cost, 2020 USD/kW divided by 1000 to USD/W; its LBNL rows only checked against Fig 17).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import cell, col_letter, read_sheet, text
from learnrace_pipeline.lib.sources.base import Notes, iter_rows, parse_number, read_csv
from learnrace_pipeline.lib.sources.helveston_solar_2022._common import (
    SOURCE,
    _cost,
    _prod,
    _year,
)

F_CHINA = "data/china/wang_ndrc_data.csv"
F_DE = "data/germany/fraunhofer_fig2.csv"
F_DE_2020 = "data/germany/Fig2-2020.csv"
F_LBNL = "data/lbnl/tts_2019_summary_data_tables_0.xlsx"
F_FIG4 = "figs/data/ex_fig4_compare_cost.csv"

#: Digitized points further than this from a calendar-year marker are refused.
MAX_YEAR_OFFSET = 0.25

CHINA_VARIABLES = {
    "Total capacity (GW)": "capacity",
    "Module price (RMB/W)": "module",
    "System price (RMB/W)": "system",
    "Inverter price (RMB/W)": "inverter",
}


def _read_china(raw_dir: Path, notes: Notes) -> tuple[list[dict], list[dict]]:
    t = read_csv(raw_dir, SOURCE, F_CHINA, required=("Year",))
    first = t.header[0]
    years = [(_year(h, file=F_CHINA, row=1, column=h), h) for h in t.header[1:]]
    seen: dict[str, int] = {}
    costs: list[dict] = []
    cap: list[dict] = []
    for row, rec in iter_rows(t):
        var = rec[first].strip()
        if var not in CHINA_VARIABLES:
            raise DataError(
                f"unknown variable {var!r}; expected one of {list(CHINA_VARIABLES)}",
                source=SOURCE,
                file=F_CHINA,
                row=row,
                column=first,
            )
        if var in seen:
            raise DataError(
                f"variable {var!r} repeated (first at row {seen[var]})",
                source=SOURCE,
                file=F_CHINA,
                row=row,
                column=first,
            )
        seen[var] = row
        kind = CHINA_VARIABLES[var]
        for year, h in years:
            v = parse_number(rec[h], source=SOURCE, file=F_CHINA, row=row, column=h, notes=notes)
            if v is None:
                continue
            if kind == "module":
                costs.append(_cost("china_module_price_cpia", "CHN", year, v, F_CHINA, row))
            elif kind == "system":
                costs.append(_cost("china_system_price_cpia", "CHN", year, v, F_CHINA, row))
            elif kind == "capacity":
                cap.append(
                    _prod(
                        "china_cumulative_capacity_cpia",
                        "solar_pv_module",
                        "CHN",
                        year,
                        None,
                        v,
                        "GW",
                        "reported",
                        F_CHINA,
                        row,
                    )
                )
            # the inverter row is parsed (so bad cells still fail) but not kept
    missing = [v for v in CHINA_VARIABLES if v not in seen]
    if missing:
        raise DataError(
            f"variable row(s) {missing} absent", source=SOURCE, file=F_CHINA, column=first
        )
    return costs, cap


def _read_germany(raw_dir: Path, notes: Notes) -> list[dict]:
    by_year: dict[int, list[tuple[float, str, int, float]]] = defaultdict(list)
    for rel in (F_DE, F_DE_2020):
        t = read_csv(raw_dir, SOURCE, rel, required=("x", "Curve1"))
        for row, rec in iter_rows(t):
            x = parse_number(rec["x"], source=SOURCE, file=rel, row=row, column="x", notes=notes)
            v = parse_number(
                rec["Curve1"], source=SOURCE, file=rel, row=row, column="Curve1", notes=notes
            )
            if x is None or v is None:
                raise DataError(
                    "digitized point lacks x or Curve1",
                    source=SOURCE,
                    file=rel,
                    row=row,
                    column="x" if x is None else "Curve1",
                )
            year = round(x)
            if abs(x - year) > MAX_YEAR_OFFSET:
                raise DataError(
                    f"digitized x {x} is {abs(x - year):.2f} year from the nearest calendar-year marker "
                    f"(more than {MAX_YEAR_OFFSET}): cannot assign it to a calendar year",
                    source=SOURCE,
                    file=rel,
                    row=row,
                    column="x",
                )
            notes.add(
                rel,
                row,
                "x",
                rec["x"],
                f"digitized fractional year {x} assigned to calendar year {year}",
            )
            by_year[year].append((x, rel, row, v))
    out = []
    for year in sorted(by_year):
        pts = by_year[year]
        if len(pts) > 1:
            where = ", ".join(f"{rel} row {row}" for _, rel, row, _ in pts)
            notes.add(
                pts[0][1],
                pts[0][2],
                "Curve1",
                "; ".join(str(p[3]) for p in pts),
                f"{len(pts)} digitized points fall in {year} ({where}): averaged",
            )
        eur_per_kwp = sum(p[3] for p in pts) / len(pts)
        out.append(
            _cost(
                "germany_module_price_fraunhofer",
                "DEU",
                year,
                eur_per_kwp / 1000.0,
                pts[0][1],
                pts[0][2],
            )
        )
    return out


def _read_lbnl(raw_dir: Path, notes: Notes) -> list[dict]:
    sheet = "Fig 17"
    rows = read_sheet(raw_dir, SOURCE, F_LBNL, sheet)
    rel = f"{F_LBNL}#{sheet}"
    units_ok = any("Units: $/W" in text(cell(c, 0)) for _, c in rows[:5])
    if not units_ok:
        raise DataError(
            "sheet 'Fig 17' does not state 'Units: $/W' in its first rows", source=SOURCE, file=rel
        )
    head = next(((r, c) for r, c in rows if any(text(x) == "Module Price Index" for x in c)), None)
    if head is None:
        raise DataError("no 'Module Price Index' header in sheet 'Fig 17'", source=SOURCE, file=rel)
    hrow, hcells = head
    j = [text(x) for x in hcells].index("Module Price Index")
    out = []
    for r, c in rows:
        if r <= hrow:
            continue
        y = cell(c, 1)
        if y == "" and all(text(x) == "" for x in c):
            continue
        if not isinstance(y, float) or not y.is_integer():
            raise DataError(f"not a year: {y!r}", source=SOURCE, file=rel, row=r, column="B")
        v = parse_number(
            cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j), notes=notes
        )
        if v is None:
            continue
        out.append(_cost("us_module_price_index_lbnl", "USA", int(y), v, rel, r))
    if not out:
        raise DataError("no module price rows under the header", source=SOURCE, file=rel, row=hrow)
    return out


def _read_fig4(raw_dir: Path, lbnl: list[dict], notes: Notes) -> list[dict]:
    t = read_csv(raw_dir, SOURCE, F_FIG4, required=("year", "costPerKw", "source"))
    lbnl_by_year = {d["year"]: d["unit_cost"] for d in lbnl}
    ratios: list[float] = []
    out = []
    for row, rec in iter_rows(t):
        year = _year(rec["year"], file=F_FIG4, row=row, column="year")
        v = parse_number(
            rec["costPerKw"], source=SOURCE, file=F_FIG4, row=row, column="costPerKw", notes=notes
        )
        src = rec["source"].strip()
        if v is None:
            raise DataError("missing cost", source=SOURCE, file=F_FIG4, row=row, column="costPerKw")
        if src == "NREL":
            out.append(_cost("us_module_cost_nrel", "USA", year, v / 1000.0, F_FIG4, row))
        elif src == "LBNL":
            if year in lbnl_by_year:
                ratios.append(v / 1000.0 / lbnl_by_year[year])
        else:
            raise DataError(
                f"unknown cost source {src!r} (expected NREL or LBNL)",
                source=SOURCE,
                file=F_FIG4,
                row=row,
                column="source",
            )
    if ratios:
        lo, hi = min(ratios), max(ratios)
        if hi / lo - 1 > 1e-3:
            raise DataError(
                f"LBNL rows are not a constant multiple of the 'Fig 17' index (ratios {lo:.4f}-{hi:.4f})",
                source=SOURCE,
                file=F_FIG4,
                column="costPerKw",
            )
        notes.add(
            F_FIG4,
            None,
            "costPerKw",
            "LBNL",
            f"LBNL rows = 'Fig 17' module price index x {lo:.4f} (Helveston's 2018->2020 USD inflation "
            f"factor) x 1000; not kept (duplicate of us_module_price_index_lbnl)",
        )
    return out
