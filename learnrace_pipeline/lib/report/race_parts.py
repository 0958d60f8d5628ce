"""Table pieces the race report's sections share: capped tables, a race table's rows for one
industry (or the plain statement that the table is not yet computed), threshold texts, and the
race table as shown (closing-year quantiles as years or "after <horizon>", never a number the
race did not give)."""

from __future__ import annotations

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


def race_part(inputs: ReportInputs, table: str, industry: str, title: str) -> list[Html]:
    """A race table's rows for ``industry`` under a heading, or the plain statement that it is
    not yet computed."""
    df = race_rows(inputs, table, industry)
    parts = [h.heading(title)]
    if df is None:
        parts.append(h.not_computed(title, f"the warehouse has no table {RACE_SCHEMA}.{table}."))
    elif df.height == 0:
        parts.append(h.paragraph(f"{RACE_SCHEMA}.{table} has no rows for this industry."))
    else:
        parts.append(capped(df.drop([c for c in ("industry",) if c in df.columns])))
    return parts


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
            ref = f"level {h.fmt(t.level)}" if t.reference == "level" else t.reference
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
                h.MISSING if closed is None else
                (f"yes, {year}" if year is not None else "yes") if closed else "no"
            )  # fmt: skip
        rows.append(out)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else df


def race_table(df: pl.DataFrame, *, id: str | None = None) -> Html:
    disp = _race_display(df)
    known = [c for c in RACE_COLUMNS if c in disp.columns]
    return h.table(disp, id=id, columns=known or None, labels=RACE_LABELS)
