"""The 2014-2019 combined disengagement summary workbook (``XLSX``, sheet ``COMBINED_SUMMARY``).

One row per company per calendar month, Sep 2014 to Dec 2019: ``MILES_DRIVEN`` (miles),
``MANUAL_DISENGAGEMENT`` and ``AUTOMATIC_DISENGAGEMENT`` (counts, summed). Values are read with
python-calamine (formula cells give their cached values); openpyxl is used only to find formula
cells and blank rows. Months are summed into reporting years 2015-2019 (safety-driver permits);
Dec 2019 belongs to RY2020, which the workbook does not cover, and is dropped (noted).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
from python_calamine import CalamineWorkbook

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import col_letter
from learnrace_pipeline.lib.sources.base import Notes, parse_number, source_path
from learnrace_pipeline.lib.sources.ca_dmv_av.common import (
    SOURCE,
    Agg,
    av_row,
    company_of,
    report_year,
)

XLSX = (
    "2014-2019 Autonomous Vehicles Crash and Disengagement Report (CA DMV)/"
    "DMV Disengagement Report/COMBINED_DISENGAGEMENT_SUMMARY.xlsx"
)
SHEET = "COMBINED_SUMMARY"
XLSX_COLUMNS = (
    "COMPANY",
    "MONTH",
    "MILES_DRIVEN",
    "MANUAL_DISENGAGEMENT",
    "AUTOMATIC_DISENGAGEMENT",
)

#: Reporting years the 2014-19 workbook covers completely; later months are dropped (noted).
XLSX_YEARS = range(2015, 2020)

_FORMULA_SUM = re.compile(r"^=\s*[+-]?\d+(\.\d+)?(\s*[+-]\s*\d+(\.\d+)?)*\s*$")


def _scan_sheet(path: Path, sheet: str) -> tuple[dict[tuple[int, int], str], int]:
    """Formula cells {(sheet row, column index): formula} (1-based row, 0-based column) and the
    number of wholly blank rows up to the sheet's last used row, read with openpyxl (which,
    unlike calamine, reports formulas and formatted-but-empty trailing rows)."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        ws = wb[sheet]
        out: dict[tuple[int, int], str] = {}
        blank = 0
        for r, row in enumerate(ws.iter_rows(), start=1):
            empty = True
            for c, cell in enumerate(row):
                if getattr(cell, "data_type", None) == "f":
                    out[(r, c)] = str(cell.value)
                v = getattr(cell, "value", None)
                if v is not None and not (isinstance(v, str) and not v.strip()):
                    empty = False
            blank += empty
        return out, blank
    finally:
        wb.close()


