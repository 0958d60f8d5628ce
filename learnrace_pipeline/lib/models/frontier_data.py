"""AI frontier data: the ``ai_models`` table checked, each nation's running record, the record
setters the model is fitted to and the time cells of its record-process likelihood.

Definitions (dates as decimal years, compute as log10 FLOP; the nation is the one each model is
credited to, column ``nation``, see :mod:`learnrace_pipeline.lib.vocab.ai_organizations`):

- **record** R_n(t): the largest training compute of any model of nation n published on or
  before t. :func:`running_records` lists the models that raised it (whole history).
- **data end** T_end: the last date the data covers: ``end`` minus one day when ``end`` is given
  (a hindcast origin: only models published before it are used), else the last publication date.
- **entry** of a nation: its first record setter published from ``start`` that is
  frontier-scale (column ``frontier_scale``: >= 1e23 FLOP or within 10x of the world record when
  published). **Record setters fitted** (``selection="frontier_records"``, the default): the
  entry and every later record of the nation up to T_end. A nation's earlier records (1e15-1e20
  FLOP while the world frontier was at 1e21-1e23) describe a catch-up, not a frontier, and would
  pull a shared-slope trend far off. ``selection="records"`` fits every record from ``start``
  (the entry is then the first of them).
- **modelled nation**: one with at least ``min_records`` record setters fitted; the others are
  reported with their record and no trend ("insufficient data").
- **record events**: a modelled nation's record setters after its entry. **Cells**: its window
  from the entry to T_end cut at every record date and at month starts, with the record in force
  in each cell; the model integrates its rate of record-beating runs over them.

Also :func:`simulate_frontier_data`, a record process drawn from the model itself.
"""

from __future__ import annotations

import datetime as dt_
import itertools
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError

SOURCE = "ai_models"
T0 = 2020.0  # reference date of the intercepts (decimal year)
SPECULATIVE = "Speculative"
Selection = Literal["records", "frontier_records"]
CLASSES = ("rated", "speculative", "unrated")


@dataclass(frozen=True)
class FrontierPriors:
    """Prior scales of the frontier model (log10 FLOP, years)."""

    alpha_mu: tuple[float, float] = (23.0, 2.0)  # log10 FLOP of the common trend at 2020.0
    alpha_nation_sd: float = 1.5  # fixed scale of nation levels around alpha_mu
    beta_mu: tuple[float, float] = (0.5, 0.3)  # common slope, OOM per year
    beta_nation_sd: float = 0.1  # fixed, small: nation slopes pooled hard to the common one
    sigma: tuple[float, float] = (4.0, 8.0)  # Gamma(shape, rate) of the sd of rated runs
    tau_speculative: float = 0.5  # half-normal scale of the extra sd of Speculative values
    tau_unrated: float = 0.5  # half-normal scale of the extra sd of unrated values
    runs: tuple[float, float] = (2.0, 1.0)  # Gamma(shape, rate) of frontier runs per year

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FrontierConfig:
    """What defines a frontier fit (hashed into the model id)."""

    selection: Selection = "frontier_records"
    start: str = "2015-01-01"  # ISO date: record setters before it set the bar, are not fitted
    end: str | None = None  # ISO date: only models published before it are used (hindcasts)
    min_records: int = 2  # fewer record setters fitted: insufficient data
    cell_months: int = 1  # longest cell of the record-process integral, months
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
    need = ["model", "nation", "publication_date", "training_compute_flop", "confidence"]
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
                f"{problem} (model {r['model']!r}; {bad.height} such rows)",
                source=SOURCE,
                row=int(r["_i"]),
                column=column,
            )

    fail(c.is_not_null() & ~c.is_finite(), "training_compute_flop", "compute is not finite")
    fail(c.is_not_null() & (c <= 0), "training_compute_flop", "compute is not positive")
    fail(c.is_not_null() & pl.col("publication_date").is_null(), "publication_date", "no date")
    fail(pl.col("model").is_null(), "model", "model name is missing")


def data_end(ai_models: pl.DataFrame, config: FrontierConfig | None = None) -> dt_.date:
    """T_end (module docstring): ``end`` minus a day, else the last publication date."""
    cfg = config or FrontierConfig()
    if cfg.end is not None:
        return dt_.date.fromisoformat(cfg.end) - dt_.timedelta(days=1)
    last = ai_models["publication_date"].max()
    if last is None:
        raise ModelError("no model has a publication date")
    return last  # type: ignore[return-value]


