"""The warehouse layer: transactional multi-table writes, partition replacement, read-only reads,
bounded waits for the warehouse lock and DuckDB's lock naming the holder."""

from __future__ import annotations

import logging
import multiprocessing as mp
import subprocess
import sys
import threading
import time

import duckdb
import polars as pl
import pytest

from learnrace_pipeline.lib.storage.locks import ENV_TIMEOUT, LockTimeout
from learnrace_pipeline.lib.storage.warehouse import (
    connect,
    lock_path,
    read_table,
    table_counts,
    write_tables,
)


def test_write_then_read_round_trip(tmp_path):
    db = tmp_path / "w.duckdb"
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    counts = write_tables(db, {("raw", "t"): df})
    assert counts == {"raw.t": 3}
    assert read_table(db, "raw", "t").sort("a").equals(df)
    assert table_counts(db).rows() == [("raw", "t", 3)]


def test_failed_write_rolls_back_every_table(tmp_path):
    db = tmp_path / "w.duckdb"
    write_tables(
        db, {("raw", "t1"): pl.DataFrame({"a": [1]}), ("raw", "t2"): pl.DataFrame({"a": [1]})}
    )
    # t2 exists with an Int column; a partition write of incompatible data must fail and roll back t1 too.
    with pytest.raises(duckdb.Error):
        write_tables(
            db,
            {
                ("raw", "t1"): pl.DataFrame({"a": [7, 8, 9]}),
                ("raw", "t2"): pl.DataFrame({"a": ["not an int"]}),
            },
            replace_where={("raw", "t2"): {"a": 1}},
        )
    assert read_table(db, "raw", "t1")["a"].to_list() == [1]
    assert read_table(db, "raw", "t2")["a"].to_list() == [1]


def test_partition_replace_is_idempotent(tmp_path):
    db = tmp_path / "w.duckdb"
    part = pl.DataFrame({"industry": ["solar", "solar"], "v": [1.0, 2.0]})
    other = pl.DataFrame({"industry": ["wind"], "v": [9.0]})
    write_tables(db, {("s", "t"): other}, replace_where={("s", "t"): {"industry": "wind"}})
    for _ in range(3):
        write_tables(db, {("s", "t"): part}, replace_where={("s", "t"): {"industry": "solar"}})
    got = read_table(db, "s", "t").sort("industry", "v")
    assert got["industry"].to_list() == ["solar", "solar", "wind"]
    assert got["v"].to_list() == [1.0, 2.0, 9.0]


def _hold_lock(path: str, ready, release) -> None:
    con = duckdb.connect(path)
    con.execute("CREATE TABLE IF NOT EXISTS x AS SELECT 1 AS a")
    ready.set()
    release.wait(10)
    con.close()


def test_writer_retries_until_other_process_releases_lock(tmp_path):
    db = tmp_path / "w.duckdb"
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_hold_lock, args=(str(db), ready, release))
    p.start()
    assert ready.wait(30)
    # While the other process holds the file, a connection without retries fails with the lock error.
    with pytest.raises(LockTimeout, match="lock"), connect(db, timeout=0):
        pass
    threading.Timer(0.5, release.set).start()
    counts = write_tables(db, {("raw", "t"): pl.DataFrame({"a": [1]})})
    p.join(10)
    assert counts == {"raw.t": 1}


HOLD_DUCKDB = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("open", flush=True)
sys.stdin.readline()
con.close()
"""


def _duckdb_holder(db, mode: str) -> subprocess.Popen:
    """A process holding a DuckDB connection (``ro`` or ``rw``) until a line on its stdin."""
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD_DUCKDB, str(db), mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "open"
    return p


def _release_later(p: subprocess.Popen, seconds: float) -> threading.Timer:
    def release():
        p.stdin.write("\n")
        p.stdin.flush()

    t = threading.Timer(seconds, release)
    t.start()
    return t


def test_a_long_reader_makes_a_writer_wait_visibly_then_write(tmp_path, caplog):
    db = tmp_path / "w.duckdb"
    write_tables(db, {("raw", "keep"): pl.DataFrame({"a": [1]})})
    reader = _duckdb_holder(db, "ro")
    caplog.set_level(logging.WARNING, logger="learnrace_pipeline")
    _release_later(reader, 2.5)
    t0 = time.monotonic()
    counts = write_tables(db, {("raw", "t"): pl.DataFrame({"a": [1, 2]})}, timeout=30)
    assert 2.0 < time.monotonic() - t0 < 25
    reader.wait(timeout=10)
    assert counts == {"raw.t": 2}
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "waiting for DuckDB's lock" in said and f"PID {reader.pid}" in said


def test_a_writer_gives_up_on_a_long_reader_naming_it_and_writes_nothing(tmp_path):
    db = tmp_path / "w.duckdb"
    write_tables(db, {("raw", "keep"): pl.DataFrame({"a": [1]})})
    reader = _duckdb_holder(db, "ro")
    try:
        t0 = time.monotonic()
        with pytest.raises(LockTimeout) as e:
            write_tables(db, {("raw", "t"): pl.DataFrame({"a": [1]})}, timeout=1.5)
        assert 1.4 < time.monotonic() - t0 < 10
    finally:
        reader.communicate("\n", timeout=10)
    assert f"PID {reader.pid}" in str(e.value) and "nothing was written" in str(e.value)
    assert table_counts(db).rows() == [("raw", "keep", 1)]


def test_a_reader_gives_up_on_a_writer_with_a_clear_message(tmp_path, monkeypatch):
    db = tmp_path / "w.duckdb"
    write_tables(db, {("raw", "keep"): pl.DataFrame({"a": [1]})})
    writer = _duckdb_holder(db, "rw")
    try:
        monkeypatch.setenv(ENV_TIMEOUT, "1")
        with pytest.raises(LockTimeout, match="nothing was read") as e:
            read_table(db, "raw", "keep")
    finally:
        writer.communicate("\n", timeout=10)
    assert f"PID {writer.pid}" in str(e.value)
    assert read_table(db, "raw", "keep").height == 1  # and reads again once it is gone


def test_writers_of_another_process_wait_for_the_warehouse_lock(tmp_path, caplog):
    """The warehouse lock orders writers whatever Dagster instance runs them: a writer waits
    while another process holds ``<db>.lock`` (even before any DuckDB connection exists)."""
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfrom learnrace_pipeline.lib.storage import locks\n"
            "with locks.hold(sys.argv[1], 'x'):\n    print('held', flush=True)\n"
            "    sys.stdin.readline()\n",
            str(lock_path(db)),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    caplog.set_level(logging.WARNING, logger="learnrace_pipeline")
    with pytest.raises(LockTimeout, match="warehouse write lock") as e:
        write_tables(db, {("raw", "t"): pl.DataFrame({"a": [1]})}, timeout=1)
    assert f"PID {holder.pid}" in str(e.value)
    assert not db.exists()  # nothing was written, not even an empty file
    _release_later(holder, 2.5)
    assert write_tables(db, {("raw", "t"): pl.DataFrame({"a": [1]})}, timeout=30) == {"raw.t": 1}
    holder.wait(timeout=10)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "waiting for the warehouse write lock" in said
