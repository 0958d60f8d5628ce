"""kill -9 of a real process in the middle of writing a forecast table, a population prior (CSV +
sidecar) or a saved posterior (netCDF): the file is its old version or the whole new one, and
the temporary file the killed writer left is removed by the next write of the same file.

Each writer runs in a child process on a payload large enough (tens of MB) that its write takes
a measurable time. The test kills it (a) as soon as its temporary file appears, which lands in
the middle of writing it, and (b) at fixed delays after it starts writing (rendering, writing or
done).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from learnrace_pipeline.lib.storage import files
from learnrace_pipeline.lib.storage.locks import process_start

REPO = Path(__file__).resolve().parents[3]

#: Builds the old and new payload of each kind and writes one; run by the test and the child.
PAYLOADS = textwrap.dedent(
    """
    import numpy as np, polars as pl, xarray as xr
    from pathlib import Path

    def build(kind, version, big=True):
        rng = np.random.default_rng(1 if version == "old" else 2)
        if kind == "forecast":
            n = 400_000 if big and version == "new" else 1_000
            q = np.sort(rng.lognormal(0, 1, (n, 7)), axis=1)
            return pl.DataFrame({
                "series_id": [f"s{i // 4:06d}" for i in range(n)],
                "year": 2025 + np.arange(n) % 4,
                **{c: q[:, k] for k, c in enumerate(("q05", "q10", "q25", "q50", "q75", "q90", "q95"))},
                "model": "wright[all]",
            })
        if kind == "prior":
            from learnrace_pipeline.lib.forecast.priors import PopulationPrior
            n = 150_000 if big and version == "new" else 500
            levels = ["all"] + [f"industry{k}" for k in range(5)]
            return {
                lv: PopulationPrior(
                    lv, rng.normal(0.3, 0.1, n), rng.gamma(2, 0.05, n), rng.normal(-2, 0.3, n),
                    rng.gamma(2, 0.1, n), rng.uniform(-0.5, 0.5, n), {"trend": "wright"},
                    2 + rng.gamma(5, 2, n),
                )
                for lv in levels
            }
        if kind == "posterior":
            shape = (4, 2000, 1000) if big and version == "new" else (2, 50, 10)
            ds = xr.Dataset({"w": (("chain", "draw", "series"), rng.normal(size=shape))})
            attrs = {a: version for a in (
                "model_id", "model_type", "data_version", "code_version", "sampler_config",
                "model_config")}
            dt = xr.DataTree.from_dict({"posterior": ds})
            dt.attrs = attrs
            return dt
        raise ValueError(kind)

    def write(kind, obj, target):
        target = Path(target)
        if kind == "forecast":
            from learnrace_pipeline.lib.forecast.outputs import write_forecasts
            write_forecasts(obj, target, "csv")
        elif kind == "prior":
            from learnrace_pipeline.lib.forecast.priors import save_priors
            save_priors(obj, target, {"made_by": "test"})
        else:
            from learnrace_pipeline.lib.models.cache import save_atomic
            save_atomic(obj, target)
    """
)

CHILD = PAYLOADS + textwrap.dedent(
    """
    import sys, time
    kind, target = sys.argv[1], sys.argv[2]
    obj = build(kind, "new")
    print("writing", flush=True)
    start = time.perf_counter()
    write(kind, obj, target)
    print(f"done {time.perf_counter() - start:.3f}", flush=True)
    """
)

ns: dict = {}
exec(PAYLOADS, ns)  # the same builders as the child's
build, write = ns["build"], ns["write"]

TARGETS = {"forecast": "out.csv", "prior": "prior.csv", "posterior": "fit.nc"}


def _members(kind: str, target: Path) -> list[Path]:
    """The files one write of ``kind`` replaces."""
    return [target, target.with_suffix(".meta.json")] if kind == "prior" else [target]


def _leftovers(kind: str, target: Path) -> list[Path]:
    return [t for p in _members(kind, target) for t in files.temporaries(p, p.suffix)] + [
        t for p in _members(kind, target) for t in files.temporaries(p)
    ]


def _state(kind: str, target: Path, old: list[bytes]) -> str:
    """``old`` when every member is byte-identical to the old version, ``new`` when it parses
    whole as the new version; anything else fails the test."""
    members = _members(kind, target)
    if [p.read_bytes() for p in members] == old:
        return "old"
    new = build(kind, "new")
    if kind == "forecast":
        import polars as pl
        from polars.testing import assert_frame_equal

        assert_frame_equal(pl.read_csv(target), new, check_dtypes=False)
    elif kind == "prior":
        from learnrace_pipeline.lib.forecast.priors import load_priors

        got = load_priors(target)  # refuses a CSV and sidecar of two writes
        assert list(got) == list(new)
        for level, p in new.items():
            np.testing.assert_allclose(got[level].w_mu, p.w_mu, rtol=0, atol=6e-7)
        assert json.loads(members[1].read_text())["made_by"] == "test"
    else:
        from learnrace_pipeline.lib.models import base

        got = base.load(target)
        assert got.attrs["data_version"] == "new"
        np.testing.assert_array_equal(got["posterior"]["w"].values, new["posterior"]["w"].values)
    return "new"


def _kill_while_writing(kind: str, target: Path, when: str | float) -> tuple[str, int]:
    """Start a child writing the new version; kill -9 it when its temporary file appears
    (``when="temp"``) or ``when`` seconds after it starts writing. (what it printed, leftover
    temporaries)."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, kind, str(target)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert child.stdout.readline().strip() == "writing"
        if when == "temp":
            end = time.monotonic() + 120
            while not _leftovers(kind, target) and child.poll() is None:
                assert time.monotonic() < end, "no temporary file appeared"
                time.sleep(0.0005)
        else:
            time.sleep(float(when))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    said = child.stdout.read()
    assert child.returncode == -signal.SIGKILL or "done" in said
    return said, len(_leftovers(kind, target))


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(TARGETS))
def test_kill_9_mid_write_leaves_the_old_or_the_new_file(tmp_path: Path, kind: str) -> None:
    target = tmp_path / TARGETS[kind]
    write(kind, build(kind, "old", big=False), target)
    old = [p.read_bytes() for p in _members(kind, target)]
    outcomes = []
    for when in ("temp", "temp", 0.05, 0.5):
        said, left = _kill_while_writing(kind, target, when)
        outcomes.append((when, _state(kind, target, old), left, said.strip()))
    print(kind, outcomes)
    # The kills at the temporary file's appearance landed mid-write: the old file, a temporary
    # left behind by the dead writer.
    mid = [o for o in outcomes if o[0] == "temp"]
    assert all(state == "old" and left >= 1 for _, state, left, _ in mid), outcomes
    # The next write of the same file removes what the killed writers left.
    write(kind, build(kind, "new"), target)
    assert _state(kind, target, old) == "new"
    assert _leftovers(kind, target) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in _members(kind, target)
    )


