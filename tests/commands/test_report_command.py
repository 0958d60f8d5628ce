"""``learnrace report`` end to end, rendered in real headless Chromium (Debian's ``chromium``,
installed by :func:`chromium.chromium_binary` when absent): the race table and every industry
section are in the rendered DOM, the page asks the network for nothing, and a screenshot is
saved (its path is printed and recorded as the test property ``screenshot``)."""

from __future__ import annotations

import re
import shutil

import chromium
import pytest
import report_tables as rt
from PIL import Image
from typer.testing import CliRunner

from learnrace_pipeline.cli import app
from learnrace_pipeline.lib.race.spec import load_spec

runner = CliRunner()


@pytest.fixture(scope="session")
def chromium_bin() -> str:
    """Debian's chromium, installed once per session when absent (skip only if it cannot be)."""
    binary, why = chromium.chromium_binary()
    if binary is None:
        pytest.skip(f"headless Chromium unavailable: {why}")
    return binary


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    spec = load_spec()
    db = rt.write_warehouse(folder / "learnrace.duckdb", spec)
    r = runner.invoke(app, ["report", "--db", str(db)])
    assert r.exit_code == 0, r.output
    out = folder / "report.html"  # the default: beside the warehouse
    assert r.stdout.strip().splitlines()[-1] == str(out)
    return spec, out


def test_absent_warehouse_fails_with_the_file_named(tmp_path):
    r = runner.invoke(app, ["report", "--db", str(tmp_path / "none.duckdb")])
    assert r.exit_code == 2
    assert "warehouse file not found" in r.output and "none.duckdb" in r.output
    assert not (tmp_path / "report.html").exists()


def test_report_renders_in_headless_chromium(report, chromium_bin, tmp_path, record_property):
    spec, out = report
    net_log = tmp_path / "net.json"
    dom = chromium.run(chromium_bin, out.as_uri(), "--dump-dom", net_log=net_log).stdout
    # the rendered DOM holds the race table and one section per industry, in the spec's order
    assert re.search(r'<table id="race-table">', dom)
    ids = re.findall(r'<section id="industry-([^"]+)">', dom)
    assert ids == [i.id for i in spec.industries]
    race_rows = re.search(r'<table id="race-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
    assert race_rows.count("<tr>") == sum(max(len(i.nations), 1) for i in spec.industries)
    n_images = dom.count("<img ")
    assert n_images >= 10 and dom.count('src="data:image/png;base64,') == n_images
    # offline: nothing external named in the DOM, and no request made by the page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", dom)
    assert "@import" not in dom and "url(" not in dom
    assert chromium.page_requests(net_log) == []

    shot = tmp_path / "report.png"
    chromium.run(chromium_bin, out.as_uri(), f"--screenshot={shot}", "--window-size=1280,4000")
    with Image.open(shot) as im:
        assert im.size == (1280, 4000)
        colours = im.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text, tables and plots, not a blank page
    keep = tmp_path.parent / "report_screenshot.png"  # outlives this test's own folder
    shutil.copyfile(shot, keep)
    record_property("screenshot", str(keep))
    print(f"report screenshot: {keep}")
