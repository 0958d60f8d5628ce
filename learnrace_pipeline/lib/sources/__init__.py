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


def reader(name: str) -> ModuleType:
    """The reader module of a source (``INFO`` and ``read(raw_dir)``)."""
    if name not in SOURCES:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES)}")
    return importlib.import_module(f"{__name__}.{name}")
