"""The fitting facade of the learning-curve models: :class:`LearningCurveModel`.

A :class:`LearningCurveModel` holds one panel (:mod:`.panel`), one :class:`LearningConfig`
(:mod:`.config`) and the PyMC model built from them (:mod:`.model`). It compiles the model once
with nutpie and refits it with new data of the same shapes (e.g. a hindcast origin's ``mask``),
returning provenance-stamped ``xarray.DataTree`` fits whose deterministics, ``log_likelihood`` and
one-step ``posterior_predictive`` groups are computed in NumPy (:mod:`.numpy_mirror`).

A fit's code version (:attr:`LearningCurveModel.code_version`) hashes this module, the settings,
the model, its NumPy mirrors, the panel builder and the fused likelihood Op (:mod:`.loglik_op`),
the code that makes a saved fit.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
import pymc as pm
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.learning.config import (
    LearningConfig,
)
from learnrace_pipeline.lib.models.learning.model import (
    create_learning_model,
)
from learnrace_pipeline.lib.models.learning.numpy_mirror import (
    _obs_parts,
    add_deterministics,
    one_step_predictive,
    pointwise_log_likelihood,
    simulate_dlogc,
)
from learnrace_pipeline.lib.models.learning.panel import Panel

MODEL_TYPE = "learning_curve"

#: Default sampler of :class:`LearningCurveModel`: 4 chains x 2,000 draws after 1,000 tuning
#: steps (see docs/decisions/2026-11-28-learning-curve-default-sampler.md).
DEFAULT_SAMPLER = base.SamplerConfig(draws=2000, tune=1000, chains=4, seed=20240601)


def _fit_data(panel: Panel, data: Mapping[str, np.ndarray]) -> xr.Dataset:
    s, lv = panel.series, panel.levels
    ds = xr.Dataset(
        {
            "year": ("obs", panel.obs["year"].to_numpy()),
            "dt": ("obs", data["dt"]),
            "dlogc": ("obs", data["dlogc"]),
            "dlogq": ("obs", data["dlogq"]),
            "pos": ("obs", data["pos"]),
            "series_idx": ("obs", data["series_idx"]),
            "mask": ("obs", data["mask"]),
            "series_id": ("series", s["series_id"].to_numpy().astype(str)),
            "series_technology": ("series", s["technology"].to_numpy().astype(str)),
            "series_industry": ("series", s["industry"].to_numpy().astype(str)),
            "series_nation": ("series", s["nation"].to_numpy().astype(str)),
            "series_unit": ("series", s["unit"].fill_null("").to_numpy().astype(str)),
            "series_n_points": ("series", s["n_points"].to_numpy()),
            "industry_of_series": ("series", s["industry_idx"].to_numpy().astype(np.int64)),
            "point_series": ("point", lv["series"].to_numpy().astype(str)),
            "point_year": ("point", lv["year"].to_numpy()),
            "point_log_cost": ("point", lv["log_cost"].to_numpy()),
            "point_log_q": ("point", lv["log_q"].to_numpy()),
        },
        coords={
            "obs": np.arange(panel.n_obs),
            "series": s["series"].to_numpy().astype(str),
            "industry": np.array(panel.industries, dtype=str),
            "nation": np.array(panel.nations, dtype=str),
            "point": np.arange(lv.height),
        },
    )
    if panel.has_world:
        ds["dlogq_world"] = ("obs", data["dlogq_world"])
        ds["nation_of_series"] = ("series", s["nation_idx"].to_numpy().astype(np.int64))
        ds["point_log_q_world"] = ("point", lv["log_q_world"].to_numpy())
    return ds


class LearningCurveModel:
    """A learning-curve model on one panel: default priors and sampler, compile-once fits.

    Typical use::

        lcm = LearningCurveModel(panel, LearningConfig(trend="wright"), SamplerConfig())
        dt = lcm.fit()                              # compiles on first use
        dt_h = lcm.fit(mask=panel.origin_mask(2000))  # hindcast origin, no recompilation
        table = summaries.learning_rates(dt)
    """

    def __init__(
        self,
        panel: Panel,
        config: LearningConfig | None = None,
        sampler: base.SamplerConfig | None = None,
    ) -> None:
        self.panel = panel
        self.config = config or LearningConfig()
        self.sampler = sampler or DEFAULT_SAMPLER
        self.model = create_learning_model(panel, self.config)
        self._compiled: Any = None
        self.compile_seconds = 0.0

    @property
    def code_version(self) -> str:
        """Package version + hash of the code defining the fit: this module (the fitting
        facade and the ``fit_data`` group), :mod:`.config` (model settings and priors),
        :mod:`.model` (the PyMC model), :mod:`.numpy_mirror` (the deterministics,
        ``log_likelihood`` and ``posterior_predictive`` groups computed from every posterior),
        :mod:`.panel` (the panel builder) and :mod:`.loglik_op` (the fused likelihood Op).
        Editing any of them changes :attr:`model_id`, so stale saved fits are not reused.
        :mod:`.posterior` is left out: it only reads saved fits."""
        import sys

        from learnrace_pipeline.lib.models.learning import (
            config,
            loglik_op,
            model,
            numpy_mirror,
            panel,
        )

        return base.code_version(
            sys.modules[__name__], config, model, numpy_mirror, panel, loglik_op
        )

    @property
    def model_id(self) -> str:
        return base.model_id(MODEL_TYPE, self.config, self.sampler, self.code_version)

    def data(
        self, mask: np.ndarray | None = None, panel: Panel | None = None
    ) -> dict[str, np.ndarray]:
        """The ``pm.Data`` values for a panel (default: the model's own)."""
        panel = panel or self.panel
        d = panel.data(mask)
        if self.config.level == "nation":
            d["nation_of_series"] = panel.series["nation_idx"].to_numpy().astype(np.int64)
        else:
            d.pop("dlogq_world", None)
        d.pop("technology_of_series", None)
        if self.config.level == "nation":
            d.pop("industry_of_series", None)
        return d

    def compile(self) -> Any:
        """Compile with nutpie once (cached); ``compile_seconds`` records the time taken."""
        if self._compiled is None:
            t0 = time.perf_counter()
            free = [v.name for v in self.model.free_RVs]
            self._compiled = base.compile_model(self.model, var_names=free)
            self.compile_seconds = time.perf_counter() - t0
        return self._compiled

    def check_layout(self, panel: Panel) -> None:
        """Raise ModelError unless ``panel`` can be swapped into the compiled model.

        Same number of observations, series, industries and nations (labels may differ: a
        synthetic replicate or another panel of the same shape fits, and its own labels are
        stored with the fit).
        """
        own = self.panel
        same = (
            panel.n_obs == own.n_obs
            and panel.n_series == own.n_series
            and len(panel.industries) == len(own.industries)
            and len(panel.nations) == len(own.nations)
            and panel.has_world == own.has_world
        )
        if not same:
            raise ModelError(
                f"panel layout differs from the compiled model's ({panel.n_obs} obs, "
                f"{panel.n_series} series vs {own.n_obs}, {own.n_series}): build a new model"
            )

    def fit(
        self,
        mask: np.ndarray | None = None,
        *,
        panel: Panel | None = None,
        sampler: base.SamplerConfig | None = None,
        log_likelihood: bool = True,
        predictive: bool = True,
    ) -> xr.DataTree:
        """Sample the posterior and return a provenance-stamped DataTree.

        Args:
            mask: 0/1 per difference (see :meth:`.panel.Panel.origin_mask`); masked points do
                not enter the likelihood (hindcast training windows).
            panel: another panel of the same layout (:meth:`check_layout`) to fit with the
                already compiled model; default the model's own panel.
            sampler: override the sampler config for this fit.
            log_likelihood, predictive: compute the ``log_likelihood`` and one-step
                ``posterior_predictive`` groups (NumPy, cheap; skip for speed).

        Groups: ``posterior``, ``sample_stats``, ``log_likelihood``, ``posterior_predictive``,
        ``observed_data``, ``fit_data`` and, for the nation level, ``prior`` (lambda draws).
        """
        sampler = sampler or self.sampler
        panel = panel or self.panel
        if panel is not self.panel:
            self.check_layout(panel)
        compiled = self.compile()
        compile_seconds = self.compile_seconds
        data = self.data(mask, panel)
        shared_names = {var.name for var in compiled.shared_var_keys}
        updates = {k: v for k, v in data.items() if k in shared_names}
        config = self.config

        def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
            posterior = dt.posterior.to_dataset()
            labels = panel.coords()
            posterior = posterior.assign_coords(
                {d: labels[d] for d in ("series", "industry", "nation") if d in posterior.dims}
            )
            posterior = add_deterministics(posterior, config, data)
            groups: dict[str, xr.Dataset] = {
                "posterior": posterior,
                "observed_data": xr.Dataset({"dlogc": ("obs", data["dlogc"])}),
                "fit_data": _fit_data(panel, data),
            }
            wanted = {"e": log_likelihood, "scale": log_likelihood or predictive, "loc": predictive}
            keys = tuple(k for k, want in wanted.items() if want)
            parts = _obs_parts(posterior, data, config, keys) if keys else None
            if log_likelihood:
                groups["log_likelihood"] = pointwise_log_likelihood(posterior, data, config, parts)
            if predictive:
                groups["posterior_predictive"] = one_step_predictive(
                    posterior, data, config, seed=sampler.seed + 1, parts=parts
                )
            if config.level == "nation":
                groups["prior"] = self.prior_draws(2000, seed=sampler.seed + 2)
            return groups

        frame = panel.frame().with_columns(pl.Series("mask", data["mask"]))
        dt = base.fit(
            compiled,
            sampler,
            model_type=MODEL_TYPE,
            model_config=config,
            data=frame,
            code_version=self.code_version,
            data_updates=updates,
            postprocess=post,
        )
        dt.attrs["compile_seconds"] = float(compile_seconds)
        dt.attrs["model_name"] = config.name
        self.compile_seconds = 0.0  # later fits reuse the compiled model
        return dt

    def prior_draws(self, draws: int, seed: int) -> xr.Dataset:
        """Draws of every model parameter from the prior (PyMC forward sampling, chain dim 1)."""
        names = [v.name for v in self.model.free_RVs] + [v.name for v in self.model.deterministics]
        with warnings.catch_warnings():
            # the likelihood is a Potential (masked, MA(1)); only parameters are drawn here
            warnings.filterwarnings("ignore", message=".*Potential.*")
            warnings.filterwarnings("ignore", message=".*object mode.*truncated_normal.*")
            prior = pm.sample_prior_predictive(
                draws=draws, model=self.model, var_names=names, random_seed=seed
            )
        return prior["prior"].to_dataset()

    def prior_predictive(self, draws: int = 50, seed: int = 1) -> xr.DataTree:
        """Prior draws of the parameters and of the differences (groups prior, prior_predictive).

        The differences are simulated with :func:`simulate_dlogc` (the generative model,
        including the MA(1) pre-sample shock), dims ``(chain, draw, obs)``.
        """
        prior = self.prior_draws(draws, seed)
        data = self.data()
        params = {
            k: prior[k].stack(sample=("chain", "draw")).transpose("sample", ...).values
            for k in ("w_series", "m_series", "sigma_series", "rho", "nu", "lambda_nation")
            if k in prior
        }
        y = simulate_dlogc(params, data, self.config, np.random.default_rng(seed))
        ppc = xr.Dataset(
            {"dlogc": (("chain", "draw", "obs"), y.reshape(1, draws, -1))},
            coords={"chain": [0], "draw": np.arange(draws), "obs": np.arange(self.panel.n_obs)},
        )
        return xr.DataTree.from_dict({"prior": prior, "prior_predictive": ppc})
