"""Atomic file writes: the target is replaced whole or left as it was."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.storage.files import write_atomic_bytes


def test_write_replaces_the_file_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old contents\n")
    assert write_atomic_bytes(b"a,b\n1,2\n", target) == target
    assert target.read_bytes() == b"a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_write_refuses_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="output folder does not exist"):
        write_atomic_bytes(b"x", tmp_path / "nope" / "out.csv")


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old contents\n")
    with pytest.raises(TypeError):
        write_atomic_bytes("not bytes", target)  # type: ignore[arg-type]
    assert target.read_bytes() == b"old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
