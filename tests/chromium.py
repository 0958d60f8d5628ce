"""Headless Chromium for tests: Debian's ``chromium``, installed with apt-get when absent.

:func:`chromium_binary` finds the browser on ``PATH`` (or ``$LEARNRACE_CHROMIUM``) and, when it
is absent and the process runs as root (or may ``sudo -n``) with ``apt-get`` at hand, installs
the Debian package ``chromium`` once (``apt-get install -y chromium``; on failure ``apt-get
update`` and once more). It returns ``(path, None)`` or ``(None, reason)``; tests skip with the reason only when the
browser cannot be installed. :func:`run` starts it headless in a fresh profile with networking
features off and every host name unresolvable (``allow_hosts`` names the hosts a page may reach,
e.g. a server on ``127.0.0.1``), and can record Chromium's network log (:func:`page_requests`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

NAMES = ("chromium", "chromium-browser")
PACKAGE = "chromium"
INSTALL_TIMEOUT = 1200  # seconds; the package and its libraries are a few hundred MB
NO_HOSTS = "MAP * ~NOTFOUND"  # no host resolves, IP literals (127.0.0.1) included, unless excluded
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    f"--host-resolver-rules={NO_HOSTS}",  # nothing leaves the machine
)


def _find() -> str | None:
    env = os.environ.get("LEARNRACE_CHROMIUM")
    if env and Path(env).is_file():
        return env
    for name in NAMES:
        if found := shutil.which(name):
            return found
    return None


def chromium_binary() -> tuple[str | None, str | None]:
    """(path to chromium, None), installing Debian's ``chromium`` if needed; else (None,
    why it cannot be had)."""
    if found := _find():
        return found, None
    if not shutil.which("apt-get"):
        return None, "chromium is absent and there is no apt-get to install Debian's chromium"
    prefix: list[str] = []
    if os.geteuid() != 0:
        sudo = shutil.which("sudo")
        if sudo is None or subprocess.run([sudo, "-n", "true"], capture_output=True).returncode:
            return None, "chromium is absent and installing it (apt-get) needs root or sudo -n"
        prefix = [sudo, "-n", "--preserve-env=DEBIAN_FRONTEND"]
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    install = [*prefix, "apt-get", "install", "-y", PACKAGE]
    update = [*prefix, "apt-get", "update"]
    log = []
    for step in (install, update, install):
        r = subprocess.run(step, env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
        log.append(f"$ {' '.join(step)} -> {r.returncode}\n{r.stderr[-2000:]}")
        if step is install and r.returncode == 0 and (found := _find()):
            return found, None
    return None, "apt-get could not install chromium:\n" + "\n".join(log)


def run(
    binary: str,
    url: str,
    *extra: str,
    net_log: Path | None = None,
    timeout: float = 180,
    allow_hosts: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """Chromium headless on ``url`` with :data:`FLAGS`, a fresh profile and ``extra`` flags
    (e.g. ``--dump-dom``, ``--screenshot=<file>``); ``net_log``: write Chromium's network log
    there; ``allow_hosts``: hosts (names or IP literals) left out of the rule that makes every
    host unresolvable. Raises ``CalledProcessError`` on a non-zero exit."""
    rules = ", ".join([NO_HOSTS, *(f"EXCLUDE {h}" for h in allow_hosts)])
    flags = [
        f if not f.startswith("--host-resolver-rules=") else f"--host-resolver-rules={rules}"
        for f in FLAGS
    ]
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        cmd = [binary, *flags, f"--user-data-dir={profile}", *extra]
        if net_log is not None:
            cmd += [f"--log-net-log={net_log}", "--net-log-capture-mode=Default"]
        return subprocess.run(
            [*cmd, url], capture_output=True, text=True, timeout=timeout, check=True
        )


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself requested, from Chromium's network log (``--log-net-log``): the
    URL of every request job whose initiator is an origin (the browser's own background
    requests have initiator ``not an origin``); ``data:`` and ``file:`` loads never reach the
    network stack and are not listed."""
    text = net_log.read_text()
    try:
        log = json.loads(text)
    except json.JSONDecodeError:  # Chromium may leave the closing brackets unwritten
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log.get("events", []):
        params = event.get("params") or {}
        if names.get(event.get("type")) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue  # the job's end event carries no url
        if params.get("initiator") != "not an origin":
            urls.append(params["url"])
    return urls
