"""Refresh from upstream over real HTTP on 127.0.0.1: upstream-format files built here (OWID's
robots CSV, Epoch AI's two CSVs), served by a real ``http.server`` with injected faults, the real
readers as validators, and a real raw cache on disk."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import upstream_server
from upstream_server import Route

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.sources import epoch_ai, owid_ifr_robots
from learnrace_pipeline.lib.sources.refresh_http import FetchSettings
from learnrace_pipeline.lib.sources.refresh_spec import (
    REFRESH,
    Refreshable,
    allowed_prefixes,
    is_allowed,
    map_url,
    parse_url_map,
)
from learnrace_pipeline.lib.storage import raw_cache
from learnrace_pipeline.lib.storage.refresh import (
    load_refreshed,
    refresh,
    refresh_mode,
    refresh_source,
)
from learnrace_pipeline.lib.storage.snapshot import DEFAULT_DATASETS

REPO = Path(__file__).resolve().parents[3]
ROBOTS = "owid_ifr_robots"
ROBOTS_PATH = "/owid/grapher/annual-industrial-robots-installed.csv"
EPOCH_PATHS = {rel: f"/epoch/data/{rel}" for rel in epoch_ai.FILES}
FAST = FetchSettings(
    connect_timeout_s=2.0,
    read_timeout_s=2.0,
    total_timeout_s=20.0,
    retries=2,
    backoff_s=0.01,
    max_bytes=1 << 20,
)


def robots_csv(rows: list[tuple[str, str, int, float]]) -> bytes:
    """OWID grapher CSV: ``Entity,Code,Year,Annual industrial robots installed``."""
    lines = ["Entity,Code,Year,Annual industrial robots installed"]
    lines += [f"{e},{c},{y},{v:g}" for e, c, y, v in rows]
    return ("\n".join(lines) + "\n").encode()


V1 = [
    ("China", "CHN", 2021, 268000),
    ("China", "CHN", 2022, 290000),
    ("Japan", "JPN", 2021, 47000),
    ("Japan", "JPN", 2022, 50000),
    ("World", "OWID_WRL", 2021, 517000),
    ("World", "OWID_WRL", 2022, 553000),
]
V2 = [*V1, ("China", "CHN", 2023, 276000), ("World", "OWID_WRL", 2023, 541000)]

EPOCH_HEADER = (
    "Model,Organization,Publication date,Domain,Parameters,Training compute (FLOP),"
    "Training dataset size (datapoints),Confidence,Country (of organization)"
)


def epoch_csv(rows: list[str]) -> bytes:
    return ("\n".join([EPOCH_HEADER, *rows]) + "\n").encode()


NOTABLE = ["GPT-X,OpenAI,2023-03-15,Language,,2e25,,Likely,United States of America"]
LARGE = ["GPT-X,OpenAI,2023-03-15,Language,,2e25,,Likely,United States of America"]


@pytest.fixture
def up():
    server = upstream_server.start()
    yield server
    upstream_server.stop(server)


@pytest.fixture
def cache(tmp_path) -> Path:
    return tmp_path / "raw_cache"


def url_map(up) -> dict[str, str]:
    return {
        "https://ourworldindata.org/": f"{up.base}owid/",
        "https://epoch.ai/": f"{up.base}epoch/",
    }


def run(up, cache: Path, source: str = ROBOTS, **kw):
    return refresh_source(
        source,
        cache_dir=cache,
        dataset_dir=DEFAULT_DATASETS,
        url_map=url_map(up),
        settings=kw.pop("settings", FAST),
        **kw,
    )


def production(cache: Path) -> pl.DataFrame:
    folder = raw_cache.current_dir(cache, ROBOTS)
    return owid_ifr_robots.read(folder)["production"]


# --- declarations and allow-list ----------------------------------------------------------------


def test_every_source_declared_and_every_url_allowed_by_its_own_sidecars():
    from learnrace_pipeline.lib.sources import SOURCES

    assert set(REFRESH) == set(SOURCES)
    for source, spec in REFRESH.items():
        assert spec.source == source
        if isinstance(spec, Refreshable):
            prefixes = allowed_prefixes(DEFAULT_DATASETS, source)
            for url in spec.files.values():
                assert url.startswith("https://")
                assert is_allowed(url, prefixes), (source, url)
        else:
            assert len(spec.reason) > 40
    # a GitHub repository named by one source does not allow another repository on that host
    robots = allowed_prefixes(DEFAULT_DATASETS, ROBOTS)
    assert is_allowed("https://raw.githubusercontent.com/sjaubert/Cours-IA/HEAD/x.csv", robots)
    assert not is_allowed("https://raw.githubusercontent.com/someone/else/HEAD/x.csv", robots)
    assert not is_allowed("http://ourworldindata.org/grapher/x.csv", robots)  # not https
    assert not is_allowed("https://user@ourworldindata.org/x.csv", robots)
    assert not is_allowed("https://ourworldindata.org.evil.net/x.csv", robots)


def test_url_map_parsing_and_mapping():
    m = parse_url_map("https://epoch.ai/=http://127.0.0.1:9/e/  https://x.org/a/=https://m.org/b/")
    assert m == {
        "https://epoch.ai/": "http://127.0.0.1:9/e/",
        "https://x.org/a/": "https://m.org/b/",
    }
    assert map_url("https://epoch.ai/data/n.csv", m) == (
        "http://127.0.0.1:9/e/data/n.csv",
        ("http://127.0.0.1:9/",),
    )
    assert map_url("https://other.org/n.csv", m) == ("https://other.org/n.csv", ())
    with pytest.raises(LearnraceError, match="not '<declared prefix>=<replacement prefix>'"):
        parse_url_map("https://epoch.ai/")
    with pytest.raises(LearnraceError, match="not an http"):
        parse_url_map("https://epoch.ai/=file:///etc/")


def test_refresh_mode_env_and_tag(monkeypatch):
    monkeypatch.delenv("LEARNRACE_REFRESH", raising=False)
    assert refresh_mode() == "off"
    monkeypatch.setenv("LEARNRACE_REFRESH", "1")
    assert refresh_mode() == "cache"
    assert refresh_mode({"learnrace/refresh": "fetch"}) == "fetch"
    assert refresh_mode({"learnrace/refresh": "off"}) == "off"
    monkeypatch.setenv("LEARNRACE_REFRESH", "sometimes")
    with pytest.raises(LearnraceError, match="LEARNRACE_REFRESH='sometimes'"):
        refresh_mode()


def test_not_refreshable_reported_with_reason(cache):
    o = refresh_source("owid_datasets", cache_dir=cache)
    assert o.status == "not refreshable"
    assert "emptied" in o.message
    assert not (cache / "owid_datasets").exists()


# --- the download cycle -------------------------------------------------------------------------


def test_first_download_then_304_then_new_version(up, cache):
    up.routes[ROBOTS_PATH] = Route(robots_csv(V1), etag='"v1"')
    first = run(up, cache)
    assert (first.status, first.downloaded) == ("new", 1)
    assert first.rows["production"] == len(V1)
    m = raw_cache.current(cache, ROBOTS)
    f = m.files[owid_ifr_robots.FILE]
    assert m.version == first.version
    assert f.etag == '"v1"' and f.last_modified.startswith("Mon, 30 Nov 2026")
    assert f.size == len(robots_csv(V1))
    assert f.url.startswith("https://ourworldindata.org/grapher/")
    assert f.fetched_url.startswith(up.base)
    assert production(cache)["annual_production"].sum() == sum(v for *_, v in V1)

    second = run(up, cache)
    assert (second.status, second.downloaded, second.version) == ("unchanged", 0, first.version)
    req = up.requests(ROBOTS_PATH)[-1]
    assert req.if_none_match == '"v1"'
    assert req.if_modified_since == "Mon, 30 Nov 2026 10:00:00 GMT"

    up.routes[ROBOTS_PATH] = Route(robots_csv(V2), etag='"v2"')
    third = run(up, cache)
    assert third.status == "new" and third.version != first.version
    assert raw_cache.current(cache, ROBOTS).version == third.version
    p = production(cache)
    assert p.filter(pl.col("year") == 2023)["annual_production"].to_list() == [276000, 541000]
    assert sorted(d.name for d in (cache / ROBOTS / "versions").iterdir()) == sorted(
        [first.version, third.version]
    )
    assert raw_cache.last_attempt(cache, ROBOTS)["status"] == "new"


def test_same_bytes_without_validators_is_unchanged(up, cache):
    up.routes[ROBOTS_PATH] = Route(robots_csv(V1), etag="", last_modified="")
    assert run(up, cache).status == "new"
    again = run(up, cache)
    assert (again.status, again.downloaded) == ("unchanged", 1)
    assert up.requests(ROBOTS_PATH)[-1].if_none_match is None


def test_two_files_one_changed_keeps_the_other_by_304(up, cache):
    for rel, path in EPOCH_PATHS.items():
        up.routes[path] = Route(
            epoch_csv(NOTABLE if rel.startswith("notable") else LARGE), etag='"a"'
        )
    assert run(up, cache, "epoch_ai").status == "new"
    notable = EPOCH_PATHS["notable_ai_models.csv"]
    up.routes[notable] = Route(
        epoch_csv(
            [*NOTABLE, "Small,Google,2024-01-02,Vision,,1e20,,Confident,United States of America"]
        ),
        etag='"b"',
    )
    o = run(up, cache, "epoch_ai")
    assert (o.status, o.downloaded) == ("new", 1)
    folder = raw_cache.current_dir(cache, "epoch_ai")
    models = epoch_ai.read(folder)["ai_models"]
    assert sorted(models["model"].to_list()) == ["GPT-X", "Small"]
    # the unchanged file is the same inode in both versions (hard link), not a second download
    large = EPOCH_PATHS["large_scale_ai_models.csv"]
    assert up.requests(large)[-1].if_none_match == '"a"'


# --- faults: each fails clearly and keeps the last good data ------------------------------------


def _kept(up, cache) -> str:
    """Make a good first version; return its id."""
    up.routes[ROBOTS_PATH] = Route(robots_csv(V1), etag='"v1"')
    o = run(up, cache)
    assert o.status == "new"
    return o.version


def _assert_kept(cache: Path, version: str) -> None:
    assert raw_cache.current(cache, ROBOTS).version == version
    assert production(cache)["annual_production"].sum() == sum(v for *_, v in V1)
    assert not list((cache / ROBOTS).glob(".staging-*"))


def test_timeout_fails_and_keeps_old_data(up, cache):
    version = _kept(up, cache)
    up.routes[ROBOTS_PATH] = Route(robots_csv(V2), etag='"v2"', delay_s=1.5)
    slow = FetchSettings(read_timeout_s=0.3, retries=1, backoff_s=0.01, max_bytes=1 << 20)
    t0 = time.monotonic()
    o = run(up, cache, settings=slow)
    assert time.monotonic() - t0 < 5
    assert o.status == "failed"
    assert "owid_ifr_robots" in o.message and up.base in o.message
    assert "no response within 0.3 s (after 2 attempts)" in o.message
    assert f"kept version {version[:12]}" in o.message
    assert len(up.requests(ROBOTS_PATH)) == 1 + 2
    _assert_kept(cache, version)
    assert raw_cache.last_attempt(cache, ROBOTS)["error"] == o.message


def test_stall_mid_body_is_a_read_timeout(up, cache):
    version = _kept(up, cache)
    up.routes[ROBOTS_PATH] = Route(robots_csv(V2), etag='"v2"', stall_s=1.5)
    slow = FetchSettings(read_timeout_s=0.3, retries=0, max_bytes=1 << 20)
    o = run(up, cache, settings=slow)
    assert o.status == "failed" and "read timed out after 0.3 s" in o.message
    _assert_kept(cache, version)


def test_http_500_retried_with_backoff_then_succeeds(up, cache):
    up.routes[ROBOTS_PATH] = Route(robots_csv(V1), etag='"v1"', errors_first=2)
    waits: list[float] = []
    o = run(up, cache, sleep=waits.append)
    assert o.status == "new"
    assert len(up.requests(ROBOTS_PATH)) == 3
    assert waits == [0.01, 0.02]  # backoff_s * 2**k


def test_http_500_every_time_fails_after_the_retries(up, cache):
    version = _kept(up, cache)
    up.routes[ROBOTS_PATH] = Route(robots_csv(V2), errors_first=99)
    o = run(up, cache)
    assert o.status == "failed"
    assert "HTTP 500 Internal Server Error (after 3 attempts)" in o.message
    assert len(up.requests(ROBOTS_PATH)) == 1 + 3  # the first good download, then 3 tries
    _assert_kept(cache, version)


def test_http_404_is_not_retried(up, cache):
    o = run(up, cache)  # no route: 404
    assert o.status == "failed" and "HTTP 404" in o.message and "(after" not in o.message
    assert len(up.requests(ROBOTS_PATH)) == 1
    assert raw_cache.current(cache, ROBOTS) is None
    assert "kept the shipped snapshot" in o.message


def test_truncated_body_refused(up, cache):
    version = _kept(up, cache)
    body = robots_csv(V2)
    up.routes[ROBOTS_PATH] = Route(body, etag='"v2"', truncate=True)
    o = run(up, cache, settings=FetchSettings(retries=1, backoff_s=0.01))
    assert o.status == "failed"
    assert f"truncated body: {len(body) // 2:,} of {len(body):,} bytes" in o.message
    _assert_kept(cache, version)


@pytest.mark.parametrize("no_length", [False, True])
def test_oversize_body_refused(up, cache, no_length):
    version = _kept(up, cache)
    big = robots_csv(V1 * 400)
    up.routes[ROBOTS_PATH] = Route(big, etag='"big"', no_length=no_length)
    capped = FetchSettings(max_bytes=10_000, retries=2, backoff_s=0.01)
    o = run(up, cache, settings=capped)
    assert o.status == "failed" and "size cap" in o.message
    if not no_length:
        assert f"body of {len(big):,} bytes exceeds the size cap of 10,000" in o.message
    assert len(up.requests(ROBOTS_PATH)) == 2  # not retried
    _assert_kept(cache, version)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (robots_csv(V1).replace(b"Japan,JPN,2022", b"Japan,JPN,20x2"), "row 5, column 'Year'"),
        (
            robots_csv(V1).replace(b"Annual industrial robots installed", b"Robots installed"),
            "row 1, column 'Annual industrial robots installed'",
        ),
        (robots_csv(V1).replace(b"Japan,JPN", b"Japan,KOR"), "row 4, column 'Code'"),
    ],
    ids=["bad-year", "changed-schema", "code-mismatch"],
)
def test_malformed_content_refused_by_the_reader(up, cache, body, where):
    version = _kept(up, cache)
    up.routes[ROBOTS_PATH] = Route(body, etag='"bad"')
    o = run(up, cache)
    assert o.status == "failed"
    assert "refused by the reader" in o.message
    assert "source 'owid_ifr_robots'" in o.message and where in o.message
    assert f"{up.base}owid/grapher/annual-industrial-robots-installed.csv" in o.message
    _assert_kept(cache, version)
    # the refused body was never cached: the next good answer is still compared with v1
    up.routes[ROBOTS_PATH] = Route(robots_csv(V1), etag='"v1"')
    assert run(up, cache).status == "unchanged"


def test_host_not_on_the_allow_list_refused_without_a_request(up, cache):
    spec = Refreshable(ROBOTS, {owid_ifr_robots.FILE: "https://evil.example.net/robots.csv"}, "t")
    o = run(up, cache, spec=spec)
    assert o.status == "failed"
    assert (
        "download of https://evil.example.net/robots.csv failed: host not on the allow-list"
        in o.message
    )
    assert up.log == []


def test_redirect_to_a_host_not_allowed_refused(up, cache):
    version = _kept(up, cache)
    port = up.server.server_address[1]
    elsewhere = f"http://localhost:{port}/owid/other.csv"
    up.routes[ROBOTS_PATH] = Route(redirect=elsewhere)
    up.routes["/owid/other.csv"] = Route(robots_csv(V2))
    o = run(up, cache)
    assert o.status == "failed"
    assert f"download of {elsewhere} (for {up.base}owid/grapher/" in o.message
    assert "failed: host not on the allow-list of this source (redirected from" in o.message
    assert up.requests("/owid/other.csv") == []
    _assert_kept(cache, version)


def test_redirect_within_the_allowed_origin_followed(up, cache):
    up.routes[ROBOTS_PATH] = Route(redirect=f"{up.base}owid/moved.csv")
    up.routes["/owid/moved.csv"] = Route(robots_csv(V1), etag='"m"')
    o = run(up, cache)
    assert o.status == "new"
    f = raw_cache.current(cache, ROBOTS).files[owid_ifr_robots.FILE]
    assert f.fetched_url == f"{up.base}owid/moved.csv"


# --- refresh mode loading ------------------------------------------------------------------------


def test_load_refreshed_fetch_failure_falls_back_to_last_good(up, cache, monkeypatch):
    monkeypatch.setenv(
        "LEARNRACE_REFRESH_URL_MAP", " ".join(f"{k}={v}" for k, v in url_map(up).items())
    )
    # never refreshed and the fetch fails: the shipped snapshot, with the error
    up.routes[ROBOTS_PATH] = Route(b"Entity,Code\n", etag='"x"')
    snap = load_refreshed(ROBOTS, mode="fetch", cache_dir=cache, settings=FAST)
    assert (snap.loaded_from, snap.refresh_status) == ("datasets snapshot", "failed")
    assert "missing column" in snap.refresh_error
    assert snap.tables["production"].height > 0
    # a good version, then a failing fetch: the cached version, with the error
    up.routes[ROBOTS_PATH] = Route(robots_csv(V1), etag='"v1"')
    good = load_refreshed(ROBOTS, mode="fetch", cache_dir=cache, settings=FAST)
    assert good.refresh_status == "new" and good.loaded_from.startswith("raw cache ")
    up.routes[ROBOTS_PATH] = Route(errors_first=99)
    bad = load_refreshed(ROBOTS, mode="fetch", cache_dir=cache, settings=FAST)
    assert bad.refresh_status == "failed" and "HTTP 500" in bad.refresh_error
    assert bad.version == good.version
    assert bad.tables["production"]["annual_production"].sum() == sum(v for *_, v in V1)
    # cache mode reports the last attempt without a request
    n = len(up.log)
    cached = load_refreshed(ROBOTS, mode="cache", cache_dir=cache)
    assert (cached.refresh_status, cached.version) == ("failed", good.version)
    assert len(up.log) == n
    other = load_refreshed("chip_dataset", mode="cache", cache_dir=cache)
    assert (other.loaded_from, other.refresh_status) == ("datasets snapshot", "never refreshed")


def test_refresh_all_reports_every_source(up, cache, monkeypatch):
    monkeypatch.setenv(
        "LEARNRACE_REFRESH_URL_MAP", " ".join(f"{k}={v}" for k, v in url_map(up).items())
    )
    up.routes[ROBOTS_PATH] = Route(robots_csv(V1), etag='"v1"')
    spec_ok = [ROBOTS, "owid_datasets"]
    out = refresh(spec_ok, cache_dir=cache, settings=FAST)
    assert [(o.source, o.status) for o in out] == [
        (ROBOTS, "new"),
        ("owid_datasets", "not refreshable"),
    ]
    with pytest.raises(LearnraceError, match="unknown source"):
        refresh(["nope"], cache_dir=cache)


# --- kill -9 mid-download -------------------------------------------------------------------------

KILLED = """
import sys
from pathlib import Path
from learnrace_pipeline.lib.sources.refresh_http import FetchSettings
from learnrace_pipeline.lib.storage.refresh import refresh_source
o = refresh_source("owid_ifr_robots", cache_dir=Path(sys.argv[1]),
                   url_map={"https://ourworldindata.org/": sys.argv[2]},
                   settings=FetchSettings(read_timeout_s=60))
