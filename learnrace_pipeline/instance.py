"""The Dagster instance ``learnrace run`` executes on, made safe for several processes at once.

- :func:`dagster_home`: ``$DAGSTER_HOME`` (default ``.learnrace/dagster_home``).
- :func:`open_instance`: the instance, created (its ``dagster.yaml`` limiting every pool to one
  slot, its SQLite tables) under an exclusive lock on ``<DAGSTER_HOME>/.instance.lock``: two
  first runs on a fresh home would otherwise both create the tables and one would crash.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

from learnrace_pipeline.lib.storage import locks
from learnrace_pipeline.lib.storage.files import write_atomic_bytes

DAGSTER_YAML = (
    # One writer at a time on the DuckDB file, one MCMC fit at a time on this machine.
    "concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n"
)
Say = Callable[[str], None]


def dagster_home() -> Path:
    """``$DAGSTER_HOME`` (default ``.learnrace/dagster_home``), created and exported."""
    home = Path(os.environ.get("DAGSTER_HOME", Path(".learnrace") / "dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def instance_lock(home: Path) -> Path:
    return home / ".instance.lock"


@contextlib.contextmanager
def open_instance(home: Path, say: Say = print) -> Iterator[dg.DagsterInstance]:
    """The instance of ``home``, created (``dagster.yaml``, storage tables) under the home's
    instance lock."""
    with locks.hold(
        instance_lock(home),
        f"the Dagster instance lock {instance_lock(home)}",
        consequence="the run did not start",
    ):
        cfg = home / "dagster.yaml"
        if not cfg.exists():
            write_atomic_bytes(DAGSTER_YAML.encode(), cfg)
        instance = dg.DagsterInstance.get()
        try:
            # Touch every storage so that all tables exist before the lock is released.
            instance.get_run_records(limit=1)
            instance.event_log_storage.get_concurrency_keys()
        except BaseException:
            instance.dispose()
            raise
    with instance:
        yield instance
