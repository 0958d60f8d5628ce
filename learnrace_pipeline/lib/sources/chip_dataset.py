"""CPU/GPU product data: release date, process node, die size, transistors, foundry, vendor.

File read: ``raw_dir / "chip_dataset" / "chip_dataset.csv"`` (the "CPU and GPU Product Data"
layout of Sun et al. 2019, arXiv 1911.11313, by inference: the vendoring repository does not say).

Output ``chip_products`` (declared in :mod:`.schema`), one row per distinct product row:

- ``release_date``: from ``M/D/YY``. Two-digit years pivot at 70: ``70``-``99`` -> 19yy,
  ``00``-``69`` -> 20yy (the file's years are ``99`` and ``00``-``24``; no chip in it predates
  1970). Empty cells are null; other formats are a DataError.
- ``process_nm`` (nm), ``tdp_w`` (W), ``die_mm2`` (mm² of one die), ``n_dies`` (dies per package,
  from cells like ``"2x 74"``), ``transistors_million`` (millions), ``freq_mhz`` (MHz: the column
  is headed ``Freq (GHz)`` but its values are MHz for CPUs and GPUs alike, e.g. 1000 for a 1 GHz
  Athlon), ``fp16/fp32/fp64_gflops`` (GFLOP/s). ``"unknown"``, empty, ``NaN``/``NaT`` -> null.
  Intel's node-refinement suffixes (``"14+++"``) are dropped from ``process_nm`` and noted; a
  process size of 0 (five Matrox boards) is read as unknown and noted.
- ``foundry_nation`` / ``vendor_nation``: ISO3 of the firm's headquarters (declared maps below);
  an unknown foundry or vendor is a DataError.
- Duplicates: exact repeats of a whole row are dropped (noted). Distinct rows that share a product
  name (e.g. "AMD Athlon 1000" with two release dates, or several steppings on one date) are all
  kept and told apart by ``variant`` (1, 2, ... in file order within product and chip type).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import NA_TOKENS, Notes, SourceInfo, parse_number, read_csv
from learnrace_pipeline.lib.sources.validate import conform

SOURCE = "chip_dataset"
FILE = "chip_dataset.csv"

INFO = SourceInfo(
    name=SOURCE,
    producer="Unknown compiler (columns match Sun et al. 2019 'CPU and GPU Product Data', from TechPowerUp and Intel/AMD listings)",
    citation=(
        "chip_dataset.csv as vendored in vaaniarora/Water_Sustainability, commit "
        "f111e0fe9115cf0c08e894c0422f2e7e51416c18; layout matches Y. Sun et al., 'Summarizing CPU "
        "and GPU Design Trends with Product Data', arXiv:1911.11313 (attribution inferred)."
    ),
    url="https://github.com/vaaniarora/Water_Sustainability",
    licence="Unknown: the vendoring repository states no licence and the upstream is undocumented",
    retrieval_date="2025-06-05",  # date of the vendoring repository's HEAD commit
    notes="Licence unknown; upstream attribution inferred from the column layout. Vendors are US/Taiwan-centric.",
)

COLUMNS = {
    "product": "Product",
    "chip_type": "Type",
    "release_date": "Release Date",
    "process_nm": "Process Size (nm)",
    "tdp_w": "TDP (W)",
    "die_mm2": "Die Size (mm^2)",
    "transistors_million": "Transistors (million)",
    "freq_mhz": "Freq (GHz)",
    "foundry": "Foundry",
    "vendor": "Vendor",
    "fp16_gflops": "FP16 GFLOPS",
    "fp32_gflops": "FP32 GFLOPS",
    "fp64_gflops": "FP64 GFLOPS",
}

#: Foundry -> nation of headquarters (ISO3).
FOUNDRY_NATION = {
    "TSMC": "TWN",
    "UMC": "TWN",
    "Intel": "USA",
    "GlobalFoundries": "USA",
    "IBM": "USA",
    "Samsung": "KOR",
    "SMIC": "CHN",
    "Sony": "JPN",
    "Fujitsu": "JPN",
    "NEC": "JPN",
    "Renesas": "JPN",
    "Toshiba": "JPN",
}

#: Vendor -> nation of headquarters (ISO3). ATI and Matrox are Canadian; XGI and VIA Taiwanese.
VENDOR_NATION = {
    "AMD": "USA",
    "Intel": "USA",
    "NVIDIA": "USA",
    "3dfx": "USA",
    "ATI": "CAN",
    "Matrox": "CAN",
    "XGI": "TWN",
    "VIA": "TWN",
    "Sony": "JPN",
}

CHIP_TYPES = ("CPU", "GPU")

#: Two-digit years at or above this are 19yy, below it 20yy.
CENTURY_PIVOT = 70

_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2})$")
_NODE = re.compile(r"^(\d+(?:\.\d+)?)(\++)$")
_DIES = re.compile(r"^(\d+)\s*x\s*(\d+(?:\.\d+)?)$")
_MISSING = NA_TOKENS | {"unknown", "Unknown"}


def parse_release_date(text: str, *, row: int) -> dt.date | None:
    """``M/D/YY`` -> date (century pivot at 70); None for a missing cell; DataError otherwise."""
    s = text.strip()
    if s in _MISSING:
        return None
    m = _DATE.match(s)
    if not m:
        raise DataError(
            f"release date {text!r} is not M/D/YY",
            source=SOURCE,
            file=FILE,
            row=row,
            column=COLUMNS["release_date"],
        )
    yy = int(m[3])
    year = 1900 + yy if yy >= CENTURY_PIVOT else 2000 + yy
    try:
        d = dt.date(year, int(m[1]), int(m[2]))
    except ValueError:
        raise DataError(
            f"impossible release date {text!r}",
            source=SOURCE,
            file=FILE,
            row=row,
            column=COLUMNS["release_date"],
        ) from None
    if d > dt.date.today():
        raise DataError(
            f"release date {text!r} is in the future",
            source=SOURCE,
            file=FILE,
            row=row,
            column=COLUMNS["release_date"],
        )
    return d


def _number(text: str, col: str, row: int, notes: Notes) -> float | None:
    if text.strip() in _MISSING:
        return None
    x = parse_number(text, source=SOURCE, file=FILE, row=row, column=COLUMNS[col], notes=notes)
    if x == 0 and col == "process_nm":
        notes.add(FILE, row, COLUMNS[col], text, "process size 0 nm read as unknown (null)")
        return None
    if x is not None and x <= 0:
        raise DataError(
            f"{COLUMNS[col]} must be positive, got {text!r}",
            source=SOURCE,
            file=FILE,
            row=row,
            column=COLUMNS[col],
        )
    return x


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Tables ``chip_products`` and ``data_notes``."""
    notes = Notes(SOURCE)
    table = read_csv(raw_dir, SOURCE, FILE, required=tuple(COLUMNS.values()))
    idx = {k: table.col(v) for k, v in COLUMNS.items()}
    seen: dict[tuple[str, ...], int] = {}
    variants: Counter[tuple[str, str]] = Counter()
    rows = []
    n_unknown = Counter()
    for rec in table.records:
        f, r = rec.fields, rec.row
        whole = tuple(x.strip() for x in f)
        if whole in seen:
            notes.add(
                FILE, r, None, f[idx["product"]], f"exact repeat of row {seen[whole]} dropped"
            )
            continue
        seen[whole] = r
        product = f[idx["product"]].strip()
        if not product:
            raise DataError(
                "empty product name", source=SOURCE, file=FILE, row=r, column=COLUMNS["product"]
            )
        chip_type = f[idx["chip_type"]].strip()
        if chip_type not in CHIP_TYPES:
            raise DataError(
                f"chip type {chip_type!r} is not CPU or GPU",
                source=SOURCE,
                file=FILE,
                row=r,
                column=COLUMNS["chip_type"],
            )
        for col in ("tdp_w", "die_mm2", "transistors_million", "process_nm"):
            if f[idx[col]].strip() in ("unknown", "Unknown"):
                n_unknown[col] += 1
        node = f[idx["process_nm"]].strip()
        if m := _NODE.match(node):
            notes.add(
                FILE,
                r,
                COLUMNS["process_nm"],
                node,
                f"node-refinement suffix {m[2]!r} dropped: process_nm = {m[1]}",
            )
            node = m[1]
        die_text, n_dies = f[idx["die_mm2"]].strip(), 1
        if m := _DIES.match(die_text):
            n_dies, die_text = int(m[1]), m[2]
            notes.add(
                FILE,
                r,
                COLUMNS["die_mm2"],
                f[idx["die_mm2"]],
                f"multi-die package: n_dies = {n_dies}, die_mm2 = {die_text} (one die)",
            )
        foundry = f[idx["foundry"]].strip() or None
        if foundry is not None and foundry not in FOUNDRY_NATION:
            raise DataError(
                f"unknown foundry {foundry!r} (declare its nation in FOUNDRY_NATION)",
                source=SOURCE,
                file=FILE,
                row=r,
                column=COLUMNS["foundry"],
            )
        vendor = f[idx["vendor"]].strip()
        if vendor not in VENDOR_NATION:
            raise DataError(
                f"unknown vendor {vendor!r} (declare its nation in VENDOR_NATION)",
                source=SOURCE,
                file=FILE,
                row=r,
                column=COLUMNS["vendor"],
            )
        variants[(product, chip_type)] += 1
        rows.append(
            {
                "product": product,
                "chip_type": chip_type,
                "variant": variants[(product, chip_type)],
                "release_date": parse_release_date(f[idx["release_date"]], row=r),
                "process_nm": _number(node, "process_nm", r, notes),
                "tdp_w": _number(f[idx["tdp_w"]], "tdp_w", r, notes),
                "die_mm2": _number(die_text, "die_mm2", r, notes),
                "n_dies": n_dies,
                "transistors_million": _number(
                    f[idx["transistors_million"]], "transistors_million", r, notes
                ),
                "freq_mhz": _number(f[idx["freq_mhz"]], "freq_mhz", r, notes),
                "foundry": foundry,
                "foundry_nation": FOUNDRY_NATION.get(foundry) if foundry else None,
                "vendor": vendor,
                "vendor_nation": VENDOR_NATION[vendor],
                "fp16_gflops": _number(f[idx["fp16_gflops"]], "fp16_gflops", r, notes),
                "fp32_gflops": _number(f[idx["fp32_gflops"]], "fp32_gflops", r, notes),
                "fp64_gflops": _number(f[idx["fp64_gflops"]], "fp64_gflops", r, notes),
                "_file": FILE,
                "_row": r,
            }
        )
    for col, n in n_unknown.items():
        notes.add(FILE, None, COLUMNS[col], "unknown", f"{n} cell(s) 'unknown' read as null")
    n_repeat = sum(1 for v in variants.values() if v > 1)
    if n_repeat:
        notes.add(
            FILE,
            None,
            COLUMNS["product"],
            "",
            f"{n_repeat} product name(s) occur on several distinct rows: all kept, numbered by variant",
        )
    notes.add(
        FILE,
        None,
        COLUMNS["freq_mhz"],
        "",
        "column 'Freq (GHz)' holds MHz values (e.g. 1000 for 1 GHz): stored as freq_mhz unchanged",
    )
    notes.add(
        FILE,
        None,
        COLUMNS["release_date"],
        "M/D/YY",
        f"two-digit years: {CENTURY_PIVOT}-99 -> 19yy, 00-{CENTURY_PIVOT - 1} -> 20yy",
    )
    notes.add(
        FILE,
        None,
        None,
        "",
        "licence unknown: the vendoring repository states none and the upstream is undocumented",
    )
    df = pl.DataFrame(rows, infer_schema_length=None)
    return {"chip_products": conform("chip_products", df, SOURCE), "data_notes": notes.frame()}
