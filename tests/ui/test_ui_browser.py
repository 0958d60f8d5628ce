"""The Dagster UI in real headless Chromium (Debian's ``chromium``, installed by
:func:`chromium.chromium_binary` when absent), served by ``dagster-webserver`` on 127.0.0.1 over
an instance holding real materialisations (``conftest.py``).

The asset catalogue and the page of a calibration asset are rendered (Chromium's virtual time
runs the page's scripts and waits for its GraphQL requests), their DOM is checked for the
assets' names, description and metadata labels, and a screenshot of each is saved: under
``$LEARNRACE_TEST_ARTIFACTS`` when set, else under ``.learnrace/test-artifacts/ui/`` in the
repository (ignored by git; pytest's own temporary folders are pruned by later runs); each path
is printed and recorded as a test property.

Dagster shows a "Join the Dagster community" newsletter dialog over every page of a fresh
instance served on localhost. The instance setting ``nux: enabled: false`` turns it off: the
pages show no trace of it, while a control webserver on an instance without the setting shows
it (served with an empty workspace: the dialog is the instance's, whatever code is loaded), so
the check would see the dialog if the setting stopped working.
"""

from __future__ import annotations

import html
import os
import re
import shutil
from pathlib import Path

import chromium
import dagster as dg
import pytest
from dagster_ui import NO_NUX, REPO, Webserver, free_port, graphql, server_env, webserver_cmd
from PIL import Image

from learnrace_pipeline.instance import DAGSTER_YAML

pytestmark = pytest.mark.slow

CATALOGUE_WINDOW = (1280, 2000)
#: Tall enough for the metadata section (plots) below the column schema of a wide table.
ASSET_WINDOW = (1280, 4500)
#: Text of Dagster's newsletter dialog (``CommunityNux``), any of which betrays it.
NUX_TEXT = ("Join the Dagster community", "Sign up for the Dagster newsletter")
LOOPBACK = ("127.0.0.1",)
ARTIFACTS = REPO / ".learnrace" / "test-artifacts" / "ui"
ASSET_ROW = re.compile(r"\b([a-z][a-z0-9_]*) / ([a-z0-9_]+)\b")


def visible_text(dom: str) -> str:
    """The text of a DOM dump: scripts, styles and tags removed, entities decoded, whitespace
    collapsed."""
    dom = re.sub(r"<(script|style|template)\b[^>]*>.*?</\1>", " ", dom, flags=re.S | re.I)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", dom))).strip()


def render(
    binary: str, url: str, shot: Path, must_show: str, window: tuple[int, int] = CATALOGUE_WINDOW
) -> str:
    """The rendered DOM's text of ``url``, with a screenshot at ``shot``; rendered again with a
    longer virtual-time budget while the text lacks ``must_show``."""
    for budget_ms in (15_000, 60_000):
        dom = chromium.run(
            binary,
            url,
            "--dump-dom",
            f"--screenshot={shot}",
            f"--window-size={window[0]},{window[1]}",
            f"--virtual-time-budget={budget_ms}",
            allow_hosts=LOOPBACK,
        ).stdout
        text = visible_text(dom)
        if must_show in text:
            break
    return text


def keep_screenshot(
    shot: Path, name: str, record_property, window: tuple[int, int] = CATALOGUE_WINDOW
) -> Path:
    """Check ``shot`` is a full, non-blank page, copy it where it outlives the test; its path."""
    with Image.open(shot) as im:
        assert im.size == window
        colours = im.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, tables and plots, not a blank page
    folder = Path(os.environ.get("LEARNRACE_TEST_ARTIFACTS") or ARTIFACTS)
    folder.mkdir(parents=True, exist_ok=True)
    keep = folder / name
    shutil.copyfile(shot, keep)
    record_property(f"screenshot_{shot.stem}", str(keep))
    print(f"UI screenshot: {keep}")
    return keep


def test_server_says_not_to_show_the_newsletter_dialog(ui_webserver) -> None:
    assert graphql(ui_webserver.url, "{ shouldShowNux }") == {"shouldShowNux": False}


def test_asset_catalogue_renders(
    ui_webserver, ui_warehouse, chromium_bin, tmp_path, record_property
) -> None:
    keys = {
        k.to_user_string()
        for k in ui_warehouse.definitions.resolve_asset_graph().get_all_asset_keys()
    }
    shot = tmp_path / "catalogue.png"
    text = render(chromium_bin, f"{ui_webserver.url}/assets", shot, "av_capability")
    rows = {f"{a}/{b}" for a, b in ASSET_ROW.findall(text)}
    # the catalogue lists assets of the definitions (as many as the window shows), the
    # materialised calibration asset among them, in both states
    assert len(rows) >= 10, text[:2000]
    assert rows <= keys, rows - keys
    assert ui_warehouse.plot_asset in rows
    assert "Never materialized" in text and re.search(r"\bMaterialized\b", text)
    assert not [t for t in NUX_TEXT if t in text]
    keep_screenshot(shot, "asset_catalogue.png", record_property)


def test_calibration_asset_page_renders(
    ui_webserver, ui_warehouse, chromium_bin, tmp_path, record_property
) -> None:
    key = ui_warehouse.plot_asset
    node = ui_warehouse.definitions.resolve_asset_graph().get(dg.AssetKey(key.split("/")))
    shot = tmp_path / "asset_page.png"
    url = f"{ui_webserver.url}/assets/{key}"
    text = render(chromium_bin, url, shot, "Latest materialization", ASSET_WINDOW)
    schema, name = key.split("/")
    assert f"{schema} {name}" in text or f"{schema} / {name}" in text
    assert "Latest materialization" in text
    # the description, rendered as markdown: its first words, in the page's text
    words = re.findall(r"[A-Za-z]{4,}", node.description or "")[:8]
    assert words and all(w in text for w in words), words
    # every metadata entry's label (Dagster's own dagster/* entries show in other sections)
    labels = {k for k in ui_warehouse.materialized[key] if not k.startswith("dagster/")}
    shown = {label for label in labels if label in text}
    assert shown == labels, f"metadata labels not on the page: {labels - shown}"
    assert not [t for t in NUX_TEXT if t in text]
    keep_screenshot(shot, "calibration_asset_page.png", record_property, ASSET_WINDOW)


def test_control_a_fresh_instance_without_the_setting_shows_the_dialog(
    chromium_bin, tmp_path
) -> None:
    home, db = tmp_path / "dagster_home", tmp_path / "learnrace.duckdb"
    home.mkdir()
    # as `learnrace run`/`ui` write it, less the setting
    (home / "dagster.yaml").write_text(DAGSTER_YAML.replace(NO_NUX, ""))
    port = free_port()
    env, log = server_env(home, db), tmp_path / "webserver.log"
    # the dialog belongs to the instance, not to a code location: served with none loaded
    with Webserver(webserver_cmd(port, code=False), env, port, log, cwd=REPO) as ws:
        shows_nux = graphql(ws.url, "{ shouldShowNux }")["shouldShowNux"]
        text = render(chromium_bin, f"{ws.url}/assets", tmp_path / "control.png", NUX_TEXT[0])
    assert shows_nux
    assert [t for t in NUX_TEXT if t in text] == list(NUX_TEXT)
