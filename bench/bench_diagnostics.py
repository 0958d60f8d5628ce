"""Benchmark: the non-sampling seconds of the pooled learning-curve fits, old vs new, in one
process on the same input.

For each saved pooled fit (``learning_{wright,time,wright_normal}-*.nc`` under ``--fits-dir``,
the newest of each; 4 chains x 3,000 draws, ~1,700 differences in ``make run``):

1. ``diagnostics.per_parameter`` and ``diagnostics.check_fit``: old = ``arviz_stats`` R-hat and
   ESS element by element (and one quantile call per coverage level), new = the vectorised
   estimators of :mod:`learnrace_pipeline.lib.models.diagnostics`;
2. the post-processing of ``LearningCurveModel.fit`` after sampling that changed: the
   ``log_likelihood`` and one-step ``posterior_predictive`` groups from the fit's posterior and
   ``fit_data`` (the deterministics, ~0.05 s, are computed as before): old = the plain NumPy
   expressions (full-size temporaries and gathers), new =
   :mod:`learnrace_pipeline.lib.models.learning.numpy_mirror`'s compiled pass; both are also
   compared with the groups saved in the fit;

and ``summaries.model_comparison`` of the three fits: old = ``arviz_stats.loo`` per difference,
new = :mod:`learnrace_pipeline.lib.models.psis`.

Every old/new pair is also checked for equal outputs (bit for bit: ``equal`` columns).
Prints a table and writes ``bench/results/bench_diagnostics.json`` (gitignored).
Run: ``.venv/bin/python -m bench.bench_diagnostics [--fits-dir .learnrace/fits] [--repeat N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import arviz_stats as azs
import numpy as np
import polars as pl
import xarray as xr
from rich.console import Console
from rich.table import Table
from scipy import special

from bench.common import save_json
from learnrace_pipeline.lib.models import diagnostics
from learnrace_pipeline.lib.models.learning import numpy_mirror, summaries
from learnrace_pipeline.lib.models.learning.config import LearningConfig, config_from_attrs

MODELS = ("wright", "time", "wright_normal")
console = Console()


# --- old implementations (as they were before the vectorised ones), for the comparison -------


def old_per_parameter(dt: xr.DataTree, var_names: list[str] | None = None) -> pl.DataFrame:
    post = dt.posterior.to_dataset()
    if var_names is not None:
        post = post[var_names]
    rhat = azs.rhat(post, sample_dims=["chain", "draw"], method="rank")
    bulk = azs.ess(post, sample_dims=["chain", "draw"], method="bulk")
    tail = azs.ess(post, sample_dims=["chain", "draw"], method="tail")
    rows: dict[str, list] = {"parameter": [], "rhat": [], "ess_bulk": [], "ess_tail": []}
    for name in post.data_vars:
        rows["parameter"] += diagnostics._element_labels(rhat[name])
        for col, res in (("rhat", rhat), ("ess_bulk", bulk), ("ess_tail", tail)):
            rows[col] += np.asarray(res[name].values, dtype=float).ravel().tolist()
    return pl.DataFrame(rows)


def old_predictive_coverage(dt, probs=(0.5, 0.9), var_name="dlogc") -> dict[str, float]:
    if "posterior_predictive" not in dt.children or "observed_data" not in dt.children:
        return {}
    pp = dt.posterior_predictive[var_name]
    obs = dt.observed_data[var_name].values
    keep = np.ones(obs.shape, dtype=bool)
    if "fit_data" in dt.children and "mask" in dt.fit_data:
        keep = dt.fit_data["mask"].values > 0
    draws = pp.stack(sample=("chain", "draw")).transpose(..., "sample").values
    out: dict[str, float] = {}
    for p in probs:
        lo, hi = np.quantile(draws, [(1 - p) / 2, (1 + p) / 2], axis=-1)
        out[f"{round(100 * p)}%"] = float(((obs >= lo) & (obs <= hi))[keep].mean())
    return out


def old_pointwise_loo(dt: xr.DataTree) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    res = azs.loo(dt, pointwise=True, var_name="dlogc")
    elpd_i = np.asarray(res.elpd_i.values, dtype=float)
    k = np.asarray(res.pareto_k.values, dtype=float)
    ll = dt.log_likelihood["dlogc"].stack(sample=("chain", "draw")).transpose(..., "sample").values
    lppd_i = np.logaddexp.reduce(ll, axis=-1) - np.log(ll.shape[-1])
    return elpd_i, lppd_i - elpd_i, k


def _stacked(post: xr.Dataset, name: str) -> np.ndarray:
    return post[name].stack(sample=("chain", "draw")).transpose("sample", ...).values


def old_groups(post: xr.Dataset, data: dict, config: LearningConfig, seed: int) -> dict:
    """log_likelihood and one-step predictive values with the old NumPy expressions."""
    s_idx, dtv = data["series_idx"], data["dt"]
    mu = np.zeros((_stacked(post, "sigma_all").shape[0], data["dlogc"].size))
    x = data["dlogq"]
    if config.level == "nation":
        lam = _stacked(post, "lambda_nation")[:, data["nation_of_series"][s_idx]]
        x = lam * data["dlogq"] + (1 - lam) * data["dlogq_world"]
    if config.has_w:
        mu = mu - _stacked(post, "w_series")[:, s_idx] * x
    if config.has_m:
        mu = mu - _stacked(post, "m_series")[:, s_idx] * dtv
    sigma = _stacked(post, "sigma_series")
    scale = sigma[:, s_idx] * np.sqrt(dtv)
    r = data["dlogc"] - mu
    if config.ma1:
        e0 = (sigma * _stacked(post, "z_e0"))[:, s_idx]
        e = numpy_mirror.ma1_innovations(r, _stacked(post, "rho")[:, None], data["pos"], e0)
        carry = r - e
    else:
        e, carry = r, np.zeros_like(r)
    rng = np.random.default_rng(seed)
    if config.noise == "student_t":
        v = _stacked(post, "nu")[:, None]
        const = special.gammaln((v + 1) / 2) - special.gammaln(v / 2) - 0.5 * np.log(np.pi * v)
        ll = const - np.log(scale) - (v + 1) / 2 * np.log1p((e / scale) ** 2 / v)
        eps = rng.standard_t(np.broadcast_to(v, scale.shape)) * scale
    else:
        ll = -0.5 * (e / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)
        eps = rng.standard_normal(scale.shape) * scale
    return {"log_likelihood": ll, "posterior_predictive": mu + carry + eps}


def new_groups(post: xr.Dataset, data: dict, config: LearningConfig, seed: int) -> dict:
    """The same with numpy_mirror, as LearningCurveModel.fit calls it."""
    parts = numpy_mirror._obs_parts(post, data, config, ("e", "scale", "loc"))
    ll = numpy_mirror.pointwise_log_likelihood(post, data, config, parts)["dlogc"]
    pp = numpy_mirror.one_step_predictive(post, data, config, seed, parts)["dlogc"]
    return {
        "log_likelihood": ll.values.reshape(ll.shape[0] * ll.shape[1], -1),
        "posterior_predictive": pp.values.reshape(pp.shape[0] * pp.shape[1], -1),
    }


# --- helpers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def patched(module, **names) -> Iterator[None]:
    saved = {k: getattr(module, k) for k in names}
    for k, v in names.items():
        setattr(module, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(module, k, v)


def timed(func: Callable, repeat: int):
    """(result of the last call, fastest of ``repeat`` wall-clock seconds)."""
    best, out = math.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t0)
    return out, best


def same(a, b) -> bool:
    """Equal to the bit (NaN equal to NaN), through dicts, sequences, frames and arrays."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, pl.DataFrame):
        return a.equals(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=True)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return a == b


