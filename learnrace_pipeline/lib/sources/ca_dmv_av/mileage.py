"""Autonomous Mileage Reports (``data/Mileage/*.csv``): one row per vehicle, miles per month.

- Annual reports ``<YYYY>-Autonomous-Mileage-Reports-CSV[-driverless].csv``: 12 monthly mile
  columns DEC(y-1)..NOV(y), summed per company into reporting year y (miles; distinct VINs
  counted; the ``ANNUAL TOTAL`` column summed into ``reported_annual_total``, miles).
- 23-month reports ``<YYYY>-<YY>-...-(driverless|first-time-filers).csv`` are parsed here by
  :func:`read_mileage` too; their split into reporting years lives in :mod:`.span`.

Each vehicle row gives its disengagement count (``Annual Total of Disengagements``, a
non-negative integer) and its monthly miles.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import CsvTable, Notes, parse_number, read_csv
from learnrace_pipeline.lib.sources.ca_dmv_av.common import (
    SOURCE,
    Agg,
    Company,
    av_row,
    company_of,
    permit_type,
    report_year,
)

MILEAGE_DIR = "data/Mileage"

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


def mileage_files(raw_dir: Path) -> tuple[list[tuple[str, int]], list[tuple[str, int, int, str]]]:
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


def annual_rows(raw_dir: Path, rel: str, year: int, notes: Notes) -> list[dict]:
    """``av_testing`` rows of one annual report: company x reporting year ``year``, miles summed
    over vehicles and months, disengagement counts, distinct VINs, ``ANNUAL TOTAL`` sum (miles)."""
    vehicles, months = read_mileage(raw_dir, rel, notes)
    if len(months) != 12 or {report_year(y, m) for y, m in months} != {year}:
        raise DataError(
            f"monthly columns are not Dec {year - 1}..Nov {year}", source=SOURCE, file=rel, row=1
        )
    aggs: dict[str, Agg] = {}
    for v in vehicles:
        a = aggs.setdefault(v.company.name, Agg(v.company, v.row))
        a.miles += sum(v.months.values())
        a.disengagements += v.disengagements
        a.vins.add(v.vin)
        if v.annual_total is not None:
            a.annual_total = (a.annual_total or 0.0) + v.annual_total
    permit = permit_type(rel)
    return [av_row(a, year, permit, rel, False, annual_total=True) for a in aggs.values()]
