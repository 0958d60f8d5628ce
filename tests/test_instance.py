"""The Dagster instance of ``learnrace run``: serialised creation, slots of dead runs freed, pool
waits said and bounded. Runs and slot claims are made through the instance's own storage, as a
run would make them."""

from __future__ import annotations

import multiprocessing as mp
import socket
import subprocess
import sys
import time
import uuid

import dagster as dg
import pytest

from learnrace_pipeline.instance import (
    HOST_TAG,
    PID_TAG,
    START_TAG,
    PoolWatch,
    open_instance,
    release_dead_runs,
    run_tags,
)
from learnrace_pipeline.lib.storage.locks import LockTimeout

POOL = "duckdb_write"


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "dh"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait(timeout=30)
    return p.pid


def _started_run(instance, tags: dict[str, str]) -> str:
    run = instance.add_run(
        dg.DagsterRun(
            job_name="main", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED, tags=tags
        )
    )
    return run.run_id


def _claim(instance, run_id: str, step: str) -> bool:
    storage = instance.event_log_storage
    storage.initialize_concurrency_limit_to_default(POOL)
    return storage.claim_concurrency_slot(POOL, run_id, step).is_claimed


def test_open_instance_frees_the_slot_of_a_killed_run(home):
    lines: list[str] = []
    with open_instance(home, say=lines.append) as instance:
        dead = _dead_pid()
        dead_run = _started_run(
            instance, {PID_TAG: str(dead), START_TAG: "", HOST_TAG: socket.gethostname()}
        )
        live_run = _started_run(instance, run_tags())  # this process: alive
        untagged = _started_run(instance, {})  # launched elsewhere: unknown, left alone
        assert _claim(instance, dead_run, "source_a")
        assert not _claim(instance, live_run, "source_b")  # the pool's one slot is taken
        assert (home / "dagster.yaml").read_text().count("default_limit: 1") == 1
    with open_instance(home, say=lines.append) as instance:
        status = {r: instance.get_run_by_id(r).status for r in (dead_run, live_run, untagged)}
        assert status == {
            dead_run: dg.DagsterRunStatus.FAILURE,
            live_run: dg.DagsterRunStatus.STARTED,
            untagged: dg.DagsterRunStatus.STARTED,
        }
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert {s.run_id for s in info.claimed_slots} <= {live_run}
        assert _claim(instance, live_run, "source_b")  # the slot is free for the live run now
        assert release_dead_runs(instance, lines.append) == []
    assert any(f"(PID {dead}) is gone" in line for line in lines)


def test_pool_watch_says_the_wait_and_bounds_it(home):
    lines: list[str] = []
    with open_instance(home, say=lines.append) as instance:
        holder = _started_run(instance, run_tags())  # alive: this process
        mine = _started_run(instance, {})
        assert _claim(instance, holder, "source_a")
        assert not _claim(instance, mine, "source_b")
        watch = PoolWatch(mine, lines.append, timeout=2.0, poll_s=0.1)
        with watch.watching(instance):
            t0 = time.monotonic()
            while not watch.timed_out and time.monotonic() - t0 < 30:
                time.sleep(0.1)
            assert watch.timed_out
            # The run's next claim ends it (Dagster defers interrupts while a run waits).
            with pytest.raises(LockTimeout, match="gave up after"):
                instance.event_log_storage.claim_concurrency_slot(POOL, mine, "source_b")
        waiting = [line for line in lines if line.startswith("waiting for a slot of pool")]
        assert waiting and f"run {holder[:8]}" in waiting[0] and "source_a" in waiting[0]
        assert "gives up after 2 s" in waiting[0]
        assert f"PID {run_tags()[PID_TAG]}" in watch.timed_out and POOL in watch.timed_out
        # The watch is over: claims behave as before.
        assert not instance.event_log_storage.claim_concurrency_slot(POOL, mine, "b").is_claimed


def test_pool_watch_frees_a_holder_that_dies_during_the_wait(home):
    lines: list[str] = []
    with open_instance(home, say=lines.append) as instance:
        child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=-1)
        tags = {PID_TAG: str(child.pid), START_TAG: "", HOST_TAG: socket.gethostname()}
        holder = _started_run(instance, tags)
        mine = _started_run(instance, {})
        assert _claim(instance, holder, "source_a")
        assert not _claim(instance, mine, "source_b")
        with PoolWatch(mine, lines.append, timeout=60, poll_s=0.1).watching(instance):
            time.sleep(1.5)
            assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.STARTED
            child.kill()
            child.wait(timeout=10)
            t0 = time.monotonic()
            while time.monotonic() - t0 < 30:
                if instance.get_run_by_id(holder).status == dg.DagsterRunStatus.FAILURE:
                    break
                time.sleep(0.1)
        assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.FAILURE
        assert _claim(instance, mine, "source_b")
    assert any(f"(PID {child.pid}) is gone" in line for line in lines)


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
