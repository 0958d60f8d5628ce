"""The warehouse layer: transactional multi-table writes, partition replacement, read-only reads."""

from __future__ import annotations

import multiprocessing as mp

import duckdb
import polars as pl
import pytest

from learnrace_pipeline.lib.storage.warehouse import connect, read_table, table_counts, write_tables


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
    with pytest.raises(duckdb.Error, match="lock"), connect(db, retries=0):
        pass
    import threading

    threading.Timer(0.5, release.set).start()
    counts = write_tables(db, {("raw", "t"): pl.DataFrame({"a": [1]})})
    p.join(10)
    assert counts == {"raw.t": 1}
