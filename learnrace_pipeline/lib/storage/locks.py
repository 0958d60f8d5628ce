"""Locks between processes, and waits that show and end.

:func:`hold` takes an exclusive ``flock(2)`` lock on a lock file (the warehouse's ``<db>.lock``,
the Dagster home's ``.instance.lock``). The kernel releases a ``flock`` when its holder exits,
even on ``kill -9``, so a lock never outlives its process and no stale lock file needs clearing.
The holder writes its PID and command line into the file, so a waiter can say whom it waits for.

Every wait that lasts over a second logs one line on the ``learnrace_pipeline`` logger (and one
every :data:`REMIND_S` seconds while it lasts) and gives up after :func:`lock_timeout` seconds
(``$LEARNRACE_LOCK_TIMEOUT``, default :data:`DEFAULT_TIMEOUT_S`) with :class:`LockTimeout`.

Within one process a lock is re-entrant for the thread holding it (``flock`` locks belong to an
open file, so a second open of the same file by the same process would otherwise wait for itself);
other threads of the process wait on a thread lock first.

:func:`process_start` and :func:`process_gone` tell whether a recorded process still runs (the
start time guards against a reused PID).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from learnrace_pipeline.lib.errors import LearnraceError

ENV_TIMEOUT = "LEARNRACE_LOCK_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
#: Seconds between "still waiting" lines.
REMIND_S = 30.0

log = logging.getLogger(__name__)


class LockTimeout(LearnraceError):
    """A wait for a lock (the warehouse, DuckDB's file lock, a pool slot) ran past its bound."""


def lock_timeout() -> float:
    """Seconds any wait for a lock or a pool slot may last: ``$LEARNRACE_LOCK_TIMEOUT``, else
    :data:`DEFAULT_TIMEOUT_S`."""
    text = os.environ.get(ENV_TIMEOUT, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        raise LearnraceError(f"{ENV_TIMEOUT}={text!r} is not a number of seconds") from None
    if value < 0:
        raise LearnraceError(f"{ENV_TIMEOUT}={text!r} must be zero or more seconds")
    return value


def give_up_hint() -> str:
    return f"set {ENV_TIMEOUT} (seconds, now {lock_timeout():g}) to wait longer"


# --- processes ---------------------------------------------------------------------------------


def process_start(pid: int) -> str:
    """The start time of process ``pid`` in clock ticks since boot (``/proc/<pid>/stat`` field
    22); empty where unknown (no ``/proc``, no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def process_gone(pid: int, start: str = "", host: str = "") -> bool | None:
    """True when process ``pid`` (started at ``start``, see :func:`process_start`) no longer runs
    on this host; None when that cannot be known (another host)."""
    if host and host != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # exists, owned by someone else
    # A different start time: the PID was reused by a later process.
    return bool(start) and process_start(pid) not in ("", start)


def describe_process(pid: int) -> str:
    """``PID n (command line)``, the command shortened to 120 characters."""
    try:
        cmd = " ".join(
            Path(f"/proc/{pid}/cmdline").read_bytes().decode().replace("\0", " ").split()
        )
    except OSError:
        cmd = ""
    if len(cmd) > 120:
        cmd = cmd[:117] + "..."
    return f"PID {pid} ({cmd})" if cmd else f"PID {pid}"


# --- lock files --------------------------------------------------------------------------------


@dataclass
class _ProcessLock:
    """One lock file's state in this process: the thread holding it, how deep, its descriptor."""

    thread_lock: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    fd: int | None = None


_registry_guard = threading.Lock()
_registry: dict[str, _ProcessLock] = {}


def _process_lock(path: Path) -> _ProcessLock:
    key = os.path.realpath(path)
    with _registry_guard:
        return _registry.setdefault(key, _ProcessLock())


def holder(path: str | Path) -> str:
    """Who holds the lock file ``path``, as its holder wrote it (empty if unknown)."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


class Waiting:
    """Says a wait once it has lasted ``grace_s`` seconds and then every :data:`REMIND_S`
    seconds (on the logger, or through ``say``), and builds the error when it ran past its bound."""

    def __init__(
        self,
        what: str,
        timeout: float,
        *,
        start: float | None = None,
        say: Callable[[str], None] | None = None,
        grace_s: float = 1.0,
    ) -> None:
        self.what = what
        self.timeout = timeout
        self.start = time.monotonic() if start is None else start
        self.deadline = self.start + timeout
        self.say = say or log.warning
        self._next_line = self.start + min(grace_s, timeout)  # a short wait says nothing
        self._said = False

    def waited(self) -> float:
        return time.monotonic() - self.start

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def note(self, held_by: str) -> None:
        now = time.monotonic()
        if now < self._next_line:
            return
        by = f", held by {held_by}" if held_by else ""
        if not self._said:
            self.say(f"waiting for {self.what}{by} (gives up after {self.timeout:g} s)")
        else:
            self.say(f"still waiting for {self.what}{by} ({self.waited():.0f} s so far)")
        self._said = True
        self._next_line = now + REMIND_S

    def timed_out(self, held_by: str, consequence: str) -> LockTimeout:
        by = f", held by {held_by}" if held_by else ""
        return LockTimeout(
            f"gave up after {self.waited():.0f} s waiting for {self.what}{by}; {consequence}; "
            f"{give_up_hint()}"
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, min(seconds, self.deadline - time.monotonic())))


@contextlib.contextmanager
def hold(
    path: str | Path,
    what: str,
    *,
    timeout: float | None = None,
    consequence: str = "nothing was done",
) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (created if missing) for the ``with`` block.

    Waits for another holder with a logged line naming it, up to ``timeout`` seconds (default
    :func:`lock_timeout`), then raises :class:`LockTimeout` whose message ends with
    ``consequence``. Re-entrant within the holding thread.
    """
    path = Path(path)
    wait = Waiting(what, lock_timeout() if timeout is None else timeout)
    state = _process_lock(path)
    # Another thread of this process may hold it: wait for that thread first (bounded too).
    while not state.thread_lock.acquire(
        timeout=min(1.0, max(0.0, wait.deadline - time.monotonic()))
    ):
        if wait.expired():
            raise wait.timed_out(f"another thread of this process (PID {os.getpid()})", consequence)
        wait.note(f"another thread of this process (PID {os.getpid()})")
    try:
        if state.depth == 0:
            state.fd = _acquire(path, wait, consequence)
        state.depth += 1
        try:
            yield
        finally:
            state.depth -= 1
            if state.depth == 0 and state.fd is not None:
                fd, state.fd = state.fd, None
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
    finally:
        state.thread_lock.release()


def _acquire(path: Path, wait: Waiting, consequence: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        poll = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if wait.expired():
                    raise wait.timed_out(holder(path), consequence) from None
                wait.note(holder(path))
                wait.sleep(poll)
                poll = min(poll * 2, 0.5)
        me = f"{describe_process(os.getpid())} on {socket.gethostname()}"
        os.ftruncate(fd, 0)
        os.pwrite(fd, me.encode(), 0)
        return fd
    except BaseException:
        os.close(fd)
        raise
