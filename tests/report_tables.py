"""Race and evaluation tables for report tests: the race tables built by the race's own
functions (``closing.race_table``, ``closing.pairwise``, ``scenarios.scenario_shift``) from
seeded closing-year draws, cost-hindcast scores by the evaluation's ``score_table``, and a
warehouse holding them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.evaluation.hindcast_scores import horizon_group
from learnrace_pipeline.lib.evaluation.scores import INTERVALS, score_table
from learnrace_pipeline.lib.race.closing import Closing, pairwise, race_table
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric, RaceSpec
from learnrace_pipeline.lib.storage import warehouse

N_DRAWS = 400
#: (industry, nation) that holds every threshold in the data already, and its year.
ALREADY_CLOSED = {("solar_pv", "CHN"): 2015}


def closing(ind: IndustrySpec, seed: int, shift: float = 0.0) -> Closing:
    """Seeded closing-year draws of one industry as the race's :class:`Closing`: 2024 plus
    gamma-distributed waiting times (+ ``shift`` years), rounded up, ``horizon + 1`` past the
    horizon; an already-closed nation's draws are its year; roles a nation declares missing
    are unmeasured."""
    rng = np.random.default_rng(seed)
    roles = [r for r in ("capability", "volume", "cost") if isinstance(getattr(ind, r), Metric)]
    cols, measured, unmeasured, closed = [], {}, {}, {}
    for e in ind.nations:
        year = ALREADY_CLOSED.get((ind.id, e.code))
        if year is not None:
            d = np.full(N_DRAWS, float(year))
        else:
            k, theta = 2.0 + rng.uniform(0, 3), 2.5 + rng.uniform(0, 4)
            d = np.ceil(2024 + shift + rng.gamma(k, theta, N_DRAWS))
            d = np.minimum(d, ind.horizon + 1)
        cols.append(d)
        missing = dict(e.missing)
        measured[e.code] = tuple(r for r in roles if r not in missing)
        unmeasured[e.code] = tuple(missing.items())
        closed[e.code] = year
    years = xr.DataArray(np.stack(cols, axis=1), dims=("draw", "nation"),
                         coords={"nation": [e.code for e in ind.nations]})  # fmt: skip
    last = dict.fromkeys(measured, 2023)
    return Closing(ind.id, ind.horizon, years, measured, unmeasured, last, closed)


def race_tables(spec: RaceSpec, seed: int = 7) -> dict[tuple[str, str], pl.DataFrame]:
    """``race.race``, ``race.pairwise`` and ``race.scenarios`` built by the race's own table
    functions from :func:`closing` draws (each scenario: the base draws shifted by a seeded
    number of years, its rows by ``compute.scenario_rows``: the scenario's race rows with the
    shift columns and ``scenario``); ``race.attribution`` as quantiles of seeded shares and
    declines (:func:`attribution_row`); ``evaluation.race_hindcast`` as seeded outcomes
    against N(0, 1) forecasts, and its coverage table."""
    from learnrace_pipeline.lib.race.compute import RaceResult, scenario_rows

    rng = np.random.default_rng(seed + 1)
    race, pairs, shifts, attribution, hindcast = [], [], [], [], []
    for i, ind in enumerate(spec.industries):
        if ind.status != "data":
            race.append(race_table(ind, None))
            continue
        base = closing(ind, seed + i)
        race.append(race_table(ind, base))
        pairs.append(pairwise(base))
        for sc in spec.scenarios:
            moved = race_table(ind, closing(ind, seed + i, shift=float(rng.normal(0, 2))))
            result = RaceResult(sc.name, moved, pl.DataFrame(), {}, {})
            shifts.append(scenario_rows(race[-1], result))
        for e in ind.nations:
            attribution.append(attribution_row(ind.id, e.code, rng))
            for origin in (2012, 2015, 2018):
                for role in ("volume", "capability"):
                    for horizon in range(1, 7):
                        z = rng.normal(0.0, 1.2)  # a little wider than the forecasts think
                        hindcast.append({
                            "origin": origin, "industry": ind.id, "nation": e.code,
                            "role": role, "model": "test", "target_year": origin + horizon,
                            "horizon": horizon, "observed": float(z),
                            "inside50": bool(abs(z) <= 0.674), "inside90": bool(abs(z) <= 1.645),
                            "log_pinball": abs(float(z)) * 0.1,
                        })  # fmt: skip
    return {
        ("race", "race"): pl.concat(race),
        ("race", "pairwise"): pl.concat(pairs),
        ("race", "attribution"): pl.DataFrame(attribution),
        ("race", "scenarios"): pl.concat(shifts),
        ("evaluation", "race_hindcast"): pl.DataFrame(hindcast),
        ("evaluation", "race_hindcast_coverage"): race_hindcast_coverage(pl.DataFrame(hindcast)),
    }


#: The parts of the cost decline ``race.attribution`` splits it into.
ATTRIBUTION_PARTS = ("own_deployment", "world_spillover", "time_research")


def attribution_row(industry: str, nation: str, rng: np.random.Generator) -> dict:
    """One ``race.attribution`` row from seeded draws: the log cost decline 2020-2035 (gamma
    draws) and its shares (Dirichlet(3, 2, 1) draws), each as its 5%, 50% and 95% quantiles."""
    decline = rng.gamma(4.0, 0.4, 500)
    shares = rng.dirichlet([3.0, 2.0, 1.0], 500)
    row: dict = {"industry": industry, "nation": nation, "from_year": 2020, "to_year": 2035}
    for q in (5, 50, 95):
        row[f"decline_log_q{q:02d}"] = float(np.quantile(decline, q / 100))
    for k, part in enumerate(ATTRIBUTION_PARTS):
        for q in (5, 50, 95):
            row[f"share_{part}_q{q:02d}"] = float(np.quantile(shares[:, k], q / 100))
    return row | {"n_draws_positive": 500, "source": "test draws", "note": None}


def race_hindcast_coverage(rows: pl.DataFrame) -> pl.DataFrame:
    """Coverage of the race hindcast's 50% and 90% intervals by role and horizon group."""
    group = horizon_group(pl.col("horizon")).alias("horizon_group")
    return (
        rows.with_columns(group)
        .group_by("role", "horizon_group")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("inside50").cast(pl.Float64).mean().alias("coverage_50"),
            pl.col("inside90").cast(pl.Float64).mean().alias("coverage_90"),
            pl.col("log_pinball").mean(),
        )
        .sort("role", "horizon_group")
    )


