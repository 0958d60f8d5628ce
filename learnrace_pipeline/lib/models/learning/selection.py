"""One series per technology and nation in each fit: the declared de-duplication rule.

Several sources carry the same technology (Farmer & Lafond 2016 take most of their series from
the Santa Fe PCDB; OWID and PCDB both carry the world solar module price; the LBNL US module
price is in Helveston et al. and in OWID). A fit that took every copy would count the same
observations twice and report intervals too narrow. So each fit keeps, for every
``(technology, nation)`` of its panel, one series, ranked by

1. constant money before nominal money (a ``"<year> USD/..."`` unit before ``"USD/..."``;
   non-money metrics count as constant);
2. more points available to the fit (after its joins and filters);
3. :data:`SOURCE_PRIORITY` (sources with production data and fewer transcription steps first);
4. ``series_id`` (alphabetical), so the choice is deterministic.

Every dropped copy is returned with the reason, naming the series kept. Distinct products of one
technology family are separate technologies in ``lib/vocab/taxonomy.csv`` (cylindrical Li-ion
cells, ``li_ion_cell_cylindrical``, beside all cells, ``li_ion_cell``), so the rule never merges
them.
"""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.lib.vocab import units

#: Source order used to break ties (earlier wins).
SOURCE_PRIORITY = (
    "pcdb_carnegie",
    "mvpf_climate_vendored",
    "helveston_solar_2022",
    "owid_datasets",
    "farmer_lafond_alstott",
)


def _source(series_id: str) -> str:
    return series_id.split(":", 1)[0]


def _rank_key(row: dict) -> tuple:
    unit = row["unit"] or ""
    nominal = units.is_money(unit) and units.price_basis_year(unit) is None
    src = _source(row["series_id"])
    prio = SOURCE_PRIORITY.index(src) if src in SOURCE_PRIORITY else len(SOURCE_PRIORITY)
    return (nominal, -int(row["n"]), prio, row["series_id"])


def one_per_technology(levels: pl.DataFrame) -> tuple[pl.DataFrame, list[dict]]:
    """Keep one series per ``(technology, nation)`` of ``levels`` (rule in the module docstring).

    ``levels`` has one row per kept point with at least ``series_id``, ``nation``,
    ``technology`` and ``unit``. Returns the levels of the kept series and one excluded row per
    dropped ``(series_id, nation)`` (``series_id``, ``nation``, ``reason``).
    """
    per = (
        levels.group_by("series_id", "nation")
        .agg(pl.col("technology").first(), pl.col("unit").first(), pl.len().alias("n"))
        .sort("series_id", "nation")
    )
    excluded: list[dict] = []
    drop: list[tuple[str, str]] = []
    for (tech, nation), grp in per.group_by(["technology", "nation"], maintain_order=True):
        if grp.height < 2:
            continue
        ranked = sorted(grp.iter_rows(named=True), key=_rank_key)
        kept = ranked[0]
        for r in ranked[1:]:
            excluded.append(
                {
                    "series_id": r["series_id"],
                    "nation": nation,
                    "reason": f"copy: same technology {tech!r} and nation as {kept['series_id']} "
                    f"({kept['n']} points, kept) by the one-series-per-technology rule",
                }
            )
            drop.append((r["series_id"], nation))
    if drop:
        gone = pl.DataFrame(drop, schema=["series_id", "nation"], orient="row")
        levels = levels.join(gone, on=["series_id", "nation"], how="anti")
    return levels, excluded


_COLS = ("reason", "_kept")


def copies_of_kept(
    excluded: pl.DataFrame, kept: pl.DataFrame, technologies: pl.DataFrame
) -> pl.DataFrame:
    """``excluded`` with the reason of each series that has a kept series of the same
    technology and nation extended by ``"; same technology and nation as <kept>"`` (so an
    exclusion for want of experience says which copy the fit uses instead); other reasons are
    left as they are."""
    tech = technologies.select("series_id", "technology").unique("series_id")
    k = (
        kept.select("series_id", "nation", "technology")
        .unique(["technology", "nation"], keep="first")
        .rename({"series_id": "_kept"})
    )
    out = (
        excluded.join(tech, on="series_id", how="left")
        .join(k, on=["technology", "nation"], how="left")
        .with_columns(
            pl.when(
                pl.col("reason").str.starts_with("no ")
                & pl.col("_kept").is_not_null()
                & (pl.col("_kept") != pl.col("series_id"))
            )
            .then(pl.format("{}; same technology and nation as {}, which the fit uses", *_COLS))
            .otherwise(pl.col("reason"))
            .alias("reason")
        )
    )
    return out.select(excluded.columns)
