"""Epoch AI "Notable AI Models" and "Large-Scale AI Models" tables.

Files read (relative to ``raw_dir / "epoch_ai"``): ``notable_ai_models.csv`` and
``large_scale_ai_models.csv``, Epoch's CSV exports (multi-line quoted text fields, so they are
parsed with the csv module, never line by line).

Output ``ai_models``: **one row per model**. The two files overlap (PaLM (540B), Parti, ST-MoE
and 84 more); a model is the same when its name (case and runs of spaces ignored) and its
publication date agree. Rule: keep the notable-table row and fill its empty fields from the
large-scale row (``dataset`` = ``both``); a field both files give with different values keeps
the notable value and is noted. Every dropped copy is a ``data_notes`` row.

- ``training_compute_flop``: training compute, FLOP (null where Epoch gives none: about half the
  notable rows). ``parameters``: count. ``dataset_size``: training datapoints (Epoch's unit).
- ``nations``: ISO3 codes of the ``Country (of organization)`` entries, split on commas,
  de-duplicated in order; "Multinational" -> ``MULTI``; unknown country names are a DataError;
  an empty field gives null (no country known). Kept for reference.
- ``nation``: the one nation the model is credited to, by the declared organization -> nation
  map and rule of :mod:`learnrace_pipeline.lib.vocab.ai_organizations` (home nation of the
  ultimate parent of the first listed organization). ``nation_basis``: ``organization`` (the
  map) or, for a model below frontier scale with an organization the map lacks,
  ``epoch_country`` (Epoch's country list names one nation); null when neither applies. A
  frontier-scale model with an organization missing from the map is a DataError naming it.
- ``frontier_scale``: :func:`~learnrace_pipeline.lib.vocab.ai_organizations.frontier_scale`
  (>= 1e23 FLOP, or from 2010 within a factor 10 of the running record) on the merged table.
- ``publication_date``: must be ``YYYY-MM-DD``; anything else is a DataError.
- ``confidence``: Confident | Likely | Speculative | Unknown | null (blank). The large-scale
  file's extra level "Unverified" is mapped to "Unknown" (noted per row).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources.base import Notes, SourceInfo, parse_number, read_csv
from learnrace_pipeline.lib.sources.validate import conform
from learnrace_pipeline.lib.vocab import ai_organizations as orgs_mod
from learnrace_pipeline.lib.vocab import nations as nations_mod

SOURCE = "epoch_ai"

INFO = SourceInfo(
    name=SOURCE,
    producer="Epoch AI",
    citation=(
        'Epoch AI, "Data on Notable AI Models" and "Data on Large-Scale AI Models" '
        "(epoch.ai/data), CSV exports as vendored in vaaniarora/Water_Sustainability, "
        "commit f111e0fe9115cf0c08e894c0422f2e7e51416c18."
    ),
    url="https://epoch.ai/data/notable-ai-models",
    licence="CC BY 4.0 (Epoch AI); credit Epoch AI",
    retrieval_date="2025-06-05",  # date of the vendoring repository's HEAD commit
    notes=(
        "Snapshot ending 2024-06-25 in this copy (2024 covers half a year; later rows withheld). "
        "Many compute values are Epoch estimates; see confidence."
    ),
)

#: file -> dataset label
FILES = {"notable_ai_models.csv": "notable", "large_scale_ai_models.csv": "large_scale"}

COLUMNS = {
    "model": "Model",
    "organization": "Organization",
    "publication_date": "Publication date",
    "domain": "Domain",
    "parameters": "Parameters",
    "training_compute_flop": "Training compute (FLOP)",
    "dataset_size": "Training dataset size (datapoints)",
    "confidence": "Confidence",
    "country": "Country (of organization)",
}

CONFIDENCE = {
    "Confident": "Confident",
    "Likely": "Likely",
    "Speculative": "Speculative",
    "Unknown": "Unknown",
    "Unverified": "Unknown",
}

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(text: str, *, file: str, row: int) -> dt.date:
    """A ``YYYY-MM-DD`` publication date; DataError for an empty field or any other format."""
    s = text.strip()
    if not _DATE.match(s):
        raise DataError(
            f"publication date {text!r} is not YYYY-MM-DD",
            source=SOURCE,
            file=file,
            row=row,
            column=COLUMNS["publication_date"],
        )
    try:
        return dt.date.fromisoformat(s)
    except ValueError:
        raise DataError(
            f"impossible date {text!r}",
            source=SOURCE,
            file=file,
            row=row,
            column=COLUMNS["publication_date"],
        ) from None


def parse_nations(text: str, *, file: str, row: int) -> list[str] | None:
    """ISO3 codes of a comma-separated country list (order kept, repeats dropped); None if empty."""
    codes: list[str] = []
    for part in text.split(","):
        name = part.strip()
        if not name:
            continue
        code = nations_mod.to_code(
            name, source=SOURCE, file=file, row=row, column=COLUMNS["country"]
        )
        if code not in codes:
            codes.append(code)
    return codes or None


def read_file(raw_dir: Path, rel: str, dataset: str, notes: Notes) -> pl.DataFrame:
    """Rows of one Epoch CSV as ai_models columns (plus ``_file``, ``_row``)."""
    table = read_csv(raw_dir, SOURCE, rel, required=tuple(COLUMNS.values()))
    idx = {k: table.col(v) for k, v in COLUMNS.items()}
    rows = []
    n_empty_country = n_multi = 0
    for rec in table.records:
        f, r = rec.fields, rec.row
        model = f[idx["model"]]
        if not model.strip():
            raise DataError(
                "empty model name", source=SOURCE, file=rel, row=r, column=COLUMNS["model"]
            )
        if model != model.strip():
            notes.add(
                rel,
                r,
                COLUMNS["model"],
                model,
                "leading/trailing whitespace stripped from model name",
            )
        nums = {}
        for k in ("training_compute_flop", "parameters", "dataset_size"):
            x = parse_number(
                f[idx[k]], source=SOURCE, file=rel, row=r, column=COLUMNS[k], notes=notes
            )
            if x is not None and x <= 0:
                if k == "dataset_size" and x == 0:
                    notes.add(
                        rel,
                        r,
                        COLUMNS[k],
                        f[idx[k]],
                        "training dataset size 0 read as unknown (null)",
                    )
                    x = None
                else:
                    raise DataError(
                        f"{COLUMNS[k]} must be positive, got {f[idx[k]]!r}",
                        source=SOURCE,
                        file=rel,
                        row=r,
                        column=COLUMNS[k],
                    )
            nums[k] = x
        conf_raw = f[idx["confidence"]].strip()
        if conf_raw and conf_raw not in CONFIDENCE:
            raise DataError(
                f"unknown confidence level {conf_raw!r}",
                source=SOURCE,
                file=rel,
                row=r,
                column=COLUMNS["confidence"],
            )
        conf = CONFIDENCE.get(conf_raw) if conf_raw else None
        if conf_raw and conf != conf_raw:
            notes.add(
                rel,
                r,
                COLUMNS["confidence"],
                conf_raw,
                f"confidence {conf_raw!r} mapped to {conf!r}",
            )
        nations = parse_nations(f[idx["country"]], file=rel, row=r)
        if nations is None:
            n_empty_country += 1
        elif "MULTI" in nations:
            n_multi += 1
        rows.append(
            {
                "model": model.strip(),
                "organization": f[idx["organization"]].strip() or None,
                "nations": nations,
                "publication_date": parse_date(f[idx["publication_date"]], file=rel, row=r),
                **nums,
                "confidence": conf,
                "domain": f[idx["domain"]].strip() or None,
                "dataset": dataset,
                "_file": rel,
                "_row": r,
            }
        )
    if n_empty_country:
        notes.add(
            rel,
            None,
            COLUMNS["country"],
            "",
            f"{n_empty_country} row(s) with an empty country: nations left null",
        )
    if n_multi:
        notes.add(
            rel,
            None,
            COLUMNS["country"],
            "Multinational",
            f"{n_multi} row(s) list 'Multinational': coded MULTI alongside any named countries",
        )
    schema = {
        "model": pl.String,
        "organization": pl.String,
        "nations": pl.List(pl.String),
        "publication_date": pl.Date,
        "training_compute_flop": pl.Float64,
        "parameters": pl.Float64,
        "dataset_size": pl.Float64,
        "confidence": pl.String,
        "domain": pl.String,
        "dataset": pl.String,
        "_file": pl.String,
        "_row": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)


#: Fields filled from the large-scale row where the notable row leaves them empty.
MERGED = (
    "organization",
    "nations",
    "training_compute_flop",
    "parameters",
    "dataset_size",
    "confidence",
    "domain",
)


def _model_key() -> pl.Expr:
    return pl.col("model").str.to_lowercase().str.replace_all(r"\s+", " ").alias("_key")


def merge_files(notable: pl.DataFrame, large: pl.DataFrame, notes: Notes) -> pl.DataFrame:
    """One row per model from the two files (rule in the module docstring). Each dropped
    large-scale copy and each field the two copies disagree on is noted."""
    on = ["_key", "publication_date"]
    n = notable.with_columns(_model_key())
    lg = large.with_columns(_model_key())
    both = n.join(lg, on=on, how="inner", suffix="_ls")
    for r in both.iter_rows(named=True):
        filled = [c for c in MERGED if r[c] is None and r[f"{c}_ls"] is not None]
        for c in MERGED:
            a, b = r[c], r[f"{c}_ls"]
            if a is not None and b is not None and a != b:
                notes.add(
                    r["_file_ls"],
                    r["_row_ls"],
                    c,
                    str(b),
                    f"{c} differs from notable row {r['_row']} ({a!r}): notable value kept",
                )
        what = f"; {', '.join(filled)} filled from this row" if filled else ""
        notes.add(
            r["_file_ls"],
            r["_row_ls"],
            COLUMNS["model"],
            r["model_ls"],
            f"same model as notable row {r['_row']}: counted once, notable row kept{what}",
        )
    if both.height:
        notes.add(
            lg["_file"][0],
            None,
            COLUMNS["model"],
            "",
            f"{both.height} model(s) in both files: one row each (dataset 'both'), copies dropped",
        )
    extra = both.select(*on, *[pl.col(f"{c}_ls") for c in MERGED], pl.lit(True).alias("_both"))
    kept = (
        n.join(extra, on=on, how="left")
        .with_columns(
            *[pl.coalesce(c, f"{c}_ls").alias(c) for c in MERGED],
            pl.when(pl.col("_both")).then(pl.lit("both")).otherwise("dataset").alias("dataset"),
        )
        .select(notable.columns)
    )
    only_large = lg.join(both.select(on), on=on, how="anti").select(large.columns)
    return pl.concat([kept, only_large])


def credit_nations(df: pl.DataFrame) -> pl.DataFrame:
    """Add ``frontier_scale``, ``nation`` and ``nation_basis`` (module docstring) to the merged
    rows; a frontier-scale model with an organization missing from the map is a DataError."""
    df = df.with_columns(
        orgs_mod.frontier_scale(df["training_compute_flop"], df["publication_date"])
    )
    nation, basis = [], []
    for r in df.iter_rows(named=True):
        c = orgs_mod.credit(orgs_mod.split_organizations(r["organization"]), r["nations"])
        if c.unknown and r["frontier_scale"]:
            raise DataError(
                f"organization(s) {list(c.unknown)} of frontier-scale model {r['model']!r} "
                f"({r['training_compute_flop']:.3g} FLOP, {r['publication_date']}) are not in "
                f"{orgs_mod.MAP_FILE.name}: declare their nation there",
                source=SOURCE,
                file=r["_file"],
                row=r["_row"],
                column=COLUMNS["organization"],
            )
        nation.append(c.nation)
        basis.append(c.basis)
    return df.with_columns(
        pl.Series("nation", nation, dtype=pl.String),
        pl.Series("nation_basis", basis, dtype=pl.String),
    )


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Tables ``ai_models`` (one row per model, nations credited) and ``data_notes``."""
    notes = Notes(SOURCE)
    frames = {ds: read_file(raw_dir, rel, ds, notes) for rel, ds in FILES.items()}
    df = credit_nations(merge_files(frames["notable"], frames["large_scale"], notes))
    return {"ai_models": conform("ai_models", df, SOURCE), "data_notes": notes.frame()}
