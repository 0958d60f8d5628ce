"""Fixtures of the UI tests: a small real warehouse and Dagster instance, and a real webserver on
it.

``ui_warehouse`` materialises, once per session, the CA DMV source, ``harmonized/av_testing``
and the AV capability fits (``calibration/av_{power,saturating}_fit``, ``av_capability``,
``av_model_comparison``: real nutpie fits, about 35 s here) into a temporary DuckDB file with a
temporary ``DAGSTER_HOME``. Its ``dagster.yaml`` is the one ``learnrace run`` writes plus
``nux: enabled: false``, the instance setting that stops the UI from showing Dagster's
"Join the Dagster community" newsletter dialog on a fresh instance.

``ui_webserver`` serves that instance and the project's code location (``workspace.yaml``) with
``dagster-webserver`` on a free port of 127.0.0.1, in its own process group, killed at the end of
the session. The server is started (``ui_instance``) before the materialisation and waited for
after it, so its code location loads meanwhile; it reads the instance's storage on every
request, so it serves the materialisations written after its start.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import chromium
import dagster as dg
import pytest
from dagster_ui import NO_NUX, REPO, Webserver, free_port, server_env, webserver_cmd

from learnrace_pipeline.definitions import defs
from learnrace_pipeline.defs.resources import CalibrationSettings, build_resources
from learnrace_pipeline.defs.wiring import source_keys
from learnrace_pipeline.instance import DAGSTER_YAML

#: The calibration asset whose page the browser test opens (a plot in its metadata).
PLOT_ASSET = "calibration/av_capability"
SELECTION = [
    *source_keys("ca_dmv_av"),
    "harmonized/av_testing",
    "calibration/av_power_fit",
    "calibration/av_saturating_fit",
    PLOT_ASSET,
    "calibration/av_model_comparison",
]


@dataclass(frozen=True)
class UiWarehouse:
    """What the session materialised: the instance folder, the warehouse file, the loaded
    definitions, the calibration asset with a plot in its metadata, the metadata of every materialisation (asset key -> label -> value) and every
    asset-check result ((asset key, check name) -> (passed, severity name))."""

    home: Path
    db: Path
    definitions: dg.Definitions
    plot_asset: str
    materialized: dict[str, dict[str, dg.MetadataValue]]
    checks: dict[tuple[str, str], tuple[bool, str]]
    seconds: float


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    """Debian's chromium, installed once per session when absent (skip only if it cannot be)."""
    binary, why = chromium.chromium_binary()
    if binary is None:
        pytest.skip(f"headless Chromium unavailable: {why}")
    return binary


@pytest.fixture(scope="session")
def ui_instance(tmp_path_factory):
    """(instance folder, warehouse file, work folder, started webserver) of the UI session: the
    folder's ``dagster.yaml`` written, and ``dagster-webserver`` on it started at once (not yet
    waited for), so that it loads the code location while ``ui_warehouse`` materialises;
    stopped with its process group at the end of the session."""
    tmp = tmp_path_factory.mktemp("ui")
    home, db, work = tmp / "dagster_home", tmp / "learnrace.duckdb", tmp / "work"
    home.mkdir()
    assert NO_NUX in DAGSTER_YAML  # learnrace run/ui write the setting into every new home
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    port = free_port()
    env = server_env(home, db)
    server = Webserver(webserver_cmd(port), env, port, tmp / "webserver.log", cwd=REPO).start()
    try:
        yield home, db, work, server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ui_warehouse(ui_instance) -> UiWarehouse:
    home, db, work, _ = ui_instance
    definitions = defs()
    start = time.monotonic()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("LEARNRACE_DB", str(db))
        with dg.DagsterInstance.get() as instance:
            result = dg.materialize(
                [*definitions.assets, *definitions.asset_checks],
                instance=instance,
                resources=build_resources(
                    db_path=str(db), calibration=CalibrationSettings(work_dir=str(work))
                ),
                selection=SELECTION,
                raise_on_error=False,
            )
    seconds = time.monotonic() - start
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert result.success, f"steps failed: {failed}"
    materialized = {}
    checks = {}
    for e in result.all_events:
        if e.event_type_value == "ASSET_MATERIALIZATION":
            m = e.event_specific_data.materialization
            materialized[m.asset_key.to_user_string()] = dict(m.metadata)
        elif e.event_type_value == "ASSET_CHECK_EVALUATION":
            c = e.event_specific_data
            checks[(c.asset_key.to_user_string(), c.check_name)] = (c.passed, c.severity.name)
    return UiWarehouse(home, db, definitions, PLOT_ASSET, materialized, checks, seconds)


@pytest.fixture(scope="session")
def ui_webserver(ui_warehouse, ui_instance) -> Webserver:
    """The running ``dagster-webserver`` on ``ui_warehouse``'s instance (its ``url``:
    http://127.0.0.1:port), ready: code location loaded, materialisations written."""
    server = ui_instance[3].wait_ready()
    print(
        f"dagster-webserver ready {server.seconds_to_ready:.1f} s after its start at {server.url}"
    )
    return server
