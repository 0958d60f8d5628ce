"""A small builder of self-contained HTML pages: escaped text, tables, inline PNG images.

Everything a page needs is inside the one file: the style sheet is inline (:data:`CSS`), images
are PNG bytes written as ``data:image/png;base64,...`` URIs, and nothing links to a script,
style sheet, font or image elsewhere, so the page renders offline.

Text is escaped unless it is :class:`Html`, a ``str`` marking markup this module (or its
caller, deliberately) built; every builder returns :class:`Html`, so builders nest without
double escaping and plain strings from data can never inject markup.

Numbers in tables are formatted by :func:`fmt`: ``None``/NaN as an em dash, integers as they
are, floats with ``|x| >= 1e6`` or ``0 < |x| < 1e-3`` in scientific notation (3 significant
figures), ``100 <= |x| < 1e6`` rounded to an integer (years, miles), otherwise 3 significant
figures.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence

import polars as pl

from learnrace_pipeline.lib.errors import DataError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MISSING = "\u2014"  # em dash: an empty cell
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
  margin:0 auto;max-width:1180px;padding:1rem 1.5rem 4rem;color:#1d2330;line-height:1.45}
h1{font-size:1.7rem;margin:.4rem 0}
h2{font-size:1.3rem;margin-top:2.2rem;border-bottom:2px solid #d5dbe5;padding-bottom:.2rem}
h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
section{margin-bottom:1rem}
nav ul{columns:3;font-size:.9rem;padding-left:1.2rem}
.wide{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;font-size:.82rem;margin:.4rem 0 .8rem;font-variant-numeric:tabular-nums}
caption{caption-side:top;text-align:left;font-weight:600;padding:.2rem 0}
th,td{border:1px solid #d5dbe5;padding:.2rem .45rem;vertical-align:top}
th{background:#eef2f7;text-align:left}
td.num{text-align:right;white-space:nowrap}
tr:nth-child(even) td{background:#fafbfd}
figure{margin:.6rem 0}
figure img{max-width:100%;height:auto;border:1px solid #e3e7ee}
figcaption{font-size:.82rem;color:#4a5468}
p.note{font-size:.85rem;color:#4a5468}
.missing{background:#fff6e0;border-left:4px solid #e0a400;padding:.35rem .6rem;margin:.4rem 0;
  font-size:.9rem}
.nodata{background:#f3f3f3;border-left:4px solid #8a8f99;padding:.35rem .6rem;margin:.4rem 0}
.status-data{color:#1b6e3a;font-weight:600}
.status-no_data{color:#8a8f99;font-weight:600}
"""


class Html(str):
    """Markup that is already safe: never escaped again by this module."""

    __slots__ = ()


def esc(text: object) -> Html:
    """``text`` as HTML text (``&``, ``<``, ``>`` and quotes escaped); :class:`Html` as it is."""
    if isinstance(text, Html):
        return text
    return Html(html.escape("" if text is None else str(text), quote=True))


def join(parts: Iterable[object]) -> Html:
    """The parts one after another, each escaped unless it is :class:`Html`."""
    return Html("\n".join(esc(p) for p in parts))


def fmt(value: object) -> str:
    """A table cell's text (see the module docstring for the number rules)."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return MISSING
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        a = abs(value)
        if a >= 1e6 or 0 < a < 1e-3:
            return f"{value:.2e}"
        if a >= 100:
            return str(round(value))
        return f"{value:.3g}"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def _check_id(id: str | None) -> None:
    if id is not None and not _ID.match(id):
        raise DataError(f"not a usable HTML id: {id!r}", source="report")


def _attr_id(id: str | None) -> str:
    _check_id(id)
    return f' id="{esc(id)}"' if id else ""


def _numeric(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(
    frame: pl.DataFrame,
    *,
    id: str | None = None,
    caption: str | None = None,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, Callable[[object], str]] | None = None,
    columns: Sequence[str] | None = None,
) -> Html:
    """An HTML table of ``frame`` (``columns``: those present, in this order; default all),
    inside a ``div`` that scrolls sideways when the table is wider than the page: the header
    shows ``labels[column]`` (default the column name), cells are
    ``formats[column](value)`` (default :func:`fmt`), numbers right-aligned."""
    labels = labels or {}
    formats = formats or {}
    cols = [c for c in (columns or frame.columns) if c in frame.columns]
    head = "".join(f"<th>{esc(labels.get(c, c))}</th>" for c in cols)
    body = []
    for row in frame.select(cols).iter_rows():
        cells = []
        for c, v in zip(cols, row, strict=True):
            text = formats[c](v) if c in formats else fmt(v)
            cls = ' class="num"' if _numeric(v) else ""
            cells.append(f"<td{cls}>{esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{esc(caption)}</caption>" if caption else ""
    return Html(
        f'<div class="wide"><table{_attr_id(id)}>{cap}<thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def image(png: bytes, alt: str, *, caption: str | None = None, id: str | None = None) -> Html:
    """A figure holding ``png`` inline as a base64 data URI; refuses bytes that are not PNG."""
    if not isinstance(png, bytes | bytearray) or not bytes(png[:8]) == PNG_SIGNATURE:
        raise DataError(f"image {alt!r} is not PNG bytes", source="report")
    data = base64.b64encode(bytes(png)).decode("ascii")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return Html(
        f'<figure{_attr_id(id)}><img alt="{esc(alt)}" src="data:image/png;base64,{data}">'
        f"{cap}</figure>"
    )


def paragraph(text: object, *, cls: str | None = None) -> Html:
    """One paragraph of (escaped) text."""
    attr = f' class="{esc(cls)}"' if cls else ""
    return Html(f"<p{attr}>{esc(text)}</p>")


def not_computed(what: str, why: str) -> Html:
    """The plain statement that ``what`` is not yet computed, and why (e.g. which table is
    absent): never a number in its place."""
    return Html(
        f'<div class="missing"><strong>{esc(what)}: not yet computed.</strong> {esc(why)}</div>'
    )


def no_data(text: str) -> Html:
    """A 'no data' statement naming what is missing."""
    return Html(f'<div class="nodata"><strong>No data.</strong> {esc(text)}</div>')


def bullet_list(items: Iterable[object]) -> Html:
    """An unordered list of the items (escaped unless :class:`Html`)."""
    return Html("<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>")


def heading(text: str, level: int = 3, *, id: str | None = None) -> Html:
    """A heading ``<h{level}>`` (level 1-6)."""
    if not 1 <= level <= 6:
        raise DataError(f"heading level {level} outside 1-6", source="report")
    return Html(f"<h{level}{_attr_id(id)}>{esc(text)}</h{level}>")


def section(id: str, title: str, parts: Iterable[object], *, level: int = 2) -> Html:
    """``<section id=...>`` with a heading and the parts (escaped unless :class:`Html`)."""
    _check_id(id)
    return Html(f'<section id="{esc(id)}">{heading(title, level)}\n{join(parts)}\n</section>')


def link(href_id: str, text: str) -> Html:
    """A link to an element of this page (``#id``): the only links a report holds."""
    _check_id(href_id)
    return Html(f'<a href="#{esc(href_id)}">{esc(text)}</a>')


def document(title: str, body: Iterable[object], *, lang: str = "en") -> Html:
    """A whole HTML5 page: ``title``, the inline :data:`CSS`, and the body parts."""
    return Html(
        "<!DOCTYPE html>\n"
        f'<html lang="{esc(lang)}"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body>\n{join(body)}\n</body></html>\n"
    )
