"""CSET / ETO Advanced Semiconductor Supply Chain dataset: who provides each supply-chain input.

LICENCE: Creative Commons Attribution-NonCommercial 4.0 (CC BY-NC 4.0), per the repository's
LICENSE.md. ``INFO.non_commercial`` is True: outputs built on it are not for commercial use.

Files read (relative to ``raw_dir / "cset_eto_supply_chain"``): ``data/provision.csv`` (provider
-> provided input or stage, with a share), ``data/providers.csv`` (countries and firms, firm
headquarters), ``data/inputs.csv`` (79 inputs; multi-line descriptions) and ``data/stages.csv``
(the three stages Design, Fabrication, ATP, which provision rows also point at).

Outputs:

- ``supply_chain_provision`` (declared in :mod:`.schema`): every distinct provision row, country
  and firm alike; ``share`` is a fraction (``"61%"`` -> 0.61) or null where none is given
  (``negligible`` says whether the source flags the provider as negligible).
- ``market_shares``: the country rows that carry a share, one per input (or stage) and nation:
  industry ``semiconductors``, technology ``semiconductor_supply_chain``, basis
  ``"supply_chain:<input or stage name>"`` (names from inputs.csv / stages.csv by id). Country
  code ``Various`` -> ``OTHER`` (the source's residual); ``MAL`` (not ISO 3166) -> ``MYS``.

Year: the data are one cross-section. The market sizes the shares accompany are dated 2019 in
inputs.csv (46 inputs) and stages.csv (2 of 3 stages), so every share is dated **2019**
(``YEAR``). The fabrication-stage capacity shares cite SEMI's World Fab Forecast, November 2020
edition: also dated 2019 here, and noted.
Shares are kept as published: per input they sum to 99-104% through rounding (noted, not
renormalised).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo, parse_number, read_csv
from learnrace_pipeline.lib.sources.validate import conform
from learnrace_pipeline.lib.vocab import nations as nations_mod
from learnrace_pipeline.lib.vocab import taxonomy

SOURCE = "cset_eto_supply_chain"

INFO = SourceInfo(
    name=SOURCE,
    producer="Center for Security and Emerging Technology (CSET) and Emerging Technology Observatory (ETO), Georgetown University",
    citation=(
        "CSET/ETO, Advanced Semiconductor Supply Chain Dataset (Chip Explorer), from S. M. Khan, "
        "A. Mann, D. Peterson, 'The Semiconductor Supply Chain: Assessing National "
        "Competitiveness', CSET, January 2021; repository georgetown-cset/eto-supply-chain, "
        "commit 4ad9219e626bd53e70175feb44b25b03e03e0025."
    ),
    url="https://github.com/georgetown-cset/eto-supply-chain",
    licence="CC BY-NC 4.0 (Creative Commons Attribution-NonCommercial 4.0): NON-COMMERCIAL USE ONLY",
    retrieval_date="2025-01-30",  # date of the repository's HEAD commit
    notes=(
        "NON-COMMERCIAL licence (CC BY-NC 4.0, per the repository's LICENSE.md; OWID's metadata "
        "says CC BY 4.0, the repository file says BY-NC). One cross-section of about 2019 data, "
        "dated 2019 here; shares by supply-chain segment, not a time series."
    ),
    non_commercial=True,
)

YEAR = 2019
INDUSTRY = "semiconductors"
TECHNOLOGY = "semiconductor_supply_chain"

PROVISION = "data/provision.csv"
PROVIDERS = "data/providers.csv"
INPUTS = "data/inputs.csv"
STAGES = "data/stages.csv"

#: Country codes in providers.csv that are not ISO 3166 alpha-3, and what they mean.
COUNTRY_CODES = {"Various": "OTHER", "MAL": "MYS"}


def _nation(code: str, *, file: str, row: int, column: str, notes: Notes | None = None) -> str:
    if code in COUNTRY_CODES:
        out = COUNTRY_CODES[code]
        if notes is not None:
            notes.add(file, row, column, code, f"country code {code!r} read as {out}")
        return out
    if code not in nations_mod.known_codes():
        raise DataError(
            f"unknown country code {code!r}", source=SOURCE, file=file, row=row, column=column
        )
    return code


def read_share(text: str, *, file: str, row: int, notes: Notes) -> float | None:
    """``"61%"`` -> 0.61; empty -> None; anything else (no %, out of 0-100) is a DataError."""
    s = text.strip()
    if not s:
        return None
    if not s.endswith("%"):
        raise DataError(
            f"share {text!r} is not a percentage",
            source=SOURCE,
            file=file,
            row=row,
            column="share_provided",
        )
    x = parse_number(
        s[:-1], source=SOURCE, file=file, row=row, column="share_provided", notes=notes
    )
    if x is None or not 0 <= x <= 100:
        raise DataError(
            f"share {text!r} outside 0-100%",
            source=SOURCE,
            file=file,
            row=row,
            column="share_provided",
        )
    return x / 100.0


def _items(raw_dir: Path) -> dict[str, dict]:
    """Provided items by id: {id: {name, kind, stage}} from inputs.csv and stages.csv."""
    items: dict[str, dict] = {}
    t = read_csv(raw_dir, SOURCE, INPUTS, required=("input_name", "input_id", "type", "stage_name"))
    c = {k: t.col(k) for k in ("input_name", "input_id", "type", "stage_name")}
    for rec in t.records:
        iid = rec.fields[c["input_id"]].strip()
        if not iid or iid in items:
            raise DataError(
                f"empty or repeated input_id {iid!r}",
                source=SOURCE,
                file=INPUTS,
                row=rec.row,
                column="input_id",
            )
        items[iid] = {
            "name": rec.fields[c["input_name"]].strip(),
            "kind": rec.fields[c["type"]].strip(),
            "stage": rec.fields[c["stage_name"]].strip() or None,
        }
    t = read_csv(raw_dir, SOURCE, STAGES, required=("stage_id", "stage_name"))
    c = {k: t.col(k) for k in ("stage_id", "stage_name")}
    for rec in t.records:
        sid = rec.fields[c["stage_id"]].strip()
        if not sid or sid in items:
            raise DataError(
                f"empty or repeated stage_id {sid!r}",
                source=SOURCE,
                file=STAGES,
                row=rec.row,
                column="stage_id",
            )
        name = rec.fields[c["stage_name"]].strip()
        items[sid] = {"name": name, "kind": "stage", "stage": name}
    return items


def _providers(raw_dir: Path, notes: Notes) -> dict[str, dict]:
    """Providers by id: {id: {name, type, nation}}."""
    t = read_csv(
        raw_dir,
        SOURCE,
        PROVIDERS,
        required=("provider_name", "provider_id", "provider_type", "country"),
    )
    c = {k: t.col(k) for k in ("provider_name", "provider_id", "provider_type", "country")}
    out: dict[str, dict] = {}
    for rec in t.records:
        f, r = rec.fields, rec.row
        pid, name, ptype = (
            f[c["provider_id"]].strip(),
            f[c["provider_name"]].strip(),
            f[c["provider_type"]].strip(),
        )
        if not pid or pid in out:
            raise DataError(
                f"empty or repeated provider_id {pid!r}",
                source=SOURCE,
                file=PROVIDERS,
                row=r,
                column="provider_id",
            )
        if ptype == "country":
            nation = _nation(name, file=PROVIDERS, row=r, column="provider_name", notes=notes)
        elif ptype == "organization":
            code = f[c["country"]].strip()
            if not code:
                raise DataError(
                    f"organization {name!r} has no country",
                    source=SOURCE,
                    file=PROVIDERS,
                    row=r,
                    column="country",
                )
            nation = _nation(code, file=PROVIDERS, row=r, column="country", notes=notes)
        else:
            raise DataError(
                f"unknown provider_type {ptype!r}",
                source=SOURCE,
                file=PROVIDERS,
                row=r,
                column="provider_type",
            )
        out[pid] = {"name": name, "type": ptype, "nation": nation}
    return out


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Tables ``market_shares``, ``supply_chain_provision`` and ``data_notes``."""
    notes = Notes(SOURCE)
    taxonomy.classify(TECHNOLOGY, source=SOURCE)  # declared technology, or DataError
    items = _items(raw_dir)
    providers = _providers(raw_dir, notes)
    t = read_csv(
        raw_dir,
        SOURCE,
        PROVISION,
        required=(
            "provider_name",
            "provider_id",
            "provided_name",
            "provided_id",
            "share_provided",
            "negligible_market_share",
        ),
    )
    c = {
        k: t.col(k)
        for k in (
            "provider_name",
            "provider_id",
            "provided_name",
            "provided_id",
            "share_provided",
            "negligible_market_share",
        )
    }
    seen: dict[tuple[str, ...], int] = {}
    renamed: set[str] = set()
    rows = []
    for rec in t.records:
        f, r = rec.fields, rec.row
        whole = tuple(x.strip() for x in f)
        if whole in seen:
            notes.add(
                PROVISION,
                r,
                None,
                f"{whole[0]} -> {whole[2]}",
                f"exact repeat of row {seen[whole]} dropped",
            )
            continue
        seen[whole] = r
        pid, iid = f[c["provider_id"]].strip(), f[c["provided_id"]].strip()
        if pid not in providers:
            raise DataError(
                f"provider_id {pid!r} is not in {PROVIDERS}",
                source=SOURCE,
                file=PROVISION,
                row=r,
                column="provider_id",
            )
        if iid not in items:
            raise DataError(
                f"provided_id {iid!r} is not in {INPUTS} or {STAGES}",
                source=SOURCE,
                file=PROVISION,
                row=r,
                column="provided_id",
            )
        p, item = providers[pid], items[iid]
        if f[c["provider_name"]].strip() != p["name"] and pid not in renamed:
            renamed.add(pid)
            notes.add(
                PROVISION,
                r,
                "provider_name",
                f[c["provider_name"]],
                f"{pid} is named {p['name']!r} in {PROVIDERS}: that name is used",
            )
        if f[c["provided_name"]].strip() != item["name"] and iid not in renamed:
            renamed.add(iid)
            notes.add(
                PROVISION,
                r,
                "provided_name",
                f[c["provided_name"]],
                f"{iid} is named {item['name']!r} in the inputs/stages file: that name is used",
            )
        flag = f[c["negligible_market_share"]].strip()
        if flag not in ("", "negligible"):
            raise DataError(
                f"unknown negligible_market_share value {flag!r}",
                source=SOURCE,
                file=PROVISION,
                row=r,
                column="negligible_market_share",
            )
        share = read_share(f[c["share_provided"]], file=PROVISION, row=r, notes=notes)
        if share is not None and flag:
            raise DataError(
                "a share and the negligible flag on one row",
                source=SOURCE,
                file=PROVISION,
                row=r,
                column="negligible_market_share",
            )
        rows.append(
            {
                "provider_id": pid,
                "provider_name": p["name"],
                "provider_type": p["type"],
                "provider_nation": p["nation"],
                "provided_id": iid,
                "provided_name": item["name"],
                "provided_kind": item["kind"],
                "stage": item["stage"],
                "share": share,
                "negligible": flag == "negligible",
                "year": YEAR,
                "_file": PROVISION,
                "_row": r,
            }
        )
    prov = pl.DataFrame(rows, infer_schema_length=None).with_columns(pl.col("year").cast(pl.Int32))

    country = prov.filter((pl.col("provider_type") == "country") & pl.col("share").is_not_null())
    sums: dict[str, float] = defaultdict(float)
    for name, s in zip(country["provided_name"], country["share"], strict=True):
        sums[name] += s
    for name, s in sorted(sums.items()):
        if abs(s - 1.0) > 1e-9:
            notes.add(
                PROVISION,
                None,
                "share_provided",
                f"{s * 100:.0f}%",
                f"country shares of {name!r} sum to {s * 100:.0f}% (rounding in the source; kept as published)",
            )
    if "S2" in items:
        notes.add(
            STAGES,
            None,
            "market_share_chart_source",
            "SEMI World Fab Forecast, Nov 2020",
            f"fabrication capacity shares cite a Nov 2020 forecast; dated {YEAR} with the rest of the cross-section",
        )
    notes.add(
        PROVISION,
        None,
        None,
        "",
        f"single cross-section dated {YEAR} (market sizes in inputs.csv are for 2019)",
    )
    shares = country.select(
        pl.lit(INDUSTRY).alias("industry"),
        pl.lit(TECHNOLOGY).alias("technology"),
        pl.col("provider_nation").alias("nation"),
        pl.col("year"),
        pl.col("share"),
        pl.concat_str([pl.lit("supply_chain:"), pl.col("provided_name")]).alias("basis"),
        pl.lit(SOURCE).alias("source"),
        "_file",
        "_row",
    )
    return {
        "market_shares": conform("market_shares", shares, SOURCE),
        "supply_chain_provision": conform("supply_chain_provision", prov, SOURCE),
        "data_notes": notes.frame(),
    }
