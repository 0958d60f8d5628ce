"""IRENA datasets of ``owid_datasets``: renewable costs by nation (2020) and world capacity (2017).

*Renewable energy costs (IRENA, 2020)*: each cost column's unit is parsed from its header
(``Total installed cost onshore wind (2019 USD/kW)`` -> ``2019 USD/kW``; LCOE in ``2019
USD/kWh``; module price in ``2019 USD/W``); every column is declared read (:data:`IRENA_COSTS`),
excluded with a reason (:data:`IRENA_EXCLUDED`) or not a cost (:data:`IRENA_NOT_COSTS`), and an
undeclared column is a DataError. Regional fill-ins (a value shared by two or more nations in a
year, World excluded) are dropped, with the LCOEs computed from them.

*Renewable Energy Capacity by Technology - IRENA (2017)*: world net installed capacity by
technology in ``MW`` as reported cumulative production; a year below an earlier year's capacity
(retirements) is dropped.
"""

from __future__ import annotations

import math
from collections import defaultdict

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._pcdb_common import Where, parse_cost_unit, split_header
from learnrace_pipeline.lib.sources.base import Notes, production_row
from learnrace_pipeline.lib.sources.owid_datasets.dataset import (
    SOURCE,
    CostColumn,
    Dataset,
    Out,
    nation_of,
    positive,
)

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


def read_costs(ds: Dataset, out: Out, notes: Notes) -> None:
    """IRENA (2020) cost columns by nation: read, excluded or skipped, fill-ins dropped."""
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
        nation = nation_of(ds, entity, row)
        for col in IRENA_EXCLUDED:
            if vals.get(col) is not None:
                excluded_counts[col] += 1
        for col in read_cols:
            if (v := vals[col]) is not None:
                positive(ds, col, v, row)
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


def read_capacity(ds: Dataset, out: Out, notes: Notes) -> None:
    """IRENA (2017) world installed capacity by technology, MW, reported cumulative."""
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
                production_row(
                    SOURCE, sid, tech, "WLD", year, None, v, "MW", "reported", ds.csv_rel, row
                )
            )
