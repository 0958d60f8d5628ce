"""The research frontier of AI training compute against time, per nation (Epoch AI tables).

Selection (documented choice): **record-setters**. For each nation, the models whose training
compute strictly exceeds that of every earlier model of that nation (whole history) are records;
those published from ``start`` (default 2015-01-01) are the frontier observations. A model lists the countries of
its organisations; it counts for each of them (Hong Kong is folded into China by default;
the ``MULTI`` "Multinational" tag is not a nation and is dropped). Record-setters are preferred to
top-k per year because before 2020 China has one to four models with compute per year, so its
top-k picks models far from any frontier (e.g. 1.3e15 FLOP in 2017) and the slope is inflated.
``selection="top_k"`` (top ``k`` per calendar year) is available for sensitivity.

Model (dims ``nation``, ``obs``)::

    y_i = log10(training compute, FLOP) of record i of nation n[i], at t_i (decimal year - 2020)
    y_i ~ Normal(alpha_n + beta_n * t_i, sqrt(sigma^2 + tau_spec^2 * spec_i + tau_unr^2 * unr_i))
    alpha_n ~ Normal(alpha_mu, 1.5);  beta_n ~ Normal(beta_mu, 0.2)  (OOM per year)

``spec_i`` flags Epoch's ``Confidence == "Speculative"`` (estimate within an order of magnitude)
and ``unr_i`` an unrated value (blank, ``Unknown``, ``Unverified``); both get an extra, learned
noise term, which widens and down-weights them. Record-setters are serially dependent and
selected on the outcome, so the intervals describe the fitted trend of records, not a
sampling-theory frontier.

Derived quantities: doubling time ``12 * log10(2) / beta_n`` months; frontier at a date
``alpha_n + beta_n * t`` (log10 FLOP); gap in years from nation n to the leader at a date:
``(F_leader - F_n) / beta_n`` (years nation n needs, at its own rate, to reach the leader's
level), where the leader is the nation holding the largest training run to date (or a nation
the caller names).
"""

from __future__ import annotations

import datetime as dt_
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import polars as pl
import pymc as pm
import xarray as xr

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, compile_model, fit
from learnrace_pipeline.lib.models.groups import constant_data, observed_data, quantile_columns

SOURCE = "ai_models"
T0 = 2020.0  # reference date of the intercepts (decimal year)
LOG10_2 = float(np.log10(2.0))
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
        df = df.filter(pl.col("dataset") == "notable")
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


def build_frontier_model(data: FrontierData, priors: FrontierPriors | None = None) -> pm.Model:
    """The frontier PyMC model (module docstring): nation trends of log10 compute."""
    p = priors or FrontierPriors()
    pts = data.points
    nidx = {n: i for i, n in enumerate(data.nations)}
    n_of = np.array([nidx[n] for n in pts["nation"]], dtype=np.int64)
    cls = pts["confidence_class"].to_numpy()
    coords = {"nation": data.nations, "obs": np.arange(pts.height)}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", pts["t"].to_numpy() - T0, dims="obs")
        pm.Data("obs_nation", n_of, dims="obs")
        spec = pm.Data("speculative", (cls == "speculative").astype(float), dims="obs")
        unr = pm.Data("unrated", (cls == "unrated").astype(float), dims="obs")
        alpha_mu = pm.Normal("alpha_mu", *p.alpha_mu)
        alpha = pm.Normal("alpha", alpha_mu, p.alpha_nation_sd, dims="nation")
        beta_mu = pm.Normal("beta_mu", *p.beta_mu)
        # fixed between-nation scale: a handful of nations cannot identify it (a learned scale
        # gave a funnel and divergences); centred, as each nation has several points
        beta = pm.Normal("beta", beta_mu, p.beta_nation_sd, dims="nation")
        sigma = pm.HalfNormal("sigma", p.sigma)
        tau_s = pm.HalfNormal("tau_speculative", p.tau_speculative)
        tau_u = pm.HalfNormal("tau_unrated", p.tau_unrated)
        sd = pm.math.sqrt(sigma**2 + tau_s**2 * spec + tau_u**2 * unr)
        pm.Deterministic("doubling_months", 12.0 * LOG10_2 / beta, dims="nation")
        pm.Normal(
            "log10_flop",
            alpha[n_of] + beta[n_of] * t,
            sd,
            observed=pts["log10_flop"].to_numpy(),
            dims="obs",
        )
    return model


MODEL_TYPE = "frontier_compute"

#: Sampler defaults for the frontier model.
FRONTIER_SAMPLER = SamplerConfig(draws=1000, tune=1000, chains=4, target_accept=0.95, seed=20240601)


