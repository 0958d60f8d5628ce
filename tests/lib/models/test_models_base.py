"""Tests of the shared fitting machinery: ids, data/code versions, fit provenance, save/load."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import pymc as pm
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError, ProvenanceError
from learnrace_pipeline.lib.models import base


@dataclass(frozen=True)
class _Cfg:
    kind: str = "toy"
    scale: float = 1.0


def test_model_id_is_stable_and_sensitive() -> None:
    sc = base.SamplerConfig(draws=100, tune=100, chains=2)
    a = base.model_id("toy", _Cfg(), sc, "0.1.0+abc")
    assert a == base.model_id("toy", _Cfg(), sc, "0.1.0+abc")
    assert len(a) == 16
    others = {
        base.model_id("toy2", _Cfg(), sc, "0.1.0+abc"),
        base.model_id("toy", _Cfg(scale=2.0), sc, "0.1.0+abc"),
        base.model_id(
            "toy", _Cfg(), base.SamplerConfig(draws=101, tune=100, chains=2), "0.1.0+abc"
        ),
        base.model_id("toy", _Cfg(), sc, "0.1.0+abd"),
    }
    assert a not in others and len(others) == 4


def test_config_json_is_canonical() -> None:
    assert base.config_json(_Cfg()) == '{"kind":"toy","scale":1.0}'
    assert base.config_json({"b": 1, "a": (1, 2)}) == '{"a":[1,2],"b":1}'


def test_sampler_config_rejects_bad_values() -> None:
    with pytest.raises(ModelError):
        base.SamplerConfig(backend="pymc")  # type: ignore[arg-type]
    with pytest.raises(ModelError):
        base.SamplerConfig(chains=0)
    with pytest.raises(ModelError):
        base.SamplerConfig(target_accept=1.0)


def test_data_version_tracks_values() -> None:
    f = pl.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})
    assert base.data_version(f) == base.data_version(f.clone())
    assert base.data_version(f) != base.data_version(f.with_columns(pl.col("x") + 1e-12))
    assert base.data_version(f) != base.data_version(f.reverse())


def test_code_version_depends_on_module_source(tmp_path) -> None:
    p = tmp_path / "m.py"
    p.write_text("x = 1\n")
    v1 = base.code_version(p)
    p.write_text("x = 2\n")
    v2 = base.code_version(p)
    assert v1 != v2 and v1.split("+")[0] == v2.split("+")[0] == "0.1.0"


@pytest.fixture(scope="module")
def toy_fit() -> xr.DataTree:
    y = np.random.default_rng(1).normal(0.5, 1.0, 30)
    with pm.Model(coords={"obs": np.arange(30)}) as model:
        yd = pm.Data("y", y, dims="obs")
        mu = pm.Normal("mu", 0, 5)
        pm.Normal("obs_y", mu, 1.0, observed=yd, dims="obs")
    compiled = base.compile_model(model)
    sc = base.SamplerConfig(draws=200, tune=200, chains=2, seed=3)

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        ll = (
            -0.5 * np.log(2 * np.pi) - 0.5 * (xr.DataArray(y, dims="obs") - dt.posterior["mu"]) ** 2
        )
        return {
            "log_likelihood": xr.Dataset({"obs_y": ll}),
            "fit_data": xr.Dataset({"y": ("obs", y)}),
        }

    frame = pl.DataFrame({"y": y})
    return base.fit(
        compiled,
        sc,
        model_type="toy",
        model_config=_Cfg(),
        data=frame,
        code_version="0.1.0+test",
        postprocess=post,
    )


def test_fit_carries_provenance_and_groups(toy_fit: xr.DataTree) -> None:
    for attr in base.PROVENANCE_ATTRS:
        assert attr in toy_fit.attrs
    assert toy_fit.attrs["model_id"] == base.model_id(
        "toy", _Cfg(), base.SamplerConfig(draws=200, tune=200, chains=2, seed=3), "0.1.0+test"
    )
    assert {"posterior", "sample_stats", "log_likelihood", "fit_data"} <= set(toy_fit.children)
    assert toy_fit.posterior["mu"].shape == (2, 200)
    # the posterior of a normal mean with known sd: mean ~ ybar, sd ~ 1/sqrt(30)
    y = toy_fit.fit_data["y"].values
    assert abs(float(toy_fit.posterior["mu"].mean()) - y.mean()) < 0.1
    assert abs(float(toy_fit.posterior["mu"].std()) - 1 / np.sqrt(30)) < 0.06


def test_save_load_round_trip_and_refusal(toy_fit: xr.DataTree, tmp_path) -> None:
    path = base.save(toy_fit, tmp_path / "fit.zarr")
    back = base.load(path, expected_model_id=toy_fit.attrs["model_id"])
    np.testing.assert_array_equal(back.posterior["mu"].values, toy_fit.posterior["mu"].values)
    np.testing.assert_array_equal(
        back.log_likelihood["obs_y"].values, toy_fit.log_likelihood["obs_y"].values
    )
    assert back.attrs["sampler_config"] == toy_fit.attrs["sampler_config"]
    with pytest.raises(ProvenanceError, match="expected"):
        base.load(path, expected_model_id="0" * 16)


def test_save_netcdf_round_trip_or_clear_error(toy_fit: xr.DataTree, tmp_path) -> None:
    if base._h5py_available():
        path = base.save(toy_fit, tmp_path / "fit.nc")
        back = base.load(path, expected_model_id=toy_fit.attrs["model_id"])
        np.testing.assert_array_equal(back.posterior["mu"].values, toy_fit.posterior["mu"].values)
        with pytest.raises(ProvenanceError):
            base.load(path, expected_model_id="f" * 16)
    else:
        with pytest.raises(ModelError, match="h5py"):
            base.save(toy_fit, tmp_path / "fit.nc")


def test_save_refuses_unstamped_tree(tmp_path) -> None:
    dt = xr.DataTree(dataset=xr.Dataset({"a": ("x", [1.0])}))
    with pytest.raises(ProvenanceError):
        base.save(dt, tmp_path / "x.zarr")
