"""Scores of the ledger's vintages against data that arrived after them.

:func:`score_rows` and :func:`score_vintages` are computed from the ledger's forecast rows
(:mod:`learnrace_pipeline.lib.race.ledger`) and an observed frame
(:data:`~learnrace_pipeline.lib.race.ledger.OBSERVED_SCHEMA`). For ``y`` the observed value and
``q_tau`` a forecast quantile:

- coverage: ``in50 = q25 <= y <= q75``, ``in90 = q05 <= y <= q95`` (bounds included);
- pinball: ``mean over tau in (0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95) of rho_tau(z - q_tau)``,
  ``rho_tau(u) = tau u`` for ``u >= 0`` and ``(tau - 1) u`` otherwise, with ``z = ln y`` and
  ``ln q_tau`` on ``log_scale`` rows (the log-pinball, natural-log units), the values themselves
  otherwise (years for closing years; infinite where a quantile is ``inf`` and the nation closed);
- Brier (closing years): ``(p_closed - 1{closed by target_year})^2``.

An observed closing-year row gives ``year`` = the last year the data covers and ``value`` = the
year the nation closed the loop, or null when it had not by ``year``. A nation not yet closed is
censored: no pinball; an interval counts as missed once ``year`` reaches its upper bound (the
closing year is later than ``year``); the Brier score counts once ``year`` reaches the horizon.

:func:`record_scores` appends the scores as events (table ``scores``) stamped with the observed
data's version; :func:`~learnrace_pipeline.lib.race.ledger.list_vintages` shows the latest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.race.ledger import (
    CLOSING,
    KEY,
    LEVELS,
    OBSERVED_SCHEMA,
    QCOLS,
    SOURCE,
    read_forecasts,
)
from learnrace_pipeline.lib.storage import warehouse


def mean_pinball(q: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Mean pinball loss over :data:`~learnrace_pipeline.lib.race.ledger.LEVELS` of quantiles
    ``q`` ``(n, 7)`` for outcomes ``y`` ``(n,)``: ``rho_tau(y - q_tau)`` averaged over tau (the
    same operations as ``evaluation.scores.mean_pinball``, not imported: ``models`` and
    ``evaluation`` import the race specification)."""
    tau = np.asarray(LEVELS, float)[None, :]
    diff = np.asarray(y, float)[:, None] - np.asarray(q, float)
    return np.where(diff >= 0, tau * diff, (tau - 1.0) * diff).mean(axis=1)


def observed_rows(observed: pl.DataFrame) -> pl.DataFrame:
    """``observed`` checked and cast to :data:`OBSERVED_SCHEMA` (:class:`DataError` naming the
    row and column: a missing column, a null key, a missing or non-finite value outside closing
    years, a duplicate (industry, nation, quantity, year))."""

    def bad(problem: str, row: int | None = None, column: str | None = None) -> DataError:
        return DataError(problem, source=SOURCE, file="observed rows", row=row, column=column)

    for col, dtype in OBSERVED_SCHEMA.items():
        if col not in observed.columns:
            raise bad(f"missing column {col!r}", column=col)
        try:
            observed = observed.with_columns(pl.col(col).cast(dtype, strict=True))
        except pl.exceptions.PolarsError:
            raise bad(f"column {col!r} is not {dtype}", column=col) from None
    df = observed.select(list(OBSERVED_SCHEMA)).with_row_index("_row", offset=1)
    checks = [
        *((pl.col(c).is_null(), c, f"{c} is missing") for c in OBSERVED_SCHEMA if c != "value"),
        (
            (pl.col("quantity") != CLOSING)
            & (pl.col("value").is_null() | ~pl.col("value").is_finite()),
            "value",
            "value is missing or not finite",
        ),
        (
            ~pl.struct(["industry", "nation", "quantity", "year"]).is_first_distinct(),
            "year",
            "duplicate (industry, nation, quantity, year): an earlier row has it",
        ),
    ]
    for mask, col, problem in checks:
        hit = df.filter(mask)
        if hit.height:
            raise bad(problem, int(hit["_row"][0]), col)
    return df.drop("_row")


