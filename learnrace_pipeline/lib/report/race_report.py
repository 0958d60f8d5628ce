"""The race report: one self-contained HTML page from the warehouse and the race specification.

:func:`read_inputs` reads, read-only, every table of the ``race`` schema the warehouse holds
(``race.race``, ``race.pairwise``, ``race.attribution``, ``race.scenarios``,
``race.race_hindcast`` and any other), the calibration and evaluation tables the report shows
(:data:`CALIBRATION_TABLES`) and the tidy tables of the race's volume metrics (the warehouse's
``harmonized`` copies, else the shipped snapshot). :func:`build_report` lays them out as
sections (:func:`learnrace_pipeline.lib.report.html.section`):

- ``race``: the race table (``race.race``: per industry and nation the closing year's median
  and 80% interval, P(closed by the horizon), P(first), whether already closed, the leading
  strategy); no-data industries as "no data" with the missing data named;
- ``industry-<id>`` per industry of the specification: nations and metrics with thresholds,
  closing-year distribution, pairwise, learning curves (``calibration.learning_rates`` of the
  industry's taxonomy, the solar nation rates), capability (AI frontier, AV capability),
  deployment (each nation's observed volume metric; the deployment fits), attribution;
- ``scenarios``: the declared scenarios and ``race.scenarios``;
- ``hindcast``: ``race.race_hindcast`` and the forecast hindcast's calibration
  (``evaluation.scores_by_horizon_group``, coverage by horizon);
- ``data-gaps``: every declared gap (industries, roles, nations, proxies) and the race's own.

A part whose input table is absent says plainly that it is not yet computed and which table it
needs: the report never shows a number it was not given.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from learnrace_pipeline.lib.race import spec as race_spec
from learnrace_pipeline.lib.race.spec import MissingMetric, RaceSpec
from learnrace_pipeline.lib.report import html as h
from learnrace_pipeline.lib.report.html import Html
from learnrace_pipeline.lib.report.race_industry import industry_section
from learnrace_pipeline.lib.report.race_inputs import (
    RACE_SCHEMA,
    RACE_TABLES,
    ReportInputs,
    read_inputs,
)
from learnrace_pipeline.lib.report.race_parts import RACE_LABELS, capped, race_table
from learnrace_pipeline.lib.storage import files


def race_section(inputs: ReportInputs) -> Html:
    """The race table, or what the specification declares and that the race is not computed."""
    spec = inputs.spec
    df = inputs.get(f"{RACE_SCHEMA}.race")
    parts: list[object] = []
    if df is None:
        parts.append(
            h.not_computed("The race table", f"the warehouse has no table {RACE_SCHEMA}.race.")
        )
        rows = [
            {
                "industry": ind.name,
                "nation": e.code,
                "archetype": e.archetype,
                "horizon": ind.horizon,
            }
            for ind in spec.industries
            for e in ind.nations
        ]
        parts.append(h.paragraph("The competitors the specification declares:"))
        parts.append(h.table(pl.DataFrame(rows), id="race-competitors"))
    else:
        parts.append(
            h.paragraph(
                "Per industry and nation: the year it first holds every threshold (median and 80% "
                "interval over the joint posterior draws), the probability it has closed the loop "
                "by the industry's horizon, the probability it closes first, and whether it already "
                "holds every threshold in the data."
            )
        )
        parts.append(race_table(df, id="race-table"))
    no_data = [i for i in spec.industries if i.status == "no_data"]
    if no_data:
        parts.append(h.paragraph("Industries with no data here (no number is shown for them):"))
        parts.append(h.bullet_list(f"{i.name}: {i.missing}" for i in no_data))
    return h.section("race", "The race: who closes the loop first", parts)


def scenarios_section(inputs: ReportInputs) -> Html:
    """The declared scenarios and each one's shift against the base case (``race.scenarios``)."""
    sc = pl.DataFrame(
        [
            {
                "scenario": s.name,
                "description": s.description,
                "industry": s.industry,
                "nation": s.nation,
                "change": f"{s.operation} {s.parameter} {h.fmt(s.value)}"
                + (f" {s.unit}" if s.unit else ""),
            }
            for s in inputs.spec.scenarios
        ],
        schema={k: pl.String for k in ("scenario", "description", "industry", "nation", "change")},
    )
    parts: list[object] = [h.table(sc, caption="Scenarios declared in the race specification")]
    df = inputs.get(f"{RACE_SCHEMA}.scenarios")
    if df is None:
        parts.append(
            h.not_computed(
                "Scenario comparison", f"the warehouse has no table {RACE_SCHEMA}.scenarios."
            )
        )
    elif (table := scenario_comparison(df, inputs.spec)) is not None:
        parts.append(
            h.paragraph(
                "Per nation: its base-case median closing year, and under each scenario the "
                "direction the median moves (a median past the horizon counts as later than "
                "any year), by how many years, and the change in P(first)."
            )
        )
        parts.append(h.table(table, id="scenario-table"))
    else:
        parts.append(
            capped(
                df,
                id="scenario-table",
                caption=f"{RACE_SCHEMA}.scenarios: shift against the base case",
            )
        )
    return h.section("scenarios", "Scenarios", parts)


