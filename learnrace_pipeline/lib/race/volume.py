"""The race's volume metric: each nation's share of world volume per year, as joint draws.

:func:`volume_draws` reads a deployment-growth fit (:mod:`learnrace_pipeline.lib.models.deployment`,
the asset ``calibration/deployment_fit``) and returns a :class:`~.draws.MetricDraws` of role
``volume``: values are fractions of the world's yearly volume, dims (draw, nation, year).

- **Observed years** hold the observed share (nation / world, the same in every draw).
- **Other years** from the industry's first observed year on: every series of the industry
  (its nations and ``OTHER``, the rest of the world) is drawn from the posterior predictive of
  the form PSIS-LOO prefers for the industry (``model_comparison.preferred``; the forms are not
  stacked), noise included: a level series is ``v = exp(mu + e)`` with AR(1) residuals
  continuing from its last observed residual (``e_t = phi e_(t-1) + sigma_s eps_t``, ``eps``
  Student-t), a count series a negative-binomial count of mean ``exp(mu)``; a series keeps its
  observed value in the years it has one. The share is ``v_n / sum of the industry's series``, so it
  stays in [0, 1]. Years before the data: NaN.
- **Knobs**: ``knobs.deployment_growth_scale[nation] = s`` multiplies the nation's growth from
  its last observed year ``T`` on, by running its clock at rate ``s`` after ``T``:
  ``mu(t) = mu_unscaled(T + s (t - T))``. For the log-linear form that is ``mu(T) + s g (t - T)``
  (growth ``g`` scaled); for the logistic form ``ln K - softplus(h - r (T - c) - s r (t - T))``
  (rate ``r`` scaled; ceiling and level at ``T`` unchanged). A nation in decline (``g < 0``)
  declines more slowly under ``s < 1``.
- **Cross-sections** (one dated snapshot, e.g. the 2019 fabrication shares): the observed
  share in its year, NaN in every other year: no trajectory can be fitted from one year.
- Draws: ``n_draws`` posterior draws chosen by a generator seeded with ``seed`` (with
  replacement only when more are asked than the fit holds), then one uniform per draw, series
  and year turned into the predictive noise by inverse CDFs, so two calls with the same seed
  and different knobs differ only through the knobs (common random numbers).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr
from scipy import stats

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.deployment import (
    mean_log_volume,
    preferred_form,
    stacked_params,
)
from learnrace_pipeline.lib.models.deployment_data import COUNT, REST
from learnrace_pipeline.lib.race.draws import BASE, Knobs, MetricDraws, make_draws
from learnrace_pipeline.lib.race.spec import IndustrySpec, Metric

SOURCE = "calibration/deployment_fit"
UNIT = "fraction"
_U_EDGE = 1e-12  # uniforms kept inside (0, 1): the inverse CDFs are finite there


def _observed(fit: xr.DataTree, industry: str) -> tuple[dict[tuple[str, int], float], bool]:
    """({(nation, year): observed share}, whether the industry is a cross-section)."""
    ds = fit["observed_share"].to_dataset()
    mine = ds["industry"].values == industry
    shares = {
        (str(n), int(y)): float(s)
        for n, y, s in zip(
            ds["nation"].values[mine],
            ds["year"].values[mine],
            ds["share"].values[mine],
            strict=True,
        )
    }
    cross = bool(ds["cross_section"].values[mine].any()) if mine.any() else False
    return shares, cross


def volume_draws(
    fit: xr.DataTree,
    industry: IndustrySpec,
    years: Sequence[int],
    knobs: Knobs = BASE,
    *,
    seed: int,
    n_draws: int,
) -> MetricDraws:
    """Each competing nation's share of world volume in ``years`` (module doc).

    Raises:
        ModelError: the industry has no volume metric, or a metric that is not an annual share
            of the world (cumulative AV test miles are projected by the AV model), or the fit
            lacks one of its nations.
    """
    if not isinstance(industry.volume, Metric):
        raise ModelError(f"volume draws: industry {industry.id!r} has no volume metric")
    if n_draws < 1:
        raise ModelError(f"volume draws: n_draws must be >= 1, got {n_draws}")
    years = [int(y) for y in years]
    nations = [e.code for e in industry.nations]
    observed, cross = _observed(fit, industry.id)
    if not observed:
        raise ModelError(
            f"volume draws: the deployment fit holds no shares of industry {industry.id!r} "
            f"(its volume metric {industry.volume.name!r} is not an annual share of the world)"
        )
    values = np.full((n_draws, len(nations), len(years)), np.nan)
    form = None
    if not cross:
        form = preferred_form(fit, industry.id)
        values = _projected(fit, industry, form, nations, years, knobs, seed, n_draws)
    through: dict[str, int] = {}
    for j, nation in enumerate(nations):
        seen = [y for (n, y) in observed if n == nation]
        if seen:
            through[nation] = max(seen)
        for t, y in enumerate(years):
            if (nation, y) in observed:
                values[:, j, t] = observed[(nation, y)]
    source = f"{SOURCE} ({form})" if form else f"{SOURCE} (observed cross-section)"
    return make_draws(
        industry.id,
        "volume",
        values,
        nations,
        years,
        unit=UNIT,
        source=source,
        observed_through=through,
    )


def _projected(
    fit: xr.DataTree,
    industry: IndustrySpec,
    form: str,
    nations: list[str],
    years: list[int],
    knobs: Knobs,
    seed: int,
    n_draws: int,
) -> np.ndarray:
    """(draw, nation, year) shares from the posterior predictive of ``form``."""
    sd = fit["series_data"].to_dataset()
    ks = np.flatnonzero(sd["industry"].values == industry.id)
    series_nation = [str(sd["nation"].values[k]) for k in ks]
    missing = {e.code for e in industry.nations if "volume" in dict(e.missing)}
    absent = [n for n in nations if n not in series_nation and n not in missing]
    if absent:
        raise ModelError(
            f"volume draws: the deployment fit has no series for {absent} in {industry.id!r}"
        )
    params = stacked_params(fit, form)
    n_post = params["level"].shape[0]
    rng = np.random.default_rng(seed)
    pick = rng.choice(n_post, size=n_draws, replace=n_draws > n_post)
    p = {k: v[pick] for k, v in params.items()}
    data_years = [int(y) for y in sd["year"].values]
    start = int(sd["first_year"].values[ks].min())
    # one uniform per draw, series and calendar year from `lo` to the last year asked
    lo, hi = min(min(years), start), max(max(years), start)
    grid = np.arange(lo, hi + 1)
    u = rng.random((n_draws, ks.size, grid.size)) * (1 - 2 * _U_EDGE) + _U_EDGE
    col = [int(y) - lo for y in years]
    vol = np.empty((n_draws, ks.size, len(years)))
    for i, k in enumerate(ks):
        nation = series_nation[i]
        scale = 1.0 if nation == REST else float(knobs.deployment_growth_scale.get(nation, 1.0))
        obs = np.array(
            [
                sd["volume"].values[k, data_years.index(y)] if y in data_years else np.nan
                for y in grid
            ]
        )
        if str(sd["kind"].values[k]) == COUNT:
            draw = _count_path(p, form, fit, k, grid, obs, scale, u[:, i, :])
        else:
            draw = _level_path(p, form, fit, k, grid, obs, scale, u[:, i, :])
        vol[:, i, :] = np.where(np.isfinite(obs)[None, :], obs[None, :], draw)[:, col]
    total = vol.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = vol / np.where(total > 0, total, np.nan)[:, None, :]
    share[:, :, np.asarray(years) < start] = np.nan
    out = np.full((n_draws, len(nations), len(years)), np.nan)
    for j, nation in enumerate(nations):
        if nation in series_nation:
            out[:, j, :] = share[:, series_nation.index(nation), :]
    return out


def _mean(p: dict, form: str, fit: xr.DataTree, k: int, grid: np.ndarray, scale: float):
    """(draws, years) mean log volume of series ``k``; the clock runs at ``scale`` after the
    series' last observed year."""
    sd = fit["series_data"].to_dataset()
    last = float(sd["last_year"].values[k])
    t_eff = np.where(grid > last, last + scale * (grid - last), grid).astype(float)
    return mean_log_volume(p, form, np.array([k]), t_eff - float(sd["centre_year"].values[k]))


