"""Reader for ``pcdb_carnegie``: PCDB experience curves as vendored by carnegie/clab_experience_curve.

Files read (relative to ``raw_dir/pcdb_carnegie``):

- ``expCurveData/*.csv``: one PCDB technology per file, four columns whose units appear only in
  the header: (1) unit cost or price, e.g. ``Price (1966 USD/lbs)``; (2) year, fractional for
  sub-annual series; (3) yearly production; (4) production through the **previous** year
  (``NA`` in the first row of most files).
- ``solar_pv_PCDB_IEA_IRENA.csv`` (solar PV LCOE-like cost in 2022 USD/MWh vs. generation in MWh;
  its ``Cumulative production`` column is, like PCDB column 4, production through the previous
  year) and ``wind_Bolinger_IEA_IRENA.csv`` (wind, same layout, but its cumulative column runs
  through the year itself). The convention of each file is declared and checked.
- ``OurWorldInData/solar-pv-prices-vs-cumulative-capacity.csv``: world solar module price ($/W)
  and cumulative capacity (MW), 1975-2022.

``ExpCurves.csv`` is a combination derived by the upstream authors' script and is not read.
``AdditionalData/`` (an IEA world generation table and the IRENA 2022 cost workbook, inputs the
upstream authors used to build the combined solar and wind files) is not read either.

Tables: ``technologies``, ``cost_observations``, ``production``, ``data_notes``.

Units: every header unit is canonicalised by :mod:`._pcdb_common` (e.g. ``1966 USD/lbs`` ->
``1966 USD/lb``, ``Mil. lbs`` -> ``million lb``, ``2005 US cents/KWH`` -> ``2005 USD/kWh`` with
values divided by 100, ``Heads/Mil. lbs`` -> ``head/million lb``); non-money "costs" get
``metric_kind = "input_per_output"``.

Cumulative production through year t (``cumulative_method``):

- ``reported_previous_plus_annual``: the file's production-through-previous-year plus the year's
  production, where both are given;
- ``reported``: otherwise, the next row's production-through-previous-year when that row is year
  t + 1 (this gives the first year of most files, and years whose own production is missing), or
  a file whose cumulative column runs through the year itself;
- no cumulative (null) where neither is available; such a row is kept only if it has annual
  production.

Initial stock. Where column 4 of a ``previous``-convention file is ``NA`` or 0 in its first row
and the second row's column 4 equals the first row's production, the source's running sum
demonstrably starts at the file's first year: everything produced before it is missing, so the first differences of log cumulative production are far too large (log 2 or more
in the second year) and the fitted exponent far too small. As Lafond et al. (2018) did for these
same PCDB files, such a series gets the initial stock ``Z_0 = q_1 / g`` of
:func:`learnrace_pipeline.lib.harmonize.cumulative.initial_stock` (g from the early growth of
annual production; the first year's production is its cumulative when its own cell is empty),
added to every cumulative value, with ``cumulative_method = "initial_stock_lafond2018"`` and a
data note giving Z_0. Where g is not positive the stock cannot be estimated: the series keeps the
source's running sum and a note says so. Files whose first row carries a stock keep it, and so do
files whose first row has no production (their second row's column 4 is usually several years'
output, i.e. a stock, so nothing shows the sum starting at zero).

Sub-annual series (``Shotgun_Sanger_DNA_Sequencing``, years like 2002.25) are aggregated to
calendar years: cost = production-weighted mean of the year's observations (plain mean where a
production value is missing), annual production = sum over the year's observations, cumulative =
through the year's last observation. The first and last calendar years are partial; a note says so.

Cost rows without production and production rows without cost are kept in their own table only;
nothing is filled in. Known source errors are repaired only where declared in
:data:`KNOWN_REPAIRS`; any other broken rule is a :class:`DataError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.harmonize import nations, taxonomy
from learnrace_pipeline.lib.harmonize.cumulative import initial_stock
from learnrace_pipeline.lib.sources._pcdb_common import (
    Unit,
    Where,
    metric_kind,
    nation_of,
    parse_cost_unit,
    parse_quantity_unit,
    split_header,
)
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo, parse_number, read_csv
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.sources.validate import conform

SOURCE = "pcdb_carnegie"

INFO = SourceInfo(
    name=SOURCE,
    producer="Santa Fe Institute Performance Curve Database (PCDB), vendored by the Carnegie "
    "Institution for Science (carnegie/clab_experience_curve)",
    citation="Nagy, Farmer, Bui & Trancik (2013), Statistical basis for predicting technological "
    "progress, PLoS ONE 8(2): e52669; Carlino et al., Learning rate variability and "
    "implications for technology forecasts (carnegie/clab_experience_curve, "
    "doi:10.5281/zenodo.13308841); OWID solar PV prices vs cumulative capacity (CC BY 4.0)",
    url="https://github.com/carnegie/clab_experience_curve",
    licence="Repository MIT (Carnegie Institution for Science); PCDB data terms unstated, cite the "
    "original sources; OWID export CC BY 4.0",
    retrieval_date="2024-08-12",
    notes="HEAD 9a6f8c494d8406eef10bb90808c28a3c4293ac32 "
    "(retrieval_date is its commit date; no download date is recorded); the OWID csv from commit "
    "2c792ed8ecea256d88c990e63fc268f8793d7170. Some series and recent years are withheld from "
    "this copy for evaluation.",
)

EXP_DIR = "expCurveData"
SOLAR_FILE = "solar_pv_PCDB_IEA_IRENA.csv"
WIND_FILE = "wind_Bolinger_IEA_IRENA.csv"
OWID_FILE = "OurWorldInData/solar-pv-prices-vs-cumulative-capacity.csv"

#: What column 4 holds, per combined file: production through the previous year, or through the
#: year itself. Checked against the data (a file that does not follow it is refused).
CONVENTIONS: dict[str, str] = {SOLAR_FILE: "previous", WIND_FILE: "through_year"}
#: Technology of the combined files (their names are not PCDB technology names).
COMBINED_TECH: dict[str, tuple[str, str]] = {
    SOLAR_FILE: ("solar_pv_lcoe", "solar PV (PCDB, IEA, IRENA), LCOE-like cost vs generation"),
    WIND_FILE: ("wind_lcoe", "wind (Bolinger, IEA, IRENA), LCOE-like cost vs generation"),
}

#: Declared repairs of known source errors: (file, year, column index) -> what is done and why.
#: Column 2 = annual production (value dropped), 3 = cumulative (value dropped).
KNOWN_REPAIRS: dict[tuple[str, int, int], str] = {
    (f"{EXP_DIR}/Nuclear_Electricity.csv", 1992, 3): (
        "previous-production column falls from 112642.93 (1992 row) to 112439.93 (1993 row) "
        "with no production in 1991-92: cumulative capacity through 1992 dropped (source error)"
    ),
    (SOLAR_FILE, 2022, 2): (
        "production 2022 equals minus the cumulative column (a differencing artefact upstream): "
        "annual production 2022 dropped; cumulative through 2022 therefore unknown"
    ),
}

#: Remarks on series whose values or labels are doubtful (recorded as data notes, data kept).
REMARKS: dict[str, str] = {
    f"{EXP_DIR}/Fotovoltaica.csv": "header says 2005 USD/kWh (Spanish 'Costo'), but the values "
    "(2513 in 1957 to 3.59 in 2007) and the MW capacity column look like module prices per W; "
    "kept as labelled",
    f"{EXP_DIR}/Photovoltaics_2.csv": "cost per kWh against production in kWh of generation: an "
    "LCOE-like series, not a module price",
    f"{EXP_DIR}/Automotive_(US).csv": "labelled gallons/mile, but 12.0 in 1970 cannot be gallons "
    "per mile (US fleet ~0.07): an index of fuel use per distance; kept as labelled",
    f"{EXP_DIR}/Corn_(US).csv": "production variable is gross value of production in dollars per "
    "acre, not a quantity of corn",
    f"{EXP_DIR}/Beer_(Japan).csv": "header says USD 1955; Farmer & Lafond (2016) label the same "
    "prices '1955 Yen': the currency is uncertain, kept as labelled",
    f"{EXP_DIR}/Wind_Electricity.csv": "annual production jumps from 871 (1988) to 2,112,043 "
    "(1989) thousand kWh: a coverage or unit break in the source, kept as published",
    f"{EXP_DIR}/Photovoltaics.csv": "price in USD/Wp without a basis year: nominal dollars",
}

REL_TOL = 1e-3  # relative tolerance for the source's own running sums


@dataclass
class Obs:
    """One year (or sub-annual period) of a four-column series, as published."""

    row: int
    year: float
    cost: float | None
    annual: float | None
    cum_col: float | None  # column 4 as published
    cum: float | None = None  # cumulative through the year (derived)
    method: str | None = None
    cum_row: int | None = None  # the row the cumulative value came from
    cum_last: float | None = None  # aggregated years: cumulative after the last observation
    last_row: int | None = None  # aggregated years: row of the last observation


@dataclass
class Series:
    """A parsed four-column file."""

    rel: str
    name: str
    header: list[str]
    cost_label: str
    cost_unit: Unit
    prod_unit: Unit
    obs: list[Obs]


class _Out:
    """Rows of the output tables, with bookkeeping columns."""

    def __init__(self) -> None:
        self.tech: list[dict] = []
        self.cost: list[dict] = []
        self.prod: list[dict] = []


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse ``raw_dir/pcdb_carnegie``; return conformed tables plus ``data_notes``."""
    raw_dir = Path(raw_dir)
    notes = Notes(SOURCE)
    out = _Out()
    exp = raw_dir / SOURCE / EXP_DIR
    if not exp.is_dir():
        raise DataError("folder not found", source=SOURCE, file=EXP_DIR)
    files = sorted(p.name for p in exp.glob("*.csv"))
    if not files:
        raise DataError("no *.csv files", source=SOURCE, file=EXP_DIR)
    for name in files:
        rel = f"{EXP_DIR}/{name}"
        series = read_four_columns(raw_dir, rel, notes, convention="previous")
        tech, _ = taxonomy.classify(
            series.name, source=SOURCE, file=rel, row=1, column=series.header[0]
        )
        nation, reason = nation_of(tech, series.name)
        desc = f"PCDB {series.name}: {series.header[0]} vs {series.header[2]}; nation {nation} ({reason})"
        _emit(out, series, tech, nation, desc)
    for rel in (SOLAR_FILE, WIND_FILE):
        series = read_four_columns(raw_dir, rel, notes, convention=CONVENTIONS[rel])
        tech, what = COMBINED_TECH[rel]
        _emit(out, series, tech, "WLD", f"{what}: {series.header[0]} vs {series.header[2]}; world")
    _read_owid(raw_dir, out, notes)
    for rel, remark in REMARKS.items():
        if (raw_dir / SOURCE / rel).is_file():
            notes.add(rel, None, None, "", remark)
    return {
        "technologies": conform("technologies", _frame("technologies", out.tech), SOURCE),
        "cost_observations": conform(
            "cost_observations", _frame("cost_observations", out.cost), SOURCE
        ),
        "production": conform("production", _frame("production", out.prod), SOURCE),
        "data_notes": notes.frame(),
    }


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={**TABLES[table], "_file": pl.String(), "_row": pl.Int64()})


