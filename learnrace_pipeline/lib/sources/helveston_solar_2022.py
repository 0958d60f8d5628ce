"""Solar PV module prices, installed capacity and module production by nation (Helveston et al. 2022).

Reads ``raw/helveston_solar_2022`` (the ``jhelvy/solar-learning-2021`` data folder) and returns
national solar series in their **native currencies** (no exchange rate is applied: the repo's
``exchange-rates.xlsx`` was broken upstream and not copied, and no other in-repo source gives
RMB/USD or EUR/USD rates).

Cost observations (``cost_observations``; one row per series, nation and year):

- ``china_module_price_cpia`` (CHN, ``RMB/W`` nominal, 2007-2020) and ``china_system_price_cpia``
  (technology ``solar_pv_system``): ``data/china/wang_ndrc_data.csv``, a wide table (variables as
  rows, years as columns, UTF-8 BOM) hand-copied from CPIA slides. The inverter price row is
  read and checked but not kept (no inverter technology in the taxonomy).
- ``germany_module_price_fraunhofer`` (DEU, ``EUR/W`` nominal, 2006-2020): digitized from
  Fraunhofer ISE "Recent facts about photovoltaics in Germany" Fig. 2 (``fraunhofer_fig2.csv``
  plus the single 2020 point in ``Fig2-2020.csv``). The file states no unit; the values
  (3306.6 -> 438.8) read as **EUR per kWp, nominal**, and are divided by 1000 to EUR/W.
  Digitized x positions are fractional years; each point is assigned to the nearest calendar year
  (points are the figure's annual markers, so offsets are digitizing noise: a point more than
  0.25 year from a marker is refused), and points falling in one year would be averaged. Every
  assignment is recorded in ``data_notes``.
- ``us_module_price_index_lbnl`` (USA, ``2018 USD/W``, 2000-2018): LBNL Tracking the Sun 2019,
  sheet ``Fig 17``, column "Module Price Index" (real 2018 dollars, as Helveston's code treats it).
- ``us_module_cost_nrel`` (USA, ``2020 USD/W``, 2010-2020): the NREL utility-scale module cost
  benchmark as plotted by Helveston et al. (``figs/data/ex_fig4_compare_cost.csv``, source NREL,
  USD/kW in 2020 dollars, divided by 1000). The LBNL rows of that file are the Fig 17 index times
  a constant 2018->2020 inflation factor; they are checked against Fig 17 and not kept twice.

Known problems handled deliberately:

- **Germany "USD" price is mis-converted.** ``figs/data/fig2_prices_historical_national_global.csv``
  (and its Global half, ``prices_historical_only.csv``) gives Germany ``cost_per_kw_hist`` equal to
  the Fraunhofer EUR value **divided** by the USD-per-EUR rate (factor 1.11-1.47), an inverted
  conversion. It is never used as USD: the reader computes the implied factor per year and
  records it in ``data_notes`` as a flag; Germany is kept in EUR only.
- **"National" cumulative capacity is a model scenario.** The ``learning == "National"`` rows
  of the same file carry a scenario ``cumCapKw`` (US 2020: 137 GW against 75.6 GW observed).
  They are excluded and flagged in ``data_notes``; observed national cumulative capacity comes
  from ``data/irena/irenaCumCapacityMw.csv``.

Production (``production``):

- ``pv_cumulative_capacity_irena``: cumulative installed PV, MW, WLD/DEU/CHN/USA 2006-2020,
  ``cumulative_method = "reported"`` (annual left null: only the stock is published).
- ``china_cumulative_capacity_cpia``: CHN cumulative installed, GW, 2007-2020 (reported).
- ``seia_us_cumulative_capacity``: ``data/seia/seiaCapacity.json``, US cumulative MW 2007-2020,
  the sum of the four PV segments (Residential, Commercial, Community Solar, Utility; the order
  per Helveston's code); the fifth value (CSP, not PV) is dropped and the partial "2021 Q1"
  object is skipped (both recorded in ``data_notes``).
- ``seia_us_annual_installs_early``: ``data/seia/seiaEarlyYears.csv``, US annual installs MW/yr
  (sum of Residential, Commercial, Utility), 2000-2013; cumulative derived with
  :func:`..harmonize.cumulative.derive_cumulative`.
- ``pv_module_production_pvs``: PV **module production** (where modules are made), GW/yr,
  2010-2021, for CHN, TWN, EUROPE, JPN, MYS, USA, ROW and WLD (the workbook's ``Total`` row, a
  ``SUM`` formula whose cached value is read and checked against the sum of the rows) from
  ``data/production/PVS Fig 1 2022.xlsx`` sheet ``Data``; cumulative derived (Lafond initial
  stock; production before 2010 is not in the file). ``figs/data/fig1_pv_production.csv`` holds
  the same numbers and is not read.

The experience variable of module prices in this literature is cumulative installed capacity,
so installed-capacity and module-production series both carry technology ``solar_pv_module``
(distinguished by ``series_id``).

Market shares (``market_shares``): ``pv_module_production_of_world`` (nation / Total of the PVS
table) and ``pv_cumulative_capacity_of_world`` (IRENA national / IRENA world).

Not read, deliberately: ``data/spv/Table 4.2.xlsx`` (nation ambiguous), silicon prices (unit not
stated), top-manufacturer shipments (firm level), ``Solar PV projections.xlsx`` (projections),
``ex_fig3_compare_capacity_cumulative.csv`` (copies of SEIA/IRENA plus a short NREL series).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.harmonize import nations, taxonomy
from learnrace_pipeline.lib.harmonize.cumulative import derive_cumulative
from learnrace_pipeline.lib.sources._sheets import cell, col_letter, frame, read_sheet, text
from learnrace_pipeline.lib.sources.base import (
    Notes,
    SourceInfo,
    cost_row,
    decode,
    iter_rows,
    parse_number,
    production_row,
    read_csv,
    source_path,
)
from learnrace_pipeline.lib.sources.validate import conform

SOURCE = "helveston_solar_2022"

INFO = SourceInfo(
    name=SOURCE,
    producer="J. P. Helveston, G. He, M. R. Davidson (data hand-copied or digitized from CPIA, "
    "Fraunhofer ISE, IRENA, SEIA, LBNL, NREL and Jäger-Waldau / JRC PV Status Report)",
    citation="Helveston, J. P., He, G. & Davidson, M. R. (2022). Quantifying the cost savings of "
    "global solar photovoltaic supply chains. Nature 612, 83-87. doi:10.1038/s41586-022-05316-6",
    url="https://github.com/jhelvy/solar-learning-2021 (commit cb730d490eab03a22c709190c171ace0fc4da06d)",
    licence="No licence file in the repository; third-party data (CPIA, Fraunhofer, IRENA, SEIA, "
    "LBNL, NREL, JRC): cite the paper and the original sources",
    retrieval_date="2023-07-06",
    notes="Native currencies kept (RMB/W nominal for China, EUR/W nominal for Germany, constant USD "
    "for the US); no exchange rates applied. The Germany 'USD' figure series is mis-converted "
    "(EUR divided by USD/EUR) and is not used; the 'National' cumulative capacity in the figure "
    "files is a model scenario and is excluded.",
)

F_CHINA = "data/china/wang_ndrc_data.csv"
F_DE = "data/germany/fraunhofer_fig2.csv"
F_DE_2020 = "data/germany/Fig2-2020.csv"
F_IRENA = "data/irena/irenaCumCapacityMw.csv"
F_SEIA_JSON = "data/seia/seiaCapacity.json"
F_SEIA_EARLY = "data/seia/seiaEarlyYears.csv"
F_LBNL = "data/lbnl/tts_2019_summary_data_tables_0.xlsx"
F_FIG4 = "figs/data/ex_fig4_compare_cost.csv"
F_PVS = "data/production/PVS Fig 1 2022.xlsx"
F_FIG2 = "figs/data/fig2_prices_historical_national_global.csv"

#: Digitized points further than this from a calendar-year marker are refused.
MAX_YEAR_OFFSET = 0.25

CHINA_VARIABLES = {
    "Total capacity (GW)": "capacity",
    "Module price (RMB/W)": "module",
    "System price (RMB/W)": "system",
    "Inverter price (RMB/W)": "inverter",
}

#: seiaCapacity.json segment order (unlabelled in the file; per Helveston's 1format_data.R).
SEIA_SEGMENTS = ("Residential", "Commercial", "Community Solar", "Utility", "CSP")

#: PVS row labels that nations.to_code does not know, and the aggregate total.
PVS_NAMES = {"PR China": "CHN", "Rest of World": "ROW", "Total": "WLD"}


def _sid(name: str) -> str:
    return f"{SOURCE}:{name}"


SERIES: dict[str, dict[str, str | None]] = {
    "china_module_price_cpia": {
        "technology": "solar_pv_module",
        "unit": "RMB/W",
        "production_unit": "GW",
        "metric_kind": "price",
        "description": "China PV module price, nominal RMB per W, CPIA (Wang Bohua slides) via "
        "Helveston et al. 2022; wang_ndrc_data.csv",
    },
    "china_system_price_cpia": {
        "technology": "solar_pv_system",
        "unit": "RMB/W",
        "production_unit": "GW",
        "metric_kind": "installed_cost",
        "description": "China PV system price, nominal RMB per W, CPIA via Helveston et al. 2022",
    },
    "germany_module_price_fraunhofer": {
        "technology": "solar_pv_module",
        "unit": "EUR/W",
        "production_unit": "MW",
        "metric_kind": "price",
        "description": "Germany PV module cost, nominal EUR per W: digitized from Fraunhofer ISE "
        "'Recent facts about photovoltaics in Germany' Fig. 2 (unit not stated in the file; read as "
        "EUR/kWp and divided by 1000); fractional digitized years rounded to calendar years. The "
        "Helveston 'USD' version of this series is mis-converted and not used.",
    },
    "us_module_price_index_lbnl": {
        "technology": "solar_pv_module",
        "unit": "2018 USD/W",
        "production_unit": "MW",
        "metric_kind": "price",
        "description": "US module price index, real 2018 USD per W, LBNL Tracking the Sun 2019 "
        "summary tables, sheet 'Fig 17'",
    },
    "us_module_cost_nrel": {
        "technology": "solar_pv_module",
        "unit": "2020 USD/W",
        "production_unit": "MW",
        "metric_kind": "cost",
        "description": "US utility-scale PV module cost benchmark (NREL), 2020 USD per W, as plotted "
        "by Helveston et al. 2022 (ex_fig4_compare_cost.csv, source NREL, divided by 1000)",
    },
}


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse the Helveston solar folder; tidy tables conformed to the declared schemas.

    Units: prices in RMB/W, EUR/W (nominal) and 2018/2020 USD/W; capacity in MW or GW
    (cumulative); module production in GW per year; shares as fractions.
    """
    notes = Notes(SOURCE)
    costs: list[dict] = []
    prod: list[dict] = []
    shares: list[dict] = []

    china_costs, china_cap = _read_china(raw_dir, notes)
    costs += china_costs
    prod += china_cap
    de_costs = _read_germany(raw_dir, notes)
    costs += de_costs
    irena = _read_irena(raw_dir)
    prod += irena
    shares += _irena_shares(irena)
    prod += _read_seia_json(raw_dir, notes)
    prod += _read_seia_early(raw_dir)
    lbnl = _read_lbnl(raw_dir)
    costs += lbnl
    costs += _read_fig4(raw_dir, lbnl, notes)
    pvs_prod, pvs_shares = _read_pvs(raw_dir)
    prod += pvs_prod
    shares += pvs_shares
    _flag_figure_file(raw_dir, de_costs, irena, notes)

    techs = []
    for name, s in SERIES.items():
        tech, industry = taxonomy.classify(str(s["technology"]), source=SOURCE)
        techs.append(
            {
                "series_id": _sid(name),
                "technology": tech,
                "industry": industry,
                "source": SOURCE,
                "unit": s["unit"],
                "production_unit": s["production_unit"],
                "metric_kind": s["metric_kind"],
                "description": s["description"],
                "_file": None,
                "_row": None,
            }
        )
    return {
        "technologies": conform("technologies", frame("technologies", techs), SOURCE),
        "cost_observations": conform(
            "cost_observations", frame("cost_observations", costs), SOURCE
        ),
        "production": conform("production", frame("production", prod), SOURCE),
        "market_shares": conform("market_shares", frame("market_shares", shares), SOURCE),
        "data_notes": notes.frame(),
    }


