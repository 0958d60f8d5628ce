"""Shared fixtures: the raw-data folder (skipped where absent) and a headless plotting backend."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[1]
RAW_DIR = Path(os.environ.get("LEARNRACE_RAW_DIR", REPO.parent / "shared" / "data" / "raw"))


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    """The public raw files (../shared/data/raw); tests that need them skip where it is absent."""
    if not RAW_DIR.is_dir():
        pytest.skip(f"raw data folder {RAW_DIR} is absent: these tests need the upstream files")
    return RAW_DIR


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """(result, db, work_dir, definitions) of one materialisation of the whole asset graph on a
    small panel (:mod:`tests.pipeline_run`), shared by every test that reads what the main job
    writes."""
    from tests.pipeline_run import materialise

    return materialise(tmp_path_factory.mktemp("pipeline"))
