"""US DOE VTO Fact of the Week #1272 EV pack cost in ``battery_costs_doe.xlsx``.

Estimated EV Li-ion pack cost per usable kWh, USA, 2008-2022 (mvpf_climate_vendored): the
constant-dollar column (basis year read from its header, 2021 USD/kWh) and the current-dollar
column (nominal USD/kWh) as two series. The notes below the table are not data.
"""

from __future__ import annotations

import re
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import cell, col_letter, read_sheet, text
from learnrace_pipeline.lib.sources.base import Notes, parse_number
from learnrace_pipeline.lib.sources.mvpf_climate_vendored._common import (
    SOURCE,
    _cost,
    _int_year,
    _tech_row,
)

F_DOE = "data/1_assumptions/evs/battery_costs_doe.xlsx"
S_DOE = "FOTW #1272"


def _read_doe(raw_dir: Path, notes: Notes) -> tuple[list[dict], list[dict], list[dict]]:
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
            v = parse_number(
                cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j), notes=notes
            )
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
