"""California DMV autonomous-vehicle testing reports: miles and disengagements per company.

Files read (paths relative to ``raw_dir / "ca_dmv_av"``):

- ``2014-2019 .../COMBINED_DISENGAGEMENT_SUMMARY.xlsx``, sheet ``COMBINED_SUMMARY``: one row per
  company per month, Sep 2014 to Dec 2019 (miles, manual and automatic disengagements).
- ``data/Mileage/<YYYY>-Autonomous-Mileage-Reports-CSV[-driverless].csv``: annual reports, one row
  per vehicle, 12 monthly mile columns DEC(y-1)..NOV(y).
- ``data/Mileage/<YYYY>-<YY>-Autonomous-Mileage-Reports-CSV-(driverless|first-time-filers).csv``:
  23-month reports (JAN y1 .. NOV y2) of new permit holders, split by month into reporting years;
  their 23-month disengagement totals are split by the dates in the matching
  ``data/Disengagements/<YYYY>-<YY>-Autonomous-Vehicle-Disengagement-Reports-CSV-<kind>.csv``.

Conventions (see ``shared/notes/data-av-ai.md``):

- Reporting year (RY) y runs from December of y-1 to November of y; RY2015 is the first,
  15-month period (Sep 2014 to Nov 2015).
- ``autonomous_miles`` is the sum of the monthly columns (miles), never the ``ANNUAL TOTAL``
  column; the ``ANNUAL TOTAL`` sum is kept in ``reported_annual_total`` (annual files only) and
  every row where the two disagree is recorded in ``data_notes``.
- 2014-19 disengagements are ``MANUAL_DISENGAGEMENT + AUTOMATIC_DISENGAGEMENT``; later ones are
  ``Annual Total of Disengagements``.
- Safety-driver permits (AVT) and driverless permits (AVDT) are separate rows (``permit_type``):
  the same VIN in both is two permits with separate miles, not a duplicate.
- RY2020 is missing upstream: only the Jan-Nov 2020 months of the 23-month files are visible.
  No zero rows are emitted for it; rows for a reporting year that no annual report covers
  (RY2020, RY2023 in this copy) carry ``partial_year = True``.
- Company names are normalised with the declared table ``lib/harmonize/av_companies.csv``
  (columns ``raw_name, company, nation, nation_certain``; nation of headquarters, ISO3). An
  unknown manufacturer name is a :class:`DataError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import openpyxl
import polars as pl
from python_calamine import CalamineWorkbook

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.harmonize import nations as nations_mod
from learnrace_pipeline.lib.sources.base import (
    CsvTable,
    Notes,
    SourceInfo,
    parse_number,
    read_csv,
    source_path,
)
from learnrace_pipeline.lib.sources.validate import conform

SOURCE = "ca_dmv_av"

INFO = SourceInfo(
    name=SOURCE,
    producer="State of California Department of Motor Vehicles, Autonomous Vehicles Program",
    citation=(
        "California DMV, Autonomous Vehicle Disengagement Reports and Autonomous Mileage Reports "
        "(2014-2019 combined summary; 2021, 2022 annual and 23-month CSV reports), as vendored "
        "in Kyle-Markwardt/self-driving-vehicles, commit c313277dfbfad82db08a1b5532c18fe262b79b60."
    ),
    url="https://github.com/Kyle-Markwardt/self-driving-vehicles",
    licence=(
        "Public records of the State of California (DMV); the vendoring repository has no "
        "LICENSE file."
    ),
    retrieval_date="2024-04-03",  # date of the vendoring repository's HEAD commit
    notes=(
        "Reporting year y = Dec(y-1)..Nov(y); RY2015 = Sep 2014..Nov 2015. RY2020 is missing "
        "upstream. Self-reported, California-only testing; disengagement definitions vary by "
        "company. The local copy omits the most recent reporting periods (withheld)."
    ),
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
MILEAGE_DIR = "data/Mileage"
EVENTS_DIR = "data/Disengagements"
COMPANIES_FILE = Path(__file__).resolve().parents[1] / "harmonize" / "av_companies.csv"

#: First month of the first reporting period (RY2015 starts in Sep 2014).
FIRST_MONTH = (2014, 9)
#: Reporting years the 2014-19 workbook covers completely; later months are dropped (noted).
XLSX_YEARS = range(2015, 2020)

#: Encoding tried when an events file is not UTF-8. Only the free-text columns of the event files
#: carry non-ASCII bytes upstream (cp1252 curly quotes 0x93/0x94 in the 2022-23 file); mileage
#: files (numbers only) must be UTF-8.
EVENTS_FALLBACK_ENCODING = "cp1252"

#: Date formats accepted in the events files' DATE column (US month-first, ISO).
EVENT_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S")

_MONTHS = {
    "JAN": 1,
    "FEB": 2,
    "MAR": 3,
    "APR": 4,
    "MAY": 5,
    "JUN": 6,
    "JUNE": 6,
    "JUL": 7,
    "JULY": 7,
    "AUG": 8,
    "SEP": 9,
    "SEPT": 9,
    "OCT": 10,
    "NOV": 11,
    "DEC": 12,
}
_MONTH_COL = re.compile(r"^([A-Z]{3,4})\s+(\d{4})$")
_ANNUAL_FILE = re.compile(r"^(\d{4})-Autonomous-Mileage-Reports-CSV(-driverless)?\.csv$")
_SPAN_FILE = re.compile(
    r"^(\d{4})-(\d{2})-Autonomous-Mileage-Reports-CSV-(driverless|first-time-filers)\.csv$"
)
_FORMULA_SUM = re.compile(r"^=\s*[+-]?\d+(\.\d+)?(\s*[+-]\s*\d+(\.\d+)?)*\s*$")


# --------------------------------------------------------------------------------------------
# Company names


@dataclass(frozen=True)
class Company:
    """A normalised AV company and the nation of its headquarters (ISO3)."""

    name: str
    nation: str
    nation_certain: bool


def _name_key(raw: str) -> str:
    return " ".join(raw.upper().split())


@cache
def companies(path: Path = COMPANIES_FILE) -> dict[str, Company]:
    """The declared raw-name -> company table, keyed by upper-cased, space-collapsed raw name."""
    out: dict[str, Company] = {}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["raw_name", "company", "nation", "nation_certain"]:
            raise DataError(
                f"unexpected header {reader.fieldnames}",
                source="av_companies",
                file=path.name,
                row=1,
            )
        for i, rec in enumerate(reader, start=2):
            key = _name_key(rec["raw_name"])
            nation = nations_mod.to_code(
                rec["nation"], source="av_companies", file=path.name, row=i, column="nation"
            )
            certain = rec["nation_certain"].strip().lower()
            if certain not in ("true", "false"):
                raise DataError(
                    f"nation_certain must be true or false, not {rec['nation_certain']!r}",
                    source="av_companies",
                    file=path.name,
                    row=i,
                    column="nation_certain",
                )
            if not rec["company"].strip():
                raise DataError(
                    "empty company name",
                    source="av_companies",
                    file=path.name,
                    row=i,
                    column="company",
                )
            company = Company(rec["company"].strip(), nation, certain == "true")
            if key in out and out[key] != company:
                raise DataError(
                    f"raw name {rec['raw_name']!r} declared twice",
                    source="av_companies",
                    file=path.name,
                    row=i,
                    column="raw_name",
                )
            out[key] = company
    return out


def company_of(raw: str, *, file: str, row: int, column: str) -> Company:
    """The normalised company of a raw manufacturer name; DataError if it is not declared."""
    c = companies().get(_name_key(raw))
    if c is None:
        raise DataError(
            f"unknown manufacturer {raw!r} (declare it in {COMPANIES_FILE.name})",
            source=SOURCE,
            file=file,
            row=row,
            column=column,
        )
    return c


# --------------------------------------------------------------------------------------------
# Reporting years


def report_year(year: int, month: int) -> int:
    """CA DMV reporting year of a calendar month: Dec(y-1)..Nov(y) -> y; Sep-Nov 2014 -> 2015.

    Raises ValueError for months before the first reporting period (Sep 2014).
    """
    if (year, month) < FIRST_MONTH:
        raise ValueError(f"{year}-{month:02d} is before the first reporting period (Sep 2014)")
    ry = year + 1 if month == 12 else year
    return max(ry, 2015)


@dataclass
class _Agg:
    """Running totals of one company x reporting year x permit type x file."""

    company: Company
    row: int  # first row of the company in the file
    miles: float = 0.0
    disengagements: int = 0
    vins: set[str] = field(default_factory=set)
    annual_total: float | None = None
    active: bool = False  # any miles or disengagements


# --------------------------------------------------------------------------------------------
# 2014-2019 workbook


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


def _column_letter(i: int) -> str:
    return openpyxl.utils.get_column_letter(i + 1)


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
            where = f"{sheet}!{_column_letter(c)}{r}"
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


# --------------------------------------------------------------------------------------------
# Mileage CSVs


@dataclass
class Vehicle:
    """One per-vehicle row of a mileage report."""

    company: Company
    raw_name: str
    permit: str
    vin: str
    row: int
    disengagements: int
    months: dict[tuple[int, int], float]  # (year, month) -> miles
    annual_total: float | None


def _month_columns(table: CsvTable) -> list[tuple[int, int, int]]:
    """[(column index, year, month)] of the monthly mile columns, checked to be consecutive."""
    out = []
    for i, h in enumerate(table.header):
        m = _MONTH_COL.match(h.strip().upper())
        if m and m[1] in _MONTHS:
            out.append((i, int(m[2]), _MONTHS[m[1]]))
    for (_, y0, m0), (i1, y1, m1) in itertools.pairwise(out):
        if (y1 * 12 + m1) - (y0 * 12 + m0) != 1:
            raise DataError(
                f"monthly columns are not consecutive months ({table.header[i1]!r} follows {y0}-{m0:02d})",
                source=SOURCE,
                file=table.file,
                row=1,
                column=table.header[i1],
            )
    return out


def read_mileage(
    raw_dir: Path, rel: str, notes: Notes
) -> tuple[list[Vehicle], list[tuple[int, int]]]:
    """Vehicle rows of one mileage CSV and its months [(year, month)] in column order.

    Monthly miles: thousands separators and stray spaces are accepted and noted; an empty monthly
    cell is read as 0 miles (months before a permit) and noted; text is refused. The disengagement
    count must be a non-negative integer. Where ``ANNUAL TOTAL`` differs from the monthly sum by
    more than 0.005 mi the row is noted (the monthly sum is used).
    """
    table = read_csv(
        raw_dir,
        SOURCE,
        rel,
        required=(
            "Manufacturer",
            "Permit Number",
            "VIN NUMBER",
            "Annual Total of Disengagements",
            "ANNUAL TOTAL",
        ),
    )
    months = _month_columns(table)
    if len(months) not in (12, 23):
        raise DataError(
            f"{len(months)} monthly columns; expected 12 or 23", source=SOURCE, file=rel, row=1
        )
    c_man, c_permit, c_vin = (
        table.col("Manufacturer"),
        table.col("Permit Number"),
        table.col("VIN NUMBER"),
    )
    c_dis, c_total = table.col("Annual Total of Disengagements"), table.col("ANNUAL TOTAL")
    known = {c_man, c_permit, c_vin, c_dis, c_total} | {i for i, _, _ in months}
    unnamed = [i for i, h in enumerate(table.header) if i not in known]
    for i in unnamed:
        if table.header[i]:
            raise DataError(
                f"unexpected column {table.header[i]!r}",
                source=SOURCE,
                file=rel,
                row=1,
                column=table.header[i],
            )
    if unnamed:
        notes.add(rel, 1, None, "", f"{len(unnamed)} unnamed empty trailing column(s) ignored")

    vehicles: list[Vehicle] = []
    n_masked = 0
    for rec in table.records:
        f, r = rec.fields, rec.row
        for i in unnamed:
            if i < len(f) and f[i].strip():
                raise DataError(
                    f"value {f[i]!r} in an unnamed column",
                    source=SOURCE,
                    file=rel,
                    row=r,
                    column=f"column {i + 1}",
                )
        raw_name = f[c_man].strip()
        if not raw_name:
            raise DataError(
                "empty Manufacturer", source=SOURCE, file=rel, row=r, column="Manufacturer"
            )
        company = company_of(raw_name, file=rel, row=r, column="Manufacturer")
        vin = f[c_vin].strip()
        if not vin:
            raise DataError("empty VIN NUMBER", source=SOURCE, file=rel, row=r, column="VIN NUMBER")
        if vin != f[c_vin]:
            notes.add(
                rel, r, "VIN NUMBER", f[c_vin], "leading/trailing whitespace stripped from VIN"
            )
        if vin.startswith("~"):
            n_masked += 1
        dis = parse_number(
            f[c_dis],
            source=SOURCE,
            file=rel,
            row=r,
            column="Annual Total of Disengagements",
            notes=notes,
        )
        if dis is None or dis < 0 or dis != int(dis):
            raise DataError(
                f"disengagement count {f[c_dis]!r} is not a non-negative integer",
                source=SOURCE,
                file=rel,
                row=r,
                column="Annual Total of Disengagements",
            )
        miles: dict[tuple[int, int], float] = {}
        for i, y, m in months:
            x = parse_number(
                f[i], source=SOURCE, file=rel, row=r, column=table.header[i], notes=notes
            )
            if x is None:
                notes.add(rel, r, table.header[i], f[i], "empty monthly miles cell read as 0 miles")
                x = 0.0
            if x < 0:
                raise DataError(
                    f"negative miles {f[i]!r}",
                    source=SOURCE,
                    file=rel,
                    row=r,
                    column=table.header[i],
                )
            miles[(y, m)] = x
        total = parse_number(
            f[c_total], source=SOURCE, file=rel, row=r, column="ANNUAL TOTAL", notes=notes
        )
        if total is None:
            notes.add(rel, r, "ANNUAL TOTAL", f[c_total], "empty ANNUAL TOTAL")
        else:
            s = sum(miles.values())
            if abs(total - s) > 0.005:
                kind = "rounding-size" if abs(total - s) <= 2 else "substantive"
                notes.add(
                    rel,
                    r,
                    "ANNUAL TOTAL",
                    f[c_total],
                    f"ANNUAL TOTAL {total:.2f} differs from the monthly sum {s:.2f} by {total - s:+.2f} mi "
                    f"({kind}); the monthly sum is used",
                )
        vehicles.append(
            Vehicle(company, raw_name, f[c_permit].strip(), vin, r, int(dis), miles, total)
        )
    if n_masked:
        notes.add(
            rel,
            None,
            "VIN NUMBER",
            "~NNNN",
            f"{n_masked} masked VIN(s) of the form ~NNNN kept as reported",
        )
    return _deduplicate(vehicles, rel, notes), [(y, m) for _, y, m in months]


def _deduplicate(vehicles: list[Vehicle], rel: str, notes: Notes) -> list[Vehicle]:
    """Drop exact repeats of a vehicle row; keep (and note) repeated VINs with different data."""
    by_vin: dict[tuple[str, str], list[Vehicle]] = defaultdict(list)
    for v in vehicles:
        by_vin[(v.company.name, v.vin)].append(v)
    drop: set[int] = set()
    for (company, vin), vs in by_vin.items():
        if len(vs) < 2:
            continue
        first = vs[0]
        for v in vs[1:]:
            if (v.months, v.disengagements, v.annual_total, v.permit) == (
                first.months,
                first.disengagements,
                first.annual_total,
                first.permit,
            ):
                drop.add(v.row)
                notes.add(
                    rel,
                    v.row,
                    "VIN NUMBER",
                    vin,
                    f"exact repeat of row {first.row} ({company}) dropped",
                )
                continue
            active = [{k for k, x in w.months.items() if x} for w in (first, v)]
            overlap = active[0] & active[1]
            how = (
                f"overlapping active months ({len(overlap)} in common): probable VIN error"
                if overlap
                else "complementary active months"
            )
            notes.add(
                rel,
                v.row,
                "VIN NUMBER",
                vin,
                f"{company} VIN also on row {first.row} with different data, {how}: both rows kept",
            )
    return [v for v in vehicles if v.row not in drop]


# --------------------------------------------------------------------------------------------
# Disengagement event files (for splitting 23-month totals)


def _parse_event_date(text: str, *, file: str, row: int) -> dt.date:
    s = text.strip()
    for fmt in EVENT_DATE_FORMATS:
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            continue
    raise DataError(
        f"unparseable date {text!r} (accepted: M/D/YYYY, YYYY-MM-DD, YYYY-MM-DD hh:mm:ss)",
        source=SOURCE,
        file=file,
        row=row,
        column="DATE",
    )


def read_events(raw_dir: Path, rel: str, notes: Notes) -> dict[str, dict[int, int]]:
    """Disengagement events per company and reporting year: {company: {report_year: count}}.

    The file is decoded as UTF-8; if that fails it is decoded as cp1252 (the encoding of the
    curly quotes found in the free-text description of the 2022-23 file) and a note is recorded.
    Bytes that are not valid in either are refused.
    """
    path = source_path(raw_dir, SOURCE, rel)
    data = path.read_bytes()
    encodings: tuple[str, ...] = ("utf-8-sig",)
    try:
        data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        try:
            data.decode(EVENTS_FALLBACK_ENCODING)
        except UnicodeDecodeError as e2:
            raise DataError(
                f"neither UTF-8 nor {EVENTS_FALLBACK_ENCODING} text (byte {data[e2.start : e2.start + 1]!r} at offset {e2.start})",
                source=SOURCE,
                file=rel,
                row=data[: e2.start].count(b"\n") + 1,
            ) from None
        encodings = (EVENTS_FALLBACK_ENCODING,)
        notes.add(
            rel,
            line,
            None,
            repr(data[e.start : e.start + 1]),
            f"file is not UTF-8 (first bad byte at offset {e.start}); decoded as {EVENTS_FALLBACK_ENCODING}",
        )
    table = read_csv(raw_dir, SOURCE, rel, required=("Manufacturer", "DATE"), encodings=encodings)
    c_man, c_date = table.col("Manufacturer"), table.col("DATE")
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for rec in table.records:
        raw = rec.fields[c_man].strip()
        if not raw:
            raise DataError(
                "empty Manufacturer", source=SOURCE, file=rel, row=rec.row, column="Manufacturer"
            )
        company = company_of(raw, file=rel, row=rec.row, column="Manufacturer")
        d = _parse_event_date(rec.fields[c_date], file=rel, row=rec.row)
        try:
            ry = report_year(d.year, d.month)
        except ValueError as e:
            raise DataError(str(e), source=SOURCE, file=rel, row=rec.row, column="DATE") from None
        counts[company.name][ry] += 1
    return {k: dict(v) for k, v in counts.items()}


# --------------------------------------------------------------------------------------------
# Assembly


def _permit_type(name: str) -> str:
    return "driverless" if "driverless" in name else "safety_driver"


def _mileage_files(raw_dir: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int, int, str]]]:
    """(annual files [(rel, year)], 23-month files [(rel, first year, second year, kind)])."""
    folder = Path(raw_dir) / SOURCE / MILEAGE_DIR
    if not folder.is_dir():
        raise DataError("folder not found", source=SOURCE, file=MILEAGE_DIR)
    annual, span = [], []
    for p in sorted(folder.iterdir()):
        if not p.is_file():
            continue
        rel = f"{MILEAGE_DIR}/{p.name}"
        if m := _ANNUAL_FILE.match(p.name):
            annual.append((rel, int(m[1])))
        elif m := _SPAN_FILE.match(p.name):
            y1 = int(m[1])
            y2 = (y1 // 100) * 100 + int(m[2])
            if y2 != y1 + 1:
                raise DataError(
                    f"23-month file spans {y1}-{y2}, expected consecutive years",
                    source=SOURCE,
                    file=rel,
                )
            span.append((rel, y1, y2, m[3]))
        else:
            raise DataError("unrecognised file name in the mileage folder", source=SOURCE, file=rel)
    return annual, span


def _row(agg: _Agg, ry: int, permit: str, rel: str, partial: bool, *, annual_total: bool) -> dict:
    return {
        "company": agg.company.name,
        "nation": agg.company.nation,
        "nation_certain": agg.company.nation_certain,
        "report_year": ry,
        "permit_type": permit,
        "autonomous_miles": agg.miles,
        "disengagements": agg.disengagements,
        "n_vehicles": len(agg.vins) if agg.vins else None,
        "reported_annual_total": agg.annual_total if annual_total else None,
        "partial_year": partial,
        "source_file": rel,
        "_file": rel,
        "_row": agg.row,
    }


def _workbook_rows(raw_dir: Path, notes: Notes) -> list[dict]:
    aggs: dict[tuple[str, int], _Agg] = {}
    for m in read_workbook(raw_dir, notes):
        key = (m["company"].name, m["report_year"])
        a = aggs.setdefault(key, _Agg(m["company"], m["_row"]))
        a.miles += m["miles"]
        a.disengagements += m["disengagements"]
    out = []
    for (_, ry), a in aggs.items():
        row = _row(a, ry, "safety_driver", XLSX, False, annual_total=False)
        row["n_vehicles"] = None
        out.append(row)
    return out


def _annual_rows(raw_dir: Path, rel: str, year: int, notes: Notes) -> list[dict]:
    vehicles, months = read_mileage(raw_dir, rel, notes)
    if len(months) != 12 or {report_year(y, m) for y, m in months} != {year}:
        raise DataError(
            f"monthly columns are not Dec {year - 1}..Nov {year}", source=SOURCE, file=rel, row=1
        )
    aggs: dict[str, _Agg] = {}
    for v in vehicles:
        a = aggs.setdefault(v.company.name, _Agg(v.company, v.row))
        a.miles += sum(v.months.values())
        a.disengagements += v.disengagements
        a.vins.add(v.vin)
        if v.annual_total is not None:
            a.annual_total = (a.annual_total or 0.0) + v.annual_total
    permit = _permit_type(rel)
    return [_row(a, year, permit, rel, False, annual_total=True) for a in aggs.values()]


def _span_rows(
    raw_dir: Path, rel: str, y1: int, y2: int, kind: str, covered: set[int], notes: Notes
) -> list[dict]:
    vehicles, months = read_mileage(raw_dir, rel, notes)
    if len(months) != 23 or months[0] != (y1, 1) or months[-1] != (y2, 11):
        raise DataError(
            f"monthly columns are not Jan {y1}..Nov {y2}", source=SOURCE, file=rel, row=1
        )
    years = sorted({report_year(y, m) for y, m in months})
    aggs: dict[tuple[str, int], _Agg] = {}
    totals: dict[str, int] = defaultdict(int)
    first_row: dict[str, int] = {}
    for v in vehicles:
        totals[v.company.name] += v.disengagements
        first_row.setdefault(v.company.name, v.row)
        for ry in years:
            a = aggs.setdefault((v.company.name, ry), _Agg(v.company, first_row[v.company.name]))
            a.vins.add(v.vin)
        for (y, m), x in v.months.items():
            a = aggs[(v.company.name, report_year(y, m))]
            a.miles += x
            if x:
                a.active = True

    events_rel = (
        f"{EVENTS_DIR}/{y1}-{y2 % 100:02d}-Autonomous-Vehicle-Disengagement-Reports-CSV-{kind}.csv"
    )
    needs_events = any(totals.values())
    events: dict[str, dict[int, int]] = {}
    if (Path(raw_dir) / SOURCE / events_rel).is_file():
        events = read_events(raw_dir, events_rel, notes)
    elif needs_events:
        raise DataError(
            "23-month disengagement totals cannot be split by reporting year: the events file "
            f"{events_rel!r} is missing",
            source=SOURCE,
            file=rel,
        )
    for company, by_ry in events.items():
        if company not in totals:
            raise DataError(
                f"events for {company} but no vehicle of it in {rel}",
                source=SOURCE,
                file=events_rel,
            )
        if not set(by_ry) <= set(years):
            raise DataError(
                f"{company} events dated outside Jan {y1}..Nov {y2}",
                source=SOURCE,
                file=events_rel,
                column="DATE",
            )
    for company, total in totals.items():
        by_ry = events.get(company, {})
        n = sum(by_ry.values())
        if n != total:
            raise DataError(
                f"{company}: {total} disengagements reported over 23 months but {n} dated events in "
                f"{events_rel}: the total cannot be split by reporting year",
                source=SOURCE,
                file=rel,
                row=first_row[company],
                column="Annual Total of Disengagements",
            )
        for ry, k in by_ry.items():
            aggs[(company, ry)].disengagements += k
            aggs[(company, ry)].active = True
    if any(totals.values()):
        notes.add(
            rel,
            None,
            "Annual Total of Disengagements",
            "",
            f"23-month disengagement totals split by reporting year using the dates in {events_rel}",
        )
    notes.add(
        rel,
        None,
        "ANNUAL TOTAL",
        "",
        "23-month ANNUAL TOTAL cannot be split by reporting year: reported_annual_total left empty",
    )

    permit = _permit_type(kind)
    out = []
    for (company, ry), a in aggs.items():
        if ry != years[-1] and not a.active:
            notes.add(
                rel,
                a.row,
                None,
                "",
                f"{company}: no miles and no disengagements in the RY{ry} months of this 23-month file; "
                f"no row emitted (RY{ry} is not covered by an annual report, zero is not known)"
                if ry not in covered
                else f"{company}: no activity in the RY{ry} months of this 23-month file (before the permit); no row emitted",
            )
            continue
        out.append(_row(a, ry, permit, rel, ry not in covered, annual_total=False))
    return out


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Tables ``av_testing`` (company x reporting year x permit type x file; miles, counts) and
    ``data_notes``."""
    notes = Notes(SOURCE)
    rows = _workbook_rows(raw_dir, notes)
    annual, span = _mileage_files(raw_dir)
    covered = set(XLSX_YEARS) | {y for _, y in annual}
    for rel, year in annual:
        rows += _annual_rows(raw_dir, rel, year, notes)
    for rel, y1, y2, kind in span:
        rows += _span_rows(raw_dir, rel, y1, y2, kind, covered, notes)
    for ry in sorted({r["report_year"] for r in rows} - covered):
        notes.add(
            MILEAGE_DIR,
            None,
            None,
            "",
            f"RY{ry}: no annual report in the source; only the RY{ry} months of 23-month files are "
            "emitted, with partial_year = true",
        )
    for ry in sorted(set(range(min(covered), max(covered) + 1)) - covered):
        notes.add(
            MILEAGE_DIR,
            None,
            None,
            "",
            f"RY{ry}: missing upstream (no annual report); no zero rows emitted",
        )
    df = pl.DataFrame(
        rows,
        schema_overrides={
            "n_vehicles": pl.Int64,
            "reported_annual_total": pl.Float64,
            "disengagements": pl.Int64,
            "report_year": pl.Int32,
        },
    )
    return {"av_testing": conform("av_testing", df, SOURCE), "data_notes": notes.frame()}
