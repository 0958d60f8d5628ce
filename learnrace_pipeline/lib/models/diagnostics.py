"""Blocking convergence and calibration checks of a fit (ArviZ 1.x: arviz_stats).

:func:`check_fit` runs, on the ``posterior`` of an ``xarray.DataTree``:

- rank-normalised split R-hat (``arviz_stats.rhat``, method ``rank``) <= 1.01 for every element;
- bulk and tail effective sample size (``arviz_stats.ess``) >= 400 for every element;
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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import arviz_stats as azs
import numpy as np
import polars as pl
import xarray as xr

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


def per_parameter(dt: xr.DataTree, var_names: list[str] | None = None) -> pl.DataFrame:
    """R-hat and bulk/tail ESS for every posterior element: columns parameter, rhat, ess_bulk,
    ess_tail (one row per element)."""
    post = dt.posterior.to_dataset()
    if var_names is not None:
        post = post[var_names]
    rhat = azs.rhat(post, sample_dims=list(SAMPLE_DIMS), method="rank")
    bulk = azs.ess(post, sample_dims=list(SAMPLE_DIMS), method="bulk")
    tail = azs.ess(post, sample_dims=list(SAMPLE_DIMS), method="tail")
    rows: dict[str, list] = {"parameter": [], "rhat": [], "ess_bulk": [], "ess_tail": []}
    for name in post.data_vars:
        labels = _element_labels(rhat[name])
        rows["parameter"] += labels
        rows["rhat"] += np.asarray(rhat[name].values, dtype=float).ravel().tolist()
        rows["ess_bulk"] += np.asarray(bulk[name].values, dtype=float).ravel().tolist()
        rows["ess_tail"] += np.asarray(tail[name].values, dtype=float).ravel().tolist()
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
    draws = pp.stack(sample=SAMPLE_DIMS).transpose(..., "sample").values
    out: dict[str, float] = {}
    for p in probs:
        lo, hi = np.quantile(draws, [(1 - p) / 2, (1 + p) / 2], axis=-1)
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
