"""Known traps in Helveston's figure file: recorded in ``data_notes``, never used as data.

Parses ``figs/data/fig2_prices_historical_national_global.csv``: the Germany "USD" cost per kW
(Fraunhofer EUR/kW divided by a USD-per-EUR rate, an inverted conversion; the implied factor per
year is noted) and the ``learning == "National"`` scenario ``cumCapKw`` (kW, compared with the
IRENA observed stock converted from MW to kW).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import Notes, iter_rows, parse_number, read_csv
from learnrace_pipeline.lib.sources.helveston_solar_2022._common import SOURCE, _year

F_FIG2 = "figs/data/fig2_prices_historical_national_global.csv"


def _flag_figure_file(raw_dir: Path, de_costs: list[dict], irena: list[dict], notes: Notes) -> None:
    """Record (never use) the Germany mis-conversion and the 'National' scenario capacity."""
    cols = ("year", "cumCapKw", "cost_per_kw_hist", "learning", "country")
    t = read_csv(raw_dir, SOURCE, F_FIG2, required=cols)
    de_eur_per_kw = {d["year"]: d["unit_cost"] * 1000.0 for d in de_costs}
    irena_kw = {(d["nation"], d["year"]): d["cumulative_production"] * 1000.0 for d in irena}
    country_codes = {"U.S.": "USA", "China": "CHN", "Germany": "DEU"}
    scenario: dict[str, list[tuple[int, int, float]]] = defaultdict(list)
    for row, rec in iter_rows(t):
        learning = rec["learning"].strip()
        country = rec["country"].strip()
        if learning not in ("Global", "National"):
            raise DataError(
                f"unknown learning scenario {learning!r}",
                source=SOURCE,
                file=F_FIG2,
                row=row,
                column="learning",
            )
        if country not in country_codes:
            raise DataError(
                f"unknown country {country!r}",
                source=SOURCE,
                file=F_FIG2,
                row=row,
                column="country",
            )
        year = _year(rec["year"][:4], file=F_FIG2, row=row, column="year")
        code = country_codes[country]
        if learning == "Global" and code == "DEU":
            usd = parse_number(
                rec["cost_per_kw_hist"],
                source=SOURCE,
                file=F_FIG2,
                row=row,
                column="cost_per_kw_hist",
                notes=notes,
            )
            if usd and year in de_eur_per_kw:
                factor = de_eur_per_kw[year] / usd
                notes.add(
                    F_FIG2,
                    row,
                    "cost_per_kw_hist",
                    rec["cost_per_kw_hist"],
                    f"Germany {year} 'USD' cost = Fraunhofer EUR/kW / {factor:.4f} (a USD-per-EUR rate): "
                    "inverted currency conversion; NOT used (Germany kept in EUR/W)",
                )
        if learning == "National":
            cap = parse_number(
                rec["cumCapKw"], source=SOURCE, file=F_FIG2, row=row, column="cumCapKw", notes=notes
            )
            if cap is not None:
                scenario[country].append((row, year, cap))
    for country, pts in scenario.items():
        row, year, cap = max(pts, key=lambda p: p[1])
        obs = irena_kw.get((country_codes[country], year))
        cmp = f" against IRENA observed {obs:,.0f} kW" if obs is not None else ""
        notes.add(
            F_FIG2,
            min(p[0] for p in pts),
            "cumCapKw",
            f"{cap:.0f}",
            f"'National' cumCapKw of {country} (rows {min(p[0] for p in pts)}-{max(p[0] for p in pts)}) "
            f"is a model scenario ({year}: {cap:,.0f} kW{cmp}): excluded; observed national "
            "capacity comes from irenaCumCapacityMw.csv",
        )