# --- costs ---------------------------------------------------------------------------------


def _cost(name: str, nation: str, year: int, value: float, file: str, row: int | None) -> dict:
    s = SERIES[name]
    return cost_row(
        SOURCE, _sid(name), s["technology"], nation, year, value, str(s["unit"]), file, row
    )


def _prod(
    name: str,
    tech: str,
    nation: str,
    year: int,
    annual: float | None,
    cumulative: float | None,
    unit: str,
    method: str | None,
    file: str,
    row: int | None,
) -> dict:
    return production_row(
        SOURCE, _sid(name), tech, nation, year, annual, cumulative, unit, method, file, row
    )


def _year(text_: str, *, file: str, row: int | None, column: str) -> int:
    s = text_.strip()
    if not s.isdigit() or len(s) != 4:
        raise DataError(
            f"not a calendar year: {text_!r}", source=SOURCE, file=file, row=row, column=column
        )
    return int(s)


def _read_china(raw_dir: Path, notes: Notes) -> tuple[list[dict], list[dict]]:
    t = read_csv(raw_dir, SOURCE, F_CHINA, required=("Year",))
    first = t.header[0]
    years = [(_year(h, file=F_CHINA, row=1, column=h), h) for h in t.header[1:]]
    seen: dict[str, int] = {}
    costs: list[dict] = []
    cap: list[dict] = []
    for row, rec in iter_rows(t):
        var = rec[first].strip()
        if var not in CHINA_VARIABLES:
            raise DataError(
                f"unknown variable {var!r}; expected one of {list(CHINA_VARIABLES)}",
                source=SOURCE,
                file=F_CHINA,
                row=row,
                column=first,
            )
        if var in seen:
            raise DataError(
                f"variable {var!r} repeated (first at row {seen[var]})",
                source=SOURCE,
                file=F_CHINA,
                row=row,
                column=first,
            )
        seen[var] = row
        kind = CHINA_VARIABLES[var]
        for year, h in years:
            v = parse_number(rec[h], source=SOURCE, file=F_CHINA, row=row, column=h, notes=notes)
            if v is None:
                continue
            if kind == "module":
                costs.append(_cost("china_module_price_cpia", "CHN", year, v, F_CHINA, row))
            elif kind == "system":
                costs.append(_cost("china_system_price_cpia", "CHN", year, v, F_CHINA, row))
            elif kind == "capacity":
                cap.append(
                    _prod(
                        "china_cumulative_capacity_cpia",
                        "solar_pv_module",
                        "CHN",
                        year,
                        None,
                        v,
                        "GW",
                        "reported",
                        F_CHINA,
                        row,
                    )
                )
            # the inverter row is parsed (so bad cells still fail) but not kept
    missing = [v for v in CHINA_VARIABLES if v not in seen]
    if missing:
        raise DataError(
            f"variable row(s) {missing} absent", source=SOURCE, file=F_CHINA, column=first
        )
    return costs, cap


