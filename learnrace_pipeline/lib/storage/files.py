"""Writing files so that readers never see a partial one, even after ``kill -9``.

:func:`write_atomic_bytes` writes to a temporary file in the target's folder, flushes it to disk
and renames it over the target (an atomic replace on POSIX and Windows), so on any error, and
when the writer is killed at any moment, the target is either the old file or the whole new one.
Used for the forecast output files, the population-prior file, the report and ``dagster.yaml``;
saved fits (``lib.models.cache``) write netCDF into a temporary file reserved here.
:func:`write_atomic_files` writes several files (a CSV and its sidecar) the same way, all
temporaries first and then the renames back to back.

Temporary names are unique (:func:`create_temporary`: a random part, created with ``O_EXCL``),
so two writers of one target, threads or processes, never share a temporary file: the target
ends up whole from one of them. The temporary file is created with mode ``0o666`` and the kernel
applies the process umask, as for any new file; the umask is never read or changed here (setting
it to learn it, as ``os.umask`` forces, would change it for every thread of the process for that
moment).

A writer killed mid-write (``kill -9``, power loss) cannot remove its temporary file. Each
temporary name therefore carries its writer: ``.<name>.<host>-<pid>-<start>.<random>.tmp<suffix>``
(``host`` a 6-hex hash of the host name, ``start`` the process start time from
``/proc/<pid>/stat``, which tells a reused PID apart). The next write of the same target
(:func:`sweep_temporaries`) removes the temporaries of writers on this host that no longer run;
a live writer's, another host's and unparseable names are left alone.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import re
import secrets
import socket
from collections.abc import Mapping
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.storage.locks import process_gone, process_start


@functools.cache
def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


@functools.cache
def _owner(pid: int) -> str:
    # cached per PID: a forked child has another PID, hence its own entry
    return f"{_host_tag()}-{pid}-{process_start(pid) or 0}"


def temporary_name(path: Path, suffix: str = "") -> Path:
    """A fresh random name beside ``path`` naming this process:
    ``.<name>.<host>-<pid>-<start>.<random>.tmp<suffix>``."""
    return path.with_name(f".{path.name}.{_owner(os.getpid())}.{secrets.token_hex(8)}.tmp{suffix}")


_OWNER = re.compile(r"^(?P<host>[0-9a-f]{6})-(?P<pid>\d+)-(?P<start>\d+)\.[0-9a-f]{16}$")


def temporaries(path: str | Path, suffix: str = "") -> list[Path]:
    """The temporary files beside ``path`` made by :func:`temporary_name` (any writer)."""
    path = Path(path)
    pattern = f".{glob.escape(path.name)}.*.tmp{glob.escape(suffix)}"
    return sorted(path.parent.glob(pattern)) if path.parent.is_dir() else []


def sweep_temporaries(path: str | Path, suffix: str = "") -> list[Path]:
    """Remove the temporary files beside ``path`` left by writers on this host that no longer
    run (killed mid-write); return the paths removed."""
    path = Path(path)
    head, tail = f".{path.name}.", f".tmp{suffix}"
    removed = []
    for tmp in temporaries(path, suffix):
        m = _OWNER.match(tmp.name[len(head) : len(tmp.name) - len(tail)])
        if m is None or m["host"] != _host_tag():
            continue
        start = "" if m["start"] == "0" else m["start"]
        if process_gone(int(m["pid"]), start):
            try:
                tmp.unlink()
            except FileNotFoundError:
                continue  # another writer swept it first
            removed.append(tmp)
    return removed


def create_temporary(path: str | Path, suffix: str = "") -> tuple[int, Path]:
    """(descriptor open for writing, path) of a new empty file beside ``path`` with a name no
    other writer has (:func:`temporary_name`, created exclusively), mode ``0o666`` less the
    umask. Temporaries of the same target left by dead writers are removed first."""
    path = Path(path)
    sweep_temporaries(path, suffix)
    for _ in range(100):
        tmp = temporary_name(path, suffix)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def _check_folder(path: Path) -> None:
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError("output folder does not exist", source="output", file=str(folder))


def _write_temporary(data: bytes, path: Path) -> Path:
    """A temporary file beside ``path`` holding ``data``, flushed to disk."""
    fd, tmp = create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_atomic_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    _check_folder(path)
    tmp = _write_temporary(data, path)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_atomic_files(files: Mapping[str | Path, bytes]) -> list[Path]:
    """Write several files (path -> bytes) each through its own temporary file: every
    temporary is written and flushed first, then they are renamed in the given order, back to
    back. An error while writing leaves every target as it was; only a kill between two renames
    (microseconds) can leave the first replaced and not the next, so a reader of a set should
    check that its members agree (e.g. a hash of one recorded in the other)."""
    paths = [Path(p) for p in files]
    for p in paths:
        _check_folder(p)
    tmps: list[Path] = []
    try:
        for p, data in zip(paths, files.values(), strict=True):
            tmps.append(_write_temporary(data, p))
        for tmp, p in zip(tmps, paths, strict=True):
            os.replace(tmp, p)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    return paths
