"""Process-node frontier data: the ``chip_products`` table checked, each foundry nation's running
record (its smallest process node released to date), the record setters the model is fitted to
and the time cells of its record-process likelihood.

Definitions (dates as decimal years, nodes as log2 nm; the nation is the foundry's headquarters,
column ``foundry_nation``; rows without a foundry nation, a release date or a node are not used):

- **record** L_n(t): the smallest process node of any CPU/GPU product made by nation n's
  foundries released on or before t. :func:`running_records` lists the products that lowered it
  (whole history; on one date the smallest node counts).
- **data end** T_end: ``end`` minus one day when ``end`` is given (a hindcast origin), else the
  last release date in the table.
- **leading-edge record**: a record whose node is at most ``leading_factor`` times the smallest
  node of any nation released up to that date (the world's leading node then).
- **entry** of a nation: its first leading-edge record released from ``start``. **Record setters
  fitted**: the entry and every later record of the nation up to T_end. Records before ``start``
  set the bar (they are the record in force when the window opens) but are not fitted: the chip
  table's early years carry a few release dates years ahead of the node's first products (e.g.
  a 90 nm part dated 2001), and two decades of records would fit one straight line through two
  regimes of scaling.
- **modelled nation**: one with at least ``min_records`` record setters fitted; the others keep
  their record (``insufficient``: a nation that has left the leading edge sets no new record).
- **cells**: a modelled nation's window from its entry to T_end, cut at its record dates and at
  month starts, with the record in force in each cell.

Also :func:`simulate_node_data`, a record process drawn from the model itself.
"""

from __future__ import annotations

import datetime as dt_
import itertools
from dataclasses import asdict, dataclass, field

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models.frontier_data import _month_starts, decimal_year, to_decimal_year

SOURCE = "chip_products"
T0 = 2020.0  # reference date of the intercepts (decimal year)


@dataclass(frozen=True)
class NodePriors:
    """Prior scales of the node-frontier model (log2 nm, years)."""

    alpha_mu: tuple[float, float] = (3.0, 1.5)  # log2 nm of the common trend at 2020.0 (8 nm)
    alpha_nation_sd: float = 1.0  # fixed scale of nation levels around alpha_mu (a factor 2)
    rate_mu: tuple[float, float] = (0.25, 0.15)  # common shrink rate, log2 nm per year
    rate_nation_sd: float = 0.1  # half-normal scale of the between-nation sd of shrink rates
    sigma: tuple[float, float] = (4.0, 8.0)  # Gamma(shape, rate) of the sd of a new node (log2)
    runs: tuple[float, float] = (2.0, 2.0)  # Gamma(shape, rate) of leading-edge runs per year

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NodeConfig:
    """What defines a node-frontier fit (hashed into the model id)."""

    start: str = "2010-01-01"  # ISO date: records before it set the bar, are not fitted
    end: str | None = None  # ISO date: only products released before it are used
    leading_factor: float = 2.0  # a leading-edge record is within this factor of the world's
    min_records: int = 2  # fewer record setters fitted: insufficient data
    cell_months: int = 1  # longest cell of the record-process integral, months
    priors: NodePriors = field(default_factory=NodePriors)


def _check_input(chips: pl.DataFrame) -> None:
    need = ["product", "chip_type", "release_date", "process_nm", "foundry_nation"]
    missing = [c for c in need if c not in chips.columns]
    if missing:
        raise DataError(f"missing columns {missing}", source=SOURCE, column=missing[0])
    df = chips.with_row_index("_i", offset=1)
    c = pl.col("process_nm")

    def fail(mask: pl.Expr, column: str, problem: str) -> None:
        bad = df.filter(mask)
        if bad.height:
            r = bad.row(0, named=True)
            raise DataError(
                f"{problem} (product {r['product']!r}; {bad.height} such rows)",
                source=SOURCE,
                row=int(r["_i"]),
                column=column,
            )

    fail(c.is_not_null() & ~c.is_finite(), "process_nm", "process node is not finite")
    fail(c.is_not_null() & (c <= 0), "process_nm", "process node is not positive")


