"""Reader for ``owid_datasets``: legacy Our World in Data dataset exports (owid/owid-datasets).

Each dataset is a folder ``datasets/<title>/`` holding one long-format CSV (``Entity, Year,
<value columns>``) and OWID's ``datapackage.json`` (field list, descriptions, display units). The
CSV header must match the datapackage's field list. Every value column is either read (as declared
below, with its unit) or skipped with a data note; an undeclared column is a :class:`DataError`,
so an upstream change cannot slip in unread or mislabelled.

What is read, and where its unit comes from:

- *Solar PV Module Costs & Capacity - Lafond et al. (2017) & IRENA*: world module cost in
  ``2019 USD/W`` (datapackage ``$/W``; the description states the 2019 US$ conversion) and
  cumulative installed capacity in ``MW`` (datapackage), ``cumulative_method = "reported"``.
- *Transistors per microprocessor - Rupp & Horowitz*: the largest transistor count per chip
  (``transistor``, metric kind ``performance``); no unit in the datapackage, the column name is
  the unit.
- *NIH - DNA Sequencing Costs*: cost per megabase (``USD/Mb``) and per human-size genome
  (``USD/genome``), datapackage unit "current US$" = nominal; ``base_pairs_per_dollar`` is the
  reciprocal of the per-megabase cost (computed by OWID) and is skipped.
- *Supercomputer power (FLOPS) - TOP500*: fastest system, ``FLOP/s`` (column name), performance.
- *Renewable energy costs (IRENA, 2020)*: cost columns by nation, units parsed from the column
  headers (``Total installed cost onshore wind (2019 USD/kW)``). Columns without a unit
  (residential/commercial solar, large/small hydro), with an impossible unit (solar LCOE "per
  kW") or a malformed basis year (``219 USD/kWh``) are excluded with a note; capacity factors and
  turbine sizes are not costs and are skipped. **Regional fill-ins:** IRENA's early national
  onshore-wind costs repeat across countries. For every installed-cost or price column, a value
  shared by two or more nations (World excluded) in the same year is flagged as a regional
  fill-in and those observations are dropped (one note per year-value, naming the nations); the
  LCOE of a dropped nation-year is dropped too, since IRENA computes it from that installed cost.
- *Renewable Energy Capacity by Technology - IRENA (2017)*: world installed capacity by
  technology (Entity = technology) as ``production`` in ``MW`` with ``cumulative_method =
  "reported"``. The datapackage's unit "Rate" is wrong; MW is IRENA's unit and matches the
  magnitudes (hydropower 2000 = 781,804 MW). Installed capacity is net of retirements: a year
  below an earlier year's capacity cannot be cumulative production and is dropped with a note.
  Solar capacity (PV and CSP) is labelled ``solar_pv_module``, wind (onshore and offshore)
  ``wind_onshore``: the experience variables of those cost series.
- *European vehicle passenger sales (ICCT, 2021)*: battery-electric (BEV) and BEV + plug-in
  hybrid (PHEV) new-car registrations by nation as ``production`` of ``ev_car`` in ``vehicle``
  (cumulative derived with :func:`~learnrace_pipeline.lib.harmonize.cumulative.derive_cumulative`),
  and their shares of new-car sales as ``market_shares`` (ICCT shares are percentages; divided by
  100 and checked against counts / total sales). ``Europe`` (EU27 + Iceland + Norway + UK per
  OWID) is the region ``EUROPE``. ``vehicle_price_eur`` is the average price of all new cars, not
  an EV cost: skipped.
- *Solar PV Systems Costs - Barbose & Darghouth (2016)*: US median residential installed price
  and module price. The datapackage's units ("Constant USD", "Percent", "Number") are wrong or
  incomplete; the cited report (LBNL Tracking the Sun IX) states all prices in real 2015 USD per
  W (DC), recorded as ``2015 USD/W``. ``Non-Module Costs`` = total - module (OWID's own
  subtraction) is skipped.
- *Learning costs, J. Doyne Farmer and François Lafond (2016)*: **excluded**. Units differ per
  technology and are absent from the CSV and the datapackage (empty description); the same data,
  with units, is read by the ``farmer_lafond_alstott`` reader. The CSV is still parsed (so a
  malformed file is reported) and one note per technology records the exclusion.

Tables: ``technologies``, ``cost_observations``, ``production``, ``market_shares``,
``data_notes``. Production-only series (IRENA capacity, ICCT sales) have no ``technologies`` row
(that table lists cost series).
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.harmonize import nations, taxonomy, units
from learnrace_pipeline.lib.harmonize.cumulative import derive_cumulative
from learnrace_pipeline.lib.sources._pcdb_common import Where, parse_cost_unit, split_header
from learnrace_pipeline.lib.sources.base import (
    CsvTable,
    Notes,
    SourceInfo,
    decode,
    parse_number,
    read_csv,
    source_path,
)
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.sources.validate import conform

SOURCE = "owid_datasets"

INFO = SourceInfo(
    name=SOURCE,
    producer="Our World in Data (legacy owid/owid-datasets exports) compiling Lafond et al. "
    "(2017), IRENA, Rupp & Horowitz, NHGRI, TOP500, ICCT/EEA and LBNL (Barbose & Darghouth)",
    citation="Our World in Data, owid/owid-datasets; third-party sources as cited in each "
    "dataset's datapackage.json",
    url="https://github.com/owid/owid-datasets",
    licence="OWID CC BY 4.0; third-party sources keep their own terms (IRENA, ICCT, TOP500, "
    "NIH, Navigant via Lafond et al., LBNL)",
    retrieval_date="2024-10-21",
    notes="HEAD 48c9992ae317b35ed327fc36d2af75fe8b3ef7ed "
    "(retrieval_date is its commit date; no download date is recorded); each CSV from the last commit where it "
    "was non-empty (see PROVENANCE.md). Some series and recent years are withheld from this copy "
    "for evaluation.",
)

D_SOLAR = "Solar PV Module Costs & Capacity - Lafond et al. (2017) & IRENA"
D_TRANSISTORS = "Transistors per microprocessor - Rupp & Horowitz"
D_DNA = "NIH - DNA Sequencing Costs"
D_TOP500 = "Supercomputer power (FLOPS) – TOP500 Database"
D_IRENA_COST = "Renewable energy costs (IRENA, 2020)"
D_IRENA_CAP = "Renewable Energy Capacity by Technology - IRENA (2017)"
D_ICCT = "European vehicle passenger sales (ICCT, 2021)"
D_BARBOSE = "Solar PV Systems Costs - Barbose & Darghouth (2016)"
D_LEARNING = "Learning costs, J. Doyne Farmer and François Lafond (2016)"

DATASETS = (
    D_SOLAR,
    D_TRANSISTORS,
    D_DNA,
    D_TOP500,
    D_IRENA_COST,
    D_IRENA_CAP,
    D_ICCT,
    D_BARBOSE,
    D_LEARNING,
)


@dataclass(frozen=True)
class CostColumn:
    """A value column read as a cost (or performance) series."""

    name: str  # series name after "owid_datasets:"
    technology: str
    metric_kind: str
    description: str
    unit: str | None = None  # None: parsed from the column header
    paired_with: str | None = None  # LCOE column: the installed-cost column it derives from


#: IRENA (2020) cost columns read (header with whitespace collapsed -> spec).
IRENA_COSTS: dict[str, CostColumn] = {
    "Total installed cost onshore wind (2019 USD/kW)": CostColumn(
        "irena_onshore_wind_installed_cost",
        "wind_onshore",
        "installed_cost",
        "IRENA (2020) onshore wind total installed cost, capacity-weighted average by nation",
    ),
    "Onshore wind LCOE (2019 USD/kWh)": CostColumn(
        "irena_onshore_wind_lcoe",
        "wind_lcoe",
        "lcoe",
        "IRENA (2020) onshore wind LCOE by nation",
        paired_with="Total installed cost onshore wind (2019 USD/kW)",
    ),
    "Total installed solar cost (2019 USD/kW)": CostColumn(
        "irena_solar_pv_installed_cost",
        "solar_pv_system",
        "installed_cost",
        "IRENA (2020) utility-scale solar PV total installed cost by nation",
    ),
    "Solar LCOE (2019 USD/kWh)": CostColumn(
        "irena_solar_pv_lcoe",
        "solar_pv_lcoe",
        "lcoe",
        "IRENA (2020) utility-scale solar PV LCOE by nation",
        paired_with="Total installed solar cost (2019 USD/kW)",
    ),
    "Solar PV module price (2019 USD/W)": CostColumn(
        "irena_solar_pv_module_price",
        "solar_pv_module",
        "price",
        "IRENA (2020) solar PV module price by market",
    ),
    "Offshore wind total installed costs (2019 USD/kW)": CostColumn(
        "irena_offshore_wind_installed_cost",
        "wind_offshore",
        "installed_cost",
        "IRENA (2020) offshore wind total installed cost, world",
    ),
    "Offshore wind LCOE (2019 USD/kWh)": CostColumn(
        "irena_offshore_wind_lcoe",
        "wind_offshore",
        "lcoe",
        "IRENA (2020) offshore wind LCOE, world",
        paired_with="Offshore wind total installed costs (2019 USD/kW)",
    ),
    "Hydro total installed costs (2018 USD/kW)": CostColumn(
        "irena_hydro_installed_cost",
        "hydropower",
        "installed_cost",
        "IRENA (2020) hydropower total installed cost, world (header says 2018 USD)",
    ),
    "Geothermal total installed costs (2018 USD/kW)": CostColumn(
        "irena_geothermal_installed_cost",
        "geothermal_electricity",
        "installed_cost",
        "IRENA (2020) geothermal total installed cost, world (header says 2018 USD)",
    ),
    "Bioenergy total installed costs (2018 USD/kW)": CostColumn(
        "irena_bioenergy_installed_cost",
        "bioenergy_power",
        "installed_cost",
        "IRENA (2020) bioenergy power total installed cost, world (header says 2018 USD)",
    ),
    "Bioenergy LCOE (2019 USD/kWh)": CostColumn(
        "irena_bioenergy_lcoe",
        "bioenergy_power",
        "lcoe",
        "IRENA (2020) bioenergy power LCOE, world",
        paired_with="Bioenergy total installed costs (2018 USD/kW)",
    ),
    "CSP total installed costs (2019 USD/kW)": CostColumn(
        "irena_csp_installed_cost",
        "concentrating_solar",
        "installed_cost",
        "IRENA (2020) concentrating solar power total installed cost, world",
    ),
    "CSP LCOE (2019 USD/kWh)": CostColumn(
        "irena_csp_lcoe",
        "concentrating_solar",
        "lcoe",
        "IRENA (2020) concentrating solar power LCOE, world",
        paired_with="CSP total installed costs (2019 USD/kW)",
    ),
}

#: IRENA (2020) cost columns excluded, with the reason.
IRENA_EXCLUDED: dict[str, str] = {
    "Total installed solar cost, residential": "no unit in the header: excluded",
    "Total installed solar cost, commercial": "no unit in the header: excluded",
    "Solar LCOE, residential (USD/kW)": "an LCOE cannot be per kW and no basis year is given: unit wrong, excluded",
    "Solar LCOE, commercial (USD/kW)": "an LCOE cannot be per kW and no basis year is given: unit wrong, excluded",
    "Hydro total installed costs, large": "no unit in the header: excluded",
    "Hydro total installed costs, small": "no unit in the header: excluded",
    "Hydro LCOE (219 USD/kWh)": "malformed basis year '219' in the unit: excluded",
    "Geothermal LCOE (219 USD/kWh)": "malformed basis year '219' in the unit: excluded",
}

#: IRENA (2020) columns that are not costs.
IRENA_NOT_COSTS = frozenset(
    {
        "Onshore wind turbine nameplate capacity (MW)",
        "Onshore turbine rotor diameter (m)",
        "Onshore wind capacity factor",
        "Solar capacity factor",
        "Offshore wind average turbine rating (MW)",
        "Offshore wind average project capacity (MW)",
        "Offshore wind capacity factor",
        "Hydro capacity factor",
        "Geothermal capacity factor",
        "Bioenergy capacity factor",
        "CSP capacity factor",
    }
)

#: IRENA (2017) capacity: Entity -> technology.
IRENA_CAPACITY_TECH: dict[str, str] = {
    "Bioenergy": "bioenergy_power",
    "Geothermal": "geothermal_electricity",
    "Hydropower": "hydropower",
    "Marine": "marine_energy",
    "Solar": "solar_pv_module",
    "Wind": "wind_onshore",
}

#: ICCT production columns (series name, description) and share columns (basis).
ICCT_PRODUCTION: dict[str, tuple[str, str]] = {
    "battery_electric_number": ("icct_bev_car_sales", "battery-electric new passenger cars"),
    "battery_plugin_electric_number": (
        "icct_bev_phev_car_sales",
        "battery-electric plus plug-in hybrid new passenger cars",
    ),
}
ICCT_SHARES: dict[str, tuple[str, str]] = {
    "battery_electric_share": ("bev_share_of_new_car_sales", "battery_electric_number"),
    "battery_plugin_electric_share": (
        "bev_phev_share_of_new_car_sales",
        "battery_plugin_electric_number",
    ),
}
ICCT_SKIPPED: dict[str, str] = {
    "vehicle_price_eur": "average price of all new cars (all powertrains), not an EV cost: skipped",
    "total_passenger_vehicle_sales": "total new-car sales: used only to check the shares",
}
ICCT_TOTAL = "total_passenger_vehicle_sales"

_SCHEMA_EXTRA = {"_file": pl.String(), "_row": pl.Int64()}


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
    path = source_path(raw_dir, SOURCE, pkg_rel)
    text = decode(path.read_bytes(), source=SOURCE, file=pkg_rel)
    try:
        pkg = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(
            f"invalid JSON: {e.msg}", source=SOURCE, file=pkg_rel, row=e.lineno
        ) from None
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


class _Out:
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
        self.cost.append(
            {
                "series_id": sid,
                "technology": tech,
                "nation": nation,
                "year": year,
                "unit_cost": value,
                "unit": unit,
                "price_basis_year": units.price_basis_year(unit) if units.is_money(unit) else None,
                "source": SOURCE,
                "_file": file,
                "_row": row,
            }
        )


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse ``raw_dir/owid_datasets``; return conformed tables plus ``data_notes``."""
    raw_dir = Path(raw_dir)
    notes = Notes(SOURCE)
    out = _Out()
    _solar(load(raw_dir, D_SOLAR), out, notes)
    _single(
        load(raw_dir, D_TRANSISTORS),
        out,
        notes,
        "Transistors per microprocessor",
        "transistor",
        CostColumn(
            "transistors_per_microprocessor",
            "microprocessor",
            "performance",
            "Largest transistor count per microprocessor in the year (Rupp; Horowitz et al.; "
            "OWID updates for 2015 and 2017)",
        ),
    )
    _single(
        load(raw_dir, D_TOP500),
        out,
        notes,
        "Floating-Point Operations per Second",
        "FLOP/s",
        CostColumn(
            "top500_fastest_flops",
            "supercomputer",
            "performance",
            "Fastest TOP500 supercomputer, floating-point operations per second",
        ),
    )
    _dna(load(raw_dir, D_DNA), out, notes)
    _irena_costs(load(raw_dir, D_IRENA_COST), out, notes)
    _irena_capacity(load(raw_dir, D_IRENA_CAP), out, notes)
    _icct(load(raw_dir, D_ICCT), out, notes)
    _barbose(load(raw_dir, D_BARBOSE), out, notes)
    _learning_costs(load(raw_dir, D_LEARNING), notes)

    def frame(table: str, rows: list[dict]) -> pl.DataFrame:
        return pl.DataFrame(rows, schema={**TABLES[table], **_SCHEMA_EXTRA})

    return {
        "technologies": conform("technologies", frame("technologies", out.tech), SOURCE),
        "cost_observations": conform(
            "cost_observations", frame("cost_observations", out.cost), SOURCE
        ),
        "production": conform("production", frame("production", out.prod), SOURCE),
        "market_shares": conform("market_shares", frame("market_shares", out.shares), SOURCE),
        "data_notes": notes.frame(),
    }


