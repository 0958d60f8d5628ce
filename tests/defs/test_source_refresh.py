"""A source asset in refresh mode, materialised on a real Dagster instance (temp DAGSTER_HOME)
into a temp DuckDB file, downloading from a real HTTP server on 127.0.0.1; and the weekly
schedule's run request."""

from __future__ import annotations

import dagster as dg
import pytest
import upstream_server
from upstream_server import Route

from learnrace_pipeline.defs.automation import weekly_refresh
from learnrace_pipeline.defs.resources import build_resources
from learnrace_pipeline.defs.sources.assets import source_assets, source_checks
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import read_table

SOURCE = "owid_ifr_robots"
PATH = "/owid/grapher/annual-industrial-robots-installed.csv"
GOOD = (
    b"Entity,Code,Year,Annual industrial robots installed\n"
    b"China,CHN,2022,290000\nChina,CHN,2023,276000\nJapan,JPN,2023,46000\n"
    b"World,OWID_WRL,2022,553000\nWorld,OWID_WRL,2023,541000\n"
)
ASSETS = [a for a in source_assets if a.node_def.name == f"source_{SOURCE}"]
CHECKS = [
    c for c in source_checks if any(k.asset_key.path[-1].startswith(SOURCE) for k in c.check_keys)
]


@pytest.fixture
def up():
    server = upstream_server.start()
    yield server
    upstream_server.stop(server)


@pytest.fixture
def env(up, tmp_path, monkeypatch):
    monkeypatch.setenv("LEARNRACE_REFRESH_URL_MAP", f"https://ourworldindata.org/={up.base}owid/")
    monkeypatch.setenv("LEARNRACE_RAW_CACHE", str(tmp_path / "raw_cache"))
    monkeypatch.delenv("LEARNRACE_REFRESH", raising=False)
    return tmp_path


def _materialize(instance, db, tags=None):
    result = dg.materialize(
        [*ASSETS, *CHECKS],
        instance=instance,
        resources=build_resources(db_path=str(db), raw_dir=""),
        tags=tags,
        raise_on_error=False,
    )
    meta = {
        m.asset_key.path[-1]: {k: getattr(v, "value", v) for k, v in m.metadata.items()}
        for m in result.asset_materializations_for_node(f"source_{SOURCE}")
    }
    return result, meta


def test_failing_refresh_still_materializes_with_a_warning(dagster_instance, up, env):
    db = env / "wh.duckdb"
    fetch = {"learnrace/refresh": "fetch"}
    shipped = snapshot.load(snapshot.DEFAULT_DATASETS, SOURCE)["production"].height

    # never refreshed, upstream serves a changed schema: the snapshot loads, with the warning
    up.routes[PATH] = Route(GOOD.replace(b"Code,", b"ISO,"), etag='"bad"')
    result, meta = _materialize(dagster_instance, db, fetch)
    assert result.success
    prod = meta[f"{SOURCE}__production"]
    assert prod["refresh_status"] == "failed"
    assert prod["loaded_from"] == "datasets snapshot"
    assert "source 'owid_ifr_robots'" in prod["refresh_error"]
    assert "row 1, column 'Code'" in prod["refresh_error"]
    assert up.base in prod["refresh_error"]
    assert read_table(db, "raw", f"{SOURCE}__production").height == shipped

    # a good upstream: a new cached version is loaded
    up.routes[PATH] = Route(GOOD, etag='"good"')
    result, meta = _materialize(dagster_instance, db, fetch)
    assert result.success
    prod = meta[f"{SOURCE}__production"]
    assert prod["refresh_status"] == "new" and "refresh_error" not in prod
    assert prod["loaded_from"].startswith("raw cache ")
    assert read_table(db, "raw", f"{SOURCE}__production").height == 5

    # upstream gone (404): the last good cached version, with the warning
    del up.routes[PATH]
    result, meta = _materialize(dagster_instance, db, fetch)
    assert result.success
    shares = meta[f"{SOURCE}__market_shares"]
    assert shares["refresh_status"] == "failed" and "HTTP 404" in shares["refresh_error"]
    assert shares["loaded_from"] == prod["loaded_from"]
    assert read_table(db, "raw", f"{SOURCE}__production").height == 5

    # refresh mode off (the default): the shipped snapshot, no refresh metadata, no request
    n = len(up.log)
    result, meta = _materialize(dagster_instance, db)
    assert result.success
    prod = meta[f"{SOURCE}__production"]
    assert prod["loaded_from"] == "datasets snapshot" and "refresh_status" not in prod
    assert read_table(db, "raw", f"{SOURCE}__production").height == shipped
    assert len(up.log) == n


def test_cache_mode_from_the_environment(dagster_instance, up, env, monkeypatch):
    db = env / "wh.duckdb"
    up.routes[PATH] = Route(GOOD, etag='"good"')
    result, _ = _materialize(dagster_instance, db, {"learnrace/refresh": "fetch"})
    assert result.success
    n = len(up.log)
    monkeypatch.setenv("LEARNRACE_REFRESH", "1")
    result, meta = _materialize(dagster_instance, db)
    assert result.success
    prod = meta[f"{SOURCE}__production"]
    assert (prod["refresh_mode"], prod["refresh_status"]) == ("cache", "new")
    assert prod["loaded_from"].startswith("raw cache ")
    assert len(up.log) == n  # cache mode downloads nothing


def test_weekly_schedule_runs_main_in_fetch_mode_and_ships_stopped():
    assert weekly_refresh.default_status == dg.DefaultScheduleStatus.STOPPED
    assert weekly_refresh.job_name == "main"
    ctx = dg.build_schedule_context()
    requests = weekly_refresh.evaluate_tick(ctx).run_requests
    assert len(requests) == 1
    assert requests[0].tags["learnrace/refresh"] == "fetch"
