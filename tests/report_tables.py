"""Race and evaluation tables for report tests, summarised from seeded draws by the same
formulas the race uses (median and 10%/90% quantiles of each nation's closing-year draws,
P(closed by the horizon), P(first)), and a warehouse holding them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from learnrace_pipeline.lib.evaluation.hindcast_scores import horizon_group
from learnrace_pipeline.lib.evaluation.scores import INTERVALS, score_table
from learnrace_pipeline.lib.race.spec import RaceSpec
from learnrace_pipeline.lib.storage import warehouse

N_DRAWS = 400
#: (industry, nation) that holds every threshold in the data already, and its year.
ALREADY_CLOSED = {("solar_pv", "CHN"): 2015}


def closing_draws(spec: RaceSpec, seed: int = 7) -> dict[tuple[str, str], np.ndarray]:
    """Closing-year draws per (industry, nation): 2024 + gamma-distributed waiting times
    (seeded), inf where the draw does not close by 2100; an already-closed nation's draws are
    its year."""
    rng = np.random.default_rng(seed)
    out = {}
    for ind in spec.industries:
        for e in ind.nations:
            if (ind.id, e.code) in ALREADY_CLOSED:
                out[ind.id, e.code] = np.full(N_DRAWS, float(ALREADY_CLOSED[ind.id, e.code]))
                continue
            d = 2024 + rng.gamma(2.0 + rng.uniform(0, 3), 2.5 + rng.uniform(0, 4), N_DRAWS)
            d[d > 2100] = np.inf
            out[ind.id, e.code] = np.ceil(d)
    return out


def race_tables(spec: RaceSpec, seed: int = 7) -> dict[tuple[str, str], pl.DataFrame]:
    """``race.race``, ``race.pairwise``, ``race.attribution``, ``race.scenarios`` and
    ``race.race_hindcast`` from :func:`closing_draws`."""
    rng = np.random.default_rng(seed + 1)
    draws = closing_draws(spec, seed)
    race, pairwise, attribution, scenarios, hindcast = [], [], [], [], []
    for ind in spec.industries:
        if ind.status == "no_data":
            race.append({"industry": ind.id, "industry_name": ind.name, "nation": None,
                         "status": "no_data", "missing": ind.missing})  # fmt: skip
            continue
        codes = [e.code for e in ind.nations]
        stack = np.stack([draws[ind.id, c] for c in codes])
        first = np.argmin(stack, axis=0)
        for i, e in enumerate(ind.nations):
            d = stack[i]
            closed_year = ALREADY_CLOSED.get((ind.id, e.code))
            race.append({
                "industry": ind.id, "industry_name": ind.name, "nation": e.code,
                "archetype": e.archetype,
                "closing_median": float(np.median(d)),
                "closing_q10": float(np.quantile(d, 0.1)),
                "closing_q90": float(np.quantile(d, 0.9)),
                "p_closed_by_horizon": float(np.mean(d <= ind.horizon)),
                "p_first": float(np.mean(first == i)),
                "already_closed": closed_year is not None,
                "closed_year": closed_year,
                "unmeasured_roles": ",".join(r for r, _ in e.missing) or None,
                "leading_strategy": ind.nations[int(np.bincount(first).argmax())].archetype,
                "status": "data",
                "missing": "; ".join(w for _, w in e.missing) or None,
            })  # fmt: skip
            share = rng.dirichlet([3.0, 2.0, 1.0])
            attribution.append({"industry": ind.id, "nation": e.code,
                                "own_deployment": share[0], "world_spillover": share[1],
                                "time_research": share[2]})  # fmt: skip
            base = float(np.median(d))
            for sc in spec.scenarios:
                shift = float(rng.normal(0, 1.5))
                scenarios.append({"scenario": sc.name, "industry": ind.id, "nation": e.code,
                                  "closing_median_base": base,
                                  "closing_median_scenario": base + shift,
                                  "shift_years": shift})  # fmt: skip
            for origin in (2012, 2015, 2018):
                hindcast.append({"industry": ind.id, "nation": e.code, "origin": origin,
                                 "metric": "volume", "coverage50": rng.uniform(0.3, 0.7),
                                 "coverage90": rng.uniform(0.7, 1.0)})  # fmt: skip
        for i in range(len(codes)):
            for j in range(i + 1, len(codes)):
                a, b = stack[i], stack[j]
                pairwise.append({
                    "industry": ind.id, "nation_a": codes[i], "nation_b": codes[j],
                    "p_a_first": float(np.mean((a < b) & (a <= ind.horizon))),
                    "p_b_first": float(np.mean((b < a) & (b <= ind.horizon))),
                    "p_neither": float(np.mean((a > ind.horizon) & (b > ind.horizon))),
                })  # fmt: skip
    schema = {"industry": pl.String, "industry_name": pl.String, "nation": pl.String,
              "archetype": pl.String, "closing_median": pl.Float64, "closing_q10": pl.Float64,
              "closing_q90": pl.Float64, "p_closed_by_horizon": pl.Float64,
              "p_first": pl.Float64, "already_closed": pl.Boolean, "closed_year": pl.Int32,
              "unmeasured_roles": pl.String, "leading_strategy": pl.String,
              "status": pl.String, "missing": pl.String}  # fmt: skip
    race_df = pl.DataFrame(race, schema=schema)
    # inf draws: a nation that does not close by 2100 in most draws has no median
    race_df = race_df.with_columns(
        pl.col(c).replace(float("inf"), None) for c in ("closing_median", "closing_q10", "closing_q90")
    )  # fmt: skip
    return {
        ("race", "race"): race_df,
        ("race", "pairwise"): pl.DataFrame(pairwise),
        ("race", "attribution"): pl.DataFrame(attribution),
        ("race", "scenarios"): pl.DataFrame(scenarios),
        ("race", "race_hindcast"): pl.DataFrame(hindcast),
    }


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


def write_warehouse(path: Path, spec: RaceSpec, *, race: bool = True) -> Path:
    """A warehouse at ``path`` with the evaluation and learning tables, and the race tables
    when ``race``."""
    tables = evaluation_tables() | learning_tables()
    if race:
        tables |= race_tables(spec)
    warehouse.write_tables(path, tables)
    return path
