"""What both halves of the reader share: file names and ``time_series_metadata.csv``.

:func:`read_metadata` reads every row of the metadata file (Farmer_Lafond and Magee_et_al) into
:class:`MetaRow` objects keyed by series name; an empty name, a name listed twice or an unknown
``Source`` is a :class:`DataError` naming the file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import read_csv

SOURCE = "farmer_lafond_alstott"

DATA_FILE = "data/original/Farmer_Lafond_Data.csv"
META_FILE = "data/time_series_metadata.csv"
TS_FILE = "data/time_series.csv"
META_COLUMNS = ("Name", "Units", "Source", "Type", "n", "Start", "Stop", "Domain")
META_SOURCES = ("Farmer_Lafond", "Magee_et_al")


@dataclass(frozen=True)
class MetaRow:
    """One row of ``time_series_metadata.csv`` (stripped text) and its line in the file."""

    name: str
    units: str
    source: str
    type: str
    n: str
    start: str
    stop: str
    domain: str
    row: int


def read_metadata(raw_dir: Path) -> dict[str, MetaRow]:
    """Every row of the metadata file by series name, in file order."""
    table = read_csv(raw_dir, SOURCE, META_FILE, required=META_COLUMNS)
    idx = {c: table.col(c) for c in META_COLUMNS}
    out: dict[str, MetaRow] = {}
    for rec in table.records:
        d = {c: rec.fields[j].strip() for c, j in idx.items()}
        if not d["Name"]:
            raise DataError(
                "empty series name", source=SOURCE, file=META_FILE, row=rec.row, column="Name"
            )
        if d["Name"] in out:
            raise DataError(
                f"series {d['Name']!r} listed twice (first at row {out[d['Name']].row})",
                source=SOURCE,
                file=META_FILE,
                row=rec.row,
                column="Name",
            )
        if d["Source"] not in META_SOURCES:
            raise DataError(
                f"unknown Source {d['Source']!r} (expected Farmer_Lafond or Magee_et_al)",
                source=SOURCE,
                file=META_FILE,
                row=rec.row,
                column="Source",
            )
        out[d["Name"]] = MetaRow(
            name=d["Name"],
            units=d["Units"],
            source=d["Source"],
            type=d["Type"],
            n=d["n"],
            start=d["Start"],
            stop=d["Stop"],
            domain=d["Domain"],
            row=rec.row,
        )
    return out
