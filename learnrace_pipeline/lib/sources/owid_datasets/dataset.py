"""One OWID dataset folder, parsed; and the builders every ``owid_datasets`` parser shares.

:func:`load` reads ``datasets/<title>/datapackage.json`` and the CSV it names (long format:
``Entity, Year, <value columns>``) and checks the CSV header against the datapackage's field
list. :meth:`Dataset.rows` yields each record as ``(row, entity, year, {column: value})``: ``row``
is the CSV line (header = 1), ``year`` a calendar year, values plain floats in the column's own
unit (the caller declares it) or None where empty. :meth:`Dataset.unit` is the display unit OWID
declares for a column (text, possibly empty), which the callers check, never trust blindly.

:class:`Out` collects the ``technologies``, ``cost_observations``, ``production`` and
``market_shares`` rows (with the ``_file``/``_row`` bookkeeping that
:func:`..validate.conform` reports errors with); :class:`CostColumn` declares a column read as a
cost or performance series.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import (
    CsvTable,
    Notes,
    cost_row,
    parse_number,
    read_csv,
    read_json,
)
from learnrace_pipeline.lib.vocab import nations, taxonomy

SOURCE = "owid_datasets"


@dataclass(frozen=True)
class CostColumn:
    """A value column read as a cost (or performance) series."""

    name: str  # series name after "owid_datasets:"
    technology: str
    metric_kind: str
    description: str
    paired_with: str | None = None  # LCOE column: the installed-cost column it derives from


@dataclass
class Dataset:
    """One dataset folder: the parsed CSV and the datapackage's fields by (stripped) name."""

    folder: str
    csv_rel: str
    pkg_rel: str
    table: CsvTable
    fields: dict[str, dict]
    description: str

    def display(self, column: str) -> dict:
        """The field's ``owidDisplaySettings`` as a dict (OWID stores it as JSON text or a dict)."""
        raw = self.fields[column].get("owidDisplaySettings") or {}
        if isinstance(raw, str):
            try:
                raw = json.loads(raw) if raw.strip() else {}
            except json.JSONDecodeError as e:
                raise DataError(
                    f"owidDisplaySettings of {column!r} is not JSON: {e.msg}",
                    source=SOURCE,
                    file=self.pkg_rel,
                    column=column,
                ) from None
        if not isinstance(raw, dict):
            raise DataError(
                f"owidDisplaySettings of {column!r} is not an object",
                source=SOURCE,
                file=self.pkg_rel,
                column=column,
            )
        return raw

    def unit(self, column: str) -> str:
        """The display unit OWID declares for ``column`` (``unit`` or else ``shortUnit``; may be "")."""
        d = self.display(column)
        return str(d.get("unit") or d.get("shortUnit") or "").strip()

    def rows(self, notes: Notes) -> list[tuple[int, str, int, dict[str, float | None]]]:
        """(row, entity, year, {column: value}) for every record, values parsed as numbers."""
        h = [" ".join(c.split()) for c in self.table.header]
        ie, iy = h.index("Entity"), h.index("Year")
        out = []
        seen: dict[tuple[str, int], int] = {}
        for rec in self.table.records:
            f = rec.fields
            entity = f[ie].strip()
            if not entity:
                raise DataError(
                    "empty Entity", source=SOURCE, file=self.csv_rel, row=rec.row, column="Entity"
                )
            y = parse_number(f[iy], source=SOURCE, file=self.csv_rel, row=rec.row, column="Year")
            if y is None or y != int(y):
                raise DataError(
                    f"not a calendar year: {f[iy]!r}",
                    source=SOURCE,
                    file=self.csv_rel,
                    row=rec.row,
                    column="Year",
                )
            key = (entity, int(y))
            if key in seen:
                raise DataError(
                    f"duplicate year {int(y)} for {entity!r} (first at row {seen[key]})",
                    source=SOURCE,
                    file=self.csv_rel,
                    row=rec.row,
                    column="Year",
                )
            seen[key] = rec.row
            vals = {
                h[j]: parse_number(
                    f[j], source=SOURCE, file=self.csv_rel, row=rec.row, column=h[j], notes=notes
                )
                for j in range(len(h))
                if j not in (ie, iy)
            }
            out.append((rec.row, entity, int(y), vals))
        return out


