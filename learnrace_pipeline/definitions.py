"""Dagster entry point: every definition under ``defs/`` is loaded from the folder, and every
asset gets its code version (:func:`learnrace_pipeline.incremental.with_code_versions`)."""

from pathlib import Path

import dagster as dg

from learnrace_pipeline.incremental import with_code_versions


@dg.definitions
def defs() -> dg.Definitions:
    return with_code_versions(
        dg.load_from_defs_folder(path_within_project=Path(__file__).parent / "defs")
    )
