"""``learnrace ui`` (what ``make ui`` runs) as a real subprocess: ``dagster dev`` on the project's
code location, serving on 127.0.0.1 only (no ``--host`` given) at the port asked for, on the
instance it prepared (``dagster.yaml`` written), and gone with its whole process group when
stopped."""

from __future__ import annotations

import pytest
import yaml
from dagster_ui import BIN, REPO, Webserver, free_port, graphql, listening_addresses, server_env

from learnrace_pipeline.instance import DAGSTER_YAML

pytestmark = pytest.mark.slow


def test_learnrace_ui_serves_on_loopback_at_the_chosen_port(tmp_path) -> None:
    home, db, log = tmp_path / "dagster_home", tmp_path / "learnrace.duckdb", tmp_path / "ui.log"
    port = free_port()
    cmd = [str(BIN / "learnrace"), "ui", "--port", str(port), "--db", str(db)]
    with Webserver(cmd, server_env(home, db), port, log, cwd=REPO) as ui:
        assert listening_addresses(port) == {"127.0.0.1"}
        locations = graphql(
            ui.url, "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
        )["workspaceOrError"]["locationEntries"]
        print(f"learnrace ui ready in {ui.seconds_to_ready:.1f} s")
    assert [e["name"] for e in locations] == ["learnrace"]
    # the instance it prepared: the project's pools of one slot
    written = yaml.safe_load((home / "dagster.yaml").read_text())
    assert written["concurrency"] == yaml.safe_load(DAGSTER_YAML)["concurrency"]
    assert f"Dagster UI on http://127.0.0.1:{port}" in log.read_text()
    assert listening_addresses(port) == set()  # stopped with its process group
