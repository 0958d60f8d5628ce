"""Shared parsing helpers for the source readers.

Every reader module in this package exposes:

- ``INFO``: a :class:`SourceInfo` (producer, citation, upstream URL, licence, retrieval date);
- ``read(raw_dir: Path) -> dict[str, pl.DataFrame]``: parse ``raw_dir / INFO.name`` exactly as
  published and return tidy tables conformed to :mod:`.schema` (via :func:`.validate.conform`).

The helpers here turn file-level problems (missing file, empty file, header only, wrong encoding,
wrong delimiter, truncated rows, text in a number) into :class:`DataError` naming the source,
file, row and column.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError


@dataclass(frozen=True)
class SourceInfo:
    """Provenance of one source folder; copied into every dataset's sidecar metadata."""

    name: str  # folder name under the raw directory
    producer: str
    citation: str
    url: str
    licence: str
    retrieval_date: str  # ISO date the upstream copy was taken
    notes: str = ""
    non_commercial: bool = False  # True for CC BY-NC and similar: shown wherever it is used


@dataclass
class Record:
    """One parsed CSV record: its 1-based starting line in the file and its fields."""

    row: int
    fields: list[str]


@dataclass
class CsvTable:
    source: str
    file: str  # path relative to the source folder
    header: list[str]
    records: list[Record] = field(default_factory=list)

    def col(self, name: str) -> int:
        """Index of column ``name`` (exact match after stripping), or DataError if absent."""
        stripped = [h.strip() for h in self.header]
        if name not in stripped:
            raise DataError(
                f"missing column {name!r}; header has {stripped}",
                source=self.source,
                file=self.file,
                row=1,
                column=name,
            )
        return stripped.index(name)


#: Delimiters that, seen in a comma-separated header, mean the file uses another delimiter.
OTHER_DELIMITERS = (";", "\t", "|")


def delimiter_hint(header_text: str) -> str:
    """``" (found ';': wrong delimiter, expected ',')"`` if ``header_text`` holds another
    delimiter, else ``""``: words to append to a header DataError's problem (the error itself
    names the source, file, row and column)."""
    sep = next((s for s in OTHER_DELIMITERS if s in header_text), None)
    return f" (found {sep!r}: wrong delimiter, expected ',')" if sep else ""


def source_path(raw_dir: Path, source: str, rel: str) -> Path:
    """``raw_dir/source/rel``, or DataError if the file is missing."""
    p = Path(raw_dir) / source / rel
    if not p.is_file():
        raise DataError("file not found", source=source, file=rel)
    return p


def decode(
    data: bytes, *, source: str, file: str, encodings: Sequence[str] = ("utf-8-sig",)
) -> str:
    """Decode bytes with the first encoding that works; DataError naming the first bad line."""
    if not data.strip():
        raise DataError("empty file", source=source, file=file)
    err: UnicodeDecodeError | None = None
    for enc in encodings:
        try:
            return data.decode(enc)
        except UnicodeDecodeError as e:
            err = err or e
    assert err is not None
    line = data[: err.start].count(b"\n") + 1
    raise DataError(
        f"not valid {encodings[0]} text (byte {data[err.start : err.start + 1]!r} at offset {err.start})",
        source=source,
        file=file,
        row=line,
    )


