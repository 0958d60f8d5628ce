"""``data/original/Farmer_Lafond_Data.csv``: the Farmer & Lafond (2016) cost series.

A wide table: row 1 technology names (first column ``YEAR``), row 2 the unit of each column
(``1966 USD/lbs``, ``2013 USD/Wp``, ``DKK/kW``), row 3 a small integer category code
(undocumented upstream; kept in the description), then one row per year. Empty = no
observation. Rows are ragged (trailing empty cells omitted); any non-empty cell beyond the header
is refused. Units are canonicalised by :mod:`.._pcdb_common`; the Farmer_Lafond rows of
``time_series_metadata.csv`` add each series' type and domain to its description.
"""

from __future__ import annotations

from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._pcdb_common import Where, nation_of, parse_cost_unit
from learnrace_pipeline.lib.sources._pcdb_format import technology_row
from learnrace_pipeline.lib.sources.base import (
    Notes,
    cost_row,
    delimiter_hint,
    parse_number,
    read_csv,
)
from learnrace_pipeline.lib.sources.farmer_lafond_alstott._common import (
    DATA_FILE,
    META_FILE,
    SOURCE,
    MetaRow,
)
from learnrace_pipeline.lib.vocab import taxonomy


def read_wide(
    raw_dir: Path, notes: Notes, meta: dict[str, MetaRow]
) -> tuple[list[dict], list[dict]]:
    """Rows of ``technologies`` and ``cost_observations`` (with ``_file``/``_row``); ``meta``
    holds the Farmer_Lafond rows of the metadata file."""
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
            typ, domain = m.type, m.domain
            if " ".join(m.units.split()).lower() != " ".join(unit_text.split()).lower():
                notes.add(
                    META_FILE,
                    m.row,
                    "Units",
                    m.units,
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
