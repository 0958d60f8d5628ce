"""AI frontier data: the ``ai_models`` table checked and the frontier points selected.

See :mod:`.frontier` for the selection rule (record-setters per nation, whole history, window
from ``start``), the nation handling (a model counts for each of its countries; Hong Kong folded
into China; ``MULTI`` dropped) and the model. Also :func:`simulate_frontier_data` for recovery
tests and benchmarks.
"""

from __future__ import annotations

import datetime as dt_
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError

SOURCE = "ai_models"
T0 = 2020.0  # reference date of the intercepts (decimal year)
NOT_NATIONS = frozenset({"MULTI", "WLD", "ROW", "OTHER", "EUROPE", "EU27"})
SPECULATIVE = "Speculative"
RATED = ("Confident", "Likely", SPECULATIVE)
Selection = Literal["records", "top_k"]
Dataset = Literal["notable", "union"]


@dataclass(frozen=True)
class FrontierPriors:
    """Prior scales of the frontier model (log10 FLOP, years)."""

    alpha_mu: tuple[float, float] = (23.0, 2.0)  # log10 FLOP of the frontier at 2020.0
    alpha_nation_sd: float = 1.5  # fixed scale of nation intercepts around alpha_mu
    beta_mu: tuple[float, float] = (0.5, 0.3)  # OOM per year
    beta_nation_sd: float = 0.2  # fixed scale of nation slopes around beta_mu (OOM per year)
    sigma: float = 0.5  # half-normal scale of the residual sd of records
    tau_speculative: float = 0.5  # half-normal scale of the extra sd of Speculative values
    tau_unrated: float = 0.5  # half-normal scale of the extra sd of unrated values

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FrontierConfig:
    """What defines a frontier fit (hashed into the model id)."""

    selection: Selection = "records"
    top_k: int = 3
    dataset: Dataset = "notable"
    start: str = "2015-01-01"  # ISO date: models before it are ignored
    min_points: int = 5  # nations with fewer selected points are left out
    fold: tuple[tuple[str, str], ...] = (("HKG", "CHN"),)
    priors: FrontierPriors = field(default_factory=FrontierPriors)


def decimal_year(d: pl.Expr) -> pl.Expr:
    """Decimal year of a polars Date expression (day of year / days in year)."""
    days = pl.when(d.dt.is_leap_year()).then(366.0).otherwise(365.0)
    return d.dt.year().cast(pl.Float64) + (d.dt.ordinal_day().cast(pl.Float64) - 1.0) / days


def to_decimal_year(d: dt_.date) -> float:
    """Decimal year of a date (as :func:`decimal_year`)."""
    days = 366.0 if (d.year % 4 == 0 and (d.year % 100 != 0 or d.year % 400 == 0)) else 365.0
    return d.year + (d.timetuple().tm_yday - 1) / days


def _check_input(ai: pl.DataFrame) -> None:
    need = [
        "model",
        "nations",
        "publication_date",
        "training_compute_flop",
        "confidence",
        "dataset",
    ]
    missing = [c for c in need if c not in ai.columns]
    if missing:
        raise DataError(f"missing columns {missing}", source=SOURCE, column=missing[0])
    df = ai.with_row_index("_i", offset=1)
    c = pl.col("training_compute_flop")

    def fail(mask: pl.Expr, column: str, problem: str) -> None:
        bad = df.filter(mask)
        if bad.height:
            r = bad.row(0, named=True)
            raise DataError(
                f"{problem} (model {r['model']!r}, dataset {r['dataset']!r}; {bad.height} such rows)",
                source=SOURCE,
                row=int(r["_i"]),
                column=column,
            )

    fail(c.is_not_null() & ~c.is_finite(), "training_compute_flop", "compute is not finite")
    fail(c.is_not_null() & (c <= 0), "training_compute_flop", "compute is not positive")
    fail(c.is_not_null() & pl.col("publication_date").is_null(), "publication_date", "no date")
    fail(pl.col("model").is_null(), "model", "model name is missing")


