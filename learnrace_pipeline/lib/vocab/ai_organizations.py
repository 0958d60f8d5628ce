"""Which nation an AI model is credited to: the declared organization -> nation map
(``ai_organizations.csv``, beside this module) and the attribution rule applied with it.

**The rule.** A model is credited to one nation: the home nation of the *ultimate parent* of its
*lead organization*, because the question is which economy trains frontier models.

- Home nation: where the ultimate parent has its headquarters (principal place of business), not
  where it is incorporated and not where the lab sits. Google DeepMind, a London lab of Alphabet,
  is credited to the USA; Microsoft Research Asia (Beijing) to the USA; Baidu's Silicon Valley lab
  to China; ByteDance and Alibaba (incorporated in the Cayman Islands) to China. Hong Kong
  organizations are credited to China (as the frontier model folded Hong Kong into China before).
- Ownership as of 2024-06-30, the end of the Epoch data.
- Lead organization: the first one Epoch lists (``Organization`` is a comma-separated list;
  Epoch lists the lead organization first in every multi-organization frontier-scale model but
  one: BlenderBot 3 lists McGill University before Meta AI, so it is credited to Canada).
- Every organization of a frontier-scale model must be in the map; an unknown one is a
  :class:`DataError` naming it. A model below frontier scale whose organizations are not all in
  the map is credited from Epoch's own country list when that names exactly one nation (the
  ``MULTI`` tag dropped, Hong Kong read as China), and to no nation otherwise.

**Frontier-scale** (:func:`frontier_scale`): training compute of at least ``1e23`` FLOP (Epoch's
large-scale threshold), or, for models published from 2010-01-01, at least a tenth of the running
record: the largest compute of any model published on or before the same date (within one order
of magnitude of the frontier when it appeared).

**The file.** Comment lines start with ``#`` (the rule is repeated there); then a header
``organization,nation,lab_location,rule_note`` and one row per organization, spelled exactly as
Epoch spells it. ``nation``: ISO 3166 alpha-3 of the ultimate parent's home nation (a country,
never a region). ``lab_location``: ISO3 of the lab's own location (``MULTI`` for a distributed
collaboration). ``rule_note``: the parent and why. Every field is required; an organization may
appear once (compared case- and space-insensitively). :func:`organizations` raises
:class:`DataError` naming the file, row (line number) and column of any breach.
"""

from __future__ import annotations

import csv
import datetime as dt_
import functools
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.vocab import nations as nations_mod

MAP_FILE = Path(__file__).with_name("ai_organizations.csv")
SOURCE = "ai_organizations"
HEADER = ("organization", "nation", "lab_location", "rule_note")

#: Frontier-scale thresholds (module docstring).
FRONTIER_FLOP = 1e23
FRONTIER_FACTOR = 10.0
FRONTIER_FROM = dt_.date(2010, 1, 1)

#: Codes that name no single nation: never credited.
NOT_NATIONS = frozenset(nations_mod.REGIONS)
#: Epoch country codes read as another nation when crediting from Epoch's list.
FOLD = {"HKG": "CHN"}

#: ``nation_basis`` values of a credited model.
BASIS_MAP = "organization"
BASIS_EPOCH = "epoch_country"


@dataclass(frozen=True)
class Organization:
    """One row of the map: the organization as Epoch spells it, the nation credited (ISO3 of the
    ultimate parent's headquarters), the lab's own location (ISO3 or ``MULTI``) and why."""

    name: str
    nation: str
    lab_location: str
    rule_note: str


def key(name: str) -> str:
    """Lookup key of an organization name: lower case, runs of spaces collapsed."""
    return " ".join(name.lower().split())


def split_organizations(text: str | None) -> list[str]:
    """The organizations of Epoch's comma-separated ``Organization`` field, in order, stripped,
    empty entries dropped."""
    if not text:
        return []
    return [p.strip() for p in text.split(",") if p.strip()]


def _code(value: str, *, column: str, file: str, row: int, allow: frozenset[str]) -> str:
    code = value.strip()
    if code not in nations_mod.known_codes() or (code in NOT_NATIONS and code not in allow):
        what = "an ISO3 country code" + (f" or one of {sorted(allow)}" if allow else "")
        raise DataError(
            f"{column} {value!r} is not {what}", source=SOURCE, file=file, row=row, column=column
        )
    return code