def evaluation_tables(seed: int = 11) -> dict[tuple[str, str], pl.DataFrame]:
    """``evaluation.scores_by_horizon(_group)`` scored by the project's ``score_table`` from
    seeded forecasts: outcomes N(b*h, 1) against a N(0, 1) predictive, so coverage falls with
    the horizon where the bias b is not 0."""
    rng = np.random.default_rng(seed)
    frames = []
    from scipy.stats import norm

    for model, bias in (("pooled_wright", 0.0), ("no_change", 0.15)):
        h = rng.integers(1, 11, 3000)
        z = rng.normal(bias * h, 1.0)
        frames.append(pl.DataFrame({
            "model": model, "horizon": h.astype(np.int32), "series_id": rng.integers(0, 40, 3000).astype(str),
            **{f"cover{k}": np.abs(z) <= norm.ppf(0.5 + k / 200) for k in INTERVALS},
            "log_pinball": np.abs(z) * 0.1, "log_error": -z * 0.1, "crps": np.abs(z) * 0.2,
            "pit": norm.cdf(z),
        }))  # fmt: skip
    f = pl.concat(frames)
    return {
        ("evaluation", "scores_by_horizon"): score_table(f, ["model", "horizon"]),
        ("evaluation", "scores_by_horizon_group"): score_table(
            f.with_columns(horizon_group(pl.col("horizon")).alias("horizon_group")),
            ["model", "horizon_group"],
        ),
    }


def learning_tables(seed: int = 13) -> dict[tuple[str, str], pl.DataFrame]:
    """``calibration.learning_rates`` (industry rows for solar and semiconductors, series rows)
    and ``harmonized.technologies`` naming the series' industries: learning rates
    1 - 2^-w of seeded exponents w."""
    rng = np.random.default_rng(seed)
    rows, tech = [], []
    for industry, n in (("solar", 4), ("semiconductors", 3)):
        for level, name in [("industry", industry)] + [
            ("series", f"src:{industry}_{k}") for k in range(n)
        ]:
            w = rng.normal(0.35, 0.05, 500)
            lr = 1 - 2.0**-w
            rows.append({"level": level, "name": name, "model": "wright_student_t_ma1",
                         "lr_mean": lr.mean(), "lr_q05": np.quantile(lr, 0.05),
                         "lr_q95": np.quantile(lr, 0.95), "n_series": 1 if level == "series" else n,
                         "n_points": 20})  # fmt: skip
            if level == "series":
                tech.append(
                    {"series_id": name, "technology": name.split(":")[1], "industry": industry}
                )
    return {
        ("calibration", "learning_rates"): pl.DataFrame(rows),
        ("harmonized", "technologies"): pl.DataFrame(tech),
    }


def ledger_table(folder: Path) -> pl.DataFrame:
    """``race.ledger`` as the race writes it (``ledger.list_vintages``) of a forecast ledger in
    ``folder``: a base and a scenario vintage of four volume forecasts (quantiles 1..7), the
    base one scored against outcomes 4, 6.5, 2 and 10 (inside 90%: 3 of 4, inside 50%: 1)."""
    from learnrace_pipeline.lib.race.ledger import (
        QCOLS,
        append_vintage,
        list_vintages,
        make_vintage,
    )
    from learnrace_pipeline.lib.race.ledger_scores import record_scores

    path = folder / "ledger.duckdb"
    rows = pl.DataFrame({
        "industry": ["solar_pv"] * 4, "nation": ["CHN", "USA", "CHN", "USA"],
        "quantity": ["volume"] * 4, "target_year": [2030, 2030, 2031, 2031],
        "unit": ["fraction"] * 4, **{c: [float(k + 1)] * 4 for k, c in enumerate(QCOLS)},
    })  # fmt: skip
    for day, scenario in ((2, "base"), (3, "no_spillover")):
        v = make_vintage(rows, data_version="0123456789abcdef", code_version="0.1+abc",
                         scenario=scenario, seed=11, created_at=dt.datetime(2026, 1, day, 3, 4))  # fmt: skip
        append_vintage(path, v)
        if scenario == "base":
            observed = rows.select(
                "industry", "nation", "quantity", pl.col("target_year").alias("year")
            ).with_columns(value=pl.Series([4.0, 6.5, 2.0, 10.0]))
            record_scores(path, observed)
    return list_vintages(path)


def write_warehouse(path: Path, spec: RaceSpec, *, race: bool = True) -> Path:
    """A warehouse at ``path`` with the evaluation and learning tables, and the race tables
    (with ``race.ledger`` of a ledger beside it) when ``race``."""
    tables = evaluation_tables() | learning_tables()
    if race:
        tables |= race_tables(spec)
        tables[("race", "ledger")] = ledger_table(path.parent)
    warehouse.write_tables(path, tables)
    return path