def frontier_log_likelihood(dt: xr.DataTree) -> xr.Dataset:
    """Pointwise normal log-likelihood of the frontier points (chain, draw, obs), in NumPy."""
    post = dt["posterior"].to_dataset()
    const = dt["constant_data"].to_dataset()
    y = dt["observed_data"]["log10_flop"]
    n = const["obs_nation"]
    mu = post["alpha"].isel(nation=n) + post["beta"].isel(nation=n) * const["t"]
    var = (
        post["sigma"] ** 2
        + post["tau_speculative"] ** 2 * const["speculative"]
        + post["tau_unrated"] ** 2 * const["unrated"]
    )
    ll = -0.5 * (np.log(2 * np.pi * var) + (y - mu) ** 2 / var)
    return xr.Dataset({"log10_flop": ll.transpose("chain", "draw", "obs")})


def fit_frontier(
    ai_models: pl.DataFrame,
    config: FrontierConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    compiled=None,
) -> xr.DataTree:
    """Fit the frontier model to an ``ai_models`` table; return a provenance-stamped tree.

    Groups: posterior, sample_stats, constant_data, observed_data, log_likelihood, and
    ``fit_data`` (the selected points: nation, model, date, confidence class per ``obs``).
    Root attrs add ``selection`` and ``start``.
    """
    cfg = config or FrontierConfig()
    data = prepare_frontier_data(ai_models, cfg)
    cols = ["model", "publication_date", "training_compute_flop", "confidence", "dataset"]
    frame = ai_models.select([*cols, pl.col("nations").list.join(",")]).sort(cols, nulls_last=True)
    return fit_frontier_data(data, cfg, sampler, frame=frame, compiled=compiled)


def fit_frontier_data(
    data: FrontierData,
    config: FrontierConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    frame: pl.DataFrame | None = None,
    compiled=None,
) -> xr.DataTree:
    """Fit the frontier model to already selected points (``frame`` is hashed as the data
    version; default: the points themselves)."""
    cfg = config or FrontierConfig()
    model = build_frontier_model(data, cfg.priors)
    const, observed = constant_data(model), observed_data(model)
    pts = data.points
    fit_data = xr.Dataset(
        {
            "nation": ("obs", pts["nation"].to_numpy().astype(str)),
            "model": ("obs", pts["model"].to_numpy().astype(str)),
            "publication_date": (
                "obs",
                pts["publication_date"].cast(pl.String).to_numpy().astype(str),
            ),
            "confidence_class": ("obs", pts["confidence_class"].to_numpy().astype(str)),
        },
        coords={"obs": np.arange(pts.height)},
    )

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        tmp = dt.copy()
        tmp["constant_data"] = xr.DataTree(dataset=const)
        tmp["observed_data"] = xr.DataTree(dataset=observed)
        return {
            "constant_data": const,
            "observed_data": observed,
            "log_likelihood": frontier_log_likelihood(tmp),
            "fit_data": fit_data,
        }

    dt = fit(
        compiled if compiled is not None else model,
        sampler or FRONTIER_SAMPLER,
        model_type=MODEL_TYPE,
        model_config=cfg,
        data=frame if frame is not None else pts,
        code_version=code_version(__file__),
        postprocess=post,
    )
    dt.attrs["selection"] = cfg.selection
    dt.attrs["start"] = cfg.start
    return dt


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


def compile_frontier(data: FrontierData, priors: FrontierPriors | None = None):
    """Compile the frontier model once (nutpie, numba) for repeated fits on the same data."""
    return compile_model(build_frontier_model(data, priors))


# --------------------------------------------------------------------------------------------
# posterior summaries
# --------------------------------------------------------------------------------------------


def frontier_curve(dt: xr.DataTree, when: dt_.date | float) -> xr.DataArray:
    """Posterior log10 FLOP of each nation's fitted frontier at a date (chain, draw, nation)."""
    t = to_decimal_year(when) if isinstance(when, dt_.date) else float(when)
    post = dt["posterior"].to_dataset()
    return post["alpha"] + post["beta"] * (t - T0)


def record_leader(dt: xr.DataTree, when: dt_.date) -> str | None:
    """The nation holding the largest selected training run published up to ``when`` (ties: the
    nation with more fitted points, then the higher posterior-median frontier); None if no
    nation has a point by then."""
    fd = dt["fit_data"].to_dataset()
    y = dt["observed_data"]["log10_flop"].values
    dates = np.array([dt_.date.fromisoformat(d) for d in fd["publication_date"].values])
    nations = fd["nation"].values
    med = frontier_curve(dt, when).median(("chain", "draw"))
    best: tuple | None = None
    for n in med["nation"].values:
        m = (nations == n) & (dates <= when)
        if m.any():
            key = (round(float(y[m].max()), 6), int((nations == n).sum()), float(med.sel(nation=n)))
            if best is None or key > best[0]:
                best = (key, str(n))
    return None if best is None else best[1]


