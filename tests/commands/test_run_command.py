"""``learnrace run`` and ``learnrace tables`` through the real CLI, Dagster instance and DuckDB."""

from __future__ import annotations

from typer.testing import CliRunner

from learnrace_pipeline.cli import app
from learnrace_pipeline.lib.storage.warehouse import read_table

runner = CliRunner()


def test_run_selection_prints_tables_and_summary(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    db = tmp_path / "w.duckdb"
    sel = "key:raw/owid_ifr_robots__* or key:harmonized/production"
    r = runner.invoke(app, ["run", "--db", str(db), "--select", sel])
    assert r.exit_code == 0, r.output
    assert "owid_ifr_robots__production" in r.output and "77" in r.output
    assert "main job succeeded" in r.output
    assert read_table(db, "harmonized", "production").height == 77
    assert (tmp_path / "dh" / "dagster.yaml").read_text().count("default_limit: 1") == 1
    t = runner.invoke(app, ["tables", "--db", str(db)])
    assert t.exit_code == 0 and "harmonized" in t.output


def test_run_reports_a_failing_source_and_exits_nonzero(tmp_path, monkeypatch):
    import shutil

    from learnrace_pipeline.lib.storage import snapshot

    ds = tmp_path / "datasets"
    shutil.copytree(snapshot.DEFAULT_DATASETS / "owid_ifr_robots", ds / "owid_ifr_robots")
    (ds / "owid_ifr_robots" / "production.csv").write_text("nation,year\n")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    monkeypatch.setenv("LEARNRACE_DATASETS", str(ds))
    r = runner.invoke(
        app, ["run", "--db", str(tmp_path / "w.duckdb"), "--select", "key:raw/owid_ifr_robots__*"]
    )
    assert r.exit_code == 1
    assert "FAILED source_owid_ifr_robots" in r.output
    assert "sha256 differs" in r.output