def _read_germany(raw_dir: Path, notes: Notes) -> list[dict]:
    by_year: dict[int, list[tuple[float, str, int, float]]] = defaultdict(list)
    for rel in (F_DE, F_DE_2020):
        t = read_csv(raw_dir, SOURCE, rel, required=("x", "Curve1"))
        for row, rec in iter_rows(t):
            x = parse_number(rec["x"], source=SOURCE, file=rel, row=row, column="x", notes=notes)
            v = parse_number(
                rec["Curve1"], source=SOURCE, file=rel, row=row, column="Curve1", notes=notes
            )
            if x is None or v is None:
                raise DataError(
                    "digitized point lacks x or Curve1",
                    source=SOURCE,
                    file=rel,
                    row=row,
                    column="x" if x is None else "Curve1",
                )
            year = round(x)
            if abs(x - year) > MAX_YEAR_OFFSET:
                raise DataError(
                    f"digitized x {x} is {abs(x - year):.2f} year from the nearest calendar-year marker "
                    f"(more than {MAX_YEAR_OFFSET}): cannot assign it to a calendar year",
                    source=SOURCE,
                    file=rel,
                    row=row,
                    column="x",
                )
            notes.add(
                rel,
                row,
                "x",
                rec["x"],
                f"digitized fractional year {x} assigned to calendar year {year}",
            )
            by_year[year].append((x, rel, row, v))
    out = []
    for year in sorted(by_year):
        pts = by_year[year]
        if len(pts) > 1:
            where = ", ".join(f"{rel} row {row}" for _, rel, row, _ in pts)
            notes.add(
                pts[0][1],
                pts[0][2],
                "Curve1",
                "; ".join(str(p[3]) for p in pts),
                f"{len(pts)} digitized points fall in {year} ({where}): averaged",
            )
        eur_per_kwp = sum(p[3] for p in pts) / len(pts)
        out.append(
            _cost(
                "germany_module_price_fraunhofer",
                "DEU",
                year,
                eur_per_kwp / 1000.0,
                pts[0][1],
                pts[0][2],
            )
        )
    return out


