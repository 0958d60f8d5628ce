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
integral, and simulated with Student-t annual shocks (:mod:`.student_t`). A prior with
``nu = inf`` takes the exact normal path above. A prior from a pooled time-trend fit drives the
same code with ``log_q = year`` (:mod:`.time_trend`, ``learnrace forecast --model time``);
experience+time and per-nation fits are refused.

Layout: this module holds :func:`simulate` and the output frame; the task, settings and samples
are :mod:`.types`; the normal update (steps 1-4) is :mod:`.normal`, the Student-t update
:mod:`.student_t`, the production paths :mod:`.production`, the population priors :mod:`.priors`, the
input checks of ``learnrace forecast`` :mod:`.inputs` and its output paths and writes :mod:`.outputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.forecast.experience_time import decline_parts, experience_time_block
from learnrace_pipeline.lib.forecast.normal import normal_block, sigma_grid
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.production import (
    prepare_targets,
    production_model,
    project,
)
from learnrace_pipeline.lib.forecast.series import exponent_summary
from learnrace_pipeline.lib.forecast.streams import SeriesStreams
from learnrace_pipeline.lib.forecast.student_t import student_t_block
from learnrace_pipeline.lib.forecast.types import (
    ET_MODEL_NAME,
    ET_MODEL_NAME_T,
    LEVELS,
    MODEL_NAME,
    MODEL_NAME_T,
    ForecastConfig,
    ForecastSamples,
    ForecastSummary,
    ForecastTask,
    qname,
)

#: statistics of each part of the per-target decline attribution (:func:`decline_attribution`)
ATTRIBUTION_STATS = ("mean", "q05", "q50", "q95")
#: the attribution's columns, in the order of :func:`decline_attribution`'s output
ATTRIBUTION_COLUMNS = (
    *[f"decline_{p}_{s}" for p in ("experience", "time") for s in ATTRIBUTION_STATS],
    "share_experience_q05",
    "share_experience_q50",
    "share_experience_q95",
)


def decline_attribution(exp_part: np.ndarray, time_part: np.ndarray) -> np.ndarray:
    """Per target ``(n_targets, 11)``: mean and 5/50/95% quantiles of the experience and of the
    time part of the deterministic decline (log units), then the 5/50/95% quantiles of the
    experience share ``E / (E + T)`` over the samples whose decline ``E + T`` is positive (NaN
    where none is)."""
    out = []
    for part in (exp_part, time_part):
        out.append(part.mean(axis=1)[:, None])
        out.append(np.quantile(part, [0.05, 0.5, 0.95], axis=1).T)
    total = exp_part + time_part
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, exp_part / total, np.nan)
    enough = np.isfinite(share).any(axis=1)
    q = np.full((share.shape[0], 3), np.nan)
    if enough.any():
        q[enough] = np.nanquantile(share[enough], [0.05, 0.5, 0.95], axis=1).T
    out.append(q)
    return np.concatenate(out, axis=1)


def _block(
    obs_blk: dict[str, np.ndarray],
    tg: dict[str, np.ndarray],
    prod: dict[str, np.ndarray],
    prior: PopulationPrior,
    grid: np.ndarray,
    spacing: float,
    cfg: ForecastConfig,
    rng: np.random.Generator | SeriesStreams,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, np.ndarray]:
    """Log-cost samples ``(n_targets_block, K)`` for one block of series sharing a prior, the
    block's posterior draws of ``w`` and (experience+time prior) of the drift ``m``
    (``(n_series_block, K)``, else None), the 5/50/95% quantiles of log cumulative production at
    each target (``(n_targets_block, 3)``) and the experience and time parts of the
    deterministic decline per target and sample (``(n_targets_block, K)`` each)."""
    h_max = int(tg["h"].max()) if tg["h"].size else 1
    m = None
    if prior.has_drift:
        w, m, cum = experience_time_block(obs_blk, prior, h_max, cfg, rng)
    elif prior.student_t:
        w, cum = student_t_block(obs_blk, prior, h_max, cfg, rng)
    else:
        w, cum = normal_block(obs_blk, prior, grid, spacing, h_max, cfg, rng)
    ti = tg["i"]
    k_samples = cfg.n_samples
    proj = tg["projected"]
    # quantiles of production only where it was simulated; elsewhere it is one fixed value
    lq = np.repeat(tg["lq_fixed"][:, None], 3, axis=1)
    if proj.any():
        x_target = np.broadcast_to(tg["lq_fixed"][:, None], (ti.size, k_samples)).copy()
        x_target[proj] = project(tg, prod, ti[proj], k_samples, rng, cfg.production_damping)
        dx = x_target - obs_blk["x_last"][ti][:, None]
        lq[proj] = np.quantile(x_target[proj], [0.05, 0.5, 0.95], axis=1).T
    else:  # one production path per target: the growth of log Q is one number per row
        dx = (tg["lq_fixed"] - obs_blk["x_last"][ti])[:, None]
    h = tg["h"].astype(float)[:, None]
    exp_part, time_part = decline_parts(w[ti], np.zeros_like(w[ti]) if m is None else m[ti], dx, h)
    samples = obs_blk["y_last"][ti][:, None] - exp_part - time_part + cum[ti, :, tg["h"] - 1]
    return samples, w, lq, m, exp_part, time_part


@dataclass
class _Plan:
    """The arrays of one forecast, shared by every block of series (see :func:`_prepare`)."""

    series: list[str]
    levels: list[str]
    prior_map: dict[str, PopulationPrior]
    grids: dict[str, tuple[np.ndarray, float]]
    counts: np.ndarray
    starts: np.ndarray
    year: np.ndarray
    y: np.ndarray
    x: np.ndarray
    last: np.ndarray
    targets: pl.DataFrame
    t_i: np.ndarray
    horizon: np.ndarray
    lq_fixed: np.ndarray
    projected: np.ndarray
    hp: np.ndarray
    prod: dict[str, np.ndarray]
    has_drift: bool
    t_rows: dict[int, list[int]]


def _prepare(
    task: ForecastTask,
    priors: PopulationPrior | Mapping[str, PopulationPrior],
    level_of: Mapping[str, str] | None,
    config: ForecastConfig,
) -> _Plan:
    """Checks and per-series arrays of a forecast (raises as :func:`simulate` documents)."""
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

    targets = prepare_targets(task, series, last_year.astype(np.int64))
    if targets.filter(pl.col("horizon") < 1).height:
        r = targets.filter(pl.col("horizon") < 1).row(0, named=True)
        raise DataError(
            f"series {r['series_id']!r}: year {r['year']} to forecast is not after the last "
            "observed cost", source="forecast", column="year",
        )  # fmt: skip
    prod = production_model(task.annual, series)
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
    has_drift = any(p.has_drift for p in prior_map.values())
    if has_drift and not all(p.has_drift for p in prior_map.values()):
        raise ModelError("priors of one forecast must all have a drift (m) or none")
    t_rows: dict[int, list[int]] = {}
    for row, i in enumerate(t_i.tolist()):
        t_rows.setdefault(i, []).append(row)
    return _Plan(
        series=series,
        levels=levels,
        prior_map=prior_map,
        grids={k: sigma_grid(p, config.sigma_nodes) for k, p in prior_map.items()},
        counts=counts,
        starts=starts,
        year=year,
        y=y,
        x=x,
        last=last,
        targets=targets,
        t_i=t_i,
        horizon=targets["horizon"].to_numpy().astype(np.int64),
        lq_fixed=targets["lq_fixed"].fill_null(np.nan).to_numpy(),
        projected=projected,
        hp=hp,
        prod=prod,
        has_drift=has_drift,
        t_rows=t_rows,
    )


def _block_inputs(
    plan: _Plan, ids: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(trow, obs_blk, tg, sub_prod)`` of the series ``ids`` (sharing one prior): their
    target rows, right-aligned differences, targets and production models."""
    rows = [np.asarray(plan.t_rows.get(int(i), []), dtype=np.int64) for i in ids]
    counts, starts, y, x, year = plan.counts, plan.starts, plan.y, plan.x, plan.year
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
    trow = np.concatenate(rows).astype(np.int64)
    tg = {
        "i": local,
        "h": plan.horizon[trow],
        "lq_fixed": plan.lq_fixed[trow],
        "projected": plan.projected[trow],
        "hp": plan.hp[trow],
    }
    sub_prod = {k: v[ids] for k, v in plan.prod.items()}
    obs_blk = {
        "dy": dy, "dxw": dxw, "dt": dtv, "valid": valid,
        "y_last": y[plan.last[ids]], "x_last": x[plan.last[ids]],
    }  # fmt: skip
    return trow, obs_blk, tg, sub_prod


def simulate(
    task: ForecastTask,
    priors: PopulationPrior | Mapping[str, PopulationPrior],
    level_of: Mapping[str, str] | None = None,
    config: ForecastConfig = ForecastConfig(),
    *,
    keep_draws: bool = False,
    progress: Callable[[int], None] | None = None,
) -> ForecastSamples:
    """Posterior predictive samples of log unit cost at every target of ``task``.

    Series are simulated in blocks of ``config.chunk`` sharing a prior (sorted by level and
    length), each block with its own random stream spawned from ``config.seed``; the samples
    therefore depend on ``config.chunk`` (:mod:`.pool`'s summaries use one stream per series
    instead).

    Args:
        task: observed points, targets and (optionally) annual production history.
        priors: one prior for every series, or priors keyed by level.
        level_of: series_id -> key into ``priors`` (required when ``priors`` is a mapping).
        config: sample sizes, quadrature nodes, seed.
        keep_draws: also keep each series' draws of ``w`` (and ``m``) and each target's
            per-sample decline parts in ``ForecastSamples.draws`` (for :mod:`.pool`).
        progress: called with the number of series just forecast after each block of series
            (for a progress display).

    Raises:
        DataError: a series with fewer than 3 observed points, a target not after the last
            observation, or a projected target without enough production history.
    """
    plan = _prepare(task, priors, level_of, config)
    series, levels, counts, targets = plan.series, plan.levels, plan.counts, plan.targets
    t_i = plan.t_i

    # blocks: series sharing a prior, sorted by length so recursions stay short
    order = sorted(range(len(series)), key=lambda i: (levels[i], counts[i]))
    out = np.empty((targets.height, config.n_samples), dtype=np.float64)
    out_lq = np.empty((targets.height, 3), dtype=np.float64)
    out_attr = np.empty((targets.height, len(ATTRIBUTION_COLUMNS)), dtype=np.float64)
    w_draws = np.empty((len(series), config.n_samples), dtype=np.float64)
    m_draws = np.empty((len(series), config.n_samples)) if plan.has_drift else None
    parts = np.empty((2, targets.height, config.n_samples)) if keep_draws else None
    rng_root = np.random.SeedSequence(config.seed)
    blocks: list[list[int]] = []
    for i in order:
        if blocks and levels[blocks[-1][0]] == levels[i] and len(blocks[-1]) < config.chunk:
            blocks[-1].append(i)
        else:
            blocks.append([i])
    children = rng_root.spawn(len(blocks))
    for blk, seed in zip(blocks, children, strict=True):
        ids = np.asarray(blk)
        trow, obs_blk, tg, sub_prod = _block_inputs(plan, ids)
        prior = plan.prior_map[levels[ids[0]]]
        grid, spacing = plan.grids[levels[ids[0]]]
        rng = np.random.default_rng(seed)
        out[trow], w_draws[ids], out_lq[trow], m_blk, exp_part, time_part = _block(
            obs_blk, tg, sub_prod, prior, grid, spacing, config, rng
        )
        out_attr[trow] = decline_attribution(exp_part, time_part)
        if parts is not None:
            parts[0, trow], parts[1, trow] = exp_part, time_part
        if m_draws is not None:
            m_draws[ids] = m_blk
        if progress is not None:
            progress(ids.size)
    level_col = [levels[i] for i in t_i]
    frame = targets.select("series_id", "year", "horizon", "production").with_columns(
        pl.Series("level", level_col, dtype=pl.String)
    )
    attribution = frame.select("series_id", "year", "horizon").with_columns(
        *[pl.Series(name, out_attr[:, j]) for j, name in enumerate(ATTRIBUTION_COLUMNS)]
    )
    return ForecastSamples(
        frame,
        out,
        exponent_summary(series, levels, counts, w_draws, m_draws),
        log_q=out_lq,
        attribution=attribution,
        draws=(
            {"w": w_draws, "m": m_draws, "parts": parts, "levels": levels, "n_costs": counts}
            if keep_draws
            else None
        ),
    )


def model_name(prior: PopulationPrior) -> str:
    """The ``model`` label of forecasts made with ``prior`` (Wright or experience+time; normal
    or Student-t innovations)."""
    if prior.has_drift:
        return ET_MODEL_NAME_T if prior.student_t else ET_MODEL_NAME
    return MODEL_NAME_T if prior.student_t else MODEL_NAME


def quantile_frame(
    fs: ForecastSamples | ForecastSummary,
    levels: Sequence[float] = LEVELS,
    *,
    model: str = MODEL_NAME,
) -> pl.DataFrame:
    """One row per series and forecast year: ``series_id, year, q05 ... q95`` (cost units, i.e.
    exp of the log-cost quantiles), ``model`` (``pooled_wright_ma1[<level>]``, or
    ``pooled_wright_student_t_ma1[...]``), ``production`` (given, interpolated or projected) and
    the cumulative production the forecast assumes, in the input's production units:
    ``cumulative_production_q50`` with its 90% interval ``cumulative_production_q05/_q95``
    (equal where production is given or interpolated). A quantile beyond the floating-point
    range is ``inf`` (:func:`.outputs.check_finite_output` refuses to write it)."""
    with np.errstate(over="ignore"):
        q = np.exp(fs.quantiles(levels))
    cols = {qname(v): q[:, j] for j, v in enumerate(levels)}
    frame = fs.targets.select("series_id", "year").with_columns(
        *[pl.Series(k, v) for k, v in cols.items()],
        pl.format(f"{model}[{{}}]", fs.targets["level"]).alias("model"),
        fs.targets["production"],
    )
    if fs.log_q is not None:
        with np.errstate(over="ignore"):
            cq = np.exp(fs.log_q)
        frame = frame.with_columns(
            pl.Series("cumulative_production_q05", cq[:, 0]),
            pl.Series("cumulative_production_q50", cq[:, 1]),
            pl.Series("cumulative_production_q95", cq[:, 2]),
        )
    return frame


def check_finite(fs: ForecastSamples | ForecastSummary) -> None:
    """Raise ModelError naming the first target whose samples are not all finite."""
    bad = (
        ~fs.finite if isinstance(fs, ForecastSummary) else ~np.all(np.isfinite(fs.samples), axis=1)
    )
    if bad.any():
        r = fs.targets.filter(pl.Series(bad)).row(0, named=True)
        raise ModelError(
            f"non-finite forecast for {r['series_id']!r} year {r['year']}: its costs leave the "
            "range the model can evaluate; nothing written"
        )
