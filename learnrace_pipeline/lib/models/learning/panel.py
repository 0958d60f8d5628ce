"""The model panel: first differences of log unit cost and log cumulative production per series.

Input frames are warehouse-shaped (:mod:`learnrace_pipeline.lib.sources.schema`):
``cost_observations``, ``production`` and ``technologies``. :func:`build_panel` joins each cost
series to its cumulative production: under the same ``series_id`` and nation by default, or as
the declared experience map says (``experience_map``: the production series, at the cost row's
nation or at the world level, over given nations and years; see
:mod:`learnrace_pipeline.lib.vocab.experience_map`). :func:`pooled_wright_panel` is the panel of
the pooled fits: the shipped map and one series per technology and nation (:mod:`.selection`).
It returns a :class:`Panel` with one row per *first difference* (year ``t`` against the previous
kept year of the same series and nation):

==================  ==============================================================================
``dlogc``           ``log(unit_cost_t) - log(unit_cost_prev)``; unit_cost in its own unit, so the
                    difference is unit-free (a currency's level cancels; its inflation does not).
``dlogq``           ``log(Q_t) - log(Q_prev)``, Q = cumulative production through the year.
``dt``              years between the two points (1 for consecutive years, more across gaps).
``dlogq_world``     nation panels only (:func:`build_nation_panel`): the same for world Q.
==================  ==============================================================================

A *series* of the panel is one ``(series_id, nation)`` pair; its label is the ``series_id`` (or
``"series_id[nation]"`` where one id has several nations). Every series carries its technology,
industry and nation, with integer indices into the sorted coordinate tuples of the panel.

Filters, applied in this order and reported in :attr:`Panel.excluded` (one row per dropped
series with the reason):

1. ``metric_kinds``: by default only cost-like metrics (``price``, ``cost``, ``lcoe``,
   ``installed_cost``, ``input_per_output``); ``performance`` series (higher is better) are
   excluded because Wright's law is stated for falling costs.
2. Experience: a series with no production under its id and no entry in the map, or rows of
   nations its entry does not cover, are excluded; points need a strictly positive cumulative
   production in the same year (years without production are dropped, not imputed).
3. ``min_points``: a series needs at least this many joined points (so ``min_points - 1``
   differences); default 6.
4. ``one_per_technology``: copies of a technology and nation kept by another series (the rule of
   :mod:`.selection`).

Fixed shapes for refits: the panel's arrays (:meth:`Panel.data`) have one entry per difference.
For a hindcast at an origin year, :meth:`Panel.origin_mask` gives a 0/1 weight per difference that
switches off every later point; the layout (and so a compiled model) stays the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models.learning import selection
from learnrace_pipeline.lib.sources import reader
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.vocab import experience_map as experience_mod
from learnrace_pipeline.lib.vocab.experience_map import ExperienceEntry

#: Metric kinds whose values fall as a technology learns (see schema.METRIC_KINDS).
COST_METRIC_KINDS = ("price", "cost", "lcoe", "installed_cost", "input_per_output")

_COST_COLS = ("series_id", "nation", "year", "unit_cost")
_PROD_COLS = ("series_id", "nation", "year", "cumulative_production")
_TECH_COLS = ("series_id", "technology", "industry", "unit", "metric_kind")


@dataclass(frozen=True)
class Panel:
    """First differences per series, ready for the learning-curve models.

    Attributes:
        obs: one row per difference, sorted by series then year. Columns ``series``, ``series_id``,
            ``technology``, ``industry``, ``nation``, ``year``, ``year_prev``, ``dt`` (years),
            ``dlogc``, ``dlogq`` (and ``dlogq_world`` for nation panels), ``pos`` (0-based
            position in its series), ``series_idx``, ``industry_idx``, ``technology_idx``,
            ``nation_idx``.
        levels: one row per kept level point: ``series``, ``series_id``, ``technology``,
            ``industry``, ``nation``, ``year``, ``unit_cost`` (in ``unit``),
            ``cumulative_production`` (in ``production_unit``; world Q in
            ``cumulative_world`` for nation panels), ``log_cost``, ``log_q``, ``unit``.
        series: one row per series: ``series``, ``series_id``, ``technology``, ``industry``,
            ``nation``, ``unit``, ``metric_kind``, ``n_points``, ``n_diffs``, ``first_year``,
            ``last_year``, and the indices.
        excluded: dropped series, columns ``series_id``, ``nation``, ``reason``.
        industries, technologies, nations: sorted coordinate labels.
        has_world: True for nation panels (``dlogq_world`` present).
        has_experience: False for time-trend panels (no production: ``dlogq`` is 0 and
            ``cumulative_production`` null; only the time-trend model can be fitted to them).
    """

    obs: pl.DataFrame
    levels: pl.DataFrame
    series: pl.DataFrame
    excluded: pl.DataFrame
    industries: tuple[str, ...]
    technologies: tuple[str, ...]
    nations: tuple[str, ...]
    has_world: bool = False
    has_experience: bool = True
    meta: dict[str, object] = field(default_factory=dict)

    @property
    def n_obs(self) -> int:
        return self.obs.height

    @property
    def n_series(self) -> int:
        return self.series.height

    @property
    def max_len(self) -> int:
        """The longest series, in differences."""
        return int(self.series["n_diffs"].max()) if self.series.height else 0

    def coords(self) -> dict[str, list]:
        """Named coordinates for PyMC / xarray: series, industry, technology, nation, obs."""
        return {
            "series": self.series["series"].to_list(),
            "industry": list(self.industries),
            "technology": list(self.technologies),
            "nation": list(self.nations),
            "obs": list(range(self.n_obs)),
        }

    def data(self, mask: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The arrays a learning model reads (names of its ``pm.Data`` containers).

        ``mask`` (0/1 per difference, default all ones) switches observations off without
        changing shapes; a masked point must come after every unmasked point of its series.
        """
        out = {
            "dlogc": self.obs["dlogc"].to_numpy().astype(float),
            "dlogq": self.obs["dlogq"].to_numpy().astype(float),
            "dt": self.obs["dt"].to_numpy().astype(float),
            "pos": self.obs["pos"].to_numpy().astype(np.int64),
            "series_idx": self.obs["series_idx"].to_numpy().astype(np.int64),
            "industry_of_series": self.series["industry_idx"].to_numpy().astype(np.int64),
            "technology_of_series": self.series["technology_idx"].to_numpy().astype(np.int64),
            "mask": np.ones(self.n_obs) if mask is None else np.asarray(mask, dtype=float),
        }
        if self.has_world:
            out["dlogq_world"] = self.obs["dlogq_world"].to_numpy().astype(float)
        if out["mask"].shape != (self.n_obs,):
            raise DataError(
                f"mask has shape {out['mask'].shape}, expected ({self.n_obs},)", source="panel"
            )
        _check_prefix_mask(out["mask"], out["series_idx"])
        return out

    def origin_mask(self, origin_year: int) -> np.ndarray:
        """1.0 for differences whose year is <= ``origin_year``, else 0.0 (hindcast training)."""
        return (self.obs["year"].to_numpy() <= origin_year).astype(float)

    def frame(self) -> pl.DataFrame:
        """The difference table, the frame a fit's ``data_version`` is hashed from."""
        return self.obs


