"""OWID's world solar PV module price and cumulative capacity, as vendored in ``pcdb_carnegie``.

``OurWorldInData/solar-pv-prices-vs-cumulative-capacity.csv``: one row per year (World only,
1975-2022), module price in constant US$ per W (dollar year inferred as 2022: ``2022 USD/W``) and
cumulative installed capacity in MW (``cumulative_method = "reported"``; checked not to fall).
"""

from __future__ import annotations

from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._pcdb_common import Unit
from learnrace_pipeline.lib.sources.base import Notes, parse_number, read_csv
from learnrace_pipeline.lib.sources.pcdb_carnegie.catalogue import OWID_FILE, SOURCE
from learnrace_pipeline.lib.sources.pcdb_carnegie.cumulative import check_monotone
from learnrace_pipeline.lib.sources.pcdb_carnegie.series import Obs, Out, Series, emit
from learnrace_pipeline.lib.vocab import nations


def read_owid(raw_dir: Path, out: Out, notes: Notes) -> None:
    """OWID world solar module price (constant US$/W) and cumulative capacity (MW)."""
    rel = OWID_FILE
    price_col, cap_col = "Solar photovoltaic module price", "Solar photovoltaic cumulative capacity"
    table = read_csv(raw_dir, SOURCE, rel, required=["Entity", "Code", "Year", price_col, cap_col])
    ie, iy, ip, ic = (table.col(c) for c in ("Entity", "Year", price_col, cap_col))
    unit, cap_unit = "2022 USD/W", "MW"
    notes.add(
        rel,
        1,
        price_col,
        price_col,
        "OWID gives constant US$ per W without the dollar year; OWID converts pre-2010 prices to "
        "dollars of the latest data year, which is 2022 here: recorded as 2022 USD/W (inferred)",
    )
    name = "owid_solar_pv_prices_vs_cumulative_capacity"
    tech = "solar_pv_module"
    obs: list[Obs] = []
    for rec in table.records:
        f = rec.fields

        def num(j: int, _f: list[str] = f, _row: int = rec.row) -> float | None:
            return parse_number(
                _f[j], source=SOURCE, file=rel, row=_row, column=table.header[j], notes=notes
            )

        nation = nations.to_code(f[ie], source=SOURCE, file=rel, row=rec.row, column="Entity")
        if nation != "WLD":
            raise DataError(
                f"expected World only, found {f[ie]!r}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column="Entity",
            )
        year = num(iy)
        if year is None or year != int(year):
            raise DataError(
                f"not a calendar year: {f[iy]!r}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column="Year",
            )
        if obs and year <= obs[-1].year:
            raise DataError(
                f"duplicate or out-of-order year {f[iy]}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column="Year",
            )
        price, cap = num(ip), num(ic)
        if price is not None and price <= 0:
            raise DataError(
                f"price must be positive, got {price:g}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=price_col,
            )
        if cap is not None and cap < 0:
            raise DataError(
                f"negative capacity {cap:g}", source=SOURCE, file=rel, row=rec.row, column=cap_col
            )
        o = Obs(
            rec.row, year, price, None, cap, cap, "reported" if cap is not None else None, rec.row
        )
        obs.append(o)
    check_monotone(obs, rel, ["", "", "", cap_col], notes)
    series = Series(
        rel,
        name,
        [price_col, "Year", cap_col, cap_col],
        "Price",
        Unit(unit, 1.0, True),
        Unit(cap_unit),
        obs,
    )
    emit(
        out,
        series,
        tech,
        "WLD",
        "OWID world solar PV module price (Nemet; Farmer & Lafond; IRENA) vs cumulative installed "
        "capacity; dollar year inferred as 2022",
    )