def running_records(ai_models: pl.DataFrame, config: FrontierConfig | None = None) -> pl.DataFrame:
    """The models that raised their nation's record, whole history up to T_end.

    Columns: nation, model, publication_date, t (decimal year), log10_flop, confidence,
    confidence_class (rated | speculative | unrated), frontier_scale. A model ties or falls
    short of its nation's earlier best is not a record; on one date the largest model counts.
    Rows without compute or without a nation are not used. Raises :class:`DataError` naming the
    row for non-positive or non-finite compute and for compute without a date.
    """
    cfg = config or FrontierConfig()
    _check_input(ai_models)
    end = data_end(ai_models, cfg)
    fs = pl.col("frontier_scale") if "frontier_scale" in ai_models.columns else pl.lit(False)
    df = (
        ai_models.filter(
            pl.col("training_compute_flop").is_not_null()
            & pl.col("nation").is_not_null()
            & (pl.col("publication_date") <= end)
        )
        .with_columns(
            decimal_year(pl.col("publication_date")).alias("t"),
            pl.col("training_compute_flop").log10().alias("log10_flop"),
            pl.when(pl.col("confidence").is_in(["Confident", "Likely"]))
            .then(pl.lit("rated"))
            .when(pl.col("confidence") == SPECULATIVE)
            .then(pl.lit("speculative"))
            .otherwise(pl.lit("unrated"))
            .alias("confidence_class"),
            fs.fill_null(False).alias("frontier_scale"),
        )
        .sort("nation", "publication_date", pl.col("log10_flop").neg(), "model")
    )
    best_before = pl.col("log10_flop").cum_max().shift(1, fill_value=-np.inf).over("nation")
    rec = df.filter(pl.col("log10_flop") > best_before)
    cols = ["nation", "model", "publication_date", "t", "log10_flop", "confidence"]
    return rec.select(*cols, "confidence_class", "frontier_scale")


def select_frontier(ai_models: pl.DataFrame, config: FrontierConfig | None = None) -> pl.DataFrame:
    """The record setters fitted (module docstring): per nation, its entry (the first
    frontier-scale record from ``start``; the first record from ``start`` under
    ``selection="records"``) and every later record up to T_end."""
    cfg = config or FrontierConfig()
    if cfg.selection not in ("records", "frontier_records"):
        raise ModelError(
            f"unknown selection {cfg.selection!r}: use 'records' or 'frontier_records'"
        )
    rec = running_records(ai_models, cfg).filter(
        pl.col("publication_date") >= dt_.date.fromisoformat(cfg.start)
    )
    gate = pl.col("frontier_scale") if cfg.selection == "frontier_records" else pl.lit(True)
    entered = gate.cast(pl.Int32).cum_sum().over("nation", order_by="publication_date") > 0
    return rec.filter(entered).sort("nation", "publication_date", "model")


@dataclass(frozen=True)
class FrontierData:
    """Model-ready frontier data.

    ``nations``: the modelled nations (sorted); ``points``: their fitted record setters
    (:func:`select_frontier` columns, plus ``event``: False for each nation's entry);
    ``cells``: nation, t (decimal year, cell midpoint), width_years, record (log10 FLOP in
    force); ``records``: every nation's running records up to ``end``
    (:func:`running_records`); ``insufficient``: the other nations with a record and their
    number of fitted record setters (``n_points``); ``end``: T_end.
    """

    nations: list[str]
    points: pl.DataFrame
    cells: pl.DataFrame
    records: pl.DataFrame
    insufficient: pl.DataFrame
    end: dt_.date


def _month_starts(t0: float, t1: float, every: int = 1) -> list[float]:
    """Decimal years of every ``every``-th month start strictly between t0 and t1."""
    out = []
    for y in range(int(np.floor(t0)), int(np.floor(t1)) + 1):
        for m in range(1, 13, max(every, 1)):
            t = to_decimal_year(dt_.date(y, m, 1))
            if t0 < t < t1:
                out.append(t)
    return out


