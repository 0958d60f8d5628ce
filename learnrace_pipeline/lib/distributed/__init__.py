"""Embarrassingly parallel work split into independent tasks, run in-process or on Dask.

- :mod:`.hindcast`: the rolling-origin hindcast split at its refit boundaries (one task per
  group of origins that shares a population fit); each task writes its rows to Parquet under a
  run directory, and one caller reads them back and scores them.
- :mod:`.engine`: where the tasks run: in this process, or on a ``dask.distributed`` scheduler
  (a remote address, or ``local:N`` for a local cluster of ``N`` single-threaded worker
  processes), named by ``LEARNRACE_DASK_SCHEDULER``.

No Dagster imports here; the hindcast asset chooses the engine.
"""