def _nation(ds: Dataset, entity: str, row: int) -> str:
    return nations.to_code(entity, source=SOURCE, file=ds.csv_rel, row=row, column="Entity")


def _expect_unit(ds: Dataset, column: str, expected: set[str]) -> str:
    got = ds.unit(column)
    if got not in expected:
        raise DataError(
            f"datapackage unit {got!r} for {column!r}; expected one of {sorted(expected)}",
            source=SOURCE,
            file=ds.pkg_rel,
            column=column,
        )
    return got


def _positive(ds: Dataset, column: str, value: float, row: int) -> None:
    if not value > 0 or not math.isfinite(value):
        raise DataError(
            f"value must be positive, got {value:g}",
            source=SOURCE,
            file=ds.csv_rel,
            row=row,
            column=column,
        )


def _solar(ds: Dataset, out: _Out, notes: Notes) -> None:
    cost_col, cap_col = "Unit cost", "Cumulative capacity"
    _expect_unit(ds, cost_col, {"$/W"})
    _expect_unit(ds, cap_col, {"MW"})
    if "2019 US$" not in ds.description:
        raise DataError(
            "description no longer states the 2019 US$ conversion", source=SOURCE, file=ds.pkg_rel
        )
    unit = "2019 USD/W"
    notes.add(
        ds.pkg_rel,
        None,
        cost_col,
        "$/W",
        "dollar year 2019 taken from the dataset description (Lafond et al. prices converted to 2019 US$)",
    )
    tech = "solar_pv_module"
    sid = out.technology(
        "solar_pv_module_lafond_irena",
        tech,
        unit,
        "price",
        "World solar PV module cost: Lafond et al. (2017, Navigant) 1976-2009 in 2019 US$, IRENA thin-film "
        "a-Si/u-Si global index from 2010; vs cumulative installed capacity (MW)",
        ds.csv_rel,
        "MW",
    )
    for row, entity, year, vals in ds.rows(notes):
        nation = _nation(ds, entity, row)
        if (c := vals[cost_col]) is not None:
            _positive(ds, cost_col, c, row)
            out.cost_obs(sid, tech, nation, year, c, unit, ds.csv_rel, row)
        if (q := vals[cap_col]) is not None:
            if q < 0:
                raise DataError(
                    f"negative capacity {q:g}",
                    source=SOURCE,
                    file=ds.csv_rel,
                    row=row,
                    column=cap_col,
                )
            out.prod.append(
                _prod(sid, tech, nation, year, None, q, "MW", "reported", ds.csv_rel, row)
            )