def read_csv(
    raw_dir: Path,
    source: str,
    rel: str,
    *,
    required: Sequence[str] = (),
    encodings: Sequence[str] = ("utf-8-sig",),
    skip_lines: int = 0,
    allow_ragged: bool = False,
    skip_blank: bool = True,
) -> CsvTable:
    """Parse a delimited file with the csv module, keeping each record's starting line number.

    ``required`` columns must be in the header (a wrong delimiter shows as a one-column header and
    is reported as such). Records with more or fewer fields than the header are refused as a
    truncated or malformed file unless ``allow_ragged`` (trailing empty fields are always allowed).
    Wholly blank records are skipped when ``skip_blank``.
    """
    path = source_path(raw_dir, source, rel)
    text = decode(path.read_bytes(), source=source, file=rel, encodings=encodings)
    lines = text.splitlines(keepends=True)
    body = "".join(lines[skip_lines:])
    reader = csv.reader(io.StringIO(body, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("empty file", source=source, file=rel) from None
    header = [h.strip() for h in header]
    table = CsvTable(source, rel, header)
    if required:
        if len(header) == 1 and len(required) > 1:
            raise DataError(
                f"header has one column{delimiter_hint(header[0])}; expected {list(required)}",
                source=source,
                file=rel,
                row=skip_lines + 1,
            )
        for name in required:
            table.col(name)
    prev_end = reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise DataError(
                f"malformed CSV: {e}", source=source, file=rel, row=skip_lines + prev_end + 1
            ) from None
        start = skip_lines + prev_end + 1
        prev_end = reader.line_num
        if skip_blank and not any(f.strip() for f in fields):
            continue
        if not allow_ragged:
            extra = fields[len(header) :]
            if len(fields) < len(header):
                missing = [header[i] for i in range(len(fields), len(header)) if header[i]]
                if missing:
                    raise DataError(
                        f"record has {len(fields)} fields, header has {len(header)} (truncated file or wrong delimiter?)",
                        source=source,
                        file=rel,
                        row=start,
                        column=missing[0],
                    )
                fields = fields + [""] * (len(header) - len(fields))
            elif any(x.strip() for x in extra):
                raise DataError(
                    f"record has {len(fields)} fields, header has {len(header)}",
                    source=source,
                    file=rel,
                    row=start,
                )
        table.records.append(Record(start, fields))
    if not table.records:
        raise DataError("header only: no data rows", source=source, file=rel)
    return table


def read_json(raw_dir: Path, source: str, rel: str, *, invalid: str = "invalid JSON") -> object:
    """Parse the JSON file ``raw_dir/source/rel`` (UTF-8) into Python objects, as published.

    DataError for a missing, empty or undecodable file, and for malformed JSON: the message is
    ``"<invalid>: <reason>"`` with the row of the syntax error (each reader keeps its wording).
    The caller checks the shape of what is returned.
    """
    path = source_path(raw_dir, source, rel)
    text = decode(path.read_bytes(), source=source, file=rel)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{invalid}: {e.msg}", source=source, file=rel, row=e.lineno) from None


NA_TOKENS = frozenset({"", "NA", "N/A", "NaN", "nan", "NaT", "-", "--", "null", "None"})
_PLAIN = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


@dataclass
class Notes:
    """Deliberate repairs made while parsing, kept as data (table ``data_notes``)."""

    source: str
    rows: list[dict] = field(default_factory=list)

    def add(
        self, file: str, row: int | None, column: str | None, raw_value: str, note: str
    ) -> None:
        self.rows.append(
            {
                "source": self.source,
                "file": file,
                "row": row,
                "column": column,
                "raw_value": raw_value,
                "note": note,
            }
        )

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=NOTES_SCHEMA)


NOTES_SCHEMA = {
    "source": pl.String,
    "file": pl.String,
    "row": pl.Int64,
    "column": pl.String,
    "raw_value": pl.String,
    "note": pl.String,
}


def parse_number(
    text: str | float | int | None,
    *,
    source: str,
    file: str,
    row: int | None,
    column: str,
    notes: Notes | None = None,
) -> float | None:
    """A float from a cell, None for a blank / NA token, DataError for anything else.

    Accepted deliberately, and recorded in ``notes`` when given: thousands separators
    (``"1,049.54"``) and stray spaces inside a number (``"830 .04"``). Anything else that is not
    plainly a number (words, units, several numbers) is refused: nothing is silently made a number.
    """
    if text is None:
        return None
    if isinstance(text, bool):
        raise DataError(
            f"boolean {text!r} in a numeric field", source=source, file=file, row=row, column=column
        )
    if isinstance(text, int | float):
        return float(text) if text == text else None
    s = text.strip()
    if s in NA_TOKENS:
        return None
    if _PLAIN.match(s):
        return float(s)
    squeezed = re.sub(r"\s+", "", s)
    if _THOUSANDS.match(squeezed) or _PLAIN.match(squeezed):
        if notes is not None:
            what = []
            if "," in squeezed:
                what.append("thousands separators removed")
            if squeezed != s:
                what.append("stray spaces removed")
            notes.add(file, row, column, text, "; ".join(what))
        return float(squeezed.replace(",", ""))
    raise DataError(f"not a number: {text!r}", source=source, file=file, row=row, column=column)


def cost_row(
    source: str,
    series_id: str,
    technology: str,
    nation: str,
    year: int,
    unit_cost: float,
    unit: str,
    file: str,
    row: int | None,
) -> dict:
    """One ``cost_observations`` record (with bookkeeping); the basis year comes from the unit."""
    from learnrace_pipeline.lib.vocab import units

    return {
        "series_id": series_id,
        "technology": technology,
        "nation": nation,
        "year": year,
        "unit_cost": unit_cost,
        "unit": unit,
        "price_basis_year": units.price_basis_year(unit),
        "source": source,
        "_file": file,
        "_row": row,
    }


def production_row(
    source: str,
    series_id: str,
    technology: str,
    nation: str,
    year: int,
    annual: float | None,
    cumulative: float | None,
    unit: str,
    method: str | None,
    file: str,
    row: int | None,
) -> dict:
    """One ``production`` record (with bookkeeping)."""
    return {
        "series_id": series_id,
        "technology": technology,
        "nation": nation,
        "year": year,
        "annual_production": annual,
        "cumulative_production": cumulative,
        "unit": unit,
        "cumulative_method": method,
        "source": source,
        "_file": file,
        "_row": row,
    }


@dataclass(frozen=True)
class SeriesRows:
    """Tidy-row builders bound to one source, whose series ids are ``"<source>:<name>"``.

    Values and units pass through unchanged (no conversion): each row is in the unit given to it.
    """

    source: str

    def sid(self, name: str) -> str:
        """The series id of series ``name`` of this source."""
        return f"{self.source}:{name}"

    def technology(
        self,
        name: str,
        technology: str,
        unit: str,
        production_unit: str | None,
        metric_kind: str,
        description: str,
    ) -> dict:
        """One ``technologies`` row; ``technology`` is classified to its canonical name."""
        from learnrace_pipeline.lib.vocab import taxonomy

        tech, industry = taxonomy.classify(technology, source=self.source)
        return {
            "series_id": self.sid(name),
            "technology": tech,
            "industry": industry,
            "source": self.source,
            "unit": unit,
            "production_unit": production_unit,
            "metric_kind": metric_kind,
            "description": description,
            "_file": None,
            "_row": None,
        }

    def cost(
        self,
        name: str,
        technology: str,
        nation: str,
        year: int,
        unit_cost: float,
        unit: str,
        file: str,
        row: int | None,
    ) -> dict:
        """One ``cost_observations`` row of series ``name`` (:func:`cost_row`)."""
        return cost_row(
            self.source, self.sid(name), technology, nation, year, unit_cost, unit, file, row
        )

    def production(
        self,
        name: str,
        technology: str,
        nation: str,
        year: int,
        annual: float | None,
        cumulative: float | None,
        unit: str,
        method: str | None,
        file: str,
        row: int | None,
    ) -> dict:
        """One ``production`` row of series ``name`` (:func:`production_row`)."""
        sid = self.sid(name)
        return production_row(
            self.source, sid, technology, nation, year, annual, cumulative, unit, method, file, row
        )


def iter_rows(table: CsvTable) -> Iterator[tuple[int, dict[str, str]]]:
    """(row, {column: field}) for each record of a parsed CSV."""
    for rec in table.records:
        yield rec.row, dict(zip(table.header, rec.fields, strict=False))
