"""The Dagster instance ``learnrace run`` executes on, made safe for several processes at once.

- :func:`dagster_home`: ``$DAGSTER_HOME`` (default ``.learnrace/dagster_home``) with a
  ``dagster.yaml`` limiting every pool to one slot.
- :func:`open_instance`: the instance, created under an exclusive lock on
  ``<DAGSTER_HOME>/.instance.lock`` (two first runs on a fresh home would otherwise both create
  the SQLite tables and one would crash), and freed of pool slots held by dead runs
  (:func:`release_dead_runs`).
- :func:`run_tags`: every run records the PID, start time and host of the process that executes
  it (``learnrace/pid``, ``learnrace/pid_start``, ``learnrace/host``), so a later run can tell
  that a run left ``STARTED`` by ``kill -9`` is dead: it is marked failed and its slots freed.
  Runs launched through the instance's run launcher (the UI) get the same tags:
  :class:`TaggingRunLauncher` (named in ``dagster.yaml``) tags the host at launch and the run
  worker's PID once it has started (:func:`record_run_worker`, read from the ``RUN_START``
  event, which the run worker reports).
- :class:`PoolWatch`: while a run executes, a thread says on the console when one of its steps
  waits for a pool slot (naming the run holding it), frees slots of holders that died meanwhile,
  and ends the run when the wait passes ``$LEARNRACE_LOCK_TIMEOUT``.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg

from learnrace_pipeline.lib.storage import locks
from learnrace_pipeline.lib.storage.files import write_atomic_bytes

#: What ``dagster.yaml`` said before runs launched by the UI were tagged: rewritten when found.
OLD_DAGSTER_YAML = "concurrency:\n  pools:\n    default_limit: 1\ntelemetry:\n  enabled: false\n"
_LAUNCHER_YAML = (
    OLD_DAGSTER_YAML
    + "run_launcher:\n  module: learnrace_pipeline.instance\n  class: TaggingRunLauncher\n"
)
DAGSTER_YAML = (
    # One writer at a time on the DuckDB file, one MCMC fit at a time on this machine; runs
    # launched by the UI (or any launch through the instance) tagged with their run worker;
    # no newsletter dialog over the UI's first page.
    _LAUNCHER_YAML + "nux:\n  enabled: false\n"
)
#: earlier defaults of this module, rewritten to the current one when found unchanged
OLD_DEFAULTS = (OLD_DAGSTER_YAML, _LAUNCHER_YAML)
PID_TAG, START_TAG, HOST_TAG = "learnrace/pid", "learnrace/pid_start", "learnrace/host"
IN_PROGRESS = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

Say = Callable[[str], None]


def dagster_home() -> Path:
    """``$DAGSTER_HOME`` (default ``.learnrace/dagster_home``), created and exported."""
    home = Path(os.environ.get("DAGSTER_HOME", Path(".learnrace") / "dagster_home")).resolve()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def instance_lock(home: Path) -> Path:
    return home / ".instance.lock"


@contextlib.contextmanager
def open_instance(home: Path, say: Say = print) -> Iterator[dg.DagsterInstance]:
    """The instance of ``home``, created (``dagster.yaml``, storage tables) under the home's
    instance lock, with the slots of dead runs freed before it is handed out."""
    with locks.hold(
        instance_lock(home),
        f"the Dagster instance lock {instance_lock(home)}",
        consequence="the run did not start",
    ):
        cfg = home / "dagster.yaml"
        if not cfg.exists() or cfg.read_text() in OLD_DEFAULTS:
            write_atomic_bytes(DAGSTER_YAML.encode(), cfg)
        instance = dg.DagsterInstance.get()
        try:
            # Touch every storage so that all tables exist before the lock is released.
            instance.get_run_records(limit=1)
            instance.event_log_storage.get_concurrency_keys()
            release_dead_runs(instance, say)
        except BaseException:
            instance.dispose()
            raise
    with instance:
        yield instance


def run_tags() -> dict[str, str]:
    """Tags naming the process that executes a run (read by :func:`release_dead_runs`)."""
    pid = os.getpid()
    return {
        PID_TAG: str(pid),
        START_TAG: locks.process_start(pid),
        HOST_TAG: socket.gethostname(),
    }


def _boot_time() -> float:
    """Seconds since the epoch at boot (``btime`` of ``/proc/stat``); 0 where unknown."""
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            if line.startswith("btime "):
                return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def _started_at(start: str) -> float | None:
    """A process start time (clock ticks since boot, :func:`locks.process_start`) in seconds
    since the epoch; None where unknown."""
    boot = _boot_time()
    if not start or not boot:
        return None
    return boot + int(start) / os.sysconf("SC_CLK_TCK")


def record_run_worker(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dg.DagsterRun:
    """Tag ``run`` with the PID and start time of the process executing it when it has none
    yet: a run launched through the instance's run launcher (the UI, ``dagster job launch``)
    rather than by ``learnrace run``. The PID is that of the process that reported the run's
    ``RUN_START`` event (the run worker); only runs that :class:`TaggingRunLauncher` launched
    from this host (its ``learnrace/host`` tag) are tagged. A process with that PID that
    started after the run did is another process (a reused PID): the worker is gone, and the
    start time recorded is ``0``, which no live process matches. Returns the run, re-read when
    tagged."""
    if PID_TAG in run.tags or run.tags.get(HOST_TAG) != socket.gethostname():
        return run
    records = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.RUN_START, limit=1
    ).records
    event = records[0].event_log_entry if records else None
    pid = event.dagster_event.pid if event is not None and event.dagster_event else None
    if pid is None:
        return run  # not started yet
    start = locks.process_start(pid)
    began = _started_at(start)
    if not start or (began is not None and began > event.timestamp + 2.0):
        start = "0"  # no such process, or a later one with the same PID
    instance.add_run_tags(run.run_id, {PID_TAG: str(pid), START_TAG: start})
    return instance.get_run_by_id(run.run_id) or run


class TaggingRunLauncher(dg.DefaultRunLauncher):
    """Dagster's default run launcher (runs in a process started by the code location's
    server), which also tags each run it launches with this host (``learnrace/host``) and, once
    the run has started, with its run worker's PID and start time (:func:`record_run_worker`,
    from a thread polling up to ``record_s`` seconds). ``learnrace run`` can then tell that a
    run launched from the UI and killed is dead, as it can for its own runs. The code
    location's server is assumed to run on this host (the project's ``workspace.yaml``: a
    Python module loaded by ``dagster dev``)."""

    record_s = 120.0

    def launch_run(self, context) -> None:
        run = context.dagster_run
        self._instance.add_run_tags(run.run_id, {HOST_TAG: socket.gethostname()})
        super().launch_run(context)
        threading.Thread(
            target=self._record, args=(run.run_id,), name="learnrace-run-worker", daemon=True
        ).start()

    def _record(self, run_id: str) -> None:
        end = time.monotonic() + self.record_s
        while time.monotonic() < end:
            try:
                run = self._instance.get_run_by_id(run_id)
                if run is None or run.is_finished:
                    return
                if PID_TAG in record_run_worker(self._instance, run).tags:
                    return
            except Exception:  # a busy SQLite file: try again
                pass
            time.sleep(0.5)


def run_process_gone(run: dg.DagsterRun) -> bool | None:
    """True when the process that executed ``run`` is gone; None when unknown (no tags: a run
    launched by the UI or a daemon, or another host)."""
    try:
        pid = int(run.tags.get(PID_TAG, ""))
    except ValueError:
        return None
    return locks.process_gone(pid, run.tags.get(START_TAG, ""), run.tags.get(HOST_TAG, ""))


def describe_run(instance: dg.DagsterInstance, run_id: str) -> str:
    run = instance.get_run_by_id(run_id)
    if run is None:
        return f"run {run_id[:8]} (deleted)"
    pid = run.tags.get(PID_TAG)
    where = f"PID {pid}" if pid else "no PID recorded"
    host = run.tags.get(HOST_TAG)
    if host and host != socket.gethostname():
        where += f" on {host}"
    return f"run {run_id[:8]} ({run.status.value}, {where})"


def release_dead_runs(instance: dg.DagsterInstance, say: Say = print) -> list[str]:
    """Mark runs in progress whose recorded process is gone as failed, and free the pool slots
    of those runs and of finished runs that still hold some; return the run ids freed."""
    storage = instance.event_log_storage
    freed: list[str] = []
    for record in instance.get_run_records(filters=dg.RunsFilter(statuses=IN_PROGRESS)):
        run = record_run_worker(instance, record.dagster_run)
        if run_process_gone(run):
            instance.report_run_failed(
                run,
                f"the process that executed this run (PID {run.tags.get(PID_TAG)}) is gone "
                "(killed?); marked failed by a later learnrace run",
            )
            storage.free_concurrency_slots_for_run(run.run_id)
            freed.append(run.run_id)
            say(
                f"run {run.run_id[:8]}: its process (PID {run.tags.get(PID_TAG)}) is gone; "
                "marked failed, its pool slots freed"
            )
    if storage.supports_global_concurrency_limits:
        for run_id in storage.get_concurrency_run_ids() - set(freed):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:
                storage.free_concurrency_slots_for_run(run_id)
                freed.append(run_id)
                say(f"{describe_run(instance, run_id)}: freed the pool slots it still held")
    return freed


class PoolWatch:
    """Watches run ``run_id`` from a thread while it executes in the main thread.

    Every ``poll_s`` seconds: if a step of the run waits for a pool slot, say so once (and every
    :data:`~learnrace_pipeline.lib.storage.locks.REMIND_S` s), naming the run holding the slot;
    free the slots of holders that died meanwhile; past ``timeout`` seconds of waiting, record
    the reason in :attr:`timed_out` (see :meth:`watching` for how the run then stops).
    """

    def __init__(
        self, run_id: str, say: Say, timeout: float | None = None, poll_s: float = 1.0
    ) -> None:
        self.run_id = run_id
        self.say = say
        self.timeout = locks.lock_timeout() if timeout is None else timeout
        self.poll_s = poll_s
        self.timed_out: str = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="learnrace-pool-watch", daemon=True)
        self._waits: dict[tuple[str, str], locks.Waiting] = {}

    @contextlib.contextmanager
    def watching(self, instance: dg.DagsterInstance) -> Iterator[PoolWatch]:
        """Watch while the ``with`` block executes the run on ``instance``.

        Dagster defers interrupts while a run waits for a slot (it raises them only inside a
        step), so a timed-out wait is ended from inside: the run's next claim of a slot on
        ``instance`` raises :class:`~learnrace_pipeline.lib.storage.locks.LockTimeout`, which
        Dagster reports as the run's failure (within its claim interval, at most 15 s).
        """
        storage = instance.event_log_storage
        claim = storage.claim_concurrency_slot

        def guarded_claim(concurrency_key, run_id, step_key, priority=None):
            if run_id == self.run_id and self.timed_out:
                raise locks.LockTimeout(self.timed_out)
            return claim(concurrency_key, run_id, step_key, priority)

        storage.claim_concurrency_slot = guarded_claim  # this instance object only
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=10)
            del storage.claim_concurrency_slot

    def _loop(self) -> None:
        with dg.DagsterInstance.get() as instance:
            last_release, failures = 0.0, 0
            while not self._stop.wait(self.poll_s):
                try:
                    waiting = self._check(instance)
                    if waiting and time.monotonic() - last_release > 2.0:
                        release_dead_runs(instance, self.say)
                        last_release = time.monotonic()
                    failures = 0
                except Exception as e:  # the watch must never take the run down
                    failures += 1  # a busy SQLite file now and then is no news
                    if failures == 10:
                        self.say(f"pool watch: {type(e).__name__}: {e} (10 times in a row)")
                if self.timed_out:
                    return

    def _check(self, instance: dg.DagsterInstance) -> bool:
        storage = instance.event_log_storage
        if not storage.supports_global_concurrency_limits:
            return False
        now_waiting: set[tuple[str, str]] = set()
        for pool in storage.get_concurrency_keys():
            info = storage.get_concurrency_info(pool)
            for step in info.pending_steps:
                if step.run_id != self.run_id or step.assigned_timestamp is not None:
                    continue
                key = (pool, step.step_key)
                now_waiting.add(key)
                holders = sorted(
                    {
                        f"{describe_run(instance, s.run_id)} step {s.step_key}"
                        for s in info.claimed_slots
                        if s.run_id != self.run_id
                    }
                )
                held_by = "; ".join(holders) or "nobody yet (slot being assigned)"
                wait = self._waits.setdefault(
                    key,
                    locks.Waiting(
                        f"a slot of pool {pool} (limit {info.limit}) for step {step.step_key}",
                        self.timeout,
                        say=self.say,
                    ),
                )
                if wait.expired():
                    self.timed_out = str(
                        wait.timed_out(held_by, "the run was stopped before that step")
                    )
                    return True
                wait.note(held_by)
        for key in set(self._waits) - now_waiting:
            del self._waits[key]
        return bool(now_waiting)
