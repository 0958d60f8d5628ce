"""PV module production by nation (JRC PV Status Report via Helveston), GW per year.

Parses ``data/production/PVS Fig 1 2022.xlsx`` sheet ``Data`` (where modules are made, GW/yr,
2010-2021; the ``Total`` row is a cached ``SUM`` checked against its parts); cumulative GW derived
(Lafond initial stock); each nation's share of the Total as a fraction.
"""

from __future__ import annotations

import math
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
from learnrace_pipeline.lib.sources.helveston_solar_2022._common import (
    SOURCE,
    _prod,
)
from learnrace_pipeline.lib.vocab import nations

F_PVS = "data/production/PVS Fig 1 2022.xlsx"

#: PVS row labels that nations.to_code does not know, and the aggregate total.
PVS_NAMES = {"PR China": "CHN", "Rest of World": "ROW", "Total": "WLD"}


def _read_pvs(raw_dir: Path, notes: Notes) -> tuple[list[dict], list[dict]]:
    sheet = "Data"
    rel = f"{F_PVS}#{sheet}"
    rows = read_sheet(raw_dir, SOURCE, F_PVS, sheet)
    hrow, hcells = rows[0]
    years: list[tuple[int, int]] = []
    for j, v in enumerate(hcells):
        if j == 0:
            continue
        if isinstance(v, float) and v.is_integer() and 1990 <= v <= 2100:
            years.append((j, int(v)))
        elif text(v) != "":
            raise DataError(
                f"header cell {v!r} is not a year",
                source=SOURCE,
                file=rel,
                row=hrow,
                column=col_letter(j),
            )
    if not years:
        raise DataError("no year header in the first row", source=SOURCE, file=rel, row=hrow)
    values: dict[str, dict[int, float]] = {}
    where: dict[str, int] = {}
    for r, c in rows[1:]:
        label = text(cell(c, 0))
        if label == "" and all(text(x) == "" for x in c):
            continue
        if label == "":
            raise DataError(
                "values without a country label", source=SOURCE, file=rel, row=r, column="A"
            )
        code = PVS_NAMES.get(label) or nations.to_code(
            label, source=SOURCE, file=rel, row=r, column="A"
        )
        if code in values:
            raise DataError(
                f"country {label!r} repeated", source=SOURCE, file=rel, row=r, column="A"
            )
        where[code] = r
        values[code] = {}
        for j, y in years:
            v = parse_number(
                cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j), notes=notes
            )
            if v is not None:
                values[code][y] = v
    if "WLD" not in values:
        raise DataError("no 'Total' row", source=SOURCE, file=rel, column="A")
    # The Total row is a SUM formula: its cached value must equal the sum of the country rows.
    for j, y in years:
        parts = [values[k][y] for k in values if k != "WLD" and y in values[k]]
        tot = values["WLD"].get(y)
        if tot is None or not math.isclose(tot, sum(parts), rel_tol=1e-9, abs_tol=1e-9):
            raise DataError(
                f"Total {tot!r} differs from the sum of the country rows {sum(parts)!r} in {y}",
                source=SOURCE,
                file=rel,
                row=where["WLD"],
                column=col_letter(j),
            )
    prod = [
        _prod(
            "pv_module_production_pvs",
            "solar_pv_module",
            code,
            y,
            v,
            None,
            "GW",
            None,
            rel,
            where[code],
        )
        for code, by in values.items()
        for y, v in by.items()
    ]
    shares = [
        {
            "industry": "solar",
            "technology": "solar_pv_module",
            "nation": code,
            "year": y,
            "share": v / values["WLD"][y],
            "basis": "pv_module_production_of_world",
            "source": SOURCE,
            "_file": rel,
            "_row": where[code],
        }
        for code, by in values.items()
        if code != "WLD"
        for y, v in by.items()
        if values["WLD"].get(y)
    ]
    return with_cumulative(prod).to_dicts(), shares
