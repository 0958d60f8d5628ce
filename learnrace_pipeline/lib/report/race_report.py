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
- ``ledger``: the forecast ledger's vintages and their latest scores (``race.ledger``);
- ``data-gaps``: every declared gap (industries, roles, nations, proxies) and the race's own.

A part whose input table is absent says plainly that it is not yet computed and which table it
needs: the report never shows a number it was not given.
"""

from __future__ import annotations

import datetime as dt
import re
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
from learnrace_pipeline.lib.report.race_parts import RACE_LABELS, capped, race_table, year_text
from learnrace_pipeline.lib.storage import files

#: A note's clause giving why a role is unmeasured ("capability unmeasured: no ...").
UNMEASURED_CLAUSE = re.compile(r"^[a-z+_]+ unmeasured: ")


def short_note(note: str | None) -> str | None:
    """A race note without its "<role> unmeasured: <why>" clauses (the data-gaps section
    gives them), saying so where it drops one."""
    if not note:
        return note
    clauses = note.split("; ")
    kept = [c for c in clauses if not UNMEASURED_CLAUSE.match(c)]
    if len(kept) < len(clauses):
        kept.append("why: see Data gaps")
    return "; ".join(kept)


def short_notes(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with :func:`short_note` applied to its ``note`` column, if any."""
    if "note" not in df.columns:
        return df
    return df.with_columns(pl.col("note").map_elements(short_note, return_dtype=pl.String))


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
        parts.append(race_table(short_notes(df), id="race-table"))
    no_data = [i for i in spec.industries if i.status == "no_data"]
    if no_data:
        parts.append(h.paragraph("Industries with no data here (no number is shown for them):"))
        parts.append(h.bullet_list(f"{i.name}: {i.missing}" for i in no_data))
    return h.section("race", "The race: who closes the loop first", parts)


def scenarios_section(inputs: ReportInputs) -> Html:
    """The declared scenarios and, per scenario, each nation's shift against the base case
    (``race.scenarios`` against ``race.race``: :func:`scenario_comparison`)."""
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
        return h.section("scenarios", "Scenarios", parts)
    tables = scenario_comparison(df, inputs.get(f"{RACE_SCHEMA}.race"), inputs.spec)
    if tables is None:
        parts.append(
            capped(
                df,
                id="scenario-table",
                caption=f"{RACE_SCHEMA}.scenarios: shift against the base case",
            )
        )
        return h.section("scenarios", "Scenarios", parts)
    parts.append(
        h.paragraph(
            "Per scenario, the nations whose closing year or probabilities move: the median "
            'closing year in the base case and in the scenario ("after <horizon>" when the '
            "median lies past the industry's horizon), the shift of the median in years (or "
            "only its direction when one median lies past the horizon), and the shifts of "
            "P(closed by the horizon) and P(first) (scenario minus base). Nations not listed "
            "move by less than 0.001 in both probabilities and not at all in the median."
        )
    )
    described = {s.name: s.description for s in inputs.spec.scenarios}
    for name, (moved, n_same) in tables.items():
        parts.append(h.heading(f"Scenario {name}", level=3, id=f"scenario-{name}"))
        if name in described:
            parts.append(h.paragraph(described[name]))
        if moved.height:
            parts.append(h.table(moved, id=f"scenario-table-{name}", formats=SHIFT_FORMATS))
        if n_same:
            parts.append(
                h.paragraph(
                    f"{n_same} other nation{'s' if n_same > 1 else ''} with data: no change."
                    if moved.height
                    else f"No change for any of the {n_same} nations with data."
                )
            )
    return h.section("scenarios", "Scenarios", parts)


#: The columns of ``race.scenarios`` the comparison reads.
SCENARIO_COLUMNS = {
    "scenario", "industry", "nation", "status", "closing_median", "p_closed_by_horizon",
    "p_first", "median_shift", "median_direction", "p_closed_shift", "p_first_shift",
}  # fmt: skip
#: A probability shift smaller than this counts as no change.
P_SHIFT_TOL = 1e-3


def shift_text(row: dict[str, object], horizon: object) -> str:
    """The median's shift as shown: signed years where both medians fall by the horizon,
    else its direction ("later (past <horizon>)", "earlier (was past <horizon>)"); a dash
    when both lie past the horizon."""
    d, direction = row.get("median_shift"), row.get("median_direction")
    if d is not None:
        return f"{d:+d} y" if d else "0"
    if direction == "later":
        return f"later (past {horizon})"
    if direction == "earlier":
        return f"earlier (was past {horizon})"
    return h.MISSING


def _signed(x: object) -> str:
    return h.MISSING if x is None else ("+" if x > 0 else "") + h.fmt(x)  # type: ignore[operator]


def _moved(row: dict[str, object]) -> bool:
    d = row.get("median_shift")
    if d not in (None, 0) or row.get("median_direction") in ("earlier", "later"):
        return True
    return any(abs(row.get(c) or 0.0) >= P_SHIFT_TOL for c in ("p_closed_shift", "p_first_shift"))