def _read_lbnl(raw_dir: Path) -> list[dict]:
    sheet = "Fig 17"
    rows = read_sheet(raw_dir, SOURCE, F_LBNL, sheet)
    rel = f"{F_LBNL}#{sheet}"
    units_ok = any("Units: $/W" in text(cell(c, 0)) for _, c in rows[:5])
    if not units_ok:
        raise DataError(
            "sheet 'Fig 17' does not state 'Units: $/W' in its first rows", source=SOURCE, file=rel
        )
    head = next(((r, c) for r, c in rows if any(text(x) == "Module Price Index" for x in c)), None)
    if head is None:
        raise DataError("no 'Module Price Index' header in sheet 'Fig 17'", source=SOURCE, file=rel)
    hrow, hcells = head
    j = [text(x) for x in hcells].index("Module Price Index")
    out = []
    for r, c in rows:
        if r <= hrow:
            continue
        y = cell(c, 1)
        if y == "" and all(text(x) == "" for x in c):
            continue
        if not isinstance(y, float) or not y.is_integer():
            raise DataError(f"not a year: {y!r}", source=SOURCE, file=rel, row=r, column="B")
        v = parse_number(cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j))
        if v is None:
            continue
        out.append(_cost("us_module_price_index_lbnl", "USA", int(y), v, rel, r))
    if not out:
        raise DataError("no module price rows under the header", source=SOURCE, file=rel, row=hrow)
    return out


