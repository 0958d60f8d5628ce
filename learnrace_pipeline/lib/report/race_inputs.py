"""What the race report is built from: the race specification and the warehouse's tables.

:func:`read_inputs` reads, read-only, every table of the ``race`` schema the warehouse holds
(``race.race``, ``race.pairwise``, ``race.attribution``, ``race.scenarios``,
``race.race_hindcast`` and any other), the calibration and evaluation tables the report shows
(:data:`CALIBRATION_TABLES`) and the tidy tables of the race's capability and volume metrics
(the warehouse's ``harmonized`` copies when they hold every column the metrics read, else the
shipped snapshot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.race import spec as race_spec
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, RaceSpec
from learnrace_pipeline.lib.storage import warehouse

SOURCE = "race report"
RACE_SCHEMA = "race"
#: The race's parts every full report shows, in the order of the page, each with the tables
#: that can hold it (any one of them is enough).
RACE_TABLES: dict[str, tuple[str, ...]] = {
    "race": ("race.race",),
    "pairwise": ("race.pairwise",),
    "attribution": ("race.attribution",),
    "scenarios": ("race.scenarios",),
    "race hindcast": ("evaluation.race_hindcast_coverage", "race.race_hindcast"),
    "ledger": ("race.ledger",),
}
#: Tables outside the race schema the report shows when the warehouse has them.
CALIBRATION_TABLES = (
    "calibration.learning_rates",
    "calibration.solar_nation_rates",
    "calibration.ai_frontier",
    "calibration.av_capability",
    "calibration.national_learning_rates",
    "calibration.node_frontier",
    "evaluation.race_hindcast",
    "evaluation.race_hindcast_coverage",
    "evaluation.scores_by_horizon_group",
    "evaluation.scores_by_horizon",
    "harmonized.technologies",
)
#: The learning-curve model whose series-level rates are plotted (Wright, Student-t, MA(1)).
DEFAULT_LEARNING_MODEL = "wright_student_t_ma1"
#: At most this many rows of a table are shown; the rest are counted.
MAX_ROWS = 60
#: The roles whose observed yearly figures the report plots.
PLOTTED_ROLES = ("capability", "volume")


@dataclass(frozen=True)
class ReportInputs:
    """What a report is built from: the specification, tables keyed ``"schema.table"`` (only
    those that exist), the tidy tables of the race metrics and where they all came from."""

    spec: RaceSpec
    tables: Mapping[str, pl.DataFrame]
    tidy: Mapping[str, pl.DataFrame] = field(default_factory=dict)
    source: str = ""
    tidy_source: str = ""
    tidy_reason: str = ""  # why the tidy tables come from where they do, when not the warehouse

    def get(self, name: str) -> pl.DataFrame | None:
        return self.tables.get(name)

    def present(self, part: str) -> bool:
        """Whether a table holding the race's ``part`` (a key of :data:`RACE_TABLES`) exists."""
        return any(t in self.tables for t in RACE_TABLES[part])


def _tidy_names(spec: RaceSpec) -> list[str]:
    return sorted({m.table for ind in spec.industries for m in _plotted(ind)})


def _plotted(ind: IndustrySpec) -> list[Metric]:
    """The metrics whose observed figures the report plots: capability and volume, not a
    learning rate."""
    return [m for m in ind.metrics() if m.role in PLOTTED_ROLES and m.measure != "learning_rate"]


def read_inputs(db_path: str | Path, spec: RaceSpec | None = None) -> ReportInputs:
    """The report's tables from the warehouse at ``db_path`` (read-only): every table of the
    ``race`` schema, :data:`CALIBRATION_TABLES` and the tidy tables of the plotted metrics
    (``harmonized``, else the snapshot). Raises :class:`DataError` when the file is absent."""
    spec = spec or race_spec.load_spec()
    path = Path(db_path)
    if not path.is_file():
        raise DataError(
            "warehouse file not found: run `learnrace run` (or `make run`) first, or pass --db",
            source=SOURCE,
            file=str(path),
        )
    tidy_names = _tidy_names(spec)
    tables: dict[str, pl.DataFrame] = {}
    with warehouse.connect(path, read_only=True) as con:
        present = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal"
        ).fetchall()
        wanted = set(CALIBRATION_TABLES) | {f"harmonized.{t}" for t in tidy_names}
        for schema, name in present:
            key = f"{schema}.{name}"
            deployment = schema == "calibration" and "deployment" in name
            if schema == RACE_SCHEMA or key in wanted or deployment:
                tables[key] = warehouse.fetch_pl(con, f'SELECT * FROM "{schema}"."{name}"')
    tidy = {t: tables.pop(f"harmonized.{t}") for t in tidy_names if f"harmonized.{t}" in tables}
    tidy_source, tidy_reason = f"warehouse {path} (harmonized)", ""
    if any(_columns_missing(spec, t, tidy.get(t)) for t in tidy_names):
        tidy = race_spec.snapshot_tables(tables=tidy_names)
        tidy_source = "the shipped snapshot (datasets/)"
        tidy_reason = (
            "the warehouse's harmonized tables are absent or lack columns the race metrics read"
        )
    return ReportInputs(spec, tables, tidy, f"warehouse {path}", tidy_source, tidy_reason)


def _columns_missing(spec: RaceSpec, table: str, frame: pl.DataFrame | None) -> bool:
    """Whether ``frame`` (a tidy table) is absent or lacks a column a plotted metric reads."""
    if frame is None:
        return True
    need = set()
    for ind in spec.industries:
        for m in _plotted(ind):
            if m.table == table:
                need |= {m.value, m.nation_column, m.time_column, m.per}
                need |= {col for col, _ in m.filter}
    return bool((need - {None}) - set(frame.columns))
