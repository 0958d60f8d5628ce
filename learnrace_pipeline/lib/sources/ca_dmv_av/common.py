"""What every CA DMV file family shares: company names, reporting years and per-company totals.

- :func:`companies` / :func:`company_of`: raw manufacturer names -> normalised company and the
  nation of its headquarters (ISO3), from the declared table ``lib/vocab/av_companies.csv``.
- :func:`report_year`: calendar month -> CA DMV reporting year (Dec(y-1)..Nov(y); RY2015 starts
  in Sep 2014).
- :class:`Agg` and :func:`av_row`: running totals of one company x reporting year x permit type x
  file (miles, disengagement counts, distinct VINs) and the ``av_testing`` row built from them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.vocab import nations as nations_mod

SOURCE = "ca_dmv_av"

COMPANIES_FILE = Path(__file__).resolve().parents[2] / "vocab" / "av_companies.csv"

#: First month of the first reporting period (RY2015 starts in Sep 2014).
FIRST_MONTH = (2014, 9)


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
class Agg:
    """Running totals of one company x reporting year x permit type x file."""

    company: Company
    row: int  # first row of the company in the file
    miles: float = 0.0
    disengagements: int = 0
    vins: set[str] = field(default_factory=set)
    annual_total: float | None = None
    active: bool = False  # any miles or disengagements


def permit_type(name: str) -> str:
    """``"driverless"`` (AVDT permit) if ``name`` (a file name or kind) says so, else
    ``"safety_driver"`` (AVT permit)."""
    return "driverless" if "driverless" in name else "safety_driver"


def av_row(agg: Agg, ry: int, permit: str, rel: str, partial: bool, *, annual_total: bool) -> dict:
    """One ``av_testing`` row (with ``_file``/``_row`` bookkeeping) of reporting year ``ry``.

    Miles in miles, disengagements a count, ``n_vehicles`` the distinct VINs (None if none were
    counted); ``reported_annual_total`` (miles) is kept only when ``annual_total`` is true.
    """
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
