"""The Dagster instance of ``learnrace run``: created under a lock, so processes opening a fresh
home at once all succeed."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from learnrace_pipeline.instance import open_instance


def _open(home: str, barrier) -> None:
    import os
    from pathlib import Path

    os.environ["DAGSTER_HOME"] = home
    barrier.wait(60)
    with open_instance(Path(home), say=lambda _: None) as instance:
        instance.get_run_records(limit=1)


@pytest.mark.slow
def test_processes_opening_a_fresh_home_at_once_all_succeed(tmp_path):
    """Without the instance lock, processes released together by a barrier create the SQLite
    tables at once and some crash ('table ... already exists')."""
    home = tmp_path / "fresh"
    home.mkdir()
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_open, args=(str(home), barrier)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
