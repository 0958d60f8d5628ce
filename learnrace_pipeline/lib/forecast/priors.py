"""The population prior of the pooled-prior forecaster: what a *new* series' parameters look
like according to the pooled Wright fit, per posterior draw, at the all-technology level and per
industry.

- :class:`PopulationPrior`: draws of ``w`` (mean and sd; Wright exponent, unit-free), of
  ``log sigma`` (mean and sd; log of the innovation scale of log cost per year), of ``rho``
  (MA(1)) and of ``nu`` (Student-t degrees of freedom; ``inf`` for normal noise); from an
  experience+time fit also of the time drift ``m`` (mean and sd; log cost per year).
- :func:`population_prior` / :func:`population_priors`: from a fitted ``xarray.DataTree``.
- :func:`save_priors` / :func:`load_priors`: the CSV + ``.meta.json`` file format (the package
  ships one, :data:`SHIPPED_PRIOR`, made by ``learnrace forecast-prior``).
- :func:`choose_prior`: the level for ``--industry``.

How the forecaster uses a prior is described in :mod:`.forecaster`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import DataError, ModelError

#: The shipped population prior (made by ``learnrace forecast-prior``) and its provenance sidecar.
SHIPPED_PRIOR = Path(__file__).with_name("population_prior.csv")
SHIPPED_PRIOR_META = Path(__file__).with_name("population_prior.meta.json")
#: The shipped prior of the time-trend forecaster (``learnrace forecast --model time``), made by
#: ``learnrace forecast-prior --model time`` from the pooled time-trend fit of every cost series.
SHIPPED_TIME_PRIOR = Path(__file__).with_name("time_prior.csv")
ALL = "all"
PRIOR_COLUMNS = ("level", "draw", "w_mu", "w_sd", "log_sigma_mu", "log_sigma_sd", "rho", "nu")
#: columns a prior file must have (``nu`` is optional: absent means normal noise)
REQUIRED_PRIOR_COLUMNS = PRIOR_COLUMNS[:-1]
#: the time drift of an experience+time prior (both or neither)
DRIFT_COLUMNS = ("m_mu", "m_sd")
#: The slope a pooled fit's prior describes, by trend: Wright's ``w`` (per unit of log
#: cumulative production) or the time trend's ``m`` (per year); ``both`` (experience+time)
#: has ``w`` as the slope and ``m`` as its drift.
SLOPE_OF_TREND = {"wright": "w", "time": "m", "both": "w"}
#: The shipped prior of the experience+time forecaster (``--model experience_time``), made by
#: ``learnrace forecast-prior --model experience_time`` from the pooled experience+time fit.
SHIPPED_EXPERIENCE_TIME_PRIOR = Path(__file__).with_name("experience_time_prior.csv")


# --------------------------------------------------------------------------------------------
# the population prior
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PopulationPrior:
    """Draws (dim ``draw``) of the distribution of a NEW series' parameters at one level.

    Attributes:
        level: ``"all"`` or an industry name.
        w_mu, w_sd: mean and sd of the new series' Wright exponent (unit-free) per draw.
        log_sigma_mu, log_sigma_sd: mean and sd of its log innovation sd (log of log-cost per
            year) per draw.
        rho: MA(1) coefficient per draw (0 for iid noise).
        attrs: provenance (model id, data version, code version, ...), strings.
        nu: Student-t degrees of freedom of the innovations per draw; ``inf`` (the default)
            for normal noise.
        m_mu, m_sd: mean and sd of the new series' time drift ``m`` (log unit cost lost per
            year, on top of experience) per draw: only in a prior from an experience+time fit
            (``dlog c = -w dlog Q - m dt + e``); None otherwise.
    """

    level: str
    w_mu: np.ndarray
    w_sd: np.ndarray
    log_sigma_mu: np.ndarray
    log_sigma_sd: np.ndarray
    rho: np.ndarray
    attrs: Mapping[str, str] = field(default_factory=dict)
    nu: np.ndarray | None = None
    m_mu: np.ndarray | None = None
    m_sd: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.nu is None:
            object.__setattr__(self, "nu", np.full(np.asarray(self.w_mu).size, np.inf))
        arrays = {}
        for name in ("w_mu", "w_sd", "log_sigma_mu", "log_sigma_sd", "rho", "nu"):
            arr = np.asarray(getattr(self, name), dtype=float).ravel()
            arrays[name] = arr
            object.__setattr__(self, name, arr)
        if (self.m_mu is None) != (self.m_sd is None):
            raise ModelError(f"population prior {self.level!r}: m_mu and m_sd go together")
        if self.m_mu is not None:
            for name in DRIFT_COLUMNS:
                arr = np.asarray(getattr(self, name), dtype=float).ravel()
                arrays[name] = arr
                object.__setattr__(self, name, arr)
            if np.any(arrays["m_sd"] <= 0):
                raise ModelError(f"population prior {self.level!r}: m_sd must be > 0")
        sizes = {a.size for a in arrays.values()}
        if len(sizes) != 1 or 0 in sizes:
            raise ModelError(f"population prior {self.level!r}: draws of unequal or zero length")
        if not all(np.all(np.isfinite(a)) for k, a in arrays.items() if k != "nu"):
            raise ModelError(f"population prior {self.level!r}: non-finite draws")
        nu = arrays["nu"]
        if np.any(np.isnan(nu)) or np.any(nu <= 1):
            raise ModelError(f"population prior {self.level!r}: nu must be > 1 (or inf)")
        if np.any(np.isinf(nu)) and not np.all(np.isinf(nu)):
            raise ModelError(f"population prior {self.level!r}: nu is infinite for some draws only")
        if np.any(arrays["w_sd"] < 0) or np.any(arrays["log_sigma_sd"] < 0):
            raise ModelError(f"population prior {self.level!r}: negative sd")
        if np.any(np.abs(arrays["rho"]) >= 1):
            raise ModelError(f"population prior {self.level!r}: |rho| >= 1 (not invertible)")
        ls = arrays["log_sigma_sd"]
        if np.any(ls == 0) and not np.all(ls == 0):
            raise ModelError(
                f"population prior {self.level!r}: log_sigma_sd is zero for some draws only"
            )

    @property
    def n_draws(self) -> int:
        return int(self.w_mu.size)

    @property
    def has_drift(self) -> bool:
        """Whether the prior carries a time drift ``m`` (an experience+time prior)."""
        return self.m_mu is not None

    @property
    def student_t(self) -> bool:
        """Whether the innovations are Student-t (finite ``nu``) rather than normal."""
        return bool(np.all(np.isfinite(self.nu)))

    def thin(self, max_draws: int) -> PopulationPrior:
        """At most ``max_draws`` draws, evenly spaced (deterministic)."""
        if self.n_draws <= max_draws:
            return self
        idx = np.unique(np.linspace(0, self.n_draws - 1, max_draws).round().astype(int))
        return PopulationPrior(
            self.level,
            self.w_mu[idx],
            self.w_sd[idx],
            self.log_sigma_mu[idx],
            self.log_sigma_sd[idx],
            self.rho[idx],
            dict(self.attrs),
            self.nu[idx],
            None if self.m_mu is None else self.m_mu[idx],
            None if self.m_sd is None else self.m_sd[idx],
        )

    def to_frame(self) -> pl.DataFrame:
        cols = {
            "level": [self.level] * self.n_draws,
            "draw": np.arange(self.n_draws, dtype=np.int64),
            "w_mu": self.w_mu,
            "w_sd": self.w_sd,
            "log_sigma_mu": self.log_sigma_mu,
            "log_sigma_sd": self.log_sigma_sd,
            "rho": self.rho,
            "nu": self.nu,
        }
        if self.m_mu is not None:
            cols |= {"m_mu": self.m_mu, "m_sd": self.m_sd}
        return pl.DataFrame(cols)

    def summary(self) -> dict[str, float]:
        """Means of the draws and the implied prior mean learning rate (for messages); with a
        drift also its mean ``m_mean`` (log cost per year)."""
        out = {
            "w_mean": float(self.w_mu.mean()),
            "w_sd_total": float(np.sqrt(self.w_mu.var() + np.mean(self.w_sd**2))),
            "learning_rate": float(1 - 2 ** (-self.w_mu.mean())),
            "sigma_median": float(np.exp(np.median(self.log_sigma_mu))),
            "rho_mean": float(self.rho.mean()),
            "nu_median": float(np.median(self.nu)),
        }
        if self.m_mu is not None:
            out["m_mean"] = float(self.m_mu.mean())
        return out


def _stack(da: xr.DataArray) -> np.ndarray:
    """Draws as rows, chain-major (the order of ``stack(sample=("chain", "draw"))``), without
    building a MultiIndex: the hindcast calls this hundreds of times per origin."""
    rest = [d for d in da.dims if d not in ("chain", "draw")]
    values = da.transpose("chain", "draw", *rest).values
    return values.reshape(-1, *values.shape[2:])


def population_prior(
    dt: xr.DataTree, industry: str | None = None, *, max_draws: int | None = None
) -> PopulationPrior:
    """The new-series prior from a pooled Wright, time-trend or experience+time fit of
    ``learning.LearningCurveModel``.

    For a Wright fit ``w`` is the Wright exponent (per unit of log cumulative production); for a
    time-trend fit (``dlog c = -m dt + e``) the prior's ``w_mu``/``w_sd`` hold the drift ``m``
    (log cost decline per year), i.e. the slope on the year in place of log production: the
    forecaster then runs unchanged with ``log_q = year`` (:mod:`.time_trend`). The fit's trend
    is recorded in ``attrs["trend"]``. For an experience+time fit (``trend="both"``,
    ``dlog c = -w dlog Q - m dt + e``) the prior holds ``w`` as for a Wright fit and the drift
    ``m`` (``m_mu``/``m_sd``) at the same level: the model's priors on ``w`` and ``m`` are
    independent given the population draw, so a new series' ``m ~ N(m_industry, tau_m_series)``
    at an industry and ``N(m_all, sqrt(tau_m_industry^2 + tau_m_series^2))`` at the all level.

    ``industry=None`` gives the all-technology level; an industry absent from the fit's
    ``industry`` coordinate is refused (use the all level for an unseen industry). A Student-t
    fit carries its degrees of freedom ``nu`` per draw; a normal fit gets ``nu = inf``. Draws
    with ``nu <= 1`` (possible under the model's Gamma prior on a small panel; such a Student-t
    has no mean) are dropped, and ``attrs["nu_draws_dropped"]`` says how many.

    Raises:
        ModelError: the fit is not a pooled Wright or time-trend fit (normal or Student-t
            noise), or the industry is unknown.
    """
    cfg = json.loads(dt.attrs.get("model_config", "{}"))
    trend = cfg.get("trend")
    if (
        trend not in SLOPE_OF_TREND
        or cfg.get("noise") not in ("normal", "student_t")
        or cfg.get("level") != "pooled"
    ):
        raise ModelError(
            "the pooled-prior forecaster needs a pooled Wright or time-trend fit (normal or "
            f"Student-t noise); got trend={trend!r} noise={cfg.get('noise')!r} "
            f"level={cfg.get('level')!r}"
        )
    post = dt["posterior"].to_dataset()
    if industry is not None and industry not in _industries(dt):
        raise ModelError(f"industry {industry!r} is not in the fit (it has {_industries(dt)})")
    w_mu, w_sd = _slope_prior(post, SLOPE_OF_TREND[trend], industry)
    m_mu, m_sd = _slope_prior(post, "m", industry) if trend == "both" else (None, None)
    level = ALL if industry is None else industry
    rho = _stack(post["rho"]) if "rho" in post else np.zeros_like(w_mu)
    nu = _stack(post["nu"]) if cfg.get("noise") == "student_t" else None
    attrs = {
        k: str(dt.attrs[k])
        for k in ("model_id", "model_type", "data_version", "code_version", "sampler_config")
        if k in dt.attrs
    } | {"trend": str(trend)}
    draws = {
        "w_mu": w_mu,
        "w_sd": w_sd,
        "log_sigma_mu": _stack(post["log_sigma_all"]),
        "log_sigma_sd": (
            _stack(post["tau_log_sigma"]) if "tau_log_sigma" in post else np.zeros_like(w_mu)
        ),
        "rho": rho,
        "nu": nu,
        "m_mu": m_mu,
        "m_sd": m_sd,
    }
    if nu is not None and np.any(nu <= 1):
        # a Student-t with nu <= 1 has no mean: the forecaster conditions the population
        # posterior on nu > 1 (a truncation of its Gamma prior) and records what it dropped
        keep = nu > 1
        if not keep.any():
            raise ModelError(f"population prior {level!r}: every posterior draw has nu <= 1")
        draws = {k: (v[keep] if v is not None else None) for k, v in draws.items()}
        attrs["nu_draws_dropped"] = f"{int((~keep).sum())} of {keep.size}"
    prior = PopulationPrior(
        level,
        draws["w_mu"],
        draws["w_sd"],
        draws["log_sigma_mu"],
        draws["log_sigma_sd"],
        draws["rho"],
        attrs,
        draws["nu"],
        draws["m_mu"],
        draws["m_sd"],
    )
    return prior.thin(max_draws) if max_draws else prior


def _slope_prior(post: xr.Dataset, p: str, industry: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the mean and sd of a new series' slope ``p`` (``w`` or ``m``) at the all level
    (``industry=None``) or at a (known) industry."""
    top = _stack(post[f"{p}_all"])

    def _tau(name: str) -> np.ndarray:  # a level with one member has no spread
        return _stack(post[name]) if name in post else np.zeros_like(top)

    tau_s = _tau(f"tau_{p}_series")
    if industry is None:
        return top, np.sqrt(_tau(f"tau_{p}_industry") ** 2 + tau_s**2)
    if f"{p}_industry" in post:
        mu = _stack(post[f"{p}_industry"].sel(industry=industry))
    elif f"z_{p}_industry" in post:  # only free variables stored: all + tau * z
        ind = post[f"{p}_all"] + post[f"tau_{p}_industry"] * post[f"z_{p}_industry"]
        mu = _stack(ind.sel(industry=industry))
    else:  # a single industry: no industry level, the top level is the industry
        mu = top
    return mu, tau_s


