"""Lock files between processes: exclusion, a named holder, bounded waits, release on kill -9."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.storage import locks

HOLD = """
import sys, time
from learnrace_pipeline.lib.storage import locks
with locks.hold(sys.argv[1], "test lock", timeout=10):
    print("held", flush=True)
    sys.stdin.readline()
"""


def _holder(path: Path) -> subprocess.Popen:
    """A process holding the lock on ``path`` until a line arrives on its stdin."""
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert p.stdout.readline().strip() == "held"
    return p


def test_another_process_waits_names_the_holder_and_gives_up(tmp_path, caplog):
    path = tmp_path / "w.duckdb.lock"
    p = _holder(path)
    try:
        caplog.set_level(logging.WARNING, logger="learnrace_pipeline")
        t0 = time.monotonic()
        with (
            pytest.raises(locks.LockTimeout) as e,
            locks.hold(path, "the test lock", timeout=1.5, consequence="nothing done"),
        ):
            pass
        assert 1.4 < time.monotonic() - t0 < 10
        assert f"PID {p.pid}" in str(e.value) and "nothing done" in str(e.value)
        assert locks.ENV_TIMEOUT in str(e.value)
        said = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("waiting for the test lock") and f"PID {p.pid}" in m for m in said)
    finally:
        p.communicate("\n", timeout=10)
    with locks.hold(path, "the test lock", timeout=1):  # released by its holder: free at once
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    path = tmp_path / "x.lock"
    p = _holder(path)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    t0 = time.monotonic()
    with locks.hold(path, "x", timeout=5):
        assert time.monotonic() - t0 < 1
    assert path.exists()  # the file stays; only the kernel's lock mattered


def test_waiter_gets_the_lock_when_the_holder_lets_go(tmp_path):
    path = tmp_path / "x.lock"
    p = _holder(path)

    def release():
        p.stdin.write("\n")
        p.stdin.flush()

    threading.Timer(1.0, release).start()
    t0 = time.monotonic()
    with locks.hold(path, "x", timeout=20):
        waited = time.monotonic() - t0
    p.wait(timeout=10)
    assert 0.8 < waited < 10


def test_reentrant_in_a_thread_exclusive_between_threads(tmp_path):
    path = tmp_path / "x.lock"
    errors: list[BaseException] = []

    def other():
        try:
            with locks.hold(path, "x", timeout=0.5):
                pass
        except BaseException as e:
            errors.append(e)

    with locks.hold(path, "x", timeout=1), locks.hold(path, "x", timeout=1):
        t = threading.Thread(target=other)
        t.start()
        t.join(10)
    assert len(errors) == 1 and isinstance(errors[0], locks.LockTimeout)
    assert "another thread of this process" in str(errors[0])
    other()  # released by the outer block: the other thread gets it now
    assert len(errors) == 1


def test_lock_timeout_reads_the_environment(monkeypatch):
    monkeypatch.delenv(locks.ENV_TIMEOUT, raising=False)
    assert locks.lock_timeout() == locks.DEFAULT_TIMEOUT_S
    monkeypatch.setenv(locks.ENV_TIMEOUT, "2.5")
    assert locks.lock_timeout() == 2.5
    for bad in ("soon", "-1"):
        monkeypatch.setenv(locks.ENV_TIMEOUT, bad)
        with pytest.raises(LearnraceError, match=locks.ENV_TIMEOUT):
            locks.lock_timeout()


def test_process_gone_tells_a_dead_or_reused_pid():
    me = os.getpid()
    start = locks.process_start(me)
    assert start and locks.process_gone(me, start) is False
    assert locks.process_gone(me, str(int(start) + 1)) is True  # same PID, later process
    assert locks.process_gone(me, start, host="not-" + socket.gethostname()) is None
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    assert locks.process_gone(dead.pid) is True
