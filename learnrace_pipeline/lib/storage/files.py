"""Writing files so that readers never see a partial one.

:func:`write_atomic_bytes` writes to a temporary file in the target's folder, flushes it to disk
and renames it over the target (an atomic replace on POSIX and Windows), so on any error the
target is left as it was. Used for the forecast output files and the population-prior file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError


def write_atomic_bytes(data: bytes, path: str | Path) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and an atomic rename.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise DataError("output folder does not exist", source="output", file=str(folder))
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
