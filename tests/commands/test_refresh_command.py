"""``learnrace refresh`` through real subprocesses of the installed command, downloading from a
real HTTP server on 127.0.0.1 (every upstream host mapped there by LEARNRACE_REFRESH_URL_MAP, so
nothing leaves the machine)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import upstream_server
from upstream_server import Route

from learnrace_pipeline.lib.sources import SOURCES
from learnrace_pipeline.lib.sources.refresh_spec import REFRESH, NotRefreshable
from learnrace_pipeline.lib.storage import raw_cache

REPO = Path(__file__).resolve().parents[2]
LEARNRACE = REPO / ".venv" / "bin" / "learnrace"
ROBOTS_PATH = "/owid/grapher/annual-industrial-robots-installed.csv"
GOOD = (
    b"Entity,Code,Year,Annual industrial robots installed\n"
    b"China,CHN,2022,290000\nChina,CHN,2023,276000\n"
    b"World,OWID_WRL,2022,553000\nWorld,OWID_WRL,2023,541000\n"
)


@pytest.fixture
def up():
    server = upstream_server.start()
    yield server
    upstream_server.stop(server)


def _run(up, cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("LEARNRACE_") or k == "LEARNRACE_RAW_DIR"
    }
    env["LEARNRACE_REFRESH_URL_MAP"] = " ".join(
        [
            f"https://ourworldindata.org/={up.base}owid/",
            f"https://epoch.ai/={up.base}epoch/",
            f"https://raw.githubusercontent.com/={up.base}github/",
        ]
    )
    env["COLUMNS"] = "160"
    return subprocess.run(
        [str(LEARNRACE), "refresh", "--cache", str(cache), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_new_then_unchanged_then_failed_keeps_data(up, tmp_path):
    cache = tmp_path / "cache"
    up.routes[ROBOTS_PATH] = Route(GOOD, etag='"1"')
    first = _run(up, cache, "--source", "owid_ifr_robots")
    assert first.returncode == 0, first.stderr
    assert "owid_ifr_robots" in first.stdout and " new " in first.stdout
    version = raw_cache.current(cache, "owid_ifr_robots").version
    assert f"version {version[:12]}, 1 file(s) downloaded" in first.stdout
    assert "production 4" in first.stdout and "market_shares 2" in first.stdout

    second = _run(up, cache, "--source", "owid_ifr_robots", "--format", "json")
    assert second.returncode == 0, second.stderr
    rows = json.loads(second.stdout)
    assert [(r["source"], r["status"], r["version"]) for r in rows] == [
        ("owid_ifr_robots", "unchanged", version)
    ]
    assert up.requests(ROBOTS_PATH)[-1].if_none_match == '"1"'

    up.routes[ROBOTS_PATH] = Route(GOOD.replace(b"2023,276000", b"2023,lots"), etag='"2"')
    third = _run(up, cache, "--source", "owid_ifr_robots", "--format", "json")
    assert third.returncode == 1
    (row,) = json.loads(third.stdout)
    assert row["status"] == "failed"
    assert "row 3, column 'Annual industrial robots installed'" in row["detail"]
    assert f"kept version {version[:12]}" in row["detail"]
    assert "Traceback" not in third.stderr
    assert raw_cache.current(cache, "owid_ifr_robots").version == version


def test_every_source_listed_with_not_refreshable_reasons(up, tmp_path):
    cache = tmp_path / "cache"
    up.routes[ROBOTS_PATH] = Route(GOOD, etag='"1"')
    t0 = time.monotonic()
    done = _run(up, cache, "--format", "json")
    elapsed = time.monotonic() - t0
    rows = {r["source"]: r for r in json.loads(done.stdout)}
    assert list(rows) == list(SOURCES)
    for source, spec in REFRESH.items():
        if isinstance(spec, NotRefreshable):
            assert rows[source]["status"] == "not refreshable"
            assert rows[source]["detail"] == spec.reason
    assert rows["owid_ifr_robots"]["status"] == "new"
    # everything else refreshable has no file on the test server: 404, not retried, clear reason
    assert rows["epoch_ai"]["status"] == "failed"
    assert (
        f"download of {up.base}epoch/data/notable_ai_models.csv failed: HTTP 404"
        in (rows["epoch_ai"]["detail"])
    )
    assert done.returncode == 1
    assert elapsed < 60


def test_table_output_and_bad_usage(up, tmp_path):
    cache = tmp_path / "cache"
    up.routes[ROBOTS_PATH] = Route(GOOD, etag='"1"')
    done = _run(up, cache, "-s", "owid_ifr_robots", "-s", "owid_datasets")
    assert done.returncode == 0, done.stderr
    assert "Refresh into" in done.stdout
    assert "not refreshable" in done.stdout and "emptied" in done.stdout
    assert "LEARNRACE_REFRESH=1" in done.stdout  # the caption says how runs use it
    bad = _run(up, cache, "--source", "nope")
    assert bad.returncode == 2
    assert "unknown source(s) ['nope']" in bad.stderr and "Traceback" not in bad.stderr


def test_progress_on_a_terminal_only(up, tmp_path):
    """Two sources: the terminal sees ``learnrace refresh  i/2 sources`` grow to 2/2 with the
    source being fetched; the pipe sees no progress; the JSON on stdout is the same."""
    from test_progress import _env, _progress_lines, run_piped, run_with_terminal

    up.routes[ROBOTS_PATH] = Route(GOOD, etag='"1"')
    env = _env(
        LEARNRACE_REFRESH_URL_MAP=f"https://ourworldindata.org/={up.base}owid/",
        LEARNRACE_RAW_CACHE=str(tmp_path / "unused"),
    )
    args = [str(LEARNRACE), "refresh", "-s", "owid_ifr_robots", "-s", "owid_datasets"]
    args += ["--format", "json"]
    code, out_tty, err_tty = run_with_terminal(
        [*args, "--cache", str(tmp_path / "a")], tmp_path, env
    )
    assert code == 0, err_tty.decode()
    code, out_pipe, err_pipe = run_piped([*args, "--cache", str(tmp_path / "b")], tmp_path, env)
    assert code == 0, err_pipe.decode()

    def rows(out: bytes) -> list[tuple[str, str]]:
        return [(r["source"], r["status"]) for r in json.loads(out)]

    assert (
        rows(out_tty)
        == rows(out_pipe)
        == [
            ("owid_ifr_robots", "new"),
            ("owid_datasets", "not refreshable"),
        ]
    )
    lines = _progress_lines(err_tty, "learnrace refresh  ")
    counts = [int(re.match(r"learnrace refresh  (\d)/2 sources", x)[1]) for x in lines]
    # drawn at the start and the end; between, at most every 0.1 s (a fast refresh skips some)
    assert counts[0] == 0 and counts[-1] == 2 and counts == sorted(counts)
    assert all(x.endswith(("owid_ifr_robots", "owid_datasets")) for x in lines[1:-1])
    assert b"\r" not in err_pipe and b"\x1b[K" not in err_pipe
