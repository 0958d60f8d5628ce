"""Which sources can be refreshed from upstream, from which file URLs, and the host allow-list.

:data:`REFRESH` declares, per source, either :class:`Refreshable` (each raw file the reader reads,
as a path relative to the source folder, and the direct URL serving it) or
:class:`NotRefreshable` (why no stable direct file URL exists, or why nothing new can arrive).
Every source of :data:`learnrace_pipeline.lib.sources.SOURCES` has exactly one entry.

The allow-list comes only from the ``upstream_url`` of the source's snapshot sidecars
(``datasets/<source>/*.meta.json``), read by :func:`allowed_prefixes`:

- a GitHub repository ``github.com/<owner>/<repo>`` named there allows
  ``https://github.com/<owner>/<repo>/`` and its raw-file host
  ``https://raw.githubusercontent.com/<owner>/<repo>/``, nothing else on those hosts;
- any other URL named there allows its whole host over HTTPS (``https://<host>/``).

A declared URL (and every redirect target) must start with an allowed prefix of its source. The
one override is an explicit URL map (:func:`parse_url_map`: ``$LEARNRACE_REFRESH_URL_MAP`` or an
argument), which rewrites a declared URL's prefix to another base, e.g. a mirror or a test server
on 127.0.0.1; the mapped base's origin is then allowed for that file only.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.sources import (
    chip_dataset,
    cset_eto_supply_chain,
    epoch_ai,
    owid_ifr_robots,
)
from learnrace_pipeline.lib.sources.farmer_lafond_alstott import _common as fla

#: Environment variable holding the URL map: ``<declared prefix>=<replacement>`` pairs separated
#: by whitespace.
ENV_URL_MAP = "LEARNRACE_REFRESH_URL_MAP"

GITHUB_RAW = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Refreshable:
    """A source whose raw files each have a direct URL.

    ``files``: path relative to the source folder (as the reader opens it) -> URL.
    ``about``: what the URLs serve (live export, default branch of the upstream repository).
    """

    source: str
    files: dict[str, str]
    about: str


@dataclass(frozen=True)
class NotRefreshable:
    """A source with no stable direct file URL, or one where nothing new can arrive."""

    source: str
    reason: str


def _github(repo: str, paths: list[str], ref: str = "HEAD") -> dict[str, str]:
    return {p: f"{GITHUB_RAW}/{repo}/{ref}/{p}" for p in paths}


#: One entry per source. GitHub files are taken from the default branch (``HEAD``), so a commit
#: upstream arrives at the next refresh.
REFRESH: dict[str, Refreshable | NotRefreshable] = {
    "pcdb_carnegie": NotRefreshable(
        "pcdb_carnegie",
        "a paper's archive (carnegie/clab_experience_curve: 87 PCDB files downloaded once from "
        "pcdb.santafe.edu) whose OWID file exists only in an older commit; the PCDB has no direct "
        "per-file download, so nothing new can arrive",
    ),
    "farmer_lafond_alstott": Refreshable(
        "farmer_lafond_alstott",
        _github(
            "jeffalstott/technologytimeseries_forecasting",
            [fla.DATA_FILE, fla.TS_FILE, fla.META_FILE],
        ),
        "default branch of jeffalstott/technologytimeseries_forecasting",
    ),
    "owid_datasets": NotRefreshable(
        "owid_datasets",
        "OWID emptied these CSVs in owid/owid-datasets in 2023 (moved to its ETL); only pinned "
        "historical commits carry the data, so nothing new can arrive",
    ),
    "helveston_solar_2022": NotRefreshable(
        "helveston_solar_2022",
        "a paper's replication archive (jhelvy/solar-learning-2021) of hand-copied and digitised "
        "figures; the original reports (CPIA, Fraunhofer, IRENA, SEIA) have no direct file URLs",
    ),
    "mvpf_climate_vendored": NotRefreshable(
        "mvpf_climate_vendored",
        "workbooks vendored in a replication archive (Policy-Impacts/mvpf-climate), one of them "
        "Statista's (redistribution restricted); the originals have no direct file URLs",
    ),
    "iea_gevo_2024": NotRefreshable(
        "iea_gevo_2024",
        "the IEA publishes the Global EV Outlook data through its data-explorer pages (no stable "
        "direct file URL); the GitHub copy holds the 2024 edition only",
    ),
    "owid_ifr_robots": Refreshable(
        "owid_ifr_robots",
        {
            owid_ifr_robots.FILE: "https://ourworldindata.org/grapher/"
            "annual-industrial-robots-installed.csv?v=1&csvType=filtered&useColumnShortNames=false"
        },
        "OWID grapher CSV export of the chart's default selection (long column names)",
    ),
    "ca_dmv_av": NotRefreshable(
        "ca_dmv_av",
        "CA DMV publishes each reporting year on dmv.ca.gov under new file names; the GitHub copy "
        "(Kyle-Markwardt/self-driving-vehicles) is a personal repository last changed in 2024",
    ),
    "epoch_ai": Refreshable(
        "epoch_ai",
        {rel: f"https://epoch.ai/data/{rel}" for rel in epoch_ai.FILES},
        "Epoch AI's live CSV exports",
    ),
    "chip_dataset": Refreshable(
        "chip_dataset",
        _github("vaaniarora/Water_Sustainability", [chip_dataset.FILE]),
        "default branch of vaaniarora/Water_Sustainability",
    ),
    "cset_eto_supply_chain": Refreshable(
        "cset_eto_supply_chain",
        _github(
            "georgetown-cset/eto-supply-chain",
            [
                cset_eto_supply_chain.PROVISION,
                cset_eto_supply_chain.PROVIDERS,
                cset_eto_supply_chain.INPUTS,
                cset_eto_supply_chain.STAGES,
            ],
        ),
        "default branch of georgetown-cset/eto-supply-chain",
    ),
}

_URL = re.compile(r"https?://[^\s)\]>,]+")
_GITHUB = re.compile(r"(?:https?://)?(?:www\.)?github\.com/([\w.-]+)/([\w.-]+)")


def sidecar_urls(dataset_dir: Path, source: str) -> list[str]:
    """Every ``upstream_url`` text of the source's sidecars (deduplicated, in file order)."""
    out: list[str] = []
    for p in sorted((Path(dataset_dir) / source).glob("*.meta.json")):
        text = json.loads(p.read_text(encoding="utf-8")).get("upstream_url", "")
        if text and text not in out:
            out.append(text)
    return out


