"""Saved fits: two processes saving or publishing the same fit never share a temporary file."""

from __future__ import annotations

import multiprocessing as mp
import os
import stat
from pathlib import Path

import numpy as np
import xarray as xr

from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.cache import publish, save_atomic


def _tree(i: int) -> xr.DataTree:
    attrs = {a: f"{a}-{i}" for a in base.PROVENANCE_ATTRS}
    attrs["model_id"], attrs["data_version"] = "m", "d" * 16
    posterior = xr.Dataset({"w": (("chain", "draw"), np.full((2, 20_000), float(i)))})
    dt = xr.DataTree.from_dict({"posterior": posterior})
    dt.attrs.update(attrs)
    return dt


def _save_many(path: str, i: int, n: int) -> None:
    for _ in range(n):
        save_atomic(_tree(i), Path(path))


def test_processes_saving_one_fit_leave_one_whole_file(tmp_path):
    path = tmp_path / "fits" / "wright-m-dddd.nc"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_save_many, args=(str(path), i, 5)) for i in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    got = base.load(path)
    w = np.unique(got["posterior"]["w"].values)
    assert len(w) == 1 and w[0] in (1.0, 2.0)  # one writer's fit, whole
    assert got.attrs["code_version"] == f"code_version-{int(w[0])}"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~_umask()


def test_publish_links_the_saved_fit_and_leaves_no_temporary(tmp_path):
    fits = tmp_path / "fits"
    saved = save_atomic(_tree(3), fits / "wright-m-dddddddddddddddd.nc")
    target = fits / "assets" / "calibration" / "wright_fit.nc"
    path, written = publish(_tree(3), target, fits)
    assert written and os.path.samefile(path, saved)
    assert publish(_tree(3), target, fits) == (target, False)  # same ids: left alone
    assert [p.name for p in target.parent.iterdir()] == ["wright_fit.nc"]


def _umask() -> int:
    # Test-only: the suite is single-threaded here.
    mask = os.umask(0)
    os.umask(mask)
    return mask
