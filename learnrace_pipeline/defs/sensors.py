"""Sensors: the drop folder (running by default) and declarative automation (stopped by default).

- ``drop_folder`` (sensor, RUNNING by default, every 15 s): watches the drop folder
  (``$LEARNRACE_DROP_DIR``, default ``.learnrace/drop/`` beside the warehouse) and, for each new
  series file that has settled (same size and modification time at two ticks), requests a run of
  the job ``drop_forecast`` with run key = name + sha256 + modification time. The logic is
  :mod:`learnrace_pipeline.lib.forecast.dropfolder`.
- ``drop_forecast`` (job, one op): forecasts the file named in its config as ``learnrace
  forecast`` does (default model, seeded) into ``forecasts/<name>.csv`` and
  ``forecasts/<name>.summary.csv``, and moves it to ``processed/``; a file that cannot be
  forecast goes to ``rejected/`` beside ``<name>.error.txt``, and the run fails with the error.
- ``default_automation_condition_sensor`` (STOPPED by default): evaluates the assets'
  ``AutomationCondition`` s (harmonized tables, fits, race tables eager on their inputs). Off
  so that nothing refits behind the user's back; turned on in the UI (Automation) or with
  ``dagster sensor start``.
"""

from pathlib import Path

import dagster as dg

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.forecast import dropfolder

OP_NAME = "forecast_dropped_file"
#: Drop-folder runs queued or in progress at once (each run process loads the code location).
MAX_IN_FLIGHT = 2
IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


class DropForecastConfig(dg.Config):
    """Which dropped file to forecast, and how (``learnrace forecast``'s defaults)."""

    folder: str
    file: str
    sha256: str
    model: str = "auto"
    seed: int = 20240601
    samples: int = 2000
    production_damping: float = 1.0


@dg.op(
    name=OP_NAME,
    out=dg.Out(dg.Nothing),
    description="Forecast one file of the drop folder into forecasts/ (or reject it).",
)
def forecast_dropped_file(context: dg.OpExecutionContext, config: DropForecastConfig):
    folder = dropfolder.DropFolder(Path(config.folder))
    settings = dropfolder.DropSettings(
        model=config.model,
        seed=config.seed,
        samples=config.samples,
        production_damping=config.production_damping,
    )
    outcome = dropfolder.process(folder, config.file, config.sha256, settings)
    meta = {
        "file": config.file,
        "status": outcome.status,
        **{k: dg.MetadataValue.path(str(p)) for k, p in outcome.paths.items()},
    }
    if outcome.status == "rejected":
        context.log.error(outcome.message)
        failure = dg.Failure(
            description=f"{config.file} was rejected: {outcome.message}",
            metadata=meta,
            allow_retries=False,
        )
        if isinstance(outcome.error, LearnraceError):
            raise failure from None  # the file's fault: the message says it all
        raise failure from outcome.error  # learnrace's own fault: keep the traceback
    context.log.info(outcome.message)
    yield dg.Output(
        None, metadata={**meta, "series": outcome.n_series, "forecast_rows": outcome.n_rows}
    )


@dg.job(
    name="drop_forecast",
    executor_def=dg.in_process_executor,
    description="Forecast one file of the drop folder (requested by the drop_folder sensor).",
)
def drop_forecast_job() -> None:
    forecast_dropped_file()


@dg.sensor(
    name="drop_folder",
    job=drop_forecast_job,
    minimum_interval_seconds=15,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Forecast each series CSV dropped into $LEARNRACE_DROP_DIR (default "
    ".learnrace/drop/) once it has settled: forecasts/<name>.csv and <name>.summary.csv, "
    "or rejected/<name>.csv with <name>.error.txt.",
)
def drop_folder_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    folder = dropfolder.DropFolder(dropfolder.drop_dir()).ensure()
    free = max(0, MAX_IN_FLIGHT - _in_flight(context))
    ready, state = dropfolder.scan(
        folder.root, dropfolder.ScanState.from_json(context.cursor), max_ready=free
    )
    requests = [
        dg.RunRequest(
            run_key=r.run_key,
            run_config={
                "ops": {
                    OP_NAME: {
                        "config": {"folder": str(folder.root), "file": r.name, "sha256": r.sha256}
                    }
                }
            },
            tags={"learnrace/drop_file": r.name},
        )
        for r in ready
    ]
    return dg.SensorResult(
        run_requests=requests,
        cursor=state.to_json(),
        skip_reason=None if requests else _idle_reason(context, folder, state, free),
    )


def _instance(context: dg.SensorEvaluationContext) -> dg.DagsterInstance | None:
    try:
        return context.instance
    except dg.DagsterInvariantViolationError:  # a context built without an instance
        return None


def _in_flight(context: dg.SensorEvaluationContext) -> int:
    """Runs of ``drop_forecast`` queued or in progress on the sensor's instance."""
    instance = _instance(context)
    if instance is None:
        return 0
    return instance.get_runs_count(
        filters=dg.RunsFilter(job_name=drop_forecast_job.name, statuses=IN_FLIGHT)
    )


def _idle_reason(
    context: dg.SensorEvaluationContext,
    folder: dropfolder.DropFolder,
    state: dropfolder.ScanState,
    free: int,
) -> str:
    """Why a tick requested nothing: files settling, files whose runs are pending, files whose
    run ended without taking them (touch to retry), or an empty folder."""
    parts = []
    if state.seen:
        why = "to settle" if free else f"(settling, or for one of {MAX_IN_FLIGHT} run slots)"
        parts.append(f"waiting for {', '.join(sorted(state.seen))} {why}")
    instance = _instance(context)
    pending, stuck = [], []
    for name, (_size, mtime_ns, sha256) in sorted(state.requested.items()):
        key = dropfolder.run_key(name, sha256, mtime_ns)
        records = (
            instance.get_run_records(filters=dg.RunsFilter(tags={"dagster/run_key": key}), limit=1)
            if instance is not None
            else []
        )
        run = records[0].dagster_run if records else None
        if run is not None and run.is_finished:
            stuck.append(f"{name} (run {run.run_id[:8]} {run.status.value})")
        else:
            pending.append(name)
    if pending:
        parts.append(f"runs requested for {', '.join(pending)}")
    if stuck:
        parts.append(
            f"{', '.join(stuck)} ended without taking the file: touch it or drop it again to retry"
        )
    return "; ".join(parts) or f"no new file in {folder.root}"


automation_sensor = dg.AutomationConditionSensorDefinition(
    "default_automation_condition_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Materialise assets whose AutomationCondition is met (harmonized tables, fits "
    "and race tables eager on their inputs). Stopped by default: turn it on to have a refresh "
    "or a new run of the sources propagate downstream on its own.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[drop_forecast_job], sensors=[drop_folder_sensor, automation_sensor])