@functools.cache
def organizations(path: Path = MAP_FILE) -> dict[str, Organization]:
    """The declared map, keyed by :func:`key`; validated as the module docstring says."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    n_comment = 0
    while n_comment < len(lines) and lines[n_comment].lstrip().startswith("#"):
        n_comment += 1
    reader = csv.reader(io.StringIO("".join(lines[n_comment:]), newline=""))
    file = path.name
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != HEADER:
        raise DataError(
            f"header must be {','.join(HEADER)}, got {header}",
            source=SOURCE,
            file=file,
            row=n_comment + 1,
        )
    out: dict[str, Organization] = {}
    for fields in reader:
        row = n_comment + reader.line_num
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != len(HEADER):
            raise DataError(
                f"{len(fields)} fields, expected {len(HEADER)}", source=SOURCE, file=file, row=row
            )
        rec = dict(zip(HEADER, fields, strict=True))
        for col in HEADER:
            if not rec[col].strip():
                raise DataError("empty field", source=SOURCE, file=file, row=row, column=col)
        name = rec["organization"].strip()
        if key(name) in out:
            raise DataError(
                f"organization {name!r} declared twice",
                source=SOURCE,
                file=file,
                row=row,
                column="organization",
            )
        out[key(name)] = Organization(
            name=name,
            nation=_code(rec["nation"], column="nation", file=file, row=row, allow=frozenset()),
            lab_location=_code(
                rec["lab_location"],
                column="lab_location",
                file=file,
                row=row,
                allow=frozenset({"MULTI"}),
            ),
            rule_note=rec["rule_note"].strip(),
        )
    return out


def frontier_scale(compute: pl.Series, dates: pl.Series) -> pl.Series:
    """Whether each model is frontier-scale (module docstring): compute (FLOP) >= 1e23, or, from
    2010-01-01, compute >= running record / 10, the record being the largest compute of any model
    published on or before the same date. Null compute is never frontier-scale."""
    df = pl.DataFrame({"c": compute, "d": dates}).with_row_index("_i")
    rec = (
        df.filter(pl.col("c").is_not_null())
        .group_by("d")
        .agg(pl.col("c").max().alias("day_max"))
        .sort("d")
        .with_columns(pl.col("day_max").cum_max().alias("record"))
    )
    out = df.join(rec.select("d", "record"), on="d", how="left").sort("_i")
    flag = (pl.col("c") >= FRONTIER_FLOP) | (
        (pl.col("d") >= FRONTIER_FROM) & (pl.col("c") * FRONTIER_FACTOR >= pl.col("record"))
    )
    return out.select(flag.fill_null(False).alias("frontier_scale"))["frontier_scale"]


@dataclass(frozen=True)
class Credit:
    """The nation a model is credited to (None: none can be), how (``BASIS_MAP`` through the lead
    organization, ``BASIS_EPOCH`` from Epoch's single-nation country list, None), the lead
    organization, and the listed organizations missing from the map."""

    nation: str | None
    basis: str | None
    lead: str | None
    unknown: tuple[str, ...]


def credit(
    orgs: list[str],
    epoch_nations: list[str] | None,
    table: dict[str, Organization] | None = None,
) -> Credit:
    """Apply the rule (module docstring) to one model: its organizations in Epoch's order and
    Epoch's country codes. The caller refuses frontier-scale models with ``unknown`` entries."""
    table = organizations() if table is None else table
    unknown = tuple(o for o in orgs if key(o) not in table)
    lead = orgs[0] if orgs else None
    if orgs and not unknown:
        return Credit(table[key(orgs[0])].nation, BASIS_MAP, lead, unknown)
    named = {FOLD.get(c, c) for c in (epoch_nations or []) if c not in NOT_NATIONS}
    if len(named) == 1:
        return Credit(named.pop(), BASIS_EPOCH, lead, unknown)
    return Credit(None, None, lead, unknown)


def differing(table: dict[str, Organization] | None = None) -> list[Organization]:
    """Organizations whose credited nation differs from their lab's own location, by name."""
    table = organizations() if table is None else table
    return sorted(
        (o for o in table.values() if o.nation != o.lab_location), key=lambda o: key(o.name)
    )
