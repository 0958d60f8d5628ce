"""Progress of long commands: one line rewritten in place on a terminal's stderr, nothing in a
pipe, standard output the same either way. Real subprocesses with stderr on a pseudo-terminal
(``pty.openpty``) or a pipe."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.commands._progress import CLEAR, Progress, elapsed_text, progress_enabled

REPO = Path(__file__).resolve().parents[2]
LEARNRACE = Path(sys.executable).parent / "learnrace"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("LEARNRACE_PROGRESS", "TERM")}
    return env | {"TERM": "xterm", "COLUMNS": "200"} | extra


def run_with_terminal(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300):
    """(exit code, stdout bytes, stderr bytes) of ``args`` with stderr on a pseudo-terminal of
    200 columns and stdout on a pipe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
    proc = subprocess.Popen(
        args, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave
    )
    os.close(slave)
    out: list[bytes] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))
    reader.start()
    err = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    code = proc.wait(timeout=timeout)
    reader.join(timeout=timeout)
    return code, out[0], err


def run_piped(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300):
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


# --- the helper --------------------------------------------------------------------------------


def _terminal_stream():
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
    return master, os.fdopen(slave, "w")


def _drain(master: int) -> str:
    os.set_blocking(master, False)
    data = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except BlockingIOError:
            return data.decode()
        if not chunk:
            return data.decode()
        data += chunk


