"""The DuckDB warehouse: short connections, read-only readers, bounded waits, transactional writes.

DuckDB allows one writing process at a time, and its file lock is per process: a second process
(the Dagster UI, the CLI, a notebook) that opens the file while another holds it gets "Could not
set lock on file" (a read-only connection blocks writers too). Every function here therefore opens
a connection for as short a time as it can and opens readers read-only.

Writers first take the warehouse lock, an exclusive ``flock`` on ``<db>.lock`` beside the file
(:func:`lock_path`, :mod:`learnrace_pipeline.lib.storage.locks`), held for the connection: it
orders writers of every process, whatever Dagster instance runs them. Then they open the file,
retrying DuckDB's lock errors (a reader, a foreign process). Readers retry DuckDB's lock errors
with backoff. Every wait logs a line naming the holder and gives up after
``$LEARNRACE_LOCK_TIMEOUT`` seconds with :class:`~learnrace_pipeline.lib.storage.locks.LockTimeout`.

Each logical change (a whole source, an IO-managed table) is written inside one transaction
(:func:`transaction`), so a failure leaves the tables exactly as they were.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import duckdb
import polars as pl

from learnrace_pipeline.lib.storage import locks

DEFAULT_DB = Path(".learnrace") / "learnrace.duckdb"
LOCK_MARKERS = (
    "Could not set lock",
    "Conflicting lock",
    "database is locked",
    "Resource temporarily unavailable",
)
_HOLDER = re.compile(r"Conflicting lock is held in (.*?\(PID \d+\))")


def default_db_path() -> Path:
    """``$LEARNRACE_DB`` if set, else ``.learnrace/learnrace.duckdb`` under the working directory."""
    return Path(os.environ.get("LEARNRACE_DB", DEFAULT_DB))


def lock_path(db_path: str | Path) -> Path:
    """The warehouse lock file of ``db_path``: ``<db>.lock`` beside it."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + ".lock")


def _is_lock_error(e: Exception) -> bool:
    return any(m in str(e) for m in LOCK_MARKERS)


def _duckdb_holder(e: Exception) -> str:
    m = _HOLDER.search(str(e))
    return m.group(1) if m else ""


@contextlib.contextmanager
def connect(
    db_path: str | Path, *, read_only: bool = False, timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``db_path`` for the ``with`` block.

    Writers (``read_only=False``; the folder is created) hold the warehouse lock for the whole
    block. Lock errors are retried with backoff; the whole wait is bounded by ``timeout`` seconds
    (default ``$LEARNRACE_LOCK_TIMEOUT``; 0 = one attempt), after which
    :class:`~learnrace_pipeline.lib.storage.locks.LockTimeout` names the holder.
    """
    db_path = Path(db_path)
    timeout = locks.lock_timeout() if timeout is None else timeout
    start = time.monotonic()
    consequence = "nothing was read" if read_only else "nothing was written"
    with contextlib.ExitStack() as stack:
        if not read_only:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(
                locks.hold(
                    lock_path(db_path),
                    f"the warehouse write lock {lock_path(db_path)}",
                    timeout=timeout,
                    consequence=consequence,
                )
            )
        con = _open(
            db_path,
            read_only,
            locks.Waiting(f"DuckDB's lock on {db_path}", timeout, start=start),
            consequence,
        )
        try:
            yield con
        finally:
            con.close()


def _open(
    db_path: Path, read_only: bool, wait: locks.Waiting, consequence: str
) -> duckdb.DuckDBPyConnection:
    rng = random.Random(os.getpid())
    backoff = 0.05
    while True:
        try:
            return duckdb.connect(str(db_path), read_only=read_only)
        except duckdb.Error as e:
            if not _is_lock_error(e):
                raise
            if wait.expired():
                raise wait.timed_out(_duckdb_holder(e), consequence) from None
            wait.note(_duckdb_holder(e))
            wait.sleep(backoff * (1 + rng.random()))
            backoff = min(backoff * 2, 2.0)


def _qi(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@contextlib.contextmanager
def transaction(
    db_path: str | Path, *, timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A writing connection inside one transaction: committed when the block ends, rolled back
    (nothing written) when it raises."""
    with connect(db_path, timeout=timeout) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")


def write_tables(
    db_path: str | Path,
    tables: Mapping[tuple[str, str], pl.DataFrame],
    *,
    replace_where: Mapping[tuple[str, str], Mapping[str, object]] | None = None,
    timeout: float | None = None,
) -> dict[str, int]:
    """Write several tables in ONE transaction; return {"schema.table": rows}.

    Each table is replaced whole (``CREATE OR REPLACE``), or, where ``replace_where`` names it,
    only the rows matching the given column values are deleted before the insert (idempotent
    partition writes). Any error rolls everything back: nothing is half-written. Waits for the
    locks at most ``timeout`` seconds (default ``$LEARNRACE_LOCK_TIMEOUT``).
    """
    replace_where = replace_where or {}
    counts: dict[str, int] = {}
    with transaction(db_path, timeout=timeout) as con:
        for (schema, table), df in tables.items():
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {_qi(schema)}")
            full = f"{_qi(schema)}.{_qi(table)}"
            con.register("_incoming", df.to_arrow())
            where = replace_where.get((schema, table))
            if where is None:
                con.execute(f"CREATE OR REPLACE TABLE {full} AS SELECT * FROM _incoming")
            else:
                con.execute(f"CREATE TABLE IF NOT EXISTS {full} AS SELECT * FROM _incoming LIMIT 0")
                cond = " AND ".join(f"{_qi(k)} = ?" for k in where)
                con.execute(f"DELETE FROM {full} WHERE {cond}", list(where.values()))
                con.execute(f"INSERT INTO {full} BY NAME SELECT * FROM _incoming")
            con.unregister("_incoming")
            counts[f"{schema}.{table}"] = df.height
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