def score_rows(forecasts: pl.DataFrame, observed: pl.DataFrame) -> pl.DataFrame:
    """One row per forecast row the observed data scores: its key, ``observed``, ``in50``,
    ``in90`` (null where censored), ``pinball`` (null where censored) and ``brier`` (closing
    years whose outcome by the horizon is known). Formulas: the module doc.

    ``forecasts`` has :data:`FORECAST_SCHEMA` plus ``vintage_id`` (:func:`read_forecasts`).
    Raises :class:`DataError` where a ``log_scale`` row is observed at a value <= 0.
    """
    obs = observed_rows(observed)
    cont = forecasts.filter(pl.col("quantity") != CLOSING).join(
        obs.filter(pl.col("quantity") != CLOSING).rename({"year": "target_year"}),
        on=list(KEY),
        how="inner",
    )
    bad = cont.filter(pl.col("log_scale") & (pl.col("value") <= 0))
    if bad.height:
        r = bad.row(0, named=True)
        raise DataError(
            f"{r['industry']}/{r['nation']}/{r['quantity']} {r['target_year']} observed at "
            f"{r['value']}: a log-scale forecast needs a positive value",
            source=SOURCE,
            file="observed rows",
            column="value",
        )
    close = forecasts.filter(pl.col("quantity") == CLOSING).join(
        obs.filter(pl.col("quantity") == CLOSING).rename({"year": "data_end"}),
        on=["industry", "nation", "quantity"],
        how="inner",
    )
    closed = pl.col("value").is_not_null()
    outcome_known = closed | (pl.col("data_end") >= pl.col("target_year"))
    close = close.filter(outcome_known | (pl.col("data_end") >= pl.col("q75"))).with_columns(
        brier=pl.when(outcome_known & pl.col("p_closed").is_not_null()).then(
            (
                pl.col("p_closed")
                - (closed & (pl.col("value") <= pl.col("target_year"))).cast(pl.Float64)
            )
            ** 2
        )
    )

    def inside(lo: str, hi: str) -> pl.Expr:
        # Not yet closed by data_end: the closing year is later than data_end, so the interval is
        # known to miss once data_end reaches its upper bound, and is unknown before.
        return (
            pl.when(closed)
            .then((pl.col("value") >= pl.col(lo)) & (pl.col("value") <= pl.col(hi)))
            .when(pl.col("data_end") >= pl.col(hi))
            .then(False)
        )

    close = close.with_columns(in50=inside("q25", "q75"), in90=inside("q05", "q95"))
    cont = cont.with_columns(
        in50=(pl.col("value") >= pl.col("q25")) & (pl.col("value") <= pl.col("q75")),
        in90=(pl.col("value") >= pl.col("q05")) & (pl.col("value") <= pl.col("q95")),
        brier=pl.lit(None, pl.Float64),
    )
    out = []
    for part in (cont, close):
        q = part.select(QCOLS).to_numpy().astype(float)
        y = part["value"].to_numpy().astype(float)
        log = part["log_scale"].to_numpy().astype(bool)
        with np.errstate(divide="ignore", invalid="ignore"):
            qs = np.where(log[:, None], np.log(q), q)
            ys = np.where(log, np.log(y), y)
            loss = mean_pinball(qs, ys) if len(y) else np.zeros(0)
        loss = np.where(np.isfinite(ys), loss, np.nan)  # censored closing years
        out.append(
            part.with_columns(pinball=pl.Series(loss, dtype=pl.Float64).fill_nan(None)).select(
                "vintage_id",
                *KEY,
                "log_scale",
                pl.col("value").alias("observed"),
                "in50",
                "in90",
                "pinball",
                "brier",
            )
        )
    return pl.concat(out).sort("vintage_id", *KEY)


SCORE_COLUMNS = (
    "vintage_id",
    "quantity",
    "n_rows",
    "n_scored",
    "cov50",
    "cov90",
    "pinball",
    "brier",
)


