"""Where partitioned work runs: in this process, a local Dask cluster, or a remote scheduler.

``LEARNRACE_DASK_SCHEDULER`` (:data:`SCHEDULER_ENV`) names the engine:

=========================  =====================================================================
unset, empty, ``none``     in this process, one partition after another (the default)
``local:N``                a ``dask.distributed.LocalCluster`` of ``N`` worker processes with one
                           thread each, on 127.0.0.1, no dashboard, started and closed per use
``local``                  the same with one worker per CPU (``os.cpu_count()``)
``tcp://host:port``        a running Dask scheduler (any address ``dask.distributed.Client``
                           takes: ``tcp://``, ``tls://``, ``ws://``, ``inproc://``, or
                           ``host:port``); its workers need the same package and lock installed
                           and the run's partition folder at the same path
=========================  =====================================================================

Partition files go under :func:`partition_folder`: ``LEARNRACE_DASK_STORAGE`` when set (a
folder every worker reaches at the same path), else the caller's run storage.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from learnrace_pipeline.lib.errors import LearnraceError

#: The environment variable naming the engine.
SCHEDULER_ENV = "LEARNRACE_DASK_SCHEDULER"
#: The environment variable naming a folder every worker reaches (a shared filesystem) for
#: partition files; default the Dagster instance's storage folder.
STORAGE_ENV = "LEARNRACE_DASK_STORAGE"

_LOCAL = re.compile(r"^local(?::(?P<n>\d+))?$")
_ADDRESS = re.compile(r"^(?:(?:tcp|tls|ws|wss|inproc|ucx)://\S+|[\w.\-\[\]:]+:\d+)$")


class EngineError(LearnraceError):
    """The engine setting is not one of the accepted forms, or its scheduler is unreachable."""


@dataclass(frozen=True)
class Engine:
    """A parsed engine setting.

    Attributes:
        kind: ``in_process``, ``local`` (a LocalCluster) or ``remote`` (a scheduler address).
        workers: worker processes of a local cluster (0 otherwise).
        address: the scheduler's address (remote only).
    """

    kind: Literal["in_process", "local", "remote"]
    workers: int = 0
    address: str = ""

    def describe(self) -> str:
        if self.kind == "local":
            return f"Dask LocalCluster, {self.workers} single-threaded worker processes"
        if self.kind == "remote":
            return f"Dask scheduler {self.address}"
        return "in-process"


def parse_engine(text: str | None) -> Engine:
    """The engine named by ``text`` (see the module docstring); :class:`EngineError` names the
    variable and the value when it is none of the accepted forms."""
    value = (text or "").strip()
    if value.lower() in ("", "none", "in-process", "in_process"):
        return Engine("in_process")
    m = _LOCAL.match(value)
    if m:
        n = int(m["n"]) if m["n"] is not None else (os.cpu_count() or 1)
        if n < 1:
            raise EngineError(f"{SCHEDULER_ENV}={value!r}: a local cluster needs >= 1 worker")
        return Engine("local", workers=n)
    if _ADDRESS.match(value):
        return Engine("remote", address=value)
    raise EngineError(
        f"{SCHEDULER_ENV}={value!r} is not an engine: use 'local:N' (N worker processes), "
        "a scheduler address such as 'tcp://10.0.0.5:8786', or leave it unset (in-process)"
    )


def engine_from_env(environ: dict[str, str] | None = None) -> Engine:
    """The engine named by ``LEARNRACE_DASK_SCHEDULER`` in ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    return parse_engine(env.get(SCHEDULER_ENV))


def partition_folder(
    storage_root: str | Path, run_id: str, name: str, environ: dict[str, str] | None = None
) -> Path:
    """``<root>/<run_id>/<name>``: where a run's partition files go. ``root`` is
    ``LEARNRACE_DASK_STORAGE`` when set (a folder at the same path on every worker), else
    ``storage_root`` (e.g. the Dagster instance's storage folder, enough on one machine)."""
    env = os.environ if environ is None else environ
    root = env.get(STORAGE_ENV) or storage_root
    return Path(root) / run_id / name


@contextmanager
def dask_client(engine: Engine, *, connect_timeout: float = 30.0) -> Iterator[Any | None]:
    """A ``dask.distributed.Client`` for ``engine`` (``None`` in-process), closed on exit; a
    local cluster is started here and shut down on exit."""
    if engine.kind == "in_process":
        yield None
        return
    from distributed import Client, LocalCluster

    if engine.kind == "local":
        with (
            LocalCluster(
                n_workers=engine.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = Client(engine.address, timeout=connect_timeout)
    except OSError as exc:
        raise EngineError(
            f"{SCHEDULER_ENV}={engine.address!r}: no Dask scheduler answered within "
            f"{connect_timeout:.0f} s ({exc})"
        ) from exc
    with client:
        yield client