SCENARIO_COLUMNS = {"scenario", "industry", "nation", "median_base", "median_direction"}


def shift_text(row: dict[str, object]) -> str:
    """One scenario's shift of one nation as shown: the median's direction, its shift in
    years where both medians fall by the horizon, and the change in P(first)."""
    if row.get("median_direction") is None:
        return h.MISSING
    text = str(row["median_direction"])
    if row.get("median_shift") is not None:
        text += f" ({row['median_shift']:+d} y)"
    if row.get("p_first_shift") is not None:
        text += f"; P(first) {row['p_first_shift']:+.2f}"
    return text


def scenario_comparison(df: pl.DataFrame, spec: RaceSpec) -> pl.DataFrame | None:
    """``race.scenarios`` (one row per scenario, industry and nation) as one row per industry
    and nation with data: the base median (a year, or "after <horizon>") and one column per
    scenario (:func:`shift_text`); None when the table lacks the columns this needs."""
    if not set(df.columns) >= SCENARIO_COLUMNS:
        return None
    names = [sc.name for sc in spec.scenarios]
    names += sorted(set(df["scenario"].unique().to_list()) - set(names))
    cells = {(r["scenario"], r["industry"], r["nation"]): r for r in df.iter_rows(named=True)}
    rows = []
    for ind in spec.industries:
        for e in ind.nations:
            mine = {n: cells.get((n, ind.id, e.code)) for n in names}
            if not any(mine.values()):
                continue
            base = next(r["median_base"] for r in mine.values() if r is not None)
            row = {
                "industry": ind.name,
                "nation": e.code,
                "base median": h.fmt(base) if base is not None else f"after {ind.horizon}",
            }
            row |= {n: shift_text(r) if r is not None else h.MISSING for n, r in mine.items()}
            rows.append(row)
    return pl.DataFrame(rows, schema={c: pl.String for c in rows[0]}) if rows else None


#: The race hindcast is shown whole up to this many rows (origins x nations x metrics).
HINDCAST_ROWS = 400
GROUP_COLUMNS = (
    "model",
    "horizon_group",
    "n",
    "n_series",
    "coverage50",
    "coverage80",
    "coverage90",
    "bias_log",
    "rmse_log",
    "log_pinball",
)


def hindcast_section(inputs: ReportInputs) -> Html:
    """The race hindcast (coverage of the 50% and 90% intervals by role and horizon group;
    per industry in the industry sections) and the cost forecasts' hindcast calibration."""
    parts: list[object] = [h.heading("Race hindcast")]
    cov = inputs.get("evaluation.race_hindcast_coverage")
    old = inputs.get(f"{RACE_SCHEMA}.race_hindcast")
    if cov is not None:
        parts.append(
            h.paragraph(
                "Each nation's volume share and capability metric forecast from past origins "
                "and scored against what happened: the share of outcomes inside the central "
                "50% and 90% intervals (nominal 0.5 and 0.9) by role and horizon group (years "
                "after the origin)."
            )
        )
        parts.append(h.table(cov, id="race-hindcast-table"))
    elif old is not None:
        parts.append(capped(old, id="race-hindcast-table", limit=HINDCAST_ROWS))
    else:
        parts.append(
            h.not_computed(
                "Race hindcast",
                "the warehouse has no table evaluation.race_hindcast_coverage "
                f"(nor {RACE_SCHEMA}.race_hindcast).",
            )
        )
    parts.append(h.heading("Forecast hindcast calibration (cost forecasts)"))
    grp = inputs.get("evaluation.scores_by_horizon_group")
    if grp is None:
        parts.append(
            h.not_computed(
                "Calibration by horizon group",
                "the warehouse has no table evaluation.scores_by_horizon_group.",
            )
        )
    else:
        parts.append(
            h.paragraph(
                "Share of held-out costs inside the central 50/80/90% intervals per model and horizon "
                "group (years after the origin); bias and RMS error of the log median."
            )
        )
        parts.append(
            h.table(
                grp.sort("model", "horizon_group"), columns=GROUP_COLUMNS, id="hindcast-calibration"
            )
        )
    by_h = inputs.get("evaluation.scores_by_horizon")
    if by_h is not None and by_h.height:
        from learnrace_pipeline.lib.report.plots_evaluation import coverage_by_horizon_png

        parts.append(h.image(coverage_by_horizon_png(by_h), "hindcast coverage by horizon"))
    return h.section("hindcast", "Hindcasts: how well the forecasts held", parts)


