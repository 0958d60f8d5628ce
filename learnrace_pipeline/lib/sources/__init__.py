"""One reader per public source folder. See :mod:`.base` for the reader contract."""

from __future__ import annotations

import importlib
from types import ModuleType

#: Source folder names, in ingestion order.
SOURCES: tuple[str, ...] = (
    "pcdb_carnegie",
    "farmer_lafond_alstott",
    "owid_datasets",
    "helveston_solar_2022",
    "mvpf_climate_vendored",
    "iea_gevo_2024",
    "owid_ifr_robots",
    "ca_dmv_av",
    "epoch_ai",
    "chip_dataset",
    "cset_eto_supply_chain",
)

#: The tidy tables each source's reader returns (``data_notes`` always; it may be empty). The
#: warehouse stores them as ``raw.<source>__<table>``; the harmonized table ``<table>`` depends on
#: exactly the sources that list it.
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "pcdb_carnegie": ("cost_observations", "data_notes", "production", "technologies"),
    "farmer_lafond_alstott": ("cost_observations", "data_notes", "technologies"),
    "owid_datasets": (
        "cost_observations",
        "data_notes",
        "market_shares",
        "production",
        "technologies",
    ),
    "helveston_solar_2022": (
        "cost_observations",
        "data_notes",
        "market_shares",
        "production",
        "technologies",
    ),
    "mvpf_climate_vendored": (
        "cost_observations",
        "data_notes",
        "market_shares",
        "production",
        "technologies",
    ),
    "iea_gevo_2024": ("data_notes", "market_shares", "production"),
    "owid_ifr_robots": ("data_notes", "market_shares", "production"),
    "ca_dmv_av": ("av_testing", "data_notes"),
    "epoch_ai": ("ai_models", "data_notes"),
    "chip_dataset": ("chip_products", "data_notes"),
    "cset_eto_supply_chain": ("data_notes", "market_shares", "supply_chain_provision"),
}


def sources_of(table: str) -> tuple[str, ...]:
    """The sources whose readers return ``table``, in ingestion order."""
    return tuple(s for s in SOURCES if table in SOURCE_TABLES[s])


def reader(name: str) -> ModuleType:
    """The reader module of a source (``INFO`` and ``read(raw_dir)``)."""
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
    return importlib.import_module(f"{__name__}.{name}")
