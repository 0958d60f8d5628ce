"""Refresh sources from upstream into the raw cache, and load a source in refresh mode.

:func:`refresh_source` downloads every file a source declares (:data:`.refresh_spec.REFRESH`)
with conditional GETs (:func:`.refresh_http.fetch`) into a staging folder, parses the staged set
with the source's own reader (its strict schema; the tables must be the ones declared in
``SOURCE_TABLES``) and only then makes it the current version of the raw cache
(:mod:`.raw_cache`). Its :class:`Outcome` is one of

- ``new``: a new version is current;
- ``unchanged``: every file answered 304, or the bytes equal the current version's;
- ``failed``: a download or the reader refused; the current version (if any) stays current, and
  ``message`` names the source and the URL (or the file, row and column the reader names);
- ``not refreshable``: the source has no stable direct file URL (``message`` says why).

Refresh mode (:func:`refresh_mode`): ``$LEARNRACE_REFRESH`` or the run tag ``learnrace/refresh``
(the tag wins): ``off`` (default: the shipped snapshot), ``cache`` (``1``/``on``: the cached
current version where one exists) or ``fetch`` (refresh first, then as ``cache``).
:func:`load_refreshed` loads one source in refresh mode and never raises for a failed refresh: it
falls back to the last good data (the cached current version, else the snapshot) and reports
``refresh_status`` and ``refresh_error``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.sources import SOURCE_TABLES, SOURCES, reader
from learnrace_pipeline.lib.sources.refresh_http import FetchError, FetchSettings, fetch
from learnrace_pipeline.lib.sources.refresh_spec import (
    REFRESH,
    NotRefreshable,
    Refreshable,
    allowed_prefixes,
    is_allowed,
    map_url,
    parse_url_map,
)
from learnrace_pipeline.lib.storage import raw_cache, snapshot

ENV_MODE = "LEARNRACE_REFRESH"
TAG = "learnrace/refresh"
MODES = ("off", "cache", "fetch")
_ALIASES = {"": "off", "0": "off", "no": "off", "false": "off", "1": "cache", "on": "cache"}

NEW, UNCHANGED, FAILED, NOT_REFRESHABLE = "new", "unchanged", "failed", "not refreshable"


@dataclass(frozen=True)
class Outcome:
    """What a refresh of one source did; ``version`` is the current version after it (or "")."""

    source: str
    status: str
    message: str = ""
    version: str = ""
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows of a new version
    downloaded: int = 0  # files downloaded (HTTP 200)


def refresh_mode(tags: dict[str, str] | None = None) -> str:
    """``off``, ``cache`` or ``fetch``: the run tag ``learnrace/refresh`` if given, else
    ``$LEARNRACE_REFRESH``; an unknown value is a :class:`LearnraceError`."""
    text = (tags or {}).get(TAG)
    where = f"run tag {TAG}"
    if text is None:
        text, where = os.environ.get(ENV_MODE, ""), ENV_MODE
    value = _ALIASES.get(text.strip().lower(), text.strip().lower())
    if value not in MODES:
        raise LearnraceError(f"{where}={text!r}: expected off, cache (or 1) or fetch")
    return value


def _validate(source: str, folder: Path) -> dict[str, int]:
    """Parse a staged folder with the source's reader; rows per table, or LearnraceError."""
    try:
        tables = reader(source).read(folder)
    except LearnraceError:
        raise
    except Exception as e:  # a reader crash on odd content is a refusal, not a crash
        raise LearnraceError(f"source {source!r}: the reader failed: {e!r}") from e
    declared = set(SOURCE_TABLES[source])
    if set(tables) != declared:
        raise LearnraceError(
            f"source {source!r}: the reader returned tables {sorted(tables)}, "
            f"declared {sorted(declared)}"
        )
    return {t: df.height for t, df in sorted(tables.items())}


def refresh_source(
    source: str,
    *,
    cache_dir: Path,
    dataset_dir: Path = snapshot.DEFAULT_DATASETS,
    url_map: dict[str, str] | None = None,
    settings: FetchSettings | None = None,
    spec: Refreshable | NotRefreshable | None = None,
    sleep: Callable[[float], None] | None = None,
) -> Outcome:
    """Refresh one source (see the module docstring); never raises for a failed download or a
    refused file: the :class:`Outcome` says ``failed`` with the reason."""
    spec = spec or REFRESH[source]
    if isinstance(spec, NotRefreshable):
        return Outcome(source, NOT_REFRESHABLE, spec.reason)
    url_map = parse_url_map() if url_map is None else url_map
    cache_dir = Path(cache_dir)
    prefixes = allowed_prefixes(dataset_dir, source)
    with raw_cache.locked(cache_dir, source):
        cur = raw_cache.current(cache_dir, source)
        old_dir = raw_cache.current_dir(cache_dir, source)
        staging = raw_cache.new_staging(cache_dir, source)
        try:
            outcome = _refresh_locked(
                source, spec, cache_dir, staging, cur, old_dir, prefixes, url_map, settings, sleep
            )
        except LearnraceError as e:
            keep = f"; kept {'version ' + cur.version[:12] if cur else 'the shipped snapshot'}"
            outcome = Outcome(source, FAILED, f"{e}{keep}", cur.version if cur else "")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        raw_cache.record_attempt(
            cache_dir, source, outcome.status, outcome.message if outcome.status == FAILED else ""
        )
        return outcome