def _prod(
    sid: str,
    tech: str,
    nation: str,
    year: int,
    annual: float | None,
    cum: float | None,
    unit: str,
    method: str | None,
    file: str,
    row: int,
) -> dict:
    return {
        "series_id": sid,
        "technology": tech,
        "nation": nation,
        "year": year,
        "annual_production": annual,
        "cumulative_production": cum,
        "unit": unit,
        "cumulative_method": method,
        "source": SOURCE,
        "_file": file,
        "_row": row,
    }


def _single(ds: Dataset, out: _Out, notes: Notes, column: str, unit: str, spec: CostColumn) -> None:
    """A one-column performance dataset whose unit is its column name."""
    _expect_unit(ds, column, {""})
    notes.add(
        ds.pkg_rel,
        None,
        column,
        column,
        f"no unit in datapackage.json: unit {unit!r} from the column name",
    )
    sid = out.technology(
        spec.name, spec.technology, unit, spec.metric_kind, spec.description, ds.csv_rel
    )
    for row, entity, year, vals in ds.rows(notes):
        if (v := vals[column]) is not None:
            _positive(ds, column, v, row)
            out.cost_obs(
                sid, spec.technology, _nation(ds, entity, row), year, v, unit, ds.csv_rel, row
            )


def _dna(ds: Dataset, out: _Out, notes: Notes) -> None:
    specs = {
        "cost_per_mb": ("nih_dna_cost_per_mb", "USD/Mb", "cost per megabase of DNA sequence"),
        "cost_per_genome": ("nih_dna_cost_per_genome", "USD/genome", "cost per human-size genome"),
    }
    sids = {}
    for col, (name, unit, what) in specs.items():
        _expect_unit(ds, col, {"current US$"})
        sids[col] = out.technology(
            name,
            "dna_sequencing",
            unit,
            "cost",
            f"NHGRI Genome Sequencing Program {what}, nominal USD; OWID keeps the lowest cost of each year",
            ds.csv_rel,
        )
    notes.add(
        ds.csv_rel,
        1,
        "base_pairs_per_dollar",
        "base_pairs_per_dollar",
        "reciprocal of cost_per_mb computed by OWID: skipped",
    )
    for row, entity, year, vals in ds.rows(notes):
        nation = _nation(ds, entity, row)
        for col, (_, unit, _) in specs.items():
            if (v := vals[col]) is not None:
                _positive(ds, col, v, row)
                out.cost_obs(sids[col], "dna_sequencing", nation, year, v, unit, ds.csv_rel, row)


