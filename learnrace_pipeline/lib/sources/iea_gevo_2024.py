"""IEA Global EV Outlook 2024, Global EV Data (long CSV): EV sales, stock and shares by region.

File ``IEA Global EV Data 2024.csv``: columns ``region, category, parameter, mode, powertrain,
year, unit, value``.

Decisions (each enforced and tested):

- **Observations only.** ``category == "Historical"`` rows are kept; ``Projection-STEPS`` and
  ``Projection-APS`` are scenarios, not observations, and are dropped (counted in ``data_notes``).
  Any other category is refused.
- **Vehicle parameters only.** ``EV sales``, ``EV stock``, ``EV sales share`` and ``EV stock
  share`` are read. ``EV charging points``, ``Electricity demand``, ``Oil displacement Mbd`` and
  ``Oil displacement, million lge`` are skipped deliberately (not vehicles); their units are still
  checked, including the upstream typo ``"Milion barrels per day"`` (sic), recorded in
  ``data_notes``. An unknown parameter, or a known one in an unexpected unit, is refused.
- **Annual sales = BEV + PHEV** (the IEA's headline "electric vehicle" definition; its sales-share
  percentages use the same definition). FCEV sales are excluded. Where one of BEV/PHEV is absent
  for a region, mode and year it counts as zero; where both are absent (FCEV only) no row is made.
  Both cases are recorded in ``data_notes``.
- **Cumulative = derived cumulative sales** (:func:`..vocab.cumulative.derive_cumulative`,
  Lafond et al. 2018 initial stock; 2010 is the first year). The reported ``EV stock`` is not used
  as cumulative production: it is net of scrappage and falls in 43 region-mode-years, so it is not
  a cumulative-production measure (China cars 2023: stock 21.8M, derived cumulative sales 21.8M).
  Years missing inside a series (small markets) count as zero sales and are noted.
- Technologies by ``mode``: Cars ``ev_car``, Buses ``ev_bus``, Vans ``ev_van``, Trucks
  ``ev_truck``; unit ``vehicle``.
- **Regions** map to codes with :func:`..vocab.nations.to_code`: countries to ISO3, ``Europe`` to
  ``EUROPE``, ``EU27`` to ``EU27``, ``Rest of the world`` to ``ROW``, ``World`` to ``WLD``. An unknown
  region name is a DataError. Europe, EU27 and their member countries overlap: never sum them.

Tables:

- ``production``: series ``ev_sales_{cars,buses,vans,trucks}`` per region, annual BEV+PHEV sales and derived
  cumulative, in vehicles.
- ``market_shares``: ``ev_share_of_<mode>_sales`` and ``ev_share_of_<mode>_stock`` (the IEA
  ``EV sales share`` / ``EV stock share`` percentages as fractions; a percentage outside [0, 100] is
  refused), and ``ev_<mode>_sales_of_world`` (a region's BEV+PHEV sales over World's, for every
  region and year with a World total): ``ev_car_sales_of_world``, ``ev_bus_sales_of_world``, ...
- No cost observations: the file has no prices.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import conformed, with_cumulative
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo, parse_number, read_csv
from learnrace_pipeline.lib.vocab import nations, taxonomy

SOURCE = "iea_gevo_2024"
FILE = "IEA Global EV Data 2024.csv"
COLUMNS = ("region", "category", "parameter", "mode", "powertrain", "year", "unit", "value")

INFO = SourceInfo(
    name=SOURCE,
    producer="International Energy Agency (IEA)",
    citation="IEA (2024), Global EV Outlook 2024, Global EV Data Explorer. Paris: IEA.",
    url="https://www.iea.org/data-and-statistics/data-product/global-ev-outlook-2024 (copy from "
    "github.com/veerabhadra212/Global-EV-Sales-Dashboard, commit 7571b22d600cc75da6b995df67e0096fd0c1dcd9)",
    licence="IEA Global EV Outlook data are generally released under CC BY 4.0 (not verified from an "
    "IEA page; the vendoring repository has no licence file)",
    retrieval_date="2026-05-16",
    notes="Historical rows only (projections excluded). EV = BEV + PHEV; FCEV excluded. Values "
    "rounded by the IEA. Europe, EU27 and member countries overlap.",
)

CATEGORY_KEPT = "Historical"
CATEGORIES_DROPPED = frozenset({"Projection-STEPS", "Projection-APS"})

MODES = {
    "Cars": ("ev_car", "car"),
    "Buses": ("ev_bus", "bus"),
    "Vans": ("ev_van", "van"),
    "Trucks": ("ev_truck", "truck"),
}

#: parameter -> expected unit, for the parameters that are read
VEHICLE_PARAMETERS = {
    "EV sales": "Vehicles",
    "EV stock": "Vehicles",
    "EV sales share": "percent",
    "EV stock share": "percent",
}
#: parameter -> expected unit, for the parameters skipped on purpose (not vehicles)
SKIPPED_PARAMETERS = {
    "EV charging points": "charging points",
    "Electricity demand": "GWh",
    "Oil displacement Mbd": "Milion barrels per day",  # sic: upstream typo
    "Oil displacement, million lge": "Oil displacement, million lge",
}
SALES_POWERTRAINS = ("BEV", "PHEV")


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse the IEA GEVO 2024 CSV; tidy ``production`` (vehicles) and ``market_shares`` (fractions)."""
    notes = Notes(SOURCE)
    t = read_csv(raw_dir, SOURCE, FILE, required=COLUMNS)
    dropped: dict[str, int] = defaultdict(int)
    skipped: dict[str, int] = defaultdict(int)
    region_codes: dict[str, str] = {}
    # (code, mode, year) -> {powertrain: (value, row)}
    sales: dict[tuple[str, str, int], dict[str, tuple[float, int]]] = defaultdict(dict)
    shares: list[dict] = []
    seen: dict[tuple, int] = {}

    for rec in t.records:
        row = rec.row
        f = dict(zip(t.header, (x.strip() for x in rec.fields), strict=False))
        cat = f["category"]
        if cat in CATEGORIES_DROPPED:
            dropped[cat] += 1
            continue
        if cat != CATEGORY_KEPT:
            raise DataError(
                f"unknown category {cat!r} (expected Historical or a Projection-*)",
                source=SOURCE,
                file=FILE,
                row=row,
                column="category",
            )
        par, unit = f["parameter"], f["unit"]
        if par in SKIPPED_PARAMETERS:
            if unit != SKIPPED_PARAMETERS[par]:
                raise DataError(
                    f"parameter {par!r} in unit {unit!r}, expected {SKIPPED_PARAMETERS[par]!r}",
                    source=SOURCE,
                    file=FILE,
                    row=row,
                    column="unit",
                )
            skipped[par] += 1
            continue
        if par not in VEHICLE_PARAMETERS:
            raise DataError(
                f"unknown parameter {par!r}", source=SOURCE, file=FILE, row=row, column="parameter"
            )
        if unit != VEHICLE_PARAMETERS[par]:
            raise DataError(
                f"parameter {par!r} in unit {unit!r}, expected {VEHICLE_PARAMETERS[par]!r}",
                source=SOURCE,
                file=FILE,
                row=row,
                column="unit",
            )
        region = f["region"]
        if region not in region_codes:
            region_codes[region] = nations.to_code(
                region, source=SOURCE, file=FILE, row=row, column="region"
            )
        code = region_codes[region]
        mode = f["mode"]
        if mode not in MODES:
            raise DataError(
                f"unknown mode {mode!r} for {par!r}",
                source=SOURCE,
                file=FILE,
                row=row,
                column="mode",
            )
        ys = f["year"]
        if not (ys.isdigit() and len(ys) == 4):
            raise DataError(
                f"not a calendar year: {ys!r}", source=SOURCE, file=FILE, row=row, column="year"
            )
        year = int(ys)
        v = parse_number(f["value"], source=SOURCE, file=FILE, row=row, column="value", notes=notes)
        if v is None:
            raise DataError("missing value", source=SOURCE, file=FILE, row=row, column="value")
        pt = f["powertrain"]
        key = (code, par, mode, pt, year)
        if key in seen:
            raise DataError(
                f"duplicate record {(region, par, mode, pt, year)} (first at row {seen[key]})",
                source=SOURCE,
                file=FILE,
                row=row,
                column="value",
            )
        seen[key] = row
        tech, word = MODES[mode]
        if par in ("EV sales share", "EV stock share"):
            if pt != "EV":
                raise DataError(
                    f"{par!r} with powertrain {pt!r}, expected 'EV'",
                    source=SOURCE,
                    file=FILE,
                    row=row,
                    column="powertrain",
                )
            if not 0.0 <= v <= 100.0:
                raise DataError(
                    f"percentage {v} outside [0, 100]",
                    source=SOURCE,
                    file=FILE,
                    row=row,
                    column="value",
                )
            what = "sales" if par == "EV sales share" else "stock"
            shares.append(
                {
                    "industry": "evs",
                    "technology": tech,
                    "nation": code,
                    "year": year,
                    "share": v / 100.0,
                    "basis": f"ev_share_of_{word}_{what}",
                    "source": SOURCE,
                    "_file": FILE,
                    "_row": row,
                }
            )
        elif par == "EV sales":
            if pt not in ("BEV", "PHEV", "FCEV"):
                raise DataError(
                    f"unknown powertrain {pt!r} for EV sales",
                    source=SOURCE,
                    file=FILE,
                    row=row,
                    column="powertrain",
                )
            if v < 0:
                raise DataError(
                    f"negative sales {v}", source=SOURCE, file=FILE, row=row, column="value"
                )
            sales[(code, mode, year)][pt] = (v, row)
        # EV stock: parsed and checked above, not kept (see module docstring)

    for cat, n in sorted(dropped.items()):
        notes.add(
            FILE,
            None,
            "category",
            cat,
            f"{n} projection rows dropped (scenarios, not observations)",
        )
    for par, n in sorted(skipped.items()):
        typo = (
            " (unit spelled 'Milion barrels per day' upstream, sic)"
            if par == "Oil displacement Mbd"
            else ""
        )
        notes.add(
            FILE,
            None,
            "parameter",
            par,
            f"{n} historical rows skipped: not a vehicle parameter{typo}",
        )

    prod = _sales_rows(sales, notes)
    shares += _world_shares(prod)
    for _tech, _ in MODES.values():
        taxonomy.industry_of(_tech)  # every technology used is declared (KeyError otherwise)
    return conformed(SOURCE, {"production": prod, "market_shares": shares}, notes)


