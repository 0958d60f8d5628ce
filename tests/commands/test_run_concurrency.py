"""``learnrace run`` processes started side by side, killed, or racing a reader: real
subprocesses of the real command on a small selection (one source, one harmonized table).

Every wait in these tests is bounded; a run prints its waits on stderr, which the tests read.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from learnrace_pipeline.lib.storage import locks
from learnrace_pipeline.lib.storage.warehouse import lock_path, read_table, table_counts

LEARNRACE = Path(sys.executable).parent / "learnrace"
SOURCE = "key:raw/owid_ifr_robots__*"
WITH_HARMONIZED = f"{SOURCE} or key:harmonized/production"
POOL = "duckdb_write"

pytestmark = pytest.mark.slow


class Run:
    """A ``learnrace run`` subprocess, its stdout and stderr in ``<name>.log``."""

    def __init__(self, tmp: Path, name: str, db: Path, home: Path, select: str, timeout_s: float):
        self.log = tmp / f"{name}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNRACE_")}
        env.update(
            DAGSTER_HOME=str(home),
            LEARNRACE_LOCK_TIMEOUT=f"{timeout_s:g}",
            COLUMNS="1000",  # no wrapped lines
        )
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [str(LEARNRACE), "run", "--db", str(db), "--select", select],
                cwd=tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{text!r} not printed; output:\n{self.output()}")

    def finish(self, timeout: float = 240) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"run did not end in {timeout} s:\n{self.output()}") from None


def _instance(home: Path, monkeypatch) -> dg.DagsterInstance:
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return dg.DagsterInstance.get()


def _slot_holder(instance: dg.DagsterInstance, timeout: float = 60) -> str:
    """The run id holding the pool's slot, polled from the instance."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        claimed = instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
        if claimed:
            return claimed[0].run_id
        time.sleep(0.2)
    raise AssertionError(f"no run holds a slot of {POOL}")


def test_kill_9_of_a_run_holding_the_write_slot_does_not_block_later_runs(tmp_path, monkeypatch):
    home, db = tmp_path / "dh", tmp_path / "w.duckdb"
    # Run A claims the duckdb_write slot for its source step, then waits for the warehouse
    # lock, which this test holds: A holds the slot for as long as the test wants.
    with locks.hold(lock_path(db), "the test's hold", timeout=5):
        a = Run(tmp_path, "a", db, home, SOURCE, timeout_s=300)
        try:
            a.wait_for("waiting for the warehouse write lock")
            with _instance(home, monkeypatch) as instance:
                a_run = _slot_holder(instance)
                assert instance.get_run_by_id(a_run).tags["learnrace/pid"] == str(a.pid)

            # B shares the home: it waits for the slot, says so, and gives up after its bound.
            b = Run(tmp_path, "b", tmp_path / "b.duckdb", home, SOURCE, timeout_s=4)
            assert b.finish() == 1
            out = b.output()
            assert f"waiting for a slot of pool {POOL}" in out
            assert f"held by run {a_run[:8]} (STARTED, PID {a.pid})" in out
            assert "gave up after" in out and "LEARNRACE_LOCK_TIMEOUT" in out
            assert "main job succeeded" not in out
            assert "Stack Trace" not in out and "Traceback" not in out and 'File "' not in out
        finally:
            os.kill(a.pid, signal.SIGKILL)
            a.proc.wait(30)

    # C after the kill: A is marked failed, its slot freed, and C writes.
    c = Run(tmp_path, "c", db, home, SOURCE, timeout_s=120)
    assert c.finish() == 0, c.output()
    out = c.output()
    assert f"run {a_run[:8]}: its process (PID {a.pid}) is gone" in out
    assert "main job succeeded" in out
    assert read_table(db, "raw", "owid_ifr_robots__production").height == 77
    with _instance(home, monkeypatch) as instance:
        assert instance.get_run_by_id(a_run).status == dg.DagsterRunStatus.FAILURE
        assert not instance.event_log_storage.get_concurrency_info(POOL).claimed_slots


def test_two_first_runs_on_a_fresh_dagster_home_both_succeed(tmp_path):
    home = tmp_path / "fresh"
    runs = [Run(tmp_path, n, tmp_path / f"{n}.duckdb", home, SOURCE, timeout_s=240) for n in "ab"]
    codes = [r.finish() for r in runs]
    for r in runs:
        assert "already exists" not in r.output() and "Traceback" not in r.output(), r.output()
        assert "main job succeeded" in r.output()
    assert codes == [0, 0]