def _irena_costs(ds: Dataset, out: _Out, notes: Notes) -> None:
    columns = [c for c in ds.fields if c not in ("Entity", "Year")]
    read_cols: dict[str, tuple[CostColumn, str]] = {}
    for col in columns:
        if col in IRENA_COSTS:
            spec = IRENA_COSTS[col]
            where = Where(SOURCE, ds.csv_rel, 1, col)
            label, unit_text = split_header(col, where)
            unit = parse_cost_unit(unit_text, where, label=label)
            read_cols[col] = (spec, unit.unit)
        elif col in IRENA_EXCLUDED:
            continue
        elif col in IRENA_NOT_COSTS:
            notes.add(
                ds.csv_rel,
                1,
                col,
                col,
                "not a cost (turbine size, project size or capacity factor): skipped",
            )
        else:
            raise DataError(
                "undeclared column (declare it read, excluded or not a cost)",
                source=SOURCE,
                file=ds.csv_rel,
                row=1,
                column=col,
            )
    for col, (spec, _) in read_cols.items():
        if spec.paired_with is not None and spec.paired_with not in read_cols:
            raise DataError(
                f"LCOE column pairs with {spec.paired_with!r}, which is not read",
                source=SOURCE,
                file=ds.csv_rel,
                row=1,
                column=col,
            )

    rows = ds.rows(notes)
    excluded_counts: dict[str, int] = defaultdict(int)
    # observations: column -> list of (row, nation, year, value)
    obs: dict[str, list[tuple[int, str, int, float]]] = {c: [] for c in read_cols}
    for row, entity, year, vals in rows:
        nation = _nation(ds, entity, row)
        for col in IRENA_EXCLUDED:
            if vals.get(col) is not None:
                excluded_counts[col] += 1
        for col in read_cols:
            if (v := vals[col]) is not None:
                _positive(ds, col, v, row)
                obs[col].append((row, nation, year, v))
    for col, reason in IRENA_EXCLUDED.items():
        if col in ds.fields:
            notes.add(ds.csv_rel, 1, col, col, f"{excluded_counts[col]} value(s): {reason}")

    # regional fill-ins: identical values across nations in a year (World excluded)
    dropped: dict[str, set[tuple[str, int]]] = defaultdict(set)
    for col, (spec, _unit) in read_cols.items():
        if spec.paired_with is not None:
            continue
        groups: dict[tuple[int, float], list[tuple[int, str]]] = defaultdict(list)
        for row, nation, year, v in obs[col]:
            if nation != "WLD":
                groups[(year, v)].append((row, nation))
        for (year, v), members in sorted(groups.items()):
            if len(members) < 2:
                continue
            names = sorted(n for _, n in members)
            for _, n in members:
                dropped[col].add((n, year))
            notes.add(
                ds.csv_rel,
                min(r for r, _ in members),
                col,
                f"{v:g}",
                f"regional fill-in: {year} value {v:g} repeated for {', '.join(names)}; dropped for all of them",
            )
    for col, (spec, _unit) in read_cols.items():
        if spec.paired_with is None:
            continue
        hit = [(row, n, y) for row, n, y, _ in obs[col] if (n, y) in dropped[spec.paired_with]]
        for row, n, y in hit:
            dropped[col].add((n, y))
            notes.add(
                ds.csv_rel,
                row,
                col,
                f"{n} {y}",
                "LCOE dropped: computed from a regional fill-in installed cost",
            )

    for col, (spec, unit) in read_cols.items():
        sid = out.technology(
            spec.name,
            spec.technology,
            unit,
            spec.metric_kind,
            f"{spec.description}; column {col!r}",
            ds.csv_rel,
        )
        for row, nation, year, v in obs[col]:
            if (nation, year) not in dropped[col]:
                out.cost_obs(sid, spec.technology, nation, year, v, unit, ds.csv_rel, row)


