"""The ``datasets/`` snapshot: tidy tables the readers derive, with sidecar metadata.

Layout: ``datasets/<source>/<table>.csv`` plus ``datasets/<source>/<table>.meta.json`` (producer,
citation, upstream URL, licence, retrieval date, sha256 of the CSV, row count, columns, units).
CSV keeps the snapshot reviewable in git; list columns are written ``|``-separated, dates as ISO,
booleans as ``true``/``false``. :func:`build` writes a whole source into a temporary folder and
swaps it in, so an error never leaves a half-written snapshot; :func:`load` checks each file's
sha256 against its sidecar and conforms it to the declared schema again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import reader
from learnrace_pipeline.lib.sources.base import NOTES_SCHEMA
from learnrace_pipeline.lib.sources.schema import KEYS, TABLES
from learnrace_pipeline.lib.sources.validate import conform

DEFAULT_DATASETS = Path(__file__).resolve().parents[3] / "datasets"
LIST_SEP = "|"


def schema_of(table: str) -> dict[str, pl.DataType]:
    """Declared columns of a snapshot table (``data_notes`` included)."""
    if table == "data_notes":
        return {k: v() if isinstance(v, type) else v for k, v in NOTES_SCHEMA.items()}
    return TABLES[table]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _to_csv_frame(df: pl.DataFrame) -> pl.DataFrame:
    exprs = []
    for name, dtype in df.schema.items():
        if isinstance(dtype, pl.List):
            exprs.append(pl.col(name).list.join(LIST_SEP).alias(name))
    return df.with_columns(exprs) if exprs else df


def _from_csv_frame(
    df: pl.DataFrame, columns: dict[str, pl.DataType], *, source: str, file: str
) -> pl.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"snapshot lacks column(s) {missing}",
            source=source,
            file=file,
            row=1,
            column=missing[0],
        )
    out = []
    for name, dtype in columns.items():
        col = pl.col(name)
        if isinstance(dtype, pl.List):
            out.append(
                pl.when(col == "")
                .then(pl.lit(None, dtype))
                .otherwise(col.str.split(LIST_SEP))
                .alias(name)
            )
        elif dtype == pl.Boolean:
            out.append(
                col.replace_strict(
                    {"true": True, "false": False}, default=None, return_dtype=pl.Boolean
                ).alias(name)
            )
        elif dtype == pl.Date:
            out.append(col.str.to_date("%Y-%m-%d", strict=False).alias(name))
        else:
            out.append(col.cast(dtype, strict=False).alias(name))
    typed = df.select(out)
    for name in columns:
        bad = typed[name].is_null() & df[name].is_not_null() & (df[name] != "")
        if bad.any():
            i = int(bad.arg_true()[0])
            raise DataError(
                f"cannot read {df[name][i]!r} as {columns[name]}",
                source=source,
                file=file,
                row=i + 2,
                column=name,
            )
    return typed


def _units(df: pl.DataFrame) -> list[str]:
    units: set[str] = set()
    for c in ("unit", "production_unit"):
        if c in df.columns:
            units |= set(df[c].drop_nulls().unique().to_list())
    return sorted(units)


def write_source(out_dir: Path, source: str, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Write one source's tables and sidecars into ``out_dir/source`` atomically."""
    info = reader(source).INFO
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{source}.", dir=out_dir))
    counts = {}
    try:
        for table, df in sorted(tables.items()):
            path = tmp / f"{table}.csv"
            key = list(KEYS.get(table, ()))
            ordered = df.sort(key) if key else df.sort(df.columns)
            _to_csv_frame(ordered).write_csv(path, null_value="", date_format="%Y-%m-%d")
            meta = {
                "dataset": f"{source}/{table}",
                "producer": info.producer,
                "citation": info.citation,
                "upstream_url": info.url,
                "licence": info.licence,
                "non_commercial": info.non_commercial,
                "retrieval_date": info.retrieval_date,
                "derived_by": f"learnrace_pipeline.lib.sources.{source}.read",
                "notes": info.notes,
                "rows": df.height,
                "columns": {k: str(v) for k, v in df.schema.items()},
                "units": _units(df),
                "sha256": sha256_file(path),
            }
            (tmp / f"{table}.meta.json").write_text(
                json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
            )
            counts[table] = df.height
        final = out_dir / source
        if final.exists():
            old = out_dir / f".{source}.old"
            shutil.rmtree(old, ignore_errors=True)
            final.rename(old)
            tmp.rename(final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return counts


def build(
    raw_dir: Path, out_dir: Path = DEFAULT_DATASETS, sources: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """Run the readers on ``raw_dir`` and write the snapshot; returns rows per source and table."""
    from learnrace_pipeline.lib.sources import SOURCES

    result = {}
    for source in sources or list(SOURCES):
        tables = reader(source).read(Path(raw_dir))
        result[source] = write_source(Path(out_dir), source, tables)
    return result


def load(dataset_dir: Path, source: str, *, verify: bool = True) -> dict[str, pl.DataFrame]:
    """Load one source's snapshot tables, checking sha256 against the sidecar and the schema."""
    folder = Path(dataset_dir) / source
    if not folder.is_dir():
        raise DataError(
            "no snapshot folder (run `learnrace datasets build`)", source=source, file=str(folder)
        )
    out = {}
    for meta_path in sorted(folder.glob("*.meta.json")):
        table = meta_path.name.removesuffix(".meta.json")
        csv_path = folder / f"{table}.csv"
        rel = f"datasets/{source}/{csv_path.name}"
        if not csv_path.is_file():
            raise DataError("snapshot file missing", source=source, file=rel)
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if verify and sha256_file(csv_path) != meta["sha256"]:
            raise DataError(f"sha256 differs from {meta_path.name}", source=source, file=rel)
        columns = schema_of(table)
        raw = pl.read_csv(csv_path, infer_schema=False)
        df = _from_csv_frame(raw, columns, source=source, file=rel)
        if table != "data_notes":
            df = conform(
                table,
                df.with_columns(
                    pl.lit(rel).alias("_file"), (pl.int_range(pl.len()) + 2).alias("_row")
                ),
                source,
            )
        out[table] = df
    return out


def metadata(dataset_dir: Path, source: str) -> dict[str, dict]:
    """The sidecar metadata of each table of a source."""
    folder = Path(dataset_dir) / source
    return {
        p.name.removesuffix(".meta.json"): json.loads(p.read_text(encoding="utf-8"))
        for p in sorted(folder.glob("*.meta.json"))
    }
