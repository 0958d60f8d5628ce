"""The ``learnrace`` command: thin wrappers that parse arguments, call ``lib`` or Dagster, print.

Subcommands:
- ``learnrace run``: materialise every asset of the main job into the DuckDB warehouse and print a
  summary (tables, rows, anything that failed).
- ``learnrace datasets build --raw-dir DIR``: rebuild the ``datasets/`` snapshot from the raw files.
- ``learnrace tables``: list the warehouse tables and their row counts.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from learnrace_pipeline.commands._common import err
from learnrace_pipeline.commands._common import say as _say
from learnrace_pipeline.commands._common import show_waits as _show_waits

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="learnrace: how fast industries and nations learn.",
)
datasets_app = typer.Typer(no_args_is_help=True, help="The tidy snapshot in datasets/.")
app.add_typer(datasets_app, name="datasets")
console = Console()

DB_OPTION = typer.Option(
    None, "--db", help="DuckDB file (default $LEARNRACE_DB or .learnrace/learnrace.duckdb)."
)


def _db(db: Path | None) -> Path:
    from learnrace_pipeline.lib.storage.warehouse import default_db_path

    path = Path(db) if db else default_db_path()
    os.environ["LEARNRACE_DB"] = str(path.resolve())
    return path


def _set_lock_timeout(seconds: float | None) -> None:
    from learnrace_pipeline.lib.storage.locks import ENV_TIMEOUT

    if seconds is not None:
        if seconds < 0:
            raise typer.BadParameter("--lock-timeout must be zero or more seconds")
        os.environ[ENV_TIMEOUT] = f"{seconds:g}"


LOCK_TIMEOUT_OPTION = typer.Option(
    None,
    "--lock-timeout",
    help="Seconds to wait for the warehouse lock, DuckDB's lock or a pool slot before failing "
    "(default $LEARNRACE_LOCK_TIMEOUT or 600).",
)


def root_cause(error) -> str:
    """The innermost message of a Dagster serialisable error chain (e.g. the DataError text)."""
    if error is None:
        return ""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def print_counts(db: Path, fmt: str = "table") -> None:
    """The warehouse's tables and their row counts (exact counts, thousands separated)."""
    from learnrace_pipeline.commands._tables import Col, render
    from learnrace_pipeline.lib.storage.warehouse import table_counts

    columns = [
        Col("schema", lambda r: r["schema"], "left"),
        Col("table", lambda r: r["table"], "left"),
        Col("rows", lambda r: f"{r['rows']:,}"),
    ]
    render(table_counts(db), fmt, columns, f"Warehouse {db}", console=console)


@app.command()
def run(
    db: Path | None = DB_OPTION,
    raw_dir: Path | None = typer.Option(
        None,
        "--raw-dir",
        help="Parse the upstream raw files here instead of the datasets/ snapshot.",
    ),
    select: str = typer.Option(
        "*", "--select", help="Dagster asset selection (default: everything)."
    ),
    log_level: str = typer.Option(
        "INFO", "--log-level", help="Dagster console log level: DEBUG shows every event."
    ),
    lock_timeout: float | None = LOCK_TIMEOUT_OPTION,
    force: bool = typer.Option(
        False, "--force", help="Run every selected asset, even those up to date."
    ),
) -> None:
    """Materialise the main job into the warehouse and print what it holds.

    Only the selected assets that are stale run (:mod:`learnrace_pipeline.incremental`: their
    code, settings, input files or upstream data changed since their last materialization, or
    their table or fit is missing), with their downstream; the others are listed as up to date,
    and with none stale no step runs. ``--force`` runs every selected asset.

    Progress is logged as each asset works (INFO); the summary at the end lists every table with
    its rows, then the race table (which nation closes the loop first, per industry), failed
    steps with their root cause, and failed checks with their severity. A wait
    for a lock or a pool slot is said on stderr and gives up after --lock-timeout seconds, as
    one line (no stack trace). On a terminal, stderr shows the steps done of the run's steps,
    the step running and the time elapsed, on one line rewritten in place; in a pipe, nothing.
    """
    from learnrace_pipeline.lib.errors import LearnraceError

    _set_lock_timeout(lock_timeout)
    _show_waits()
    db_path = _db(db)
    if raw_dir is not None:
        os.environ["LEARNRACE_RAW_DIR"] = str(Path(raw_dir).resolve())
    from learnrace_pipeline.instance import dagster_home

    home = dagster_home()

    from learnrace_pipeline.definitions import defs as load_defs

    defs = load_defs()
    job = defs.resolve_job_def("main")
    console.print(f"[bold]learnrace run[/]: warehouse {db_path}, DAGSTER_HOME {home}")
    start = time.perf_counter()
    try:
        to_run, plan = _plan(defs, home, db_path, select, force)
        result = None if to_run is None else _execute(job, defs, home, to_run, log_level)
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if result is None:
        from learnrace_pipeline.commands.race import print_race

        print_counts(db_path)
        print_race(db_path)
        console.print(
            f"main job: nothing to run, {len(plan.up_to_date)} selected asset(s) up to date "
            f"({time.perf_counter() - start:.1f} s)"
        )
        return
    _note_skipped(home, result.run_id, plan)
    failed = [e for e in result.all_events if e.event_type_value in ("STEP_FAILURE",)]
    check_fail = [
        e
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and not e.event_specific_data.passed
    ]
    elapsed = time.perf_counter() - start
    print_counts(db_path)
    if result.success:
        from learnrace_pipeline.commands.race import print_race

        print_race(db_path)
    for e in failed:
        err.print(f"[red]FAILED[/] {e.step_key}: {root_cause(e.event_specific_data.error)}")
    for e in check_fail:
        ev = e.event_specific_data
        err.print(
            f"[yellow]check failed[/] {ev.asset_key.to_user_string()} {ev.check_name} ({ev.severity.value})"
        )
    status = "succeeded" if result.success else "FAILED"
    console.print(
        f"main job {status} in {elapsed:.1f} s: {len(failed)} failed step(s), {len(check_fail)} failed check(s)"
    )
    if not result.success:
        raise typer.Exit(1)


