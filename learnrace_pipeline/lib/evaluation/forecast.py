"""The pooled-prior forecaster: Wright's law with MA(1) noise (normal or Student-t), a new
series' parameters drawn from the population posterior of the pooled model and updated by the
series' own points.

Model of one series (the pooled Wright model of :mod:`learnrace_pipeline.lib.models.learning`,
``trend="wright"``, normal MA(1) noise), on the first differences between consecutive observed
years ``t`` (``dt`` years apart)::

    dlogc[t] = -w * dlogq[t] + e[t] + rho * e[t-1],   e[t] ~ N(0, sigma^2 dt[t]),
    e[-1] ~ N(0, sigma^2)   (pre-sample shock)

``dlogc`` is the change in log unit cost, ``dlogq`` the change in log cumulative production,
``w`` the Wright exponent (learning rate 1 - 2^-w), ``sigma`` the sd of log cost innovations per
year. The noise vector of a series is Gaussian with the tridiagonal covariance
``sigma^2 * Sigma(rho)``, ``Sigma[t, t] = dt[t] + rho^2 dt[t-1]`` (``dt[-1] = 1``),
``Sigma[t, t-1] = rho dt[t-1]``.

Prior of a new series (:class:`PopulationPrior`, one row per posterior draw ``s`` of the pooled
fit)::

    w | s ~ N(w_mu[s], w_sd[s]^2),   log sigma | s ~ N(log_sigma_mu[s], log_sigma_sd[s]^2),
    rho = rho[s]

At the industry level ``w_mu = w_industry`` and ``w_sd = tau_w_series``; at the all-technology
level ``w_mu = w_all`` and ``w_sd = sqrt(tau_w_industry^2 + tau_w_series^2)`` (a series of an
unseen industry); ``log_sigma_mu = log_sigma_all``, ``log_sigma_sd = tau_log_sigma``.

Posterior of a user's series, exact up to Monte Carlo and quadrature error, with no model built
per series and no MCMC:

1. For every prior draw ``s`` the sufficient statistics ``a = X'S^-1 X``, ``b = X'S^-1 r``,
   ``c = r'S^-1 r`` and ``log|S|`` (``X = -dlogq``, ``r = dlogc``, ``S = Sigma(rho[s])``) come from
   one LDL' (innovations) recursion over the series, vectorised over all series and draws.
2. ``log sigma`` is integrated on a fixed grid of ``sigma_nodes`` points spanning the prior
   (+-4.5 sd of every draw); for each ``(s, node)`` the exponent ``w`` is integrated analytically
   (normal prior x Gaussian likelihood), which gives the marginal likelihood of the series'
   differences and the normal conditional posterior of ``w``.
3. ``n_samples`` pairs ``(s, node)`` are drawn (stratified) with probability proportional to
   prior x marginal likelihood; ``w`` is drawn from its conditional normal and ``log sigma`` is
   jittered uniformly within its grid cell.
4. Future log cost is simulated year by year: the MA(1) carry from the last observed innovation
   (recovered exactly by the same recursion, given the drawn ``w``) plus fresh annual noise,
   and the deterministic ``-w * (log Q_target - log Q_last)``.

Production paths. Where cumulative production is given for a forecast year the forecast is
conditional on it (the distributional forecasts of Lafond et al. 2018). Where it is missing:

- between two years whose production is known, log cumulative production is interpolated
  linearly in the year (``production = "interpolated"``);
- after the last year with known production, annual production follows a random walk with drift
  in logs, fitted to the series' own annual production history (at least 3 years, so 2 growth
  rates): drift ``g ~ N(g_hat, s_q^2 / span)`` and ``s_q^2 ~ (m - 1) s^2 / chi2(m - 1)`` (the
  flat-prior posterior, so parameter uncertainty is included), simulated jointly with the cost
  samples (``production = "projected"``). Cumulative production then adds the simulated annual
  production to the last known cumulative value.

Student-t innovations. A prior from the Student-t Wright fit (the LOO-preferred noise, and the
default of the shipped prior, the ``forecasts/population_prior`` asset and the hindcast) carries
``nu`` per draw; its series are updated on a (w, log sigma) grid instead of step 2's conjugate
integral, and simulated with Student-t annual shocks (:mod:`.forecast_t`). A prior with
``nu = inf`` takes the exact normal path above. Time-trend and experience+time fits are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.evaluation.priors import (
    ALL,
    SHIPPED_PRIOR,
    SHIPPED_PRIOR_META,
    PopulationPrior,
    choose_prior,
    load_priors,
    population_prior,
    population_priors,
    priors_from_posterior_file,
    save_priors,
)
from learnrace_pipeline.lib.evaluation.scores import LEVELS, qname

MODEL_NAME = "pooled_wright_ma1"
MODEL_NAME_T = "pooled_wright_student_t_ma1"


# --------------------------------------------------------------------------------------------
# the forecasting task
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastTask:
    """What to forecast, in logs.

    Attributes:
        obs: observed points ``series_id, year, log_cost, log_q`` (log unit cost, log cumulative
            production; >= 3 points per series, years strictly increasing).
        targets: ``series_id, year, log_q`` with ``log_q`` null where production is unknown;
            every target year is after the series' last observed year.
        annual: ``series_id, year, log_annual`` (log annual production history, used only to
            project production for targets with unknown ``log_q``), or None.
    """

    obs: pl.DataFrame
    targets: pl.DataFrame
    annual: pl.DataFrame | None = None


@dataclass(frozen=True)
class ForecastConfig:
    """Settings of the pooled forecaster.

    Attributes:
        n_samples: Monte Carlo samples per forecast.
        sigma_nodes: quadrature nodes in log sigma.
        max_prior_draws: population draws used (evenly thinned).
        chunk: series per vectorised block (memory ~ chunk x draws x nodes).
        seed: seed of every random draw.
    """

    n_samples: int = 2000
    sigma_nodes: int = 96
    max_prior_draws: int = 500
    chunk: int = 48
    seed: int = 20240601


@dataclass(frozen=True)
class ForecastSamples:
    """Samples of log unit cost per target.

    ``targets`` has ``series_id, year, horizon`` (years after the last observed cost),
    ``production`` (``given``/``interpolated``/``projected``) and ``level`` (prior used), in the
    row order of ``samples`` (``(n_targets, n_samples)``, log of the input's cost unit).
    """

    targets: pl.DataFrame
    samples: np.ndarray

    def quantiles(self, levels: Sequence[float] = LEVELS) -> np.ndarray:
        return np.quantile(self.samples, np.asarray(levels), axis=1).T


def _production_model(annual: pl.DataFrame | None, series: list[str]) -> dict[str, np.ndarray]:
    """Per series: growth estimates of log annual production (RW with drift), NaN if < 3 years."""
    n = len(series)
    out = {k: np.full(n, np.nan) for k in ("g_hat", "s2", "span", "m", "last_year", "last_lq")}
    if annual is None or annual.height == 0:
        return out
    a = annual.filter(pl.col("series_id").is_in(series)).sort("series_id", "year")
    stats_ = (
        a.with_columns(
            (pl.col("log_annual") - pl.col("log_annual").shift(1)).over("series_id").alias("d"),
            (pl.col("year") - pl.col("year").shift(1)).over("series_id").alias("k"),
        )
        .group_by("series_id")
        .agg(
            pl.col("year").first().alias("y0"),
            pl.col("year").last().alias("y1"),
            pl.col("log_annual").first().alias("l0"),
            pl.col("log_annual").last().alias("l1"),
            pl.col("d").drop_nulls().alias("d"),
            pl.col("k").drop_nulls().alias("k"),
        )
    )
    pos = {s: i for i, s in enumerate(series)}
    for r in stats_.iter_rows(named=True):
        i = pos[r["series_id"]]
        m = len(r["d"])
        span = float(r["y1"] - r["y0"])
        out["last_year"][i] = r["y1"]
        out["last_lq"][i] = r["l1"]
        if m < 2 or span <= 0:
            continue
        g = (r["l1"] - r["l0"]) / span
        d = np.asarray(r["d"], float)
        k = np.asarray(r["k"], float)
        out["g_hat"][i] = g
        out["s2"][i] = float(np.sum((d - g * k) ** 2 / k) / (m - 1))
        out["span"][i] = span
        out["m"][i] = m
    return out


def _prepare_targets(task: ForecastTask, series: list[str], last_year: np.ndarray) -> pl.DataFrame:
    """Targets with horizon, the kind of production path, and the last known production."""
    t = task.targets.sort("series_id", "year").select("series_id", "year", "log_q")
    known = pl.concat(
        [
            task.obs.select("series_id", "year", "log_q"),
            t.filter(pl.col("log_q").is_not_null()),
        ]
    ).with_columns(pl.lit(True).alias("_known"))
    unknown = t.filter(pl.col("log_q").is_null()).with_columns(pl.lit(False).alias("_known"))
    both = pl.concat([known, unknown]).sort("series_id", "year")
    yk = pl.when(pl.col("_known")).then(pl.col("year"))
    lk = pl.when(pl.col("_known")).then(pl.col("log_q"))
    both = both.with_columns(
        yk.forward_fill().over("series_id").alias("py"),
        lk.forward_fill().over("series_id").alias("plq"),
        yk.backward_fill().over("series_id").alias("ny"),
        lk.backward_fill().over("series_id").alias("nlq"),
    ).with_columns(
        (
            pl.col("plq")
            + (pl.col("nlq") - pl.col("plq"))
            * (pl.col("year") - pl.col("py")).cast(pl.Float64)
            / (pl.col("ny") - pl.col("py")).cast(pl.Float64)
        ).alias("lq_interp")
    )
    interp = both.filter(~pl.col("_known")).select("series_id", "year", "lq_interp")
    last_known = (
        known.sort("series_id", "year")
        .group_by("series_id")
        .agg(pl.col("year").last().alias("lk_year"), pl.col("log_q").last().alias("lk_lq"))
    )
    pos = {s: i for i, s in enumerate(series)}
    t = (
        t.join(interp, on=["series_id", "year"], how="left")
        .join(last_known, on="series_id", how="left")
        .with_columns(
            pl.when(pl.col("log_q").is_not_null())
            .then(pl.lit("given"))
            .when(pl.col("lq_interp").is_not_null())
            .then(pl.lit("interpolated"))
            .otherwise(pl.lit("projected"))
            .alias("production"),
            pl.coalesce("log_q", "lq_interp").alias("lq_fixed"),
            pl.col("series_id").replace_strict(pos, return_dtype=pl.Int64).alias("_i"),
        )
    )
    t = t.with_columns(
        (pl.col("year") - pl.lit(pl.Series(last_year.astype(np.int64))).gather(pl.col("_i")))
        .cast(pl.Int64)
        .alias("horizon")
    )
    return t.sort("_i", "year")


class _Stats:
    """Sufficient statistics of the differences of a block of series, per prior draw."""

    def __init__(
        self, dy: np.ndarray, dxw: np.ndarray, dt: np.ndarray, valid: np.ndarray, rho: np.ndarray
    ) -> None:
        # dy, dxw (= -dlogq), dt, valid: (n, L) right-aligned; rho: (S,)
        n, length = dy.shape
        s = rho.size
        r = rho[None, :]
        a = np.zeros((n, s))
        b = np.zeros((n, s))
        c = np.zeros((n, s))
        logdet = np.zeros((n, s))
        d_prev = np.ones((n, s))
        zy_prev = np.zeros((n, s))
        zx_prev = np.zeros((n, s))
        dt_prev = np.ones((n, 1))
        valid_prev = np.zeros((n, 1), dtype=bool)
        for t in range(length):
            v = valid[:, t : t + 1]
            dtt = dt[:, t : t + 1]
            # first real difference: the pre-sample shock has dt 1 and no coupling term
            dtp = np.where(valid_prev, dt_prev, 1.0)
            diag = np.where(v, dtt + r**2 * dtp, 1.0)
            off = np.where(v & valid_prev, r * dtp, 0.0)
            ell = off / d_prev
            d = diag - off * ell
            zy = np.where(v, dy[:, t : t + 1], 0.0) - ell * zy_prev
            zx = np.where(v, dxw[:, t : t + 1], 0.0) - ell * zx_prev
            a += zx * zx / d
            b += zx * zy / d
            c += zy * zy / d
            logdet += np.log(d)
            d_prev, zy_prev, zx_prev = d, zy, zx
            dt_prev = np.where(v, dtt, dt_prev)
            valid_prev = v | valid_prev
        self.a, self.b, self.c, self.logdet = a, b, c, logdet
        self.zy_last, self.zx_last, self.d_last = zy_prev, zx_prev, d_prev
        self.dt_last = dt_prev[:, 0]
        self.n = valid.sum(axis=1).astype(float)


def _sigma_grid(prior: PopulationPrior, nodes: int) -> tuple[np.ndarray, float]:
    lo = float(np.min(prior.log_sigma_mu - 4.5 * prior.log_sigma_sd))
    hi = float(np.max(prior.log_sigma_mu + 4.5 * prior.log_sigma_sd))
    grid = np.linspace(lo, hi, nodes)
    return grid, float(grid[1] - grid[0]) if nodes > 1 else 0.0


def _stratified_choice(logw: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified draws of flat indices from per-row log weights ``(n, M)`` -> ``(n, k)``."""
    n, m = logw.shape
    w = np.exp(logw - logw.max(axis=1, keepdims=True))
    cdf = np.cumsum(w, axis=1)
    cdf /= cdf[:, -1:]
    cdf[:, -1] = 1.0
    u = (np.arange(k)[None, :] + rng.random((n, k))) / k
    offsets = np.arange(n)[:, None]
    flat = (cdf + offsets * 2.0).ravel()
    pos = np.searchsorted(flat, (u + offsets * 2.0).ravel(), side="left")
    idx = pos.reshape(n, k) - offsets * m
    return np.clip(idx, 0, m - 1)


def _block(
    obs_blk: dict[str, np.ndarray],
    tg: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    prior: PopulationPrior,
    grid: np.ndarray,
    spacing: float,
    cfg: ForecastConfig,
    rng: np.random.Generator,
) -> np.ndarray:
    """Log-cost samples ``(n_targets_block, K)`` for one block of series sharing a prior."""
    h_max = int(tg["h"].max())
    if prior.student_t:
        from learnrace_pipeline.lib.evaluation.forecast_t import student_t_block

        w, cum = student_t_block(obs_blk, prior, h_max, cfg, rng)
    else:
        w, cum = _normal_block(obs_blk, prior, grid, spacing, h_max, cfg, rng)
    ti = tg["i"]
    k_samples = cfg.n_samples
    x_target = np.broadcast_to(tg["lq_fixed"][:, None], (ti.size, k_samples)).copy()
    proj = tg["projected"]
    if proj.any():
        x_target[proj] = _project(tg, prod, ti[proj], k_samples, rng)[...]
    dx = x_target - obs_blk["x_last"][ti][:, None]
    return obs_blk["y_last"][ti][:, None] - w[ti] * dx + cum[ti, :, tg["h"] - 1]


def _normal_block(
    obs_blk: dict[str, np.ndarray],
    prior: PopulationPrior,
    grid: np.ndarray,
    spacing: float,
    h_max: int,
    cfg: ForecastConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Normal innovations (conjugate in ``w``): exponent samples ``(n, K)`` and cumulative
    noise ``(n, K, h_max)``."""
    k_samples = cfg.n_samples
    st = _Stats(obs_blk["dy"], obs_blk["dxw"], obs_blk["dt"], obs_blk["valid"], prior.rho)
    n = st.a.shape[0]
    mu, tau2 = prior.w_mu[None, :, None], (prior.w_sd**2)[None, :, None]
    a, b, c = st.a[..., None], st.b[..., None], st.c[..., None]
    point_sigma = bool(np.all(prior.log_sigma_sd == 0))
    if point_sigma:
        lsig = prior.log_sigma_mu[None, :, None]  # (1, S, 1)
        log_prior = np.zeros((1, prior.n_draws, 1))
    else:
        lsig = grid[None, None, :]
        z = (lsig - prior.log_sigma_mu[None, :, None]) / prior.log_sigma_sd[None, :, None]
        log_prior = -0.5 * z**2 - np.log(prior.log_sigma_sd)[None, :, None]
    s2 = np.exp(2 * lsig)
    b0 = b - mu * a
    c0 = c - 2 * mu * b + mu**2 * a
    den = s2 + tau2 * a
    nn = st.n[:, None, None]
    loglik = -0.5 * (
        nn * (np.log(2 * np.pi) + np.log(s2))
        + st.logdet[..., None]
        + np.log(den / s2)
        + c0 / s2
        - tau2 * b0**2 / (s2 * den)
    )
    logw = np.broadcast_to(log_prior + loglik, (n, prior.n_draws, lsig.shape[-1]))
    n_nodes = logw.shape[-1]
    flat = _stratified_choice(logw.reshape(n, -1), k_samples, rng)
    s_idx, g_idx = np.divmod(flat, n_nodes)
    rows = np.arange(n)[:, None]
    den_k = np.broadcast_to(den, logw.shape)[rows, s_idx, g_idx]
    s2_k = np.broadcast_to(s2, (1, prior.n_draws, n_nodes))[0, s_idx, g_idx]
    b0_k = b0[rows, s_idx, 0]
    w_mean = prior.w_mu[s_idx] + prior.w_sd[s_idx] ** 2 * b0_k / den_k
    w_var = prior.w_sd[s_idx] ** 2 * s2_k / den_k
    w = w_mean + np.sqrt(w_var) * rng.standard_normal((n, k_samples))
    if point_sigma:
        sigma = np.sqrt(s2_k)
    else:
        sigma = np.sqrt(s2_k) * np.exp(spacing * (rng.random((n, k_samples)) - 0.5))
    rho = prior.rho[s_idx]
    # last observed innovation (in units of sigma) and its LDL pivot
    eps = (st.zy_last[rows, s_idx] - w * st.zx_last[rows, s_idx]) / sigma
    d_prev = st.d_last[rows, s_idx]
    dt_prev = st.dt_last[:, None]
    cum = np.zeros((n, k_samples, h_max))
    total = np.zeros((n, k_samples))
    for j in range(h_max):
        off = rho * dt_prev
        diag = 1.0 + rho**2 * dt_prev
        ell = off / d_prev
        d = diag - off * ell
        e_new = np.sqrt(d) * rng.standard_normal((n, k_samples))
        total = total + sigma * (ell * eps + e_new)
        cum[:, :, j] = total
        eps, d_prev, dt_prev = e_new, d, 1.0
    return w, cum


def _project(
    tg: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    ti: np.ndarray,
    k: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Simulated log cumulative production at projected targets ``(n_proj, K)``."""
    proj = tg["projected"]
    series = np.unique(ti)
    out = np.empty((ti.size, k))
    hp_all = tg["hp"][proj]
    for i in series:  # one simulation per series, shared by its projected targets
        rows = np.flatnonzero(ti == i)
        hp = hp_all[rows]
        m, s2, span, g_hat = prod["m"][i], prod["s2"][i], prod["span"][i], prod["g_hat"][i]
        sq2 = s2 * (m - 1) / rng.chisquare(m - 1, size=k)
        g = g_hat + np.sqrt(sq2 / span) * rng.standard_normal(k)
        steps = int(hp.max())
        shocks = np.sqrt(sq2)[:, None] * rng.standard_normal((k, steps))
        lq = prod["lq_last"][i] + np.cumsum(g[:, None] + shocks, axis=1)
        z = np.exp(prod["lz_last"][i]) + np.cumsum(np.exp(lq), axis=1)
        out[rows] = np.log(z[:, hp - 1]).T
    return out


def simulate(
    task: ForecastTask,
    priors: PopulationPrior | Mapping[str, PopulationPrior],
    level_of: Mapping[str, str] | None = None,
    config: ForecastConfig = ForecastConfig(),
) -> ForecastSamples:
    """Posterior predictive samples of log unit cost at every target of ``task``.

    Args:
        task: observed points, targets and (optionally) annual production history.
        priors: one prior for every series, or priors keyed by level.
        level_of: series_id -> key into ``priors`` (required when ``priors`` is a mapping).
        config: sample sizes, quadrature nodes, seed.

    Raises:
        DataError: a series with fewer than 3 observed points, a target not after the last
            observation, or a projected target without enough production history.
    """
    obs = task.obs.sort("series_id", "year")
    series = obs["series_id"].unique(maintain_order=True).to_list()
    if isinstance(priors, PopulationPrior):
        prior_map = {priors.level: priors}
        levels = [priors.level] * len(series)
    else:
        if level_of is None:
            raise ModelError("level_of is needed when several priors are given")
        prior_map = dict(priors)
        levels = [level_of[s] for s in series]
    prior_map = {k: p.thin(config.max_prior_draws) for k, p in prior_map.items()}

    counts = obs.group_by("series_id", maintain_order=True).len()["len"].to_numpy().astype(np.int64)
    if np.any(counts < 3):
        bad = series[int(np.argmin(counts >= 3))]
        raise DataError(f"series {bad!r} has fewer than 3 observed costs", source="forecast",
                        column="unit_cost")  # fmt: skip
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    year = obs["year"].to_numpy().astype(float)
    y = obs["log_cost"].to_numpy().astype(float)
    x = obs["log_q"].to_numpy().astype(float)
    last = starts + counts - 1
    last_year = year[last]

    targets = _prepare_targets(task, series, last_year.astype(np.int64))
    if targets.filter(pl.col("horizon") < 1).height:
        r = targets.filter(pl.col("horizon") < 1).row(0, named=True)
        raise DataError(
            f"series {r['series_id']!r}: year {r['year']} to forecast is not after the last "
            "observed cost", source="forecast", column="year",
        )  # fmt: skip
    prod = _production_model(task.annual, series)
    # projection starts at the last year with known production
    lk = targets.group_by("_i").agg(pl.col("lk_year").first(), pl.col("lk_lq").first())
    lk_year = np.full(len(series), np.nan)
    lk_lq = np.full(len(series), np.nan)
    lk_year[lk["_i"].to_numpy()] = lk["lk_year"].to_numpy()
    lk_lq[lk["_i"].to_numpy()] = lk["lk_lq"].to_numpy()
    prod["lz_last"] = lk_lq
    prod["lq_last"] = prod.pop("last_lq")
    projected = targets["production"].to_numpy() == "projected"
    t_i = targets["_i"].to_numpy()
    if projected.any():
        bad = projected & ~np.isfinite(prod["g_hat"][t_i])
        if bad.any():
            r = targets.filter(pl.Series(bad)).row(0, named=True)
            raise DataError(
                f"series {r['series_id']!r}: no production for year {r['year']} and fewer than 3 "
                "years of annual production to project it from",
                source="forecast", column="annual_production",
            )  # fmt: skip
        stale = projected & (prod["last_year"][t_i] != lk_year[t_i])
        if stale.any():
            r = targets.filter(pl.Series(stale)).row(0, named=True)
            raise DataError(
                f"series {r['series_id']!r}: production for year {r['year']} must be projected "
                "from the last year with known cumulative production, which has no annual "
                "production",
                source="forecast", column="annual_production",
            )  # fmt: skip
    hp = np.where(projected, targets["year"].to_numpy() - lk_year[t_i], 0).astype(np.int64)

    # blocks: series sharing a prior, sorted by length so recursions stay short
    order = sorted(range(len(series)), key=lambda i: (levels[i], counts[i]))
    out = np.empty((targets.height, config.n_samples), dtype=np.float64)
    rng_root = np.random.SeedSequence(config.seed)
    grids = {k: _sigma_grid(p, config.sigma_nodes) for k, p in prior_map.items()}
    blocks: list[list[int]] = []
    for i in order:
        if blocks and levels[blocks[-1][0]] == levels[i] and len(blocks[-1]) < config.chunk:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    children = rng_root.spawn(len(blocks))
    t_rows_by_series: dict[int, np.ndarray] = {}
    for row, i in enumerate(t_i):
        t_rows_by_series.setdefault(int(i), []).append(row)  # type: ignore[arg-type]
    for blk, seed in zip(blocks, children, strict=True):
        ids = np.asarray(blk)
        rows = [np.asarray(t_rows_by_series.get(int(i), []), dtype=np.int64) for i in ids]
        if not sum(r.size for r in rows):
            continue
        length = int(counts[ids].max()) - 1
        n = ids.size
        dy = np.zeros((n, length))
        dxw = np.zeros((n, length))
        dtv = np.ones((n, length))
        valid = np.zeros((n, length), dtype=bool)
        for j, i in enumerate(ids):
            sl = slice(starts[i], starts[i] + counts[i])
            k = counts[i] - 1
            dy[j, length - k :] = np.diff(y[sl])
            dxw[j, length - k :] = -np.diff(x[sl])
            dtv[j, length - k :] = np.diff(year[sl])
            valid[j, length - k :] = True
        local = np.concatenate([np.full(r.size, j) for j, r in enumerate(rows)]).astype(np.int64)
        trow = np.concatenate(rows)
        tg = {
            "i": local,
            "h": targets["horizon"].to_numpy()[trow].astype(np.int64),
            "lq_fixed": targets["lq_fixed"].fill_null(np.nan).to_numpy()[trow],
            "projected": projected[trow],
            "hp": hp[trow],
        }
        sub_prod = {k: v[ids] for k, v in prod.items()}
        obs_blk = {
            "dy": dy, "dxw": dxw, "dt": dtv, "valid": valid,
            "y_last": y[last[ids]], "x_last": x[last[ids]],
        }  # fmt: skip
        prior = prior_map[levels[ids[0]]]
        grid, spacing = grids[levels[ids[0]]]
        rng = np.random.default_rng(seed)
        out[trow] = _block(obs_blk, tg, sub_prod, prior, grid, spacing, config, rng)
    level_col = [levels[i] for i in t_i]
    frame = targets.select("series_id", "year", "horizon", "production").with_columns(
        pl.Series("level", level_col, dtype=pl.String)
    )
    return ForecastSamples(frame, out)


def model_name(prior: PopulationPrior) -> str:
    """The ``model`` label of forecasts made with ``prior`` (normal or Student-t innovations)."""
    return MODEL_NAME_T if prior.student_t else MODEL_NAME


def quantile_frame(
    fs: ForecastSamples, levels: Sequence[float] = LEVELS, *, model: str = MODEL_NAME
) -> pl.DataFrame:
    """One row per series and forecast year: ``series_id, year, q05 ... q95`` (cost units, i.e.
    exp of the log-cost quantiles), ``model`` (``pooled_wright_ma1[<level>]``, or ``pooled_wright_student_t_ma1[...]``), ``production``."""
    q = np.exp(fs.quantiles(levels))
    cols = {qname(v): q[:, j] for j, v in enumerate(levels)}
    return fs.targets.select("series_id", "year").with_columns(
        *[pl.Series(k, v) for k, v in cols.items()],
        pl.format(f"{model}[{{}}]", fs.targets["level"]).alias("model"),
        fs.targets["production"],
    )


def check_finite(fs: ForecastSamples) -> None:
    """Raise ModelError naming the first target whose samples are not all finite."""
    bad = ~np.all(np.isfinite(fs.samples), axis=1)
    if bad.any():
        r = fs.targets.filter(pl.Series(bad)).row(0, named=True)
        raise ModelError(f"non-finite forecast for {r['series_id']!r} year {r['year']}")


__all__ = [
    "ALL",
    "MODEL_NAME",
    "MODEL_NAME_T",
    "SHIPPED_PRIOR",
    "SHIPPED_PRIOR_META",
    "ForecastConfig",
    "ForecastSamples",
    "ForecastTask",
    "PopulationPrior",
    "check_finite",
    "choose_prior",
    "load_priors",
    "model_name",
    "population_prior",
    "population_priors",
    "priors_from_posterior_file",
    "quantile_frame",
    "save_priors",
    "simulate",
]
