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
- Company names are normalised with the declared table ``lib/vocab/av_companies.csv``
  (columns ``raw_name, company, nation, nation_certain``; nation of headquarters, ISO3). An
  unknown manufacturer name is a :class:`DataError`.

Layout: :mod:`.common` (company names, reporting years, per-company totals), :mod:`.workbook`
(the 2014-19 workbook), :mod:`.mileage` (mileage CSVs, annual reports), :mod:`.span` (23-month
reports split by the event files' dates). This module holds ``INFO`` and :func:`read`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.sources.base import Notes, SourceInfo
from learnrace_pipeline.lib.sources.ca_dmv_av.common import (
    COMPANIES_FILE,
    FIRST_MONTH,
    SOURCE,
    Company,
    companies,
    company_of,
    report_year,
)
from learnrace_pipeline.lib.sources.ca_dmv_av.mileage import (
    MILEAGE_DIR,
    Vehicle,
    annual_rows,
    mileage_files,
    read_mileage,
)
from learnrace_pipeline.lib.sources.ca_dmv_av.span import (
    EVENT_DATE_FORMATS,
    EVENTS_DIR,
    EVENTS_FALLBACK_ENCODING,
    read_events,
    span_rows,
)
from learnrace_pipeline.lib.sources.ca_dmv_av.workbook import (
    SHEET,
    XLSX,
    XLSX_COLUMNS,
    XLSX_YEARS,
    read_workbook,
    workbook_rows,
)
from learnrace_pipeline.lib.sources.validate import conform

__all__ = [
    "COMPANIES_FILE",
    "EVENTS_DIR",
    "EVENTS_FALLBACK_ENCODING",
    "EVENT_DATE_FORMATS",
    "FIRST_MONTH",
    "INFO",
    "MILEAGE_DIR",
    "SHEET",
    "SOURCE",
    "XLSX",
    "XLSX_COLUMNS",
    "XLSX_YEARS",
    "Company",
    "Vehicle",
    "companies",
    "company_of",
    "read",
    "read_events",
    "read_mileage",
    "read_workbook",
    "report_year",
]

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


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Tables ``av_testing`` (company x reporting year x permit type x file; miles, counts) and
    ``data_notes``."""
    notes = Notes(SOURCE)
    rows = workbook_rows(raw_dir, notes)
    annual, span = mileage_files(raw_dir)
    covered = set(XLSX_YEARS) | {y for _, y in annual}
    for rel, year in annual:
        rows += annual_rows(raw_dir, rel, year, notes)
    for rel, y1, y2, kind in span:
        rows += span_rows(raw_dir, rel, y1, y2, kind, covered, notes)
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