def _read_fig4(raw_dir: Path, lbnl: list[dict], notes: Notes) -> list[dict]:
    t = read_csv(raw_dir, SOURCE, F_FIG4, required=("year", "costPerKw", "source"))
    lbnl_by_year = {d["year"]: d["unit_cost"] for d in lbnl}
    ratios: list[float] = []
    out = []
    for row, rec in iter_rows(t):
        year = _year(rec["year"], file=F_FIG4, row=row, column="year")
        v = parse_number(rec["costPerKw"], source=SOURCE, file=F_FIG4, row=row, column="costPerKw")
        src = rec["source"].strip()
        if v is None:
            raise DataError("missing cost", source=SOURCE, file=F_FIG4, row=row, column="costPerKw")
        if src == "NREL":
            out.append(_cost("us_module_cost_nrel", "USA", year, v / 1000.0, F_FIG4, row))
        elif src == "LBNL":
            if year in lbnl_by_year:
                ratios.append(v / 1000.0 / lbnl_by_year[year])
        else:
            raise DataError(
                f"unknown cost source {src!r} (expected NREL or LBNL)",
                source=SOURCE,
                file=F_FIG4,
                row=row,
                column="source",
            )
    if ratios:
        lo, hi = min(ratios), max(ratios)
        if hi / lo - 1 > 1e-3:
            raise DataError(
                f"LBNL rows are not a constant multiple of the 'Fig 17' index (ratios {lo:.4f}-{hi:.4f})",
                source=SOURCE,
                file=F_FIG4,
                column="costPerKw",
            )
        notes.add(
            F_FIG4,
            None,
            "costPerKw",
            "LBNL",
            f"LBNL rows = 'Fig 17' module price index x {lo:.4f} (Helveston's 2018->2020 USD inflation "
            f"factor) x 1000; not kept (duplicate of us_module_price_index_lbnl)",
        )
    return out


