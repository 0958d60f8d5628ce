"""The race report's industry sections (:func:`industry_section`, id ``industry-<id>``).

A section holds the industry's nations and metrics with thresholds, then its closing-year
distribution (``race.race``), the pairwise race (``race.pairwise``), learning curves,
capability (each nation's observed capability figure and the capability fits), deployment
(each nation's observed volume figure and the deployment-growth fits), the attribution of the
cost decline (``race.attribution``) and the race hindcast's coverage
(:mod:`.race_fits`). A part whose table is absent says it is not yet computed; a no-data
industry says what is missing and shows no number.
"""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.lib.errors import LearnraceError
from learnrace_pipeline.lib.race import spec as race_spec
from learnrace_pipeline.lib.race.observed import observed_metric
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, MissingMetric
from learnrace_pipeline.lib.report import html as h
from learnrace_pipeline.lib.report import plots_race
from learnrace_pipeline.lib.report.html import Html
from learnrace_pipeline.lib.report.race_fits import (
    capability_fits,
    deployment_fits,
    hindcast_part,
    learning_part,
)
from learnrace_pipeline.lib.report.race_inputs import RACE_SCHEMA, ReportInputs
from learnrace_pipeline.lib.report.race_parts import (
    race_part,
    race_rows,
    race_table,
    threshold_text,
)


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
            text = f"Most likely first: {_leaders_text(df, str(lead), strategy)}. " + text
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


def _leaders_text(df: pl.DataFrame, lead: str, strategy: object) -> str:
    """The leading nation(s) each with its own strategy ("USA (simulation frontier) and TWN
    (deployment engine), tied" for a tie written "USA / TWN"); the race's
    ``leading_strategy`` when a nation has no archetype in the table."""
    archetype = (
        dict(zip(df["nation"], df["archetype"], strict=True)) if "archetype" in df.columns else {}
    )
    names = [n.strip() for n in lead.split("/")]
    if not all(archetype.get(n) for n in names):
        return f"{lead} ({strategy})"
    text = " and ".join(f"{n} ({str(archetype[n]).replace('_', ' ')})" for n in names)
    return text + (", tied" if len(names) > 1 else "")


def _capability_part(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    parts: list[Html] = [h.heading("Capability")]
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
    parts += capability_fits(inputs, ind)
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
    parts += deployment_fits(inputs, ind)
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
    parts += learning_part(inputs, ind)
    parts += _capability_part(inputs, ind)
    parts += _deployment_part(inputs, ind)
    parts += race_part(inputs, "attribution", ind.id, "Attribution of the cost decline")
    parts += hindcast_part(inputs, ind)
    return h.section(sid, ind.name, parts)