def _check_prefix_mask(mask: np.ndarray, series_idx: np.ndarray) -> None:
    if np.any((mask != 0) & (mask != 1)):
        raise DataError("mask must be 0 or 1", source="panel")
    # within a series, once a point is masked every later point must be masked too
    same = series_idx[1:] == series_idx[:-1]
    if np.any(same & (mask[1:] > mask[:-1])):
        raise DataError(
            "mask switches a point back on after a masked one within a series: only trailing "
            "points can be masked",
            source="panel",
        )


def _require(df: pl.DataFrame, cols: Iterable[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(
            f"table {table!r} lacks column(s) {missing}", source="panel", column=missing[0]
        )


def _experience_frame(
    experience: Mapping[str, str] | None,
    experience_map: Sequence[ExperienceEntry] | None,
) -> pl.DataFrame:
    """One row per mapped cost series: ``series_id``, ``_prod_series``, ``_scope``
    (``same_id``, ``national`` or ``world``), ``_nations`` (null: all), ``_first_year``,
    ``_last_year``."""
    rows = [
        {"series_id": k, "_prod_series": v, "_scope": "national", "_nations": None,
         "_first_year": None, "_last_year": None}
        for k, v in (experience or {}).items()
    ]  # fmt: skip
    rows += [
        {"series_id": e.cost_series_id, "_prod_series": e.production_series_id,
         "_scope": e.scope, "_nations": list(e.nations) if e.nations else None,
         "_first_year": e.first_year, "_last_year": e.last_year}
        for e in experience_map or ()
        if e.cost_series_id not in (experience or {})
    ]  # fmt: skip
    return pl.DataFrame(
        rows,
        schema={"series_id": pl.String, "_prod_series": pl.String, "_scope": pl.String,
                "_nations": pl.List(pl.String), "_first_year": pl.Int32, "_last_year": pl.Int32},
    )  # fmt: skip


def cost_with_technology(
    cost_observations: pl.DataFrame,
    technologies: pl.DataFrame,
    metric_kinds: tuple[str, ...] | None,
    series_ids: Iterable[str] | None,
    nations: Iterable[str] | None,
    excluded: list[dict],
) -> pl.DataFrame:
    """Positive costs of the selected series with their technology columns (``technology``,
    ``industry``, ``unit``, ``metric_kind``); series of other metric kinds are appended to
    ``excluded``. DataError on a non-positive cost or a series unknown to ``technologies``."""
    _require(cost_observations, _COST_COLS, "cost_observations")
    _require(technologies, _TECH_COLS, "technologies")
    cost = cost_observations.select(_COST_COLS)
    if series_ids is not None:
        cost = cost.filter(pl.col("series_id").is_in(list(series_ids)))
    if nations is not None:
        cost = cost.filter(pl.col("nation").is_in(list(nations)))
    bad = cost.filter(pl.col("unit_cost").is_null() | (pl.col("unit_cost") <= 0))
    if bad.height:
        r = bad.row(0, named=True)
        raise DataError(
            f"unit_cost must be positive, got {r['unit_cost']!r} for {r['series_id']} "
            f"{r['nation']} {r['year']}",
            source="panel",
            column="unit_cost",
        )
    tech = technologies.select(_TECH_COLS).unique("series_id", keep="first")
    cost = cost.join(tech, on="series_id", how="left")
    unknown = cost.filter(pl.col("technology").is_null())["series_id"].unique().to_list()
    if unknown:
        raise DataError(
            f"cost series {sorted(unknown)[:5]} have no row in technologies",
            source="panel",
            column="series_id",
        )
    if metric_kinds is not None:
        dropped = cost.filter(~pl.col("metric_kind").is_in(list(metric_kinds)))
        for sid, nat, kind in dropped.select("series_id", "nation", "metric_kind").unique().rows():
            excluded.append(
                {"series_id": sid, "nation": nat, "reason": f"metric_kind {kind!r} not modelled"}
            )
        cost = cost.filter(pl.col("metric_kind").is_in(list(metric_kinds)))
    return cost


def _joined_levels(
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    experience: Mapping[str, str] | None,
    metric_kinds: tuple[str, ...] | None,
    series_ids: Iterable[str] | None,
    nations: Iterable[str] | None,
    experience_map: Sequence[ExperienceEntry] | None = None,
) -> tuple[pl.DataFrame, list[dict]]:
    _require(production, _PROD_COLS, "production")
    excluded: list[dict] = []
    cost = cost_with_technology(
        cost_observations, technologies, metric_kinds, series_ids, nations, excluded
    )
    if experience_map:
        experience_mod.check_against(experience_map, technologies, production, require_cost=False)
    mapped = _experience_frame(experience, experience_map)
    own_ids = production["series_id"].unique()
    cost = (
        cost.join(mapped, on="series_id", how="left")
        .with_columns(
            pl.col("_prod_series").fill_null(pl.col("series_id")),
            pl.col("_scope").fill_null("same_id"),
        )
        .filter(
            (pl.col("_first_year").is_null() | (pl.col("year") >= pl.col("_first_year")))
            & (pl.col("_last_year").is_null() | (pl.col("year") <= pl.col("_last_year")))
        )
    )
    outside = cost.filter(
        pl.col("_nations").is_not_null() & ~pl.col("_nations").list.contains(pl.col("nation"))
    ).unique(["series_id", "nation"])
    for sid, nat, nations in outside.select("series_id", "nation", "_nations").rows():
        excluded.append(
            {
                "series_id": sid,
                "nation": nat,
                "reason": f"no experience at this nation: its entry in "
                f"{experience_mod.EXPERIENCE_MAP_FILE.name} covers {'|'.join(nations)} only",
            }
        )
    cost = cost.join(
        outside.select("series_id", "nation"), on=["series_id", "nation"], how="anti"
    ).with_columns(
        pl.when(pl.col("_scope") == "world")
        .then(pl.lit(experience_mod.WORLD))
        .otherwise(pl.col("nation"))
        .alias("_prod_nation")
    )
    prod = production.select(
        pl.col("series_id").alias("_prod_series"),
        pl.col("nation").alias("_prod_nation"),
        "year",
        "cumulative_production",
        *([pl.col("unit").alias("production_unit")] if "unit" in production.columns else []),
    )
    joined = cost.join(prod, on=["_prod_series", "_prod_nation", "year"], how="left")
    no_prod = joined.group_by("series_id", "nation").agg(
        (pl.col("cumulative_production").fill_null(0) > 0).sum().alias("n"),
        pl.col("_prod_series").first(),
        pl.col("_prod_nation").first(),
        pl.col("_scope").first(),
    )
    for sid, nat, _, prod_sid, prod_nat, scope in no_prod.filter(pl.col("n") == 0).rows():
        if scope == "same_id" and sid not in own_ids:
            reason = (
                f"no experience: no production with this series_id and no entry in "
                f"{experience_mod.EXPERIENCE_MAP_FILE.name}"
            )
        else:
            reason = f"no positive cumulative production of {prod_sid} at {prod_nat} in its years"
        excluded.append({"series_id": sid, "nation": nat, "reason": reason})
    joined = joined.filter(pl.col("cumulative_production") > 0)
    if "production_unit" not in joined.columns:
        joined = joined.with_columns(pl.lit(None, pl.String).alias("production_unit"))
    return joined.drop("_scope", "_nations", "_first_year", "_last_year", "_prod_nation"), excluded


def finish_panel(
    levels: pl.DataFrame,
    excluded: list[dict],
    min_points: int,
    has_world: bool,
    *,
    one_per_technology: bool = False,
    has_experience: bool = True,
) -> Panel:
    """The :class:`Panel` of joined level points (one row per series, nation and year with
    ``unit_cost``, ``cumulative_production``, the technology columns): ``min_points`` filter,
    optionally one series per technology and nation (:mod:`.selection`), first differences and
    indices. Without experience (``has_experience=False``, time-trend panels) ``dlogq`` is 0."""
    if min_points < 2:
        raise DataError(f"min_points must be >= 2, got {min_points}", source="panel")
    levels = levels.sort("series_id", "nation", "year")
    counts = levels.group_by("series_id", "nation").agg(pl.len().alias("n"))
    for sid, nat, n in counts.filter(pl.col("n") < min_points).rows():
        excluded.append(
            {"series_id": sid, "nation": nat, "reason": f"{n} point(s) < min_points {min_points}"}
        )
    keep = counts.filter(pl.col("n") >= min_points).select("series_id", "nation")
    levels = levels.join(keep, on=["series_id", "nation"], how="semi")
    if one_per_technology:
        levels, dropped = selection.one_per_technology(levels)
        excluded.extend(dropped)
    if levels.height == 0:
        raise DataError(
            f"no series left with >= {min_points} points joined to production", source="panel"
        )
    n_nations = levels.group_by("series_id").agg(pl.col("nation").n_unique().alias("k"))
    levels = levels.join(n_nations, on="series_id").with_columns(
        pl.when(pl.col("k") > 1)
        .then(pl.format("{}[{}]", "series_id", "nation"))
        .otherwise(pl.col("series_id"))
        .alias("series")
    )
    levels = levels.with_columns(
        pl.col("unit_cost").log().alias("log_cost"),
        (pl.col("cumulative_production").log() if has_experience else pl.lit(0.0)).alias("log_q"),
    )
    if has_world:
        levels = levels.with_columns(pl.col("cumulative_world").log().alias("log_q_world"))

    industries = tuple(sorted(levels["industry"].unique().to_list()))
    technologies = tuple(sorted(levels["technology"].unique().to_list()))
    nations = tuple(sorted(levels["nation"].unique().to_list()))
    series_labels = sorted(levels["series"].unique().to_list())
    s_index = {s: i for i, s in enumerate(series_labels)}

    grp = ["series"]
    diffs = [
        pl.col("year").shift(1).over(grp).alias("year_prev"),
        (pl.col("log_cost") - pl.col("log_cost").shift(1)).over(grp).alias("dlogc"),
        (pl.col("log_q") - pl.col("log_q").shift(1)).over(grp).alias("dlogq"),
    ]
    if has_world:
        diffs.append(
            (pl.col("log_q_world") - pl.col("log_q_world").shift(1)).over(grp).alias("dlogq_world")
        )
    obs = (
        levels.sort("series", "year")
        .with_columns(diffs)
        .filter(pl.col("year_prev").is_not_null())
        .with_columns((pl.col("year") - pl.col("year_prev")).cast(pl.Float64).alias("dt"))
    )
    obs = obs.with_columns(
        pl.int_range(pl.len()).over("series").alias("pos"),
        pl.col("series").replace_strict(s_index, return_dtype=pl.Int64).alias("series_idx"),
        pl.col("industry")
        .replace_strict({v: i for i, v in enumerate(industries)}, return_dtype=pl.Int64)
        .alias("industry_idx"),
        pl.col("technology")
        .replace_strict({v: i for i, v in enumerate(technologies)}, return_dtype=pl.Int64)
        .alias("technology_idx"),
        pl.col("nation")
        .replace_strict({v: i for i, v in enumerate(nations)}, return_dtype=pl.Int64)
        .alias("nation_idx"),
    ).sort("series_idx", "pos")
    obs_cols = [
        "series", "series_id", "technology", "industry", "nation", "year", "year_prev", "dt",
        "dlogc", "dlogq", *(["dlogq_world"] if has_world else []),
        "pos", "series_idx", "industry_idx", "technology_idx", "nation_idx",
    ]  # fmt: skip
    obs = obs.select(obs_cols)
    if obs.select(pl.col("dlogq") < 0).to_series().any():
        r = obs.filter(pl.col("dlogq") < 0).row(0, named=True)
        raise DataError(
            f"cumulative production falls in {r['series']} {r['year_prev']}->{r['year']}",
            source="panel",
            column="cumulative_production",
        )

    series = (
        levels.group_by("series")
        .agg(
            pl.col("series_id").first(),
            pl.col("technology").first(),
            pl.col("industry").first(),
            pl.col("nation").first(),
            pl.col("unit").first(),
            pl.col("production_unit").first(),
            pl.col("metric_kind").first(),
            pl.len().alias("n_points"),
            pl.col("year").min().alias("first_year"),
            pl.col("year").max().alias("last_year"),
        )
        .with_columns((pl.col("n_points") - 1).alias("n_diffs"))
        .join(
            obs.select(
                "series", "series_idx", "industry_idx", "technology_idx", "nation_idx"
            ).unique("series"),
            on="series",
        )
        .sort("series_idx")
    )
    level_cols = [
        "series", "series_id", "technology", "industry", "nation", "year", "unit_cost",
        "cumulative_production", *(["cumulative_world"] if has_world else []),
        "log_cost", "log_q", *(["log_q_world"] if has_world else []), "unit", "production_unit",
    ]  # fmt: skip
    excluded_df = pl.DataFrame(
        excluded, schema={"series_id": pl.String, "nation": pl.String, "reason": pl.String}
    ).sort("series_id", "nation")
    return Panel(
        obs=obs,
        levels=levels.sort("series", "year").select(level_cols),
        series=series,
        excluded=excluded_df,
        industries=industries,
        technologies=technologies,
        nations=nations,
        has_world=has_world,
        has_experience=has_experience,
        meta={"min_points": min_points},
    )


def build_panel(
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    *,
    experience: Mapping[str, str] | None = None,
    min_points: int = 6,
    metric_kinds: tuple[str, ...] | None = COST_METRIC_KINDS,
    series_ids: Iterable[str] | None = None,
    nations: Iterable[str] | None = None,
    experience_map: Sequence[ExperienceEntry] | None = None,
    one_per_technology: bool = False,
) -> Panel:
    """Join costs to cumulative production and take first differences (see module docstring).

    Args:
        cost_observations, production, technologies: warehouse tables (schema.TABLES).
        experience: cost series_id -> production series_id whose cumulative production (same
            nation) is the experience variable (default: the same series_id).
        experience_map: declared entries (:mod:`learnrace_pipeline.lib.vocab.experience_map`):
            production series, national or world scope, years; checked against the tables
            (entries whose cost series is absent are skipped). ``experience`` wins over it.
        one_per_technology: keep one series per technology and nation (:mod:`.selection`).
        min_points: minimum joined points per series (>= 2).
        metric_kinds: keep only these metric kinds (``None``: keep all).
        series_ids, nations: optional subsets.

    Raises:
        DataError: missing columns, non-positive costs, cost series unknown to ``technologies``,
            a bad experience-map entry, falling cumulative production, or nothing left after
            the filters.
    """
    joined, excluded = _joined_levels(
        cost_observations,
        production,
        technologies,
        experience,
        metric_kinds,
        series_ids,
        nations,
        experience_map,
    )
    panel = finish_panel(
        joined, excluded, min_points, has_world=False, one_per_technology=one_per_technology
    )
    if experience_map is None and not one_per_technology:
        return panel
    reasons = selection.copies_of_kept(panel.excluded, panel.series, technologies)
    return dataclasses.replace(panel, excluded=reasons)


def build_nation_panel(
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    *,
    experience: Mapping[str, str],
    world_nation: str = "WLD",
    min_points: int = 6,
    metric_kinds: tuple[str, ...] | None = COST_METRIC_KINDS,
    series_ids: Iterable[str] | None = None,
) -> Panel:
    """A panel of national cost series with national *and* world cumulative production.

    For each cost series (nation ``n``), national Q is the production series
    ``experience[series_id]`` at nation ``n`` and world Q is the same production series at
    ``world_nation``; only years with both (and a cost) are kept. World-level cost series are
    dropped (their national and world experience coincide).
    """
    cost = cost_observations.filter(pl.col("nation") != world_nation)
    joined, excluded = _joined_levels(
        cost, production, technologies, experience, metric_kinds, series_ids, None
    )
    world = production.filter(pl.col("nation") == world_nation).select(
        pl.col("series_id").alias("_prod_series"),
        "year",
        pl.col("cumulative_production").alias("cumulative_world"),
    )
    joined = joined.join(world, on=["_prod_series", "year"], how="inner").filter(
        pl.col("cumulative_world") > 0
    )
    return finish_panel(joined, excluded, min_points, has_world=True)


def pooled_wright_panel(
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    technologies: pl.DataFrame,
    *,
    series_ids: Iterable[str] | None = None,
    min_points: int = 6,
) -> Panel:
    """The pooled learning-curve panel: every cost-like series with experience (production
    under its own id, or the declared experience map's entry), at least ``min_points`` joined
    points, one series per technology and nation (:mod:`.selection`)."""
    return build_panel(
        cost_observations,
        production,
        technologies,
        experience_map=experience_mod.load(),
        one_per_technology=True,
        series_ids=series_ids,
        min_points=min_points,
    )


def load_tables(
    sources: Sequence[str], *, datasets: str | None = None, raw_dir: str | None = None
) -> dict[str, pl.DataFrame]:
    """``cost_observations``, ``production`` and ``technologies`` of ``sources`` stacked, read
    from the ``datasets/`` snapshot (default) or, with ``raw_dir``, parsed from the raw files."""
    parts: dict[str, list[pl.DataFrame]] = {
        "cost_observations": [],
        "production": [],
        "technologies": [],
    }
    for source in sources:
        if raw_dir is not None:
            tables = reader(source).read(Path(raw_dir))
        else:
            tables = snapshot.load(
                Path(datasets) if datasets else snapshot.DEFAULT_DATASETS, source
            )
        for name, frames in parts.items():
            if name in tables:
                frames.append(
                    tables[name].select([c for c in tables[name].columns if not c.startswith("_")])
                )
    return {k: pl.concat(v, how="diagonal_relaxed") for k, v in parts.items()}


def load_panel(
    sources: Sequence[str] = ("pcdb_carnegie",),
    *,
    datasets: str | None = None,
    raw_dir: str | None = None,
    min_points: int = 6,
) -> Panel:
    """The pooled Wright panel (:func:`pooled_wright_panel`) of ``sources``, read from the
    ``datasets/`` snapshot (default) or, with ``raw_dir``, parsed from the raw files."""
    t = load_tables(sources, datasets=datasets, raw_dir=raw_dir)
    return pooled_wright_panel(
        t["cost_observations"], t["production"], t["technologies"], min_points=min_points
    )
