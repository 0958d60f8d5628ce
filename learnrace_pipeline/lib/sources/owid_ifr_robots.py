"""Annual industrial robot installations by country (IFR via the AI Index, through Our World in Data).

File ``annual-industrial-robots-installed.csv``: columns ``Entity, Code, Year, Annual industrial
robots installed`` (robots installed per year, rounded by the source to the nearest 1,000). The
download is OWID's "top five" selection: China, Germany, Japan, South Korea and United States for
2011-2023, and World for 2012-2023.

- ``production``: series ``industrial_robot_installations``, technology ``industrial_robot``, unit
  ``robot``; annual installations per nation; cumulative installations derived with
  :func:`..vocab.cumulative.derive_cumulative` (Lafond et al. 2018 initial stock), since the
  file has annual flows only and no operational stock.
- ``market_shares``: basis ``industrial_robot_installations_of_world``, each nation's
  installations divided by the **World** row of the same year (2012-2023; 2011 has no World value
  and so no share). World is the IFR world total, **not** the sum of the five countries (they
  cover about 70-79% of it): shares of the five do not add up to one.

Each row's nation comes from ``Entity`` (:func:`..vocab.nations.to_code`) and must agree with
``Code`` (ISO3, or ``OWID_WRL`` for World). A repeated (Entity, Year) is refused. There is no robot
price or cost anywhere in the raw data, so no cost observations.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import frame, with_cumulative
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo, iter_rows, parse_number, read_csv
from learnrace_pipeline.lib.sources.validate import conform
from learnrace_pipeline.lib.vocab import nations, taxonomy

SOURCE = "owid_ifr_robots"
FILE = "annual-industrial-robots-installed.csv"
VALUE_COLUMN = "Annual industrial robots installed"
SERIES_ID = f"{SOURCE}:industrial_robot_installations"
TECHNOLOGY = "industrial_robot"
BASIS = "industrial_robot_installations_of_world"

#: OWID's own codes for aggregates.
OWID_CODES = {"OWID_WRL": "WLD"}

INFO = SourceInfo(
    name=SOURCE,
    producer="International Federation of Robotics (IFR) via the Stanford AI Index, processed by Our World in Data",
    citation="International Federation of Robotics (IFR) via AI Index Report (2025) - with minor "
    "processing by Our World in Data. Annual industrial robots installed (OWID variable 1026152).",
    url="https://ourworldindata.org/grapher/annual-industrial-robots-installed (copy from "
    "github.com/sjaubert/Cours-IA, commit 0f03f9aeed4402078a60f4eecdde0bd5fca94083)",
    licence="CC BY 4.0 (Our World in Data); underlying IFR World Robotics figures: cite IFR and the AI Index",
    retrieval_date="2025-11-27",
    notes="Top-five countries plus World only; values rounded to the nearest 1,000; World is not the "
    "sum of the five. Annual installations only (no operational stock, no prices).",
)


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse the OWID robots CSV: ``production`` in robots (annual, derived cumulative) and
    ``market_shares`` (fraction of World installations)."""
    notes = Notes(SOURCE)
    tech_industry = taxonomy.industry_of(TECHNOLOGY)
    t = read_csv(raw_dir, SOURCE, FILE, required=("Entity", "Code", "Year", VALUE_COLUMN))
    rows: list[dict] = []
    seen: dict[tuple[str, int], int] = {}
    codes: dict[str, str] = {}
    for row, rec in iter_rows(t):
        entity = rec["Entity"].strip()
        if entity not in codes:
            codes[entity] = nations.to_code(
                entity, source=SOURCE, file=FILE, row=row, column="Entity"
            )
        code = codes[entity]
        raw_code = rec["Code"].strip()
        given = OWID_CODES.get(raw_code, raw_code)
        if given != code:
            raise DataError(
                f"Code {raw_code!r} does not match Entity {entity!r} ({code})",
                source=SOURCE,
                file=FILE,
                row=row,
                column="Code",
            )
        ys = rec["Year"].strip()
        if not (ys.isdigit() and len(ys) == 4):
            raise DataError(
                f"not a calendar year: {ys!r}", source=SOURCE, file=FILE, row=row, column="Year"
            )
        year = int(ys)
        if (entity, year) in seen:
            raise DataError(
                f"duplicate (Entity, Year) = ({entity!r}, {year}); first at row {seen[(entity, year)]}",
                source=SOURCE,
                file=FILE,
                row=row,
                column="Year",
            )
        seen[(entity, year)] = row
        v = parse_number(
            rec[VALUE_COLUMN], source=SOURCE, file=FILE, row=row, column=VALUE_COLUMN, notes=notes
        )
        if v is None:
            raise DataError(
                "missing installations", source=SOURCE, file=FILE, row=row, column=VALUE_COLUMN
            )
        if v < 0:
            raise DataError(
                f"negative installations {v}",
                source=SOURCE,
                file=FILE,
                row=row,
                column=VALUE_COLUMN,
            )
        rows.append(
            {
                "series_id": SERIES_ID,
                "technology": TECHNOLOGY,
                "nation": code,
                "year": year,
                "annual_production": v,
                "unit": "robot",
                "source": SOURCE,
                "_file": FILE,
                "_row": row,
            }
        )

    prod = with_cumulative(rows)

    world = dict(
        prod.filter(pl.col("nation") == "WLD").select("year", "annual_production").iter_rows()
    )
    no_world = sorted({r["year"] for r in rows if r["year"] not in world})
    if no_world:
        notes.add(
            FILE, None, "Year", "", f"no World value in {no_world}: no world shares for those years"
        )
    shares = [
        {
            "industry": tech_industry,
            "technology": TECHNOLOGY,
            "nation": r["nation"],
            "year": r["year"],
            "share": r["annual_production"] / world[r["year"]],
            "basis": BASIS,
            "source": SOURCE,
            "_file": FILE,
            "_row": r["_row"],
        }
        for r in rows
        if r["nation"] != "WLD" and world.get(r["year"])
    ]
    return {
        "production": conform("production", prod.select(frame("production", []).columns), SOURCE),
        "market_shares": conform("market_shares", frame("market_shares", shares), SOURCE),
        "data_notes": notes.frame(),
    }