def newest(fits_dir: Path, name: str) -> Path:
    found = sorted(fits_dir.glob(f"learning_{name}-*.nc"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(
            f"no saved fit learning_{name}-*.nc under {fits_dir}: run `make run` or pass --fits-dir"
        )
    return found[-1]


def fit_inputs(dt: xr.DataTree) -> tuple[xr.Dataset, dict, LearningConfig, int]:
    """(posterior with its deterministics, pm.Data values, config, predictive seed) of a fit."""
    config = config_from_attrs(dt.attrs["model_config"])
    fd = dt.fit_data.to_dataset()
    data = {k: fd[k].values for k in ("dlogc", "dlogq", "dt", "pos", "series_idx", "mask")}
    if config.level == "nation":
        data |= {k: fd[k].values for k in ("nation_of_series", "dlogq_world")}
    seed = json.loads(dt.attrs["sampler_config"])["seed"] + 1
    return dt.posterior.to_dataset(), data, config, seed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fits-dir", type=Path, default=Path(".learnrace/fits"))
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    rows, fits = [], {}
    for name in MODELS:
        path = newest(args.fits_dir, name)
        dt = xr.open_datatree(path).load()
        fits[name] = dt
        post = dt.posterior
        console.print(
            f"{name}: {path.name} ({post.sizes['chain']} x {post.sizes['draw']} draws, "
            f"{dt.fit_data.sizes['obs']} differences)"
        )

        old, t_old = timed(lambda dt=dt: old_per_parameter(dt), args.repeat)
        new, t_new = timed(lambda dt=dt: diagnostics.per_parameter(dt), args.repeat)
        rows.append((name, "per_parameter", t_old, t_new, same(old, new), old.height))

        with patched(
            diagnostics,
            per_parameter=old_per_parameter,
            predictive_coverage=old_predictive_coverage,
        ):
            old, t_old = timed(lambda dt=dt: diagnostics.check_fit(dt).to_dict(), args.repeat)
        new, t_new = timed(lambda dt=dt: diagnostics.check_fit(dt).to_dict(), args.repeat)
        rows.append((name, "check_fit", t_old, t_new, same(old, new), old["n_parameters"]))

        post, data, config, seed = fit_inputs(dt)
        old, t_old = timed(lambda a=(post, data, config, seed): old_groups(*a), args.repeat)
        new, t_new = timed(lambda a=(post, data, config, seed): new_groups(*a), args.repeat)
        saved = {
            g: dt[g]["dlogc"].values.reshape(old[g].shape)
            for g in ("log_likelihood", "posterior_predictive")
        }
        ok = same(old, new) and same(new, saved)
        rows.append((name, "loglik+predictive", t_old, t_new, ok, data["dlogc"].size))

    with patched(summaries, pointwise_loo=old_pointwise_loo):
        old, t_old = timed(lambda: summaries.model_comparison(fits), args.repeat)
    new, t_new = timed(lambda: summaries.model_comparison(fits), args.repeat)
    rows.append(("+".join(MODELS), "model_comparison", t_old, t_new, same(old, new), old.height))

    table = Table(title="non-sampling seconds: old vs new (same input, this process)")
    for col in ("fit", "step", "old s", "new s", "speed-up", "equal", "size"):
        table.add_column(col)
    for fit, step, t_old, t_new, ok, size in rows:
        table.add_row(
            fit, step, f"{t_old:.2f}", f"{t_new:.2f}", f"{t_old / t_new:.1f}x", str(ok), str(size)
        )
    counted = [r for r in rows if r[1] != "per_parameter"]  # check_fit includes it
    total_old, total_new = sum(r[2] for r in counted), sum(r[3] for r in counted)
    table.add_row("all", "total (check_fit, loglik+predictive, model_comparison)",
                  f"{total_old:.2f}", f"{total_new:.2f}", f"{total_old / total_new:.1f}x",
                  str(all(r[4] for r in rows)), "")  # fmt: skip
    console.print(table)
    path = save_json(
        "bench_diagnostics.json",
        {
            "repeat": args.repeat,
            "total_old_s": total_old,
            "total_new_s": total_new,
            "rows": [
                {"fit": f, "step": s, "old_s": a, "new_s": b, "equal": ok, "size": n}
                for f, s, a, b, ok, n in rows
            ],
        },
    )
    console.print(f"wrote {path}")


if __name__ == "__main__":
    main()
