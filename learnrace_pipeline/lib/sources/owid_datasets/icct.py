"""ICCT dataset of ``owid_datasets``: European battery-electric car sales and shares (2021).

*European vehicle passenger sales (ICCT, 2021)*: battery-electric (BEV) and BEV + plug-in hybrid
(PHEV) new-car registrations by nation as ``production`` of ``ev_car`` in ``vehicle`` (annual;
cumulative derived with :func:`~learnrace_pipeline.lib.sources._sheets.with_cumulative`,
a missing year counted as zero and noted), and their shares of new-car sales as
``market_shares`` (fractions: ICCT's percentages divided by 100 and checked against counts /
total sales). ``Europe`` maps to the region ``EUROPE``. Other columns are noted and not read.
"""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources._sheets import frame, with_cumulative
from learnrace_pipeline.lib.sources.base import Notes, production_row
from learnrace_pipeline.lib.sources.owid_datasets.dataset import SOURCE, Dataset, Out, nation_of
from learnrace_pipeline.lib.sources.schema import TABLES

#: ICCT production columns (series name, description) and share columns (basis).
ICCT_PRODUCTION: dict[str, tuple[str, str]] = {
    "battery_electric_number": ("icct_bev_car_sales", "battery-electric new passenger cars"),
    "battery_plugin_electric_number": (
        "icct_bev_phev_car_sales",
        "battery-electric plus plug-in hybrid new passenger cars",
    ),
}
ICCT_SHARES: dict[str, tuple[str, str]] = {
    "battery_electric_share": ("bev_share_of_new_car_sales", "battery_electric_number"),
    "battery_plugin_electric_share": (
        "bev_phev_share_of_new_car_sales",
        "battery_plugin_electric_number",
    ),
}
ICCT_SKIPPED: dict[str, str] = {
    "vehicle_price_eur": "average price of all new cars (all powertrains), not an EV cost: skipped",
    "total_passenger_vehicle_sales": "total new-car sales: used only to check the shares",
}
ICCT_TOTAL = "total_passenger_vehicle_sales"


def read_sales(ds: Dataset, out: Out, notes: Notes) -> None:
    """ICCT annual BEV and BEV+PHEV sales (vehicle, cumulative derived) and shares (fraction)."""
    columns = [c for c in ds.fields if c not in ("Entity", "Year")]
    for col in columns:
        if col in ICCT_PRODUCTION or col in ICCT_SHARES:
            continue
        reason = ICCT_SKIPPED.get(
            col, "not an EV measure (other powertrains, emissions or market size): not read"
        )
        notes.add(ds.csv_rel, 1, col, col, reason)
    prod_rows: list[dict] = []
    for row, entity, year, vals in ds.rows(notes):
        nation = nation_of(ds, entity, row)
        total = vals[ICCT_TOTAL]
        for col, (name, _what) in ICCT_PRODUCTION.items():
            if (q := vals[col]) is None:
                continue
            if q < 0:
                raise DataError(
                    f"negative sales {q:g}", source=SOURCE, file=ds.csv_rel, row=row, column=col
                )
            prod_rows.append(
                production_row(
                    SOURCE,
                    f"{SOURCE}:{name}",
                    "ev_car",
                    nation,
                    year,
                    q,
                    None,
                    "vehicle",
                    None,
                    ds.csv_rel,
                    row,
                )
            )
        for col, (basis, count_col) in ICCT_SHARES.items():
            if (pct := vals[col]) is None:
                continue
            share = pct / 100.0
            count = vals[count_col]
            if (
                total
                and count is not None
                and abs(share - count / total) > max(1e-4, 0.01 * count / total)
            ):
                raise DataError(
                    f"share {pct:g}% disagrees with {count_col} / {ICCT_TOTAL} = {100 * count / total:.4g}% "
                    "(shares are read as percentages)",
                    source=SOURCE,
                    file=ds.csv_rel,
                    row=row,
                    column=col,
                )
            out.shares.append(
                {
                    "industry": "evs",
                    "technology": "ev_car",
                    "nation": nation,
                    "year": year,
                    "share": share,
                    "basis": basis,
                    "source": SOURCE,
                    "_file": ds.csv_rel,
                    "_row": row,
                }
            )
    if entity_europe := [r for r in prod_rows if r["nation"] == "EUROPE"]:
        notes.add(
            ds.csv_rel,
            min(r["_row"] for r in entity_europe),
            "Entity",
            "Europe",
            "Europe = EU27 + Iceland + Norway + UK (OWID, from the EEA), mapped to region EUROPE; only "
            f"{len({r['year'] for r in entity_europe})} year(s), so its derived cumulative rests on a crude initial stock",
        )
    if not prod_rows:
        return
    sales = frame("production", prod_rows)
    # years must be consecutive within a nation for a running sum
    gaps = (
        sales.sort("series_id", "nation", "year")
        .with_columns(gap=pl.col("year").diff().over("series_id", "nation"))
        .filter(pl.col("gap") > 1)
    )
    for r in gaps.iter_rows(named=True):
        notes.add(
            ds.csv_rel,
            r["_row"],
            "Year",
            str(r["year"]),
            f"{r['nation']}: {int(r['gap']) - 1} year(s) missing before {r['year']}; counted as zero in the running sum",
        )
    derived = with_cumulative(prod_rows)
    out.prod.extend(derived.select([*TABLES["production"], "_file", "_row"]).to_dicts())
