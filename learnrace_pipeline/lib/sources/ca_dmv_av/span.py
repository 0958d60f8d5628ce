"""23-month reports of new permit holders, split into reporting years.

``data/Mileage/<YYYY>-<YY>-Autonomous-Mileage-Reports-CSV-(driverless|first-time-filers).csv``
covers JAN y1 .. NOV y2 (23 monthly mile columns): the miles (in miles) are split by month into
reporting years. The per-vehicle disengagement counts are 23-month totals; they are split by the
dates of the events listed in the matching
``data/Disengagements/<YYYY>-<YY>-Autonomous-Vehicle-Disengagement-Reports-CSV-<kind>.csv``
(one row per disengagement: ``Manufacturer``, ``DATE``), whose count per company must equal the
reported total. Rows of a reporting year that no annual report covers (RY2020, RY2023 in this
copy) are marked ``partial_year``; ``reported_annual_total`` stays empty (a 23-month total
cannot be split).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import Notes, read_csv, source_path
from learnrace_pipeline.lib.sources.ca_dmv_av.common import (
    SOURCE,
    Agg,
    av_row,
    company_of,
    permit_type,
    report_year,
)
from learnrace_pipeline.lib.sources.ca_dmv_av.mileage import read_mileage

EVENTS_DIR = "data/Disengagements"

#: Encoding tried when an events file is not UTF-8. Only the free-text columns of the event files
#: carry non-ASCII bytes upstream (cp1252 curly quotes 0x93/0x94 in the 2022-23 file); mileage
#: files (numbers only) must be UTF-8.
EVENTS_FALLBACK_ENCODING = "cp1252"

#: Date formats accepted in the events files' DATE column (US month-first, ISO).
EVENT_DATE_FORMATS = ("%m/%d/%Y", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S")


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


def span_rows(
    raw_dir: Path, rel: str, y1: int, y2: int, kind: str, covered: set[int], notes: Notes
) -> list[dict]:
    """``av_testing`` rows of one 23-month report: company x reporting year (miles, split
    disengagement counts, distinct VINs). ``covered`` holds the reporting years that an annual
    report or the workbook covers; rows of other years are ``partial_year``. A company-year with
    no activity is not emitted (noted), except in the last reporting year of the file."""
    vehicles, months = read_mileage(raw_dir, rel, notes)
    if len(months) != 23 or months[0] != (y1, 1) or months[-1] != (y2, 11):
        raise DataError(
            f"monthly columns are not Jan {y1}..Nov {y2}", source=SOURCE, file=rel, row=1
        )
    years = sorted({report_year(y, m) for y, m in months})
    aggs: dict[tuple[str, int], Agg] = {}
    totals: dict[str, int] = defaultdict(int)
    first_row: dict[str, int] = {}
    for v in vehicles:
        totals[v.company.name] += v.disengagements
        first_row.setdefault(v.company.name, v.row)
        for ry in years:
            a = aggs.setdefault((v.company.name, ry), Agg(v.company, first_row[v.company.name]))
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

    permit = permit_type(kind)
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
        out.append(av_row(a, ry, permit, rel, ry not in covered, annual_total=False))
    return out
