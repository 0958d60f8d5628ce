"""Table pieces the race report's sections share: capped tables, a race table's rows for one
industry (or the plain statement that the table is not yet computed), threshold texts, and the
race table as shown (closing-year quantiles as years or "after <horizon>", never a number the
race did not give)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import polars as pl

from learnrace_pipeline.lib.race.spec import Metric
from learnrace_pipeline.lib.report import html as h
from learnrace_pipeline.lib.report.html import Html
from learnrace_pipeline.lib.report.race_inputs import MAX_ROWS, RACE_SCHEMA, ReportInputs


def capped(frame: pl.DataFrame, *, limit: int = MAX_ROWS, **kw: object) -> Html:
    """:func:`html.table` of the first ``limit`` rows, saying how many were left out."""
    parts = [h.table(frame.head(limit), **kw)]  # type: ignore[arg-type]
    if frame.height > limit:
        parts.append(h.paragraph(f"First {limit} of {frame.height} rows.", cls="note"))
    return h.join(parts)


def race_rows(inputs: ReportInputs, table: str, industry: str | None) -> pl.DataFrame | None:
    df = inputs.get(f"{RACE_SCHEMA}.{table}")
    if df is not None and industry is not None and "industry" in df.columns:
        df = df.filter(pl.col("industry") == industry)
    return df


#: Headers of ``race.pairwise`` as shown (its ``horizon`` column is the industry's, said above).
PAIRWISE_LABELS = {
    "nation_a": "nation A", "nation_b": "nation B", "p_a_first": "P(A first)",
    "p_b_first": "P(B first)", "p_tie": "P(same year)", "p_neither": "P(neither by horizon)",
    "unmeasured_a": "A unmeasured", "unmeasured_b": "B unmeasured",
}  # fmt: skip


def race_part(inputs: ReportInputs, table: str, industry: str, title: str) -> list[Html]:
    """A race table's rows for ``industry`` under a heading, or the plain statement that it is
    not yet computed. ``race.attribution`` in its quantile columns is shown compact
    (:func:`attribution_display`); ``race.pairwise`` with readable headers."""
    df = race_rows(inputs, table, industry)
    parts = [h.heading(title)]
    if df is None:
        parts.append(h.not_computed(title, f"the warehouse has no table {RACE_SCHEMA}.{table}."))
    elif df.height == 0:
        parts.append(h.paragraph(f"{RACE_SCHEMA}.{table} has no rows for this industry."))
    elif table == "attribution" and (shown := attribution_display(df)) is not None:
        sources = ", ".join(sorted({str(x) for x in df["source"].drop_nulls()})) or h.MISSING
        parts.append(
            h.table(
                shown,
                caption=(
                    f"{RACE_SCHEMA}.attribution: the projected cost decline (log units) from "
                    "each nation's last observed year to the horizon, and the shares of it due "
                    "to the nation's own deployment, world deployment through spillover and "
                    "time/research; median (5%-95%) over the draws with a positive decline. "
                    f"Fit: {sources}."
                ),
            )
        )
    else:
        drop = [
            c for c in ("industry", "horizon" if table == "pairwise" else "") if c in df.columns
        ]
        labels = PAIRWISE_LABELS if table == "pairwise" else None
        parts.append(capped(df.drop(drop), labels=labels))
    return parts


#: The shares of the cost decline ``race.attribution`` gives, as shown.
ATTRIBUTION_SHARES = {
    "own_deployment": "own deployment",
    "world_spillover": "world spillover",
    "time_research": "time / research",
}


def _median_interval(row: Mapping[str, object], stem: str) -> str:
    q05, q50, q95 = (row.get(f"{stem}_{q}") for q in ("q05", "q50", "q95"))
    if q50 is None:
        return h.MISSING
    return f"{h.fmt(q50)} ({h.fmt(q05)}\u2013{h.fmt(q95)})"


def attribution_display(df: pl.DataFrame) -> pl.DataFrame | None:
    """``race.attribution`` rows as shown: per nation the years, the log cost decline and the
    cost's fall in percent (``1 - exp(-decline)`` at the median), each share as "median
    (5%-95%)", the draws used and the note; None when the table lacks those columns."""
    need = {"nation", "from_year", "to_year", "n_draws_positive", "note"}
    need |= {f"decline_log_{q}" for q in ("q05", "q50", "q95")}
    need |= {f"share_{k}_{q}" for k in ATTRIBUTION_SHARES for q in ("q05", "q50", "q95")}
    if not need <= set(df.columns):
        return None
    rows = []
    for r in df.iter_rows(named=True):
        lo, hi, d = r["from_year"], r["to_year"], r["decline_log_q50"]
        row = {
            "nation": r["nation"],
            "years": f"{lo}\u2013{hi}" if lo is not None and hi is not None else h.MISSING,
            "cost decline (log)": _median_interval(r, "decline_log"),
            "cost falls by (median)": h.MISSING
            if d is None
            else f"{100 * (1 - math.exp(-d)):.0f}%",
        }
        row |= {label: _median_interval(r, f"share_{k}") for k, label in ATTRIBUTION_SHARES.items()}
        row |= {"draws used": str(r["n_draws_positive"]), "note": r["note"] or ""}
        rows.append(row)
    return pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}) if rows else None


