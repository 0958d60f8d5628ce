"""Fit once, reuse until something a fit depends on changes.

A fit's file name carries its ``model_id`` (model type, model config, sampler config, code
version) and the ``data_version`` of its input frame, so re-running a pipeline on unchanged data
and code loads the saved posterior instead of sampling again. Loading re-checks the model id.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import xarray as xr

from learnrace_pipeline.lib.models import base


def fit_path(fits_dir: Path, name: str, model_id: str, data_version: str) -> Path:
    """``<fits_dir>/<name>-<model_id>-<data_version[:16]>.nc``."""
    return Path(fits_dir) / f"{name}-{model_id}-{data_version[:16]}.nc"


def fit_or_load(
    fits_dir: Path, name: str, model_id: str, data_version: str, fit: Callable[[], xr.DataTree]
) -> tuple[xr.DataTree, bool]:
    """(fit, reused): load the saved fit for these ids if present, else run ``fit`` and save it."""
    path = fit_path(fits_dir, name, model_id, data_version)
    if path.exists():
        return base.load(path, expected_model_id=model_id), True
    dt = fit()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.nc")
    base.save(dt, tmp)
    tmp.replace(path)
    return dt, False