# --- capacity and production -----------------------------------------------------------------


def _read_irena(raw_dir: Path) -> list[dict]:
    t = read_csv(raw_dir, SOURCE, F_IRENA, required=("year", "world", "germany", "china", "usa"))
    cols = [h for h in t.header if h != "year"]
    codes = {h: nations.to_code(h, source=SOURCE, file=F_IRENA, row=1, column=h) for h in cols}
    out = []
    for row, rec in iter_rows(t):
        year = _year(rec["year"], file=F_IRENA, row=row, column="year")
        for h in cols:
            v = parse_number(rec[h], source=SOURCE, file=F_IRENA, row=row, column=h)
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
    path = source_path(raw_dir, SOURCE, F_SEIA_JSON)
    raw = decode(path.read_bytes(), source=SOURCE, file=F_SEIA_JSON)
    try:
        objs = json.loads(raw)
    except json.JSONDecodeError as e:
        raise DataError(
            f"not valid JSON: {e.msg}", source=SOURCE, file=F_SEIA_JSON, row=e.lineno
        ) from None
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
                column=f"value[{k}] ({SEIA_SEGMENTS[k]})",
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


def _read_seia_early(raw_dir: Path) -> list[dict]:
    segs = ("Residential", "Commercial", "Utility")
    t = read_csv(raw_dir, SOURCE, F_SEIA_EARLY, required=("year", *segs))
    rows = []
    for row, rec in iter_rows(t):
        year = _year(rec["year"], file=F_SEIA_EARLY, row=row, column="year")
        vals = [
            parse_number(rec[s], source=SOURCE, file=F_SEIA_EARLY, row=row, column=s) for s in segs
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
    return _with_cumulative(rows)


def _with_cumulative(rows: list[dict]) -> list[dict]:
    """Cumulative production from annual (Lafond 2018 initial stock) per series and nation."""
    if not rows:
        return rows
    df = pl.DataFrame(rows, schema=frame("production", []).schema).drop(
        "cumulative_production", "cumulative_method"
    )
    df = derive_cumulative(df, by=["series_id", "nation"])
    return df.to_dicts()


def _read_pvs(raw_dir: Path) -> tuple[list[dict], list[dict]]:
    sheet = "Data"
    rel = f"{F_PVS}#{sheet}"
    rows = read_sheet(raw_dir, SOURCE, F_PVS, sheet)
    hrow, hcells = rows[0]
    years: list[tuple[int, int]] = []
    for j, v in enumerate(hcells):
        if j == 0:
            continue
        if isinstance(v, float) and v.is_integer() and 1990 <= v <= 2100:
            years.append((j, int(v)))
        elif text(v) != "":
            raise DataError(
                f"header cell {v!r} is not a year",
                source=SOURCE,
                file=rel,
                row=hrow,
                column=col_letter(j),
            )
    if not years:
        raise DataError("no year header in the first row", source=SOURCE, file=rel, row=hrow)
    values: dict[str, dict[int, float]] = {}
    where: dict[str, int] = {}
    for r, c in rows[1:]:
        label = text(cell(c, 0))
        if label == "" and all(text(x) == "" for x in c):
            continue
        if label == "":
            raise DataError(
                "values without a country label", source=SOURCE, file=rel, row=r, column="A"
            )
        code = PVS_NAMES.get(label) or nations.to_code(
            label, source=SOURCE, file=rel, row=r, column="A"
        )
        if code in values:
            raise DataError(
                f"country {label!r} repeated", source=SOURCE, file=rel, row=r, column="A"
            )
        where[code] = r
        values[code] = {}
        for j, y in years:
            v = parse_number(cell(c, j), source=SOURCE, file=rel, row=r, column=col_letter(j))
            if v is not None:
                values[code][y] = v
    if "WLD" not in values:
        raise DataError("no 'Total' row", source=SOURCE, file=rel, column="A")
    # The Total row is a SUM formula: its cached value must equal the sum of the country rows.
    for j, y in years:
        parts = [values[k][y] for k in values if k != "WLD" and y in values[k]]
        tot = values["WLD"].get(y)
        if tot is None or not math.isclose(tot, sum(parts), rel_tol=1e-9, abs_tol=1e-9):
            raise DataError(
                f"Total {tot!r} differs from the sum of the country rows {sum(parts)!r} in {y}",
                source=SOURCE,
                file=rel,
                row=where["WLD"],
                column=col_letter(j),
            )
    prod = [
        _prod(
            "pv_module_production_pvs",
            "solar_pv_module",
            code,
            y,
            v,
            None,
            "GW",
            None,
            rel,
            where[code],
        )
        for code, by in values.items()
        for y, v in by.items()
    ]
    shares = [
        {
            "industry": "solar",
            "technology": "solar_pv_module",
            "nation": code,
            "year": y,
            "share": v / values["WLD"][y],
            "basis": "pv_module_production_of_world",
            "source": SOURCE,
            "_file": rel,
            "_row": where[code],
        }
        for code, by in values.items()
        if code != "WLD"
        for y, v in by.items()
        if values["WLD"].get(y)
    ]
    return _with_cumulative(prod), shares


# --- flags on the figure files -----------------------------------------------------------------


def _flag_figure_file(raw_dir: Path, de_costs: list[dict], irena: list[dict], notes: Notes) -> None:
    """Record (never use) the Germany mis-conversion and the 'National' scenario capacity."""
    cols = ("year", "cumCapKw", "cost_per_kw_hist", "learning", "country")
    t = read_csv(raw_dir, SOURCE, F_FIG2, required=cols)
    de_eur_per_kw = {d["year"]: d["unit_cost"] * 1000.0 for d in de_costs}
    irena_kw = {(d["nation"], d["year"]): d["cumulative_production"] * 1000.0 for d in irena}
    country_codes = {"U.S.": "USA", "China": "CHN", "Germany": "DEU"}
    scenario: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for row, rec in iter_rows(t):
        learning = rec["learning"].strip()
        country = rec["country"].strip()
        if learning not in ("Global", "National"):
            raise DataError(
                f"unknown learning scenario {learning!r}",
                source=SOURCE,
                file=F_FIG2,
                row=row,
                column="learning",
            )
        if country not in country_codes:
            raise DataError(
                f"unknown country {country!r}",
                source=SOURCE,
                file=F_FIG2,
                row=row,
                column="country",
            )
        year = _year(rec["year"][:4], file=F_FIG2, row=row, column="year")
        code = country_codes[country]
        if learning == "Global" and code == "DEU":
            usd = parse_number(
                rec["cost_per_kw_hist"],
                source=SOURCE,
                file=F_FIG2,
                row=row,
                column="cost_per_kw_hist",
            )
            if usd and year in de_eur_per_kw:
                factor = de_eur_per_kw[year] / usd
                notes.add(
                    F_FIG2,
                    row,
                    "cost_per_kw_hist",
                    rec["cost_per_kw_hist"],
                    f"Germany {year} 'USD' cost = Fraunhofer EUR/kW / {factor:.4f} (a USD-per-EUR rate): "
                    "inverted currency conversion; NOT used (Germany kept in EUR/W)",
                )
        if learning == "National":
            cap = parse_number(
                rec["cumCapKw"], source=SOURCE, file=F_FIG2, row=row, column="cumCapKw"
            )
            if cap is not None:
                scenario[country].append((row, year, cap))
    for country, pts in scenario.items():
        row, year, cap = max(pts, key=lambda p: p[1])
        obs = irena_kw.get((country_codes[country], year))
        cmp = f" against IRENA observed {obs:,.0f} kW" if obs is not None else ""
        notes.add(
            F_FIG2,
            min(p[0] for p in pts),
            "cumCapKw",
            f"{cap:.0f}",
            f"'National' cumCapKw of {country} (rows {min(p[0] for p in pts)}-{max(p[0] for p in pts)}) "
            f"is a model scenario ({year}: {cap:,.0f} kW{cmp}): excluded; observed national "
            "capacity comes from irenaCumCapacityMw.csv",
        )