print(o)
"""


def test_kill_mid_download_leaves_current_whole(up, cache):
    version = _kept(up, cache)
    up.routes[ROBOTS_PATH] = Route(robots_csv(V2), etag='"v2"', stall_s=30)
    n = len(up.requests(ROBOTS_PATH))
    proc = subprocess.Popen([sys.executable, "-c", KILLED, str(cache), f"{up.base}owid/"], cwd=REPO)
    deadline = time.monotonic() + 60
    while len(up.requests(ROBOTS_PATH)) == n and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # half of the body is on its way
    staged = list((cache / ROBOTS).glob(".staging-*"))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert staged, "the killed refresh had staged nothing"
    assert raw_cache.current(cache, ROBOTS).version == version
    manifest = json.loads((cache / ROBOTS / "manifest.json").read_text())
    assert manifest["version"] == version
    assert production(cache)["annual_production"].sum() == sum(v for *_, v in V1)
    # the next refresh clears the killed one's staging folder and succeeds
    up.routes[ROBOTS_PATH] = Route(robots_csv(V2), etag='"v2"')
    assert run(up, cache).status == "new"
    assert not list((cache / ROBOTS).glob(".staging-*"))


# --- the real raw files, served as upstream ----------------------------------------------------


@pytest.mark.raw
def test_every_refreshable_source_from_copies_of_its_raw_files(up, cache, raw_dir):
    """Each refreshable source's declared files, served from ../shared/data/raw, refresh into a
    version whose tables equal the reader's tables of the raw folder itself."""
    from urllib.parse import urlsplit

    from learnrace_pipeline.lib.sources import reader

    mapping = {**url_map(up), "https://raw.githubusercontent.com/": f"{up.base}gh/"}
    specs = {s: spec for s, spec in REFRESH.items() if isinstance(spec, Refreshable)}
    roomy = dataclasses.replace(FAST, max_bytes=FetchSettings().max_bytes)
    for source, spec in specs.items():
        for rel, url in spec.files.items():
            path = urlsplit(map_url(url, mapping)[0]).path
            up.routes[path] = Route((raw_dir / source / rel).read_bytes(), etag=f'"{rel}"')
    for source in specs:
        o = refresh_source(source, cache_dir=cache, url_map=mapping, settings=roomy)
        assert o.status == "new", o.message
        got = reader(source).read(raw_cache.current_dir(cache, source))
        want = reader(source).read(raw_dir)
        assert set(got) == set(want)
        for table in want:
            assert got[table].equals(want[table]), (source, table)
        again = refresh_source(source, cache_dir=cache, url_map=mapping, settings=roomy)
        assert (again.status, again.downloaded) == ("unchanged", 0)


def test_allow_list_follows_the_sidecars(tmp_path, cache):
    """Sidecars naming another upstream: the declared URL is refused before any connection."""
    import shutil

    datasets = tmp_path / "datasets"
    shutil.copytree(DEFAULT_DATASETS / ROBOTS, datasets / ROBOTS)
    for p in (datasets / ROBOTS).glob("*.meta.json"):
        meta = json.loads(p.read_text())
        meta["upstream_url"] = "https://example.org/robots"
        p.write_text(json.dumps(meta))
    assert allowed_prefixes(datasets, ROBOTS) == ("https://example.org/",)
    o = refresh_source(ROBOTS, cache_dir=cache, dataset_dir=datasets, url_map={}, settings=FAST)
    assert o.status == "failed"
    assert "https://ourworldindata.org/grapher/" in o.message
    assert "host not on the allow-list" in o.message
