"""The vectorised R-hat and ESS of lib/models/diagnostics.py against arviz_stats, element by
element: AR(1) chains of several shapes (odd and even draws, 1 to 4 chains, the 4-draw
minimum), constant elements, ties (rounded and integer values), very slow mixing (random walks,
where Geyer's sequence runs to the last lag), anti-correlated chains (where it stops at once),
values folding to a constant, and NaN."""

from __future__ import annotations

import arviz_stats as azs
import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.models import diagnostics

SAMPLE = ["chain", "draw"]
SHAPES = [(4, 1000), (4, 1001), (1, 600), (1, 601), (2, 7), (3, 5), (4, 4), (2, 3), (2, 250)]
PHIS = (0.0, 0.5, 0.95, 0.999, -0.7)


def _ar1(rng: np.random.Generator, chains: int, draws: int, phi: float) -> np.ndarray:
    e = rng.standard_normal((chains, draws))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0] / np.sqrt(max(1 - phi**2, 1e-3))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + e[:, t]
    return x


def awkward_draws(chains: int, draws: int, seed: int = 0) -> np.ndarray:
    """(chain, draw, 11): AR(1) at each of PHIS, then a constant, rounded values (ties), a
    random walk, +-1 values (constant once folded), a single NaN and a mostly constant one."""
    rng = np.random.default_rng(seed)
    cols = [_ar1(rng, chains, draws, phi) for phi in PHIS]
    cols.append(np.full((chains, draws), 1.5))
    cols.append(np.round(_ar1(rng, chains, draws, 0.6) * 0.7))
    cols.append(np.cumsum(rng.standard_normal((chains, draws)), axis=1))
    cols.append(np.where(rng.random((chains, draws)) < 0.5, -1.0, 1.0))
    with_nan = _ar1(rng, chains, draws, 0.3)
    with_nan[0, draws // 2] = np.nan
    cols.append(with_nan)
    spike = np.zeros((chains, draws))
    spike[-1, -1] = 1.0
    cols.append(spike)
    return np.stack(cols, axis=-1)


def _elements(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.moveaxis(x, -1, 0))


def _reference(ds: xr.Dataset, name: str, method: str) -> np.ndarray:
    if method == "rhat":
        return azs.rhat(ds, sample_dims=SAMPLE, method="rank")[name].values
    return azs.ess(ds, sample_dims=SAMPLE, method=method)[name].values


ESTIMATORS = {
    "rhat": diagnostics.rhat_rank,
    "bulk": diagnostics.ess_bulk,
    "tail": diagnostics.ess_tail,
    "mean": diagnostics.ess_mean,
}


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize(("chains", "draws"), SHAPES)
def test_estimators_equal_arviz(chains: int, draws: int) -> None:
    x = awkward_draws(chains, draws)
    ints = np.nan_to_num(np.round(3 * x)).astype(np.int64)
    ds = xr.Dataset({"x": (("chain", "draw", "k"), x), "i": (("chain", "draw", "k"), ints)})
    for name, values in (("x", x), ("i", ints)):
        for method, ours in ESTIMATORS.items():
            got = ours(_elements(values))
            want = _reference(ds, name, method)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            np.testing.assert_allclose(got, want, rtol=1e-10, err_msg=f"{name} {method}")


def test_nan_and_short_chains() -> None:
    x = awkward_draws(4, 200)
    values = _elements(x)
    rhat = diagnostics.rhat_rank(values)
    assert np.isnan(rhat[9])  # the element holding a NaN
    assert np.isfinite(rhat[[0, 1, 2, 3, 4, 6, 7, 8, 10]]).all()
    assert rhat[8] < 1.05  # +-1 values: the folded R-hat is NaN, the bulk one is kept
    assert np.isnan(diagnostics.rhat_rank(values[:, :1])).all()  # one chain
    assert np.isnan(diagnostics.ess_bulk(values[:, :, :3])).all()  # three draws
    # the constant element: R-hat NaN (no variance), ESS the number of split draws
    assert np.isnan(rhat[5])
    assert diagnostics.ess_bulk(values)[5] == diagnostics.ess_tail(values)[5] == 4 * 200


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_dataset_functions_equal_arviz() -> None:
    rng = np.random.default_rng(3)
    ds = xr.Dataset(
        {
            "a": (("chain", "draw"), _ar1(rng, 3, 301, 0.8)),
            "b": (("series", "chain", "draw", "k"), rng.standard_normal((2, 3, 301, 4))),
        },
        coords={"series": ["s1", "s2"], "k": [10, 20, 30, 40]},
    )
    got = diagnostics.rhat(ds)
    want = azs.rhat(ds, sample_dims=SAMPLE, method="rank")
    xr.testing.assert_allclose(got, want, rtol=1e-10)
    assert got["b"].dims == ("series", "k")
    for method in ("bulk", "tail", "mean"):
        xr.testing.assert_allclose(
            diagnostics.ess(ds, method), azs.ess(ds, sample_dims=SAMPLE, method=method), rtol=1e-10
        )


def _arviz_per_parameter(dt: xr.DataTree) -> pl.DataFrame:
    """per_parameter as it was written with arviz_stats (the reference)."""
    post = dt.posterior.to_dataset()
    rhat = azs.rhat(post, sample_dims=SAMPLE, method="rank")
    bulk = azs.ess(post, sample_dims=SAMPLE, method="bulk")
    tail = azs.ess(post, sample_dims=SAMPLE, method="tail")
    rows: dict[str, list] = {"parameter": [], "rhat": [], "ess_bulk": [], "ess_tail": []}
    for name in post.data_vars:
        rows["parameter"] += diagnostics._element_labels(rhat[name])
        for col, res in (("rhat", rhat), ("ess_bulk", bulk), ("ess_tail", tail)):
            rows[col] += np.asarray(res[name].values, dtype=float).ravel().tolist()
    return pl.DataFrame(rows)


def assert_tables_equal(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.columns == ["parameter", "rhat", "ess_bulk", "ess_tail"] == want.columns
    assert got["parameter"].to_list() == want["parameter"].to_list()
    for col in ("rhat", "ess_bulk", "ess_tail"):
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-10)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_per_parameter_equals_arviz() -> None:
    x = awkward_draws(4, 301, seed=5)
    rng = np.random.default_rng(8)
    post = xr.Dataset(
        {
            "w_all": (("chain", "draw"), x[..., 1]),
            "w_series": (("chain", "draw", "series"), x),
            "grid": (("chain", "draw", "a", "b"), rng.standard_normal((4, 301, 2, 3))),
        },
        coords={"series": [f"src:s{i}" for i in range(x.shape[-1])], "a": ["p", "q"]},
    )
    dt = xr.DataTree.from_dict({"posterior": post})
    got = diagnostics.per_parameter(dt)
    assert got["parameter"][2] == "w_series[src:s1]"
    assert got["parameter"][-1] == "grid[q,2]"
    assert_tables_equal(got, _arviz_per_parameter(dt))
    assert diagnostics.per_parameter(dt, ["w_all"])["parameter"].to_list() == ["w_all"]


def test_predictive_coverage_equals_per_level_quantiles() -> None:
    rng = np.random.default_rng(4)
    draws = rng.standard_t(5, size=(2, 400, 60))
    obs = rng.standard_normal(60) * 1.3
    mask = (rng.random(60) < 0.8).astype(float)
    dt = xr.DataTree.from_dict(
        {
            "posterior_predictive": xr.Dataset({"dlogc": (("chain", "draw", "obs"), draws)}),
            "observed_data": xr.Dataset({"dlogc": ("obs", obs)}),
            "fit_data": xr.Dataset({"mask": ("obs", mask)}),
        }
    )
    before = draws.copy()
    got = diagnostics.predictive_coverage(dt, (0.5, 0.9, 0.2))
    flat = np.moveaxis(draws, -1, 0).reshape(60, -1)
    for p in (0.5, 0.9, 0.2):
        lo, hi = np.quantile(flat, [(1 - p) / 2, (1 + p) / 2], axis=-1)
        inside = ((obs >= lo) & (obs <= hi))[mask > 0]
        assert got[f"{round(100 * p)}%"] == float(inside.mean())
    np.testing.assert_array_equal(dt.posterior_predictive["dlogc"].values, before)
    assert diagnostics.predictive_coverage(dt, ()) == {}
