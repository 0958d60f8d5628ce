"""Nation codes: ISO 3166 alpha-3, ``WLD`` for the world, and a few named regions.

:func:`to_code` maps the spellings our sources use (UN-style long names, IEA region names,
OWID entity names, ISO codes) to a code, and raises :class:`DataError` for anything it does not
know, so that a new spelling fails loudly instead of becoming a silent null.
"""

from __future__ import annotations

import functools
import unicodedata

import pycountry

from learnrace_pipeline.lib.errors import DataError

#: Named regions and aggregates (code -> description). Regions overlap their members: never sum.
REGIONS: dict[str, str] = {
    "WLD": "World",
    "EUROPE": "Europe as the IEA defines it (EU27, EFTA, UK and others)",
    "EU27": "European Union, 27 members",
    "ROW": "Rest of the world (the source's own residual)",
    "OTHER": "Other nations, the source's residual category",
    "MULTI": "Multinational organisation (Epoch AI)",
}

#: Spellings that pycountry's own lookup does not resolve, or resolves wrongly.
ALIASES: dict[str, str] = {
    "world": "WLD",
    "europe": "EUROPE",
    "eu27": "EU27",
    "eu 27": "EU27",
    "european union": "EU27",
    "rest of the world": "ROW",
    "rest of world": "ROW",
    "row": "ROW",
    "other": "OTHER",
    "others": "OTHER",
    "other europe": "OTHER",
    "multinational": "MULTI",
    "usa": "USA",
    "us": "USA",
    "u.s.": "USA",
    "united states": "USA",
    "united states of america": "USA",
    "uk": "GBR",
    "united kingdom": "GBR",
    "united kingdom of great britain and northern ireland": "GBR",
    "korea": "KOR",
    "south korea": "KOR",
    "korea (republic of)": "KOR",
    "republic of korea": "KOR",
    "korea, republic of": "KOR",
    "russia": "RUS",
    "russian federation": "RUS",
    "taiwan": "TWN",
    "chinese taipei": "TWN",
    "hong kong": "HKG",
    "iran": "IRN",
    "iran (islamic republic of)": "IRN",
    "vietnam": "VNM",
    "viet nam": "VNM",
    "turkey": "TUR",
    "turkiye": "TUR",
    "czech republic": "CZE",
    "czechia": "CZE",
    "netherlands": "NLD",
    "netherlands (kingdom of the)": "NLD",
    "uae": "ARE",
    "united arab emirates": "ARE",
    "tanzania": "TZA",
    "bolivia": "BOL",
    "venezuela": "VEN",
    "moldova": "MDA",
    "syria": "SYR",
    "laos": "LAO",
    "macedonia": "MKD",
    "brunei": "BRN",
    "cape verde": "CPV",
    "ivory coast": "CIV",
    "cote d'ivoire": "CIV",
}


#: Aggregates named by the PCDB series (e.g. Nuclear_Power_(OECD)).
REGIONS["OECD"] = "OECD member countries (the source's own aggregate)"
ALIASES["oecd"] = "OECD"


@functools.cache
def known_codes() -> frozenset[str]:
    """Every code the warehouse accepts in a ``nation`` column."""
    return frozenset({c.alpha_3 for c in pycountry.countries} | set(REGIONS))


def _norm(name: str) -> str:
    s = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(s.strip().lower().split())


@functools.cache
def _lookup(name: str) -> str | None:
    n = _norm(name)
    if not n:
        return None
    if n in ALIASES:
        return ALIASES[n]
    up = name.strip().upper()
    if up in known_codes():
        return up
    for c in pycountry.countries:
        names = {c.name, getattr(c, "official_name", c.name), getattr(c, "common_name", c.name)}
        if n in {_norm(x) for x in names}:
            return c.alpha_3
    return None


def to_code(
    name: str,
    *,
    source: str,
    file: str | None = None,
    row: int | None = None,
    column: str | None = None,
) -> str:
    """The nation code for ``name``; raises DataError naming where an unknown name came from."""
    code = _lookup(name) if name is not None else None
    if code is None:
        raise DataError(
            f"unknown nation {name!r}", source=source, file=file, row=row, column=column
        )
    return code


def try_code(name: str) -> str | None:
    """The nation code for ``name``, or None when it is not a nation we know."""
    return _lookup(name) if name is not None else None
