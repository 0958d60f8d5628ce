"""The warehouse's readers while another process writes it, through real subprocesses.

A process holding a read-write DuckDB connection stands for a run in the middle of a write
(DuckDB's lock is per process: while a writer has the file open, no other process can open it,
not even read-only). ``learnrace tables``, ``frontier``, ``av`` and ``race`` then either wait, retrying,
and succeed once the writer lets go, or give up after ``LEARNRACE_LOCK_TIMEOUT`` seconds with one
clear line naming the holder: never a hang, never a traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from learnrace_pipeline.lib.storage.warehouse import write_tables

REPO = Path(__file__).resolve().parents[2]
LEARNRACE = REPO / ".venv" / "bin" / "learnrace"

HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("open", flush=True)
sys.stdin.readline()
con.close()
"""

#: each reader and its arguments (``--db`` is added)
READERS = {
    "tables": ["tables"],
    "frontier": ["frontier", "--as-of", "2024-06-30"],
    "av": ["av", "--report-year", "2022"],
    "race": ["race"],
}


def _holder(db: Path) -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert p.stdout.readline().strip() == b"open"
    return p


def _release(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.stdin.write(b"\n")
        p.stdin.flush()
    p.wait(timeout=30)


def _reader(name: str, db: Path, timeout_s: float) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNRACE_")}
    env |= {"LEARNRACE_LOCK_TIMEOUT": str(timeout_s), "COLUMNS": "100", "LEARNRACE_PROGRESS": "0"}
    return subprocess.run(
        [str(LEARNRACE), *READERS[name], "--db", str(db)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout_s + 600,  # a hang fails the test instead of blocking the suite
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """A warehouse with one table, and the fits of ``frontier`` and ``av`` saved beside it by a
    first, unhindered call of each (so the calls under test only read)."""
    db = tmp_path_factory.mktemp("readers") / "learnrace.duckdb"
    write_tables(db, {("raw", "keep"): pl.DataFrame({"a": [1, 2, 3]})})
    for name in ("frontier", "av"):
        done = _reader(name, db, 60)
        assert done.returncode == 0, done.stderr
    return db


@pytest.mark.slow
@pytest.mark.parametrize("name", list(READERS))
def test_a_reader_gives_up_on_a_writer_with_one_clear_line(warehouse, name):
    holder = _holder(warehouse)
    try:
        t0 = time.monotonic()
        done = _reader(name, warehouse, 3)
        seconds = time.monotonic() - t0
    finally:
        _release(holder)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    # the line names what it waited for and who holds it
    assert "nothing was read" in done.stderr, done.stderr
    assert f"PID {holder.pid}" in done.stderr, done.stderr
    assert seconds < 3 + 120  # gave up after its timeout (plus start-up), no hang


@pytest.mark.slow
@pytest.mark.parametrize("name", list(READERS))
def test_a_reader_waits_for_a_writer_then_succeeds(warehouse, name):
    """The writer lets go once the reader has said it waits (at most 90 s after the start)."""
    holder = _holder(warehouse)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNRACE_")}
    env |= {"LEARNRACE_LOCK_TIMEOUT": "120", "COLUMNS": "100", "LEARNRACE_PROGRESS": "0"}
    proc = subprocess.Popen(
        [str(LEARNRACE), *READERS[name], "--db", str(warehouse)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    lines: list[str] = []
    said = threading.Event()

    def read_stderr() -> None:
        for line in proc.stderr:
            lines.append(line)
            if "waiting for DuckDB's lock" in line:
                said.set()

    reader = threading.Thread(target=read_stderr)
    reader.start()
    try:
        said.wait(timeout=90)
        _release(holder)
        out = proc.stdout.read()
        code = proc.wait(timeout=600)
    finally:
        _release(holder)
        if proc.poll() is None:
            proc.kill()
        reader.join(timeout=30)
    done = subprocess.CompletedProcess(proc.args, code, out, "".join(lines))
    assert said.is_set(), done.stderr
    assert done.returncode == (2 if name == "race" else 0), done.stderr
    assert "Traceback" not in done.stderr
    # the wait was said, naming what it waited for
    assert f"waiting for DuckDB's lock on {warehouse}" in done.stderr.replace("\n", " ")
    expected = {
        "tables": "keep",
        "frontier": "AI training-compute frontier at 2024-06-30",
        "av": "Miles per disengagement",
    }
    if name == "race":  # the warehouse has no race table: said once the file could be read
        assert "no race table in the warehouse" in done.stderr
    else:
        assert expected[name] in done.stdout
