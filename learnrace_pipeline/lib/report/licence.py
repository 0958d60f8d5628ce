"""One short tag for a source's licence text, so the tag shown beside a table never says more
than its text: a source whose text says its terms are unstated is never tagged ``open``.

Tags, checked in this order against the sidecar's ``licence`` text and ``non_commercial`` flag:

- ``non-commercial``: the source is flagged non-commercial (CC BY-NC, or terms restricting use);
- ``open-unverified``: the text names an open licence but says it was not verified;
- ``unstated``: the text says there is no licence, or that the terms are unstated or unknown;
- ``mixed``: an open licence for the compiler's work, third-party data under their own terms;
- ``open``: an open licence (CC BY, CC0, public domain) covers the data;
- ``unstated`` again for any text that names none of these.
"""

from __future__ import annotations

import re

TAGS = ("open", "open-unverified", "mixed", "unstated", "non-commercial")

_UNSTATED = re.compile(
    r"terms unstated|unstated|unknown|no licen[cs]e|not stated|states no licen[cs]e", re.I
)
_UNVERIFIED = re.compile(r"not verified", re.I)
_MIXED = re.compile(r"(keep|under) their own terms", re.I)
_OPEN = re.compile(r"\bCC BY\b(?!-NC)|\bCC0\b|public domain", re.I)


def licence_tag(licence: str, non_commercial: bool) -> str:
    """The tag (one of :data:`TAGS`) of a source with licence text ``licence``."""
    if non_commercial:
        return "non-commercial"
    if _OPEN.search(licence) and _UNVERIFIED.search(licence):
        return "open-unverified"
    if _UNSTATED.search(licence):
        return "unstated"
    if _OPEN.search(licence):
        if _MIXED.search(licence):
            return "mixed"
        return "open"
    return "unstated"
