"""Epoch AI "Notable AI Models" and "Large-Scale AI Models" tables.

Files read (relative to ``raw_dir / "epoch_ai"``): ``notable_ai_models.csv`` and
``large_scale_ai_models.csv``, Epoch's CSV exports (multi-line quoted text fields, so they are
parsed with the csv module, never line by line).

Output ``ai_models``: one row per model per file (``dataset`` = ``notable`` | ``large_scale``;
the files overlap on some models and both copies are kept, told apart by ``dataset``).

- ``training_compute_flop``: training compute, FLOP (null where Epoch gives none: about half the
  notable rows). ``parameters``: count. ``dataset_size``: training datapoints (Epoch's unit).
- ``nations``: ISO3 codes of the ``Country (of organization)`` entries, split on commas,
  de-duplicated in order; "Multinational" -> ``MULTI``; unknown country names are a DataError;
  an empty field gives null (no country known).
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


def read(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """Tables ``ai_models`` (both files, told apart by ``dataset``) and ``data_notes``."""
    notes = Notes(SOURCE)
    frames = [read_file(raw_dir, rel, dataset, notes) for rel, dataset in FILES.items()]
    df = pl.concat(frames)
    return {"ai_models": conform("ai_models", df, SOURCE), "data_notes": notes.frame()}