def data_end(chips: pl.DataFrame, config: NodeConfig | None = None) -> dt_.date:
    """T_end (module docstring): ``end`` minus a day, else the last release date."""
    cfg = config or NodeConfig()
    if cfg.end is not None:
        return dt_.date.fromisoformat(cfg.end) - dt_.timedelta(days=1)
    last = chips.filter(pl.col("foundry_nation").is_not_null())["release_date"].max()
    if last is None:
        raise ModelError(f"{SOURCE}: no product has a release date and a foundry nation")
    return last  # type: ignore[return-value]


def running_records(chips: pl.DataFrame, config: NodeConfig | None = None) -> pl.DataFrame:
    """The products that lowered their nation's record, whole history up to T_end.

    Columns: nation, product, release_date, t (decimal year), log2_nm, process_nm, leading
    (within ``leading_factor`` of the world's smallest node released up to that date). Raises
    :class:`DataError` naming the row for a non-positive or non-finite node.
    """
    cfg = config or NodeConfig()
    _check_input(chips)
    end = data_end(chips, cfg)
    df = (
        chips.filter(
            pl.col("process_nm").is_not_null()
            & pl.col("release_date").is_not_null()
            & pl.col("foundry_nation").is_not_null()
            & (pl.col("release_date") <= end)
        )
        .rename({"foundry_nation": "nation"})
        .with_columns(
            decimal_year(pl.col("release_date")).alias("t"),
            pl.col("process_nm").log(2).alias("log2_nm"),
        )
        .sort("nation", "release_date", "process_nm", "product")
    )
    world = (
        df.group_by("release_date")
        .agg(pl.col("process_nm").min().alias("day_min"))
        .sort("release_date")
        .with_columns(pl.col("day_min").cum_min().alias("world_nm"))
        .select("release_date", "world_nm")
    )
    best_before = pl.col("process_nm").cum_min().shift(1, fill_value=np.inf).over("nation")
    rec = (
        df.filter(pl.col("process_nm") < best_before)
        .join(world, on="release_date", how="left")
        .with_columns(
            (pl.col("process_nm") <= cfg.leading_factor * pl.col("world_nm")).alias("leading")
        )
    )
    cols = ["nation", "product", "release_date", "t", "log2_nm", "process_nm", "leading"]
    return rec.select(cols).sort("nation", "release_date")


def select_records(chips: pl.DataFrame, config: NodeConfig | None = None) -> pl.DataFrame:
    """The record setters fitted (module docstring): per nation, its entry (the first
    leading-edge record from ``start``) and every later record up to T_end."""
    cfg = config or NodeConfig()
    rec = running_records(chips, cfg).filter(
        pl.col("release_date") >= dt_.date.fromisoformat(cfg.start)
    )
    entered = pl.col("leading").cast(pl.Int32).cum_sum().over("nation", order_by="release_date") > 0
    return rec.filter(entered).sort("nation", "release_date")


@dataclass(frozen=True)
class NodeData:
    """Model-ready node-frontier data.

    ``nations``: the modelled nations (sorted); ``points``: their fitted record setters
    (:func:`select_records` columns, plus ``event``: False for each nation's entry); ``cells``:
    nation, t (decimal year, cell midpoint), width_years, record (log2 nm in force);
    ``records``: every nation's running records up to T_end; ``insufficient``: the other
    nations with a record and their number of fitted record setters (``n_points``); ``end``:
    T_end.
    """

    nations: list[str]
    points: pl.DataFrame
    cells: pl.DataFrame
    records: pl.DataFrame
    insufficient: pl.DataFrame
    end: dt_.date


def make_cells(
    points: pl.DataFrame, records: pl.DataFrame, end: dt_.date, months: int = 1
) -> pl.DataFrame:
    """The cells of each nation's window (module docstring): from its entry to T_end (the end
    of that day), cut at its record dates and month starts; ``record`` is the nation's smallest
    node (log2 nm) released at or before the cell's start, its records before the window
    included."""
    t_end = to_decimal_year(end + dt_.timedelta(days=1))
    rows = []
    for (nation,), g in points.sort("t").group_by("nation", maintain_order=True):
        t = g["t"].to_numpy()
        r = records.filter(pl.col("nation") == nation)
        rt, ry = r["t"].to_numpy(), r["log2_nm"].to_numpy()
        edges = np.unique(np.concatenate([[t[0], t_end], t, _month_starts(t[0], t_end, months)]))
        edges = edges[(edges >= t[0]) & (edges <= t_end)]
        for a, b in itertools.pairwise(edges):
            rows.append((nation, 0.5 * (a + b), b - a, float(np.min(ry[rt <= a]))))
    schema = {"nation": pl.String, "t": pl.Float64, "width_years": pl.Float64, "record": pl.Float64}
    return pl.DataFrame(rows, schema=schema, orient="row")