def _level_path(p, form, fit, k, grid, obs, scale, u) -> np.ndarray:
    """(draws, years) predictive volumes of a level series: after its last observation the
    residual follows its AR(1), ``e_t = phi e_(t-1) + sigma eps_t`` from the last observed
    residual; in other unobserved years a draw from the stationary residual."""
    mu = _mean(p, form, fit, k, grid, scale)
    sigma = p["sigma"][:, _level_pos(fit, k)][:, None]
    phi = p["ar1"][:, _ar_pos(fit, k)][:, None] if "ar1" in p else np.zeros_like(sigma)
    eps = stats.t.ppf(u, p["nu"][:, None]) if "nu" in p else stats.norm.ppf(u)
    resid = sigma * eps / np.sqrt(1.0 - phi**2)  # stationary draws
    seen = np.flatnonzero(np.isfinite(obs))
    if seen.size:
        t_last = seen[-1]
        e = np.log(obs[t_last]) - mu[:, t_last]
        for t in range(t_last + 1, grid.size):
            e = phi[:, 0] * e + sigma[:, 0] * eps[:, t]
            resid[:, t] = e
    return np.exp(mu + resid)


def _count_path(p, form, fit, k, grid, obs, scale, u) -> np.ndarray:
    """(draws, years) predictive counts of a count series: negative binomial of mean
    ``exp(mu)``, independent across years."""
    mu = _mean(p, form, fit, k, grid, scale)
    alpha = (1.0 / p["inv_sqrt_alpha"][:, _count_pos(fit, k)] ** 2)[:, None]
    return stats.nbinom.ppf(u, alpha, alpha / (alpha + np.exp(mu)))


def _ar_pos(fit: xr.DataTree, k: int) -> int:
    """Position of series ``k``'s industry among the industries with level series (``ar1``)."""
    sd = fit["series_data"].to_dataset()
    inds = []
    for ind, kind in zip(sd["industry"].values, sd["kind"].values, strict=True):
        if kind != COUNT and str(ind) not in inds:
            inds.append(str(ind))
    return inds.index(str(sd["industry"].values[k]))


def _level_pos(fit: xr.DataTree, k: int) -> int:
    """Position of series ``k`` among the level series (the ``sigma`` dim)."""
    sd = fit["series_data"].to_dataset()
    label = str(sd["series"].values[k])
    levels = [str(s) for s in sd["series"].values[sd["kind"].values != COUNT]]
    return levels.index(label)


def _count_pos(fit: xr.DataTree, k: int) -> int:
    """Position of series ``k``'s industry among the count industries (``inv_sqrt_alpha``)."""
    sd = fit["series_data"].to_dataset()
    counts = []
    for ind, kind in zip(sd["industry"].values, sd["kind"].values, strict=True):
        if kind == COUNT and str(ind) not in counts:
            counts.append(str(ind))
    return counts.index(str(sd["industry"].values[k]))
