"""What the fits say about one industry, for the race report: learning rates (the pooled fits'
industry and series rates, national learning rates, the solar nation fit), capability fits
(AI frontier, AV capability, process-node frontier), deployment-growth fits and the race
hindcast's coverage. Each part shows the rows of the industry's taxonomy and nations, or says
which table is absent."""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.lib.race.spec import IndustrySpec
from learnrace_pipeline.lib.report import html as h
from learnrace_pipeline.lib.report import plots_race
from learnrace_pipeline.lib.report.html import Html
from learnrace_pipeline.lib.report.race_inputs import (
    DEFAULT_LEARNING_MODEL,
    RACE_SCHEMA,
    ReportInputs,
)
from learnrace_pipeline.lib.report.race_parts import capped, race_part


def _technologies_of(inputs: ReportInputs, taxonomy: tuple[str, ...]) -> list[str]:
    tech = inputs.get("harmonized.technologies")
    if tech is None:
        return []
    return tech.filter(pl.col("industry").is_in(list(taxonomy)))["technology"].unique().to_list()


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


NATIONAL_COLUMNS = ("technology", "nation", "lr_mean", "lr_q05", "lr_q95", "lambda_mean",
                    "lambda_q05", "lambda_q95", "n_points", "first_year", "last_year")  # fmt: skip


