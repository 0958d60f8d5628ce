"""Writing files so that readers never see a partial one.

:func:`write_atomic_bytes` writes to a temporary file in the target's folder, flushes it to disk
and renames it over the target (an atomic replace on POSIX and Windows), so on any error the
target is left as it was. Used for the forecast output files and the population-prior file.

Temporary names are unique (:func:`create_temporary`: a random part, created with ``O_EXCL``),
so two writers of one target, threads or processes, never share a temporary file: the target
ends up whole from one of them. The temporary file is created with mode ``0o666`` and the kernel
applies the process umask, as for any new file; the umask is never read or changed here (setting
it to learn it, as ``os.umask`` forces, would change it for every thread of the process for that
moment).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError


def temporary_name(path: Path, suffix: str = "") -> Path:
    """A fresh random name beside ``path``: ``.<name>.<random>.tmp<suffix>``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp{suffix}")


def create_temporary(path: str | Path, suffix: str = "") -> tuple[int, Path]:
    """(descriptor open for writing, path) of a new empty file beside ``path`` with a name no
    other writer has (:func:`temporary_name`, created exclusively), mode ``0o666`` less the
    umask."""
    path = Path(path)
    for _ in range(100):
        tmp = temporary_name(path, suffix)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        return fd, tmp
    raise FileExistsError(f"no free temporary name beside {path}")


def write_atomic_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError("output folder does not exist", source="output", file=str(folder))
    fd, tmp = create_temporary(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