def scenario_comparison(
    df: pl.DataFrame, base: pl.DataFrame | None, spec: RaceSpec
) -> dict[str, tuple[pl.DataFrame, int]] | None:
    """Per scenario (declared order, then any other in ``race.scenarios``): the rows of the
    nations with data that move against the base case (:func:`_moved`), one per industry and
    nation, with the base median (``race.race``), the scenario median, :func:`shift_text` and
    the P(closed) and P(first) shifts; and how many nations with data do not move. None when
    ``race.scenarios`` lacks a column this needs or ``race.race`` is absent."""
    if base is None or not set(df.columns) >= SCENARIO_COLUMNS:
        return None
    names = [sc.name for sc in spec.scenarios if sc.name in set(df["scenario"])]
    names += sorted(set(df["scenario"].unique().to_list()) - set(names))
    base_rows = {(r["industry"], r["nation"]): r for r in base.iter_rows(named=True)}
    cells = {(r["scenario"], r["industry"], r["nation"]): r for r in df.iter_rows(named=True)}
    out: dict[str, tuple[pl.DataFrame, int]] = {}
    for name in names:
        rows, n_same = [], 0
        for ind in spec.industries:
            for e in ind.nations:
                r, b = cells.get((name, ind.id, e.code)), base_rows.get((ind.id, e.code))
                if r is None or b is None or r["status"] != "data":
                    continue
                if not _moved(r):
                    n_same += 1
                    continue
                rows.append({
                    "industry": ind.name,
                    "nation": e.code,
                    "base median": year_text(b["closing_median"], b),
                    "scenario median": year_text(r["closing_median"], r),
                    "median shift": shift_text(r, ind.horizon),
                    "P(closed) base": b["p_closed_by_horizon"],
                    "P(closed) shift": r["p_closed_shift"],
                    "P(first) base": b["p_first"],
                    "P(first) shift": r["p_first_shift"],
                })  # fmt: skip
        schema = {c: pl.Float64 if c.startswith("P(") else pl.String for c in SCENARIO_HEADERS}
        out[name] = (pl.DataFrame(rows, schema=schema), n_same)
    return out


#: The shift columns are shown signed (+0.05, -0.1).
SHIFT_FORMATS = {"P(closed) shift": _signed, "P(first) shift": _signed}
SCENARIO_HEADERS = (
    "industry", "nation", "base median", "scenario median", "median shift", "P(closed) base",
    "P(closed) shift", "P(first) base", "P(first) shift",
)  # fmt: skip


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


#: Headers of ``evaluation.race_hindcast_coverage`` as shown.
COVERAGE_LABELS = {
    "horizon_group": "horizon (years)", "n": "forecasts", "coverage_50": "inside 50%",
    "coverage_90": "inside 90%", "log_pinball": "log pinball",
}  # fmt: skip


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
        parts.append(h.table(cov, id="race-hindcast-table", labels=COVERAGE_LABELS))
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


#: ``race.ledger`` as shown: its columns and their headers, in this order.
LEDGER_LABELS = {
    "created": "created (UTC)", "scenario": "scenario", "vintage": "vintage",
    "data_version": "data version", "code_version": "code version", "n_rows": "forecasts",
    "n_scored": "scored", "cov50": "inside 50%", "cov90": "inside 90%", "pinball": "pinball",
    "brier": "Brier", "scored": "scored at (UTC)",
}  # fmt: skip
LEDGER_COLUMNS = {"vintage_id", "created_at", "scenario", "data_version", "code_version",
                  "n_rows", "n_scored", "cov50", "cov90", "pinball", "brier", "scored_at"}  # fmt: skip


def _minute(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, dt.datetime) else h.fmt(value)


def ledger_display(ledger: pl.DataFrame) -> pl.DataFrame | None:
    """``race.ledger`` newest first as shown: times to the minute, vintage id and data version
    to their first 8 characters; None when a column of :data:`LEDGER_COLUMNS` is absent."""
    if not set(ledger.columns) >= LEDGER_COLUMNS:
        return None
    return ledger.sort("created_at", "vintage_id", descending=True).select(
        pl.col("created_at").map_elements(_minute, return_dtype=pl.String).alias("created"),
        "scenario",
        pl.col("vintage_id").str.slice(0, 8).alias("vintage"),
        pl.col("data_version").str.slice(0, 8),
        "code_version",
        "n_rows",
        "n_scored",
        "cov50",
        "cov90",
        "pinball",
        "brier",
        pl.col("scored_at").map_elements(_minute, return_dtype=pl.String).alias("scored"),
    )


def ledger_section(inputs: ReportInputs) -> Html:
    """The forecast ledger's vintages (``race.ledger``) with their latest scores."""
    parts: list[object] = []
    df = inputs.get(f"{RACE_SCHEMA}.ledger")
    if df is None:
        parts.append(
            h.not_computed("Forecast ledger", f"the warehouse has no table {RACE_SCHEMA}.ledger.")
        )
        return h.section("ledger", "Forecast ledger", parts)
    parts.append(
        h.paragraph(
            "Each run of the race appends its forecasts (quantiles per industry, nation, "
            "quantity and target year) to the forecast ledger as a vintage, one per scenario, "
            "stamped with the data and code versions. Once data for a target year arrive, the "
            "vintage is scored: forecasts scored, the share of outcomes inside the 50% and 90% "
            "intervals, the mean pinball loss (log units for log-scale quantities) and the "
            "Brier score of P(closed). Newest first; a dash where nothing was scored yet. "
            "The command learnrace ledger shows the same, and each vintage by quantity."
        )
    )
    shown = ledger_display(df)
    if shown is None:
        parts.append(capped(df, id="ledger-table"))
    else:
        parts.append(capped(shown, id="ledger-table", labels=LEDGER_LABELS))
    return h.section("ledger", "Forecast ledger", parts)


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
        h.link("ledger", "Forecast ledger"),
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
        ledger_section(inputs),
        gaps_section(inputs),
    ]
    return h.document("learnrace race report", body)


def write_report(db_path: str | Path, out: str | Path, spec: RaceSpec | None = None) -> Path:
    """Read the warehouse, build the page and write it to ``out`` atomically; returns ``out``."""
    inputs = read_inputs(db_path, spec)
    return files.write_atomic_bytes(build_report(inputs).encode("utf-8"), out)
