"""A real Dagster webserver for tests: started as a subprocess on a free loopback port, waited
for until its code location has loaded, queried over HTTP (``POST /graphql``) and stopped by
killing its whole process group.

- :func:`free_port`: a TCP port free on 127.0.0.1 at the time of the call.
- :class:`Webserver`: ``with Webserver(cmd, env, port) as server:`` starts ``cmd`` in its own
  session (process group), waits for ``/graphql`` to answer and for every code location to be
  ``LOADED`` (or raises with the server's log), and on exit sends SIGTERM to the group, then
  SIGKILL after a grace period; ``start()`` and ``wait_ready()`` split the two, so a server can
  load its code location while the caller does other work.
- :func:`graphql`: one GraphQL request; raises on HTTP or GraphQL errors.
- :func:`listening_addresses`: the local addresses a TCP port listens on, from ``/proc/net``.
- :func:`webserver_cmd`, :func:`server_env`: ``dagster-webserver`` on the project's code
  location (``workspace.yaml``) and its environment for a given instance and warehouse.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

#: The instance setting that turns the UI's newsletter dialog off (``nux.enabled``).
NO_NUX = "nux:\n  enabled: false\n"

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
LOCATIONS_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def webserver_cmd(port: int, code: bool = True) -> list[str]:
    """``dagster-webserver`` serving the project's code location on 127.0.0.1:``port``; with
    ``code=False`` an empty workspace (no code location: the instance's pages only, served
    without importing the project)."""
    where = ("-w", str(REPO / "workspace.yaml")) if code else ("--empty-workspace",)
    return [str(BIN / "dagster-webserver"), *("-h", "127.0.0.1", "-p", str(port)), *where]


def server_env(home: Path, db: Path) -> dict[str, str]:
    """The environment of a webserver on the instance ``home`` and the warehouse ``db`` (drop
    folder beside it: a daemon's drop-folder sensor never watches the user's own folder)."""
    return os.environ | {
        "DAGSTER_HOME": str(home),
        "LEARNRACE_DB": str(db),
        "LEARNRACE_DROP_DIR": str(db.parent / "drop"),
    }


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 60) -> dict:
    """``data`` of a GraphQL request to ``<url>/graphql``; raises ``AssertionError`` naming the
    GraphQL errors, ``urllib.error.URLError`` when the server cannot be reached."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(
        f"{url}/graphql", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        payload = json.loads(resp.read())
    assert not payload.get("errors"), payload["errors"]
    return payload["data"]


def listening_addresses(port: int) -> set[str]:
    """Local IP addresses with a socket in LISTEN state on TCP ``port`` (IPv4 and IPv6), read
    from ``/proc/net/tcp{,6}``: e.g. ``{"127.0.0.1"}``; ``0.0.0.0`` or ``::`` = every interface."""
    found = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            raw = bytes.fromhex(addr_hex)
            # /proc prints each 32-bit word in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


class Webserver:
    """``cmd`` (a Dagster webserver serving on 127.0.0.1:``port``) run in its own process group
    for the duration of a ``with`` block; ``url`` is its base URL, ``log`` its output file."""

    def __init__(
        self,
        cmd: list[str],
        env: dict[str, str],
        port: int,
        log: Path,
        cwd: Path | None = None,
        ready_timeout: float = 300,
    ) -> None:
        self.cmd, self.env, self.port, self.log, self.cwd = cmd, env, port, log, cwd
        self.url = f"http://127.0.0.1:{port}"
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen | None = None
        self.seconds_to_ready: float | None = None

    def __enter__(self) -> Webserver:
        self.start()
        return self.wait_ready()

    def start(self) -> Webserver:
        """Start ``cmd`` (not waiting for it to serve); :meth:`wait_ready` waits."""
        self._started = time.monotonic()
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                self.cmd,
                env=self.env,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: stop() reaches every child
            )
        return self

    def wait_ready(self) -> Webserver:
        """Wait until the started server serves with its code locations loaded (stopping it
        and raising with its log otherwise); ``seconds_to_ready`` counts from :meth:`start`."""
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        self.seconds_to_ready = time.monotonic() - self._started
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _fail(self, why: str) -> None:
        tail = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
        raise AssertionError(f"{' '.join(self.cmd)}: {why}\n--- log tail ---\n{tail}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                self._fail(f"exited with {self.proc.returncode} before serving")
            try:
                data = graphql(self.url, LOCATIONS_QUERY, timeout=10)
            except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError):
                time.sleep(0.5)
                continue
            entries = data["workspaceOrError"].get("locationEntries") or []
            if "--empty-workspace" in self.cmd and not entries:
                return  # serving, with no code location to wait for
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                errors = [
                    e["locationOrLoadError"]
                    for e in entries
                    if e["locationOrLoadError"]["__typename"] == "PythonError"
                ]
                if errors:
                    self._fail(f"code location failed to load: {errors}")
                return
            time.sleep(0.5)
        self._fail(f"not ready within {self.ready_timeout:.0f} s")

    def stop(self, grace: float = 15) -> None:
        """SIGTERM to the process group, SIGKILL to it after ``grace`` seconds; idempotent."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the group id is the leader's pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)
        with contextlib.suppress(ProcessLookupError):  # children the leader left behind
            os.killpg(pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=grace)


def metadata_entries(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """GraphQL ``metadataEntries`` keyed by label."""
    return {e["label"]: e for e in entries}
