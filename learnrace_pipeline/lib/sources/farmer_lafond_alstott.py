"""Reader for ``farmer_lafond_alstott``: Farmer & Lafond (2016) cost series (via jeffalstott).

Files (relative to ``raw_dir/farmer_lafond_alstott``):

- ``data/original/Farmer_Lafond_Data.csv`` (read): wide table, row 1 technology names (first
  column ``YEAR``), row 2 the unit of each column (``1966 USD/lbs``, ``2013 USD/Wp``, ``DKK/kW``),
  row 3 a small integer category code (undocumented upstream; kept in the description), then one
  row per year. Empty = no observation. Rows are ragged (trailing empty cells omitted); any
  non-empty cell beyond the header is refused. The file is plain ASCII (read as UTF-8, strict).
- ``data/time_series_metadata.csv`` (read): one row per series of ``time_series.csv`` with
  ``Name, Units, Source, Type, n, Start, Stop, Domain``. Used to describe the Farmer_Lafond series
  (type, domain) and to list the Magee et al. (2016) series that are deliberately skipped.
- ``data/time_series.csv`` (not read): its Farmer_Lafond columns are the reciprocals (1/price,
  Alstott's higher-is-better convention) of a subset of the original points, so the original file
  is the better copy; its Magee columns are skipped (below).

Magee et al. performance series are **skipped**, each with a data note: their "Price" series are
performance per dollar (``mbits/$``, ``W/$``, ``lumen/$``) in dollars of unstated year, several
are composite indices (``Speed * build volume/(layer thickness *cost)``, ``1/(res.sec.$)``), a
number are flagged ``*_Questionable`` upstream, none has production data, and their units do not
fit the warehouse's unit grammar. Performance series of the warehouse come from OWID (transistors
per microprocessor, TOP500) and the chip dataset instead.

Output: ``technologies`` and ``cost_observations`` (no production: this source has none; use
``pcdb_carnegie`` for Wright's-law fits), plus ``data_notes``. ``series_id`` is
``farmer_lafond_alstott:<name as in row 1>``. Units are canonicalised as in
:mod:`._pcdb_common` (``1966 USD/lbs`` -> ``1966 USD/lb``, ``US cents/kWh`` -> ``USD/kWh`` with
values divided by 100, ``1955 Yen`` -> ``1955 JPY/unit``); non-money "costs" (gallons/mile,
acres/1000 bushels, heads/million lb) have ``metric_kind = "input_per_output"``, all others
``price`` (Farmer & Lafond treat every series as a price).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._pcdb_common import Where, nation_of, parse_cost_unit
from learnrace_pipeline.lib.sources._pcdb_format import technology_row
from learnrace_pipeline.lib.sources._sheets import conformed
from learnrace_pipeline.lib.sources.base import (
    Notes,
    SourceInfo,
    cost_row,
    delimiter_hint,
    parse_number,
    read_csv,
)
from learnrace_pipeline.lib.vocab import taxonomy

SOURCE = "farmer_lafond_alstott"

INFO = SourceInfo(
    name=SOURCE,
    producer="J. Doyne Farmer & François Lafond (cost series, mostly from the Santa Fe PCDB); "
    "Magee et al. (performance series); compiled by Jeff Alstott",
    citation="Farmer & Lafond (2016), How predictable is technological progress?, Research "
    "Policy 45(3): 647-665; Magee, Basnet, Funk & Benson (2016), Quantitative empirical trends "
    "in technical performance, TFSC 104",
    url="https://github.com/jeffalstott/technologytimeseries_forecasting",
    licence="No licence file; the README asks academics to cite the papers (terms unstated)",
    retrieval_date="2018-01-15",
    notes="HEAD cc3c11a781d18ef45ba140d4eadf09005ed5bc86 (commit date). Some series and recent "
    "years are withheld from this copy for evaluation.",
)

DATA_FILE = "data/original/Farmer_Lafond_Data.csv"
META_FILE = "data/time_series_metadata.csv"
META_COLUMNS = ("Name", "Units", "Source", "Type", "n", "Start", "Stop", "Domain")

MAGEE_SKIP = (
    "Magee et al. (2016) series skipped: performance or performance-per-dollar index with a "
    "composite or undated-money unit and no production data"
)


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse ``raw_dir/farmer_lafond_alstott``; return conformed tables plus ``data_notes``."""
    raw_dir = Path(raw_dir)
    notes = Notes(SOURCE)
    meta = read_metadata(raw_dir, notes)
    tech_rows, cost_rows = read_wide(raw_dir, notes, meta)
    return conformed(SOURCE, {"technologies": tech_rows, "cost_observations": cost_rows}, notes)