def _irena_capacity(ds: Dataset, out: _Out, notes: Notes) -> None:
    (col,) = [c for c in ds.fields if c not in ("Entity", "Year")]
    declared = ds.unit(col)
    notes.add(
        ds.pkg_rel,
        None,
        col,
        declared,
        f"datapackage unit {declared!r} is not a capacity unit: MW used (IRENA's unit; hydropower 2000 = 781,804 MW)",
    )
    by_entity: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for row, entity, year, vals in ds.rows(notes):
        if entity not in IRENA_CAPACITY_TECH:
            raise DataError(
                f"undeclared technology {entity!r}",
                source=SOURCE,
                file=ds.csv_rel,
                row=row,
                column="Entity",
            )
        if (v := vals[col]) is not None:
            if v < 0:
                raise DataError(
                    f"negative capacity {v:g}", source=SOURCE, file=ds.csv_rel, row=row, column=col
                )
            by_entity[entity].append((year, row, v))
    for entity, items in by_entity.items():
        tech = IRENA_CAPACITY_TECH[entity]
        sid = f"{SOURCE}:irena_2017_capacity_{entity.lower()}"
        best = -math.inf
        for year, row, v in sorted(items):
            if v < best:
                notes.add(
                    ds.csv_rel,
                    row,
                    col,
                    f"{v:g}",
                    f"{entity} {year}: net installed capacity below an earlier year's ({best:g}, retirements): "
                    "not a cumulative-production value, dropped",
                )
                continue
            best = v
            out.prod.append(
                _prod(sid, tech, "WLD", year, None, v, "MW", "reported", ds.csv_rel, row)
            )


