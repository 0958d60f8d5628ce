"""Declared schemas of the tidy tables every source reader returns.

Readers return ``dict[str, pl.DataFrame]`` keyed by table name. Each frame must have exactly the
columns and dtypes declared here (in this order); :func:`conform` checks that and the table rules
(keys unique, costs positive, years plausible, nations and units known) and raises
:class:`~learnrace_pipeline.lib.errors.DataError` naming the source, file, row and column.

Canonical units and conventions
-------------------------------
- ``year``: calendar year (Int32). Sub-annual series are aggregated to calendar years by the reader.
- ``nation``: ISO 3166 alpha-3, ``WLD`` for the world, or a named region from
  :mod:`learnrace_pipeline.lib.vocab.nations` (e.g. ``EUROPE``, ``EU27``, ``ROW``).
- ``unit_cost``: strictly positive, in ``unit`` (e.g. ``2019 USD/W``); ``price_basis_year`` is the
  year of constant money (null for nominal money or non-money metrics).
- production quantities: non-negative, in ``unit``; cumulative production is non-decreasing
  within a series and nation.
- ``share``: a fraction in [0, 1], never a percentage.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

TABLES: dict[str, dict[str, pl.DataType]] = {
    # One row per cost series (a technology as measured by one source in one unit).
    "technologies": {
        "series_id": pl.String(),  # "<source>:<name>", unique across the warehouse
        "technology": pl.String(),  # canonical technology name, e.g. "solar_pv_module"
        "industry": pl.String(),  # from the taxonomy file
        "source": pl.String(),
        "unit": pl.String(),  # unit of unit_cost, e.g. "2019 USD/W"
        "production_unit": pl.String(),  # unit of production, e.g. "MW"; null if none
        "metric_kind": pl.String(),  # see METRIC_KINDS
        "description": pl.String(),
    },
    "cost_observations": {
        "series_id": pl.String(),
        "technology": pl.String(),
        "nation": pl.String(),
        "year": pl.Int32(),
        "unit_cost": pl.Float64(),
        "unit": pl.String(),
        "price_basis_year": pl.Int32(),
        "source": pl.String(),
    },
    "production": {
        "series_id": pl.String(),
        "technology": pl.String(),
        "nation": pl.String(),
        "year": pl.Int32(),
        "annual_production": pl.Float64(),  # in `unit` per year; null if only cumulative known
        "cumulative_production": pl.Float64(),  # in `unit`, through the end of `year`
        "unit": pl.String(),
        "cumulative_method": pl.String(),  # see CUMULATIVE_METHODS
        "source": pl.String(),
    },
    "market_shares": {
        "industry": pl.String(),
        "technology": pl.String(),
        "nation": pl.String(),
        "year": pl.Int32(),
        "share": pl.Float64(),  # fraction in [0, 1]
        "basis": pl.String(),  # what the share is of, e.g. "ev_car_sales_of_world"
        "source": pl.String(),
    },
    "av_testing": {
        "company": pl.String(),  # normalised company name
        "nation": pl.String(),  # nation of headquarters (ISO3)
        "nation_certain": pl.Boolean(),  # False where headquarters tagging is uncertain
        "report_year": pl.Int32(),  # CA DMV reporting year: Dec(y-1)..Nov(y)
        "permit_type": pl.String(),  # "safety_driver" | "driverless"
        "autonomous_miles": pl.Float64(),  # sum of monthly columns, miles
        "disengagements": pl.Int64(),
        "n_vehicles": pl.Int64(),  # distinct vehicles reported (null for 2014-19 workbook)
        "reported_annual_total": pl.Float64(),  # sum of the ANNUAL TOTAL column, miles (null if absent)
        "partial_year": pl.Boolean(),  # True where the reporting year is only partly covered
        "source_file": pl.String(),
    },
    "ai_models": {
        "model": pl.String(),
        "organization": pl.String(),
        "nations": pl.List(pl.String()),  # Epoch's countries of the organisations, ISO3 (reference)
        "nation": pl.String(),  # the one nation credited (lib/vocab/ai_organizations.py); null: none
        "nation_basis": pl.String(),  # "organization" (declared map) | "epoch_country" | null
        "frontier_scale": pl.Boolean(),  # >= 1e23 FLOP or within 10x of the running record
        "publication_date": pl.Date(),
        "training_compute_flop": pl.Float64(),
        "parameters": pl.Float64(),
        "dataset_size": pl.Float64(),  # datapoints
        "confidence": pl.String(),  # Confident | Likely | Speculative | null
        "domain": pl.String(),
        "dataset": pl.String(),  # "notable" | "large_scale" | "both" (one row per model)
    },
    # One row per distinct CPU/GPU product row (chip_dataset); repeated names told apart by variant.
    "chip_products": {
        "product": pl.String(),
        "chip_type": pl.String(),  # "CPU" | "GPU"
        "variant": pl.Int32(),  # 1, 2, ... in file order among rows sharing product and chip_type
        "release_date": pl.Date(),  # null where not given
        "process_nm": pl.Float64(),  # process node, nm
        "tdp_w": pl.Float64(),  # thermal design power, W
        "die_mm2": pl.Float64(),  # area of one die, mm^2
        "n_dies": pl.Int32(),  # dies per package
        "transistors_million": pl.Float64(),  # millions of transistors
        "freq_mhz": pl.Float64(),  # clock frequency, MHz
        "foundry": pl.String(),
        "foundry_nation": pl.String(),  # ISO3 of the foundry's headquarters
        "vendor": pl.String(),
        "vendor_nation": pl.String(),  # ISO3 of the vendor's headquarters
        "fp16_gflops": pl.Float64(),  # GFLOP/s
        "fp32_gflops": pl.Float64(),
        "fp64_gflops": pl.Float64(),
    },
    # Who provides each semiconductor supply-chain input or stage (CSET/ETO; CC BY-NC 4.0).
    "supply_chain_provision": {
        "provider_id": pl.String(),
        "provider_name": pl.String(),
        "provider_type": pl.String(),  # "country" | "organization"
        "provider_nation": pl.String(),  # ISO3 (or OTHER) of the country / firm headquarters
        "provided_id": pl.String(),
        "provided_name": pl.String(),
        "provided_kind": pl.String(),  # stage | process | tool_resource | material_resource | ...
        "stage": pl.String(),  # supply-chain stage, where the source gives one
        "share": pl.Float64(),  # fraction of the global market in [0, 1]; null where not given
        "negligible": pl.Boolean(),  # the source flags the provider's share as negligible
        "year": pl.Int32(),  # year the cross-section is dated to
    },
}

#: Primary keys per table: duplicates are refused.
KEYS: dict[str, tuple[str, ...]] = {
    "technologies": ("series_id",),
    "cost_observations": ("series_id", "nation", "year"),
    "production": ("series_id", "nation", "year"),
    "market_shares": ("source", "basis", "technology", "nation", "year"),
    "av_testing": ("company", "report_year", "permit_type", "source_file"),
    "ai_models": ("model", "publication_date"),
    "chip_products": ("product", "chip_type", "variant"),
    "supply_chain_provision": ("provider_id", "provided_id"),
}

METRIC_KINDS = (
    "price",  # money per unit of product
    "cost",  # money per unit of product, producer cost
    "lcoe",  # money per unit of energy generated
    "installed_cost",  # money per unit of installed capacity
    "input_per_output",  # physical input per unit of output (acres/1000 bu, gallons/mile, ...)
    "performance",  # higher is better (FLOPS, transistors)
)

CUMULATIVE_METHODS = (
    "reported",  # the source gives cumulative production through the year
    "reported_previous_plus_annual",  # source gives cumulative through the year before; + annual
    "initial_stock_lafond2018",  # sum of annual + initial stock q1 / g (Lafond et al. 2018)
    "sum_from_first_year",  # sum of annual from the first year (initial stock taken as zero)
)

#: The window of plausible calendar years, declared once: the sources' tables refuse years
#: before MIN_YEAR (:mod:`.validate`), and ``learnrace forecast`` input refuses any year outside
#: [MIN_YEAR, MAX_YEAR] (:mod:`learnrace_pipeline.lib.forecast.inputs`). No series we read starts
#: before 1800, and a forecast more than ~175 years past today is not a forecast.
MIN_YEAR = 1800
MAX_YEAR = 2200


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: dict[str, pl.DataType]
    key: tuple[str, ...]


def spec(table: str) -> TableSpec:
    """The declared spec of a tidy table (raises KeyError for an unknown table)."""
    return TableSpec(table, TABLES[table], KEYS[table])


def empty(table: str) -> pl.DataFrame:
    """An empty frame with the declared schema of ``table``."""
    return pl.DataFrame(schema=TABLES[table])
