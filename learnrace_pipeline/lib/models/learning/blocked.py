"""Large panels fitted in blocks: one learning-curve fit per industry (or per part of a large
industry), then the industry level pooled from the blocks' posteriors in two stages.

The full pooled model (:mod:`.model`, ``level="pooled"``) for series ``s`` in industry ``k``::

    w_s ~ N(w_k, tau_series),   w_k ~ N(w_all, tau_industry),   w_all ~ N(w_mu, w_sd)

is fitted here in two stages, after Lunn et al. (2013), "Fully Bayesian hierarchical
modelling in two stages":

1. **Blocks** (:func:`plan_blocks`): every industry is one block; an industry of more than
   ``max_series`` series is split into ``ceil(n / max_series)`` blocks of near-equal size
   (round-robin over its sorted series labels). Each block is fitted alone with the
   single-industry model: its top level ``w_b`` (the block's ``w_all``) has the wide prior
   ``N(w_mu, w_sd)`` in place of ``N(w_all, tau_industry)``. A block has its own noise law (its
   own ``rho``, ``nu``, ``log_sigma_all`` and ``tau_log_sigma``) and series spread
   ``tau_w_series``, where the full model shares ``rho`` and ``nu`` across industries.
   Blocks are padded to a few shared layouts (``n_series`` a power-of-two fraction of the
   largest block, ``n_obs`` the largest in that bucket) with prior-only series whose points are
   all masked; a padded series has no data, so integrating it out leaves the block's posterior
   unchanged, and one compiled model serves every block of a bucket.
2. **Industry level**: each block's likelihood of its mean is taken as Gaussian, ``L_b(w) =
   post_b(w) / prior(w)`` with both sides moment-matched (precision ``1/v_b - 1/w_sd^2``,
   mean ``(m_b/v_b - w_mu/w_sd^2) / precision``); blocks of one industry multiply. Then
   ``y_k ~ N(w_all, tau_industry^2 + se_k^2)`` with the model's priors on ``w_all`` and
   ``tau_industry`` is solved on a grid of ``tau_industry`` (``w_all`` conjugate given it) and
   ``(w_all, tau_industry, w_k)`` drawn exactly, one per output draw.
3. **Series level**: in block ``b`` of industry ``k``, each draw ``j`` of a series exponent is
   moved to the block mean ``w_k[j]`` of stage 2: ``w_s[j] + beta_s (w_k[j] - w_b[j])`` with
   ``beta_s = cov(w_s, w_b) / var(w_b)`` over the block's draws. For a Gaussian block posterior
   ``E[w_s | w_b]`` is linear with slope ``beta_s`` and ``w_s - beta_s w_b`` is independent of
   ``w_b``, so this is a draw of ``w_s`` given the block mean ``w_k[j]``. ``beta_s`` is the
   series' shrinkage towards its industry: near 0 for a long series, near 1 for a short one.

Approximations, against the full model: the Gaussian likelihood of each block mean and the
linear conditional of stage 3 (both exact as the block grows); the noise law is per block in
stage 1. The shared ``tau_w_series``, ``rho``, ``nu``, ``log_sigma_all`` and ``tau_log_sigma``
of the combined posterior (a new series' prior) pool the blocks' posteriors of them as one
shared parameter (:func:`pool_shared`: each block's likelihood of it, its posterior density
over its prior, taken as Gaussian; their product times the prior), drawn independently of the
other parameters.

Units as in :mod:`.model`: ``w`` unit-free (cost ~ Q^-w), ``sigma`` log cost per sqrt(year).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.panel import Panel

#: label prefix of the prior-only series that pad a block to its bucket's layout
PAD_PREFIX = "~pad"
#: panels up to this many series get the full pooled NUTS fit under ``route="auto"``
FULL_FIT_MAX_SERIES = 2000
#: largest block, in series
DEFAULT_MAX_SERIES = 500
#: series parameters carried from the blocks into the combined posterior (dim ``series``)
SERIES_VARS = ("w_series", "m_series", "log_sigma_series", "sigma_series", "z_e0")
#: shared parameters pooled across blocks: the unbounded scale each is combined on
#: (``u = log tau``, ``log nu``, ``atanh rho``, ``log_sigma_all`` itself) and back
SHARED_VARS: dict[
    str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
] = {
    "tau_w_series": (np.log, np.exp),
    "tau_m_series": (np.log, np.exp),
    "log_sigma_all": (lambda x: x, lambda x: x),
    "tau_log_sigma": (np.log, np.exp),
    "rho": (np.arctanh, np.tanh),
    "nu": (np.log, np.exp),
}


def shared_log_prior(name: str, u: np.ndarray, pr: Any) -> np.ndarray:
    """Log prior density of shared parameter ``name`` on its unbounded scale ``u`` (Jacobian
    included), up to a constant, from the model's priors ``pr`` (:class:`LearningPriors`):
    HalfNormal spreads (``u = log tau``), Gamma ``nu`` (``u = log nu``), truncated-normal ``rho``
    on (-0.95, 0.95) (``u = atanh rho``), normal ``log_sigma_all``."""
    if name.startswith("tau_"):
        scale = getattr(pr, name)
        return u - np.exp(2 * u) / (2 * scale**2)
    if name == "nu":
        return pr.nu_alpha * u - pr.nu_beta * np.exp(u)
    if name == "rho":
        r = np.tanh(u)
        inside = np.abs(r) < 0.95
        lp = -((r - pr.rho_mu) ** 2) / (2 * pr.rho_sd**2) + np.log1p(-(r**2))
        return np.where(inside, lp, -np.inf)
    if name == "log_sigma_all":
        return -((u - pr.log_sigma_mu) ** 2) / (2 * pr.log_sigma_sd**2)
    raise ModelError(f"no prior known for shared parameter {name!r}")


def block_likelihood(name: str, draws: np.ndarray, pr: Any) -> tuple[float, float] | None:
    """Gaussian approximation ``(mean, precision)`` of one block's likelihood of a shared
    parameter on its unbounded scale, from the block's posterior draws ``draws``: ``log L(u) =
    log post(u) - log prior(u)``, with ``log post`` a Gaussian kernel density estimate at 41
    points between the draws' 2nd and 98th percentiles, fitted by a quadratic weighted by the
    density. ``None`` when the fitted curvature is not clearly negative (the block's posterior
    is about its prior: it says nothing of the parameter)."""
    from scipy.stats import gaussian_kde

    x = np.asarray(draws, dtype=float)
    sd = float(x.std())
    if not np.isfinite(sd) or sd <= 0:
        return None
    pts = np.linspace(*np.quantile(x, [0.02, 0.98]), 41)
    dens = gaussian_kde(x)(pts)
    ok = dens > 0
    y = np.log(dens[ok]) - shared_log_prior(name, pts[ok], pr)
    fin = np.isfinite(y)
    if fin.sum() < 5:
        return None
    c2, c1, _ = np.polyfit(pts[ok][fin], y[fin], 2, w=np.sqrt(dens[ok][fin]))
    prec = -2.0 * c2
    if not np.isfinite(prec) or prec < 0.05 / sd**2:
        return None
    return float(c1 / prec), float(prec)


def pool_shared(
    name: str, block_draws: np.ndarray, pr: Any, *, n_draws: int, seed: int, grid: int = 4000
) -> tuple[np.ndarray, int]:
    """Draws of a parameter shared by every block, from the blocks' own posteriors of it
    (``block_draws``: ``(blocks, draws)`` on its unbounded scale ``u``).

    Each block's likelihood is approximated as Gaussian (:func:`block_likelihood`: its
    posterior's density over the prior), and the pooled posterior is their product times the
    exact prior, counted once::

        log p(u | all) = sum_b -P_b (u - mu_b)^2 / 2 + log prior(u) + const

    evaluated on a grid and sampled (``n_draws``, seeded). Blocks whose posterior is about their
    prior are left out; returns the draws and how many blocks were left out."""
    fits = [block_likelihood(name, d, pr) for d in block_draws]
    kept = [f for f in fits if f is not None]
    if not kept:
        raise ModelError(f"shared parameter {name!r}: no block's data say anything about it")
    mu = np.array([f[0] for f in kept])
    p_l = np.array([f[1] for f in kept])
    prec = p_l.sum()
    centre = (p_l * mu).sum() / prec
    half = 10.0 / np.sqrt(prec)
    us = np.linspace(centre - half, centre + half, grid)
    logp = -0.5 * (p_l[None, :] * (us[:, None] - mu[None, :]) ** 2).sum(axis=1)
    logp = logp + shared_log_prior(name, us, pr)
    logp = np.where(np.isfinite(logp), logp, -np.inf)
    p = np.exp(logp - logp.max())
    p /= p.sum()
    rng = np.random.default_rng(seed)
    k = rng.choice(grid, size=n_draws, p=p)
    return us[k] + rng.uniform(-0.5, 0.5, n_draws) * (us[1] - us[0]), len(fits) - len(kept)


@dataclass(frozen=True)
class Block:
    """One block of a blocked fit: ``series`` labels, all of ``industry``; ``part`` numbers the
    blocks of one industry from 0."""

    industry: str
    part: int
    series: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.industry}#{self.part}"


@dataclass
class BlockedFit:
    """The combined posterior (``tree``: groups ``posterior`` and ``sample_stats``, attrs like a
    pooled fit's) and one row per block (``blocks``: sizes, timings, R-hat, ESS, divergences)."""

    tree: xr.DataTree
    blocks: pl.DataFrame
    compile_seconds: float
    sample_seconds: float
    combine_seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def plan_blocks(panel: Panel, max_series: int = DEFAULT_MAX_SERIES) -> list[Block]:
    """The blocks of ``panel``: one per industry, a larger industry split into
    ``ceil(n / max_series)`` near-equal blocks (round-robin over its sorted series labels)."""
    if max_series < 2:
        raise ModelError(f"max_series must be >= 2, got {max_series}")
    out: list[Block] = []
    by_ind = panel.series.group_by("industry").agg(pl.col("series").sort()).sort("industry")
    for ind, labels in by_ind.iter_rows():
        k = math.ceil(len(labels) / max_series)
        for p in range(k):
            out.append(Block(str(ind), p, tuple(labels[p::k])))
    return out


def _bucket(n: int, top: int) -> int:
    """The padded series count of a block of ``n`` series: ``top / 2^j`` for the largest ``j``
    that still holds ``n`` plus one pad series."""
    size = top
    while size // 2 >= n + 1 and size // 2 >= 8:
        size //= 2
    return size


def block_panel(panel: Panel, block: Block, n_series: int | None = None,
                n_obs: int | None = None) -> tuple[Panel, np.ndarray]:  # fmt: skip
    """The single-industry panel of ``block``, padded to ``n_series`` series and ``n_obs``
    differences with prior-only series (labels ``~pad<i>``) whose differences are masked; returns
    it with its mask (1 for the block's own differences, 0 for the padding)."""
    keep = pl.Series("series", list(block.series))
    series = panel.series.filter(pl.col("series").is_in(keep.implode())).sort("series")
    if series.height != len(block.series):
        raise ModelError(f"block {block.name}: some series are not in the panel")
    s_index = {s: i for i, s in enumerate(series["series"].to_list())}
    techs = tuple(sorted(series["technology"].unique().to_list()))
    nats = tuple(sorted(series["nation"].unique().to_list()))
    t_index = {t: i for i, t in enumerate(techs)}
    n_index = {n: i for i, n in enumerate(nats)}

    def reindex(df: pl.DataFrame) -> pl.DataFrame:
        return df.with_columns(
            pl.col("series").replace_strict(s_index, return_dtype=pl.Int64).alias("series_idx"),
            pl.lit(0, dtype=pl.Int64).alias("industry_idx"),
            pl.col("technology").replace_strict(t_index, return_dtype=pl.Int64)
            .alias("technology_idx"),
            pl.col("nation").replace_strict(n_index, return_dtype=pl.Int64).alias("nation_idx"),
        )  # fmt: skip

    obs = reindex(panel.obs.filter(pl.col("series").is_in(keep.implode()))).sort(
        "series_idx", "pos"
    )
    series = reindex(series)
    levels = panel.levels.filter(pl.col("series").is_in(keep.implode()))
    n_real, o_real = series.height, obs.height
    n_series = n_series or n_real
    n_obs = n_obs or o_real
    if n_series < n_real or n_obs < o_real or (n_obs > o_real and n_series == n_real):
        raise ModelError(
            f"block {block.name}: cannot pad {n_real} series / {o_real} differences to "
            f"{n_series} / {n_obs} (padded differences need a pad series)"
        )
    if n_series > n_real:
        n_pad = n_series - n_real
        pad_labels = [f"{PAD_PREFIX}{i:05d}" for i in range(n_pad)]
        first = series.row(0, named=True)
        pad_series = pl.DataFrame(
            {
                "series": pad_labels,
                "series_idx": np.arange(n_real, n_series, dtype=np.int64),
            }
        ).with_columns(
            pl.lit(v).cast(series.schema[c]).alias(c)
            for c, v in first.items()
            if c not in ("series", "series_idx")
        )
        series = pl.concat([series, pad_series.select(series.columns)])
        n_pad_obs = n_obs - o_real
        if n_pad_obs:
            o_first = obs.row(0, named=True)
            pad_obs = pl.DataFrame(
                {
                    "series": [pad_labels[-1]] * n_pad_obs,
                    "series_idx": np.full(n_pad_obs, n_series - 1, dtype=np.int64),
                    "pos": np.arange(n_pad_obs, dtype=np.int64),
                    "dlogc": np.zeros(n_pad_obs),
                    "dlogq": np.zeros(n_pad_obs),
                    "dt": np.ones(n_pad_obs),
                }
            ).with_columns(
                pl.lit(v).cast(obs.schema[c]).alias(c)
                for c, v in o_first.items()
                if c not in ("series", "series_idx", "pos", "dlogc", "dlogq", "dt")
            )
            obs = pl.concat([obs, pad_obs.select(obs.columns)])
    mask = np.concatenate([np.ones(o_real), np.zeros(n_obs - o_real)])
    sub = replace(
        panel,
        obs=obs,
        levels=levels,
        series=series,
        excluded=panel.excluded.clear(),
        industries=(block.industry,),
        technologies=techs,
        nations=nats,
        meta=dict(panel.meta) | {"block": block.name},
    )
    return sub, mask


def _rhat_ess(post: xr.Dataset, names: Iterable[str]) -> tuple[float, float]:
    from learnrace_pipeline.lib.models.diagnostics import per_parameter

    tree = xr.DataTree.from_dict({"posterior": post[[n for n in names if n in post]]})
    tab = per_parameter(tree)
    return float(tab["rhat"].max()), float(tab["ess_bulk"].min())


@dataclass(frozen=True)
class BlockTask:
    """Everything one block's fit needs, picklable for a Dask worker: the padded single-industry
    panel, its mask, the model and sampler settings, and the block's place in the plan."""

    index: int
    n_blocks: int
    block: Block
    panel: Panel
    mask: np.ndarray
    config: LearningConfig
    sampler: base.SamplerConfig


#: compiled models of this process, by (model settings, n_series, n_obs): a Dask worker keeps
#: its own, so each worker compiles a layout once
_MODELS: dict[tuple[str, int, int], Any] = {}


def block_tasks(
    panel: Panel,
    config: LearningConfig,
    sampler: base.SamplerConfig,
    max_series: int = DEFAULT_MAX_SERIES,
) -> list[BlockTask]:
    """The tasks of stage 1 (:func:`plan_blocks`), each block padded to its bucket's layout and
    seeded ``sampler.seed + 7919 * index``."""
    if config.level != "pooled" or config.trend == "both":
        raise ModelError(
            "the blocked fit takes the pooled Wright or time-trend model "
            f"(got level={config.level!r}, trend={config.trend!r})"
        )
    blocks = plan_blocks(panel, max_series)
    top = max(len(b.series) for b in blocks) + 1
    sizes = {b.name: _bucket(len(b.series), top) for b in blocks}
    n_diffs = dict(zip(panel.series["series"], panel.series["n_diffs"], strict=True))
    obs_of = {b.name: sum(n_diffs[s] for s in b.series) for b in blocks}
    bucket_obs: dict[int, int] = {}
    for b in blocks:
        bucket_obs[sizes[b.name]] = max(bucket_obs.get(sizes[b.name], 0), obs_of[b.name] + 1)
    tasks = []
    for i, b in enumerate(blocks):
        sub, mask = block_panel(panel, b, sizes[b.name], bucket_obs[sizes[b.name]])
        seed = sampler.seed + 7919 * i
        tasks.append(BlockTask(i, len(blocks), b, sub, mask, config, replace(sampler, seed=seed)))
    return tasks


def fit_block(task: BlockTask, out_dir: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Fit one block; return its posterior (real series only) and a row of diagnostics. With
    ``out_dir`` the posterior is written to ``<out_dir>/block-<index>.nc`` (a writer-named
    temporary, :func:`~learnrace_pipeline.lib.storage.files.create_temporary`, renamed when
    complete) and its path returned in its place: how a Dask worker hands it back
    without sending arrays through the scheduler."""
    from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel

    sub = task.panel
    key = (base.config_json(task.config), sub.n_series, sub.n_obs)
    t0 = time.perf_counter()
    if key not in _MODELS:
        _MODELS[key] = LearningCurveModel(sub, task.config, task.sampler)
        _MODELS[key].compile()
    compile_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    dt = _MODELS[key].fit(task.mask, panel=sub, sampler=task.sampler, log_likelihood=False,
                          predictive=False)  # fmt: skip
    sample_s = time.perf_counter() - t1
    post = dt["posterior"].to_dataset().sel(series=list(task.block.series))
    stats = dt["sample_stats"]
    div = int(stats["diverging"].sum()) if "diverging" in stats else 0
    rhat, ess = _rhat_ess(
        post, [v for v in post.data_vars if v not in ("sigma_series", "sigma_all")]
    )
    row = {
        "block": task.block.name,
        "industry": task.block.industry,
        "n_series": len(task.block.series),
        "padded_series": sub.n_series,
        "n_obs": int(task.mask.sum()),
        "compile_s": round(compile_s, 2),
        "sample_s": round(sample_s, 2),
        "rhat_max": rhat,
        "ess_bulk_min": ess,
        "divergences": div,
    }
    if out_dir is None:
        return post, row
    import os

    from learnrace_pipeline.lib.storage.files import create_temporary

    path = os.path.join(out_dir, f"block-{task.index:05d}.nc")
    fd, tmp = create_temporary(path)
    os.close(fd)
    try:
        post.to_netcdf(tmp, engine="h5netcdf", mode="w")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path, row


def fit_blocks(
    panel: Panel,
    config: LearningConfig,
    sampler: base.SamplerConfig,
    *,
    max_series: int = DEFAULT_MAX_SERIES,
    progress: Callable[[str], None] | None = None,
    client: Any | None = None,
    out_dir: str | None = None,
) -> list[tuple[Block, xr.Dataset, dict[str, Any]]]:
    """Stage 1: fit every block (:func:`block_tasks`) with the single-industry model, one
    compiled model per padded layout and process. Returns per block its posterior (real series
    only, labels of ``panel``) and a row of diagnostics, in plan order.

    With a ``dask.distributed.Client`` the blocks run as tasks on its workers, which write their
    posteriors under ``out_dir`` (a folder every worker reaches); this process reads them back.
    """
    tasks = block_tasks(panel, config, sampler, max_series)
    out = []
    if client is None:
        for t in tasks:
            post, row = fit_block(t)
            out.append((t.block, post, row))
            if progress:
                progress(f"block {t.index + 1}/{t.n_blocks} {t.block.name}: "
                         f"{row['n_series']} series, {row['sample_s']:.1f} s, "
                         f"R-hat {row['rhat_max']:.3f}")  # fmt: skip
        return out
    if out_dir is None:
        raise ModelError("a Dask run of the blocked fit needs out_dir, a folder its workers reach")
    from distributed import as_completed

    futures = client.map(fit_block, tasks, out_dir=str(out_dir), pure=False)
    done: dict[int, tuple[str, dict]] = {}
    index_of = {f.key: t.index for f, t in zip(futures, tasks, strict=True)}
    for fut in as_completed(futures):
        i = index_of[fut.key]
        try:
            done[i] = fut.result()
        except Exception as exc:
            raise ModelError(
                f"block {tasks[i].block.name} failed on its Dask worker: {exc}"
            ) from exc
        if progress:
            progress(f"block {len(done)}/{len(tasks)} {tasks[i].block.name} done")
    for t in tasks:
        path, row = done[t.index]
        with xr.open_dataset(path) as ds:
            out.append((t.block, ds.load(), row))
    return out


def _stack(da: xr.DataArray) -> np.ndarray:
    return da.stack(sample=("chain", "draw")).transpose("sample", ...).values


def _industry_likelihood(
    fits: Sequence[tuple[Block, xr.Dataset, dict]], top: str, prior_mu: float, prior_sd: float
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Gaussian likelihood (mean, sd) of each industry's mean, from its blocks' posteriors of
    their top level ``top`` divided by its prior ``N(prior_mu, prior_sd)``."""
    prec: dict[str, float] = {}
    num: dict[str, float] = {}
    for b, post, _ in fits:
        x = _stack(post[top])
        m, v = float(x.mean()), float(x.var())
        p = 1.0 / v - 1.0 / prior_sd**2
        if p <= 0:
            raise ModelError(
                f"block {b.name}: its posterior of {top} is as wide as its prior; the data say "
                "nothing about the industry mean (fit this panel with the full pooled model)"
            )
        prec[b.industry] = prec.get(b.industry, 0.0) + p
        num[b.industry] = num.get(b.industry, 0.0) + (m / v - prior_mu / prior_sd**2)
    names = sorted(prec)
    y = np.array([num[k] / prec[k] for k in names])
    se = np.array([1.0 / math.sqrt(prec[k]) for k in names])
    return names, y, se


def draw_industry_level(
    y: np.ndarray,
    se: np.ndarray,
    *,
    mu0: float,
    sd0: float,
    tau_scale: float,
    n_draws: int,
    seed: int,
    grid: int = 4000,
) -> dict[str, np.ndarray]:
    """Exact draws of ``(w_all, tau_industry, w_k)`` under ``y_k ~ N(w_k, se_k)``,
    ``w_k ~ N(w_all, tau_industry)``, ``w_all ~ N(mu0, sd0)``, ``tau_industry ~
    HalfNormal(tau_scale)``: ``tau`` from its marginal posterior on a grid over
    ``(0, 6 tau_scale]``, then ``w_all | tau`` and ``w_k | w_all, tau`` (both conjugate normal).
    Returns arrays of length ``n_draws`` (``w_k``: ``(n_draws, K)``)."""
    rng = np.random.default_rng(seed)
    taus = np.linspace(6 * tau_scale / grid, 6 * tau_scale, grid)
    v = taus[:, None] ** 2 + se[None, :] ** 2  # (grid, K)
    prec_all = 1.0 / sd0**2 + (1.0 / v).sum(axis=1)
    mean_all = (mu0 / sd0**2 + (y[None, :] / v).sum(axis=1)) / prec_all
    # log marginal of y given tau, w_all integrated out (Gaussian identity)
    logp = (
        -0.5 * np.log(v).sum(axis=1)
        - 0.5 * np.log(sd0**2 * prec_all)
        - 0.5 * ((y[None, :] ** 2 / v).sum(axis=1) + mu0**2 / sd0**2 - mean_all**2 * prec_all)
        - 0.5 * taus**2 / tau_scale**2
    )
    p = np.exp(logp - logp.max())
    p /= p.sum()
    k = rng.choice(grid, size=n_draws, p=p)
    step = taus[1] - taus[0]
    tau = np.clip(taus[k] + rng.uniform(-0.5, 0.5, n_draws) * step, 1e-9, None)
    v_d = tau[:, None] ** 2 + se[None, :] ** 2
    pa = 1.0 / sd0**2 + (1.0 / v_d).sum(axis=1)
    ma = (mu0 / sd0**2 + (y[None, :] / v_d).sum(axis=1)) / pa
    w_all = ma + rng.standard_normal(n_draws) / np.sqrt(pa)
    pk = 1.0 / tau[:, None] ** 2 + 1.0 / se[None, :] ** 2
    mk = (w_all[:, None] / tau[:, None] ** 2 + y[None, :] / se[None, :] ** 2) / pk
    w_k = mk + rng.standard_normal(mk.shape) / np.sqrt(pk)
    return {"w_all": w_all, "tau_industry": tau, "w_k": w_k}


def combine_blocks(
    fits: Sequence[tuple[Block, xr.Dataset, dict]],
    config: LearningConfig,
    *,
    seed: int,
) -> tuple[xr.Dataset, dict[str, Any]]:
    """Stages 2 and 3 (module docstring): the combined posterior, dims ``chain``, ``draw``,
    ``industry`` and ``series``, named like a pooled fit's."""
    p = "w" if config.has_w else "m"
    pr = config.priors
    mu0, sd0 = (pr.w_mu, pr.w_sd) if p == "w" else (pr.m_mu, pr.m_sd)
    tau_scale = pr.tau_w_industry if p == "w" else pr.tau_m_industry
    first = fits[0][1]
    n_chain, n_draw = first.sizes["chain"], first.sizes["draw"]
    n = n_chain * n_draw
    names, y, se = _industry_likelihood(fits, f"{p}_all", mu0, sd0)
    lvl = draw_industry_level(y, se, mu0=mu0, sd0=sd0, tau_scale=tau_scale, n_draws=n, seed=seed)
    series_parts: dict[str, list[np.ndarray]] = {v: [] for v in SERIES_VARS if v in first}
    labels: list[str] = []
    slopes: list[np.ndarray] = []
    k_of = {k: i for i, k in enumerate(names)}
    for b, post, _ in fits:
        wb = _stack(post[f"{p}_all"])  # (n,)
        target = lvl["w_k"][:, k_of[b.industry]]  # the industry mean of each output draw
        for v in series_parts:
            x = _stack(post[v])  # (n, n_series_block)
            if v == f"{p}_series":
                # E[x | w_b] is linear in w_b for a Gaussian posterior, slope cov / var; moving
                # each draw along it to w_b = target keeps x - slope * w_b, independent of w_b
                dw = wb - wb.mean()
                slope = (dw @ (x - x.mean(axis=0))) / (dw @ dw)
                x = x + slope[None, :] * (target - wb)[:, None]
                slopes.append(slope)
            series_parts[v].append(x)
        labels.extend(b.series)
    post_vars: dict[str, Any] = {
        f"{p}_all": (("chain", "draw"), lvl["w_all"].reshape(n_chain, n_draw)),
        f"tau_{p}_industry": (("chain", "draw"), lvl["tau_industry"].reshape(n_chain, n_draw)),
        f"{p}_industry": (
            ("chain", "draw", "industry"),
            lvl["w_k"].reshape(n_chain, n_draw, len(names)),
        ),
    }
    for v, parts in series_parts.items():
        post_vars[v] = (("chain", "draw", "series"), np.concatenate(parts, axis=1)
                        .reshape(n_chain, n_draw, -1))  # fmt: skip
    skipped: dict[str, int] = {}
    for j, (v, (fwd, back)) in enumerate(SHARED_VARS.items()):
        if v not in first:
            continue
        xs = np.stack([fwd(_stack(post[v])) for _, post, _ in fits])  # (blocks, n)
        comb, skipped[v] = pool_shared(v, xs, pr, n_draws=n, seed=seed + 11 + j)
        post_vars[v] = (("chain", "draw"), back(comb).reshape(n_chain, n_draw))
    if "log_sigma_all" in post_vars:
        post_vars["sigma_all"] = (("chain", "draw"), np.exp(post_vars["log_sigma_all"][1]))
    ds = xr.Dataset(
        post_vars,
        coords={
            "chain": np.arange(n_chain),
            "draw": np.arange(n_draw),
            "industry": np.array(names, dtype=str),
            "series": np.array(labels, dtype=str),
        },
    )
    slope = np.concatenate(slopes) if slopes else np.zeros(1)
    extra = {
        "shrink_slope_median": float(np.median(slope)),
        "shrink_slope_max": float(slope.max()),
        "shared_blocks_left_out": skipped,
        "industry_y": dict(zip(names, y.tolist(), strict=True)),
        "industry_se": dict(zip(names, se.tolist(), strict=True)),
    }
    return ds, extra


def fit_blocked(
    panel: Panel,
    config: LearningConfig,
    sampler: base.SamplerConfig,
    *,
    max_series: int = DEFAULT_MAX_SERIES,
    progress: Callable[[str], None] | None = None,
    client: Any | None = None,
    out_dir: str | None = None,
) -> BlockedFit:
    """Fit ``panel`` in blocks and pool them (module docstring). The returned tree reads like a
    pooled fit's (``population_priors`` takes it); its ``attrs`` add ``fit_route="blocked"``,
    the block count and the median slope of stage 3."""
    from learnrace_pipeline.lib.models.learning.fit import MODEL_TYPE

    t0 = time.perf_counter()
    fits = fit_blocks(panel, config, sampler, max_series=max_series, progress=progress,
                      client=client, out_dir=out_dir)  # fmt: skip
    stage1 = time.perf_counter() - t0
    t1 = time.perf_counter()
    post, extra = combine_blocks(fits, config, seed=sampler.seed)
    combine_s = time.perf_counter() - t1
    rows = pl.DataFrame([r for _, _, r in fits])
    compile_s = float(rows["compile_s"].sum())
    attrs = {
        "model_type": MODEL_TYPE,
        "model_config": base.config_json(config),
        "sampler_config": base.config_json(sampler),
        "data_version": base.data_version(panel.frame()),
        "fit_route": "blocked",
        "n_blocks": int(rows.height),
        "max_series_per_block": int(max_series),
        "shrink_slope_median": float(extra["shrink_slope_median"]),
        "compile_seconds": compile_s,
    }
    stats = xr.Dataset(
        {
            "diverging": (
                ("chain", "draw"),
                np.zeros((post.sizes["chain"], post.sizes["draw"]), dtype=bool),
            )
        },
        coords={"chain": post["chain"].values, "draw": post["draw"].values},
    )
    tree = xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})
    tree.attrs.update(attrs)
    return BlockedFit(
        tree=tree,
        blocks=rows,
        compile_seconds=compile_s,
        sample_seconds=stage1 - compile_s,
        combine_seconds=combine_s,
        extra=extra,
    )


def fit_route(n_series: int, route: str = "auto") -> str:
    """``"full"`` (one pooled NUTS fit) or ``"blocked"``: ``auto`` picks the full fit up to
    :data:`FULL_FIT_MAX_SERIES` series."""
    if route not in ("auto", "full", "blocked"):
        raise ModelError(f"unknown fit route {route!r} (auto, full or blocked)")
    if route != "auto":
        return route
    return "full" if n_series <= FULL_FIT_MAX_SERIES else "blocked"
