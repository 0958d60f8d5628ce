"""Shared fitting machinery for every learnrace Bayesian model (learning curves, scaling laws).

What this module gives a model author
-------------------------------------
- :class:`SamplerConfig`: draws, tune, chains, seed, target_accept, cores and backend (``nutpie``).
- :func:`config_json`: canonical (sorted-key) JSON of any dataclass config, used in hashes/attrs.
- :func:`model_id`: a short sha256 of (model type, model config, sampler config, code version).
  Same inputs, same id; any change to one of them gives a new id (so a pipeline can skip refits).
- :func:`data_version`: a sha256 of one or more Polars frames (columns, dtypes and values).
- :func:`code_version`: ``"<package version>+<sha of the source files of the given modules>"``,
  independent of git: editing a model's code changes it, editing an unrelated module does not.
- :func:`compile_model` / :func:`sample` / :func:`fit`: compile a PyMC model once with nutpie
  (numba backend), then sample it as often as needed, swapping ``pm.Data`` values with
  ``compiled.with_data(...)`` (same shapes, or shapes the model allows) without recompiling.
  :func:`fit` returns an ``xarray.DataTree`` (groups ``posterior``, ``sample_stats``, plus whatever
  the ``postprocess`` callback adds, e.g. ``log_likelihood``, ``posterior_predictive``,
  ``observed_data``, and ``fit_data``) whose root attributes carry the provenance:

  ===================  ======================================================================
  ``model_id``         :func:`model_id` of the fit
  ``model_type``       e.g. ``"learning_curve"``
  ``data_version``     :func:`data_version` of the input frame(s)
  ``code_version``     :func:`code_version` string
  ``sampler_config``   JSON of :class:`SamplerConfig`
  ``model_config``     JSON of the model's config dataclass
  ``compile_seconds``  wall seconds spent compiling (0 when a compiled model was passed in)
  ``sample_seconds``   wall seconds spent sampling
  ===================  ======================================================================

- :func:`save` / :func:`load`: write a fit to disk and read it back; ``load`` refuses a file whose
  ``model_id`` differs from ``expected_model_id`` with
  :class:`~learnrace_pipeline.lib.errors.ProvenanceError`. A ``.nc`` path is netCDF-4 written by
  the ``h5netcdf`` engine (which needs the ``h5py`` package); a ``.zarr`` path is a Zarr directory.

Typical use (compile once, refit on new data of the same shape)::

    compiled = compile_model(pymc_model)
    dt = fit(compiled, SamplerConfig(), model_type="scaling_law", model_config=cfg,
             data=frame, code_version=code_version(my_module), postprocess=my_groups)
    dt2 = fit(compiled, SamplerConfig(), ..., data=frame2, data_updates={"x": new_x})
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import inspect
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError, ProvenanceError

#: Root attribute names every saved fit carries.
PROVENANCE_ATTRS = (
    "model_id",
    "model_type",
    "data_version",
    "code_version",
    "sampler_config",
    "model_config",
)


@dataclass(frozen=True)
class SamplerConfig:
    """How to run NUTS (nutpie).

    Attributes:
        draws: kept draws per chain.
        tune: warm-up draws per chain (discarded).
        chains: number of chains.
        seed: seed of every random draw of the sampler.
        target_accept: NUTS target acceptance rate (raise towards 0.95 on divergences).
        cores: parallel chains (``None``: nutpie's default, all cores).
        backend: only ``"nutpie"`` is supported.
    """

    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    seed: int = 20240601
    target_accept: float = 0.9
    cores: int | None = None
    backend: Literal["nutpie"] = "nutpie"

    def __post_init__(self) -> None:
        if self.backend != "nutpie":
            raise ModelError(f"unsupported sampler backend {self.backend!r}: use 'nutpie'")
        if self.draws < 1 or self.tune < 0 or self.chains < 1:
            raise ModelError(f"sampler config needs draws >= 1, tune >= 0, chains >= 1: {self}")
        if not 0.5 <= self.target_accept < 1:
            raise ModelError(f"target_accept must be in [0.5, 1): {self.target_accept}")


def config_json(config: Any) -> str:
    """Canonical JSON of a dataclass (or a plain mapping): sorted keys, no whitespace."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        payload = dataclasses.asdict(config)
    elif isinstance(config, Mapping):
        payload = dict(config)
    else:
        raise ModelError(f"cannot serialise config of type {type(config).__name__}")
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, (tuple, set, frozenset)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def model_id(
    model_type: str, model_config: Any, sampler_config: SamplerConfig, code_version: str
) -> str:
    """A 16-hex-digit id hashed from the model type, both configs and the code version.

    The data version is deliberately not part of the id: the id names *which model* was run; the
    data a fit saw is recorded separately in the ``data_version`` attribute.
    """
    text = "\n".join(
        [model_type, config_json(model_config), config_json(sampler_config), code_version]
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def data_version(*frames: pl.DataFrame) -> str:
    """sha256 (first 16 hex digits) of the column names, dtypes and values of the frames.

    Row order matters (callers should sort, e.g. by series and year, before hashing).
    """
    h = hashlib.sha256()
    for frame in frames:
        h.update(repr(list(frame.schema.items())).encode())
        h.update(frame.write_csv(float_precision=None).encode())
    return h.hexdigest()[:16]


def code_version(*modules: ModuleType | str | Path) -> str:
    """``"<learnrace version>+<sha of sources>"`` for this module plus the given modules/files.

    Git-independent: it hashes the source text of ``base.py`` and of each module (or file path)
    given, so a refit is triggered exactly when the code that defines the model changes.
    """
    try:
        version = importlib.metadata.version("learnrace")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a checkout
        version = "0+unknown"
    h = hashlib.sha256()
    sources: list[str] = [inspect.getsource(inspect.getmodule(code_version))]  # type: ignore[arg-type]
    for module in modules:
        if isinstance(module, ModuleType):
            sources.append(inspect.getsource(module))
        else:
            sources.append(Path(module).read_text(encoding="utf-8"))
    for src in sources:
        h.update(src.encode())
    return f"{version}+{h.hexdigest()[:12]}"


def compile_model(model: Any, *, var_names: list[str] | None = None) -> Any:
    """Compile a PyMC model with nutpie (numba backend). Reuse the result for many fits.

    ``var_names`` restricts which (free and deterministic) variables are stored in the trace.
    """
    import nutpie

    try:
        return nutpie.compile_pymc_model(model, backend="numba", var_names=var_names)
    except Exception as exc:  # pragma: no cover - compile failures are model bugs
        raise ModelError(f"nutpie could not compile the model: {exc}") from exc


def sample(
    compiled: Any,
    sampler_config: SamplerConfig,
    data_updates: Mapping[str, np.ndarray] | None = None,
) -> xr.DataTree:
    """Sample a compiled model (optionally with new ``pm.Data`` values); no warm-up is kept.

    Returns nutpie's ``xarray.DataTree`` (groups ``posterior`` and ``sample_stats``), with any
    object-typed sample statistic (e.g. divergence messages) turned into strings so the tree can
    be written to netCDF.
    """
    import nutpie

    if data_updates:
        compiled = compiled.with_data(**{k: np.asarray(v) for k, v in data_updates.items()})
    kwargs: dict[str, Any] = {
        "draws": sampler_config.draws,
        "tune": sampler_config.tune,
        "chains": sampler_config.chains,
        "seed": sampler_config.seed,
        "target_accept": sampler_config.target_accept,
        "progress_bar": False,
        "save_warmup": False,
    }
    if sampler_config.cores is not None:
        kwargs["cores"] = sampler_config.cores
    result = nutpie.sample(compiled, **kwargs)
    if not isinstance(result, xr.DataTree):  # pragma: no cover - nutpie API guard
        raise ModelError(f"nutpie returned {type(result).__name__}, expected xarray.DataTree")
    return _sanitise(result)


def _sanitise(dt: xr.DataTree) -> xr.DataTree:
    """Replace object-dtype variables by strings and non-netCDF attrs by JSON strings."""
    out = dt.copy()
    for node in out.subtree:
        ds = node.to_dataset()
        changed = False
        for name in list(ds.variables):
            if ds[name].dtype == object:
                values = np.vectorize(lambda v: "" if v is None else str(v), otypes=[str])(
                    ds[name].values
                )
                ds[name] = (ds[name].dims, values.astype(str))
                changed = True
        for key, value in list(ds.attrs.items()):
            if not isinstance(value, (str, int, float, np.number)):
                ds.attrs[key] = json.dumps(value, default=str)
                changed = True
        if changed:
            node.dataset = ds
    return out


def fit(
    model_or_compiled: Any,
    sampler_config: SamplerConfig,
    *,
    model_type: str,
    model_config: Any,
    data: pl.DataFrame | tuple[pl.DataFrame, ...],
    code_version: str,
    data_updates: Mapping[str, np.ndarray] | None = None,
    postprocess: Callable[[xr.DataTree], Mapping[str, xr.Dataset]] | None = None,
    var_names: list[str] | None = None,
) -> xr.DataTree:
    """Fit a model with nutpie and return a provenance-stamped ``xarray.DataTree``.

    Args:
        model_or_compiled: a ``pm.Model`` (compiled here, timed as ``compile_seconds``) or the
            result of :func:`compile_model` (compile once, fit many times).
        sampler_config: how to sample.
        model_type: short name of the model family (part of the model id).
        model_config: the model's config dataclass (part of the model id, stored as JSON).
        data: the input frame(s) the fit depends on; hashed into ``data_version``.
        code_version: from :func:`code_version`.
        data_updates: new values of ``pm.Data`` containers, swapped in without recompiling.
        postprocess: called with the sampled tree; returns extra groups to add, by name (e.g.
            ``log_likelihood``, ``posterior_predictive``, ``observed_data``, ``fit_data``).
            Computing these in NumPy from the posterior keeps refits compile-free.
        var_names: when a ``pm.Model`` is passed, which variables nutpie stores.
    """
    compile_seconds = 0.0
    compiled = model_or_compiled
    if not hasattr(compiled, "with_data"):
        t0 = time.perf_counter()
        compiled = compile_model(model_or_compiled, var_names=var_names)
        compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    dt = sample(compiled, sampler_config, data_updates)
    sample_seconds = time.perf_counter() - t0
    if postprocess is not None:
        for name, group in postprocess(dt).items():
            dt[name] = xr.DataTree(dataset=group)
        dt = _sanitise(dt)
    frames = data if isinstance(data, tuple) else (data,)
    dt.attrs.update(
        {
            "model_id": model_id(model_type, model_config, sampler_config, code_version),
            "model_type": model_type,
            "data_version": data_version(*frames),
            "code_version": code_version,
            "sampler_config": config_json(sampler_config),
            "model_config": config_json(model_config),
            "compile_seconds": float(compile_seconds),
            "sample_seconds": float(sample_seconds),
        }
    )
    return dt


def _h5py_available() -> bool:
    try:
        import h5py  # noqa: F401
    except ImportError:
        return False
    return True


def save(dt: xr.DataTree, path: str | Path) -> Path:
    """Write a fit to ``path``: ``.nc`` = netCDF-4 via h5netcdf, ``.zarr`` = Zarr directory.

    Refuses a tree without the provenance attributes (:data:`PROVENANCE_ATTRS`).
    """
    path = Path(path)
    missing = [a for a in PROVENANCE_ATTRS if a not in dt.attrs]
    if missing:
        raise ProvenanceError(f"refusing to save a fit without provenance attrs {missing}")
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = _sanitise(dt)
    if path.suffix == ".nc":
        if not _h5py_available():
            raise ModelError(
                "saving netCDF with the h5netcdf engine needs the h5py package, which is not "
                "installed; install h5py or save to a '.zarr' path"
            )
        clean.to_netcdf(path, engine="h5netcdf", mode="w")
    elif path.suffix == ".zarr":
        clean.to_zarr(path, mode="w", consolidated=False)
    else:
        raise ModelError(f"unknown fit file type {path.suffix!r}: use '.nc' or '.zarr'")
    return path


def load(path: str | Path, expected_model_id: str | None = None) -> xr.DataTree:
    """Read a fit written by :func:`save` fully into memory.

    Raises:
        ProvenanceError: the file lacks provenance attributes, or its ``model_id`` differs from
            ``expected_model_id`` (when given).
        ModelError: the file does not exist or has an unknown type.
    """
    path = Path(path)
    if not path.exists():
        raise ModelError(f"no saved fit at {path}")
    if path.suffix == ".nc":
        engine = "h5netcdf"
    elif path.suffix == ".zarr":
        engine = "zarr"
    else:
        raise ModelError(f"unknown fit file type {path.suffix!r}: use '.nc' or '.zarr'")
    kwargs: dict[str, Any] = {"consolidated": False} if engine == "zarr" else {}
    with xr.open_datatree(path, engine=engine, **kwargs) as opened:
        dt = opened.load().copy()
    missing = [a for a in PROVENANCE_ATTRS if a not in dt.attrs]
    if missing:
        raise ProvenanceError(f"{path} lacks provenance attrs {missing}")
    if expected_model_id is not None and dt.attrs["model_id"] != expected_model_id:
        raise ProvenanceError(
            f"{path} holds model_id {dt.attrs['model_id']!r}, expected {expected_model_id!r}: "
            "the model, its config, the sampler config or the code changed since it was saved"
        )
    return dt
