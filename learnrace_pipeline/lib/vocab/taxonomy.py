"""The declared technology taxonomy: every technology maps to exactly one industry.

The taxonomy lives in ``taxonomy.csv`` beside this module (columns ``technology, industry,
aliases``). A raw name matches a technology when its normalised form (lower case, letters and
digits only) equals the technology's or one of its ``|``-separated aliases'. Unknown names raise
:class:`DataError`: a new series must be declared before it enters the warehouse.
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError

TAXONOMY_FILE = Path(__file__).with_name("taxonomy.csv")

INDUSTRIES = (
    "solar",
    "wind",
    "batteries",
    "evs",
    "semiconductors",
    "chemicals",
    "materials",
    "consumer_goods",
    "agriculture",
    "robotics",
    "autonomous_vehicles",
    "ai",
    "energy",
    "biotech",
    "computing",
    "hydrogen",
    "telecom",
    "medical_imaging",
    "machinery",
)


def normalise(name: str) -> str:
    """Lower-case letters and digits only: ``"Wind Turbine (Denmark)"`` -> ``"windturbinedenmark"``."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


@functools.cache
def _table() -> tuple[dict[str, str], dict[str, str]]:
    industry: dict[str, str] = {}
    by_norm: dict[str, str] = {}
    with TAXONOMY_FILE.open(newline="", encoding="utf-8") as f:
        for i, rec in enumerate(csv.DictReader(f), start=2):
            tech, ind = rec["technology"].strip(), rec["industry"].strip()
            if ind not in INDUSTRIES:
                raise DataError(
                    f"unknown industry {ind!r}",
                    source="taxonomy",
                    file=TAXONOMY_FILE.name,
                    row=i,
                    column="industry",
                )
            if tech in industry:
                raise DataError(
                    f"technology {tech!r} declared twice",
                    source="taxonomy",
                    file=TAXONOMY_FILE.name,
                    row=i,
                    column="technology",
                )
            industry[tech] = ind
            for alias in [tech, *filter(None, (rec.get("aliases") or "").split("|"))]:
                key = normalise(alias)
                if by_norm.get(key, tech) != tech:
                    raise DataError(
                        f"alias {alias!r} names two technologies",
                        source="taxonomy",
                        file=TAXONOMY_FILE.name,
                        row=i,
                        column="aliases",
                    )
                by_norm[key] = tech
    return industry, by_norm


def technologies() -> dict[str, str]:
    """technology -> industry for every declared technology."""
    return dict(_table()[0])


def classify(
    raw_name: str,
    *,
    source: str,
    file: str | None = None,
    row: int | None = None,
    column: str | None = None,
) -> tuple[str, str]:
    """(technology, industry) for a raw series name; DataError if it is not declared."""
    industry, by_norm = _table()
    tech = by_norm.get(normalise(raw_name))
    if tech is None:
        raise DataError(
            f"technology {raw_name!r} is not in the taxonomy (add it to {TAXONOMY_FILE.name})",
            source=source,
            file=file,
            row=row,
            column=column,
        )
    return tech, industry[tech]


def industry_of(technology: str) -> str:
    """The industry of a canonical technology name (KeyError if undeclared)."""
    return _table()[0][technology]