def read_four_columns(raw_dir: Path, rel: str, notes: Notes, *, convention: str) -> Series:
    """Parse one PCDB-layout file (cost, year, annual production, cumulative production).

    ``convention`` says what column 4 holds: ``"previous"`` (through the previous year, PCDB) or
    ``"through_year"``. Returns the series with yearly observations and derived cumulative
    production; raises DataError naming file, row and column for anything malformed.
    """
    table = read_csv(raw_dir, SOURCE, rel)
    h = table.header
    if len(h) != 4:
        sep = next((s for s in (";", "\t", "|") if s in ",".join(h)), None)
        hint = f" (found {sep!r}: wrong delimiter, expected ',')" if sep else ""
        raise DataError(
            f"expected 4 columns (cost, year, annual production, cumulative production), "
            f"header has {len(h)}{hint}",
            source=SOURCE,
            file=rel,
            row=1,
        )
    cost_where = Where(SOURCE, rel, 1, h[0])
    label, unit_text = split_header(h[0], cost_where)
    cost_unit = parse_cost_unit(unit_text, cost_where, label=label)
    if "year" not in h[1].lower():
        raise DataError(
            f"column 2 should be the year, header is {h[1]!r}",
            source=SOURCE,
            file=rel,
            row=1,
            column=h[1],
        )
    prod_unit = parse_quantity_unit(
        split_header(h[2], Where(SOURCE, rel, 1, h[2]))[1], Where(SOURCE, rel, 1, h[2])
    )
    cum_where = Where(SOURCE, rel, 1, h[3])
    cum_unit = parse_quantity_unit(split_header(h[3], cum_where)[1], cum_where)
    if cum_unit.unit != prod_unit.unit:
        raise cum_where.error(
            f"cumulative unit {cum_unit.unit!r} differs from the annual production unit {prod_unit.unit!r}"
        )
    for col, unit in ((h[0], cost_unit), (h[2], prod_unit)):
        for repair in unit.repairs:
            notes.add(rel, 1, col, col, repair)

    obs: list[Obs] = []
    for rec in table.records:
        f = rec.fields

        def num(j: int, _f: list[str] = f, _row: int = rec.row) -> float | None:
            return parse_number(_f[j], source=SOURCE, file=rel, row=_row, column=h[j], notes=notes)

        year = num(1)
        if year is None:
            raise DataError("missing year", source=SOURCE, file=rel, row=rec.row, column=h[1])
        cost, annual, cum_col = num(0), num(2), num(3)
        if cost is not None and cost <= 0:
            raise DataError(
                f"cost must be positive, got {cost:g}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=h[0],
            )
        if annual is not None and annual < 0:
            repair = KNOWN_REPAIRS.get((rel, int(year), 2))
            if repair is None:
                raise DataError(
                    f"negative production {annual:g}",
                    source=SOURCE,
                    file=rel,
                    row=rec.row,
                    column=h[2],
                )
            notes.add(rel, rec.row, h[2], f[2], repair)
            annual = None
        if cum_col is not None and cum_col < 0:
            raise DataError(
                f"negative cumulative production {cum_col:g}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=h[3],
            )
        if obs and year == obs[-1].year:
            raise DataError(
                f"duplicate year {f[1].strip()}", source=SOURCE, file=rel, row=rec.row, column=h[1]
            )
        if obs and year < obs[-1].year:
            raise DataError(
                f"years out of order ({f[1].strip()} after {obs[-1].year:g})",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=h[1],
            )
        obs.append(Obs(rec.row, year, cost, annual, cum_col))

    if any(o.year != math.floor(o.year) for o in obs):
        obs = _to_calendar_years(obs, rel, h, notes)
    if convention == "previous":
        _cumulative_from_previous(obs, rel, h, notes)
        if _sum_starts_at_first_row(obs):
            _add_initial_stock(obs, rel, h, notes)
    elif convention == "through_year":
        _cumulative_through_year(obs, rel, h)
    else:  # pragma: no cover - programming error
        raise ValueError(convention)
    _check_monotone(obs, rel, h, notes)
    name = Path(rel).stem
    n_cost_only = sum(o.cost is not None and o.cum is None and o.annual is None for o in obs)
    n_prod_only = sum(o.cost is None and (o.cum is not None or o.annual is not None) for o in obs)
    if n_cost_only:
        notes.add(
            rel,
            None,
            h[2],
            "",
            f"{n_cost_only} cost row(s) without production: kept in cost_observations only",
        )
    if n_prod_only:
        notes.add(
            rel,
            None,
            h[0],
            "",
            f"{n_prod_only} production row(s) without cost: kept in production only",
        )
    return Series(rel, name, h, label, cost_unit, prod_unit, obs)