def population_priors(
    dt: xr.DataTree, *, max_draws: int | None = None
) -> dict[str, PopulationPrior]:
    """Priors at the all level and for every industry of the fit, keyed ``"all"``/industry (a fit
    of one industry has only the all level)."""
    out = {ALL: population_prior(dt, None, max_draws=max_draws)}
    for ind in _industries(dt):
        out[ind] = population_prior(dt, ind, max_draws=max_draws)
    return out


def _industries(dt: xr.DataTree) -> list[str]:
    """The fit's industries; none for a fit of a single industry (its model has no industry
    level, so the all level is that industry's prior)."""
    post = dt["posterior"]
    return [str(v) for v in post["industry"].values] if "industry" in post.coords else []


def priors_from_posterior_file(
    path: str | Path, *, max_draws: int | None = None
) -> dict[str, PopulationPrior]:
    """Priors from a pooled fit saved by ``models.base.save`` (``.nc`` netCDF or ``.zarr``)."""
    from learnrace_pipeline.lib.models import base

    return population_priors(base.load(path), max_draws=max_draws)


def save_priors(
    priors: Mapping[str, PopulationPrior], path: str | Path, meta: Mapping[str, object]
) -> Path:
    """Write priors as CSV (one row per level and draw) plus a ``.meta.json`` sidecar holding
    the CSV's sha256 (``csv_sha256``).

    Both files are written to temporary names first and then renamed (``write_atomic_files``),
    so a failure or a ``kill -9`` leaves no partial file; :func:`load_priors` refuses a CSV and
    sidecar from two different writes.
    """
    import hashlib

    from learnrace_pipeline.lib.storage.files import write_atomic_files

    path = Path(path)
    frame = pl.concat([p.to_frame() for p in priors.values()])
    csv = frame.write_csv(float_precision=6).encode()
    sidecar = dict(meta) | {
        "levels": list(priors),
        "draws_per_level": {k: p.n_draws for k, p in priors.items()},
        "columns": list(frame.columns),
        "attrs": next(iter(priors.values())).attrs,
        "csv_sha256": hashlib.sha256(csv).hexdigest(),
    }
    side = (json.dumps(sidecar, indent=2, sort_keys=True, default=str) + "\n").encode()
    write_atomic_files({path: csv, path.with_suffix(".meta.json"): side})
    return path


