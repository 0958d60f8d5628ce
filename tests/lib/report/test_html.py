"""The HTML page builder: escaping, number formatting, tables, inline PNGs, ids, the page."""

from __future__ import annotations

import base64
import io
import re

import matplotlib.pyplot as plt
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.report import html as h


def _png() -> bytes:
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [1, 0])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def test_text_is_escaped_once_and_markup_is_kept():
    evil = "<script>alert(\"x\")</script> & 'q'"
    out = h.esc(evil)
    assert "<script>" not in out and "&lt;script&gt;" in out
    assert "&amp;" in out and "&quot;" in out and "&#x27;" in out
    assert h.esc(out) == out  # Html is never escaped again
    assert h.join(["<b>", h.Html("<i>ok</i>")]) == "&lt;b&gt;\n<i>ok</i>"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, h.MISSING),
        (float("nan"), h.MISSING),
        (True, "yes"),
        (False, "no"),
        (2031, "2031"),
        (2031.4, "2031"),
        (2031.6, "2032"),
        (0.28814, "0.288"),
        (-0.05123, "-0.0512"),
        (12.345, "12.3"),
        (2.3736e6, "2.37e+06"),
        (0.000123, "1.23e-04"),
        (0.0, "0"),
        (float("inf"), "inf"),
        ("USA", "USA"),
    ],
)
def test_fmt(value, text):
    assert h.fmt(value) == text


def test_table_cells_headers_and_numbers():
    df = pl.DataFrame(
        {"nation": ["USA", "<CHN>"], "p_first": [0.61234, None], "year": [2030, 2041]}
    )
    out = h.table(df, id="t1", caption="cap & co", labels={"p_first": "P(first)"})
    assert out.startswith('<div class="wide"><table id="t1"><caption>cap &amp; co</caption>')
    assert "<th>P(first)</th>" in out and "<th>nation</th>" in out
    cells = re.findall(r"<td[^>]*>(.*?)</td>", out)
    assert cells == ["USA", "0.612", "2030", "&lt;CHN&gt;", h.MISSING, "2041"]
    assert out.count('class="num"') == 3  # None is not a number
    only = h.table(df, columns=["year", "absent", "nation"])
    assert re.findall(r"<th>(.*?)</th>", only) == ["year", "nation"]


def test_image_is_an_inline_png_data_uri():
    png = _png()
    out = h.image(png, 'a "plot"', caption="c")
    m = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', out)
    assert m is not None and base64.b64decode(m.group(1)) == png
    assert 'alt="a &quot;plot&quot;"' in out
    with pytest.raises(DataError, match="not PNG"):
        h.image(b"GIF89a....", "gif")


def test_ids_are_checked_and_links_stay_on_the_page():
    with pytest.raises(DataError, match="id"):
        h.section('x" onload="y', "t", [])
    with pytest.raises(DataError, match="id"):
        h.link("http://example.com", "t")
    assert h.link("race", "R") == '<a href="#race">R</a>'


def test_document_is_self_contained():
    page = h.document(
        "T <1>",
        [h.section("s1", "S", [h.not_computed("Thing", "no table x."), h.image(_png(), "p")])],
    )
    assert page.startswith("<!DOCTYPE html>") and "<title>T &lt;1&gt;</title>" in page
    assert "<style>" in page and '<section id="s1">' in page
    assert "Thing: not yet computed." in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