def _aggregate(forecasts: pl.DataFrame, scored: pl.DataFrame) -> pl.DataFrame:
    n_rows = forecasts.group_by("vintage_id", "quantity").agg(n_rows=pl.len())
    per_q = scored.group_by("vintage_id", "quantity").agg(
        n_scored=pl.len(),
        cov50=pl.col("in50").cast(pl.Float64).mean(),
        cov90=pl.col("in90").cast(pl.Float64).mean(),
        pinball=pl.col("pinball").mean(),
        brier=pl.col("brier").mean(),
    )
    # All quantities: the pinball of closing years (in years) is kept out of the mean.
    all_q = scored.group_by("vintage_id").agg(
        n_scored=pl.len(),
        cov50=pl.col("in50").cast(pl.Float64).mean(),
        cov90=pl.col("in90").cast(pl.Float64).mean(),
        pinball=pl.col("pinball").filter(pl.col("quantity") != CLOSING).mean(),
        brier=pl.col("brier").mean(),
    )
    all_rows = forecasts.group_by("vintage_id").agg(n_rows=pl.len(), quantity=pl.lit("all"))
    parts = [
        n_rows.join(per_q, on=["vintage_id", "quantity"], how="left"),
        all_rows.join(all_q, on="vintage_id", how="left"),
    ]
    return (
        pl.concat([p.select(SCORE_COLUMNS) for p in parts], how="vertical_relaxed")
        .with_columns(pl.col("n_rows", "n_scored").fill_null(0).cast(pl.Int32))
        .sort("vintage_id", "quantity")
    )


def score_vintages(ledger: str | Path | pl.DataFrame, observed: pl.DataFrame) -> pl.DataFrame:
    """Per vintage and quantity (and ``"all"``): forecast rows, rows scored, 50% and 90%
    interval coverage, mean pinball (log-pinball on ``log_scale`` rows; ``"all"`` leaves the
    closing years' pinball, in years, out) and mean Brier of ``p_closed``. Null where nothing was
    scored. ``ledger`` is the ledger's path or its forecast rows (:func:`read_forecasts`)."""
    forecasts = ledger if isinstance(ledger, pl.DataFrame) else read_forecasts(ledger)
    return _aggregate(forecasts, score_rows(forecasts, observed))


def record_scores(
    path: str | Path,
    observed: pl.DataFrame,
    *,
    scored_at: dt.datetime | None = None,
    timeout: float | None = None,
) -> pl.DataFrame:
    """Score every vintage against ``observed`` (:func:`score_vintages`) and append the scores
    as events stamped with the observed data's version (:func:`observed_version`), in one
    transaction. A vintage already scored against that version is skipped (the scores would be
    the same). Returns the scores appended."""
    version = observed_version(observed)
    when = scored_at or dt.datetime.now(dt.UTC)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    read_forecasts(path)  # LedgerError when there is no ledger (the writer would create one)
    with warehouse.transaction(path, timeout=timeout) as con:
        # Read inside the write transaction: a vintage appended meanwhile is scored too.
        forecasts = warehouse.fetch_pl(
            con,
            f"SELECT * FROM forecasts WHERE vintage_id NOT IN (SELECT vintage_id FROM scores "
            f"WHERE observed_version = ?) ORDER BY vintage_id, {', '.join(KEY)}",
            [version],
        ).with_columns(pl.col("target_year").cast(pl.Int32))
        new = score_vintages(forecasts, observed).with_columns(
            observed_version=pl.lit(version), scored_at=pl.lit(when, pl.Datetime("us"))
        )
        con.register("_incoming", new.to_arrow())
        try:
            con.execute("INSERT INTO scores BY NAME SELECT * FROM _incoming")
        finally:
            con.unregister("_incoming")
    return new


def observed_version(observed: pl.DataFrame) -> str:
    """The data version of the observed rows sorted by (industry, nation, quantity, year): sha256
    (first 16 hex digits) of the schema and CSV text, as ``models.base.data_version`` hashes a
    frame (the same value; not imported, since ``models`` imports the race specification)."""
    df = observed_rows(observed).sort("industry", "nation", "quantity", "year")
    h = hashlib.sha256(repr(list(df.schema.items())).encode())
    h.update(df.write_csv(float_precision=None).encode())
    return h.hexdigest()[:16]