def make_cells(points: pl.DataFrame, end: dt_.date, months: int = 1) -> pl.DataFrame:
    """The cells of each nation's window (module docstring): from its entry to T_end (the end
    of that day), cut at its record dates and month starts; ``record`` is the largest fitted
    record setter published at or before the cell's start."""
    t_end = to_decimal_year(end + dt_.timedelta(days=1))
    rows = []
    for (nation,), g in points.sort("t").group_by("nation", maintain_order=True):
        t, y = g["t"].to_numpy(), g["log10_flop"].to_numpy()
        edges = np.unique(np.concatenate([[t[0], t_end], t, _month_starts(t[0], t_end, months)]))
        edges = edges[(edges >= t[0]) & (edges <= t_end)]
        for a, b in itertools.pairwise(edges):
            rows.append((nation, 0.5 * (a + b), b - a, float(np.max(y[t <= a]))))
    schema = {
        "nation": pl.String,
        "t": pl.Float64,
        "width_years": pl.Float64,
        "record": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def _with_events(points: pl.DataFrame) -> pl.DataFrame:
    """Sorted by nation and date; ``event`` is False for each nation's first (its entry)."""
    pts = points.sort("nation", "publication_date", "model")
    return pts.with_columns((pl.int_range(pl.len()).over("nation") > 0).alias("event"))


def prepare_frontier_data(
    ai_models: pl.DataFrame, config: FrontierConfig | None = None
) -> FrontierData:
    """Records, fitted record setters, cells and modelled nations (module docstring)."""
    cfg = config or FrontierConfig()
    records = running_records(ai_models, cfg)
    sel = select_frontier(ai_models, cfg)
    counts = sel.group_by("nation").agg(pl.len().alias("n_points"))
    keep = sorted(counts.filter(pl.col("n_points") >= cfg.min_records)["nation"].to_list())
    if not keep:
        raise ModelError(
            f"no nation has >= {cfg.min_records} fitted record setters from {cfg.start}"
        )
    end = data_end(ai_models, cfg)
    pts = _with_events(sel.filter(pl.col("nation").is_in(keep)))
    others = (
        records.select("nation")
        .unique()
        .filter(~pl.col("nation").is_in(keep))
        .join(counts, on="nation", how="left")
        .with_columns(pl.col("n_points").fill_null(0).cast(pl.Int64))
        .sort("nation")
    )
    return FrontierData(keep, pts, make_cells(pts, end, cfg.cell_months), records, others, end)


def simulate_frontier_data(
    *,
    seed: int,
    truth: dict[str, tuple[float, float, float]] | None = None,
    sigma: float = 0.4,
    years: tuple[float, float] = (2015.0, 2024.5),
    speculative_share: float = 0.2,
    speculative_extra: float = 0.5,
) -> FrontierData:
    """A record process drawn from the frontier model. ``truth`` maps nation -> (alpha at
    2020.0 in log10 FLOP, beta in OOM per year, frontier runs per year). Each nation enters with
    a run at ``years[0]``; later runs arrive as a Poisson process of that rate up to
    ``years[1]`` (T_end); every run is the trend plus normal noise of sd ``sigma`` (plus
    ``speculative_extra`` for the Speculative share; the rest Confident). The runs that beat
    the nation's best so far are its record setters."""
    rng = np.random.default_rng(seed)
    truth = truth or {
        "USA": (23.0, 0.62, 3.0),
        "CHN": (21.8, 0.70, 2.5),
        "GBR": (22.6, 0.55, 2.0),
    }
    rows = []
    for nation, (a, b, rate) in truth.items():
        k = rng.poisson(rate * (years[1] - years[0]))
        t = np.concatenate([[years[0]], np.sort(rng.uniform(*years, size=k))])
        spec = rng.random(t.size) < speculative_share
        sd = np.sqrt(sigma**2 + speculative_extra**2 * spec)
        y = a + b * (t - T0) + sd * rng.standard_normal(t.size)
        best = -np.inf
        for i in range(t.size):
            if y[i] <= best:
                continue
            best = y[i]
            year = int(t[i])
            day = min(int((t[i] - year) * 365), 364)
            rows.append(
                {
                    "nation": nation,
                    "model": f"{nation}-{i}",
                    "publication_date": dt_.date(year, 1, 1) + dt_.timedelta(days=day),
                    "log10_flop": float(y[i]),
                    "confidence": SPECULATIVE if spec[i] else "Confident",
                    "confidence_class": "speculative" if spec[i] else "rated",
                    "frontier_scale": True,
                }
            )
    cols = ["nation", "model", "publication_date", "t", "log10_flop", "confidence"]
    pts = (
        pl.DataFrame(rows)
        .with_columns(decimal_year(pl.col("publication_date")).alias("t"))
        .select(*cols, "confidence_class", "frontier_scale")
    )
    year = int(years[1])
    end = dt_.date(year, 1, 1) + dt_.timedelta(days=int((years[1] - year) * 365))
    pts = _with_events(pts)
    return FrontierData(
        nations=sorted(truth),
        points=pts,
        cells=make_cells(pts, end),
        records=pts.drop("event"),
        insufficient=pl.DataFrame(schema={"nation": pl.String, "n_points": pl.Int64}),
        end=end,
    )
