"""One guarded HTTP GET of an upstream file into a local file.

:func:`fetch` sends a conditional GET (``If-None-Match`` with the stored ETag,
``If-Modified-Since`` with the stored Last-Modified) and returns :class:`Fetched` with status 200
(body written to ``dest``, its sha256 and size) or 304 (unchanged, nothing written). Guards, each
failing with :class:`FetchError` naming the URL:

- every URL, the first and each redirect target, must pass ``allowed(url)`` (the source's
  allow-list; see :mod:`.refresh_spec`) before any connection is made; at most
  :attr:`FetchSettings.max_redirects` redirects;
- a connect timeout, a read timeout per socket read, and a whole-download deadline;
- a size cap: a ``Content-Length`` above it is refused before reading, a body growing past it is
  cut off and refused;
- a body shorter than its ``Content-Length`` (truncated) is refused;
- transient failures (connection refused or reset, timeouts, truncated bodies, HTTP 429 and 5xx)
  are retried up to :attr:`FetchSettings.retries` times with exponential backoff
  (``backoff_s * 2**k`` seconds before retry ``k + 1``); others (4xx, a host name that does not
  resolve, a host off the allow-list, the size cap) are not retried.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from learnrace_pipeline.lib.errors import LearnraceError

USER_AGENT = "learnrace-refresh/1"
CHUNK = 1 << 16


@dataclass(frozen=True)
class FetchSettings:
    """Limits of one download (seconds, bytes, counts)."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    total_timeout_s: float = 600.0
    retries: int = 3
    backoff_s: float = 1.0
    max_bytes: int = 200 * 2**20
    max_redirects: int = 5


class FetchError(LearnraceError):
    """A download failed; ``url`` names what was asked for, ``retryable`` whether to try again."""

    def __init__(self, url: str, problem: str, *, retryable: bool = False) -> None:
        self.url = url
        self.problem = problem
        self.retryable = retryable
        super().__init__(f"{url}: {problem}")


@dataclass(frozen=True)
class Fetched:
    """The outcome of :func:`fetch`: HTTP ``status`` 200 (new body in ``dest``) or 304."""

    url: str  # the URL finally answered (after redirects)
    status: int
    sha256: str = ""
    size: int = 0
    etag: str = ""
    last_modified: str = ""
    attempts: int = 1


def _connection(url: str, settings: FetchSettings) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(
            parts.hostname,
            parts.port,
            timeout=settings.connect_timeout_s,
            context=ssl.create_default_context(),
        )
    return http.client.HTTPConnection(
        parts.hostname, parts.port, timeout=settings.connect_timeout_s
    )


def _target(url: str) -> str:
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _once(
    url: str,
    dest: Path,
    headers: dict[str, str],
    settings: FetchSettings,
    deadline: float,
) -> tuple[int, str, Fetched | None]:
    """One request: ``(status, location, fetched)``; a redirect returns its absolute location."""
    conn = _connection(url, settings)
    try:
        try:
            conn.connect()
        except TimeoutError:
            raise FetchError(
                url, f"connect timed out after {settings.connect_timeout_s:g} s", retryable=True
            ) from None
        except socket.gaierror as e:  # an unknown host is final; a failing resolver may recover
            raise FetchError(
                url, f"cannot resolve host: {e}", retryable=e.errno == socket.EAI_AGAIN
            ) from None
        except OSError as e:
            raise FetchError(url, f"cannot connect: {e}", retryable=True) from None
        conn.sock.settimeout(settings.read_timeout_s)
        try:
            conn.request("GET", _target(url), headers=headers)
            resp = conn.getresponse()
        except TimeoutError:
            raise FetchError(
                url, f"no response within {settings.read_timeout_s:g} s", retryable=True
            ) from None
        except (OSError, http.client.HTTPException) as e:
            raise FetchError(url, f"request failed: {e!r}", retryable=True) from None
        status = resp.status
        if status in (301, 302, 303, 307, 308):
            location = resp.getheader("Location") or ""
            if not location:
                raise FetchError(url, f"HTTP {status} redirect without a Location")
            return status, urljoin(url, location), None
        if status == 304:
            return status, "", Fetched(url=url, status=304)
        if status != 200:
            raise FetchError(
                url,
                f"HTTP {status} {resp.reason}",
                retryable=status == 429 or status >= 500,
            )
        declared = resp.getheader("Content-Length")
        length = int(declared) if declared and declared.isdigit() else None
        if length is not None and length > settings.max_bytes:
            raise FetchError(
                url, f"body of {length:,} bytes exceeds the size cap of {settings.max_bytes:,}"
            )
        h = hashlib.sha256()
        size = 0
        dest.parent.mkdir(parents=True, exist_ok=True)
        with dest.open("wb") as out:
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(
                        url,
                        f"download not finished within {settings.total_timeout_s:g} s",
                        retryable=True,
                    )
                try:
                    chunk = resp.read(CHUNK)
                except TimeoutError:
                    raise FetchError(
                        url,
                        f"read timed out after {settings.read_timeout_s:g} s "
                        f"({size:,} bytes received)",
                        retryable=True,
                    ) from None
                except http.client.IncompleteRead as e:
                    got = size + len(e.partial)
                    raise FetchError(
                        url,
                        f"truncated body: {got:,} of {length:,} bytes"
                        if length is not None
                        else f"truncated body after {got:,} bytes",
                        retryable=True,
                    ) from None
                except (OSError, http.client.HTTPException) as e:
                    raise FetchError(url, f"read failed: {e!r}", retryable=True) from None
                if not chunk:
                    break
                size += len(chunk)
                if size > settings.max_bytes:
                    raise FetchError(
                        url, f"body exceeds the size cap of {settings.max_bytes:,} bytes"
                    )
                h.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if length is not None and size != length:
            raise FetchError(url, f"truncated body: {size:,} of {length:,} bytes", retryable=True)
        return (
            200,
            "",
            Fetched(
                url=url,
                status=200,
                sha256=h.hexdigest(),
                size=size,
                etag=resp.getheader("ETag") or "",
                last_modified=resp.getheader("Last-Modified") or "",
            ),
        )
    finally:
        conn.close()


def fetch(
    url: str,
    dest: Path,
    *,
    allowed: Callable[[str], bool],
    etag: str = "",
    last_modified: str = "",
    settings: FetchSettings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """GET ``url`` into ``dest`` under the guards above; 304 when the validators still hold."""
    settings = settings or FetchSettings()
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    attempt = 0
    while True:
        attempt += 1
        deadline = time.monotonic() + settings.total_timeout_s
        current = url
        try:
            for _ in range(settings.max_redirects + 1):
                if not allowed(current):
                    where = "" if current == url else f" (redirected from {url})"
                    raise FetchError(
                        current,
                        f"host not on the allow-list of this source{where}; allowed hosts come "
                        "from the sidecars' upstream URLs",
                    )
                _status, location, fetched = _once(current, dest, headers, settings, deadline)
                if fetched is not None:
                    return Fetched(**{**fetched.__dict__, "attempts": attempt})
                current = location
            raise FetchError(url, f"more than {settings.max_redirects} redirects")
        except FetchError as e:
            dest.unlink(missing_ok=True)
            if not e.retryable or attempt > settings.retries:
                if attempt > 1:
                    e.problem += f" (after {attempt} attempts)"
                    e.args = (f"{e.url}: {e.problem}",)
                raise
            sleep(settings.backoff_s * 2 ** (attempt - 1))
