"""The versioned cache of upstream raw files that ``learnrace refresh`` downloads.

Layout under the cache folder (default ``<data folder>/raw_cache``, the data folder being the
warehouse's folder, ``.learnrace/``; ``$LEARNRACE_RAW_CACHE`` overrides)::

    <source>/manifest.json                 the current version: the one pointer readers follow
    <source>/last_attempt.json             the latest refresh attempt (status, error, time UTC)
    <source>/versions/<sha256>/<source>/…  the raw files of one version, laid out as the reader
                                           expects (``read(versions/<sha256>)``)
    <source>/versions/<sha256>/manifest.json  that version's manifest
    <source>/.staging-…/                   a refresh in progress (removed by the next refresh)
    <source>/.lock                         held (flock) by the refreshing process

A version id is the sha256 of its file list (``<relative path> <sha256 of the file>`` lines,
sorted). A manifest holds the version id, the source, and per file: URL, sha256, size in bytes,
retrieval time (UTC, ISO 8601), ETag and Last-Modified. A new version is staged whole, validated
by the caller, moved into ``versions/`` and only then made current by replacing ``manifest.json``
atomically (:func:`learnrace_pipeline.lib.storage.files.write_atomic_bytes`): a reader sees the
old version or the new one, never a mix, whatever happens to the writer. The last
:data:`KEEP_VERSIONS` versions are kept; older ones are pruned by the refresh.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from learnrace_pipeline.lib.storage.files import write_atomic_bytes
from learnrace_pipeline.lib.storage.locks import hold
from learnrace_pipeline.lib.storage.warehouse import default_db_path

ENV_CACHE = "LEARNRACE_RAW_CACHE"
MANIFEST = "manifest.json"
LAST_ATTEMPT = "last_attempt.json"
#: Versions kept per source (the current one always among them).
KEEP_VERSIONS = 3


def default_cache_dir(db_path: str | Path | None = None) -> Path:
    """``$LEARNRACE_RAW_CACHE``, else ``raw_cache`` beside the warehouse file."""
    env = os.environ.get(ENV_CACHE, "").strip()
    if env:
        return Path(env)
    return Path(db_path or default_db_path()).resolve().parent / "raw_cache"


def utc_now() -> str:
    """The current time, UTC, ISO 8601 to the second (``2026-12-06T21:00:00Z``)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class CachedFile:
    """One raw file of a version: where it came from and what it holds."""

    path: str  # relative to the source folder
    url: str  # the declared URL
    fetched_url: str  # the URL that answered (after a URL map and redirects)
    sha256: str
    size: int  # bytes
    retrieved_at: str  # UTC, when this content was last downloaded or confirmed by a 304
    etag: str = ""
    last_modified: str = ""


@dataclass(frozen=True)
class Manifest:
    """A version of a source's raw files."""

    source: str
    version: str
    created_at: str  # UTC, when this version became current
    files: dict[str, CachedFile] = field(default_factory=dict)

    def to_json(self) -> bytes:
        d = asdict(self)
        d["files"] = [asdict(f) for f in self.files.values()]
        return (json.dumps(d, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        d = json.loads(data)
        files = {f["path"]: CachedFile(**f) for f in d.pop("files")}
        return cls(files=files, **d)


def version_id(files: dict[str, str]) -> str:
    """sha256 of the sorted ``<relative path> <sha256>`` lines of a version's files."""
    text = "".join(f"{p} {h}\n" for p, h in sorted(files.items()))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source_dir(cache_dir: Path, source: str) -> Path:
    return Path(cache_dir) / source


def version_dir(cache_dir: Path, source: str, version: str) -> Path:
    """The folder to pass to the source's reader (it holds ``<source>/<files>``)."""
    return source_dir(cache_dir, source) / "versions" / version


def current(cache_dir: Path, source: str) -> Manifest | None:
    """The current version's manifest, or None if the source was never refreshed (or its
    version folder is gone)."""
    path = source_dir(cache_dir, source) / MANIFEST
    if not path.is_file():
        return None
    m = Manifest.from_json(path.read_bytes())
    if not version_dir(cache_dir, source, m.version).is_dir():
        return None
    return m


def current_dir(cache_dir: Path, source: str) -> Path | None:
    """The current version's folder (for ``reader.read``), or None."""
    m = current(cache_dir, source)
    return None if m is None else version_dir(cache_dir, source, m.version)


@contextlib.contextmanager
def locked(cache_dir: Path, source: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the source's refresh lock (one refresh of a source at a time, across processes)."""
    with hold(
        source_dir(cache_dir, source) / ".lock",
        f"the raw cache of {source}",
        timeout=timeout,
        consequence="the source was not refreshed",
    ):
        yield


def new_staging(cache_dir: Path, source: str) -> Path:
    """A fresh staging folder for a new version (call while holding :func:`locked`); staging
    folders left by killed refreshes are removed first."""
    sdir = source_dir(cache_dir, source)
    sdir.mkdir(parents=True, exist_ok=True)
    for old in sdir.glob(".staging-*"):
        shutil.rmtree(old, ignore_errors=True)
    staging = sdir / f".staging-{os.getpid()}-{secrets.token_hex(4)}"
    (staging / source).mkdir(parents=True)
    return staging


def link_or_copy(src: Path, dst: Path) -> None:
    """Hard-link ``src`` at ``dst`` (versions share unchanged files), or copy it."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def commit(cache_dir: Path, source: str, staging: Path, manifest: Manifest) -> Path:
    """Make the staged version current: move it into ``versions/`` (or drop it when that version
    already exists), write its manifest, then replace ``manifest.json`` atomically."""
    target = version_dir(cache_dir, source, manifest.version)
    if target.is_dir():
        shutil.rmtree(staging, ignore_errors=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic_bytes(manifest.to_json(), staging / MANIFEST)
        os.replace(staging, target)
    write_atomic_bytes(manifest.to_json(), target / MANIFEST)
    write_atomic_bytes(manifest.to_json(), source_dir(cache_dir, source) / MANIFEST)
    prune(cache_dir, source, keep=manifest.version)
    return target


def update_validators(cache_dir: Path, source: str, manifest: Manifest) -> None:
    """Rewrite the current manifest (same version, new retrieval times or validators)."""
    write_atomic_bytes(manifest.to_json(), source_dir(cache_dir, source) / MANIFEST)


def prune(cache_dir: Path, source: str, keep: str) -> None:
    """Remove all but the newest :data:`KEEP_VERSIONS` versions (never ``keep``)."""
    vdir = source_dir(cache_dir, source) / "versions"
    versions = sorted(
        (p for p in vdir.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True
    )
    kept = 1
    for p in versions:
        if p.name == keep:
            continue
        if kept < KEEP_VERSIONS:
            kept += 1
            continue
        shutil.rmtree(p, ignore_errors=True)


def record_attempt(cache_dir: Path, source: str, status: str, error: str = "") -> None:
    """Write the latest attempt: ``{"at": UTC time, "status": ..., "error": ...}``."""
    sdir = source_dir(cache_dir, source)
    sdir.mkdir(parents=True, exist_ok=True)
    body = {"at": utc_now(), "status": status, "error": error}
    write_atomic_bytes((json.dumps(body, indent=2) + "\n").encode("utf-8"), sdir / LAST_ATTEMPT)


def last_attempt(cache_dir: Path, source: str) -> dict | None:
    """The latest attempt recorded by :func:`record_attempt`, or None."""
    path = source_dir(cache_dir, source) / LAST_ATTEMPT
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
