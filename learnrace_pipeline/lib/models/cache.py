"""Fit once, reuse until something a fit depends on changes.

A fit's file name carries its ``model_id`` (model type, model config, sampler config, code
version) and the ``data_version`` of its input frame, so re-running a pipeline on unchanged data
and code loads the saved posterior instead of sampling again. Loading re-checks the model id.

:func:`publish` places a fit at a fixed path (a pipeline output): a hard link to the saved fit
when one exists, so a posterior is stored once on disk; nothing is rewritten when the file there
already holds the same model id and data version.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.storage.files import (
    create_temporary,
    sweep_temporaries,
    temporary_name,
)


def fit_path(fits_dir: Path, name: str, model_id: str, data_version: str) -> Path:
    """``<fits_dir>/<name>-<model_id>-<data_version[:16]>.nc``."""
    return Path(fits_dir) / f"{name}-{model_id}-{data_version[:16]}.nc"


def save_atomic(dt: xr.DataTree, path: Path) -> Path:
    """Write ``dt`` to ``path`` through a uniquely named temporary file beside it and a rename:
    readers see the old file or the new one, never part of one, and two writers (threads or
    processes fitting the same model) never share a temporary file. Temporaries of writers
    killed mid-write are removed by the next save of the same path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temporary(path, suffix=path.suffix)  # reserved: nobody else writes there
    os.close(fd)
    try:
        base.save(dt, tmp)  # truncates the reserved file
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _link_atomic(saved: Path, target: Path) -> None:
    """Replace ``target`` by a hard link to ``saved``: link under a fresh random name (``link``
    fails rather than reuse an existing name), then rename; links left by killed writers are
    removed first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_temporaries(target, target.suffix)
    for _ in range(100):
        tmp = temporary_name(target, target.suffix)
        try:
            os.link(saved, tmp)
        except FileExistsError:
            continue
        try:
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        return
    raise FileExistsError(f"no free temporary name beside {target}")


def fit_or_load(
    fits_dir: Path, name: str, model_id: str, data_version: str, fit: Callable[[], xr.DataTree]
) -> tuple[xr.DataTree, bool]:
    """(fit, reused): load the saved fit for these ids if present, else run ``fit`` and save it."""
    path = fit_path(fits_dir, name, model_id, data_version)
    if path.exists():
        return base.load(path, expected_model_id=model_id), True
    dt = fit()
    save_atomic(dt, path)
    return dt, False


def _ids(path: Path) -> tuple[str, str] | None:
    try:
        with xr.open_datatree(path, engine="h5netcdf") as opened:
            return opened.attrs.get("model_id", ""), opened.attrs.get("data_version", "")
    except (OSError, ValueError):
        return None


def publish(dt: xr.DataTree, target: Path, fits_dir: Path | None = None) -> tuple[Path, bool]:
    """Place ``dt`` at ``target`` (netCDF); (path, written).

    Skipped when ``target`` already holds the same ``model_id`` and ``data_version``. Otherwise a
    hard link to the fit saved under ``fits_dir`` by :func:`fit_or_load` (same ids) replaces
    ``target`` atomically, or, without one, ``dt`` is written there.
    """
    target = Path(target)
    ids = (dt.attrs.get("model_id", ""), dt.attrs.get("data_version", ""))
    if target.exists() and _ids(target) == ids:
        return target, False
    saved = None
    if fits_dir is not None and all(ids):
        saved = next(iter(sorted(Path(fits_dir).glob(f"*-{ids[0]}-{ids[1][:16]}.nc"))), None)
    if saved is not None:
        try:
            _link_atomic(saved, target)
            return target, True
        except OSError:
            pass  # no hard links here (another file system): write a copy
    save_atomic(dt, target)
    return target, True