def data_gaps(spec: RaceSpec) -> pl.DataFrame:
    """Every gap the specification declares: (industry, nation, role, gap), ``nation`` "all"
    for an industry-wide gap, ``role`` "all" for a no-data industry; proxies included."""
    rows = []
    for ind in spec.industries:
        if ind.status == "no_data":
            rows.append((ind.name, "all", "all", f"no data: {ind.missing}"))
            continue
        for role in race_spec.ROLES:
            m = getattr(ind, role)
            if isinstance(m, MissingMetric):
                rows.append((ind.name, "all", role, m.missing))
        for e in ind.nations:
            rows += [(ind.name, e.code, role, why) for role, why in e.missing]
            rows += [
                (ind.name, e.code, role, f"measured through {code}'s rows")
                for role, code in e.proxy
            ]
    return pl.DataFrame(rows, schema=["industry", "nation", "role", "gap"], orient="row")


GAP_COLUMNS = ("industry_name", "nation", "status", "unmeasured_roles", "note", "missing")


def race_gaps(race: pl.DataFrame) -> pl.DataFrame:
    """The race table's rows with a gap: an industry without data, or a nation with an
    unmeasured role; its text columns (``note`` and/or ``missing``) kept."""
    cond = pl.lit(False)
    if "status" in race.columns:
        cond = cond | (pl.col("status") != "data")
    if "unmeasured_roles" in race.columns:
        cond = cond | pl.col("unmeasured_roles").is_not_null()
    return race.filter(cond).select([c for c in GAP_COLUMNS if c in race.columns])


def gaps_section(inputs: ReportInputs) -> Html:
    """The gaps the specification declares, and those the race table reports."""
    parts: list[object] = [
        h.table(
            data_gaps(inputs.spec),
            id="gaps-table",
            caption="Gaps declared in the race specification",
        )
    ]
    df = inputs.get(f"{RACE_SCHEMA}.race")
    if df is not None:
        gaps = race_gaps(df)
        if gaps.height:
            parts.append(
                h.table(
                    gaps,
                    id="race-gaps",
                    labels=RACE_LABELS | {"industry_name": "industry"},
                    caption=f"What the race could not measure ({RACE_SCHEMA}.race)",
                )
            )
    return h.section("data-gaps", "Data gaps", parts)


def build_report(inputs: ReportInputs, *, generated: dt.datetime | None = None) -> str:
    """The whole page as HTML text (see the module docstring for its sections)."""
    generated = generated or dt.datetime.now(dt.UTC).replace(microsecond=0)
    spec = inputs.spec
    have = [part for part in RACE_TABLES if inputs.present(part)]
    missing = [part for part in RACE_TABLES if part not in have]
    toc = [h.link("race", "The race table")]
    toc += [
        h.link(f"industry-{i.id}", i.name + (" (no data)" if i.status == "no_data" else ""))
        for i in spec.industries
    ]
    toc += [
        h.link("scenarios", "Scenarios"),
        h.link("hindcast", "Hindcasts"),
        h.link("data-gaps", "Data gaps"),
    ]
    status = f"Race parts present: {', '.join(have) or 'none'}. " + (
        f"Not yet computed: {', '.join(missing)}. " if missing else ""
    )
    status += f"Observed figures: {inputs.tidy_source}" + (
        f" ({inputs.tidy_reason})." if inputs.tidy_reason else "."
    )
    body: list[object] = [
        Html("<header>"),
        h.heading("learnrace: which nation closes the loop first", 1),
        h.paragraph(
            f"Built {generated.isoformat()} from {inputs.source} and the race "
            f"specification {spec.path} (version {spec.version}). {status}",
            cls="note",
        ),
        Html("<nav>"),
        h.bullet_list(toc),
        Html("</nav></header>"),
        race_section(inputs),
        *(industry_section(inputs, ind) for ind in spec.industries),
        scenarios_section(inputs),
        hindcast_section(inputs),
        gaps_section(inputs),
    ]
    return h.document("learnrace race report", body)


def write_report(db_path: str | Path, out: str | Path, spec: RaceSpec | None = None) -> Path:
    """Read the warehouse, build the page and write it to ``out`` atomically; returns ``out``."""
    inputs = read_inputs(db_path, spec)
    return files.write_atomic_bytes(build_report(inputs).encode("utf-8"), out)