def gap_years(
    dt: xr.DataTree, when: dt_.date | float, leader: str | None = None
) -> tuple[str, xr.DataArray]:
    """The leader at a date and each nation's gap to it in years (chain, draw, nation).

    Gap of nation n = (F_leader - F_n) / beta_n with F the fitted frontier at ``when``: the
    years n needs at its own posterior rate to reach the leader's level (0 for the leader,
    negative in draws where n is ahead). The leader is ``leader`` if given, else the holder of
    the largest training run to date (:func:`record_leader`), else the nation with the highest
    posterior-median frontier. The empirical record holder is the default because the fitted
    lines of nations with five or six points extrapolate steeply and would often "lead".
    """
    f = frontier_curve(dt, when)
    if leader is None and isinstance(when, dt_.date):
        leader = record_leader(dt, when)
    if leader is None:
        med = f.median(("chain", "draw"))
        leader = str(med["nation"].values[int(med.argmax("nation"))])
    elif leader not in f["nation"].values:
        raise ModelError(f"leader {leader!r} is not a fitted nation: {list(f['nation'].values)}")
    return leader, (f.sel(nation=leader) - f) / dt["posterior"]["beta"]


def leader_probability(dt: xr.DataTree, when: dt_.date | float) -> xr.DataArray:
    """Posterior probability that each nation has the highest fitted frontier at ``when``."""
    f = frontier_curve(dt, when)
    top = f.argmax("nation")
    return xr.concat(
        [(top == i).mean(("chain", "draw")) for i in range(f.sizes["nation"])], dim="nation"
    ).assign_coords(nation=f["nation"])


def frontier_at(dt: xr.DataTree, as_of: dt_.date, *, leader: str | None = None) -> pl.DataFrame:
    """Per nation at ``as_of``: quantiles of the fitted frontier (log10 FLOP), the doubling time
    (months) and the gap to the leader (years), plus the leader and the observed record.

    ``leader`` fixes the reference nation (default: the holder of the largest training run to
    date, see :func:`gap_years`). Columns: nation, as_of, leader, p_leader (posterior probability that the nation's fitted
    frontier is the highest), log10_flop_q05..q95, doubling_months_q05..q95, gap_years_q05..q95,
    record_log10_flop (largest selected point up to ``as_of``; null if none), record_model,
    n_points (selected points of the nation in the fit).
    """
    leader, gap = gap_years(dt, as_of, leader)
    f = frontier_curve(dt, as_of)
    post = dt["posterior"].to_dataset()
    nations = [str(n) for n in post["nation"].values]
    rows: dict = {
        "nation": nations,
        "as_of": [as_of] * len(nations),
        "leader": [leader] * len(nations),
        "p_leader": leader_probability(dt, as_of).sel(nation=nations).values.astype(float),
    }
    rows |= quantile_columns(f.transpose("chain", "draw", "nation"), "log10_flop")
    rows |= quantile_columns(
        post["doubling_months"].transpose("chain", "draw", "nation"), "doubling_months"
    )
    rows |= quantile_columns(gap.transpose("chain", "draw", "nation"), "gap_years")
    fd = dt["fit_data"].to_dataset()
    y = dt["observed_data"]["log10_flop"].values
    dates = np.array([dt_.date.fromisoformat(d) for d in fd["publication_date"].values])
    rec, rec_model, npts = [], [], []
    for n in nations:
        m = (fd["nation"].values == n) & (dates <= as_of)
        npts.append(int((fd["nation"].values == n).sum()))
        if m.any():
            k = np.flatnonzero(m)[np.argmax(y[m])]
            rec.append(float(y[k]))
            rec_model.append(str(fd["model"].values[k]))
        else:
            rec.append(None)
            rec_model.append(None)
    out = pl.DataFrame(rows).with_columns(
        pl.Series("record_log10_flop", rec, dtype=pl.Float64),
        pl.Series("record_model", rec_model, dtype=pl.String),
        pl.Series("n_points", npts, dtype=pl.Int32),
    )
    return out.with_columns(pl.col("as_of").cast(pl.Date))


def frontier_table(dt: xr.DataTree, as_of: dt_.date | None = None) -> pl.DataFrame:
    """Summary per nation: doubling time (months), current frontier (log10 FLOP) and gap to the
    leader (years) at ``as_of`` (default: the date of the last fitted point)."""
    if as_of is None:
        as_of = max(dt_.date.fromisoformat(d) for d in dt["fit_data"]["publication_date"].values)
    return frontier_at(dt, as_of)
