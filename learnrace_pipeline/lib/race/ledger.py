"""The forecast ledger: every vintage of the race's forecasts, kept append-only and scored as
data arrives.

A **vintage** is one materialization of the race for one scenario: when it was made (UTC), the
data version (hash of the inputs), the code version, the scenario, the seed, and its forecast
rows (:data:`FORECAST_SCHEMA`), one per (industry, nation, quantity, target year):

- ``capability``, ``volume``, ``cost``: the nation's metric in ``target_year``, in ``unit`` (the
  race specification's unit of the metric; volume shares are fractions);
- ``closing_year``: the calendar year the nation closes the loop, ``target_year`` = the
  industry's horizon, ``p_closed`` = P(closed by the horizon). A quantile of ``inf`` means "not
  closed within the simulated years".

Each row holds the quantiles ``q05 q10 q25 q50 q75 q90 q95`` and ``log_scale``: True where the
quantity is positive and is scored on natural logs (by default every non-closing row whose q05
is above 0).

**Storage.** A DuckDB file of its own, by default ``ledger.duckdb`` beside the warehouse
(:func:`default_ledger_path`), so rebuilding or deleting the warehouse leaves it alone. Tables:
``vintages`` (one header row per vintage), ``forecasts`` (its rows) and ``scores`` (score events:
the per-vintage, per-quantity scores against one version of the observed data). Rows are only
ever inserted. Each append is one transaction under ``<ledger>.lock`` (the warehouse's writer
path, :func:`learnrace_pipeline.lib.storage.warehouse.transaction`): a failure or a ``kill -9``
leaves the ledger as it was before the append or with the whole vintage, never part of one.

The **vintage id** is a hash of the data version, code version, scenario, seed and rows (not of
the time), so appending the same forecast again adds nothing and keeps the first time.

**Scores** against data that arrives later: :mod:`learnrace_pipeline.lib.race.ledger_scores`
(computed from the ledger's rows; recorded as score events, never by editing a row).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from learnrace_pipeline.lib.errors import DataError, LearnraceError
from learnrace_pipeline.lib.storage import warehouse

LEDGER_FILE = "ledger.duckdb"
ENV_LEDGER = "LEARNRACE_LEDGER"
SOURCE = "forecast ledger"

CLOSING = "closing_year"
QUANTITIES: tuple[str, ...] = ("capability", "volume", "cost", CLOSING)
#: The quantile levels of every row, the forecaster's 7 output levels (``forecast.types.LEVELS``,
#: not imported: that package loads the samplers, which listing the ledger does not need).
LEVELS: tuple[float, ...] = (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95)
QCOLS: tuple[str, ...] = ("q05", "q10", "q25", "q50", "q75", "q90", "q95")
KEY: tuple[str, ...] = ("industry", "nation", "quantity", "target_year")

#: The forecast rows a vintage holds (``p_closed`` and ``log_scale`` may be left out).
FORECAST_SCHEMA: dict[str, pl.DataType] = {
    "industry": pl.String(),
    "nation": pl.String(),
    "quantity": pl.String(),
    "target_year": pl.Int32(),
    "unit": pl.String(),
    **{q: pl.Float64() for q in QCOLS},
    "p_closed": pl.Float64(),
    "log_scale": pl.Boolean(),
}
#: What the data later reveals (:mod:`~learnrace_pipeline.lib.race.ledger_scores`) (closing years: ``year`` = data end, ``value`` = year or null).
OBSERVED_SCHEMA: dict[str, pl.DataType] = {
    "industry": pl.String(),
    "nation": pl.String(),
    "quantity": pl.String(),
    "year": pl.Int32(),
    "value": pl.Float64(),
}

_DDL = (
    """CREATE TABLE IF NOT EXISTS vintages (
        vintage_id VARCHAR PRIMARY KEY, created_at TIMESTAMP NOT NULL,
        data_version VARCHAR NOT NULL, code_version VARCHAR NOT NULL,
        scenario VARCHAR NOT NULL, seed BIGINT NOT NULL, n_rows INTEGER NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS forecasts (
        vintage_id VARCHAR NOT NULL, industry VARCHAR NOT NULL, nation VARCHAR NOT NULL,
        quantity VARCHAR NOT NULL, target_year INTEGER NOT NULL, unit VARCHAR NOT NULL,
        {", ".join(f"{q} DOUBLE NOT NULL" for q in QCOLS)},
        p_closed DOUBLE, log_scale BOOLEAN NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS scores (
        vintage_id VARCHAR NOT NULL, observed_version VARCHAR NOT NULL,
        scored_at TIMESTAMP NOT NULL, quantity VARCHAR NOT NULL, n_rows INTEGER NOT NULL,
        n_scored INTEGER NOT NULL, cov50 DOUBLE, cov90 DOUBLE, pinball DOUBLE, brier DOUBLE)""",
)


class LedgerError(LearnraceError):
    """The ledger file is missing or cannot be used as asked."""


def default_ledger_path(db: str | Path | None = None) -> Path:
    """``$LEARNRACE_LEDGER`` if set, else ``ledger.duckdb`` in the warehouse's folder (``db``,
    default :func:`~learnrace_pipeline.lib.storage.warehouse.default_db_path`)."""
    env = os.environ.get(ENV_LEDGER, "").strip()
    if env:
        return Path(env)
    return Path(db or warehouse.default_db_path()).parent / LEDGER_FILE


# --- rows --------------------------------------------------------------------------------------


def _bad(problem: str, row: int | None = None, column: str | None = None) -> DataError:
    return DataError(problem, source=SOURCE, file="forecast rows", row=row, column=column)


def forecast_rows(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` checked and cast to :data:`FORECAST_SCHEMA`, sorted by :data:`KEY`.

    ``p_closed`` defaults to null, ``log_scale`` to ``quantity != closing_year and q05 > 0``.
    Raises :class:`DataError` naming the row (1-based, in ``df``'s order) and column of the first
    problem: a missing column, a null, an unknown quantity, a duplicate key, NaN or decreasing
    quantiles, an infinite quantile outside closing years, ``p_closed`` outside [0, 1] or on
    another quantity, a non-positive quantile on a ``log_scale`` row.
    """
    df = df.clone()
    if "p_closed" not in df.columns:
        df = df.with_columns(p_closed=pl.lit(None, pl.Float64))
    if "log_scale" not in df.columns:
        df = df.with_columns(
            log_scale=(pl.col("quantity") != CLOSING) & (pl.col("q05").cast(pl.Float64) > 0)
        )
    for col, dtype in FORECAST_SCHEMA.items():
        if col not in df.columns:
            raise _bad(f"missing column {col!r}", column=col)
        try:
            df = df.with_columns(pl.col(col).cast(dtype, strict=True))
        except pl.exceptions.PolarsError:
            raise _bad(f"column {col!r} is not {dtype}", column=col) from None
    df = df.select(list(FORECAST_SCHEMA)).with_row_index("_row", offset=1)

    def first(mask: pl.Expr, column: str, problem: str) -> None:
        hit = df.filter(mask)
        if hit.height:
            raise _bad(problem.format(**hit.row(0, named=True)), int(hit["_row"][0]), column)

    for col in (c for c in FORECAST_SCHEMA if c != "p_closed"):
        first(pl.col(col).is_null(), col, f"{col} is missing")
    first(
        ~pl.col("quantity").is_in(QUANTITIES),
        "quantity",
        f"unknown quantity {{quantity!r}}; expected one of {', '.join(QUANTITIES)}",
    )
    first(
        ~pl.struct(KEY).is_first_distinct(),
        "target_year",
        "duplicate forecast {industry}/{nation}/{quantity}/{target_year} (an earlier row has it)",
    )
    for q in QCOLS:
        first(pl.col(q).is_nan(), q, f"{q} is NaN")
        first(
            pl.col(q).is_infinite() & (pl.col("quantity") != CLOSING),
            q,
            f"{q} is infinite ({{{q}}}); only closing years may be inf (not closed)",
        )
    for lo, hi in itertools.pairwise(QCOLS):
        first(pl.col(hi) < pl.col(lo), hi, f"{hi} = {{{hi}}} is below {lo} = {{{lo}}}")
    first(
        pl.col("p_closed").is_not_null() & (pl.col("quantity") != CLOSING),
        "p_closed",
        "p_closed is given for a {quantity} row; it belongs to closing_year rows only",
    )
    first(
        (pl.col("p_closed") < 0) | (pl.col("p_closed") > 1) | pl.col("p_closed").is_nan(),
        "p_closed",
        "p_closed = {p_closed} is not a probability in [0, 1]",
    )
    first(
        pl.col("log_scale") & (pl.col("q05") <= 0),
        "q05",
        "log_scale row with q05 = {q05}: log scores need positive quantiles",
    )
    return df.drop("_row").sort(KEY)


@dataclass(frozen=True)
class Vintage:
    """One materialization of the race for one scenario (see the module doc). Build it with
    :func:`make_vintage`, which checks the rows."""

    created_at: dt.datetime  # UTC, naive
    data_version: str
    code_version: str
    scenario: str
    seed: int
    rows: pl.DataFrame  # FORECAST_SCHEMA, sorted by KEY

    @property
    def vintage_id(self) -> str:
        """sha256 (16 hex digits) of data version, code version, scenario, seed and rows."""
        h = hashlib.sha256()
        for part in (self.data_version, self.code_version, self.scenario, str(self.seed)):
            h.update(part.encode() + b"\0")
        h.update(self.rows.write_csv(float_precision=None).encode())
        return h.hexdigest()[:16]


def make_vintage(
    rows: pl.DataFrame,
    *,
    data_version: str,
    code_version: str,
    scenario: str,
    seed: int,
    created_at: dt.datetime | None = None,
) -> Vintage:
    """A :class:`Vintage` of the checked ``rows`` (:func:`forecast_rows`); ``created_at``
    defaults to now (UTC; an aware time is converted to UTC)."""
    for name, text in (
        ("data_version", data_version),
        ("code_version", code_version),
        ("scenario", scenario),
    ):
        if not isinstance(text, str) or not text.strip():
            raise _bad(f"{name} must be a non-empty text, got {text!r}")
    when = created_at or dt.datetime.now(dt.UTC)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return Vintage(when, data_version, code_version, scenario, int(seed), forecast_rows(rows))


# --- writing -----------------------------------------------------------------------------------


def _create(con: duckdb.DuckDBPyConnection) -> None:
    for ddl in _DDL:
        con.execute(ddl)


def _insert_forecasts(con: duckdb.DuckDBPyConnection, vintage_id: str, rows: pl.DataFrame) -> None:
    con.register("_incoming", rows.with_columns(vintage_id=pl.lit(vintage_id)).to_arrow())
    try:
        con.execute("INSERT INTO forecasts BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


def _insert_header(con: duckdb.DuckDBPyConnection, vintage_id: str, v: Vintage) -> None:
    con.execute(
        "INSERT INTO vintages VALUES (?, ?, ?, ?, ?, ?, ?)",
        [vintage_id, v.created_at, v.data_version, v.code_version, v.scenario, v.seed,
         v.rows.height],
    )  # fmt: skip


def append_vintage(path: str | Path, vintage: Vintage, *, timeout: float | None = None) -> bool:
    """Append ``vintage`` to the ledger at ``path`` (created if missing) in one transaction.

    Returns True when appended, False when a vintage of that id is already there (nothing
    written). Waits for the ledger's lock at most ``timeout`` seconds (default
    ``$LEARNRACE_LOCK_TIMEOUT``). Any error leaves the ledger as it was.
    """
    vid = vintage.vintage_id
    with warehouse.transaction(path, timeout=timeout) as con:
        _create(con)
        if con.execute("SELECT count(*) FROM vintages WHERE vintage_id = ?", [vid]).fetchall()[0][
            0
        ]:
            return False
        _insert_forecasts(con, vid, vintage.rows)
        _insert_header(con, vid, vintage)
    return True


# --- reading -----------------------------------------------------------------------------------


def _read(path: str | Path, sql: str, params: list | None = None) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"no forecast ledger at {path}")
    with warehouse.connect(path, read_only=True) as con:
        present = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if not {"vintages", "forecasts", "scores"} <= present:
            raise LedgerError(f"{path} is not a forecast ledger (no vintages/forecasts/scores)")
        return warehouse.fetch_pl(con, sql, params)


def read_vintages(path: str | Path) -> pl.DataFrame:
    """The vintage headers, oldest first (:class:`LedgerError` when there is no ledger)."""
    return _read(path, "SELECT * FROM vintages ORDER BY created_at, vintage_id")


def read_forecasts(path: str | Path, vintage_id: str | None = None) -> pl.DataFrame:
    """The forecast rows of every vintage (or of ``vintage_id``), with their vintage id."""
    where, params = ("WHERE vintage_id = ?", [vintage_id]) if vintage_id else ("", None)
    df = _read(
        path, f"SELECT * FROM forecasts {where} ORDER BY vintage_id, {', '.join(KEY)}", params
    )
    return df.with_columns(pl.col("target_year").cast(pl.Int32))


def read_scores(path: str | Path) -> pl.DataFrame:
    """Every score event recorded (:func:`record_scores`), oldest first."""
    return _read(path, "SELECT * FROM scores ORDER BY scored_at, vintage_id, quantity")


def list_vintages(path: str | Path) -> pl.DataFrame:
    """Every vintage (oldest first) with its latest recorded scores over all quantities:
    vintage_id, created_at, scenario, data_version, code_version, seed, n_rows, n_scored, cov50,
    cov90, pinball, brier, observed_version, scored_at (nulls where never scored)."""
    return _read(
        path,
        """
        WITH latest AS (
            SELECT * FROM scores WHERE quantity = 'all'
            QUALIFY row_number() OVER (
                PARTITION BY vintage_id ORDER BY scored_at DESC, observed_version) = 1)
        SELECT v.vintage_id, v.created_at, v.scenario, v.data_version, v.code_version, v.seed,
               v.n_rows, coalesce(s.n_scored, 0) AS n_scored, s.cov50, s.cov90, s.pinball,
               s.brier, s.observed_version, s.scored_at
        FROM vintages v LEFT JOIN latest s USING (vintage_id)
        ORDER BY v.created_at, v.vintage_id
        """,
    )


def find_vintage(path: str | Path, prefix: str) -> str:
    """The id of the one vintage whose id starts with ``prefix`` (:class:`LedgerError` when none
    or several do)."""
    ids = read_vintages(path)["vintage_id"].to_list()
    hits = [v for v in ids if prefix and v.startswith(prefix)]
    if len(hits) != 1:
        what = "no vintage" if not hits else f"{len(hits)} vintages ({', '.join(hits)})"
        raise LedgerError(f"{what} in {path} with an id starting {prefix!r}")
    return hits[0]


def vintage_scores(path: str | Path, vintage_id: str) -> pl.DataFrame:
    """Per quantity (and ``all``) of one vintage: its forecast rows and its latest recorded
    scores (one score event: the latest observed version it was scored against): quantity,
    n_rows, n_scored, cov50, cov90, pinball, brier, observed_version, scored_at."""
    return _read(
        path,
        """
        WITH counts AS (
            SELECT quantity, count(*) AS n_rows FROM forecasts WHERE vintage_id = $1
            GROUP BY quantity
            UNION ALL SELECT 'all', count(*) FROM forecasts WHERE vintage_id = $1),
        latest AS (
            SELECT observed_version, scored_at FROM scores
            WHERE vintage_id = $1 AND quantity = 'all'
            ORDER BY scored_at DESC, observed_version LIMIT 1)
        SELECT c.quantity, c.n_rows::INTEGER AS n_rows, coalesce(s.n_scored, 0) AS n_scored,
               s.cov50, s.cov90, s.pinball, s.brier, s.observed_version, s.scored_at
        FROM counts c LEFT JOIN (
            SELECT s.* FROM scores s JOIN latest l USING (observed_version, scored_at)
            WHERE s.vintage_id = $1) s USING (quantity)
        ORDER BY c.quantity = 'all', c.quantity
        """,
        [vintage_id],
    )
