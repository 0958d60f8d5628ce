"""The equal-weight linear pool of the Wright and experience+time forecasters.

The predictive distribution of log unit cost at each target is the mixture, with weights 1/2
and 1/2, of the pooled Wright forecaster's (:mod:`.forecaster`, a Wright prior) and the
experience+time forecaster's (:mod:`.experience_time`, a prior with a drift), each conditioned
on the same series and production path::

    p(log c_{T+h} | data) = 1/2 p_wright(log c_{T+h} | data) + 1/2 p_experience_time(...)

Samples are the union of the two forecasters' samples (``n_samples`` each, independent seeds),
so every quantile is the mixture's. Where the two disagree (Wright's median above the
experience+time one at long horizons, as in the hindcasts), the mixture is wider than either;
where they agree it is about either. The weights are equal by construction, not fitted: the
hindcast chose this model among single models and pools, never the weight
(docs/decisions/2026-12-06-experience-time-forecaster.md).

Per series, the posterior of ``(w, m)`` is the same mixture: Wright's draws of ``w`` with
``m = 0`` and the experience+time draws of ``(w, m)``; the channel attribution of the
deterministic decline (experience ``w dlog Q``, time ``m h``) is taken over the union of both
forecasters' samples.

Two ways to compute it:

- :func:`simulate_pool` keeps every sample (``n_targets x 2 n_samples`` floats, with the decline
  parts three times that): for tests and small inputs;
- :func:`pool_summary` draws both halves for one block of series at a time and keeps only what
  the output tables need (quantiles of log cost, each series' ``w``/``m`` statistics and the
  attribution of its furthest year), with one random stream per series (:mod:`.streams`), so
  memory is bounded by the block and the result does not depend on the block size or the
  number of worker processes. ``learnrace forecast`` and the drop folder use it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.forecast.forecaster import (
    ATTRIBUTION_COLUMNS,
    _block,
    _block_inputs,
    _Plan,
    _prepare,
    decline_attribution,
    simulate,
)
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.series import exponent_stats, exponent_summary, summary_frame
from learnrace_pipeline.lib.forecast.streams import SeriesStreams
from learnrace_pipeline.lib.forecast.types import (
    LEVELS,
    ForecastConfig,
    ForecastSamples,
    ForecastSummary,
    ForecastTask,
)

#: ``model`` label stem of the pool's forecasts
POOL_MODEL_NAME = "pool_wright_experience_time"


def _priors_ok(
    priors: PopulationPrior | Mapping[str, PopulationPrior], drift: bool, what: str
) -> None:
    values = [priors] if isinstance(priors, PopulationPrior) else list(priors.values())
    if any(p.has_drift != drift for p in values):
        raise ModelError(
            f"the pool needs {what} priors {'with' if drift else 'without'} a time drift"
        )


def simulate_pool(
    task: ForecastTask,
    wright: PopulationPrior | Mapping[str, PopulationPrior],
    experience_time: PopulationPrior | Mapping[str, PopulationPrior],
    level_of: Mapping[str, str] | None = None,
    config: ForecastConfig = ForecastConfig(),
    *,
    progress: Callable[[int], None] | None = None,
) -> ForecastSamples:
    """Samples of the equal-weight pool (``2 * n_samples`` per target): the union of
    :func:`.forecaster.simulate` with the Wright priors (seed ``config.seed``) and with the
    experience+time priors (seed ``config.seed + 1``).

    ``progress`` is called as in :func:`.forecaster.simulate`, by each half in turn (twice the
    series in all).

    Returns ``ForecastSamples`` whose ``series`` summarises the mixture posterior of ``w`` and
    ``m`` (``m = 0`` in the Wright half) and whose ``attribution`` is over the union.

    Raises:
        ModelError: a Wright prior with a drift, or an experience+time prior without one.
    """
    _priors_ok(wright, False, "Wright")
    _priors_ok(experience_time, True, "experience+time")
    a = simulate(task, wright, level_of, config, keep_draws=True, progress=progress)
    b = simulate(
        task, experience_time, level_of, dataclasses.replace(config, seed=config.seed + 1),
        keep_draws=True, progress=progress,
    )  # fmt: skip
    if not a.targets.equals(b.targets):
        raise ModelError("internal: the two forecasters returned different targets")
    da, db = a.draws, b.draws
    parts = np.concatenate([da["parts"], db["parts"]], axis=2)
    attr = decline_attribution(parts[0], parts[1])
    attribution = a.targets.select("series_id", "year", "horizon").with_columns(
        *[pl.Series(name, attr[:, j]) for j, name in enumerate(ATTRIBUTION_COLUMNS)]
    )
    w = np.concatenate([da["w"], db["w"]], axis=1)
    m = np.concatenate([np.zeros_like(da["w"]), db["m"]], axis=1)
    series_ids = a.series["series_id"].to_list()
    return ForecastSamples(
        a.targets,
        np.concatenate([a.samples, b.samples], axis=1),
        exponent_summary(series_ids, da["levels"], da["n_costs"], w, m),
        log_q=a.log_q,
        attribution=attribution,
    )


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the block with the BLAS library on one thread (where ``threadpoolctl`` is
    installed). The products in the grid updates are small; on a machine whose cores are
    busy, BLAS threads that wait for each other spin and made them ten times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with the locked environment
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def row_quantiles(samples: np.ndarray, levels: Sequence[float]) -> np.ndarray:
    """Quantiles of each row of ``samples`` (``(n, k)``, finite) at ``levels`` -> ``(n,
    len(levels))``: numpy's default ("linear") definition, ``x[(k - 1) p]`` interpolated
    linearly between order statistics, computed the way ``np.quantile`` does (same values)
    from one sort of each row instead of a partition per level."""
    k = samples.shape[1]
    srt = np.sort(samples, axis=1)
    out = np.empty((samples.shape[0], len(levels)))
    for j, p in enumerate(levels):
        virtual = (k - 1) * float(p)
        lo = int(np.floor(virtual))
        hi = min(lo + 1, k - 1)
        gamma = virtual - lo
        a, b = srt[:, lo], srt[:, hi]
        diff = b - a
        out[:, j] = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
    return out


def summary_blocks(
    levels: Sequence[str], counts: np.ndarray, block_series: int
) -> list[np.ndarray]:
    """Blocks of series indices for :func:`pool_summary`: series of one prior level and one
    number of observed costs (so no block pads a shorter series), at most ``block_series``
    each, in the order of (level, count, input position)."""
    if block_series < 1:
        raise ModelError(f"block_series must be >= 1, not {block_series}")
    order = sorted(range(len(levels)), key=lambda i: (levels[i], int(counts[i]), i))
    blocks: list[list[int]] = []
    for i in order:
        b = blocks[-1] if blocks else None
        if (
            b is not None
            and levels[b[0]] == levels[i]
            and counts[b[0]] == counts[i]
            and len(b) < block_series
        ):
            b.append(i)
        else:
            blocks.append([i])
    return [np.asarray(b, dtype=np.int64) for b in blocks]


@dataclass(frozen=True)
class _PoolJob:
    """What every block of :func:`pool_summary` shares (inherited by forked workers)."""

    halves: tuple[tuple[_Plan, int], tuple[_Plan, int]]
    config: ForecastConfig
    levels: tuple[float, ...]
    furthest: np.ndarray


#: the job of the running :func:`pool_summary` (read by its forked worker processes)
_JOB: _PoolJob | None = None


def _summarise_block(ids: np.ndarray) -> dict[str, np.ndarray]:
    """Both halves of the pool for the series ``ids``, reduced: quantiles of log cost per
    target (``q``, NaN where not every sample is finite, and ``finite``), production quantiles
    (``lq``), the attribution of each series' furthest target (``attr``; rows of ``ids`` whose
    ``furthest >= 0``) and the statistics of ``w`` and ``m`` (:func:`.series.exponent_stats`)."""
    job = _JOB
    if job is None:
        raise ModelError("internal: no pool job is running")
    (pa, seed_a), (pb, seed_b) = job.halves
    trow, obs_blk, tg, sub_prod = _block_inputs(pa, ids)
    names = [pa.series[i] for i in ids]
    halves = []
    for plan, seed in ((pa, seed_a), (pb, seed_b)):
        level = plan.levels[ids[0]]
        grid, spacing = plan.grids[level]
        streams = SeriesStreams.for_series(seed, names)
        prior = plan.prior_map[level]
        halves.append(_block(obs_blk, tg, sub_prod, prior, grid, spacing, job.config, streams))
    (sa, wa, lqa, _, ea, ta), (sb, wb, _, mb, eb, tb) = halves
    samples = np.concatenate([sa, sb], axis=1)
    del sa, sb
    ok = np.isfinite(samples).all(axis=1)
    q = np.full((trow.size, len(job.levels)), np.nan)
    if ok.any():
        q[ok] = row_quantiles(samples[ok], job.levels)
    del samples
    # attribution: the furthest target of each series in the block
    local = {int(r): j for j, r in enumerate(trow)}
    far = job.furthest[ids]
    sel = np.asarray([local[int(r)] for r in far[far >= 0]], dtype=np.int64)
    attr = np.empty((0, len(ATTRIBUTION_COLUMNS)))
    if sel.size:
        attr = decline_attribution(
            np.concatenate([ea[sel], eb[sel]], axis=1), np.concatenate([ta[sel], tb[sel]], axis=1)
        )
    w = np.concatenate([wa, wb], axis=1)
    m = np.concatenate([np.zeros_like(wa), mb], axis=1)
    return {
        "trow": trow,
        "q": q,
        "finite": ok,
        "lq": lqa,
        "attr": attr,
        "w": exponent_stats(w),
        "m": exponent_stats(m),
    }


def pool_summary(
    task: ForecastTask,
    wright: PopulationPrior | Mapping[str, PopulationPrior],
    experience_time: PopulationPrior | Mapping[str, PopulationPrior],
    level_of: Mapping[str, str] | None = None,
    config: ForecastConfig = ForecastConfig(),
    *,
    levels: Sequence[float] = LEVELS,
    block_series: int | None = None,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> ForecastSummary:
    """The equal-weight pool of :func:`simulate_pool`, summarised block by block of series:
    for each block both forecasters' samples (``n_samples`` each) are drawn, reduced to the
    quantiles of log unit cost at ``levels``, the mixture posterior of ``w`` and ``m`` and the
    decline attribution of each series' furthest target, and dropped. Peak memory is that of
    one block per worker (about ``block_series x n_targets_per_series x 2 n_samples`` floats
    several times over), not of the whole forecast.

    Random numbers come from one set of streams per series (:class:`.streams.SeriesStreams`:
    seed ``config.seed`` for the Wright half, ``config.seed + 1`` for the experience+time
    half, keyed by the series id), and blocks hold series of one length only, so the result
    for a series does not depend on ``block_series`` (default ``config.chunk``), on
    ``workers`` or on the other series in ``task``. The samples are the same mixture as
    :func:`simulate_pool`'s but not the same draws (that function's streams are per block of
    ``config.chunk`` series).

    ``workers > 1`` simulates blocks in that many forked processes (POSIX ``fork``; use it
    from a command, not from a threaded server). ``progress`` is called with twice the series
    of each block done (each half once).

    Raises:
        ModelError: a Wright prior with a drift, or an experience+time prior without one.
        DataError: as :func:`.forecaster.simulate`.
    """
    global _JOB
    _priors_ok(wright, False, "Wright")
    _priors_ok(experience_time, True, "experience+time")
    pa = _prepare(task, wright, level_of, config)
    pb = _prepare(task, experience_time, level_of, config)
    if not pa.targets.equals(pb.targets):
        raise ModelError("internal: the two forecasters have different targets")
    n_targets, n_series = pa.targets.height, len(pa.series)
    levels = tuple(float(v) for v in levels)
    # each series' furthest target (the row of the attribution)
    furthest = np.full(n_series, -1, dtype=np.int64)
    for i, rows in pa.t_rows.items():
        furthest[i] = rows[int(np.argmax(pa.horizon[rows]))]
    blocks = summary_blocks(pa.levels, pa.counts, block_series or config.chunk)
    q = np.full((n_targets, len(levels)), np.nan)
    finite = np.ones(n_targets, dtype=bool)
    lq = np.empty((n_targets, 3))
    attr = np.full((n_series, len(ATTRIBUTION_COLUMNS)), np.nan)
    w_stats = np.empty((n_series, 5))
    m_stats = np.empty((n_series, 5))
    _JOB = _PoolJob(((pa, config.seed), (pb, config.seed + 1)), config, levels, furthest)
    try:
        with one_blas_thread(), contextlib.ExitStack() as stack:
            if workers > 1 and len(blocks) > 1:
                ctx = multiprocessing.get_context("fork")
                pool = stack.enter_context(
                    ProcessPoolExecutor(min(workers, len(blocks)), mp_context=ctx)
                )
                results = pool.map(_summarise_block, blocks)
            else:
                results = map(_summarise_block, blocks)
            for ids, r in zip(blocks, results, strict=True):
                trow = r["trow"]
                q[trow], finite[trow], lq[trow] = r["q"], r["finite"], r["lq"]
                attr[ids[furthest[ids] >= 0]] = r["attr"]
                w_stats[ids], m_stats[ids] = r["w"], r["m"]
                if progress is not None:
                    progress(2 * ids.size)
    finally:
        _JOB = None
    per_series = summary_frame(pa.series, pa.levels, pa.counts, w_stats, m_stats)
    frame = pa.targets.select("series_id", "year", "horizon", "production").with_columns(
        pl.Series("level", [pa.levels[i] for i in pa.t_i], dtype=pl.String)
    )
    has = furthest >= 0
    attribution = (
        frame[furthest[has]]
        .select("series_id", "year", "horizon")
        .with_columns(
            *[pl.Series(name, attr[has, j]) for j, name in enumerate(ATTRIBUTION_COLUMNS)]
        )
    )
    return ForecastSummary(
        frame,
        q,
        finite,
        levels=levels,
        series=per_series,
        log_q=lq,
        attribution=attribution,
    )