def _to_calendar_years(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> list[Obs]:
    """Aggregate sub-annual observations to calendar years (see module docstring)."""
    groups: dict[int, list[Obs]] = {}
    for o in obs:
        groups.setdefault(math.floor(o.year), []).append(o)
    years = sorted(groups)
    out = []
    for y in years:
        g = groups[y]
        costs = [o.cost for o in g if o.cost is not None]
        weights = [o.annual for o in g if o.cost is not None]
        if costs and all(w is not None and w > 0 for w in weights):
            cost = sum(c * w for c, w in zip(costs, weights, strict=True)) / sum(weights)
            how = "production-weighted mean cost"
        elif costs:
            cost = sum(costs) / len(costs)
            how = "plain mean cost (a production value is missing)"
        else:
            cost, how = None, "no cost"
        annual = sum(o.annual for o in g) if all(o.annual is not None for o in g) else None
        stamps = ", ".join(f"{o.year:g}" for o in g)
        partial = (
            " (partial year: first or last calendar year of the series)"
            if y in (years[0], years[-1])
            else ""
        )
        notes.add(
            rel,
            g[0].row,
            h[1],
            stamps,
            f"{len(g)} sub-annual observation(s) aggregated to calendar year {y}: {how}, annual "
            f"production = sum, cumulative = through the last observation{partial}",
        )
        last = g[-1]
        cum_last = (
            last.cum_col + last.annual
            if last.cum_col is not None and last.annual is not None
            else None
        )
        out.append(
            Obs(
                g[0].row, float(y), cost, annual, g[0].cum_col, cum_last=cum_last, last_row=last.row
            )
        )
    return out


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b), 1e-300)