def _with_events(points: pl.DataFrame) -> pl.DataFrame:
    pts = points.sort("nation", "release_date", "product")
    return pts.with_columns((pl.int_range(pl.len()).over("nation") > 0).alias("event"))


def prepare_node_data(chips: pl.DataFrame, config: NodeConfig | None = None) -> NodeData:
    """Records, fitted record setters, cells and modelled nations (module docstring)."""
    cfg = config or NodeConfig()
    records = running_records(chips, cfg)
    sel = select_records(chips, cfg)
    counts = sel.group_by("nation").agg(pl.len().alias("n_points"))
    keep = sorted(counts.filter(pl.col("n_points") >= cfg.min_records)["nation"].to_list())
    if not keep:
        raise ModelError(
            f"no foundry nation has >= {cfg.min_records} node records from {cfg.start}"
        )
    end = data_end(chips, cfg)
    pts = _with_events(sel.filter(pl.col("nation").is_in(keep)))
    others = (
        records.select("nation")
        .unique()
        .filter(~pl.col("nation").is_in(keep))
        .join(counts, on="nation", how="left")
        .with_columns(pl.col("n_points").fill_null(0).cast(pl.Int64))
        .sort("nation")
    )
    cells = make_cells(pts, records, end, cfg.cell_months)
    return NodeData(keep, pts, cells, records, others, end)


def simulate_node_data(
    *,
    seed: int,
    truth: dict[str, tuple[float, float, float]] | None = None,
    sigma: float = 0.3,
    years: tuple[float, float] = (2010.0, 2024.0),
) -> NodeData:
    """A record process drawn from the node model. ``truth`` maps nation -> (alpha: log2 nm of
    the trend at 2020.0, rate: shrink in log2 nm per year, leading-edge runs per year). Each
    nation enters with a run at ``years[0]``; later runs arrive as a Poisson process of that
    rate up to ``years[1]`` (T_end); every run is the trend plus normal noise of sd ``sigma``.
    The runs that go below the nation's smallest node so far are its record setters."""
    rng = np.random.default_rng(seed)
    truth = truth or {
        "TWN": (2.9, 0.26, 3.0),
        "USA": (3.4, 0.18, 3.0),
        "KOR": (3.2, 0.22, 2.0),
    }
    rows = []
    for nation, (a, r, rate) in truth.items():
        k = rng.poisson(rate * (years[1] - years[0]))
        t = np.concatenate([[years[0]], np.sort(rng.uniform(*years, size=k))])
        y = a - r * (t - T0) + sigma * rng.standard_normal(t.size)
        best = np.inf
        for i in range(t.size):
            if y[i] >= best:
                continue
            best = y[i]
            year = int(t[i])
            day = min(int((t[i] - year) * 365), 364)
            rows.append(
                {
                    "nation": nation,
                    "product": f"{nation}-{i}",
                    "release_date": dt_.date(year, 1, 1) + dt_.timedelta(days=day),
                    "log2_nm": float(y[i]),
                    "process_nm": float(2.0 ** y[i]),
                    "leading": True,
                }
            )
    cols = ["nation", "product", "release_date", "t", "log2_nm", "process_nm", "leading"]
    pts = (
        pl.DataFrame(rows)
        .with_columns(decimal_year(pl.col("release_date")).alias("t"))
        .select(cols)
        .sort("nation", "release_date")
    )
    year = int(years[1])
    end = dt_.date(year, 1, 1) + dt_.timedelta(days=int((years[1] - year) * 365))
    pts_e = _with_events(pts)
    return NodeData(
        nations=sorted(truth),
        points=pts_e,
        cells=make_cells(pts_e, pts, end),
        records=pts,
        insufficient=pl.DataFrame(schema={"nation": pl.String, "n_points": pl.Int64}),
        end=end,
    )