def read_metadata(raw_dir: Path, notes: Notes) -> dict[str, dict[str, str]]:
    """Farmer_Lafond rows of the metadata by name; Magee rows are noted as skipped."""
    table = read_csv(raw_dir, SOURCE, META_FILE, required=META_COLUMNS)
    out: dict[str, dict[str, str]] = {}
    idx = {c: table.col(c) for c in META_COLUMNS}
    for rec in table.records:
        rec_d = {c: rec.fields[j].strip() for c, j in idx.items()}
        name, src = rec_d["Name"], rec_d["Source"]
        if not name:
            raise DataError(
                "empty series name", source=SOURCE, file=META_FILE, row=rec.row, column="Name"
            )
        if src == "Farmer_Lafond":
            if name in out:
                raise DataError(
                    f"series {name!r} listed twice",
                    source=SOURCE,
                    file=META_FILE,
                    row=rec.row,
                    column="Name",
                )
            out[name] = {**rec_d, "_row": str(rec.row)}
        elif src == "Magee_et_al":
            notes.add(
                META_FILE,
                rec.row,
                "Name",
                name,
                f"{MAGEE_SKIP} (type {rec_d['Type']}, units {rec_d['Units']!r})",
            )
        else:
            raise DataError(
                f"unknown Source {src!r} (expected Farmer_Lafond or Magee_et_al)",
                source=SOURCE,
                file=META_FILE,
                row=rec.row,
                column="Source",
            )
    return out


