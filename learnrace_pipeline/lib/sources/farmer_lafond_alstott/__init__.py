"""Reader for ``farmer_lafond_alstott``: Farmer & Lafond (2016) cost series and Magee et al.
(2016) performance series (via jeffalstott).

Files (relative to ``raw_dir/farmer_lafond_alstott``):

- ``data/original/Farmer_Lafond_Data.csv`` (read, :mod:`.original`): the Farmer & Lafond cost
  series, wide (row 1 names, row 2 units, row 3 a category code, then one row per year).
- ``data/time_series_metadata.csv`` (read, :mod:`._common`): one row per column of
  ``time_series.csv`` with ``Name, Units, Source, Type, n, Start, Stop, Domain``; describes the
  Farmer_Lafond series (type, domain) and gives each Magee series' unit, type and domain.
- ``data/time_series.csv`` (read for the Magee series, :mod:`.magee`): one column per series.
  Its Farmer_Lafond columns are the reciprocals (1/price, Alstott's higher-is-better convention)
  of a subset of the original points, so the original file is the better copy and they are not
  read.

**Magee et al. series.** Read: the 30 of type ``Performance`` less one derived copy (29 in this
copy), as ``metric_kind = "performance"`` at nation ``WLD``, ids ``magee_<name>``, each unit text
mapped to a canonical unit by a declared table (``magee.UNITS``); they reach the Moore's-law
fit of performance series (``calibration/performance_fit``, 1/performance). Skipped, each with a
data note naming its type and the reason: ``Price`` (performance per dollar of an unstated
year: no price basis year, several composite indices), ``Price_Questionable`` and
``Performance_Questionable`` (flagged questionable upstream), and the ``Performance`` series
``02C_magnetic_memory_tape_harddisk_mbits_per_cc``, the upper envelope of the tape and hard-disk
series (every value is one of theirs; read both, it would count those points twice).

Output: ``technologies`` and ``cost_observations`` (no production: this source has none; use
``pcdb_carnegie`` for Wright's-law fits), plus ``data_notes``. Farmer & Lafond ids are
``farmer_lafond_alstott:<name as in row 1>``; their units are canonicalised as in
:mod:`.._pcdb_common` (``1966 USD/lbs`` -> ``1966 USD/lb``, ``US cents/kWh`` -> ``USD/kWh`` with
values divided by 100, ``1955 Yen`` -> ``1955 JPY/unit``); non-money "costs" (gallons/mile,
acres/1000 bushels, heads/million lb) have ``metric_kind = "input_per_output"``, all others
``price`` (Farmer & Lafond treat every series as a price).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.sources._sheets import conformed
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo
from learnrace_pipeline.lib.sources.farmer_lafond_alstott._common import (
    DATA_FILE,
    META_COLUMNS,
    META_FILE,
    SOURCE,
    TS_FILE,
    read_metadata,
)
from learnrace_pipeline.lib.sources.farmer_lafond_alstott.magee import read_magee
from learnrace_pipeline.lib.sources.farmer_lafond_alstott.original import read_wide

__all__ = ["DATA_FILE", "INFO", "META_COLUMNS", "META_FILE", "SOURCE", "TS_FILE", "read"]

INFO = SourceInfo(
    name=SOURCE,
    producer="J. Doyne Farmer & François Lafond (cost series, mostly from the Santa Fe PCDB); "
    "Magee et al. (performance series); compiled by Jeff Alstott",
    citation="Farmer & Lafond (2016), How predictable is technological progress?, Research "
    "Policy 45(3): 647-665; Magee, Basnet, Funk & Benson (2016), Quantitative empirical trends "
    "in technical performance, TFSC 104",
    url="https://github.com/jeffalstott/technologytimeseries_forecasting",
    licence="No licence file; the README asks academics to cite the papers (terms unstated)",
    retrieval_date="2018-01-15",
    notes="HEAD cc3c11a781d18ef45ba140d4eadf09005ed5bc86 (commit date). Some series and recent "
    "years are withheld from this copy for evaluation.",
)


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Parse ``raw_dir/farmer_lafond_alstott``; return conformed tables plus ``data_notes``."""
    raw_dir = Path(raw_dir)
    notes = Notes(SOURCE)
    meta = read_metadata(raw_dir)
    farmer = {k: m for k, m in meta.items() if m.source == "Farmer_Lafond"}
    tech_rows, cost_rows = read_wide(raw_dir, notes, farmer)
    magee_tech, magee_cost = read_magee(raw_dir, notes, meta)
    return conformed(
        SOURCE,
        {"technologies": tech_rows + magee_tech, "cost_observations": cost_rows + magee_cost},
        notes,
    )