def select_frontier(ai_models: pl.DataFrame, config: FrontierConfig | None = None) -> pl.DataFrame:
    """The frontier observations: one row per (nation, model) selected by ``config``.

    Columns: nation, model, publication_date, t (decimal year), log10_flop, confidence,
    confidence_class ("rated" | "speculative" | "unrated"). Rows without compute cannot be on
    a frontier and are not used; rows without any nation are dropped. Raises
    :class:`DataError` naming the row for non-positive or non-finite compute and for compute
    without a date.
    """
    cfg = config or FrontierConfig()
    _check_input(ai_models)
    start = dt_.date.fromisoformat(cfg.start)
    # records are judged against each nation's whole history; the fit window starts at `start`
    df = ai_models.filter(pl.col("training_compute_flop").is_not_null())
    if cfg.dataset == "notable":
        df = df.filter(pl.col("dataset").is_in(["notable", "both"]))
    elif cfg.dataset == "union":
        # the two Epoch files overlap; keep one row per (name, date), notable first
        df = (
            df.with_columns(pl.col("model").str.strip_chars().str.to_lowercase().alias("_key"))
            .sort(pl.col("dataset") != "notable")
            .unique(["_key", "publication_date"], keep="first", maintain_order=True)
            .drop("_key")
        )
    else:
        raise ModelError(f"unknown dataset {cfg.dataset!r}: use 'notable' or 'union'")
    fold = dict(cfg.fold)
    long = (
        df.filter(pl.col("nations").is_not_null())
        .explode("nations")
        .rename({"nations": "nation"})
        .filter(pl.col("nation").is_not_null() & ~pl.col("nation").is_in(list(NOT_NATIONS)))
        .with_columns(pl.col("nation").replace(fold))
        .unique(["nation", "model", "publication_date", "dataset"], maintain_order=True)
        .with_columns(
            decimal_year(pl.col("publication_date")).alias("t"),
            pl.col("training_compute_flop").log10().alias("log10_flop"),
            pl.when(pl.col("confidence").is_in(["Confident", "Likely"]))
            .then(pl.lit("rated"))
            .when(pl.col("confidence") == SPECULATIVE)
            .then(pl.lit("speculative"))
            .otherwise(pl.lit("unrated"))
            .alias("confidence_class"),
        )
        .sort("nation", "publication_date", pl.col("log10_flop").neg(), "model")
    )
    if cfg.selection == "records":
        sel = long.filter(
            pl.col("log10_flop")
            > pl.col("log10_flop").cum_max().shift(1, fill_value=-np.inf).over("nation")
        )
    elif cfg.selection == "top_k":
        sel = (
            long.with_columns(pl.col("publication_date").dt.year().alias("_y"))
            .sort("nation", "_y", pl.col("log10_flop").neg(), "model")
            .with_columns(pl.int_range(pl.len()).over("nation", "_y").alias("_r"))
            .filter(pl.col("_r") < cfg.top_k)
            .drop("_y", "_r")
        )
    else:
        raise ModelError(f"unknown selection {cfg.selection!r}: use 'records' or 'top_k'")
    sel = sel.filter(pl.col("publication_date") >= start)
    return sel.select(
        "nation", "model", "publication_date", "t", "log10_flop", "confidence", "confidence_class"
    ).sort("nation", "publication_date", "model")


@dataclass(frozen=True)
class FrontierData:
    """Model-ready frontier observations (log10 FLOP against decimal years)."""

    nations: list[str]
    points: pl.DataFrame  # select_frontier rows of the fitted nations
    excluded: pl.DataFrame  # nations left out (too few points)


def prepare_frontier_data(
    ai_models: pl.DataFrame, config: FrontierConfig | None = None
) -> FrontierData:
    """Select the frontier points and keep nations with at least ``min_points`` of them."""
    cfg = config or FrontierConfig()
    sel = select_frontier(ai_models, cfg)
    counts = sel.group_by("nation").agg(pl.len().alias("n_points"))
    keep = sorted(counts.filter(pl.col("n_points") >= cfg.min_points)["nation"].to_list())
    if not keep:
        raise ModelError(f"no nation has >= {cfg.min_points} frontier points from {cfg.start}")
    excluded = counts.filter(~pl.col("nation").is_in(keep)).sort("nation")
    pts = sel.filter(pl.col("nation").is_in(keep)).sort("nation", "publication_date", "model")
    return FrontierData(nations=keep, points=pts, excluded=excluded)


def simulate_frontier_data(
    *,
    seed: int,
    truth: dict[str, tuple[float, float]] | None = None,
    n_points: int = 12,
    sigma: float = 0.4,
    years: tuple[float, float] = (2015.0, 2024.5),
    speculative_share: float = 0.2,
    speculative_extra: float = 0.5,
) -> FrontierData:
    """Frontier points simulated from the model: ``truth`` maps nation -> (alpha at 2020.0 in
    log10 FLOP, beta in OOM per year); dates uniform in ``years``; a share of points is
    Speculative with extra noise ``speculative_extra``; the rest Confident."""
    rng = np.random.default_rng(seed)
    truth = truth or {"USA": (23.0, 0.62), "CHN": (21.8, 0.70), "GBR": (22.6, 0.55)}
    rows = []
    for nation, (a, b) in truth.items():
        t = np.sort(rng.uniform(*years, size=n_points))
        spec = rng.random(n_points) < speculative_share
        sd = np.sqrt(sigma**2 + speculative_extra**2 * spec)
        y = a + b * (t - T0) + sd * rng.standard_normal(n_points)
        for k in range(n_points):
            year = int(t[k])
            day = int((t[k] - year) * 365)
            rows.append(
                {
                    "nation": nation,
                    "model": f"{nation}-{k}",
                    "publication_date": dt_.date(year, 1, 1) + dt_.timedelta(days=day),
                    "log10_flop": float(y[k]),
                    "confidence": SPECULATIVE if spec[k] else "Confident",
                    "confidence_class": "speculative" if spec[k] else "rated",
                }
            )
    pts = (
        pl.DataFrame(rows)
        .with_columns(decimal_year(pl.col("publication_date")).alias("t"))
        .select(
            "nation",
            "model",
            "publication_date",
            "t",
            "log10_flop",
            "confidence",
            "confidence_class",
        )
        .sort("nation", "publication_date", "model")
    )
    return FrontierData(nations=sorted(truth), points=pts, excluded=pl.DataFrame())