def _refresh_locked(
    source: str,
    spec: Refreshable,
    cache_dir: Path,
    staging: Path,
    cur: raw_cache.Manifest | None,
    old_dir: Path | None,
    prefixes: tuple[str, ...],
    url_map: dict[str, str],
    settings: FetchSettings | None,
    sleep: Callable[[float], None] | None,
) -> Outcome:
    now = raw_cache.utc_now()
    files: dict[str, raw_cache.CachedFile] = {}
    downloaded = 0
    for rel, url in spec.files.items():
        target, extra = map_url(url, url_map)
        allow = prefixes + extra
        prev = cur.files.get(rel) if cur else None
        prev_path = old_dir / source / rel if old_dir else None
        usable = prev is not None and prev.url == url and prev_path and prev_path.is_file()
        dest = staging / source / rel
        kw = {"sleep": sleep} if sleep else {}
        try:
            got = fetch(
                target,
                dest,
                allowed=lambda u, allow=allow: is_allowed(u, allow),
                etag=prev.etag if usable else "",
                last_modified=prev.last_modified if usable else "",
                settings=settings,
                **kw,
            )
        except FetchError as e:
            shown = e.url if e.url == target else f"{e.url} (for {target})"
            raise LearnraceError(
                f"source {source!r}, file {rel!r}: download of {shown} failed: {e.problem}"
            ) from None
        if got.status == 304:
            raw_cache.link_or_copy(prev_path, dest)
            files[rel] = raw_cache.CachedFile(
                rel, url, got.url, prev.sha256, prev.size, now, prev.etag, prev.last_modified
            )
        else:
            downloaded += 1
            files[rel] = raw_cache.CachedFile(
                rel, url, got.url, got.sha256, got.size, now, got.etag, got.last_modified
            )
    version = raw_cache.version_id({p: f.sha256 for p, f in files.items()})
    if cur is not None and version == cur.version:
        raw_cache.update_validators(
            cache_dir, source, raw_cache.Manifest(source, version, cur.created_at, files)
        )
        return Outcome(source, UNCHANGED, "", version, downloaded=downloaded)
    try:
        rows = _validate(source, staging)
    except LearnraceError as e:
        urls = ", ".join(f.fetched_url for f in files.values())
        raise LearnraceError(f"downloaded files refused by the reader ({urls}): {e}") from None
    manifest = raw_cache.Manifest(source, version, now, files)
    raw_cache.commit(cache_dir, source, staging, manifest)
    return Outcome(source, NEW, "", version, rows, downloaded)


def refresh(
    sources: list[str] | None = None,
    *,
    cache_dir: Path,
    dataset_dir: Path = snapshot.DEFAULT_DATASETS,
    url_map: dict[str, str] | None = None,
    settings: FetchSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Refresh each source in turn (all of them by default), in ingestion order."""
    names = list(sources) if sources else list(SOURCES)
    unknown = [s for s in names if s not in SOURCES]
    if unknown:
        raise LearnraceError(f"unknown source(s) {unknown}; known: {', '.join(SOURCES)}")
    out = []
    for s in names:
        if progress:
            progress(s)
        out.append(
            refresh_source(
                s, cache_dir=cache_dir, dataset_dir=dataset_dir, url_map=url_map, settings=settings
            )
        )
    return out


@dataclass(frozen=True)
class Loaded:
    """A source's tables in refresh mode and what they came from."""

    tables: dict[str, pl.DataFrame]
    loaded_from: str  # "raw cache <version>" or "datasets snapshot"
    refresh_status: str  # new / unchanged / failed / not refreshable / never refreshed
    refresh_error: str = ""
    version: str = ""
    retrieved_at: str = ""


def load_refreshed(
    source: str,
    *,
    mode: str,
    cache_dir: Path,
    dataset_dir: Path = snapshot.DEFAULT_DATASETS,
    url_map: dict[str, str] | None = None,
    settings: FetchSettings | None = None,
) -> Loaded:
    """Load ``source`` in refresh mode ``cache`` or ``fetch`` (refresh first): the cached current
    version where one exists, else the shipped snapshot. A failed refresh, or a current version
    the reader now refuses, falls back to the last good data with ``refresh_status="failed"`` and
    the reason in ``refresh_error``."""
    if mode not in ("cache", "fetch"):
        raise LearnraceError(f"refresh mode {mode!r}: load_refreshed needs cache or fetch")
    if mode == "fetch":
        try:
            o = refresh_source(
                source,
                cache_dir=cache_dir,
                dataset_dir=dataset_dir,
                url_map=url_map,
                settings=settings,
            )
            status, error = o.status, o.message if o.status == FAILED else ""
        except Exception as e:  # a lock timeout, a full disk: the last good data still loads
            status, error = FAILED, f"source {source!r}: refresh failed: {e}"
    else:
        last = raw_cache.last_attempt(Path(cache_dir), source)
        if isinstance(REFRESH[source], NotRefreshable):
            status, error = NOT_REFRESHABLE, ""
        elif last is None:
            status, error = "never refreshed", ""
        else:
            status, error = last["status"], last.get("error", "")
    cur = raw_cache.current(Path(cache_dir), source)
    if cur is not None:
        folder = raw_cache.version_dir(Path(cache_dir), source, cur.version)
        try:
            tables = reader(source).read(folder)
            retrieved = max((f.retrieved_at for f in cur.files.values()), default="")
            return Loaded(
                tables,
                f"raw cache {cur.version[:12]}",
                status,
                error,
                cur.version,
                retrieved,
            )
        except LearnraceError as e:
            status = FAILED
            error = (error + "; " if error else "") + (
                f"cached version {cur.version[:12]} refused by the reader: {e}; "
                "loaded the shipped snapshot"
            )
    return Loaded(snapshot.load(Path(dataset_dir), source), "datasets snapshot", status, error)
