"""The drop-folder sensor and job on a real Dagster instance (``DAGSTER_HOME`` in a temp dir),
the defaults of what runs while the UI is up, and the freshness and automation of the assets.

The sensor is evaluated with ``dg.build_sensor_context`` on the instance, its run requests are
executed as runs of the ``drop_forecast`` job on the same instance, and the next tick is
evaluated with the cursor the previous one returned, as the daemon does. One slow test runs the
real ``dagster-daemon`` on ``workspace.yaml`` and waits for it to forecast a dropped file.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from learnrace_pipeline.definitions import defs as load_defs
from learnrace_pipeline.defs.sensors import OP_NAME, drop_folder_sensor, drop_forecast_job
from learnrace_pipeline.defs.wiring import SOURCE_FRESHNESS
from learnrace_pipeline.instance import DAGSTER_YAML
from learnrace_pipeline.lib.forecast.dropfolder import DropFolder, forecast_tables

REPO = Path(__file__).resolve().parents[2]

GOOD = """series_id,year,unit_cost,annual_production
pv,2010,2.0,10
pv,2011,1.7,14
pv,2012,1.5,20
pv,2013,1.3,27
pv,2014,,36
pv,2016,,
ev,2018,300,5
ev,2019,280,8
ev,2020,250,12
ev,2021,,16
"""

#: row 4 (header = row 1): cumulative production falls
BAD = """series_id,year,unit_cost,cumulative_production
a,2000,1.0,10
a,2001,0.9,20
a,2002,0.8,15
a,2003,,30
"""


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return load_defs()


@pytest.fixture
def instance(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("LEARNRACE_DROP_DIR", str(tmp_path / "drop"))
    with dg.DagsterInstance.get() as inst:
        yield inst


class Ticker:
    """Evaluates the sensor tick after tick on ``instance``, carrying the cursor, and executes
    each requested run on the instance, as the daemon would (skipping a repeated run key)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self.cursor: str | None = None
        self.run_keys: list[str] = []

    def tick(self) -> dg.SensorResult:
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor)
        result = drop_folder_sensor(context)
        self.cursor = result.cursor
        return result

    def run(self, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
        assert request.run_key not in self.run_keys, "a run key requested twice"
        self.run_keys.append(request.run_key)
        return drop_forecast_job.execute_in_process(
            run_config=request.run_config,
            instance=self.instance,
            tags={**request.tags, "dagster/run_key": request.run_key},
            raise_on_error=False,
        )


def _folder() -> DropFolder:
    return DropFolder(Path(os.environ["LEARNRACE_DROP_DIR"]))


def test_a_good_file_is_forecast_once(instance, tmp_path) -> None:
    ticker = Ticker(instance)
    first = ticker.tick()
    folder = _folder()
    assert folder.root.is_dir()  # made by the first tick
    assert not first.run_requests and "no new file" in first.skip_reason.skip_message
    (folder.root / "solar.csv").write_text(GOOD)
    settling = ticker.tick()
    assert not settling.run_requests
    assert "solar.csv to settle" in settling.skip_reason.skip_message
    ready = ticker.tick()
    assert [r.tags["learnrace/drop_file"] for r in ready.run_requests] == ["solar.csv"]
    # requested, not yet run: the next tick does not ask again
    pending = ticker.tick()
    assert not pending.run_requests
    assert "runs requested for solar.csv" in pending.skip_reason.skip_message
    result = ticker.run(ready.run_requests[0])
    assert result.success
    out = folder.forecasts / "solar.csv"
    summary = folder.forecasts / "solar.summary.csv"
    assert out.is_file() and summary.is_file()
    assert (folder.processed / "solar.csv").read_text() == GOOD
    # the values are the forecaster's (seeded), computed directly on the same input
    expected, per_series = forecast_tables(folder.processed / "solar.csv")
    got = pl.read_csv(out)
    assert got.select("series_id", "year").rows() == expected.select("series_id", "year").rows()
    for q in ("q05", "q50", "q95"):
        assert got[q].to_list() == pytest.approx(expected[q].to_list(), rel=1e-12)
    assert pl.read_csv(summary)["w_mean"].to_list() == pytest.approx(
        per_series["w_mean"].to_list(), rel=1e-12
    )
    # and they are forecasts: below the last observed cost, widening with the horizon
    pv = got.filter(pl.col("series_id") == "pv")
    assert pv["q50"][0] < 1.3 and (pv["q95"] / pv["q05"])[1] > (pv["q95"] / pv["q05"])[0]
    # the run shows what it did
    outputs = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    md = outputs[0].event_specific_data.metadata
    assert md["series"].value == 2 and md["forecast_rows"].value == 3
    # later ticks: nothing new, nothing again
    for _ in range(2):
        later = ticker.tick()
        assert not later.run_requests
        assert "no new file" in later.skip_reason.skip_message
    assert len(ticker.run_keys) == 1


def test_a_bad_file_is_rejected_with_its_error_and_the_run_fails(instance) -> None:
    ticker = Ticker(instance)
    ticker.tick()
    folder = _folder()
    (folder.root / "bad.csv").write_text(BAD)
    ticker.tick()
    ready = ticker.tick()
    assert len(ready.run_requests) == 1
    result = ticker.run(ready.run_requests[0])
    assert not result.success
    failure = result.get_step_failure_events()[0].event_specific_data.error
    assert "bad.csv was rejected" in failure.message
    assert "row 4" in failure.message and "cumulative_production" in failure.message
    assert (folder.rejected / "bad.csv").read_text() == BAD
    text = (folder.rejected / "bad.error.txt").read_text()
    assert "row: 4 (header = row 1)" in text
    assert "column: cumulative_production" in text
    assert "cumulative production falls" in text
    assert not (folder.root / "bad.csv").exists()
    assert list(folder.forecasts.iterdir()) == []
    assert not ticker.tick().run_requests


def test_two_files_in_one_tick_and_a_growing_file_waits(instance) -> None:
    ticker = Ticker(instance)
    ticker.tick()
    folder = _folder()
    (folder.root / "a.csv").write_text(GOOD)
    (folder.root / "b.csv").write_text(GOOD.replace("pv", "wind"))
    growing = folder.root / "c.csv"
    lines = GOOD.splitlines(keepends=True)
    growing.write_text("".join(lines[:4]))
    (folder.root / "d.csv.part").write_text(GOOD)  # still being copied
    ticker.tick()
    growing.write_text("".join(lines[:7]))  # the writer goes on
    ready = ticker.tick()
    assert sorted(r.tags["learnrace/drop_file"] for r in ready.run_requests) == ["a.csv", "b.csv"]
    for request in ready.run_requests:
        assert ticker.run(request).success
    assert sorted(p.name for p in _folder().forecasts.iterdir()) == [
        "a.csv",
        "a.summary.csv",
        "b.csv",
        "b.summary.csv",
    ]
    assert growing.exists() and not (folder.forecasts / "c.csv").exists()
    growing.write_text(GOOD.replace("pv", "hydro"))  # done
    (folder.root / "d.csv.part").rename(folder.root / "d.csv")  # the copy is complete
    assert not ticker.tick().run_requests
    ready = ticker.tick()
    assert sorted(r.tags["learnrace/drop_file"] for r in ready.run_requests) == ["c.csv", "d.csv"]
    for request in ready.run_requests:
        assert ticker.run(request).success
    c = pl.read_csv(folder.forecasts / "c.csv")
    assert set(c["series_id"]) == {"ev", "hydro"}  # the whole file, not the part seen first
    assert not ticker.tick().run_requests


def test_a_run_that_ended_without_its_file_is_reported(instance) -> None:
    ticker = Ticker(instance)
    ticker.tick()
    folder = _folder()
    (folder.root / "e.csv").write_text(GOOD)
    ticker.tick()
    request = ticker.tick().run_requests[0]
    # a run of that key that failed before reading the file (e.g. a broken code location)
    instance.create_run_for_job(
        drop_forecast_job,
        run_config=request.run_config,
        tags={"dagster/run_key": request.run_key},
        status=dg.DagsterRunStatus.FAILURE,
    )
    idle = ticker.tick()
    assert not idle.run_requests
    assert "e.csv (run" in idle.skip_reason.skip_message
    assert "touch it or drop it again" in idle.skip_reason.skip_message
    # touching it makes it a new version: requested again under a new run key
    st = (folder.root / "e.csv").stat()
    os.utime(folder.root / "e.csv", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    ticker.tick()
    again = ticker.tick().run_requests
    assert len(again) == 1 and again[0].run_key != request.run_key


def test_at_most_two_drop_runs_in_flight(instance) -> None:
    ticker = Ticker(instance)
    ticker.tick()
    folder = _folder()
    for name in ("a.csv", "b.csv", "c.csv"):
        (folder.root / name).write_text(GOOD)
    ticker.tick()
    # one drop run already in progress (say, from a file dropped a moment ago)
    queued = instance.create_run_for_job(
        drop_forecast_job,
        run_config={
            "ops": {OP_NAME: {"config": {"folder": str(folder.root), "file": "x", "sha256": "0"}}}
        },
        status=dg.DagsterRunStatus.STARTED,
    )
    ready = ticker.tick()
    assert [r.tags["learnrace/drop_file"] for r in ready.run_requests] == ["a.csv"]
    instance.report_run_canceled(queued)  # that run is over; a.csv's is still in flight
    instance.create_run_for_job(
        drop_forecast_job,
        run_config=ready.run_requests[0].run_config,
        tags={"dagster/run_key": ready.run_requests[0].run_key},
        status=dg.DagsterRunStatus.STARTED,
    )
    ready = ticker.tick()
    assert [r.tags["learnrace/drop_file"] for r in ready.run_requests] == ["b.csv"]


def test_what_runs_while_the_ui_is_up(definitions) -> None:
    repo = definitions.get_repository_def()
    sensors = {s.name: s for s in repo.sensor_defs}
    assert set(sensors) == {"drop_folder", "default_automation_condition_sensor"}
    assert sensors["drop_folder"].default_status == dg.DefaultSensorStatus.RUNNING
    assert sensors["drop_folder"].job_name == "drop_forecast"
    automation = sensors["default_automation_condition_sensor"]
    assert automation.default_status == dg.DefaultSensorStatus.STOPPED
    schedules = {s.name: s for s in repo.schedule_defs}
    assert all(s.default_status == dg.DefaultScheduleStatus.STOPPED for s in schedules.values())
    # the declared automation sensor covers every asset with a condition (no implicit one)
    graph = definitions.resolve_asset_graph()
    conditioned = {
        k for k in graph.get_all_asset_keys() if graph.get(k).automation_condition is not None
    }
    assert conditioned <= automation.asset_selection.resolve(graph)


def test_every_source_asset_has_the_freshness_policy(definitions) -> None:
    graph = definitions.resolve_asset_graph()
    sources = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name == "sources"]
    assert len(sources) >= 30
    for key in sources:
        policy = graph.get(key).freshness_policy
        assert policy == SOURCE_FRESHNESS, key
    assert SOURCE_FRESHNESS.fail_window.to_timedelta() == dt.timedelta(days=8)
    assert SOURCE_FRESHNESS.warn_window.to_timedelta() == dt.timedelta(days=7, hours=6)
    others = [k for k in graph.get_all_asset_keys() if graph.get(k).group_name != "sources"]
    assert all(graph.get(k).freshness_policy is None for k in others)


def test_harmonized_tables_are_eager_on_their_sources(definitions) -> None:
    graph = definitions.resolve_asset_graph()
    eager = dg.AutomationCondition.eager()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.group_name == "harmonize":
            assert node.automation_condition == eager, key
            assert all(graph.get(p).group_name == "sources" for p in node.parent_keys), key
        if node.group_name == "sources":
            assert node.automation_condition is None, key  # sources: refresh or run only


def test_automation_when_turned_on_follows_a_new_source_table(definitions) -> None:
    """What the automation sensor would request, tick by tick: nothing on a fresh instance
    (sources have no condition; eager waits for an update), then after a new materialization of
    one source table the harmonized table it feeds and the fits that read only that table, in
    one tick; nothing again on the next tick."""
    graph = definitions.resolve_asset_graph()
    keys = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
    source = dg.AssetKey(["raw", "epoch_ai__ai_models"])

    def requested(result) -> set[str]:
        return {k.to_user_string() for k in keys if result.get_num_requested(k)}

    with dg.DagsterInstance.ephemeral() as inst:
        fresh = dg.evaluate_automation_conditions(defs=definitions, instance=inst)
        assert fresh.total_requested == 0
        inst.report_runless_asset_event(dg.AssetMaterialization(source))
        after = dg.evaluate_automation_conditions(
            defs=definitions, instance=inst, cursor=fresh.cursor
        )
        got = requested(after)
        assert "harmonized/ai_models" in got
        assert "calibration/ai_frontier_fit" in got
        downstream = {
            k.to_user_string() for k in dg.AssetSelection.assets(source).downstream().resolve(graph)
        }
        assert got <= downstream - {source.to_user_string()}
        assert not any(k.startswith(("raw/", "evaluation/")) for k in got)
        # a fit that also needs tables never materialized waits (race, cost fits)
        assert "calibration/wright_fit" not in got and "race/race" not in got
        again = dg.evaluate_automation_conditions(
            defs=definitions, instance=inst, cursor=after.cursor
        )
        assert again.total_requested == 0


@pytest.mark.slow
def test_the_dagster_daemon_forecasts_a_dropped_file(tmp_path, monkeypatch) -> None:
    """The real daemon on workspace.yaml, as `learnrace ui` (dagster dev) runs it: the sensor is
    on without any toggle, the file is forecast by a launched run and moved to processed/, a bad
    one is rejected, and no other run starts (the automation sensor and the schedule are off)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "mine.csv").write_text(GOOD)
    (drop / "bad.csv").write_text(BAD)
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LEARNRACE_DROP_DIR": str(drop),
        "LEARNRACE_DB": str(tmp_path / "wh" / "learnrace.duckdb"),
    }
    daemon = shutil.which("dagster-daemon", path=str(Path(sys.executable).parent))
    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen(
        [daemon, "run", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    done = [drop / "forecasts" / "mine.csv", drop / "rejected" / "bad.error.txt"]
    try:
        deadline = time.monotonic() + 600  # two code loads; minutes on a busy machine
        while time.monotonic() < deadline and not all(p.exists() for p in done):
            assert proc.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(2)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
    assert all(p.exists() for p in done), (tmp_path / "daemon.log").read_text()[-3000:]
    assert (drop / "processed" / "mine.csv").read_text() == GOOD
    assert "row: 4 (header = row 1)" in (drop / "rejected" / "bad.error.txt").read_text()
    expected, _ = forecast_tables(drop / "processed" / "mine.csv")
    got = pl.read_csv(drop / "forecasts" / "mine.csv")
    assert got["q50"].to_list() == pytest.approx(expected["q50"].to_list(), rel=1e-12)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as inst:
        runs = inst.get_run_records()
        by_file = {r.dagster_run.tags["learnrace/drop_file"]: r.dagster_run for r in runs}
        assert set(by_file) == {"mine.csv", "bad.csv"}
        assert by_file["mine.csv"].status == dg.DagsterRunStatus.SUCCESS
        assert by_file["bad.csv"].status == dg.DagsterRunStatus.FAILURE
        assert all(r.dagster_run.job_name == "drop_forecast" for r in runs)
