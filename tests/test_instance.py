"""The Dagster instance of ``learnrace run``: serialised creation, slots of dead runs freed, pool
waits said and bounded. Runs and slot claims are made through the instance's own storage, as a
run would make them."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

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


# --- runs launched through the instance's run launcher (the UI) ------------------------------

LAUNCHED_JOB = """
import os, time
from pathlib import Path
import dagster as dg

@dg.op
def sleeper():
    Path(os.environ["PID_FILE"]).write_text(str(os.getpid()))
    time.sleep(120)

@dg.job(executor_def=dg.in_process_executor)  # the op runs in the run worker itself
def sleepy():
    sleeper()

defs = dg.Definitions(jobs=[sleepy])
"""


@pytest.mark.slow
def test_a_run_launched_through_the_run_launcher_records_its_run_worker(home, tmp_path):
    """`dagster job launch` launches a run through the instance's run launcher (the one the UI
    uses, in a process the code server starts): the launcher tags the host, the run worker's
    PID is recorded from its RUN_START event, and once that process is killed the run is
    marked failed. The test home queues no runs (DefaultRunCoordinator), so no daemon is
    needed to dequeue it; under the UI the daemon launches it through the same launcher."""
    import signal

    from learnrace_pipeline.instance import DAGSTER_YAML, TaggingRunLauncher
    from learnrace_pipeline.lib.storage.locks import process_start

    (home / "dagster.yaml").write_text(
        DAGSTER_YAML
        + "run_coordinator:\n  module: dagster.core.run_coordinator\n"
        + "  class: DefaultRunCoordinator\n"
    )
    job_file, pid_file = tmp_path / "sleepy.py", tmp_path / "worker.pid"
    job_file.write_text(LAUNCHED_JOB)
    dagster = str(Path(sys.executable).parent / "dagster")
    launch = subprocess.Popen(
        [dagster, "job", "launch", "-f", str(job_file), "-j", "sleepy"],
        cwd=tmp_path,
        env={**os.environ, "PID_FILE": str(pid_file)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its code server too: ended by the group id below
    )
    worker = None
    try:
        end = time.monotonic() + 120
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < end, "the launched run never started its op"
            time.sleep(0.2)
        worker = int(pid_file.read_text())
        assert worker not in (launch.pid, os.getpid())
        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.run_launcher, TaggingRunLauncher)
            (run,) = instance.get_runs()
            assert run.tags[HOST_TAG] == socket.gethostname()
            # the launcher's thread records the worker; here the launch command may be gone,
            # so record it as that thread would, then as a later learnrace run does
            instance.run_launcher._record(run.run_id)
            run = instance.get_run_by_id(run.run_id)
            assert run.tags[PID_TAG] == str(worker)
            assert run.tags[START_TAG] == process_start(worker)
            assert release_dead_runs(instance, say=lambda _: None) == []
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED

            os.kill(worker, signal.SIGKILL)
            said: list[str] = []
            end = time.monotonic() + 10
            while os.path.exists(f"/proc/{worker}") and time.monotonic() < end:
                time.sleep(0.1)  # reaped by its parent, the code server
            assert release_dead_runs(instance, say=said.append) == [run.run_id]
            assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
            assert f"its process (PID {worker}) is gone" in said[0]
    finally:
        if worker is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launch.pid, signal.SIGKILL)
        launch.wait(timeout=30)


def test_the_pid_of_an_untagged_run_is_read_from_its_run_start_event(home):
    """record_run_worker on runs with a host tag and a RUN_START event: a live process that
    started before the run is recorded as is; a dead PID, or one whose process started after
    the run did (reused), is recorded with start 0, so the run is judged gone."""
    from learnrace_pipeline.instance import record_run_worker, run_process_gone

    with open_instance(home) as instance:
        me = os.getpid()
        later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        try:
            cases = {"live": me, "dead": _dead_pid(), "reused": later.pid}
            ids = {}
            for name, pid in cases.items():
                ids[name] = _started_run(instance, {HOST_TAG: socket.gethostname()})
                start = dg.DagsterEvent(
                    event_type_value=dg.DagsterEventType.RUN_START.value,
                    job_name="main",
                    message="started",
                    pid=pid,
                )
                ts = time.time() - (60 if name == "reused" else 0)  # the run began before it
                instance.store_event(
                    dg.EventLogEntry(
                        error_info=None,
                        level="DEBUG",
                        user_message="",
                        run_id=ids[name],
                        timestamp=ts,
                        dagster_event=start,
                    )
                )
            untagged = _started_run(instance, {})  # no host tag: never guessed
            got = {
                n: record_run_worker(instance, instance.get_run_by_id(i)) for n, i in ids.items()
            }
            assert got["live"].tags[PID_TAG] == str(me)
            assert run_process_gone(got["live"]) is False
            assert got["dead"].tags[START_TAG] == "0" and run_process_gone(got["dead"]) is True
            assert got["reused"].tags[START_TAG] == "0" and run_process_gone(got["reused"]) is True
            assert PID_TAG not in record_run_worker(instance, instance.get_run_by_id(untagged)).tags
        finally:
            later.kill()
            later.wait()
