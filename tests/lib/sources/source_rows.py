"""Row look-ups shared by the reader tests (imported as ``source_rows``: pytest puts this test
folder on ``sys.path``)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

Tables = dict[str, pl.DataFrame]


def row_lookups(
    prefix: str,
) -> tuple[Callable[[Tables, str, int], dict], Callable[[Tables, str, str, int], dict]]:
    """``(cost, prod)`` for a source whose series ids start with ``prefix``.

    ``cost(tables, name, year)`` is the ``cost_observations`` row of series ``prefix + name``
    in ``year``; ``prod(tables, name, nation, year)`` the ``production`` row of that series,
    nation and year. Each raises if there is no such row.
    """

    def cost(t: Tables, name: str, year: int) -> dict:
        c = t["cost_observations"]
        return c.filter((pl.col("series_id") == prefix + name) & (pl.col("year") == year)).row(
            0, named=True
        )

    def prod(t: Tables, name: str, nation: str, year: int) -> dict:
        p = t["production"]
        return p.filter(
            (pl.col("series_id") == prefix + name)
            & (pl.col("nation") == nation)
            & (pl.col("year") == year)
        ).row(0, named=True)

    return cost, prod