def _national_rates(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    """National installed-cost learning rates (``calibration.national_learning_rates``) of
    the industry's technologies and nations: a table and a forest plot."""
    nat = inputs.get("calibration.national_learning_rates")
    if nat is None:
        return []
    techs = _technologies_of(inputs, ind.taxonomy)
    mine = nat.filter(pl.col("technology").is_in(techs)).sort("technology", "lr_mean")
    if mine.height == 0:
        return []
    png = plots_race.learning_rates_png(
        mine.with_columns(pl.concat_str("technology", pl.lit(" "), "nation").alias("label")),
        "label",
        f"{ind.name}: national learning rates (installed cost)",
    )
    return [
        h.heading("National learning rates (installed cost)", 4),
        h.table(mine, columns=NATIONAL_COLUMNS, labels=LR_LABELS,
                caption="calibration.national_learning_rates: national series, partially pooled "
                "across nations; lambda: weight of national against world experience"),
        h.image(png, f"{ind.name} national learning rates"),
    ]  # fmt: skip


def learning_part(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
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
    parts += _national_rates(inputs, ind)
    for name in sorted(inputs.tables):
        if name.startswith(f"{RACE_SCHEMA}.") and "learning" in name:
            parts += race_part(inputs, name.split(".", 1)[1], ind.id, f"Learning ({name})")[1:]
    return parts


NODE_COLUMNS = ("nation", "status", "record_product", "record_nm", "nm_q50", "nm_q05", "nm_q95",
                "halving_years_q50", "as_of")  # fmt: skip


def capability_fits(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    """The capability fits' per-nation tables of the industry's taxonomy (AI frontier, AV
    capability, process-node frontier), where the warehouse has them."""
    parts: list[Html] = []
    nations = [e.code for e in ind.nations]
    if (
        "semiconductors" in ind.taxonomy
        and (nf := inputs.get("calibration.node_frontier")) is not None
    ):
        parts += [
            h.heading("The leading process node (node-frontier fit)", 4),
            h.table(nf.filter(pl.col("nation").is_in(nations)), columns=NODE_COLUMNS,
                    caption="calibration.node_frontier (nm; halving: years for the node to halve)"),
        ]  # fmt: skip
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


DEPLOYMENT_WORD = "deployment"


def _cell(v: object) -> str:
    return h.MISSING if v is None or (isinstance(v, float) and v != v) else h.fmt(v)


def collapse_quantiles(df: pl.DataFrame) -> tuple[pl.DataFrame, str | None]:
    """A fit table as shown: each column ``x`` with ``x_q05`` and ``x_q95`` beside it becomes
    one text column "x (q05-q95)"; columns null or NaN in every row are dropped, and
    ``ci_kind``/``ci_prob`` become the caption (e.g. "intervals: eti 0.9")."""
    caption = None
    if {"ci_kind", "ci_prob"} <= set(df.columns) and df.height:
        kinds = sorted(
            {f"{k} {_cell(p)}" for k, p in zip(df["ci_kind"], df["ci_prob"], strict=True)}
        )
        caption = (
            f"Intervals: {', '.join(kinds)}; a column with 5% and 95% bounds is shown as "
            "value (5%-95%), the value as the table gives it (e.g. the posterior mean)."
        )
        df = df.drop("ci_kind", "ci_prob")
    out: dict[str, pl.Series] = {}
    for c in df.columns:
        if c.endswith(("_q05", "_q95")) and c[:-4] in df.columns:
            continue
        col = df[c]
        if f"{c}_q05" in df.columns and f"{c}_q95" in df.columns:
            lo, hi = df[f"{c}_q05"], df[f"{c}_q95"]
            col = pl.Series(c, [
                h.MISSING if _cell(m) == h.MISSING else f"{_cell(m)} ({_cell(a)}\u2013{_cell(b)})"
                for m, a, b in zip(col, lo, hi, strict=True)
            ], dtype=pl.String)  # fmt: skip
        values = col.to_list()
        if all(v is None or v == h.MISSING or (isinstance(v, float) and v != v) for v in values):
            continue
        out[c] = col
    return pl.DataFrame(out), caption


def deployment_fits(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    """Rows of the industry from every ``race`` or ``calibration`` table named for deployment
    (e.g. the deployment-growth fits' table), or that they are not yet computed."""
    names = [
        n
        for n in sorted(inputs.tables)
        if n.split(".")[0] in (RACE_SCHEMA, "calibration") and DEPLOYMENT_WORD in n.split(".")[1]
    ]
    if not names:
        return [
            h.not_computed(
                "Deployment-growth fits",
                "the warehouse has no race or calibration table named for deployment.",
            )
        ]
    parts: list[Html] = []
    for name in names:
        df = inputs.tables[name]
        if "industry" in df.columns:
            df = df.filter(pl.col("industry") == ind.id).drop("industry")
        if df.height:
            shown, caption = collapse_quantiles(df)
            parts += [h.heading(f"Deployment fits ({name})", 4), capped(shown, caption=caption)]
        else:
            parts.append(h.paragraph(f"{name} has no rows for this industry.", cls="note"))
    return parts


def hindcast_part(inputs: ReportInputs, ind: IndustrySpec) -> list[Html]:
    """The race hindcast's coverage for this industry: per role and model, the forecasts
    scored and the share of outcomes inside the central 50% and 90% intervals, from the
    per-forecast rows of ``evaluation.race_hindcast``; nothing when the table is absent (the
    hindcast section says so)."""
    df = inputs.get("evaluation.race_hindcast")
    if df is None or not {"industry", "role", "inside50", "inside90"} <= set(df.columns):
        return []
    mine = df.filter(pl.col("industry") == ind.id)
    parts = [h.heading("Race hindcast")]
    if mine.height == 0:
        parts.append(h.paragraph("The race hindcast scored no forecast of this industry."))
        return parts
    keys = [c for c in ("role", "metric", "model") if c in mine.columns]
    cov = (
        mine.group_by(keys)
        .agg(
            pl.len().alias("forecasts"),
            pl.col("inside50").cast(pl.Float64).mean().alias("coverage 50%"),
            pl.col("inside90").cast(pl.Float64).mean().alias("coverage 90%"),
        )
        .sort(keys)
    )
    parts.append(
        h.table(
            cov,
            caption="Share of outcomes inside the forecasts' central intervals, all "
            "origins and horizons (nominal 0.5 and 0.9)",
        )
    )
    return parts