def _plan(defs, home: Path, db_path: Path, select: str, force: bool):
    """The selection to execute (the stale assets of ``select``: ``"*"`` when that is every
    asset; None when none is stale) and the :class:`~learnrace_pipeline.incremental.Plan`,
    whose summary is printed."""
    import dagster as dg

    from learnrace_pipeline.incremental import plan_run
    from learnrace_pipeline.instance import open_instance

    selection = (
        None
        if select == "*"
        else dg.AssetSelection.from_string(select).resolve(defs.resolve_asset_graph())
    )
    with open_instance(home, say=_say) as instance:
        plan = plan_run(defs, instance, db_path=db_path, selection=selection, force=force)
    for line in plan.summary():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if not plan.to_run:
        return None, plan
    if select == "*" and not plan.up_to_date:
        return "*", plan
    return plan.selection_string(), plan


def _note_skipped(home: Path, run_id: str, plan) -> None:
    """Add the assets the run skipped as up to date to its event log (an engine event)."""
    if not plan.up_to_date:
        return
    from learnrace_pipeline.instance import open_instance

    with open_instance(home, say=_say) as instance:
        run = instance.get_run_by_id(run_id)
        if run is not None:
            keys = ", ".join(k.to_user_string() for k in plan.up_to_date)
            instance.report_engine_event(
                f"learnrace run: {len(plan.up_to_date)} asset(s) up to date, not run: {keys}", run
            )


def _quiet_console_logger():
    """Dagster's colored console logger, without its records about a
    :class:`~learnrace_pipeline.lib.storage.locks.LockTimeout` (a stack trace of Dagster's
    frames): the command prints that failure as one clear line instead."""
    import dagster as dg

    class _NoLockTimeoutTrace(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return "lib.storage.locks.LockTimeout" not in record.getMessage()

    @dg.logger(
        dg.colored_console_logger.config_schema, description="console, lock waits as one line"
    )
    def console(init_context):
        log = dg.colored_console_logger.logger_fn(init_context)
        for handler in log.handlers:
            handler.addFilter(_NoLockTimeoutTrace())
        return log

    return console


class _StepProgress:
    """Steps of run ``run_id`` done (succeeded, failed or skipped) of the steps its execution
    plan holds, read from the instance's event log every ``poll_s`` seconds by a thread, shown
    by ``progress`` with the name of the step started last that is still running."""

    def __init__(self, run_id: str, progress, poll_s: float = 0.5) -> None:
        import threading

        self.run_id, self.progress, self.poll_s = run_id, progress, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="learnrace-progress", daemon=True)

    def __enter__(self) -> _StepProgress:
        if self.progress.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        import dagster as dg

        kinds = {
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.STEP_SUCCESS,
            dg.DagsterEventType.STEP_FAILURE,
            dg.DagsterEventType.STEP_SKIPPED,
        }
        cursor, done, running = None, set(), {}
        with dg.DagsterInstance.get() as instance:
            while not self._stop.wait(self.poll_s):
                try:
                    if self.progress.total is None:
                        run = instance.get_run_by_id(self.run_id)
                        if run is not None and run.execution_plan_snapshot_id:
                            snap = instance.get_execution_plan_snapshot(
                                run.execution_plan_snapshot_id
                            )
                            steps = snap.step_keys_to_execute or [s.key for s in snap.steps]
                            self.progress.update(total=len(steps))
                    conn = instance.get_records_for_run(self.run_id, cursor=cursor, of_type=kinds)
                    cursor = conn.cursor
                    for record in conn.records:
                        entry = record.event_log_entry
                        if entry.dagster_event_type == dg.DagsterEventType.STEP_START:
                            running[entry.step_key] = None
                        else:
                            running.pop(entry.step_key, None)
                            done.add(entry.step_key)
                    name = next(reversed(running), "") if running else ""
                    self.progress.update(len(done), name=name)
                except Exception:  # progress must never take the run down (busy SQLite file)
                    continue


