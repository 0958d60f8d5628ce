"""The fixed-column datasets of ``owid_datasets``: one or two named series each.

- solar PV module cost (``2019 USD/W``, dollar year from the description) and cumulative
  capacity (``MW``, reported), Lafond et al. (2017) & IRENA;
- one-column performance datasets whose unit is the column name (transistors per chip,
  ``transistor``; TOP500 fastest system, ``FLOP/s``);
- NIH DNA sequencing cost per megabase (``USD/Mb``) and per genome (``USD/genome``), nominal;
- LBNL US residential PV installed price and module price (``2015 USD/W``, unit from the report:
  the datapackage's is wrong);
- the Farmer & Lafond (2016) learning-cost export: parsed and checked, then excluded (no units).
"""

from __future__ import annotations

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import Notes, production_row
from learnrace_pipeline.lib.sources.owid_datasets.dataset import (
    SOURCE,
    CostColumn,
    Dataset,
    Out,
    expect_unit,
    nation_of,
    positive,
)


def read_solar_module(ds: Dataset, out: Out, notes: Notes) -> None:
    """World solar PV module cost (2019 USD/W) and cumulative capacity (MW, reported)."""
    cost_col, cap_col = "Unit cost", "Cumulative capacity"
    expect_unit(ds, cost_col, {"$/W"})
    expect_unit(ds, cap_col, {"MW"})
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
        nation = nation_of(ds, entity, row)
        if (c := vals[cost_col]) is not None:
            positive(ds, cost_col, c, row)
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
                production_row(
                    SOURCE, sid, tech, nation, year, None, q, "MW", "reported", ds.csv_rel, row
                )
            )


def read_single(
    ds: Dataset, out: Out, notes: Notes, column: str, unit: str, spec: CostColumn
) -> None:
    """A one-column performance dataset whose unit is its column name."""
    expect_unit(ds, column, {""})
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
            positive(ds, column, v, row)
            out.cost_obs(
                sid, spec.technology, nation_of(ds, entity, row), year, v, unit, ds.csv_rel, row
            )


def read_dna(ds: Dataset, out: Out, notes: Notes) -> None:
    """NIH sequencing cost per megabase (USD/Mb) and per genome (USD/genome), nominal."""
    specs = {
        "cost_per_mb": ("nih_dna_cost_per_mb", "USD/Mb", "cost per megabase of DNA sequence"),
        "cost_per_genome": ("nih_dna_cost_per_genome", "USD/genome", "cost per human-size genome"),
    }
    sids = {}
    for col, (name, unit, what) in specs.items():
        expect_unit(ds, col, {"current US$"})
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
        nation = nation_of(ds, entity, row)
        for col, (_, unit, _) in specs.items():
            if (v := vals[col]) is not None:
                positive(ds, col, v, row)
                out.cost_obs(sids[col], "dna_sequencing", nation, year, v, unit, ds.csv_rel, row)


def read_lbnl_prices(ds: Dataset, out: Out, notes: Notes) -> None:
    """LBNL US residential installed price and module price, 2015 USD/W (unit from the report)."""
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
        nation = nation_of(ds, entity, row)
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
                positive(ds, col, v, row)
                out.cost_obs(sid, tech, nation, year, v, unit, ds.csv_rel, row)


def check_learning_costs(ds: Dataset, notes: Notes) -> None:
    """Parse and check the Farmer-Lafond export, then note its exclusion per technology."""
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