def _excel_month(value: object, *, row: int) -> tuple[int, int]:
    """(year, month) of a MONTH cell: a date, or an Excel serial day number (1900 system)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.year, value.month
    if isinstance(value, float | int) and not isinstance(value, bool) and 1 <= value < 2958466:
        d = dt.date(1899, 12, 30) + dt.timedelta(days=int(value))
        return d.year, d.month
    raise DataError(
        f"MONTH is not a date or an Excel serial date: {value!r}",
        source=SOURCE,
        file=XLSX,
        row=row,
        column="MONTH",
    )


def read_workbook(raw_dir: Path, notes: Notes, rel: str = XLSX, sheet: str = SHEET) -> list[dict]:
    """Monthly rows of the 2014-19 workbook: company, year, month, miles, disengagements, _row.

    Formula cells are read as their cached values (the values Excel stored when the workbook was
    saved); each is noted, and a formula that is a plain sum of numbers is checked against its
    cached value. A formula without a cached value (e.g. written by a library and never opened in
    Excel) is refused: its value cannot be known without evaluating the workbook.
    """
    path = source_path(raw_dir, SOURCE, rel)
    wb = CalamineWorkbook.from_path(str(path))
    if sheet not in wb.sheet_names:
        raise DataError(
            f"sheet {sheet!r} not found; sheets are {wb.sheet_names}", source=SOURCE, file=rel
        )
    ws = wb.get_sheet_by_name(sheet)
    rows = ws.to_python(skip_empty_area=False)
    first_row = ws.start[0] + 1 if ws.start else 1  # sheet row of rows[0]
    formulas, blank = _scan_sheet(path, sheet)
    if not rows:
        raise DataError("empty sheet", source=SOURCE, file=rel)
    header = [str(h).strip() for h in rows[0]]
    if tuple(header[: len(XLSX_COLUMNS)]) != XLSX_COLUMNS:
        raise DataError(
            f"header {header} is not {list(XLSX_COLUMNS)}", source=SOURCE, file=rel, row=first_row
        )

    out: list[dict] = []
    for i, values in enumerate(rows[1:], start=1):
        r = first_row + i
        cells = list(values[: len(XLSX_COLUMNS)]) + [""] * (len(XLSX_COLUMNS) - len(values))
        for c, v in enumerate(cells):
            f = formulas.get((r, c))
            if f is None:
                continue
            where = f"{sheet}!{col_letter(c)}{r}"
            if v == "" or v is None:
                raise DataError(
                    f"formula {f!r} in cell {where} has no cached value (open and save the workbook in "
                    "a spreadsheet program so that the value is stored)",
                    source=SOURCE,
                    file=rel,
                    row=r,
                    column=header[c],
                )
            if _FORMULA_SUM.match(f) and isinstance(v, float):
                expect = sum(
                    (-1.0 if sign == "-" else 1.0) * float(num)
                    for sign, num in re.findall(r"([+-]?)\s*(\d+(?:\.\d+)?)", f[1:])
                )
                if abs(expect - v) > 1e-6 * max(1.0, abs(expect)):
                    raise DataError(
                        f"cached value {v!r} of formula {f!r} in {where} is not its sum {expect!r}",
                        source=SOURCE,
                        file=rel,
                        row=r,
                        column=header[c],
                    )
            notes.add(rel, r, header[c], f, f"formula cell {where} read as its cached value {v!r}")
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in cells):
            continue
        name, month, miles, manual, auto = cells
        if not isinstance(name, str) or not name.strip():
            raise DataError("empty COMPANY", source=SOURCE, file=rel, row=r, column="COMPANY")
        company = company_of(name, file=rel, row=r, column="COMPANY")
        year, mon = _excel_month(month, row=r)
        try:
            ry = report_year(year, mon)
        except ValueError as e:
            raise DataError(str(e), source=SOURCE, file=rel, row=r, column="MONTH") from None
        m = parse_number(miles, source=SOURCE, file=rel, row=r, column="MILES_DRIVEN", notes=notes)
        dis = 0
        for col, v in (("MANUAL_DISENGAGEMENT", manual), ("AUTOMATIC_DISENGAGEMENT", auto)):
            x = parse_number(v, source=SOURCE, file=rel, row=r, column=col, notes=notes)
            if x is None:
                raise DataError(
                    "empty disengagement count", source=SOURCE, file=rel, row=r, column=col
                )
            if x < 0 or x != int(x):
                raise DataError(
                    f"disengagement count {v!r} is not a non-negative integer",
                    source=SOURCE,
                    file=rel,
                    row=r,
                    column=col,
                )
            dis += int(x)
        if m is not None and m < 0:
            raise DataError(
                f"negative miles {miles!r}", source=SOURCE, file=rel, row=r, column="MILES_DRIVEN"
            )
        if ry not in XLSX_YEARS:
            if ry == max(XLSX_YEARS) + 1:
                notes.add(
                    rel,
                    r,
                    "MONTH",
                    f"{year}-{mon:02d}",
                    f"{name} {year}-{mon:02d} (miles {miles!r}, {dis} disengagements) belongs to RY{ry}, "
                    f"which the workbook does not cover and no annual report exists for: row dropped",
                )
                continue
            raise DataError(
                f"month {year}-{mon:02d} is outside the workbook's reporting years 2015-2019",
                source=SOURCE,
                file=rel,
                row=r,
                column="MONTH",
            )
        if m is None:
            raise DataError(
                "empty MILES_DRIVEN", source=SOURCE, file=rel, row=r, column="MILES_DRIVEN"
            )
        if m == 0 and dis > 0:
            notes.add(
                rel,
                r,
                "MILES_DRIVEN",
                str(miles),
                f"{name} {year}-{mon:02d}: 0 miles but {dis} disengagements (kept as reported)",
            )
        out.append(
            {
                "company": company,
                "raw": name,
                "year": year,
                "month": mon,
                "report_year": ry,
                "miles": m,
                "disengagements": dis,
                "_row": r,
            }
        )
    if blank:
        notes.add(rel, None, None, "", f"{blank} blank row(s) in sheet {sheet} skipped")
    if not out:
        raise DataError("no data rows", source=SOURCE, file=rel)
    return out


def workbook_rows(raw_dir: Path, notes: Notes) -> list[dict]:
    """``av_testing`` rows of the workbook: company x reporting year, safety-driver permits,
    miles and disengagement counts summed over the months (no vehicle counts in this file)."""
    aggs: dict[tuple[str, int], Agg] = {}
    for m in read_workbook(raw_dir, notes):
        key = (m["company"].name, m["report_year"])
        a = aggs.setdefault(key, Agg(m["company"], m["_row"]))
        a.miles += m["miles"]
        a.disengagements += m["disengagements"]
    out = []
    for (_, ry), a in aggs.items():
        row = av_row(a, ry, "safety_driver", XLSX, False, annual_total=False)
        row["n_vehicles"] = None
        out.append(row)
    return out
