"""One materialisation of the whole asset graph on a small panel, in a temporary warehouse: the
main job as ``make run`` runs it (real Dagster instance, real DuckDB file, real samplers with the
default sampler settings), with the pooled learning panel restricted to :data:`INDUSTRIES` and
every other fit on its full data, as the race needs them.

``tests/conftest.py`` runs it once per session (fixture ``pipeline``) for the tests that read
what the main job writes: ``tests/defs/test_pipeline_assets.py`` and ``learnrace race --spec``
in ``tests/commands/test_progress.py``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

#: The pooled learning panel's industries (the energy, solar and wind series).
INDUSTRIES = ["energy", "solar", "wind"]


@dataclass(frozen=True)
class PipelineRun:
    """The Dagster result of the run, the warehouse file, the work folder (``fits/assets/...``
    posteriors, plots, population prior) and the loaded definitions; unpacks as that tuple."""

    result: dg.ExecuteInProcessResult
    db: Path
    work: Path
    definitions: dg.Definitions

    def __iter__(self):
        return iter((self.result, self.db, self.work, self.definitions))


def materialise(tmp: Path) -> PipelineRun:
    """Materialise every asset and asset check into ``tmp`` (``DAGSTER_HOME`` in
    ``tmp/dagster_home``, warehouse ``tmp/w.duckdb``, work folder ``tmp/work``); failures are
    recorded in the result, not raised."""
    from learnrace_pipeline.definitions import defs
    from learnrace_pipeline.defs.resources import CalibrationSettings, build_resources

    home = tmp / "dagster_home"
    home.mkdir()
    db, work = tmp / "w.duckdb", tmp / "work"
    definitions = defs()
    settings = CalibrationSettings(work_dir=str(work), industries=INDUSTRIES)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        with dg.DagsterInstance.get() as instance:
            result = dg.materialize(
                [*definitions.assets, *definitions.asset_checks],
                instance=instance,
                resources=build_resources(db_path=str(db), calibration=settings),
                raise_on_error=False,
            )
    return PipelineRun(result, db, work, definitions)