HOLD_READ_ONLY = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print("open", flush=True)
sys.stdin.readline()
con.close()
"""


def _reader(db: Path) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "open"
    return p


def test_a_run_waits_for_a_long_reader_or_gives_up_cleanly(tmp_path):
    """Two warehouses, each held by a process with a read-only DuckDB connection while a run
    starts on it. The patient run waits, says for whom, and writes once the reader closes; the
    impatient one (timeout 3 s) fails naming the reader, and its warehouse is as it was."""
    import polars as pl

    from learnrace_pipeline.lib.storage.warehouse import write_tables

    dbs = {n: tmp_path / n / "w.duckdb" for n in ("patient", "impatient")}
    readers = {}
    for n, db in dbs.items():
        write_tables(db, {("main", "keep"): pl.DataFrame({"a": [1]})})
        readers[n] = _reader(db)
    try:
        patient = Run(tmp_path, "patient", dbs["patient"], tmp_path / "dh1", WITH_HARMONIZED, 180)
        impatient = Run(tmp_path, "impatient", dbs["impatient"], tmp_path / "dh2", SOURCE, 3)
        patient.wait_for("waiting for DuckDB's lock")
        assert f"PID {readers['patient'].pid}" in patient.output()
        time.sleep(3)  # the reader keeps it a while longer; the run keeps waiting
        assert patient.proc.poll() is None
        readers["patient"].communicate("\n", timeout=10)
        assert patient.finish() == 0, patient.output()
        assert impatient.finish() == 1
    finally:
        for p in readers.values():
            if p.poll() is None:
                p.communicate("\n", timeout=10)
    assert read_table(dbs["patient"], "harmonized", "production").height == 77
    out = impatient.output()
    assert "gave up after 3 s waiting for DuckDB's lock" in out
    assert f"PID {readers['impatient'].pid}" in out and "nothing was written" in out
    assert "FAILED source_owid_ifr_robots: learnrace_pipeline.lib.storage.locks.LockTimeout" in out
    # the timeout is said in clear lines only: no stack trace of Dagster's frames
    assert "Stack Trace" not in out and "Traceback" not in out and 'File "' not in out
    assert table_counts(dbs["impatient"]).rows() == [("main", "keep", 1)]  # nothing half-written


RAW_TABLES = ("owid_ifr_robots__data_notes", "owid_ifr_robots__market_shares",
              "owid_ifr_robots__production")  # fmt: skip


def _tables(db: Path) -> dict[str, list[tuple]]:
    """The source's raw tables, rows sorted (the order of a table's rows is not its content)."""
    return {t: sorted(read_table(db, "raw", t).rows(), key=repr) for t in RAW_TABLES}


def test_kill_9_of_a_run_mid_write_leaves_every_table_old_or_new(tmp_path, monkeypatch):
    """A run waits for the warehouse lock the test holds; the test lets go and kills the run
    with SIGKILL 0-200 ms after it has taken the lock (its PID written in the lock file): inside
    its write transaction or just after. Every time, the source's three tables (one
    transaction) are all the old version or all the new one; then the next run on the killed
    run's home succeeds and the tables are the new version."""
    import polars as pl

    from learnrace_pipeline.lib.storage.warehouse import write_tables

    db = tmp_path / "w.duckdb"
    first = Run(tmp_path, "first", db, tmp_path / "dh_first", SOURCE, timeout_s=120)
    assert first.finish() == 0, first.output()
    new = _tables(db)
    old_frames = {
        ("raw", t): read_table(db, "raw", t).head(max(read_table(db, "raw", t).height - 3, 0))
        for t in RAW_TABLES
    }
    old_frames[("raw", RAW_TABLES[0])] = pl.concat([old_frames[("raw", RAW_TABLES[0])]] * 2)
    outcomes = []
    for k, delay in enumerate((0.0, 0.02, 0.05, 0.1, 0.2)):
        write_tables(db, old_frames)
        old = _tables(db)
        assert old != new
        lock = lock_path(db)
        # a fresh home each time: a run skips assets its home has materialised from the same
        # data, and this one must write
        home = tmp_path / f"dh{k}"
        with locks.hold(lock, "the test's hold", timeout=5):
            run = Run(tmp_path, f"killed{k}", db, home, SOURCE, timeout_s=120)
            run.wait_for("waiting for the warehouse write lock")
        end = time.monotonic() + 30
        while f"PID {run.pid} " not in locks.holder(lock):  # it holds the lock: writing
            assert time.monotonic() < end and run.proc.poll() is None, run.output()
            time.sleep(0.001)
        time.sleep(delay)
        os.kill(run.pid, signal.SIGKILL)
        run.proc.wait(30)
        state = _tables(db)
        assert state in (old, new), f"mixed tables after a kill {delay} s into the write"
        outcomes.append((delay, "old" if state == old else "new"))
    print("outcomes", outcomes)
    # the next run on the last killed run's home: that run is marked failed, its slot freed,
    # and the tables are the new version (written now, or by the killed run before it died)
    last = Run(tmp_path, "last", db, home, SOURCE, timeout_s=120)
    assert last.finish() == 0, last.output()
    assert f"its process (PID {run.pid}) is gone" in last.output()
    assert _tables(db) == new
    with _instance(home, monkeypatch) as instance:
        statuses = {r.run_id: r.status for r in instance.get_runs()}
        assert dg.DagsterRunStatus.FAILURE in statuses.values()
        assert not instance.event_log_storage.get_concurrency_info(POOL).claimed_slots