def _icct(ds: Dataset, out: _Out, notes: Notes) -> None:
    columns = [c for c in ds.fields if c not in ("Entity", "Year")]
    for col in columns:
        if col in ICCT_PRODUCTION or col in ICCT_SHARES:
            continue
        reason = ICCT_SKIPPED.get(
            col, "not an EV measure (other powertrains, emissions or market size): not read"
        )
        notes.add(ds.csv_rel, 1, col, col, reason)
    prod_rows: list[dict] = []
    for row, entity, year, vals in ds.rows(notes):
        nation = _nation(ds, entity, row)
        total = vals[ICCT_TOTAL]
        for col, (name, _what) in ICCT_PRODUCTION.items():
            if (q := vals[col]) is None:
                continue
            if q < 0:
                raise DataError(
                    f"negative sales {q:g}", source=SOURCE, file=ds.csv_rel, row=row, column=col
                )
            prod_rows.append(
                {
                    **_prod(
                        f"{SOURCE}:{name}",
                        "ev_car",
                        nation,
                        year,
                        q,
                        None,
                        "vehicle",
                        None,
                        ds.csv_rel,
                        row,
                    )
                }
            )
        for col, (basis, count_col) in ICCT_SHARES.items():
            if (pct := vals[col]) is None:
                continue
            share = pct / 100.0
            count = vals[count_col]
            if (
                total
                and count is not None
                and abs(share - count / total) > max(1e-4, 0.01 * count / total)
            ):
                raise DataError(
                    f"share {pct:g}% disagrees with {count_col} / {ICCT_TOTAL} = {100 * count / total:.4g}% "
                    "(shares are read as percentages)",
                    source=SOURCE,
                    file=ds.csv_rel,
                    row=row,
                    column=col,
                )
            out.shares.append(
                {
                    "industry": "evs",
                    "technology": "ev_car",
                    "nation": nation,
                    "year": year,
                    "share": share,
                    "basis": basis,
                    "source": SOURCE,
                    "_file": ds.csv_rel,
                    "_row": row,
                }
            )
    if entity_europe := [r for r in prod_rows if r["nation"] == "EUROPE"]:
        notes.add(
            ds.csv_rel,
            min(r["_row"] for r in entity_europe),
            "Entity",
            "Europe",
            "Europe = EU27 + Iceland + Norway + UK (OWID, from the EEA), mapped to region EUROPE; only "
            f"{len({r['year'] for r in entity_europe})} year(s), so its derived cumulative rests on a crude initial stock",
        )
    if not prod_rows:
        return
    frame = pl.DataFrame(prod_rows, schema={**TABLES["production"], **_SCHEMA_EXTRA})
    # years must be consecutive within a nation for a running sum
    gaps = (
        frame.sort("series_id", "nation", "year")
        .with_columns(gap=pl.col("year").diff().over("series_id", "nation"))
        .filter(pl.col("gap") > 1)
    )
    for r in gaps.iter_rows(named=True):
        notes.add(
            ds.csv_rel,
            r["_row"],
            "Year",
            str(r["year"]),
            f"{r['nation']}: {int(r['gap']) - 1} year(s) missing before {r['year']}; counted as zero in the running sum",
        )
    derived = derive_cumulative(
        frame.drop("cumulative_production", "cumulative_method"), by=["series_id", "nation"]
    )
    out.prod.extend(derived.select([*TABLES["production"], "_file", "_row"]).to_dicts())