def allowed_prefixes(dataset_dir: Path, source: str) -> tuple[str, ...]:
    """URL prefixes a download for ``source`` may start with, from its sidecars only."""
    prefixes: list[str] = []
    for text in sidecar_urls(dataset_dir, source):
        for owner, repo in _GITHUB.findall(text):
            repo = repo.removesuffix(".git")
            prefixes += [f"https://github.com/{owner}/{repo}/", f"{GITHUB_RAW}/{owner}/{repo}/"]
        for url in _URL.findall(text):
            host = urlsplit(url).hostname or ""
            if host and host not in ("github.com", "www.github.com"):
                prefixes.append(f"https://{host}/")
    return tuple(dict.fromkeys(prefixes))


def origin(url: str) -> str:
    """``scheme://host[:port]/`` of a URL (lower-case scheme and host)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme.lower()}://{host}{port}/"


def is_allowed(url: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``url`` starts with one of ``prefixes`` (scheme and host compared lower-case)."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return False
    if parts.username or parts.password:
        return False
    normal = origin(url) + parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
    return any(normal.startswith(p) for p in prefixes)


def parse_url_map(text: str | None = None) -> dict[str, str]:
    """The URL map from ``text`` (default ``$LEARNRACE_REFRESH_URL_MAP``): whitespace-separated
    ``<declared prefix>=<replacement prefix>`` pairs, e.g.
    ``https://ourworldindata.org/=http://127.0.0.1:8000/owid/``."""
    text = os.environ.get(ENV_URL_MAP, "") if text is None else text
    out: dict[str, str] = {}
    for pair in text.split():
        prefix, sep, replacement = pair.partition("=")
        if not sep or not prefix or not replacement:
            raise LearnraceError(
                f"{ENV_URL_MAP}: {pair!r} is not '<declared prefix>=<replacement prefix>'"
            )
        if urlsplit(replacement).scheme not in ("http", "https"):
            raise LearnraceError(
                f"{ENV_URL_MAP}: replacement {replacement!r} is not an http(s) URL"
            )
        out[prefix] = replacement
    return out


def map_url(url: str, url_map: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    """The URL to fetch for a declared ``url`` and the extra prefixes the map allows for it (the
    mapped base's origin), longest matching declared prefix first; unmapped: ``(url, ())``."""
    for prefix in sorted(url_map, key=len, reverse=True):
        if url.startswith(prefix):
            mapped = url_map[prefix] + url[len(prefix) :]
            return mapped, (origin(url_map[prefix]),)
    return url, ()