def read_wide(
    raw_dir: Path, notes: Notes, meta: dict[str, dict[str, str]]
) -> tuple[list[dict], list[dict]]:
    """Rows of ``technologies`` and ``cost_observations`` (with ``_file``/``_row``)."""
    table = read_csv(raw_dir, SOURCE, DATA_FILE, allow_ragged=True)
    h = table.header
    if h[0].strip().upper() != "YEAR":
        hint = delimiter_hint(h[0])
        raise DataError(
            f"first column should be YEAR, header starts {h[0]!r}{hint}",
            source=SOURCE,
            file=DATA_FILE,
            row=1,
            column=h[0],
        )
    names = h[1:]
    seen: set[str] = set()
    for j, name in enumerate(names, start=1):
        if not name:
            raise DataError(
                "empty technology name",
                source=SOURCE,
                file=DATA_FILE,
                row=1,
                column=f"column {j + 1}",
            )
        if name in seen:
            raise DataError(
                f"technology {name!r} appears twice",
                source=SOURCE,
                file=DATA_FILE,
                row=1,
                column=name,
            )
        seen.add(name)
    recs = table.records
    if len(recs) < 3:
        raise DataError(
            "expected a units row, a category row and year rows", source=SOURCE, file=DATA_FILE
        )
    for rec in recs:
        extra = [x for x in rec.fields[len(h) :] if x.strip()]
        if extra:
            raise DataError(
                f"value(s) {extra} beyond the last named column",
                source=SOURCE,
                file=DATA_FILE,
                row=rec.row,
            )
    units_rec, cat_rec, years = recs[0], recs[1], recs[2:]
    if units_rec.fields[0].strip() or cat_rec.fields[0].strip():
        raise DataError(
            "rows 2 and 3 should hold units and category codes with an empty YEAR cell",
            source=SOURCE,
            file=DATA_FILE,
            row=units_rec.row if units_rec.fields[0].strip() else cat_rec.row,
            column=h[0],
        )

    def cell(rec_fields: list[str], j: int) -> str:
        return rec_fields[j].strip() if j < len(rec_fields) else ""

    series = []
    for j, name in enumerate(names, start=1):
        unit_text = cell(units_rec.fields, j)
        where = Where(SOURCE, DATA_FILE, units_rec.row, name)
        if not unit_text:
            raise where.error("no unit in row 2")
        unit = parse_cost_unit(unit_text, where)
        for repair in unit.repairs:
            notes.add(DATA_FILE, units_rec.row, name, unit_text, repair)
        code = cell(cat_rec.fields, j)
        code_num = parse_number(code, source=SOURCE, file=DATA_FILE, row=cat_rec.row, column=name)
        if code_num is None or code_num != int(code_num):
            raise DataError(
                f"category code should be an integer, got {code!r}",
                source=SOURCE,
                file=DATA_FILE,
                row=cat_rec.row,
                column=name,
            )
        tech, _ = taxonomy.classify(name, source=SOURCE, file=DATA_FILE, row=1, column=name)
        nation, reason = nation_of(tech, name)
        m = meta.get(name)
        if m is None:
            notes.add(DATA_FILE, 1, name, name, "series not listed in time_series_metadata.csv")
            typ = domain = ""
        else:
            typ, domain = m["Type"], m["Domain"]
            if " ".join(m["Units"].split()).lower() != " ".join(unit_text.split()).lower():
                notes.add(
                    META_FILE,
                    int(m["_row"]),
                    "Units",
                    m["Units"],
                    f"metadata unit differs from row 2 of {DATA_FILE} ({unit_text!r}); row 2 used",
                )
        desc = (
            f"Farmer & Lafond (2016) {name}: cost in {unit_text}; category code {int(code_num)}"
            + (f"; metadata type {typ}" if typ else "")
            + (f", domain {domain}" if domain else "")
            + f"; nation {nation} ({reason}); no production data in this source"
        )
        series.append((j, name, tech, nation, unit, desc))

    tech_rows, cost_rows = [], []
    year_seen: dict[int, int] = {}
    parsed_years = []
    for rec in years:
        y = parse_number(rec.fields[0], source=SOURCE, file=DATA_FILE, row=rec.row, column=h[0])
        if y is None or y != int(y):
            raise DataError(
                f"not a calendar year: {rec.fields[0]!r}",
                source=SOURCE,
                file=DATA_FILE,
                row=rec.row,
                column=h[0],
            )
        yi = int(y)
        if yi in year_seen:
            raise DataError(
                f"duplicate year {yi} (first at row {year_seen[yi]})",
                source=SOURCE,
                file=DATA_FILE,
                row=rec.row,
                column=h[0],
            )
        year_seen[yi] = rec.row
        parsed_years.append((yi, rec))
    for j, name, tech, nation, unit, desc in series:
        sid = f"{SOURCE}:{name}"
        n_obs = 0
        for yi, rec in parsed_years:
            v = parse_number(
                cell(rec.fields, j),
                source=SOURCE,
                file=DATA_FILE,
                row=rec.row,
                column=name,
                notes=notes,
            )
            if v is None:
                continue
            if v <= 0:
                raise DataError(
                    f"cost must be positive, got {v:g}",
                    source=SOURCE,
                    file=DATA_FILE,
                    row=rec.row,
                    column=name,
                )
            n_obs += 1
            cost_rows.append(
                cost_row(
                    SOURCE, sid, tech, nation, yi, v * unit.factor, unit.unit, DATA_FILE, rec.row
                )
            )
        if n_obs == 0:
            notes.add(DATA_FILE, 1, name, name, "column has no observations: series omitted")
            continue
        tech_rows.append(technology_row(SOURCE, sid, tech, unit, None, "", desc, DATA_FILE))
    return tech_rows, cost_rows
