"""The race report's industry sections and the table pieces the report's sections share.

An industry section (:func:`industry_section`, id ``industry-<id>``) holds the industry's
nations and metrics with thresholds, then its closing-year distribution (``race.race``), the
pairwise race (``race.pairwise``), learning curves (``calibration.learning_rates`` of the
industry's taxonomy; the solar nation fit's rates), capability (``calibration.ai_frontier``,
``calibration.av_capability``), deployment (each nation's observed volume metric, the race's
deployment fits) and the attribution of the cost decline (``race.attribution``). A part whose
table is absent says it is not yet computed; a no-data industry says what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.race import spec as race_spec
from learnrace_pipeline.lib.race.observed import observed_metric
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, MissingMetric
from learnrace_pipeline.lib.report import html as h
from learnrace_pipeline.lib.report import plots_race
from learnrace_pipeline.lib.report.html import Html
from learnrace_pipeline.lib.report.race_inputs import (
    DEFAULT_LEARNING_MODEL,
    MAX_ROWS,
    RACE_SCHEMA,
    ReportInputs,
)

# --------------------------------------------------------------------------------------------
# Pieces
# --------------------------------------------------------------------------------------------


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


def _race_display(df: pl.DataFrame) -> pl.DataFrame:
    """The race table's rows as shown: quantiles as years or "after <horizon>", the interval
    and already-closed columns as text; probabilities stay numbers."""
    rows = []
    for r in df.iter_rows(named=True):
        out = dict(r)
        if "closing_median" in r:
            out["closing_median"] = year_text(r["closing_median"], r)
        if "closing_q10" in r and "closing_q90" in r:
            out["interval"] = (
                f"{year_text(r['closing_q10'], r)} to {year_text(r['closing_q90'], r)}"
                if judged(r)
                else h.MISSING
            )
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


def _nations_table(ind: IndustrySpec) -> Html:
    rows = []
    for e in ind.nations:
        notes = [f"{role} measured through {code}'s rows" for role, code in e.proxy]
        notes += [f"no {role} data: {why}" for role, why in e.missing]
        rows.append({"nation": e.code, "archetype": e.archetype, "notes": "; ".join(notes)})
    return h.table(
        pl.DataFrame(rows, schema={"nation": pl.String, "archetype": pl.String, "notes": pl.String})
    )


def _metrics_table(ind: IndustrySpec) -> Html:
    rows = []
    for role in race_spec.ROLES:
        m = getattr(ind, role)
        if isinstance(m, Metric):
            unit = m.unit if isinstance(m.unit, str) else ", ".join(f"{n}: {u}" for n, u in m.unit)
            rows.append(
                {
                    "role": role,
                    "metric": m.name,
                    "unit": unit,
                    "threshold": threshold_text(m),
                    "description": m.description,
                }
            )
        elif isinstance(m, MissingMetric):
            rows.append(
                {
                    "role": role,
                    "metric": "no data",
                    "unit": None,
                    "threshold": None,
                    "description": m.missing,
                }
            )
    return h.table(
        pl.DataFrame(
            rows,
            schema={k: pl.String for k in ("role", "metric", "unit", "threshold", "description")},
        )
    )


def _closing_part(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    parts = [h.heading("Closing-year distribution")]
    df = race_rows(inputs, "race", ind.id)
    if df is None:
        parts.append(
            h.not_computed("Closing years", f"the warehouse has no table {RACE_SCHEMA}.race.")
        )
        return parts
    if df.height == 0:
        parts.append(h.paragraph(f"{RACE_SCHEMA}.race has no rows for this industry."))
        return parts
    parts.append(race_table(df.drop([c for c in ("industry_name",) if c in df.columns])))
    first = df.row(0, named=True)
    if "p_none_by_horizon" in df.columns and first.get("p_none_by_horizon") is not None:
        lead = first.get("leading_nation")
        strategy = first.get("leading_strategy")
        text = (
            f"P(no nation closes the loop by {ind.horizon}) = {h.fmt(first['p_none_by_horizon'])}."
        )
        if lead:
            text = f"Most likely first: {lead} ({strategy}). " + text
        parts.append(h.paragraph(text))
    if {"nation", "closing_median", "closing_q10", "closing_q90"} <= set(df.columns):
        png = plots_race.closing_years_png(df, ind.horizon, f"{ind.name}: closing year by nation")
        parts.append(
            h.image(
                png,
                f"{ind.name} closing years",
                caption="Dot: median closing year; bar: 80% interval (an arrow where it runs past "
                "the horizon, beyond which the race gives no year); star: closed already (the "
                "first year of the run in which the data shows every threshold held).",
            )
        )
    return parts


def _series_of(inputs: ReportInputs, taxonomy: tuple[str, ...]) -> list[str]:
    tech = inputs.get("harmonized.technologies")
    if tech is None:
        return []
    return tech.filter(pl.col("industry").is_in(list(taxonomy)))["series_id"].to_list()


LR_COLUMNS = ("name", "model", "lr_mean", "lr_q05", "lr_q95", "n_series", "n_points")
LR_LABELS = {
    "name": "name",
    "lr_mean": "learning rate (mean)",
    "lr_q05": "5%",
    "lr_q95": "95%",
    "n_series": "series",
    "n_points": "points",
}


def _learning_part(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    parts = [h.heading("Learning curves")]
    lr = inputs.get("calibration.learning_rates")
    tax = list(ind.taxonomy)
    if lr is None:
        parts.append(
            h.not_computed(
                "Learning rates", "the warehouse has no table calibration.learning_rates."
            )
        )
    else:
        pooled = lr.filter((pl.col("level") == "industry") & pl.col("name").is_in(tax))
        series = lr.filter(
            (pl.col("level") == "series")
            & pl.col("name").is_in(_series_of(inputs, ind.taxonomy))
            & (pl.col("model") == DEFAULT_LEARNING_MODEL)
        ).sort("lr_mean", descending=True)
        if pooled.height == 0 and series.height == 0:
            parts.append(
                h.paragraph(
                    f"The pooled learning-curve fits hold no cost series of this industry's taxonomy "
                    f"({', '.join(tax)}): no experience curve is measured here."
                )
            )
        if pooled.height:
            parts.append(
                h.table(
                    pooled,
                    columns=LR_COLUMNS,
                    labels=LR_LABELS,
                    caption="Industry-level learning rates of the pooled fits",
                )
            )
        if series.height:
            labels = series.with_columns(pl.col("name").str.split(":").list.last().alias("label"))
            png = plots_race.learning_rates_png(
                labels,
                "label",
                f"{ind.name}: learning rate per cost series ({DEFAULT_LEARNING_MODEL})",
            )
            parts.append(h.image(png, f"{ind.name} learning rates per series"))
    if "solar" in tax:
        sn = inputs.get("calibration.solar_nation_rates")
        if sn is None:
            parts.append(
                h.not_computed(
                    "National solar learning rates",
                    "the warehouse has no table calibration.solar_nation_rates.",
                )
            )
        else:
            cols = (
                "name",
                "lr_mean",
                "lr_q05",
                "lr_q95",
                "lambda_mean",
                "lambda_q05",
                "lambda_q95",
            )
            parts.append(
                h.table(
                    sn.filter(pl.col("level") == "nation"),
                    columns=cols,
                    labels=LR_LABELS
                    | {
                        "name": "nation",
                        "lambda_mean": "spillover lambda (mean)",
                        "lambda_q05": "lambda 5%",
                        "lambda_q95": "lambda 95%",
                    },
                    caption="Solar module learning by nation (the solar nation fit)",
                )
            )
    for name in sorted(inputs.tables):
        if name.startswith(f"{RACE_SCHEMA}.") and "learning" in name:
            parts += race_part(inputs, name.split(".", 1)[1], ind.id, f"Learning ({name})")[1:]
    return parts


def _capability_part(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    parts: list[Html] = [h.heading("Capability")]
    nations = [e.code for e in ind.nations]
    m = ind.capability
    if isinstance(m, MissingMetric):
        parts.append(h.no_data(m.missing))
    elif isinstance(m, Metric) and m.measure == "learning_rate":
        parts.append(
            h.paragraph(
                f"The capability metric, {m.name}, is each nation's learning rate: see the "
                f"learning curves above. Threshold: {threshold_text(m)}."
            )
        )
    elif isinstance(m, Metric):
        parts += _observed_plot(inputs, ind, m)
    if "ai" in ind.taxonomy and (fr := inputs.get("calibration.ai_frontier")) is not None:
        cols = (
            "nation",
            "as_of",
            "record_model",
            "log10_flop_q50",
            "log10_flop_q05",
            "log10_flop_q95",
            "doubling_months_q50",
            "gap_years_q50",
            "p_leader",
        )
        parts += [
            h.heading("The training-compute frontier (AI frontier fit)", 4),
            h.table(
                fr.filter(pl.col("nation").is_in(nations)),
                columns=cols,
                caption="calibration.ai_frontier (log10 FLOP; gap: years behind the leader)",
            ),
        ]
    if (
        "autonomous_vehicles" in ind.taxonomy
        and (av := inputs.get("calibration.av_capability")) is not None
    ):
        cols = (
            "nation",
            "form",
            "leader_company",
            "slope_q50",
            "mpd_now_q50",
            "mpd_now_q05",
            "mpd_now_q95",
        )
        parts += [
            h.heading("Miles per disengagement (AV capability fit)", 4),
            h.table(
                av.filter((pl.col("level") == "nation") & pl.col("nation").is_in(nations)),
                columns=cols,
                caption="calibration.av_capability, nation level "
                "(mpd: miles per disengagement now; slope: against log experience)",
            ),
        ]
    return parts


def _observed_plot(inputs: ReportInputs, ind: IndustrySpec, m: Metric) -> list[Html]:
    """Each nation's observed yearly figure of ``m`` (:func:`observed_metric`) as a plot, the
    threshold in the caption; a note in place of the plot when the figures cannot be formed."""
    if m.measure == "learning_rate" or m.table not in inputs.tidy:
        return []
    try:
        obs = observed_metric(ind, m, inputs.tidy).drop_nulls("year")
    except LearnraceError as e:
        return [h.paragraph(f"Observed {m.name}: not shown ({e}).", cls="note")]
    share = m.measure == "count" or m.unit == "fraction"
    obs = obs.with_columns(pl.col("share").alias("value")) if share else obs
    obs = obs.drop_nulls("value")
    if obs.height == 0:
        return [h.paragraph(f"Observed {m.name}: no rows for the competing nations.", cls="note")]
    unit = m.unit if isinstance(m.unit, str) else "national units"
    ylabel = "share of the world" if share else f"{m.name} ({unit})"
    positive = obs["value"].min() > 0
    wide = positive and obs["value"].max() / obs["value"].min() > 100
    png = plots_race.observed_metric_png(
        obs, [e.code for e in ind.nations], ylabel, f"{ind.name}: {m.name} (observed)", log=wide
    )
    scope = " (world figure, the same for every nation)" if m.scope == "world" else ""
    caption = (
        f"Observed {m.name}{scope} by nation ({m.measure.replace('_', ' ')}), from "
        f"{inputs.tidy_source}. Threshold: {threshold_text(m)}."
    )
    return [h.image(png, f"{ind.name} {m.name}", caption=caption)]


def _deployment_part(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    parts = [h.heading("Deployment")]
    m = ind.volume
    if isinstance(m, MissingMetric):
        parts.append(h.no_data(m.missing))
    elif isinstance(m, Metric):
        parts += _observed_plot(inputs, ind, m)
    fits = [n for n in sorted(inputs.tables) if n.startswith(f"{RACE_SCHEMA}.") and "deploy" in n]
    if not fits:
        parts.append(
            h.not_computed(
                "Deployment-growth fits", f"the warehouse has no {RACE_SCHEMA}.deployment table."
            )
        )
    for name in fits:
        parts += race_part(inputs, name.split(".", 1)[1], ind.id, f"Deployment fits ({name})")[1:]
    return parts


def industry_section(inputs: ReportInputs, ind: IndustrySpec) -> Html:
    """One industry: its declaration, then closing years, pairwise, learning, capability,
    deployment and attribution; a no-data industry says what is missing and nothing else."""
    sid = f"industry-{ind.id}"
    if ind.status == "no_data":
        return h.section(sid, ind.name, [h.no_data(ind.missing or "")])
    parts: list[object] = [
        h.paragraph(f"Horizon {ind.horizon}; taxonomy: {', '.join(ind.taxonomy)}."),
        _nations_table(ind),
        _metrics_table(ind),
    ]
    parts += _closing_part(inputs, ind)
    parts += race_part(inputs, "pairwise", ind.id, "Who closes first (pairwise)")
    parts += _learning_part(inputs, ind)
    parts += _capability_part(inputs, ind)
    parts += _deployment_part(inputs, ind)
    parts += race_part(inputs, "attribution", ind.id, "Attribution of the cost decline")
    return h.section(sid, ind.name, parts)
