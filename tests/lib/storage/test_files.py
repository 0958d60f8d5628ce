"""Atomic file writes: the target is replaced whole or left as it was."""

from __future__ import annotations

import os
import stat
import threading
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


def test_the_umask_is_honoured_and_never_changed(tmp_path: Path, monkeypatch) -> None:
    """The temporary file is created with 0o666 and the kernel applies the umask: the umask is
    neither read nor set (``os.umask`` changes it for every thread of the process)."""
    old = os.umask(0o027)
    try:

        def no_umask(*_):
            raise AssertionError("write_atomic_bytes must not call os.umask")

        monkeypatch.setattr(os, "umask", no_umask)
        write_atomic_bytes(b"x", tmp_path / "out.csv")
        monkeypatch.undo()
        assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_concurrent_writers_of_one_target_never_leave_it_mixed_or_missing(tmp_path: Path) -> None:
    """Writer threads replace one target with payloads of different sizes while a reader reads
    it: every read is one writer's whole payload; no temporary file is left."""
    target = tmp_path / "out.bin"
    payloads = [bytes([i]) * (50_000 + 7_919 * i) for i in range(4)]
    write_atomic_bytes(payloads[0], target)
    stop = threading.Event()
    bad: list[str] = []

    def writer(i: int) -> None:
        for _ in range(40):
            write_atomic_bytes(payloads[i], target)

    def reader() -> None:
        while not stop.is_set():
            try:
                data = target.read_bytes()
            except FileNotFoundError:
                bad.append("missing")
                continue
            if data not in payloads:
                bad.append(f"mixed: {len(data)} bytes")

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stop.set()
    r.join(10)
    assert bad == []
    assert target.read_bytes() in payloads
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]
