"""Installed PV capacity of the Helveston folder: IRENA and SEIA, in MW.

Parses ``data/irena/irenaCumCapacityMw.csv`` (cumulative installed MW for the world, Germany,
China and the US; also each nation's share of the world stock, a fraction),
``data/seia/seiaCapacity.json`` (US cumulative MW as the sum of the four PV segments; CSP and the
partial "2021 Q1" object dropped) and ``data/seia/seiaEarlyYears.csv`` (US annual installs, MW per
year; cumulative MW derived).
"""

from __future__ import annotations

from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import with_cumulative
from learnrace_pipeline.lib.sources.base import (
    Notes,
    iter_rows,
    parse_number,
    read_csv,
    read_json,
)
from learnrace_pipeline.lib.sources.helveston_solar_2022._common import (
    SOURCE,
    _prod,
    _year,
)
from learnrace_pipeline.lib.vocab import nations

F_IRENA = "data/irena/irenaCumCapacityMw.csv"
F_SEIA_JSON = "data/seia/seiaCapacity.json"
F_SEIA_EARLY = "data/seia/seiaEarlyYears.csv"

#: seiaCapacity.json segment order (unlabelled in the file; per Helveston's 1format_data.R).
SEIA_SEGMENTS = ("Residential", "Commercial", "Community Solar", "Utility", "CSP")


def _read_irena(raw_dir: Path, notes: Notes) -> list[dict]:
    t = read_csv(raw_dir, SOURCE, F_IRENA, required=("year", "world", "germany", "china", "usa"))
    cols = [h for h in t.header if h != "year"]
    codes = {h: nations.to_code(h, source=SOURCE, file=F_IRENA, row=1, column=h) for h in cols}
    out = []
    for row, rec in iter_rows(t):
        year = _year(rec["year"], file=F_IRENA, row=row, column="year")
        for h in cols:
            v = parse_number(rec[h], source=SOURCE, file=F_IRENA, row=row, column=h, notes=notes)
            if v is None:
                continue
            out.append(
                _prod(
                    "pv_cumulative_capacity_irena",
                    "solar_pv_module",
                    codes[h],
                    year,
                    None,
                    v,
                    "MW",
                    "reported",
                    F_IRENA,
                    row,
                )
            )
    return out


def _irena_shares(irena: list[dict]) -> list[dict]:
    world = {d["year"]: d["cumulative_production"] for d in irena if d["nation"] == "WLD"}
    out = []
    for d in irena:
        if d["nation"] == "WLD" or not world.get(d["year"]):
            continue
        out.append(
            {
                "industry": "solar",
                "technology": "solar_pv_module",
                "nation": d["nation"],
                "year": d["year"],
                "share": d["cumulative_production"] / world[d["year"]],
                "basis": "pv_cumulative_capacity_of_world",
                "source": SOURCE,
                "_file": d["_file"],
                "_row": d["_row"],
            }
        )
    return out


def _read_seia_json(raw_dir: Path, notes: Notes) -> list[dict]:
    objs = read_json(raw_dir, SOURCE, F_SEIA_JSON, invalid="not valid JSON")
    if not isinstance(objs, list) or not objs:
        raise DataError(
            "expected a non-empty JSON array of {label, value} objects",
            source=SOURCE,
            file=F_SEIA_JSON,
        )
    out = []
    dropped_csp = 0
    for i, o in enumerate(objs):
        where = f"object #{i + 1}"
        if not isinstance(o, dict) or "label" not in o or "value" not in o:
            raise DataError(
                f"{where} lacks 'label' or 'value'", source=SOURCE, file=F_SEIA_JSON, column="label"
            )
        label = str(o["label"]).strip()
        vals = o["value"]
        if not isinstance(vals, list) or len(vals) != len(SEIA_SEGMENTS):
            raise DataError(
                f"{where} ({label}): expected {len(SEIA_SEGMENTS)} segment values {list(SEIA_SEGMENTS)}, got {vals!r}",
                source=SOURCE,
                file=F_SEIA_JSON,
                column="value",
            )
        if not (label.isdigit() and len(label) == 4):
            if len(label) > 4 and label[:4].isdigit() and label[4:].strip().startswith("Q"):
                notes.add(
                    F_SEIA_JSON,
                    None,
                    "label",
                    label,
                    "partial-year (quarterly) cumulative capacity skipped",
                )
                continue
            raise DataError(
                f"{where}: label {label!r} is not a year",
                source=SOURCE,
                file=F_SEIA_JSON,
                column="label",
            )
        nums = [
            parse_number(
                v,
                source=SOURCE,
                file=F_SEIA_JSON,
                row=None,
                column=f"{where} ({label}) value[{k}] ({SEIA_SEGMENTS[k]})",
                notes=notes,
            )
            for k, v in enumerate(vals)
        ]
        if any(n is None for n in nums[:4]):
            raise DataError(
                f"{where} ({label}): a PV segment value is missing",
                source=SOURCE,
                file=F_SEIA_JSON,
                column="value",
            )
        dropped_csp += 1
        out.append(
            _prod(
                "seia_us_cumulative_capacity",
                "solar_pv_module",
                "USA",
                int(label),
                None,
                float(sum(n for n in nums[:4] if n is not None)),
                "MW",
                "reported",
                F_SEIA_JSON,
                None,
            )
        )
    notes.add(
        F_SEIA_JSON,
        None,
        "value",
        "CSP",
        f"5th segment value (CSP, not PV) dropped in {dropped_csp} year(s); cumulative PV = Residential + "
        "Commercial + Community Solar + Utility (segment order per Helveston's code, unlabelled in the file)",
    )
    return out


def _read_seia_early(raw_dir: Path, notes: Notes) -> list[dict]:
    segs = ("Residential", "Commercial", "Utility")
    t = read_csv(raw_dir, SOURCE, F_SEIA_EARLY, required=("year", *segs))
    rows = []
    for row, rec in iter_rows(t):
        year = _year(rec["year"], file=F_SEIA_EARLY, row=row, column="year")
        vals = [
            parse_number(rec[s], source=SOURCE, file=F_SEIA_EARLY, row=row, column=s, notes=notes)
            for s in segs
        ]
        if any(v is None for v in vals):
            raise DataError(
                "missing segment value",
                source=SOURCE,
                file=F_SEIA_EARLY,
                row=row,
                column=segs[[v is None for v in vals].index(True)],
            )
        rows.append(
            _prod(
                "seia_us_annual_installs_early",
                "solar_pv_module",
                "USA",
                year,
                float(sum(v for v in vals if v is not None)),
                None,
                "MW",
                None,
                F_SEIA_EARLY,
                row,
            )
        )
    return with_cumulative(rows).to_dicts()