def _barbose(ds: Dataset, out: _Out, notes: Notes) -> None:
    total_col = "Total Installed Price (Barbose & Darghouth (2016))"
    module_col = "Module Price (Barbose & Darghouth (2016))"
    other_col = "Non-Module Costs (Barbose & Darghouth (2016))"
    for col in (total_col, module_col, other_col):
        if col not in ds.fields:
            raise DataError(
                f"missing column {col!r}", source=SOURCE, file=ds.csv_rel, row=1, column=col
            )
    unit = "2015 USD/W"
    for col in (total_col, module_col, other_col):
        notes.add(
            ds.pkg_rel,
            None,
            col,
            ds.unit(col),
            f"datapackage unit {ds.unit(col)!r} is wrong or incomplete: {unit} from the cited report "
            "(LBNL Tracking the Sun IX states prices in real 2015 USD per W DC)",
        )
    notes.add(
        ds.csv_rel,
        1,
        other_col,
        other_col,
        "total minus module price (OWID's subtraction): skipped",
    )
    tech_sys, tech_mod = "solar_pv_system", "solar_pv_module"
    sid_sys = out.technology(
        "lbnl_tts_us_residential_installed_price",
        tech_sys,
        unit,
        "installed_cost",
        "US median residential PV installed price, LBNL Tracking the Sun IX (Barbose & Darghouth 2016); "
        "unit from the report",
        ds.csv_rel,
    )
    sid_mod = out.technology(
        "lbnl_tts_module_price",
        tech_mod,
        unit,
        "price",
        "Module price used by LBNL Tracking the Sun IX to split US residential prices (a module price index, "
        "labelled United States by OWID); unit from the report",
        ds.csv_rel,
    )
    for row, entity, year, vals in ds.rows(notes):
        nation = _nation(ds, entity, row)
        t, m, o = vals[total_col], vals[module_col], vals[other_col]
        if (
            t is not None
            and m is not None
            and o is not None
            and abs(t - m - o) > 1e-6 * max(t, 1.0)
        ):
            notes.add(
                ds.csv_rel,
                row,
                other_col,
                f"{o:g}",
                f"non-module cost differs from total - module ({t - m:g})",
            )
        for sid, tech, col, v in (
            (sid_sys, tech_sys, total_col, t),
            (sid_mod, tech_mod, module_col, m),
        ):
            if v is not None:
                _positive(ds, col, v, row)
                out.cost_obs(sid, tech, nation, year, v, unit, ds.csv_rel, row)


def _learning_costs(ds: Dataset, notes: Notes) -> None:
    (col,) = [c for c in ds.fields if c not in ("Entity", "Year")]
    counts: dict[str, tuple[int, int]] = {}
    for row, entity, _year, vals in ds.rows(notes):
        v = vals[col]
        if v is not None and not v > 0:
            raise DataError(
                f"cost must be positive, got {v:g}",
                source=SOURCE,
                file=ds.csv_rel,
                row=row,
                column=col,
            )
        first, n = counts.get(entity, (row, 0))
        counts[entity] = (first, n + (v is not None))
    for entity, (first, n) in counts.items():
        notes.add(
            ds.csv_rel,
            first,
            "Entity",
            entity,
            f"{n} value(s) excluded: units differ per technology and are absent from the CSV and "
            "datapackage.json (the farmer_lafond_alstott reader carries this series with units)",
        )