def test_progress_draws_on_a_terminal_and_keeps_other_stderr_lines_above(monkeypatch):
    monkeypatch.delenv("LEARNRACE_PROGRESS", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    master, stream = _terminal_stream()
    monkeypatch.setattr(sys, "stderr", stream)
    try:
        with Progress("work", 3, unit="items", min_interval=0) as p:
            assert p.enabled and sys.stderr is not stream  # others' writes go above the line
            p.advance(name="first")
            print("a log line", file=sys.stderr)
            p.advance(2, name="last")
        assert sys.stderr is stream
        stream.flush()
        text = _drain(master).replace("\r\n", "\n")  # the terminal's own newline translation
    finally:
        stream.close()
        os.close(master)
    draws = [d for d in text.split(CLEAR) if d]
    assert draws[0] == "work  0/3 items  0s"
    assert draws[1] == "work  1/3 items  0s  first"
    assert draws[2] == "a log line\n"  # the line cleared first, the text whole
    assert draws[3] == "work  1/3 items  0s  first"  # drawn again below it
    assert draws[-1] == "work  3/3 items  0s  last"
    assert text.endswith(CLEAR)  # cleared on exit


def test_progress_is_silent_in_a_pipe_and_obeys_the_override(monkeypatch):
    monkeypatch.delenv("LEARNRACE_PROGRESS", raising=False)
    r, w = os.pipe()
    pipe = os.fdopen(w, "w")
    try:
        assert not progress_enabled(pipe)
        with Progress("work", 2, stream=pipe) as p:
            p.advance(2)
        pipe.close()
        assert os.read(r, 1000) == b""
        monkeypatch.setenv("LEARNRACE_PROGRESS", "1")
        assert progress_enabled(pipe)
        master, stream = _terminal_stream()
        monkeypatch.setenv("LEARNRACE_PROGRESS", "0")
        assert progress_enabled(stream) is False
        monkeypatch.delenv("LEARNRACE_PROGRESS")
        assert progress_enabled(stream) is True
        monkeypatch.setenv("TERM", "dumb")
        assert progress_enabled(stream) is False
        stream.close()
        os.close(master)
    finally:
        os.close(r)
    assert [elapsed_text(s) for s in (5.9, 65, 3723)] == ["5s", "1m05s", "1h02m03s"]


# --- the commands ------------------------------------------------------------------------------


def _series_csv(path: Path, n: int) -> Path:
    rng = np.random.default_rng(3)
    k = np.tile(np.arange(7), n)
    cost = 50 * np.exp(-0.08 * k + rng.normal(0, 0.05, 7 * n))
    pl.DataFrame(
        {
            "series_id": np.repeat([f"s{i:04d}" for i in range(n)], 7),
            "year": 2010 + k,
            "unit_cost": np.where(k >= 5, np.nan, cost),
            "annual_production": 10.0 * (k + 1),
        }
    ).with_columns(pl.col("unit_cost").fill_nan(None)).write_csv(path)
    return path


def _progress_lines(err: bytes, what: str) -> list[str]:
    return [d for d in err.decode().split(CLEAR) if d.startswith(what)]


def test_forecast_shows_series_done_on_a_terminal_only(tmp_path):
    """300 series (7 blocks of 48 per model, the pool's two models in turn): the terminal sees
    the count grow to 600/600; the pipe sees no progress; the forecast on stdout is the same."""
    args = [str(LEARNRACE), "forecast", "--input", str(_series_csv(tmp_path / "in.csv", 300))]
    args += ["--output", "-", "--samples", "200"]
    code, out_tty, err_tty = run_with_terminal(args, tmp_path, _env())
    assert code == 0, err_tty.decode()
    code, out_pipe, err_pipe = run_piped(args, tmp_path, _env())
    assert code == 0, err_pipe.decode()
    assert out_tty == out_pipe and out_pipe.count(b"\n") == 1 + 300 * 2
    lines = _progress_lines(err_tty, "learnrace forecast  ")
    counts = [int(re.match(r"learnrace forecast  (\d+)/600 series", x)[1]) for x in lines]
    assert counts[0] == 0 and counts[-1] == 600 and counts == sorted(counts)
    assert len(set(counts)) >= 4  # seen growing, not only at the ends
    assert b"\r" not in err_pipe and b"\x1b[K" not in err_pipe
    assert b"learnrace forecast -> standard output" in err_pipe  # the run's report, as before


@pytest.mark.slow
def test_run_shows_steps_done_on_a_terminal_only(tmp_path):
    """learnrace run of one source and one harmonized table: the terminal sees steps done of
    the plan's steps; the pipe sees none; stdout (times aside) is the same."""
    select = "key:raw/owid_ifr_robots__* or key:harmonized/production"
    results = {}
    for how, runner in (("tty", run_with_terminal), ("pipe", run_piped)):
        args = [str(LEARNRACE), "run", "--db", str(tmp_path / f"{how}.duckdb")]
        env = _env(DAGSTER_HOME=str(tmp_path / f"dh_{how}"))
        results[how] = runner([*args, "--select", select], tmp_path, env)
        assert results[how][0] == 0, results[how][2].decode()
    lines = _progress_lines(results["tty"][2], "learnrace run  ")
    totals = {m[2] for x in lines if (m := re.match(r"learnrace run  (\d+)/(\d+) steps", x))}
    assert totals == {"9"}  # 1 source step + 3 checks, 1 harmonized step + 4 checks
    done = [int(m[1]) for x in lines if (m := re.match(r"learnrace run  (\d+)/", x))]
    assert done == sorted(done) and len(set(done)) >= 2  # polled every 0.5 s: seen growing
    assert b"\x1b[K" not in results["pipe"][2] and b"steps  " not in results["pipe"][2]

    def same(out: bytes) -> str:
        text = out.decode().replace(str(tmp_path), "")
        text = re.sub(r"(tty|pipe)", "X", re.sub(r"in \d+\.\d s", "in T s", text))
        return " ".join(text.split())  # the table's title is centred on its path

    assert same(results["tty"][1]) == same(results["pipe"][1])


@pytest.fixture
def spec_warehouse(pipeline, tmp_path) -> Path:
    """A warehouse as ``learnrace run`` leaves it, for ``race --spec``: a copy of the session's
    main-job warehouse (``pipeline``, tests/conftest.py) with its saved posteriors beside it
    (``fits/`` linked), where ``race --spec`` looks for them."""
    import shutil

    result, db, work, _ = pipeline
    assert result.success, "the session's main job failed: see tests/defs/test_pipeline_assets"
    folder = tmp_path / "warehouse"
    folder.mkdir()
    shutil.copyfile(db, folder / "learnrace.duckdb")
    (folder / "fits").symlink_to(work / "fits", target_is_directory=True)
    return folder / "learnrace.duckdb"


@pytest.mark.slow
def test_race_from_a_spec_shows_industries_on_a_terminal_only(spec_warehouse, tmp_path):
    """learnrace race --spec (the race computed from the saved posteriors, one industry at a
    time): the terminal sees each industry; the pipe nothing; the table is the same, and the
    same as the race computed in one call."""
    from learnrace_pipeline.commands._common import load_table
    from learnrace_pipeline.commands.race import SPEC_TABLE_SOURCES, _by_industry
    from learnrace_pipeline.lib.race import compute
    from learnrace_pipeline.lib.race.spec import load_spec

    db = spec_warehouse
    spec_file = REPO / "learnrace_pipeline" / "lib" / "race" / "race.yaml"
    args = [str(LEARNRACE), "race", "--spec", str(spec_file), "--db", str(db), "--format", "csv"]
    code, out_tty, err_tty = run_with_terminal(args, tmp_path, _env())
    assert code == 0, err_tty.decode()
    code, out_pipe, err_pipe = run_piped(args, tmp_path, _env())
    assert code == 0 and out_tty == out_pipe
    spec = load_spec(spec_file)
    lines = _progress_lines(err_tty, "learnrace race  ")
    n = len(spec.industries)
    assert any(x.startswith(f"learnrace race  {n}/{n} industries") for x in lines)
    assert any(x.endswith(spec.industries[0].id) for x in lines)
    assert b"\x1b[K" not in err_pipe

    import xarray as xr

    assets = db.parent / "fits" / "assets"
    fits = {k: xr.load_datatree(assets / f"{v}.nc") for k, v in compute.FITS.items()}
    tables = {t: load_table(t, s, db)[0] for t, s in SPEC_TABLE_SOURCES.items()}
    whole = compute.run_race(spec, fits, tables)
    with Progress("x", enabled=False) as p:
        parts = _by_industry(spec, fits, tables, None, p)
    from polars.testing import assert_frame_equal

    assert_frame_equal(parts.race, whole.race)
    assert_frame_equal(parts.pairwise, whole.pairwise)
    assert pl.read_csv(out_pipe).height == whole.race.height