def load_priors(path: str | Path = SHIPPED_PRIOR) -> dict[str, PopulationPrior]:
    """Read priors written by :func:`save_priors` (default: the shipped file)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(
            "population prior file not found (build it with `learnrace forecast-prior`)",
            source="population_prior",
            file=str(path),
        )
    frame = pl.read_csv(path, schema_overrides={"nu": pl.Float64})
    missing = [c for c in REQUIRED_PRIOR_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"missing column(s) {missing}", source="population_prior", file=str(path), row=1,
            column=missing[0],
        )  # fmt: skip
    drift = [c for c in DRIFT_COLUMNS if c in frame.columns]
    if len(drift) == 1:
        raise DataError(
            f"column {drift[0]!r} without its partner (m_mu and m_sd go together)",
            source="population_prior", file=str(path), row=1, column=drift[0],
        )  # fmt: skip
    has_drift = bool(drift)
    meta_path = path.with_suffix(".meta.json")
    attrs = {}
    if meta_path.is_file():
        sidecar = json.loads(meta_path.read_text())
        attrs = {k: str(v) for k, v in sidecar.get("attrs", {}).items()}
        want = sidecar.get("csv_sha256")
        if want is not None:
            import hashlib

            if hashlib.sha256(path.read_bytes()).hexdigest() != want:
                raise DataError(
                    f"the prior file does not match its sidecar {meta_path.name} (csv_sha256): "
                    "they come from two different writes (one interrupted?); rebuild the prior "
                    "with `learnrace forecast-prior`",
                    source="population_prior",
                    file=str(path),
                )
    out = {}
    for (level,), g in frame.sort("level", "draw").group_by("level", maintain_order=True):
        out[str(level)] = PopulationPrior(
            str(level),
            g["w_mu"].to_numpy(),
            g["w_sd"].to_numpy(),
            g["log_sigma_mu"].to_numpy(),
            g["log_sigma_sd"].to_numpy(),
            g["rho"].to_numpy(),
            attrs,
            g["nu"].to_numpy() if "nu" in g.columns else None,
            *((g["m_mu"].to_numpy(), g["m_sd"].to_numpy()) if has_drift else (None, None)),
        )
    if ALL not in out:
        raise DataError(
            "no 'all' level in the prior file", source="population_prior", file=str(path)
        )
    return out


def choose_prior(
    priors: Mapping[str, PopulationPrior], industry: str | None
) -> tuple[PopulationPrior, str]:
    """The prior for ``--industry`` (or the all level), and a note when it falls back.

    An industry of the taxonomy that the fitted data never saw gets the all-technology level,
    which is exactly the hierarchical model's prediction for a new industry.
    """
    if industry is None:
        return priors[ALL], ""
    if industry in priors:
        return priors[industry], ""
    return priors[ALL], (
        f"industry {industry!r} has no series in the fitted data: using the all-technology "
        "prior (the pooled model's prediction for a new industry)"
    )
