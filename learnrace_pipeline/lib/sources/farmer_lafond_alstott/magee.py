"""``data/time_series.csv``: the Magee et al. (2016) performance series.

The file is wide: the first column (empty header) is the year (``1858.0`` ... ``2013.0``, one
row per year), then one column per series, Farmer_Lafond and Magee_et_al alike; every column
must have a row in ``time_series_metadata.csv`` (its name, units, type and domain).

Read: the Magee series of type ``Performance`` (higher is better), as ``cost_observations`` with
``metric_kind = "performance"`` at nation ``WLD`` (technology records: Magee et al. give no
nation), series id ``farmer_lafond_alstott:magee_<column name>``, values as published. Each unit
text of the metadata maps to a canonical unit through :data:`UNITS` (declared in
:mod:`learnrace_pipeline.lib.vocab.units`); an unknown text is refused. Technologies come from
``lib/vocab/taxonomy.csv``, where each Magee column name is an alias; a technology with two
measures (batteries per kg and per litre) has one technology per measure, so the fits'
one-series-per-technology rule never merges two measures.

Skipped, each with a ``data_notes`` row giving the type and the reason (:data:`SKIP_TYPES`):

- ``Price``: performance per dollar (``mbits/$``, ``W/$``, ``Wh/$``) in dollars of an unstated
  year, so no price basis year to deflate by; several are composite indices
  (``Speed * build volume/(layer thickness *cost)``).
- ``Price_Questionable``: the same, and flagged questionable upstream.
- ``Performance_Questionable``: flagged questionable upstream.
- :data:`DERIVED`: a ``Performance`` series that is the upper envelope of two others (tape and
  hard-disk storage density); the claim is checked on every value, and the series is skipped so
  that no observation counts twice.

The Farmer_Lafond columns of this file are not read: they are the reciprocals (1/price) of a
subset of the original file's points (:mod:`.original`). Only the columns read are parsed as
numbers; the year column always is (a duplicate year is refused).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import (
    Notes,
    Record,
    cost_row,
    delimiter_hint,
    parse_number,
    read_csv,
)
from learnrace_pipeline.lib.sources.farmer_lafond_alstott._common import (
    META_FILE,
    SOURCE,
    TS_FILE,
    MetaRow,
)
from learnrace_pipeline.lib.vocab import taxonomy

MAGEE = "Magee_et_al"
READ_TYPE = "Performance"
NATION = "WLD"
SKIP_PREFIX = "Magee et al. (2016) series skipped"

#: Magee types not read, and why.
SKIP_TYPES: dict[str, str] = {
    "Price": "performance per dollar of an unstated year (undated money, no price basis year); "
    "several are composite indices",
    "Price_Questionable": "performance per dollar of an unstated year, flagged questionable "
    "upstream",
    "Performance_Questionable": "flagged questionable upstream",
}

#: Performance series derived from others: name -> the series whose upper envelope it is.
DERIVED: dict[str, tuple[str, ...]] = {
    "02C_magnetic_memory_tape_harddisk_mbits_per_cc": (
        "02A_magnetic_memory_tape_mbits_per_cc",
        "02B_magnetic_memory_harddisk_mbits_per_cc",
    ),
}

#: Unit text of the metadata (stripped, case as written) -> (canonical unit, repair note).
#: Values are never rescaled: a scaled unit keeps the source's numbers.
UNITS: dict[str, tuple[str, str]] = {
    "#/die": ("transistor", ""),  # transistors per die (chip), as OWID's transistor counts
    "mbits/cc": ("Mbit/cm3", ""),
    "mbit/cc": ("Mbit/cm3", ""),
    "Mbits/cc": ("Mbit/cm3", ""),
    "Coverage Density (bps per Sqmts, Bandwith = 10 Mhz)": ("bit/s/m2", ""),
    "Spectral Efficiency (bps/Hz)": ("bit/s/Hz", ""),
    "Throughput (Kbps)": ("kbit/s", ""),
    "CPS": ("calculation/s", ""),
    "mv/?m^2": (
        "mV/um2",
        "'?' read as the micro sign (mV per square micrometre) lost in an "
        "encoding round trip: the file is ASCII",
    ),
    "1/(resol*scan time)": ("1/(mm*s)", ""),  # mm and s as the series names say
    "wh/kg": ("Wh/kg", ""),
    "Wh/kg": ("Wh/kg", ""),
    "kwh/kg": ("kWh/kg", ""),
    "wh/lit": ("Wh/L", ""),
    "Wh/Liter": ("Wh/L", ""),
    "W/kg": ("W/kg", ""),
    "w/lit": ("W/L", ""),
    "W/lit": ("W/L", ""),
    "W/Liter": ("W/L", ""),
    "average HP/total averge accuracy": ("hp/accuracy", ""),
    "Speed/layer thickness": ("speed/layer thickness", ""),
    "areal Throughput/accuracy": ("areal throughput/accuracy", ""),
    "deg K": ("K", ""),
}


@dataclass(frozen=True)
class _Series:
    meta: MetaRow
    col: int  # index in the time_series.csv header


def read_magee(
    raw_dir: Path, notes: Notes, meta: dict[str, MetaRow]
) -> tuple[list[dict], list[dict]]:
    """Rows of ``technologies`` and ``cost_observations`` of the Magee performance series
    (with ``_file``/``_row``); skipped series are noted."""
    table = read_csv(raw_dir, SOURCE, TS_FILE)
    header = table.header
    if header[0].strip().lower() not in ("", "year"):
        raise DataError(
            f"first column should be the year (empty header), header starts {header[0]!r}"
            f"{delimiter_hint(header[0])}",
            source=SOURCE,
            file=TS_FILE,
            row=1,
            column=header[0],
        )
    year_col = header[0] or "column 1 (year)"
    cols = _columns(header, meta)
    years = _years(table.records, year_col)

    read: list[_Series] = []
    derived: list[str] = []
    for m in meta.values():
        if m.source != MAGEE:
            continue
        if m.type == READ_TYPE and m.name not in cols:
            raise DataError(
                f"Performance series {m.name!r} is not a column of {TS_FILE}",
                source=SOURCE,
                file=META_FILE,
                row=m.row,
                column="Name",
            )
        if m.type == READ_TYPE and m.name not in DERIVED:
            read.append(_Series(m, cols[m.name]))
        elif m.type == READ_TYPE:
            derived.append(m.name)
            notes.add(
                META_FILE,
                m.row,
                "Name",
                m.name,
                f"{SKIP_PREFIX} (type {m.type}, units {m.units!r}): upper envelope of "
                f"{' and '.join(DERIVED[m.name])} (each value equals the larger of theirs, "
                "checked); skipped so that no observation counts twice",
            )
        elif m.type in SKIP_TYPES:
            notes.add(
                META_FILE,
                m.row,
                "Name",
                m.name,
                f"{SKIP_PREFIX} (type {m.type}, units {m.units!r}): {SKIP_TYPES[m.type]}",
            )
        else:
            raise DataError(
                f"unknown Magee type {m.type!r} (expected {READ_TYPE} or one of "
                f"{sorted(SKIP_TYPES)})",
                source=SOURCE,
                file=META_FILE,
                row=m.row,
                column="Type",
            )

    values = {s.meta.name: _values(s.meta.name, s.col, years, notes) for s in read}
    for name in derived:
        _check_envelope(name, cols, DERIVED[name], years, values, notes)

    tech_rows: list[dict] = []
    cost_rows: list[dict] = []
    for s in read:
        m = s.meta
        vals = values[m.name]
        if not vals:
            notes.add(TS_FILE, 1, m.name, m.name, "column has no observations: series omitted")
            continue
        unit = _unit(m, notes)
        tech, industry = taxonomy.classify(
            m.name, source=SOURCE, file=TS_FILE, row=1, column=m.name
        )
        _check_metadata_counts(m, vals, notes)
        sid = f"{SOURCE}:magee_{m.name}"
        for year, (v, row) in sorted(vals.items()):
            cost_rows.append(cost_row(SOURCE, sid, tech, NATION, year, v, unit, TS_FILE, row))
        tech_rows.append(
            {
                "series_id": sid,
                "technology": tech,
                "industry": industry,
                "source": SOURCE,
                "unit": unit,
                "production_unit": None,
                "metric_kind": "performance",
                "description": f"Magee et al. (2016) {m.name}: performance (higher is better) "
                f"in {m.units!r} ({unit}); domain {m.domain}; nation {NATION} (a world "
                "technology record: the source gives no nation); no production data",
                "_file": TS_FILE,
                "_row": 1,
            }
        )
    return tech_rows, cost_rows


def _columns(header: list[str], meta: dict[str, MetaRow]) -> dict[str, int]:
    """Series name -> column index; every column named once and listed in the metadata."""
    cols: dict[str, int] = {}
    for j, name in enumerate(header[1:], start=1):
        if not name:
            raise DataError(
                "empty series name", source=SOURCE, file=TS_FILE, row=1, column=f"column {j + 1}"
            )
        if name in cols:
            raise DataError(
                f"series {name!r} appears twice", source=SOURCE, file=TS_FILE, row=1, column=name
            )
        if name not in meta:
            raise DataError(
                f"series {name!r} has no row in {META_FILE}",
                source=SOURCE,
                file=TS_FILE,
                row=1,
                column=name,
            )
        cols[name] = j
    return cols


def _years(records: list[Record], year_col: str) -> list[tuple[int, Record]]:
    """(calendar year, record) per row; a non-integer or duplicate year is refused."""
    seen: dict[int, int] = {}
    out = []
    for rec in records:
        y = parse_number(rec.fields[0], source=SOURCE, file=TS_FILE, row=rec.row, column=year_col)
        if y is None or y != int(y):
            raise DataError(
                f"not a calendar year: {rec.fields[0]!r}",
                source=SOURCE,
                file=TS_FILE,
                row=rec.row,
                column=year_col,
            )
        yi = int(y)
        if yi in seen:
            raise DataError(
                f"duplicate year {yi} (first at row {seen[yi]})",
                source=SOURCE,
                file=TS_FILE,
                row=rec.row,
                column=year_col,
            )
        seen[yi] = rec.row
        out.append((yi, rec))
    return out


def _values(
    name: str, j: int, years: list[tuple[int, Record]], notes: Notes
) -> dict[int, tuple[float, int]]:
    """year -> (value, row) of column ``j``; blank cells are no observation."""
    out = {}
    for yi, rec in years:
        v = parse_number(
            rec.fields[j], source=SOURCE, file=TS_FILE, row=rec.row, column=name, notes=notes
        )
        if v is None:
            continue
        if v <= 0:
            raise DataError(
                f"performance must be positive, got {v:g}",
                source=SOURCE,
                file=TS_FILE,
                row=rec.row,
                column=name,
            )
        out[yi] = (v, rec.row)
    return out


def _check_envelope(
    name: str,
    cols: dict[str, int],
    parts: tuple[str, ...],
    years: list[tuple[int, Record]],
    values: dict[str, dict[int, tuple[float, int]]],
    notes: Notes,
) -> None:
    """Each value of the derived series ``name`` equals the largest of ``parts`` that year."""
    mine = _values(name, cols[name], years, notes)
    for yi, (v, row) in sorted(mine.items()):
        have = [values[p][yi][0] for p in parts if p in values and yi in values[p]]
        if not have or abs(v - max(have)) > 1e-9 * max(have):
            raise DataError(
                f"declared the upper envelope of {' and '.join(parts)} (DERIVED), but {v:g} in "
                f"{yi} is not the larger of their values {have}",
                source=SOURCE,
                file=TS_FILE,
                row=row,
                column=name,
            )


def _unit(m: MetaRow, notes: Notes) -> str:
    """The canonical unit of a series' unit text; DataError for an undeclared text."""
    text = " ".join(m.units.split())
    if text not in UNITS:
        raise DataError(
            f"unknown unit {m.units!r} (declare it in UNITS of {__name__})",
            source=SOURCE,
            file=META_FILE,
            row=m.row,
            column="Units",
        )
    unit, repair = UNITS[text]
    if repair:
        notes.add(META_FILE, m.row, "Units", m.units, f"unit read as {unit!r}: {repair}")
    return unit


def _check_metadata_counts(m: MetaRow, vals: dict[int, tuple[float, int]], notes: Notes) -> None:
    """Note where the metadata's n, Start or Stop differ from the column (in this copy several
    Stop years lie after the column's last value); the column's values are used."""
    stated = []
    for field, text in (("n", m.n), ("Start", m.start), ("Stop", m.stop)):
        num = parse_number(text, source=SOURCE, file=META_FILE, row=m.row, column=field)
        if num is None or num != int(num):
            raise DataError(
                f"{field} should be a whole number, got {text!r}",
                source=SOURCE,
                file=META_FILE,
                row=m.row,
                column=field,
            )
        stated.append(int(num))
    actual = [len(vals), min(vals), max(vals)]
    if stated != actual:
        labels = ("n", "Start", "Stop")
        first = next(f for f, a, b in zip(labels, stated, actual, strict=True) if a != b)
        notes.add(
            META_FILE,
            m.row,
            first,
            f"{m.n}, {m.start}, {m.stop}",
            f"metadata states n={stated[0]}, {stated[1]}-{stated[2]}; {TS_FILE} holds "
            f"{actual[0]} values, {actual[1]}-{actual[2]} (used)",
        )