def _sales_rows(
    sales: dict[tuple[str, str, int], dict[str, tuple[float, int]]], notes: Notes
) -> list[dict]:
    rows: list[dict] = []
    one_missing: dict[tuple[str, str], list[str]] = defaultdict(list)
    fcev_only: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (code, mode, year), by_pt in sales.items():
        have = [p for p in SALES_POWERTRAINS if p in by_pt]
        if not have:
            fcev_only[(code, mode)].append(year)
            continue
        if len(have) < len(SALES_POWERTRAINS):
            absent = next(p for p in SALES_POWERTRAINS if p not in by_pt)
            one_missing[(code, mode)].append(f"{year} (no {absent})")
        tech = MODES[mode][0]
        rows.append(
            {
                "series_id": f"{SOURCE}:ev_sales_{mode.lower()}",
                "technology": tech,
                "nation": code,
                "year": year,
                "annual_production": sum(by_pt[p][0] for p in have),
                "unit": "vehicle",
                "source": SOURCE,
                "_file": FILE,
                "_row": min(by_pt[p][1] for p in have),
            }
        )
    for (code, mode), items in sorted(one_missing.items()):
        notes.add(
            FILE,
            None,
            "powertrain",
            f"{code} {mode}",
            f"BEV+PHEV sales with one powertrain absent, counted as zero: {', '.join(sorted(items))}",
        )
    for (code, mode), years in sorted(fcev_only.items()):
        notes.add(
            FILE,
            None,
            "powertrain",
            f"{code} {mode}",
            f"only FCEV sales reported in {sorted(years)}: no BEV+PHEV row made",
        )
    if not rows:
        return rows
    df = pl.DataFrame(rows)
    gaps = df.group_by("series_id", "nation", maintain_order=True).agg(
        pl.col("year").min().alias("a"), pl.col("year").max().alias("b"), pl.col("year")
    )
    for sid, code, a, b, years in gaps.iter_rows():
        missing = sorted(set(range(a, b + 1)) - set(years))
        if missing:
            notes.add(
                FILE,
                None,
                "year",
                f"{code} {sid}",
                f"years {missing} absent inside the series: counted as zero sales in the cumulative",
            )
    return with_cumulative(rows).to_dicts()


def _world_shares(prod: list[dict]) -> list[dict]:
    world = {
        (d["series_id"], d["year"]): d["annual_production"] for d in prod if d["nation"] == "WLD"
    }
    out = []
    for d in prod:
        w = world.get((d["series_id"], d["year"]))
        if d["nation"] == "WLD" or not w:
            continue
        out.append(
            {
                "industry": "evs",
                "technology": d["technology"],
                "nation": d["nation"],
                "year": d["year"],
                "share": d["annual_production"] / w,
                "basis": f"{d['technology']}_sales_of_world",
                "source": SOURCE,
                "_file": d["_file"],
                "_row": d["_row"],
            }
        )
    return out