def _dead_pid() -> tuple[int, str]:
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    start = process_start(p.pid)
    p.kill()
    p.wait()
    return p.pid, start


def test_sweep_removes_only_temporaries_of_dead_writers_on_this_host(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    pid, start = _dead_pid()
    host = files._host_tag()
    other_host = "000000" if host != "000000" else "111111"
    names = {
        "dead": f".out.csv.{host}-{pid}-{start}.{'a' * 16}.tmp",
        "live": files.temporary_name(target).name,  # this process
        "other_host": f".out.csv.{other_host}-{pid}-{start}.{'b' * 16}.tmp",
        "unparsed": f".out.csv.{'c' * 16}.tmp",  # an older writer's name: owner unknown
        "other_target": f".out2.csv.{host}-{pid}-{start}.{'d' * 16}.tmp",
    }
    for n in names.values():
        (tmp_path / n).write_bytes(b"partial")
    assert files.sweep_temporaries(target) == [tmp_path / names["dead"]]
    left = {p.name for p in tmp_path.iterdir()}
    assert left == set(names.values()) - {names["dead"]}
    # A reused PID (same number, another start time) is a dead writer too.
    reused = f".out.csv.{host}-{os.getpid()}-1.{'e' * 16}.tmp"
    (tmp_path / reused).write_bytes(b"partial")
    files.write_atomic_bytes(b"x\n", target)
    assert not (tmp_path / reused).exists()
    assert (tmp_path / names["live"]).exists()


def test_a_prior_whose_sidecar_is_from_another_write_is_refused(tmp_path: Path) -> None:
    from learnrace_pipeline.lib.errors import DataError
    from learnrace_pipeline.lib.forecast.priors import load_priors

    a, b = tmp_path / "a" / "prior.csv", tmp_path / "b" / "prior.csv"
    for p, version in ((a, "old"), (b, "new")):
        p.parent.mkdir()
        write("prior", build("prior", version, big=False), p)
    assert list(load_priors(a)) == list(load_priors(b))
    a.write_bytes(b.read_bytes())  # b's CSV beside a's sidecar
    with pytest.raises(DataError, match="does not match its sidecar"):
        load_priors(a)