def threshold_text(metric: Metric) -> str:
    t = metric.threshold
    unit = f" {t.unit}" if t.unit else ""
    match t.kind:
        case "within_of_leader" if t.unit == "factor":
            return f"within a factor of {h.fmt(t.value)} of the leader"
        case "within_of_leader" if t.unit == "years":
            return f"within {h.fmt(t.value)} year(s) of the leader"
        case "within_of_leader":
            return f"within {h.fmt(t.value)}{unit} of the leader"
        case "share_at_least":
            return f"at least {t.value:.0%} of the world"
        case "parity":
            if t.reference == "level":
                ref = f"{h.fmt(t.level)} {metric.unit}" if metric.unit else h.fmt(t.level)
            else:
                ref = "the leader's" if t.reference == "leader" else f"{t.reference}'s"
                ref += " cost"
            if not t.value:
                return f"cost at most {ref}"
            return f"cost at most {t.value:.0%} above {ref}"
        case _:
            return f"{t.kind.replace('_', ' ')} {h.fmt(t.value)}{unit}"


RACE_LABELS = {
    "industry_name": "industry",
    "closing_median": "closing year (median)",
    "interval": "80% interval",
    "p_closed_by_horizon": "P(closed by horizon)",
    "p_first": "P(first)",
    "closed": "already closed",
    "leading_strategy": "leading strategy",
    "measured_roles": "judged on",
    "unmeasured_roles": "unmeasured",
}
#: The race table's columns as shown (those present), in this order; ``note`` says what a
#: nation is judged on when a role is unmeasured, and what an industry without data lacks.
RACE_COLUMNS = (
    "industry_name", "nation", "archetype", "closing_median", "interval",
    "p_closed_by_horizon", "p_first", "closed", "leading_strategy", "unmeasured_roles", "note",
    "missing",
)  # fmt: skip


def judged(row: Mapping[str, object]) -> bool:
    """Whether a race row has closing years at all: status "data" and a P(closed by horizon)
    (a nation with no measured role, or an industry with no data, has none)."""
    return row.get("status") == "data" and row.get("p_closed_by_horizon") is not None


def year_text(value: object, row: Mapping[str, object]) -> str:
    """A closing-year quantile as shown: the year, or "after <horizon>" where the race gives
    none for a judged nation (the quantile lies past the horizon); a dash otherwise."""
    if value is not None:
        return h.fmt(value)
    if not judged(row):
        return h.MISSING
    horizon = row.get("horizon")
    return f"after {horizon}" if horizon is not None else "after the horizon"


def interval_text(row: Mapping[str, object]) -> str:
    """A judged nation's 80% interval of closing years as shown: "q10 to q90", "after
    <horizon>" when both bounds lie past it, the closing year alone when both are the same
    year (a nation already closed in the data); a dash for a row that is not judged."""
    if not judged(row):
        return h.MISSING
    lo, hi = row.get("closing_q10"), row.get("closing_q90")
    if lo is None and hi is None:
        return year_text(None, row)
    if lo is not None and lo == hi:
        return h.fmt(lo)
    return f"{year_text(lo, row)} to {year_text(hi, row)}"


def _race_display(df: pl.DataFrame) -> pl.DataFrame:
    """The race table's rows as shown: quantiles as years or "after <horizon>", the interval
    and already-closed columns as text; probabilities stay numbers."""
    rows = []
    for r in df.iter_rows(named=True):
        out = dict(r)
        if "closing_median" in r:
            out["closing_median"] = year_text(r["closing_median"], r)
        if "closing_q10" in r and "closing_q90" in r:
            out["interval"] = interval_text(r)
        if "already_closed" in r:
            closed = r["already_closed"]
            year = r.get("closed_year")
            out["closed"] = (
                h.MISSING if closed is None or not judged(r) else
                (f"yes, {year}" if year is not None else "yes") if closed else "no"
            )  # fmt: skip
        rows.append(out)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else df


def race_table(df: pl.DataFrame, *, id: str | None = None) -> Html:
    disp = _race_display(df)
    known = [c for c in RACE_COLUMNS if c in disp.columns]
    return h.table(disp, id=id, columns=known or None, labels=RACE_LABELS)