def _execute(job, defs, home: Path, select: str, log_level: str):
    """Execute ``job`` in this process on the instance of ``home``, tagged with this process,
    watched for pool waits, with its steps' progress on a terminal; the run's pool slots are
    freed however it ends."""
    import dagster as dg

    from learnrace_pipeline.commands._progress import Progress
    from learnrace_pipeline.instance import PoolWatch, open_instance, run_tags
    from learnrace_pipeline.lib.storage.locks import LockTimeout

    run_id = str(uuid.uuid4())
    job = job.with_logger_defs({"console": _quiet_console_logger()})
    with open_instance(home, say=_say) as instance:
        kwargs = (
            {}
            if select == "*"
            else {
                "asset_selection": sorted(
                    dg.AssetSelection.from_string(select).resolve(defs.resolve_asset_graph())
                )
            }
        )
        run_config = {"loggers": {"console": {"config": {"log_level": log_level.upper()}}}}
        watch = PoolWatch(run_id, _say)
        try:
            with (
                Progress("learnrace run", unit="steps") as progress,
                _StepProgress(run_id, progress),
                watch.watching(instance),
            ):
                result = job.execute_in_process(
                    instance=instance,
                    raise_on_error=False,
                    run_config=run_config,
                    run_id=run_id,
                    tags=run_tags(),
                    **kwargs,
                )
            if watch.timed_out:  # the run failed on it; say why plainly
                raise LockTimeout(watch.timed_out)
            return result
        finally:
            # In-process: once execute_in_process is over (returned, raised, interrupted), no
            # step of this run runs any more: it must not stay STARTED nor keep a slot.
            run = instance.get_run_by_id(run_id)
            if run is not None and not run.is_finished:
                instance.report_run_failed(run, watch.timed_out or "the run was interrupted")
            instance.event_log_storage.free_concurrency_slots_for_run(run_id)


@app.command()
def ui(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(3000, "--port"),
    db: Path | None = DB_OPTION,
) -> None:
    """Open the Dagster UI (dagster dev) on this project, with the same DAGSTER_HOME (and its
    one-writer pool limit) and warehouse as `learnrace run`. While it is up, the drop_folder
    sensor forecasts every series CSV put into the drop folder ($LEARNRACE_DROP_DIR, default
    drop/ beside the warehouse); the weekly_refresh schedule and the automation sensor run only
    once turned on (UI: Automation)."""
    import shutil

    from learnrace_pipeline.instance import dagster_home, open_instance

    _db(db)
    with open_instance(dagster_home(), say=_say):
        pass  # storage created under the instance lock, slots of dead runs freed
    workspace = Path(__file__).resolve().parents[1] / "workspace.yaml"
    dagster = shutil.which("dagster", path=str(Path(sys.executable).parent)) or "dagster"
    console.print(f"Dagster UI on http://{host}:{port} (Ctrl-C stops it)")
    from learnrace_pipeline.lib.forecast.dropfolder import DropFolder, drop_dir

    drop = DropFolder(drop_dir()).ensure()
    console.print(
        f"Drop folder {drop.root}: each series CSV put there is forecast into {drop.forecasts} "
        "(sensor drop_folder, on by default). The weekly_refresh schedule and "
        "default_automation_condition_sensor are off by default (UI: Automation).",
        soft_wrap=True,
        highlight=False,
    )
    os.execv(dagster, [dagster, "dev", "-w", str(workspace), "-h", host, "-p", str(port)])


@app.command()
def tables(
    db: Path | None = DB_OPTION,
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
) -> None:
    """List the warehouse tables and their row counts."""
    from learnrace_pipeline.commands._tables import FORMATS
    from learnrace_pipeline.lib.errors import LearnraceError

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    _show_waits()
    try:
        print_counts(_db(db), fmt)
    except LearnraceError as e:  # e.g. gave up waiting for a writer's lock
        err.print(f"[red]error[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


@datasets_app.command("build")
def datasets_build(
    raw_dir: Path = typer.Option(
        ...,
        "--raw-dir",
        exists=True,
        file_okay=False,
        help="Folder holding one sub-folder per source.",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Snapshot folder (default: the repo's datasets/)."
    ),
    source: list[str] | None = typer.Option(
        None, "--source", help="Only these sources (repeatable)."
    ),
) -> None:
    """Rebuild the tidy snapshot from the upstream raw files."""
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.sources import SOURCES
    from learnrace_pipeline.lib.storage import snapshot

    out_dir = out or snapshot.DEFAULT_DATASETS
    names = source or list(SOURCES)
    t = Table(title=f"Snapshot {out_dir}")
    for c in ("source", "table", "rows"):
        t.add_column(c)
    with console.status("reading sources") as status:
        for s in names:
            status.update(f"reading {s}")
            try:
                counts = snapshot.build(raw_dir, out_dir, [s])[s]
            except LearnraceError as e:
                err.print(f"[red]error[/] {e}")
                raise typer.Exit(2) from None
            for table, n in counts.items():
                t.add_row(s, table, f"{n:,}")
    console.print(t)


def _register_commands() -> None:
    import importlib

    from learnrace_pipeline.commands import COMMANDS

    for name in COMMANDS:
        importlib.import_module(f"learnrace_pipeline.commands.{name}").register(app)


_register_commands()


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
