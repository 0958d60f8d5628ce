"""Blocking convergence and calibration checks of a fit (ArviZ 1.x: arviz_stats).

:func:`check_fit` runs, on the ``posterior`` of an ``xarray.DataTree``:

- rank-normalised split R-hat (the value of ``arviz_stats.rhat``, method ``rank``) <= 1.01 for
  every element;
- bulk and tail effective sample size (the values of ``arviz_stats.ess``) >= 400 for every
  element;
- no divergent transitions (``sample_stats.diverging``);
- E-BFMI (``arviz_stats.bfmi``) >= 0.3 for every chain;
- posterior predictive coverage: the share of observed values inside the central 50% and 90%
  intervals of the ``posterior_predictive`` draws must lie within a tolerance of the nominal
  level ``p``: ``max(coverage_tolerance, 3 * sqrt(p (1 - p) / n))`` for ``n`` observations (the
  absolute tolerance, 0.05, governs large panels; the binomial band small ones). Skipped when
  the fit has no predictive group.

It returns a :class:`DiagnosticsResult` naming every failing parameter element, e.g.
``rhat: w_series[pcdb_carnegie:Aniline] = 1.03 > 1.01``, so a pipeline check can stop downstream
work and say why.

R-hat and ESS are ArviZ's estimators computed for all elements of a variable at once
(:func:`rhat_rank`, :func:`ess_bulk`, :func:`ess_tail`, :func:`ess_mean`; Dataset-level
:func:`rhat` and :func:`ess`): the same operations in the same order, so the same values to the
bit (tests/lib/models/test_diagnostics.py), without ArviZ's Python call per element
(docs/decisions/2026-12-06-vectorised-diagnostics.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import arviz_stats as azs
import numpy as np
import polars as pl
import xarray as xr
from scipy import special
from scipy.fft import next_fast_len

from learnrace_pipeline.lib.errors import ModelError

SAMPLE_DIMS = ("chain", "draw")


@dataclass(frozen=True)
class CheckFailure:
    """One failed check: which check, which parameter element, its value and the threshold."""

    check: str  # rhat | ess_bulk | ess_tail | divergences | bfmi | coverage
    parameter: str  # e.g. "w_series[pcdb_carnegie:Aniline]", "chain 2", "dlogc 90%"
    value: float
    threshold: float

    def describe(self) -> str:
        op = ">" if self.check in ("rhat", "divergences") else "<"
        if self.check == "coverage":
            op = "outside tolerance of"
        return f"{self.check}: {self.parameter} = {self.value:.4g} {op} {self.threshold:.4g}"


@dataclass(frozen=True)
class DiagnosticsResult:
    """Outcome of :func:`check_fit`; ``passed`` is False when any check failed."""

    passed: bool
    failures: tuple[CheckFailure, ...]
    rhat_max: float
    ess_bulk_min: float
    ess_tail_min: float
    divergences: int
    bfmi_min: float
    coverage: dict[str, float] = field(default_factory=dict)  # "50%" -> empirical share
    n_parameters: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)

    @property
    def failing_parameters(self) -> list[str]:
        """Distinct parameter names (without element labels) that failed a check."""
        names: list[str] = []
        for f in self.failures:
            name = f.parameter.split("[")[0]
            if name not in names:
                names.append(name)
        return names

    def describe(self) -> str:
        """One line when passing; the list of failures otherwise."""
        head = (
            f"R-hat max {self.rhat_max:.4f}, ESS bulk min {self.ess_bulk_min:.0f}, ESS tail min "
            f"{self.ess_tail_min:.0f}, divergences {self.divergences}, BFMI min "
            f"{self.bfmi_min:.3f}, coverage {self.coverage}"
        )
        if self.passed:
            return "all checks passed: " + head
        shown = [f.describe() for f in self.failures[:20]]
        more = f" (+{len(self.failures) - 20} more)" if len(self.failures) > 20 else ""
        return "checks failed: " + "; ".join(shown) + more + " | " + head

    def to_dict(self) -> dict:
        """Plain-Python form (e.g. for asset metadata or JSON)."""
        out = asdict(self)
        out["failures"] = [asdict(f) for f in self.failures]
        out["failing_parameters"] = self.failing_parameters
        return out


def _element_labels(da: xr.DataArray) -> list[str]:
    """Labels of each element of a (non-sample) DataArray, in C order: ``name[a,b]``."""
    if da.ndim == 0:
        return [str(da.name)]
    coords = [
        [str(v) for v in (da[d].values if d in da.coords else range(da.sizes[d]))] for d in da.dims
    ]
    grids = np.meshgrid(*[np.arange(len(c)) for c in coords], indexing="ij")
    flat = [g.ravel() for g in grids]
    return [
        f"{da.name}[{','.join(coords[k][flat[k][i]] for k in range(len(coords)))}]"
        for i in range(flat[0].size)
    ]


def _elements(da: xr.DataArray) -> tuple[np.ndarray, xr.DataArray]:
    """(values shaped (K, chain, draw), C-contiguous; a template of the element dims)."""
    other = [d for d in da.dims if d not in SAMPLE_DIMS]
    values = da.transpose(*other, *SAMPLE_DIMS).values
    values = np.ascontiguousarray(values.reshape(-1, *values.shape[-2:]))
    template = da.isel({d: 0 for d in SAMPLE_DIMS}, drop=True)
    return values, template


def _over_dataset(ds: xr.Dataset, func) -> xr.Dataset:
    out = {}
    for name, da in ds.data_vars.items():
        values, template = _elements(da)
        result = func(values).reshape(template.shape)
        out[name] = template.copy(data=result).astype(float)
    return xr.Dataset(out)


def rhat(ds: xr.Dataset) -> xr.Dataset:
    """Rank-normalised split R-hat of every element of every variable of ``ds`` (dims chain,
    draw, ...); the values of ``arviz_stats.rhat(ds, method="rank")``, computed in one pass
    per variable (:func:`rhat_rank`)."""
    return _over_dataset(ds, rhat_rank)


def ess(ds: xr.Dataset, method: str = "bulk") -> xr.Dataset:
    """ESS (``method`` bulk, tail or mean) of every element of every variable of ``ds``; the
    values of ``arviz_stats.ess(ds, method=method)`` (tail: ArviZ's default ``prob``)."""
    funcs = {"bulk": ess_bulk, "tail": ess_tail, "mean": ess_mean}
    if method not in funcs:
        raise ModelError(f"unknown ESS method {method!r}: use one of {sorted(funcs)}")
    return _over_dataset(ds, funcs[method])


def per_parameter(dt: xr.DataTree, var_names: list[str] | None = None) -> pl.DataFrame:
    """R-hat and bulk/tail ESS for every posterior element: columns parameter, rhat, ess_bulk,
    ess_tail (one row per element). Vectorised over each variable's elements; equal to
    ``arviz_stats.rhat(method="rank")`` and ``arviz_stats.ess(method="bulk"/"tail")``."""
    post = dt.posterior.to_dataset()
    if var_names is not None:
        post = post[var_names]
    rows: dict[str, list] = {"parameter": [], "rhat": [], "ess_bulk": [], "ess_tail": []}
    for da in post.data_vars.values():
        values, template = _elements(da)
        rows["parameter"] += _element_labels(template)
        rhat_values, bulk, tail = rank_diagnostics(values)
        rows["rhat"] += rhat_values.tolist()
        rows["ess_bulk"] += bulk.tolist()
        rows["ess_tail"] += tail.tolist()
    return pl.DataFrame(rows)


def predictive_coverage(
    dt: xr.DataTree, probs: tuple[float, ...] = (0.5, 0.9), var_name: str = "dlogc"
) -> dict[str, float]:
    """Share of observed values inside the central ``prob`` posterior predictive intervals.

    Observations with a zero ``fit_data.mask`` (held out of the fit) are left out.
    """
    if "posterior_predictive" not in dt.children or "observed_data" not in dt.children:
        return {}
    pp = dt.posterior_predictive[var_name]
    obs = dt.observed_data[var_name].values
    keep = np.ones(obs.shape, dtype=bool)
    if "fit_data" in dt.children and "mask" in dt.fit_data:
        keep = dt.fit_data["mask"].values > 0
    values = pp.transpose(..., *SAMPLE_DIMS).values
    draws = np.ascontiguousarray(values.reshape(*values.shape[:-2], -1))
    if np.may_share_memory(draws, values):
        draws = draws.copy()  # partitioned in place below
    # every level's quantiles from one partition of a private copy of the draws
    levels = [q for p in probs for q in ((1 - p) / 2, (1 + p) / 2)]
    bounds = np.quantile(draws, levels, axis=-1, overwrite_input=True) if levels else []
    out: dict[str, float] = {}
    for i, p in enumerate(probs):
        lo, hi = bounds[2 * i], bounds[2 * i + 1]
        inside = (obs >= lo) & (obs <= hi)
        out[f"{round(100 * p)}%"] = float(inside[keep].mean())
    return out


def coverage_band(nominal: float, n: int, tolerance: float = 0.05) -> float:
    """Allowed absolute gap between empirical and nominal coverage of ``n`` observations:
    ``max(tolerance, 3 * sqrt(nominal (1 - nominal) / n))``."""
    return max(tolerance, 3.0 * float(np.sqrt(nominal * (1 - nominal) / max(n, 1))))


def coverage_in_band(
    dt: xr.DataTree, probs: tuple[float, ...] = (0.5, 0.9), tolerance: float = 0.05
) -> tuple[bool, dict[str, float]]:
    """(every level within its :func:`coverage_band`, empirical coverage per level) of the
    one-step posterior predictive intervals of ``dt``; (True, {}) without a predictive group."""
    coverage = predictive_coverage(dt, probs)
    n = _n_covered(dt)
    ok = all(
        abs(share - float(label.rstrip("%")) / 100)
        <= coverage_band(float(label.rstrip("%")) / 100, n, tolerance)
        for label, share in coverage.items()
    )
    return ok, coverage


def _n_covered(dt: xr.DataTree) -> int:
    if "fit_data" in dt.children and "mask" in dt.fit_data:
        return int((dt.fit_data["mask"].values > 0).sum())
    if "observed_data" in dt.children:
        return int(next(iter(dt.observed_data.data_vars.values())).size)
    return 0


def check_fit(
    dt: xr.DataTree,
    *,
    rhat_max: float = 1.01,
    ess_min: float = 400.0,
    bfmi_min: float = 0.3,
    max_divergences: int = 0,
    coverage_probs: tuple[float, ...] = (0.5, 0.9),
    coverage_tolerance: float = 0.05,
    var_names: list[str] | None = None,
) -> DiagnosticsResult:
    """Run every blocking check on a fit (see module docstring); never raises on failure.

    Raises:
        ModelError: the tree has no ``posterior`` or ``sample_stats`` group.
    """
    for group in ("posterior", "sample_stats"):
        if group not in dt.children:
            raise ModelError(f"the fit has no {group!r} group")
    failures: list[CheckFailure] = []
    table = per_parameter(dt, var_names)
    for row in table.iter_rows(named=True):
        if not np.isfinite(row["rhat"]) or row["rhat"] > rhat_max:
            failures.append(CheckFailure("rhat", row["parameter"], row["rhat"], rhat_max))
    for kind in ("ess_bulk", "ess_tail"):
        for row in table.iter_rows(named=True):
            if not np.isfinite(row[kind]) or row[kind] < ess_min:
                failures.append(CheckFailure(kind, row["parameter"], row[kind], ess_min))

    ss = dt.sample_stats
    divergences = int(ss["diverging"].sum()) if "diverging" in ss else 0
    if divergences > max_divergences:
        failures.append(
            CheckFailure("divergences", "sampler", float(divergences), float(max_divergences))
        )
    bfmi_values = np.asarray(azs.bfmi(dt)["energy"].values, dtype=float).ravel()
    for chain, value in enumerate(bfmi_values):
        if not np.isfinite(value) or value < bfmi_min:
            failures.append(CheckFailure("bfmi", f"chain {chain}", float(value), bfmi_min))

    coverage = predictive_coverage(dt, coverage_probs)
    n_cov = _n_covered(dt)
    for label, share in coverage.items():
        nominal = float(label.rstrip("%")) / 100
        if abs(share - nominal) > coverage_band(nominal, n_cov, coverage_tolerance):
            failures.append(CheckFailure("coverage", f"dlogc {label}", share, nominal))

    finite = table.filter(pl.col("rhat").is_finite())
    return DiagnosticsResult(
        passed=not failures,
        failures=tuple(failures),
        rhat_max=float(finite["rhat"].max()) if finite.height else float("nan"),
        ess_bulk_min=float(table["ess_bulk"].min()),
        ess_tail_min=float(table["ess_tail"].min()),
        divergences=divergences,
        bfmi_min=float(bfmi_values.min()),
        coverage=coverage,
        n_parameters=table.height,
        thresholds={
            "rhat_max": rhat_max,
            "ess_min": ess_min,
            "bfmi_min": bfmi_min,
            "max_divergences": float(max_divergences),
            "coverage_tolerance": coverage_tolerance,
        },
    )


# ---------------------------------------------------------------------------------------------
# Vectorised R-hat and ESS: every element of a variable at once, on arrays shaped
# (K, chain, draw) (K elements, C-contiguous, draws last). The estimators are those of
# arviz_stats (rank-normalised split R-hat, bulk/tail/mean ESS; Vehtari et al. 2021), computed
# with the same NumPy/SciPy operations in the same order, so the values are the same to the bit
# (tests/lib/models/test_diagnostics.py compares them with arviz_stats), but without a Python
# call per element.
# ---------------------------------------------------------------------------------------------

_MIN_DRAWS = 4  # fewer draws per chain: NaN (as arviz_stats)
_BLOM = 3.0 / 8.0  # Blom's fractional offset of the rank back-transform


def _split_halves(x: np.ndarray) -> np.ndarray:
    """(K, chain, draw) -> (K, 2 chain, draw // 2): first halves of every chain, then second
    halves; the middle draw of an odd count is dropped."""
    half = x.shape[-1] // 2
    return np.concatenate((x[..., :half], x[..., x.shape[-1] - half :]), axis=1)


def _normal_scores(x: np.ndarray) -> np.ndarray:
    """Rank-normalise each element's values: average ranks over all its chains and draws (ties
    share the mean of their ranks), Blom's back-transform ``(r - 3/8) / (n + 1/4)`` and the
    standard normal quantile; same shape as ``x``.

    A tied run spanning sorted positions ``a..b`` (0-based) has rank ``(a + b) / 2 + 1``, so
    every rank is one of ``2n - 1`` values, indexed by the integer ``a + b``: their normal
    quantiles are computed once and looked up.
    """
    flat = x.reshape(x.shape[0], -1)
    n = flat.shape[-1]
    ranks = np.arange(2 * n - 1) / 2 + 1  # (a + b) / 2 + 1 for a + b = 0 .. 2n - 2
    table = special.ndtri((ranks - _BLOM) / (n - 2 * _BLOM + 1)) * 1.0 + 0.0  # as norm.ppf
    order = np.argsort(flat, axis=-1)
    rows = np.arange(flat.shape[0])[:, None]
    ordered = flat[rows, order]
    starts = np.ones(flat.shape, dtype=bool)
    np.not_equal(ordered[:, 1:], ordered[:, :-1], out=starts[:, 1:])
    scores = np.empty(flat.shape)
    if starts.all():  # no ties: sorted position a has rank a + 1
        scores[rows, order] = table[0::2]
    else:
        position = np.arange(n)
        ends = np.ones(flat.shape, dtype=bool)
        ends[:, :-1] = starts[:, 1:]
        first = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
        last = np.minimum.accumulate(np.where(ends, position, n - 1)[:, ::-1], axis=-1)[:, ::-1]
        scores[rows, order] = table[first + last]
    return scores.reshape(x.shape)


def _rhat_of_chains(x: np.ndarray) -> np.ndarray:
    """Gelman-Rubin R-hat of each element of (K, chain, draw) (no splitting)."""
    n = x.shape[-1]
    chain_mean = np.mean(x, axis=-1)
    chain_var = np.var(x, axis=-1, ddof=1)
    between = n * np.var(chain_mean, axis=-1, ddof=1)
    within = np.mean(chain_var, axis=-1)
    return np.sqrt((between / within + n - 1) / n)


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Autocovariance of every chain at every lag, by FFT: (K, chain, draw) -> same shape."""
    n = x.shape[-1]
    m = next_fast_len(2 * n)
    centred = x - x.mean(axis=-1, keepdims=True)
    spectrum = np.fft.rfft(centred, n=m, axis=-1)
    spectrum *= np.conjugate(spectrum)
    cov = np.fft.irfft(spectrum, n=m, axis=-1)[..., :n]
    cov /= n
    return cov


def _ess_of_chains(x: np.ndarray) -> np.ndarray:
    """Effective sample size of each element of (K, chain, draw) (chains already split), with
    Geyer's initial positive and initial monotone sequences; the chain*draw count for an
    element whose values are constant."""
    x = np.asarray(x, dtype=float)
    n_el, n_chain, n_draw = x.shape
    size = n_chain * n_draw
    out = np.full(n_el, float(size))
    constant = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    live = np.flatnonzero(~constant)
    if live.size == 0:
        return out
    x = x[live]
    acov = _autocovariance(x)
    # mean over chains at every lag, reduced over a contiguous chain axis
    acov_mean = np.mean(np.ascontiguousarray(acov.transpose(0, 2, 1)), axis=-1)
    mean_var = acov_mean[:, 0] * n_draw / (n_draw - 1.0)
    var_plus = mean_var * (n_draw - 1.0) / n_draw
    if n_chain > 1:
        var_plus += np.var(np.mean(x, axis=-1), axis=-1, ddof=1)
    rho = 1.0 - (mean_var[:, None] - acov_mean) / var_plus[:, None]
    rho[:, 0] = 1.0

    # Geyer's initial positive sequence: sums of lag pairs (2j, 2j+1), j = 0..last_pair, are
    # accumulated while positive; the pair that is not positive ends it.
    last_pair = max((n_draw - 3) // 2, 0)
    even = rho[:, 0 : 2 * last_pair + 1 : 2]
    odd = rho[:, 1 : 2 * last_pair + 2 : 2]
    pair_sum = even + odd
    not_positive = ~(pair_sum > 0.0)
    first_stop = np.where(not_positive.any(axis=1), not_positive.argmax(axis=1), last_pair + 1)
    stop = np.minimum(first_stop, last_pair)  # the last pair computed, per element
    rows = np.arange(live.size)
    stop_even = even[rows, stop]
    kept = (pair_sum[rows, stop] >= 0.0) | (stop_even > 0.0)
    last_term = np.where(stop == 0, 1.0, np.where(kept, stop_even, 0.0))

    # Geyer's initial monotone sequence over the pairs before the stop: a pair whose sum exceeds
    # the smallest sum before it is replaced by half that sum at both lags.
    running_min = np.minimum.accumulate(pair_sum, axis=1)
    lowered = pair_sum > running_min
    halves = running_min / 2.0
    rho_mono = np.empty((live.size, 2 * pair_sum.shape[1]))
    rho_mono[:, 0::2] = np.where(lowered, halves, even)
    rho_mono[:, 1::2] = np.where(lowered, halves, odd)

    # sum of the kept lags per element, summed per length group so each row is reduced as one
    # contiguous vector (the same pairwise summation as a single element's array)
    lag_sum = np.zeros(live.size)
    for length in np.unique(stop):
        members = np.flatnonzero(stop == length)
        if length > 0:
            lag_sum[members] = np.sum(rho_mono[members, : 2 * length], axis=1)
    tau = -1.0 + 2.0 * lag_sum + last_term
    tau = np.maximum(tau, 1 / np.log10(size))
    ess = size / tau
    ess[np.isnan(rho[:, 1])] = np.nan
    out[live] = ess
    return out


def _valid(x: np.ndarray, min_chains: int) -> np.ndarray:
    """Elements of (K, chain, draw) with enough chains and draws and no NaN (arviz_stats'
    ``not_valid``)."""
    if x.shape[1] < min_chains or x.shape[2] < _MIN_DRAWS:
        return np.zeros(x.shape[0], dtype=bool)
    return ~np.isnan(x).any(axis=(1, 2))


def _on_valid(x: np.ndarray, min_chains: int, func) -> np.ndarray:
    """``func`` of the valid elements of ``x`` (:func:`_valid`), NaN for the others."""
    ok = _valid(x, min_chains)
    out = np.full(x.shape[0], np.nan)
    if ok.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            out[ok] = func(x if ok.all() else x[ok])
    return out


def _rhat_split(split: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Rank-normalised R-hat from split chains and their normal scores: the larger of the
    bulk R-hat and the R-hat of the folded values (distance from the median)."""
    bulk = _rhat_of_chains(scores)
    median = np.median(split.reshape(split.shape[0], -1), axis=-1)
    folded = np.abs(split - median[:, None, None])
    tail = _rhat_of_chains(_normal_scores(folded))
    return np.where(tail > bulk, tail, bulk)  # Python's max(bulk, tail), NaN included


def _ess_tail(x: np.ndarray, probs: tuple[float, float]) -> np.ndarray:
    """The smaller ESS of the indicators of being at most each ``probs`` quantile (numpy's
    linear quantile of all chains and draws)."""
    q = np.quantile(x.reshape(x.shape[0], -1), probs, axis=-1)
    low, high = (_ess_of_chains(_split_halves(x <= qp[:, None, None])) for qp in q)
    return np.where(high < low, high, low)  # Python's min(low, high), NaN included


def rhat_rank(x: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat (the larger of bulk and folded) of each element of
    ``x`` shaped (K, chain, draw); NaN with fewer than 2 chains or 4 draws, or any NaN."""

    def rhat(v: np.ndarray) -> np.ndarray:
        split = _split_halves(v)
        return _rhat_split(split, _normal_scores(split))

    return _on_valid(x, 2, rhat)


def ess_bulk(x: np.ndarray) -> np.ndarray:
    """Bulk ESS (split chains, rank-normalised) of each element of (K, chain, draw); NaN with
    fewer than 4 draws or any NaN."""
    return _on_valid(x, 1, lambda v: _ess_of_chains(_normal_scores(_split_halves(v))))


def ess_mean(x: np.ndarray) -> np.ndarray:
    """ESS of the mean (split chains, raw values) of each element of (K, chain, draw)."""
    return _on_valid(x, 1, lambda v: _ess_of_chains(_split_halves(v)))


def tail_probs() -> tuple[float, float]:
    """Quantiles of the tail ESS: ``sorted((p, 1 - p))`` for ArviZ's ``stats.ci_prob`` (0.89 by
    default, so 0.11 and 0.89), as ``arviz_stats.ess(method="tail")`` without ``prob``."""
    from arviz_base import rcParams

    p = float(rcParams["stats.ci_prob"])
    lo, hi = sorted((p, 1 - p))
    return lo, hi


def ess_tail(x: np.ndarray, probs: tuple[float, float] | None = None) -> np.ndarray:
    """Tail ESS of each element of (K, chain, draw): the smaller ESS of the indicators of
    being at most the ``probs`` quantiles (default :func:`tail_probs`)."""
    probs = probs or tail_probs()
    return _on_valid(x, 1, lambda v: _ess_tail(v, probs))


def rank_diagnostics(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(:func:`rhat_rank`, :func:`ess_bulk`, :func:`ess_tail`) of each element of
    (K, chain, draw), sharing the split chains and their normal scores."""
    rhat = np.full(x.shape[0], np.nan)
    bulk = np.full(x.shape[0], np.nan)
    ok = _valid(x, 1)
    if ok.any():
        v = x if ok.all() else x[ok]
        with np.errstate(divide="ignore", invalid="ignore"):
            split = _split_halves(v)
            scores = _normal_scores(split)
            bulk[ok] = _ess_of_chains(scores)
            if x.shape[1] >= 2:
                rhat[ok] = _rhat_split(split, scores)
    return rhat, bulk, ess_tail(x)
