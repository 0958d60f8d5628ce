"""Helpers shared by the scaling-law models: data groups of a fitted DataTree, quantiles.

:func:`learnrace_pipeline.lib.models.base.fit` returns ``posterior`` and ``sample_stats`` only;
the scaling models add ``constant_data`` and ``observed_data`` (taken from the PyMC model's
``pm.Data`` containers and observed variables, with their named dims) and a ``log_likelihood``
group computed in NumPy from the posterior (so refits need no compile).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pymc as pm
import xarray as xr

QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
SAMPLE_DIMS = ("chain", "draw")


def str_array(values) -> np.ndarray:
    """``values`` as a NumPy string array (for netCDF coordinates and labels)."""
    return np.asarray([str(v) for v in values], dtype=str)


def _dataset(model: pm.Model, values: dict[str, np.ndarray]) -> xr.Dataset:
    coords = {k: list(v) for k, v in model.coords.items() if v is not None}
    out = {}
    for name, value in values.items():
        dims = model.named_vars_to_dims.get(name)
        arr = np.asarray(value)
        if dims is None:
            dims = tuple(f"{name}_dim_{i}" for i in range(arr.ndim))
        out[name] = xr.DataArray(arr, dims=dims, coords={d: coords[d] for d in dims if d in coords})
    return xr.Dataset(out)


def constant_data(model: pm.Model) -> xr.Dataset:
    """Every ``pm.Data`` container of ``model`` with its dims and coords."""
    return _dataset(model, {v.name: v.get_value() for v in model.data_vars})


def observed_data(model: pm.Model) -> xr.Dataset:
    """Every observed variable of ``model`` with its dims and coords."""
    vals = {}
    for rv in model.observed_RVs:
        data = model.rvs_to_values[rv]
        vals[rv.name] = data.data if hasattr(data, "data") else data.eval()
    return _dataset(model, vals)


def quantile_columns(
    da: xr.DataArray, name: str, quantiles: Sequence[float] = QUANTILES, transform=None
) -> dict[str, np.ndarray]:
    """``{f"{name}_q05": ..., ...}``: posterior quantiles over (chain, draw), one value per
    remaining coordinate, optionally passed through ``transform`` (monotone, e.g. ``np.exp``)."""
    q = da.quantile(list(quantiles), dim=SAMPLE_DIMS)
    out = {}
    for v in quantiles:
        arr = np.asarray(q.sel(quantile=v, drop=True).values, dtype=float)
        out[f"{name}_q{round(v * 100):02d}"] = transform(arr) if transform else arr
    return out


def check_var_names(dt, exclude: Sequence[str] = ()) -> list[str]:
    """Posterior variables to run the convergence checks on: all but ``exclude`` (per-observation
    deterministics that are functions of the checked parameters, some constant across draws)."""
    return [str(v) for v in dt["posterior"].data_vars if str(v) not in set(exclude)]