def load(raw_dir: Path, folder: str) -> Dataset:
    """Read ``datasets/<folder>/datapackage.json`` and the CSV it names; check they agree."""
    base = f"datasets/{folder}"
    pkg_rel = f"{base}/datapackage.json"
    pkg = read_json(raw_dir, SOURCE, pkg_rel)
    res = pkg.get("resources") if isinstance(pkg, dict) else None
    if not isinstance(res, list) or len(res) != 1 or not isinstance(res[0], dict):
        raise DataError("expected exactly one resource", source=SOURCE, file=pkg_rel)
    try:
        csv_name = str(res[0]["path"])
        fields = res[0]["schema"]["fields"]
        names = [str(fd["name"]) for fd in fields]
    except (KeyError, TypeError):
        raise DataError(
            "resource lacks path or schema.fields[].name", source=SOURCE, file=pkg_rel
        ) from None
    csv_rel = f"{base}/{csv_name}"
    norm = [" ".join(n.split()) for n in names]
    table = read_csv(raw_dir, SOURCE, csv_rel, required=[n.strip() for n in names])
    header = [" ".join(c.split()) for c in table.header]
    if sorted(header) != sorted(norm):
        extra = sorted(set(header) - set(norm))
        raise DataError(
            f"CSV columns {extra} are not in datapackage.json",
            source=SOURCE,
            file=csv_rel,
            row=1,
            column=extra[0] if extra else None,
        )
    if "Entity" not in header or "Year" not in header:
        raise DataError("expected columns Entity and Year", source=SOURCE, file=csv_rel, row=1)
    return Dataset(
        folder,
        csv_rel,
        pkg_rel,
        table,
        dict(zip(norm, fields, strict=True)),
        str(pkg.get("description") or ""),
    )


class Out:
    """The tidy rows collected from every dataset, with ``_file``/``_row`` bookkeeping."""

    def __init__(self) -> None:
        self.tech: list[dict] = []
        self.cost: list[dict] = []
        self.prod: list[dict] = []
        self.shares: list[dict] = []

    def technology(
        self,
        name: str,
        tech: str,
        unit: str,
        kind: str,
        desc: str,
        file: str,
        production_unit: str | None = None,
    ) -> str:
        """Append one ``technologies`` row (a cost series in ``unit``); return its series_id."""
        sid = f"{SOURCE}:{name}"
        self.tech.append(
            {
                "series_id": sid,
                "technology": tech,
                "industry": taxonomy.industry_of(tech),
                "source": SOURCE,
                "unit": unit,
                "production_unit": production_unit,
                "metric_kind": kind,
                "description": desc,
                "_file": file,
                "_row": 1,
            }
        )
        return sid

    def cost_obs(
        self,
        sid: str,
        tech: str,
        nation: str,
        year: int,
        value: float,
        unit: str,
        file: str,
        row: int,
    ) -> None:
        """Append one ``cost_observations`` row; ``value`` is in ``unit`` (basis year from it)."""
        self.cost.append(cost_row(SOURCE, sid, tech, nation, year, value, unit, file, row))


def nation_of(ds: Dataset, entity: str, row: int) -> str:
    """The nation code (ISO3 or region) of an OWID ``Entity``; an unknown name is a DataError."""
    return nations.to_code(entity, source=SOURCE, file=ds.csv_rel, row=row, column="Entity")


def expect_unit(ds: Dataset, column: str, expected: set[str]) -> str:
    """The datapackage unit of ``column``; a DataError unless it is one of ``expected``."""
    got = ds.unit(column)
    if got not in expected:
        raise DataError(
            f"datapackage unit {got!r} for {column!r}; expected one of {sorted(expected)}",
            source=SOURCE,
            file=ds.pkg_rel,
            column=column,
        )
    return got


def positive(ds: Dataset, column: str, value: float, row: int) -> None:
    """Refuse a value that is not finite and > 0 (a cost or performance value)."""
    if not value > 0 or not math.isfinite(value):
        raise DataError(
            f"value must be positive, got {value:g}",
            source=SOURCE,
            file=ds.csv_rel,
            row=row,
            column=column,
        )
