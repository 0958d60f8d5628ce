"""The DuckDB warehouse: short connections, read-only readers, retries, transactional writes.

DuckDB allows one writing process at a time, and its file lock is per process: a second process
(the Dagster UI, the CLI, an executor subprocess) that opens the file while a run writes gets
"Could not set lock on file". Every function here therefore opens a connection for as short a time
as it can, opens readers read-only, retries lock errors with exponential backoff, and writes each
logical change (a whole source, a partition) inside one transaction, so a failure leaves the tables
exactly as they were.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb
import polars as pl

DEFAULT_DB = Path(".learnrace") / "learnrace.duckdb"
LOCK_MARKERS = (
    "Could not set lock",
    "Conflicting lock",
    "database is locked",
    "Resource temporarily unavailable",
)


def default_db_path() -> Path:
    """``$LEARNRACE_DB`` if set, else ``.learnrace/learnrace.duckdb`` under the working directory."""
    return Path(os.environ.get("LEARNRACE_DB", DEFAULT_DB))


def _is_lock_error(e: Exception) -> bool:
    return any(m in str(e) for m in LOCK_MARKERS)


@contextlib.contextmanager
def connect(
    db_path: str | Path, *, read_only: bool = False, retries: int = 8, backoff_s: float = 0.1
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``db_path`` (creating its folder for writers), retrying lock errors with backoff."""
    db_path = Path(db_path)
    if not read_only:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(os.getpid())
    for attempt in range(retries + 1):
        try:
            con = duckdb.connect(str(db_path), read_only=read_only)
            break
        except duckdb.Error as e:
            if not _is_lock_error(e) or attempt == retries:
                raise
            time.sleep(backoff_s * 2**attempt * (1 + rng.random()))
    try:
        yield con
    finally:
        con.close()


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def write_tables(
    db_path: str | Path,
    tables: Mapping[tuple[str, str], pl.DataFrame],
    *,
    replace_where: Mapping[tuple[str, str], Mapping[str, object]] | None = None,
) -> dict[str, int]:
    """Write several tables in ONE transaction; return {"schema.table": rows}.

    Each table is replaced whole (``CREATE OR REPLACE``), or, where ``replace_where`` names it,
    only the rows matching the given column values are deleted before the insert (idempotent
    partition writes). Any error rolls everything back: nothing is half-written.
    """
    replace_where = replace_where or {}
    counts: dict[str, int] = {}
    with connect(db_path) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            for (schema, table), df in tables.items():
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_qi(schema)}")
                full = f"{_qi(schema)}.{_qi(table)}"
                con.register("_incoming", df.to_arrow())
                where = replace_where.get((schema, table))
                if where is None:
                    con.execute(f"CREATE OR REPLACE TABLE {full} AS SELECT * FROM _incoming")
                else:
                    con.execute(
                        f"CREATE TABLE IF NOT EXISTS {full} AS SELECT * FROM _incoming LIMIT 0"
                    )
                    cond = " AND ".join(f"{_qi(k)} = ?" for k in where)
                    con.execute(f"DELETE FROM {full} WHERE {cond}", list(where.values()))
                    con.execute(f"INSERT INTO {full} BY NAME SELECT * FROM _incoming")
                con.unregister("_incoming")
                counts[f"{schema}.{table}"] = df.height
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return counts


def fetch_pl(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run ``sql`` on an open connection and return a Polars frame (DuckDB 2 has no ``.pl()`` on
    connection results)."""
    rel = con.sql(sql, params=params) if params else con.sql(sql)
    return rel.pl() if rel is not None else pl.DataFrame()


def read_table(db_path: str | Path, schema: str, table: str) -> pl.DataFrame:
    """A whole table as a Polars frame, read-only."""
    with connect(db_path, read_only=True) as con:
        return fetch_pl(con, f"SELECT * FROM {_qi(schema)}.{_qi(table)}")


def query(db_path: str | Path, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run a read-only query and return a Polars frame."""
    with connect(db_path, read_only=True) as con:
        return fetch_pl(con, sql, params)


def table_counts(db_path: str | Path) -> pl.DataFrame:
    """schema, table, rows for every base table in the warehouse (empty frame if no file)."""
    if not Path(db_path).exists():
        return pl.DataFrame(schema={"schema": pl.String, "table": pl.String, "rows": pl.Int64})
    with connect(db_path, read_only=True) as con:
        names = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE NOT internal ORDER BY 1, 2"
        ).fetchall()
        rows = [
            (s, t, con.execute(f"SELECT count(*) FROM {_qi(s)}.{_qi(t)}").fetchone()[0])
            for s, t in names
        ]
    return pl.DataFrame(
        rows, schema={"schema": pl.String, "table": pl.String, "rows": pl.Int64}, orient="row"
    )
