"""kill -9 of a real ``learnrace forecast --output F --summary S`` while it writes F, then while
it writes S: each file is its old version or the whole new one, and the next forecast removes
the temporary files the killed processes left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.storage.files import temporaries

LEARNRACE = Path(sys.executable).parent / "learnrace"
N_SERIES = 1000

pytestmark = pytest.mark.slow


def _input(path: Path) -> Path:
    rng = np.random.default_rng(5)
    k = np.tile(np.arange(8), N_SERIES)
    cost = 80 * np.exp(-0.07 * k + rng.normal(0, 0.05, k.size))
    pl.DataFrame(
        {
            "series_id": np.repeat([f"s{i:05d}" for i in range(N_SERIES)], 8),
            "year": 2010 + k,
            "unit_cost": np.where(k >= 5, np.nan, cost),
            "annual_production": 5.0 * (k + 1),
        }
    ).with_columns(pl.col("unit_cost").fill_nan(None)).write_csv(path)
    return path


def _forecast(src: Path, out: Path, summary: Path) -> subprocess.Popen:
    args = [str(LEARNRACE), "forecast", "--input", str(src), "--output", str(out)]
    args += ["--summary", str(summary), "--model", "wright", "--samples", "200"]
    env = {**os.environ, "LEARNRACE_PROGRESS": "0"}
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _kill_when_writing(proc: subprocess.Popen, target: Path, timeout: float = 600) -> bool:
    """Kill -9 ``proc`` as soon as a temporary file of ``target`` appears; False if it ended
    first."""
    end = time.monotonic() + timeout
    while not temporaries(target):
        if proc.poll() is not None:
            return False
        assert time.monotonic() < end, "no temporary file appeared"
        time.sleep(0.0005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    return True


def test_kill_9_while_writing_output_or_summary_leaves_old_or_new(tmp_path):
    src = _input(tmp_path / "in.csv")
    ref = tmp_path / "ref"
    ref.mkdir()
    p = _forecast(src, ref / "out.csv", ref / "summary.csv")
    assert p.wait(600) == 0, p.stderr.read().decode()
    new = {n: (ref / n).read_bytes() for n in ("out.csv", "summary.csv")}
    assert pl.read_csv(new["out.csv"]).height == N_SERIES * 3

    work = tmp_path / "work"
    work.mkdir()
    out, summary = work / "out.csv", work / "summary.csv"
    old = {"out.csv": b"old output\n", "summary.csv": b"old summary\n"}
    for n, b in old.items():
        (work / n).write_bytes(b)

    def state(name: str) -> str:
        data = (work / name).read_bytes()
        assert data in (old[name], new[name]), f"{name} is neither old nor new"
        return "old" if data == old[name] else "new"

    # (1) killed while writing the forecast table: the table old (or, had the kill come after
    # its rename, new), the summary not yet written
    killed = _kill_when_writing(_forecast(src, out, summary), out)
    first = (state("out.csv"), state("summary.csv"))
    assert first in ((("old", "old"), ("new", "old")) if killed else (("new", "new"),))
    left = temporaries(out)
    # (2) killed while writing the summary: the table is new, the summary old
    for n, b in old.items():
        (work / n).write_bytes(b)
    killed2 = _kill_when_writing(_forecast(src, out, summary), summary)
    assert state("out.csv") == "new"
    assert state("summary.csv") == ("old" if killed2 else "new")
    left += temporaries(summary)
    assert killed and killed2 and len(left) >= 1, "no kill landed in a write"
    print("after the kill in the table's write:", first, "temporaries left:", len(left))
    # (3) the next forecast into the same files sweeps what the killed ones left
    p = _forecast(src, out, summary)
    assert p.wait(600) == 0
    assert (state("out.csv"), state("summary.csv")) == ("new", "new")
    assert sorted(f.name for f in work.iterdir()) == ["out.csv", "summary.csv"]