def _cumulative_from_previous(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> None:
    """Cumulative through the year when column 4 is production through the previous year."""
    checked = mismatched = 0
    for i, o in enumerate(obs):
        nxt = obs[i + 1] if i + 1 < len(obs) else None
        consecutive = nxt is not None and nxt.year == o.year + 1
        if o.cum_last is not None:  # aggregated sub-annual year
            o.cum, o.method, o.cum_row = o.cum_last, "reported_previous_plus_annual", o.last_row
        elif o.cum_col is not None and o.annual is not None:
            o.cum, o.method, o.cum_row = (
                o.cum_col + o.annual,
                "reported_previous_plus_annual",
                o.row,
            )
        elif consecutive and nxt is not None and nxt.cum_col is not None:
            o.cum, o.method, o.cum_row = nxt.cum_col, "reported", nxt.row
        if nxt is None or o.cum_col is None or o.annual is None or nxt.cum_col is None:
            continue
        implied = o.cum if o.cum is not None else o.cum_col + o.annual
        if consecutive:
            checked += 1
            if not _close(implied, nxt.cum_col):
                mismatched += 1
                notes.add(
                    rel,
                    nxt.row,
                    h[3],
                    f"{nxt.cum_col:g}",
                    f"previous-production {nxt.cum_col:g} differs from the prior row's previous + annual "
                    f"({implied:g}); each year's cumulative uses its own row",
                )
        elif _close(implied, nxt.cum_col):
            notes.add(
                rel,
                nxt.row,
                h[3],
                f"{nxt.cum_col:g}",
                f"gap {o.year:g} -> {nxt.year:g}: the source's running sum skips the unlisted years "
                "(counted as zero production), so cumulative production is understated",
            )
    if checked >= 4 and mismatched * 2 > checked:
        raise DataError(
            f"column 4 is not production through the previous year in {mismatched} of {checked} "
            "consecutive rows (declared convention 'previous')",
            source=SOURCE,
            file=rel,
            row=1,
            column=h[3],
        )


def _sum_starts_at_first_row(obs: list[Obs]) -> bool:
    """Whether column 4 demonstrably sums production from the first row on, with no stock.

    True when the first row's column 4 is ``NA`` or 0 and the second row's column 4 equals the
    first row's production. A first row without production is ambiguous (the second row's
    column 4 is then often far larger than a year's output, i.e. a stock): it is left alone.
    """
    if len(obs) < 2 or obs[0].cum_col not in (None, 0.0):
        return False
    first, second = obs[0], obs[1]
    return (
        first.annual is not None
        and first.annual > 0
        and second.cum_col is not None
        and _close(first.annual, second.cum_col)
    )


def _add_initial_stock(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> None:
    """Add the Lafond et al. (2018) initial stock to a series whose running sum starts at zero."""
    q = [
        o.annual if o.annual is not None else (o.cum if i == 0 and o.cum is not None else math.nan)
        for i, o in enumerate(obs)
    ]
    z0 = initial_stock(np.asarray(q, dtype=float))
    first = obs[0]
    if z0 is None:
        notes.add(
            rel,
            first.row,
            h[3],
            "NA" if first.cum_col is None else f"{first.cum_col:g}",
            "the source's running sum starts at the first row and early production does not "
            "grow, so no initial stock can be estimated (Lafond et al. 2018): cumulative "
            "production excludes everything made before the first year",
        )
        return
    for o in obs:
        if o.cum is not None:
            o.cum += z0
            o.method = "initial_stock_lafond2018"
    notes.add(
        rel,
        first.row,
        h[3],
        "NA" if first.cum_col is None else f"{first.cum_col:g}",
        f"the source's running sum starts at the first row: initial stock Z0 = q1/g = {z0:.6g} "
        f"({z0 / q[0]:.3g} years of first-year production; Lafond et al. 2018) added to every "
        "cumulative value",
    )


def _cumulative_through_year(obs: list[Obs], rel: str, h: list[str]) -> None:
    """Cumulative through the year when column 4 runs through the year itself (checked)."""
    for i, o in enumerate(obs):
        if o.cum_col is not None:
            o.cum, o.method, o.cum_row = o.cum_col, "reported", o.row
        prev = obs[i - 1] if i else None
        if prev is None or prev.year != o.year - 1:
            continue
        if prev.cum_col is None or o.annual is None or o.cum_col is None:
            continue
        implied = prev.cum_col + o.annual
        if not _close(implied, o.cum_col):
            raise DataError(
                f"cumulative {o.cum_col:g} is not the previous cumulative plus this year's "
                f"production ({implied:g}) (declared convention 'through_year')",
                source=SOURCE,
                file=rel,
                row=o.row,
                column=h[3],
            )


def _check_monotone(obs: list[Obs], rel: str, h: list[str], notes: Notes) -> None:
    """Cumulative production must not fall; declared source errors are dropped, others refused."""
    best: float | None = None
    for o in obs:
        if o.cum is None:
            continue
        if best is not None and o.cum < best * (1 - 1e-9):
            repair = KNOWN_REPAIRS.get((rel, int(o.year), 3))
            if repair is None:
                raise DataError(
                    f"cumulative production through {int(o.year)} ({o.cum:g}) is below an earlier "
                    f"year's ({best:g}): the running sum must not fall",
                    source=SOURCE,
                    file=rel,
                    row=o.cum_row,
                    column=h[3],
                )
            notes.add(rel, o.cum_row, h[3], f"{o.cum:g}", repair)
            o.cum = o.method = None
            continue
        best = o.cum if best is None else max(best, o.cum)


def _emit(out: _Out, s: Series, tech: str, nation: str, description: str) -> None:
    sid = f"{SOURCE}:{s.name}"
    unit = s.cost_unit
    out.tech.append(
        {
            "series_id": sid,
            "technology": tech,
            "industry": taxonomy.industry_of(tech),
            "source": SOURCE,
            "unit": unit.unit,
            "production_unit": s.prod_unit.unit,
            "metric_kind": metric_kind(s.cost_label, unit),
            "description": description,
            "_file": s.rel,
            "_row": 1,
        }
    )
    for o in s.obs:
        y = int(o.year)
        if o.cost is not None:
            out.cost.append(
                {
                    "series_id": sid,
                    "technology": tech,
                    "nation": nation,
                    "year": y,
                    "unit_cost": o.cost * unit.factor,
                    "unit": unit.unit,
                    "price_basis_year": unit.price_basis_year,
                    "source": SOURCE,
                    "_file": s.rel,
                    "_row": o.row,
                }
            )
        if o.annual is not None or o.cum is not None:
            out.prod.append(
                {
                    "series_id": sid,
                    "technology": tech,
                    "nation": nation,
                    "year": y,
                    "annual_production": o.annual,
                    "cumulative_production": o.cum,
                    "unit": s.prod_unit.unit,
                    "cumulative_method": o.method,
                    "source": SOURCE,
                    "_file": s.rel,
                    "_row": o.row,
                }
            )


def _read_owid(raw_dir: Path, out: _Out, notes: Notes) -> None:
    """OWID world solar module price (constant US$/W) and cumulative capacity (MW)."""
    rel = OWID_FILE
    price_col, cap_col = "Solar photovoltaic module price", "Solar photovoltaic cumulative capacity"
    table = read_csv(raw_dir, SOURCE, rel, required=["Entity", "Code", "Year", price_col, cap_col])
    ie, iy, ip, ic = (table.col(c) for c in ("Entity", "Year", price_col, cap_col))
    unit, cap_unit = "2022 USD/W", "MW"
    notes.add(
        rel,
        1,
        price_col,
        price_col,
        "OWID gives constant US$ per W without the dollar year; OWID converts pre-2010 prices to "
        "dollars of the latest data year, which is 2022 here: recorded as 2022 USD/W (inferred)",
    )
    name = "owid_solar_pv_prices_vs_cumulative_capacity"
    tech = "solar_pv_module"
    obs: list[Obs] = []
    for rec in table.records:
        f = rec.fields

        def num(j: int, _f: list[str] = f, _row: int = rec.row) -> float | None:
            return parse_number(
                _f[j], source=SOURCE, file=rel, row=_row, column=table.header[j], notes=notes
            )

        nation = nations.to_code(f[ie], source=SOURCE, file=rel, row=rec.row, column="Entity")
        if nation != "WLD":
            raise DataError(
                f"expected World only, found {f[ie]!r}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column="Entity",
            )
        year = num(iy)
        if year is None or year != int(year):
            raise DataError(
                f"not a calendar year: {f[iy]!r}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column="Year",
            )
        if obs and year <= obs[-1].year:
            raise DataError(
                f"duplicate or out-of-order year {f[iy]}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column="Year",
            )
        price, cap = num(ip), num(ic)
        if price is not None and price <= 0:
            raise DataError(
                f"price must be positive, got {price:g}",
                source=SOURCE,
                file=rel,
                row=rec.row,
                column=price_col,
            )
        if cap is not None and cap < 0:
            raise DataError(
                f"negative capacity {cap:g}", source=SOURCE, file=rel, row=rec.row, column=cap_col
            )
        o = Obs(
            rec.row, year, price, None, cap, cap, "reported" if cap is not None else None, rec.row
        )
        obs.append(o)
    _check_monotone(obs, rel, ["", "", "", cap_col], notes)
    series = Series(
        rel,
        name,
        [price_col, "Year", cap_col, cap_col],
        "Price",
        Unit(unit, 1.0, True),
        Unit(cap_unit),
        obs,
    )
    _emit(
        out,
        series,
        tech,
        "WLD",
        "OWID world solar PV module price (Nemet; Farmer & Lafond; IRENA) vs cumulative installed "
        "capacity; dollar year inferred as 2022",
    )


def known_series(raw_dir: Path) -> list[str]:
    """Stems of the PCDB technology files present (for tests and reports)."""
    return sorted(p.stem for p in (Path(raw_dir) / SOURCE / EXP_DIR).glob("*.csv"))
