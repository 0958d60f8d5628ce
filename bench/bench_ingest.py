"""Benchmark: ingest every source from the raw files into a fresh DuckDB warehouse.

Measures, in one run on this machine:
- parse: every reader on ``../shared/data/raw`` (wall time per source);
- write: all tidy tables into a fresh DuckDB file, one Arrow-registered transaction per source
  (the project's way) versus row-by-row ``executemany`` inserts (the naive way), side by side;
- harmonize: the UNION ALL BY NAME of every table into ``harmonized``;
- peak resident memory of the process (ru_maxrss).

Target: the whole ingest under 20 s on a 2-core machine
(docs/decisions/2026-11-28-benchmark-targets.md).
Run: ``.venv/bin/python -m bench.bench_ingest [--raw-dir DIR]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from bench.common import save_json
from learnrace_pipeline.lib.sources import SOURCES, reader
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.storage.warehouse import connect, write_tables


def naive_write(db: Path, tables: dict) -> None:
    con = duckdb.connect(str(db))
    for (schema, table), df in tables.items():
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        cols = ", ".join(f'"{c}" VARCHAR' for c in df.columns)
        con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{table}" ({cols})')
        ph = ", ".join("?" for _ in df.columns)
        rows = [tuple(None if v is None else str(v) for v in r) for r in df.iter_rows()]
        if rows:
            con.executemany(f'INSERT INTO "{schema}"."{table}" VALUES ({ph})', rows)
    con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--raw-dir",
        type=Path,
        default=Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw",
    )
    args = ap.parse_args()
    out: dict = {"parse_s": {}}
    t0 = time.perf_counter()
    parsed = {}
    for s in SOURCES:
        ts = time.perf_counter()
        parsed[s] = reader(s).read(args.raw_dir)
        out["parse_s"][s] = round(time.perf_counter() - ts, 3)
    t_parse = time.perf_counter() - t0
    flat = {("raw", f"{s}__{t}"): df for s, tabs in parsed.items() for t, df in tabs.items()}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "fresh.duckdb"
        t1 = time.perf_counter()
        for s, tabs in parsed.items():
            write_tables(db, {("raw", f"{s}__{t}"): df for t, df in tabs.items()})
        t_write = time.perf_counter() - t1
        t2 = time.perf_counter()
        with connect(db) as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS harmonized")
            present = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name='raw'"
                ).fetchall()
            }
            for table in [*TABLES, "data_notes"]:
                parts = [
                    f'SELECT * FROM raw."{s}__{table}"'
                    for s in SOURCES
                    if f"{s}__{table}" in present
                ]
                if parts:
                    con.execute(
                        f'CREATE OR REPLACE TABLE harmonized."{table}" AS '
                        + " UNION ALL BY NAME ".join(parts)
                    )
        t_harm = time.perf_counter() - t2
        naive_db = Path(tmp) / "naive.duckdb"
        t3 = time.perf_counter()
        naive_write(naive_db, flat)
        t_naive = time.perf_counter() - t3
    total = t_parse + t_write + t_harm
    rows = sum(df.height for df in flat.values())
    out.update(
        rows=rows,
        tables=len(flat),
        parse_total_s=round(t_parse, 3),
        write_transactional_arrow_s=round(t_write, 3),
        write_naive_executemany_s=round(t_naive, 3),
        harmonize_s=round(t_harm, 3),
        ingest_total_s=round(total, 3),
        peak_rss_mib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        target_s=20,
    )
    print(json.dumps(out, indent=2))
    save_json("ingest.json", out)


if __name__ == "__main__":
    main()
