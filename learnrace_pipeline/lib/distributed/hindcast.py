"""The rolling-origin hindcast split into independent partitions, run in-process or on Dask.

What a partition is
-------------------
:func:`learnrace_pipeline.lib.evaluation.hindcast.run_hindcast` visits its origins in order and
fits each population model at the ``k``-th used origin when ``k`` is a multiple of its refit
interval (``config.refit``, ``config.experience_time_refit``); the origins between reuse that
fit. With ``p`` the least common multiple of the intervals (:func:`refit_period`; ``p =
config.refit`` without the experience+time model), every group of ``p`` consecutive used
origins starting at ``k = 0, p, 2p, ...`` begins with a fit of every model and reads nothing
from another group. Each such group is one :class:`HindcastPartition`: its first origin's fits
plus the forecasts and scores of its origins. The sampler and the forecaster are seeded by
their configs, the same at every origin, so a partition's rows do not depend on the process
that computes them: the assembled frames equal ``run_hindcast``'s, up to its timing columns
(``seconds``, ``fit_seconds``, ``sample_seconds``, ``total_seconds`` and their ``et_`` forms).

Files, one writer
-----------------
:func:`run_partition` writes a partition's forecast rows and origin rows to
``<out_dir>/part-NNN/{forecasts,origins}.parquet``. The folder is filled under a temporary name
(:func:`learnrace_pipeline.lib.storage.files.temporary_name`) and renamed into place in one
step, so ``part-NNN/`` either is whole or does not exist; a failed partition leaves nothing
(its temporary folder removed, or, after ``kill -9``, a dot-named ``.tmp`` folder no reader
opens). :func:`run_partitions` runs every partition, then reads the folders the partitions
reported and scores the assembled forecasts with
:func:`learnrace_pipeline.lib.evaluation.hindcast.assemble`, the function ``run_hindcast`` ends
with. Workers never open the warehouse; the caller hands the frames on (the asset, to its IO
manager).

Compile once per process
------------------------
The population models are compiled for the whole panel once per process (nutpie, lazily at
their first fit) and kept in a per-process pool keyed by the panel's data version and the
config (:func:`cached_fitters`), so a Dask worker that runs several partitions compiles once. A
worker with several threads takes a fitter set per concurrent partition: a set is never shared
by two partitions at once.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.evaluation.hindcast import (
    HindcastConfig,
    assemble,
    hindcast_origins,
    origin_fitters,
    used_origins,
)
from learnrace_pipeline.lib.evaluation.hindcast_fit import OriginFitter
from learnrace_pipeline.lib.models.base import config_json, data_version
from learnrace_pipeline.lib.models.learning.panel import Panel
from learnrace_pipeline.lib.storage.files import temporary_name

#: Builds a hindcast's population-model fitters for a panel and config (default
#: :func:`learnrace_pipeline.lib.evaluation.hindcast.origin_fitters`: pooled NUTS fits).
FitterFactory = Callable[[Panel, HindcastConfig], tuple[OriginFitter, OriginFitter | None]]

#: The frames a partition writes, one Parquet file each.
PARTITION_FRAMES = ("forecasts", "origins")


@dataclass(frozen=True)
class HindcastPartition:
    """One independent group of hindcast origins.

    Attributes:
        index: position of the group (0-based) in the run.
        origins: the group's origin years, in order; the first is where its fits happen.
    """

    index: int
    origins: tuple[int, ...]

    @property
    def name(self) -> str:
        """The folder name of its files, ``part-NNN``."""
        return f"part-{self.index:03d}"

    def describe(self) -> str:
        """``partition N (origins A-B)``, for messages."""
        first, last = self.origins[0], self.origins[-1]
        span = str(first) if first == last else f"{first}-{last}"
        return f"hindcast partition {self.index} (origins {span})"


@dataclass(frozen=True)
class PartitionFiles:
    """Where a finished partition's rows are and where it ran.

    Attributes:
        partition: the partition.
        folder: ``<out_dir>/part-NNN`` holding ``forecasts.parquet`` and ``origins.parquet``.
        seconds: wall seconds of the partition in its process (fits, forecasts, write).
        compile_seconds: wall seconds of compiling the models in that process for this
            partition (0 when the process had compiled them already).
        host, pid: the process that ran it.
    """

    partition: HindcastPartition
    folder: Path
    seconds: float
    compile_seconds: float
    host: str
    pid: int

    def path(self, frame: str) -> Path:
        """The Parquet file of ``frame`` (one of :data:`PARTITION_FRAMES`)."""
        return self.folder / f"{frame}.parquet"


class PartitionError(ModelError):
    """A hindcast partition failed; names the partition and the origin it failed at.

    Attributes:
        partition: index of the partition.
        origin: the origin year being computed when it failed (``None``: outside any origin,
            e.g. while writing its files).
    """

    def __init__(self, message: str, partition: int, origin: int | None) -> None:
        super().__init__(message)
        self.partition = partition
        self.origin = origin

    def __reduce__(self) -> tuple[Any, ...]:
        # picklable with its attributes, so a Dask worker's error reaches the caller whole
        return (type(self), (str(self), self.partition, self.origin))


def refit_period(config: HindcastConfig) -> int:
    """Used origins per partition: the least common multiple of the refit intervals of the
    models the config fits (``refit``; and ``experience_time_refit`` with
    ``experience_time``)."""
    if config.experience_time:
        return math.lcm(config.refit, config.experience_time_refit)
    return config.refit


def plan_partitions(panel: Panel, config: HindcastConfig) -> list[HindcastPartition]:
    """The hindcast of ``panel`` as independent partitions: consecutive runs of
    :func:`refit_period` used origins (the last may be shorter)."""
    years = used_origins(panel, config)
    if not years:
        raise ModelError("no hindcast origin: no series has enough training points")
    p = refit_period(config)
    return [
        HindcastPartition(i, tuple(years[start : start + p]))
        for i, start in enumerate(range(0, len(years), p))
    ]


def run_key(panel: Panel, config: HindcastConfig) -> str:
    """A 16-hex key of the panel's data (differences, levels, series) and the config: equal
    keys can share compiled fitters."""
    h = hashlib.sha256()
    h.update(data_version(panel.obs, panel.levels, panel.series).encode())
    h.update(config_json(config).encode())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# fitters compiled once per process
# --------------------------------------------------------------------------------------------

_POOL_LOCK = threading.Lock()
_POOL: dict[str, list[tuple[OriginFitter, OriginFitter | None]]] = {}
#: Keys kept in the per-process pool (a new run's key evicts the oldest).
_POOL_KEYS = 2


@contextmanager
def cached_fitters(
    key: str, panel: Panel, config: HindcastConfig
) -> Iterator[tuple[OriginFitter, OriginFitter | None]]:
    """A set of default fitters for ``panel`` and ``config``, from this process's pool when
    one is free, else built (compiled at its first fit); returned to the pool on exit. ``key``
    is :func:`run_key` of the same panel and config."""
    with _POOL_LOCK:
        free = _POOL.get(key)
        fitters = free.pop() if free else None
    if fitters is None:
        fitters = origin_fitters(panel, config)
    try:
        yield fitters
    finally:
        with _POOL_LOCK:
            _POOL.setdefault(key, []).append(fitters)
            for old in list(_POOL)[:-_POOL_KEYS]:
                del _POOL[old]


def _compile_seconds(fitters: tuple[OriginFitter, OriginFitter | None]) -> float:
    return float(sum(getattr(f, "compile_seconds", 0.0) for f in fitters if f is not None))


# --------------------------------------------------------------------------------------------
# one partition
# --------------------------------------------------------------------------------------------


def run_partition(
    partition: HindcastPartition,
    panel: Panel,
    config: HindcastConfig,
    out_dir: str | Path,
    *,
    cache_key: str | None = None,
    fitters: FitterFactory | None = None,
) -> PartitionFiles:
    """Run one partition and write its rows to ``<out_dir>/part-NNN/`` (whole or not at all).

    Args:
        partition: from :func:`plan_partitions` of the same panel and config.
        panel, config: the hindcast's panel and settings.
        out_dir: the run's folder for partition files (shared by every worker).
        cache_key: :func:`run_key` of panel and config (computed here when omitted); the
            default fitters are pooled per process under it.
        fitters: builds the fitters instead of the default pooled NUTS ones (built anew for
            every partition: no pooling).

    Raises:
        PartitionError: naming the partition and the origin at which it failed.
    """
    t0 = time.perf_counter()
    done: list[int] = []

    def count(_message: str) -> None:
        done.append(1)

    def failed(exc: BaseException, what: str) -> PartitionError:
        at = partition.origins[len(done)] if len(done) < len(partition.origins) else None
        where = f" at origin {at}" if at is not None else ""
        return PartitionError(
            f"{partition.describe()} failed{where} {what}: {type(exc).__name__}: {exc}",
            partition.index,
            at,
        )

    with _fitter_set(panel, config, cache_key, fitters) as fitter_set:
        before = _compile_seconds(fitter_set)
        try:
            forecasts, origin_rows = hindcast_origins(
                panel, config, list(partition.origins), *fitter_set, progress=count
            )
        except Exception as exc:
            raise failed(exc, "while fitting or forecasting") from exc
        compile_seconds = _compile_seconds(fitter_set) - before
    if origin_rows.height != len(partition.origins):
        raise PartitionError(
            f"{partition.describe()}: {origin_rows.height} origins had eligible series, "
            f"expected {len(partition.origins)} (plan and run disagree)",
            partition.index,
            None,
        )
    folder = Path(out_dir) / partition.name
    try:
        write_partition({"forecasts": forecasts, "origins": origin_rows}, folder)
    except Exception as exc:
        raise PartitionError(
            f"{partition.describe()} failed while writing {folder}: {type(exc).__name__}: {exc}",
            partition.index,
            None,
        ) from exc
    return PartitionFiles(
        partition,
        folder,
        time.perf_counter() - t0,
        compile_seconds,
        socket.gethostname(),
        os.getpid(),
    )


@contextmanager
def _fitter_set(
    panel: Panel, config: HindcastConfig, key: str | None, fitters: FitterFactory | None
) -> Iterator[tuple[OriginFitter, OriginFitter | None]]:
    if fitters is not None:
        yield fitters(panel, config)
        return
    with cached_fitters(key or run_key(panel, config), panel, config) as fitter_set:
        yield fitter_set


def write_partition(frames: dict[str, pl.DataFrame], folder: str | Path) -> Path:
    """Write ``frames`` as ``<folder>/<name>.parquet`` all at once: into a temporary sibling
    folder (files flushed to disk), then renamed to ``folder`` in one step. On any error the
    temporary folder is removed and ``folder`` is left as it was; a folder of a previous try
    is replaced whole."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(folder)
    tmp.mkdir()
    try:
        for name, frame in frames.items():
            path = tmp / f"{name}.parquet"
            frame.write_parquet(path)
            _fsync(path)
        _fsync(tmp)
        if folder.exists():  # a retried task: the old folder goes aside, then away
            old = temporary_name(folder, ".old")
            os.rename(folder, old)
            os.rename(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
        _fsync(folder.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_partitions(done: list[PartitionFiles]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The forecast rows and origin rows of the finished partitions, in partition order."""
    done = sorted(done, key=lambda d: d.partition.index)
    forecasts = pl.concat([pl.read_parquet(d.path("forecasts")) for d in done], how="vertical")
    origin_rows = pl.concat(
        [pl.read_parquet(d.path("origins")) for d in done], how="diagonal_relaxed"
    )
    return forecasts, origin_rows


# --------------------------------------------------------------------------------------------
# all partitions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartitionedRun:
    """A partitioned hindcast's frames and how it ran.

    Attributes:
        frames: the frames of :func:`~learnrace_pipeline.lib.evaluation.hindcast.run_hindcast`.
        partitions: each partition's files, host, process and seconds, in partition order.
        seconds: wall seconds of the whole run (planning, partitions, reading, scoring).
    """

    frames: dict[str, pl.DataFrame]
    partitions: list[PartitionFiles]
    seconds: float


def run_partitions(
    panel: Panel,
    config: HindcastConfig,
    out_dir: str | Path,
    *,
    client: Any | None = None,
    fitters: FitterFactory | None = None,
    progress: Callable[[str], None] | None = None,
) -> PartitionedRun:
    """Run the hindcast of ``panel`` partition by partition and assemble its frames.

    Args:
        panel, config: as for ``run_hindcast``.
        out_dir: the run's folder for partition files; on a cluster every worker must reach
            it at the same path (a shared filesystem).
        client: a ``dask.distributed.Client``: each partition is one task
            (``client.map`` of :func:`run_partition`, the panel scattered to every worker
            once); ``None`` runs them one after another in this process.
        fitters: see :func:`run_partition` (must be picklable for a client).
        progress: called with a line per finished partition.

    Returns:
        The frames ``run_hindcast`` returns, computed from the partitions' files by the same
        :func:`~learnrace_pipeline.lib.evaluation.hindcast.assemble`, and the partitions' runs.

    Raises:
        PartitionError: the first partition that failed (the others are cancelled).
    """
    t0 = time.perf_counter()
    parts = plan_partitions(panel, config)
    key = run_key(panel, config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _m: None)
    done: list[PartitionFiles] = []

    def finished(files: PartitionFiles) -> None:
        done.append(files)
        say(
            f"{files.partition.describe()}: {len(done)}/{len(parts)} done, "
            f"{files.seconds:.1f} s (compile {files.compile_seconds:.1f} s) "
            f"on {files.host}:{files.pid}"
        )

    if client is None:
        for part in parts:
            finished(run_partition(part, panel, config, out_dir, cache_key=key, fitters=fitters))
    else:
        _run_on_client(client, parts, panel, config, out_dir, key, fitters, finished)
    forecasts, origin_rows = read_partitions(done)
    frames = assemble(forecasts, origin_rows, time.perf_counter() - t0)
    return PartitionedRun(
        frames, sorted(done, key=lambda d: d.partition.index), time.perf_counter() - t0
    )


def _run_on_client(
    client: Any,
    parts: list[HindcastPartition],
    panel: Panel,
    config: HindcastConfig,
    out_dir: Path,
    key: str,
    fitters: FitterFactory | None,
    finished: Callable[[PartitionFiles], None],
) -> None:
    """Submit one task per partition and wait; the first failure cancels the rest."""
    from distributed import as_completed

    [panel_future] = client.scatter([panel], broadcast=True, hash=False)
    futures = client.map(
        run_partition,
        parts,
        panel=panel_future,
        config=config,
        out_dir=str(out_dir),
        cache_key=key,
        key=[f"hindcast-{key}-{p.name}-{os.getpid()}-{time.time_ns()}" for p in parts],
        fitters=fitters,
        pure=False,
    )
    try:
        for future in as_completed(futures):
            if future.status == "error":
                exc = future.exception()
                if isinstance(exc, PartitionError):
                    raise exc
                part = parts[futures.index(future)]
                raise PartitionError(
                    f"{part.describe()} failed on the Dask cluster: {type(exc).__name__}: {exc}",
                    part.index,
                    None,
                ) from exc
            finished(future.result())
    finally:
        client.cancel([f for f in futures if not f.done()])
        client.cancel([panel_future])
