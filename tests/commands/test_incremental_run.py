"""Incremental ``learnrace run``: real subprocesses of the real command on a temporary warehouse,
``DAGSTER_HOME`` and copy of two sources' snapshot, on a small selection (two sources and one
harmonized table fed by each, and one more fed by the changing source's step but not by the
file that changes).

One sequence: a cold run computes everything; a second run with nothing changed launches no
Dagster run at all; after one source's snapshot file changes, only that source's step and the
harmonized table that file feeds run; with the warehouse file deleted everything runs again; with
``--force`` everything runs though nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.storage.warehouse import read_table

LEARNRACE = Path(sys.executable).parent / "learnrace"
CHANGED, KEPT = "owid_ifr_robots", "epoch_ai"
SELECT = (
    f"key:raw/{CHANGED}__* or key:raw/{KEPT}__* "
    "or key:harmonized/data_notes or key:harmonized/ai_models or key:harmonized/production"
)
CHANGED_KEYS = {
    f"raw/{CHANGED}__data_notes",
    f"raw/{CHANGED}__market_shares",
    f"raw/{CHANGED}__production",
    "harmonized/data_notes",
}
KEPT_KEYS = {
    f"raw/{KEPT}__ai_models",
    f"raw/{KEPT}__data_notes",
    "harmonized/ai_models",
    "harmonized/production",  # fed by the changed source's step, not by the changed file
}
EVERY = CHANGED_KEYS | KEPT_KEYS

pytestmark = pytest.mark.slow


class Env:
    """A warehouse, DAGSTER_HOME and snapshot copy in ``tmp``, and the ``learnrace run`` of it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.db, self.home = tmp, tmp / "w" / "w.duckdb", tmp / "home"
        self.datasets = tmp / "datasets"
        for s in (CHANGED, KEPT):
            shutil.copytree(snapshot.DEFAULT_DATASETS / s, self.datasets / s)

    def run(self, *extra: str) -> tuple[str, float]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEARNRACE_")}
        env.update(
            DAGSTER_HOME=str(self.home),
            LEARNRACE_DATASETS=str(self.datasets),
            LEARNRACE_PROGRESS="0",
            COLUMNS="1000",
        )
        start = time.perf_counter()
        proc = subprocess.run(
            [str(LEARNRACE), "run", "--db", str(self.db), "--select", SELECT, *extra],
            cwd=self.tmp,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        elapsed = time.perf_counter() - start
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out
        return out, elapsed

    def runs(self) -> list[dg.DagsterRun]:
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            return list(instance.get_runs())

    def materialised(self, run_id: str) -> set[str]:
        """Asset keys the run materialised, from the instance's event log."""
        with dg.DagsterInstance.from_config(str(self.home)) as instance:
            records = instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
            return {
                r.event_log_entry.dagster_event.asset_key.to_user_string()
                for r in records
                if r.event_log_entry.dagster_event is not None
            }

    def edit_note(self) -> str:
        """Change one note of the changed source's ``data_notes.csv`` (sidecar sha256 updated,
        so the snapshot stays valid); the new note text."""
        folder = self.datasets / CHANGED
        csv = folder / "data_notes.csv"
        lines = csv.read_text(encoding="utf-8").splitlines(keepends=True)
        note = "edited for the incremental-run test"
        lines[1] = lines[1].rstrip("\r\n") + f" ({note})\n"
        csv.write_text("".join(lines), encoding="utf-8")
        meta_path = folder / "data_notes.meta.json"
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        meta["sha256"] = hashlib.sha256(csv.read_bytes()).hexdigest()
        meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return note


def _counts(out: str) -> tuple[int, int]:
    m = re.search(r"incremental run: (\d+) of (\d+) selected assets to run", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def test_incremental_runs_skip_what_did_not_change(tmp_path):
    env = Env(tmp_path)

    out, cold_s = env.run()
    assert _counts(out) == (len(EVERY), len(EVERY)), out
    (cold,) = env.runs()
    assert env.materialised(cold.run_id) == EVERY

    # nothing changed: no Dagster run, every selected asset said to be up to date
    out, noop_s = env.run()
    assert _counts(out) == (0, len(EVERY)), out
    assert "nothing to run, 8 selected asset(s) up to date" in out
    assert [r.run_id for r in env.runs()] == [cold.run_id]
    print(f"cold {cold_s:.1f} s, no-op {noop_s:.1f} s")

    # one source's file changed: that source's step and the table the file feeds, nothing else
    note = env.edit_note()
    out, _ = env.run()
    assert _counts(out) == (len(CHANGED_KEYS), len(EVERY)), out
    assert "input files changed" in out
    latest = env.runs()[0]
    assert env.materialised(latest.run_id) == CHANGED_KEYS
    notes = read_table(env.db, "harmonized", "data_notes")
    assert notes["note"].str.contains(note, literal=True).sum() == 1
    with dg.DagsterInstance.from_config(str(env.home)) as instance:
        engine = [
            r.event_log_entry.dagster_event.message or ""
            for r in instance.get_records_for_run(
                latest.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT
            ).records
        ]
    skipped = next(m for m in engine if "up to date, not run" in m)
    assert all(k in skipped for k in KEPT_KEYS), skipped

    # and again: nothing to run
    out, _ = env.run()
    assert _counts(out) == (0, len(EVERY)), out
    assert len(env.runs()) == 2

    # the warehouse file deleted, DAGSTER_HOME kept: every table is missing, everything runs
    env.db.unlink()
    out, _ = env.run()
    assert _counts(out) == (len(EVERY), len(EVERY)), out
    assert "table missing from the warehouse" in out
    assert env.materialised(env.runs()[0].run_id) == EVERY
    assert read_table(env.db, "harmonized", "ai_models").height > 0

    # --force: everything runs though nothing changed
    out, _ = env.run("--force")
    assert _counts(out) == (len(EVERY), len(EVERY)), out
    assert env.materialised(env.runs()[0].run_id) == EVERY
    assert len(env.runs()) == 4
