"""National learning rates of installed costs against world experience, pooled across nations.

Data (:func:`build_national_panel`): IRENA's installed cost by nation (2019 USD/kW) of each
technology in :data:`NATIONAL_COST_SERIES` against world cumulative capacity (MW, the series at
``WLD``), and national cumulative capacity where a series of it exists for the nation (solar PV:
IRENA's via Helveston et al. for China, Germany and the US). A *series* is one technology and
nation, labelled ``"<technology>[<nation>]"``; one row per first difference, as in :mod:`.panel`.

Model (:func:`create_national_model`), for difference ``t`` of series ``s`` (technology ``k``,
nation ``n``)::

    dlogc[t] = -w_s x[t] - m_k dt[t] + e[t] + rho e[t-1]
    x[t] = lambda_s dlogQ_nation[t] + (1 - lambda_s) dlogQ_world[t]   (national experience)
    x[t] = dlogQ_world[t]                                              (otherwise)
    e[t] ~ StudentT(nu, 0, sigma_s sqrt(dt[t]))                        (MA(1), exact; .loglik_op)

    w_s = w_k + tau_w_k z_s,  w_k ~ Normal(w_mu, w_sd),  tau_w_k ~ HalfNormal(tau_w_nation)
    m_k ~ Normal(m_mu, m_sd)              (no national spread: shrunk hard to the population)
    lambda_s = invlogit(l_s),  l_s ~ Normal(lambda_logit_mu, lambda_logit_sd)
    log sigma_s = log_sigma_all + tau_log_sigma z_sigma_s

``w`` is unit-free (cost ~ Q^-w; learning rate 1 - 2^-w per doubling), ``m`` the log cost decline
per year not explained by experience (time, research), ``sigma`` log cost per sqrt(year). National
exponents are partially pooled within each technology (non-centred). World capacity grows at a
nearly steady rate, so ``w`` and ``m`` are close to collinear within a series; the time term is
therefore one value per technology with a tight prior around the population value of the pooled
experience+time fit (``m_all`` about 0.03 per year), which leaves the national differences to
``w``. ``lambda`` (the own-deployment share of effective experience) is independent per series with
national experience: national and world capacity grow together over these short series, so it
is weakly identified and its prior matters (it is reported beside ``w``).

:func:`fit_national` compiles once with nutpie and returns a provenance-stamped ``DataTree`` with
a ``fit_data`` group (the panel's arrays and per-series labels) that the cost projector
(:mod:`learnrace_pipeline.lib.race.cost`) reads; :func:`national_rates` is the table of national
learning rates with 90% intervals; :func:`simulate_national_tables` draws tables from known
parameters (for recovery tests).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models.cache import fit_or_load
from learnrace_pipeline.lib.models.learning import loglik_op, numpy_mirror
from learnrace_pipeline.lib.models.learning.numpy_mirror import ma1_innovations

WORLD = "WLD"
MODEL_TYPE = "national_learning"
SOURCE = "national learning panel"


@dataclass(frozen=True)
class NationalCostSeries:
    """One technology's national installed-cost series and its experience series."""

    cost_series_id: str
    world_experience: str  # production series_id at WLD: world cumulative capacity
    national_experience: str | None = None  # production series_id at the nation, where it exists


#: Technology -> its national cost series. Onshore wind's world experience is IRENA's cumulative
#: installed wind capacity (2000-2016; the pairing of lib/vocab/experience_map.csv), so its
#: national fit spans 2000-2016; solar PV's is world cumulative PV capacity (1976-2019) and, for
#: China, Germany and the US, national cumulative PV capacity (IRENA via Helveston et al.).
NATIONAL_COST_SERIES: dict[str, NationalCostSeries] = {
    "wind_onshore": NationalCostSeries(
        "owid_datasets:irena_onshore_wind_installed_cost",
        "owid_datasets:irena_2017_capacity_wind",
    ),
    "solar_pv_system": NationalCostSeries(
        "owid_datasets:irena_solar_pv_installed_cost",
        "owid_datasets:solar_pv_module_lafond_irena",
        "helveston_solar_2022:pv_cumulative_capacity_irena",
    ),
}


@dataclass(frozen=True)
class NationalPriors:
    """Prior hyperparameters (``w`` unit-free; ``m`` log cost per year; ``sigma`` per sqrt year).

    ``m_mu``/``m_sd``: the population value of the time term (the pooled experience+time fit's
    ``m_all``, mean 0.032, sd 0.010 over its draws) and a tight sd: the hard shrinkage.
    """

    w_mu: float = 0.25
    w_sd: float = 0.25
    tau_w_nation: float = 0.15
    m_mu: float = 0.03
    m_sd: float = 0.01
    lambda_logit_mu: float = 0.0
    lambda_logit_sd: float = 1.5
    log_sigma_mu: float = -2.3
    log_sigma_sd: float = 1.0
    tau_log_sigma: float = 0.7
    rho_mu: float = 0.0
    rho_sd: float = 0.3
    nu_alpha: float = 2.0
    nu_beta: float = 0.1


@dataclass(frozen=True)
class NationalConfig:
    """The national model: priors and the series it was built for (part of the model id)."""

    priors: NationalPriors = field(default_factory=NationalPriors)
    min_points: int = 6


#: The sampler of the shipped fit: 4 chains of 1,000 draws after 1,000 tuning steps.
DEFAULT_SAMPLER = base.SamplerConfig(draws=1000, tune=1000, chains=4, target_accept=0.95)


@dataclass(frozen=True)
class NationalPanel:
    """First differences of national installed costs with world and national experience.

    Attributes:
        obs: one row per difference, sorted by series then year: ``series``, ``technology``,
            ``nation``, ``year``, ``year_prev``, ``dt`` (years), ``dlogc``, ``dlogq_world``,
            ``dlogq_nation`` (0 where the series has no national experience), ``pos``,
            ``series_idx``.
        levels: one row per kept point: ``series``, ``technology``, ``nation``, ``year``,
            ``unit_cost`` (``unit``), ``cumulative_world`` and ``cumulative_nation`` (MW; null
            without national experience), ``unit``.
        series: one row per series: ``series``, ``technology``, ``nation``, ``cost_series_id``,
            ``has_national``, ``n_points``, ``first_year``, ``last_year``, ``series_idx``,
            ``technology_idx``, ``unit``.
        excluded: dropped (technology, nation) pairs with the reason.
    """

    obs: pl.DataFrame
    levels: pl.DataFrame
    series: pl.DataFrame
    excluded: pl.DataFrame
    technologies: tuple[str, ...]

    @property
    def n_series(self) -> int:
        return self.series.height

    @property
    def national_series(self) -> list[str]:
        """Series with national experience (the ``lambda_series`` coordinate)."""
        return self.series.filter(pl.col("has_national"))["series"].to_list()

    def data(self) -> dict[str, np.ndarray]:
        """The arrays of the model's ``pm.Data`` containers."""
        s = self.series
        lam_idx = np.full(s.height, -1, dtype=np.int64)
        lam_idx[s["has_national"].to_numpy()] = np.arange(int(s["has_national"].sum()))
        return {
            "dlogc": self.obs["dlogc"].to_numpy().astype(float),
            "dlogq_world": self.obs["dlogq_world"].to_numpy().astype(float),
            "dlogq_nation": self.obs["dlogq_nation"].to_numpy().astype(float),
            "dt": self.obs["dt"].to_numpy().astype(float),
            "pos": self.obs["pos"].to_numpy().astype(np.int64),
            "series_idx": self.obs["series_idx"].to_numpy().astype(np.int64),
            "mask": np.ones(self.obs.height),
            "technology_of_series": s["technology_idx"].to_numpy().astype(np.int64),
            "lambda_of_series": lam_idx,
        }

    def coords(self) -> dict[str, list]:
        return {
            "series": self.series["series"].to_list(),
            "technology": list(self.technologies),
            "lambda_series": self.national_series,
            "obs": list(range(self.obs.height)),
        }


def _require(df: pl.DataFrame, cols: Sequence[str], table: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"{table} lacks columns {missing}", source=SOURCE, column=missing[0])


def _cumulative(production: pl.DataFrame, series_id: str, nation: str | None) -> pl.DataFrame:
    p = production.filter(pl.col("series_id") == series_id)
    if nation is not None:
        p = p.filter(pl.col("nation") == nation)
    return p.filter(pl.col("cumulative_production") > 0).select(
        "nation", "year", "cumulative_production"
    )


def build_national_panel(
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    *,
    series: Mapping[str, NationalCostSeries] | None = None,
    min_points: int = 6,
) -> NationalPanel:
    """The national panel (module docstring) of the tidy ``cost_observations`` and
    ``production`` tables: per technology in ``series`` (default :data:`NATIONAL_COST_SERIES`),
    every nation but ``WLD`` with a cost in years with world cumulative capacity; national
    experience where the national series covers every kept year. Series with fewer than
    ``min_points`` points are dropped (``excluded``).

    Raises:
        DataError: missing columns, a non-positive cost (naming series, nation and year), no
            world experience for a technology, falling cumulative capacity, or nothing left.
    """
    if min_points < 2:
        raise DataError(f"min_points must be >= 2, got {min_points}", source=SOURCE)
    _require(
        cost_observations, ("series_id", "nation", "year", "unit_cost", "unit"), "cost_observations"
    )
    _require(production, ("series_id", "nation", "year", "cumulative_production"), "production")
    spec = dict(series or NATIONAL_COST_SERIES)
    parts, excluded = [], []
    for tech, entry in sorted(spec.items()):
        cost = cost_observations.filter(
            (pl.col("series_id") == entry.cost_series_id) & (pl.col("nation") != WORLD)
        ).select("nation", "year", "unit_cost", "unit")
        bad = cost.filter(pl.col("unit_cost").is_null() | (pl.col("unit_cost") <= 0))
        if bad.height:
            r = bad.row(0, named=True)
            raise DataError(
                f"unit_cost must be positive, got {r['unit_cost']!r} for "
                f"{entry.cost_series_id} {r['nation']} {r['year']}",
                source="cost_observations",
                column="unit_cost",
            )
        world = _cumulative(production, entry.world_experience, WORLD)
        if world.height == 0:
            raise DataError(
                f"no world cumulative production ({entry.world_experience} at {WORLD}) for {tech}",
                source="production",
                column="cumulative_production",
            )
        joined = cost.join(
            world.select("year", pl.col("cumulative_production").alias("cumulative_world")),
            on="year",
            how="inner",
        )
        if entry.national_experience is not None:
            nat = _cumulative(production, entry.national_experience, None).rename(
                {"cumulative_production": "cumulative_nation"}
            )
            joined = joined.join(nat, on=["nation", "year"], how="left")
        else:
            joined = joined.with_columns(pl.lit(None, pl.Float64).alias("cumulative_nation"))
        joined = joined.with_columns(
            pl.lit(tech).alias("technology"),
            pl.lit(entry.cost_series_id).alias("cost_series_id"),
            pl.format("{}[{}]", pl.lit(tech), pl.col("nation")).alias("series"),
        )
        for nation in sorted(set(cost["nation"].to_list()) - set(joined["nation"].to_list())):
            excluded.append(
                {"series": f"{tech}[{nation}]", "reason": "no year with world experience"}
            )
        parts.append(joined)
    levels = pl.concat(parts, how="vertical_relaxed").sort("series", "year")
    counts = levels.group_by("series").agg(pl.len().alias("n"))
    for s, n in counts.filter(pl.col("n") < min_points).sort("series").rows():
        excluded.append({"series": s, "reason": f"{n} point(s) < min_points {min_points}"})
    levels = levels.join(counts.filter(pl.col("n") >= min_points), on="series", how="semi")
    if levels.height == 0:
        raise DataError(f"no national series with >= {min_points} points", source=SOURCE)
    # national experience only where it covers every kept year of the series
    full = levels.group_by("series").agg(
        (pl.col("cumulative_nation").fill_null(0) > 0).all().alias("has_national")
    )
    levels = levels.join(full, on="series").with_columns(
        pl.when(pl.col("has_national")).then(pl.col("cumulative_nation")).alias("cumulative_nation")
    )
    technologies = tuple(sorted(levels["technology"].unique().to_list()))
    labels = sorted(levels["series"].unique().to_list())
    s_index = {s: i for i, s in enumerate(labels)}
    obs = (
        levels.with_columns(
            pl.col("unit_cost").log().alias("_lc"),
            pl.col("cumulative_world").log().alias("_lw"),
            pl.col("cumulative_nation").log().fill_null(0.0).alias("_ln"),
        )
        .with_columns(
            pl.col("year").shift(1).over("series").alias("year_prev"),
            (pl.col("_lc") - pl.col("_lc").shift(1)).over("series").alias("dlogc"),
            (pl.col("_lw") - pl.col("_lw").shift(1)).over("series").alias("dlogq_world"),
            (pl.col("_ln") - pl.col("_ln").shift(1)).over("series").alias("dlogq_nation"),
        )
        .filter(pl.col("year_prev").is_not_null())
        .with_columns(
            (pl.col("year") - pl.col("year_prev")).cast(pl.Float64).alias("dt"),
            pl.int_range(pl.len()).over("series").alias("pos"),
            pl.col("series").replace_strict(s_index, return_dtype=pl.Int64).alias("series_idx"),
        )
        .sort("series_idx", "pos")
        .select(
            "series",
            "technology",
            "nation",
            "year",
            "year_prev",
            "dt",
            "dlogc",
            "dlogq_world",
            "dlogq_nation",
            "pos",
            "series_idx",
        )
    )
    falling = obs.filter((pl.col("dlogq_world") < 0) | (pl.col("dlogq_nation") < 0))
    if falling.height:
        r = falling.row(0, named=True)
        raise DataError(
            f"cumulative capacity falls in {r['series']} {r['year_prev']}->{r['year']}",
            source="production",
            column="cumulative_production",
        )
    series_df = (
        levels.group_by("series")
        .agg(
            pl.col("technology").first(),
            pl.col("nation").first(),
            pl.col("cost_series_id").first(),
            pl.col("has_national").first(),
            pl.len().alias("n_points"),
            pl.col("year").min().alias("first_year"),
            pl.col("year").max().alias("last_year"),
            pl.col("unit").first(),
        )
        .with_columns(
            pl.col("series").replace_strict(s_index, return_dtype=pl.Int64).alias("series_idx"),
            pl.col("technology")
            .replace_strict({t: i for i, t in enumerate(technologies)}, return_dtype=pl.Int64)
            .alias("technology_idx"),
        )
        .sort("series_idx")
    )
    return NationalPanel(
        obs=obs,
        levels=levels.select(
            "series",
            "technology",
            "nation",
            "year",
            "unit_cost",
            "cumulative_world",
            "cumulative_nation",
            "unit",
        ),
        series=series_df,
        excluded=pl.DataFrame(excluded, schema={"series": pl.String, "reason": pl.String}),
        technologies=technologies,
    )


# ----------------------------------------------------------------------------- the model


def create_national_model(panel: NationalPanel, priors: NationalPriors | None = None):
    """The PyMC model of the module docstring for ``panel`` (a ``pm.Model``)."""
    import pymc as pm
    import pytensor.tensor as pt

    pr = priors or NationalPriors()
    d = panel.data()
    n_series = panel.n_series
    n_lam = len(panel.national_series)
    with pm.Model(coords=panel.coords()) as model:
        dlogc = pm.Data("dlogc", d["dlogc"], dims="obs")
        dq_w = pm.Data("dlogq_world", d["dlogq_world"], dims="obs")
        dq_n = pm.Data("dlogq_nation", d["dlogq_nation"], dims="obs")
        dt = pm.Data("dt", d["dt"], dims="obs")
        pos = pm.Data("pos", d["pos"], dims="obs")
        sidx = pm.Data("series_idx", d["series_idx"], dims="obs")
        mask = pm.Data("mask", d["mask"], dims="obs")
        tech = d["technology_of_series"]

        w_tech = pm.Normal("w_technology", pr.w_mu, pr.w_sd, dims="technology")
        tau_w = pm.HalfNormal("tau_w_nation", pr.tau_w_nation, dims="technology")
        z_w = pm.Normal("z_w_series", 0.0, 1.0, dims="series")
        w = pm.Deterministic("w_series", w_tech[tech] + tau_w[tech] * z_w, dims="series")
        m_tech = pm.Normal("m_technology", pr.m_mu, pr.m_sd, dims="technology")
        m = pm.Deterministic("m_series", m_tech[tech], dims="series")

        lam_full = pt.zeros(n_series)
        if n_lam:
            l_logit = pm.Normal(
                "lambda_logit", pr.lambda_logit_mu, pr.lambda_logit_sd, dims="lambda_series"
            )
            lam = pm.Deterministic("lambda", pm.math.invlogit(l_logit), dims="lambda_series")
            lam_full = pt.set_subtensor(lam_full[np.flatnonzero(d["lambda_of_series"] >= 0)], lam)
        lam_obs = lam_full[sidx]
        x = lam_obs * dq_n + (1.0 - lam_obs) * dq_w
        mu = -w[sidx] * x - m[sidx] * dt

        log_sigma_all = pm.Normal("log_sigma_all", pr.log_sigma_mu, pr.log_sigma_sd)
        tau_sig = pm.HalfNormal("tau_log_sigma", pr.tau_log_sigma)
        z_sig = pm.Normal("z_sigma", 0.0, 1.0, dims="series")
        sigma = pm.Deterministic(
            "sigma_series", pt.exp(log_sigma_all + tau_sig * z_sig), dims="series"
        )
        nu = pm.Gamma("nu", pr.nu_alpha, pr.nu_beta)
        rho = pm.TruncatedNormal("rho", pr.rho_mu, pr.rho_sd, lower=-0.95, upper=0.95)
        z0 = pm.Normal("z_e0", 0.0, 1.0, dims="series")
        const = pt.gammaln((nu + 1.0) / 2.0) - pt.gammaln(nu / 2.0) - 0.5 * pt.log(np.pi * nu)
        kernel = loglik_op.learning_loglik(
            "student_t", dlogc, mu, dt, pos, sidx, mask, sigma, -rho, sigma * z0, nu
        )
        pm.Potential("loglik", kernel + const * pt.sum(mask))
    return model


def code_version() -> str:
    """Code version of the national fit: this module and the likelihood Op."""
    import sys

    return base.code_version(sys.modules[__name__], loglik_op, numpy_mirror)


def national_model_id(config: NationalConfig, sampler: base.SamplerConfig) -> str:
    return base.model_id(MODEL_TYPE, config, sampler, code_version())


def _fit_data(panel: NationalPanel) -> xr.Dataset:
    d = panel.data()
    s = panel.series
    lv = panel.levels.sort("series", "year")
    return xr.Dataset(
        {
            **{
                k: ("obs", d[k])
                for k in ("dlogc", "dlogq_world", "dlogq_nation", "dt", "pos", "series_idx")
            },
            "year": ("obs", panel.obs["year"].to_numpy()),
            "series_technology": ("series", s["technology"].to_numpy().astype(str)),
            "series_nation": ("series", s["nation"].to_numpy().astype(str)),
            "series_cost_id": ("series", s["cost_series_id"].to_numpy().astype(str)),
            "series_has_national": ("series", s["has_national"].to_numpy()),
            "series_n_points": ("series", s["n_points"].to_numpy()),
            "series_first_year": ("series", s["first_year"].to_numpy()),
            "series_last_year": ("series", s["last_year"].to_numpy()),
            "point_series": ("point", lv["series"].to_numpy().astype(str)),
            "point_year": ("point", lv["year"].to_numpy()),
            "point_unit_cost": ("point", lv["unit_cost"].to_numpy()),
        },
        coords={
            "obs": np.arange(panel.obs.height),
            "series": s["series"].to_list(),
            "point": np.arange(lv.height),
        },
    )


def one_step_predictive(post: xr.Dataset, panel: NationalPanel, seed: int) -> xr.Dataset:
    """One-step-ahead posterior predictive draws of every difference (``dlogc``, dims chain,
    draw, obs): ``mu[t] + rho e[t-1] + sigma_s sqrt(dt) t(nu)``, with ``e[t-1]`` the previous
    innovation recovered from the data by the MA(1) recursion (the pre-sample shock
    ``sigma_s z_e0`` at a series start), draws of one seeded generator."""
    d = panel.data()
    nc, nd = post.sizes["chain"], post.sizes["draw"]

    def flat(name: str) -> np.ndarray:
        v = np.asarray(post[name].values, dtype=float)
        return v.reshape(nc * nd, *v.shape[2:])

    s = d["series_idx"]
    lam = np.zeros((nc * nd, panel.n_series))
    if "lambda" in post:
        lam[:, d["lambda_of_series"] >= 0] = flat("lambda")
    lam_obs = lam[:, s]
    x = lam_obs * d["dlogq_nation"] + (1.0 - lam_obs) * d["dlogq_world"]
    mu = -flat("w_series")[:, s] * x - flat("m_series")[:, s] * d["dt"]
    sigma = flat("sigma_series")
    rho = flat("rho")
    e0 = (sigma * flat("z_e0"))[:, s]
    e = ma1_innovations(d["dlogc"] - mu, rho, d["pos"], e0)
    prev = np.where(d["pos"] == 0, e0, np.roll(e, 1, axis=1))
    rng = np.random.default_rng(seed)
    nu = np.broadcast_to(flat("nu")[:, None], mu.shape)
    y = mu + rho[:, None] * prev + sigma[:, s] * np.sqrt(d["dt"]) * rng.standard_t(nu)
    return xr.Dataset(
        {"dlogc": (("chain", "draw", "obs"), y.reshape(nc, nd, -1))},
        coords={
            "chain": post["chain"].values,
            "draw": post["draw"].values,
            "obs": np.arange(y.shape[1]),
        },
    )


def fit_national(
    panel: NationalPanel,
    config: NationalConfig = NationalConfig(),
    sampler: base.SamplerConfig = DEFAULT_SAMPLER,
) -> xr.DataTree:
    """Compile and sample the national model (nutpie); a ``DataTree`` with ``posterior``,
    ``sample_stats``, ``observed_data``, ``fit_data`` and the one-step ``posterior_predictive``
    (:func:`one_step_predictive`), stamped with model id and data version (:func:`.base.fit`)."""
    model = create_national_model(panel, config.priors)

    def groups(sampled: xr.DataTree) -> dict[str, xr.Dataset]:
        return {
            "fit_data": _fit_data(panel),
            "observed_data": xr.Dataset({"dlogc": ("obs", panel.data()["dlogc"])}),
            "posterior_predictive": one_step_predictive(sampled.posterior, panel, sampler.seed),
        }

    dt = base.fit(
        model,
        sampler,
        model_type=MODEL_TYPE,
        model_config=config,
        data=panel.obs,
        code_version=code_version(),
        postprocess=groups,
    )
    dt.attrs["model_name"] = "national_student_t_ma1"
    return dt


def fit_or_load_national(
    panel: NationalPanel,
    fits_dir: Path,
    config: NationalConfig = NationalConfig(),
    sampler: base.SamplerConfig = DEFAULT_SAMPLER,
) -> tuple[xr.DataTree, bool]:
    """(fit, reused): the saved fit of this model id and panel under ``fits_dir`` (named
    ``national_learning-<model id>-<data version>.nc``), else a fresh :func:`fit_national`,
    saved."""
    return fit_or_load(
        Path(fits_dir),
        "national_learning",
        national_model_id(config, sampler),
        base.data_version(panel.obs),
        lambda: fit_national(panel, config, sampler),
    )


# ----------------------------------------------------------------------------- summaries


def _q(a: np.ndarray) -> tuple[float, float, float, float]:
    lo, mid, hi = np.quantile(a, [0.05, 0.5, 0.95])
    return float(np.mean(a)), float(lo), float(mid), float(hi)


def national_rates(dt: xr.DataTree) -> pl.DataFrame:
    """Per technology and nation: the national exponent ``w`` and learning rate ``1 - 2^-w``
    (mean, 5/50/95% quantiles: a central 90% interval), the technology's time term ``m`` (log
    cost per year), the spillover share ``lambda`` where the series has national experience
    (null otherwise), points and years fitted. Rows ``nation = "ALL"`` give the technology-level
    exponent ``w_technology``."""
    post = dt.posterior
    fd = dt["fit_data"].to_dataset()
    flat = {k: post[k].values.reshape(-1, *post[k].shape[2:]) for k in post.data_vars}
    lam_labels = list(post["lambda_series"].values) if "lambda" in post else []
    techs = list(post["technology"].values)
    rows = []
    for i, s in enumerate(fd["series"].values):
        tech = str(fd["series_technology"].values[i])
        w = flat["w_series"][:, i]
        lam = _q(flat["lambda"][:, lam_labels.index(s)]) if s in lam_labels else (None,) * 4
        rows.append(
            _rate_row(tech, str(fd["series_nation"].values[i]), w, flat["m_series"][:, i], lam)
            | {
                "n_points": int(fd["series_n_points"].values[i]),
                "first_year": int(fd["series_first_year"].values[i]),
                "last_year": int(fd["series_last_year"].values[i]),
            }
        )
    for k, tech in enumerate(techs):
        w = flat["w_technology"][:, k]
        rows.append(
            _rate_row(str(tech), "ALL", w, flat["m_technology"][:, k], (None,) * 4)
            | {"n_points": None, "first_year": None, "last_year": None}
        )
    return pl.DataFrame(rows).sort("technology", "nation")


def _rate_row(tech: str, nation: str, w: np.ndarray, m: np.ndarray, lam: tuple) -> dict:
    wq, lq, mq = _q(w), _q(1.0 - np.power(2.0, -w)), _q(m)
    row: dict[str, object] = {"technology": tech, "nation": nation}
    for name, q in (("w", wq), ("lr", lq), ("m", mq), ("lambda", lam)):
        for stat, v in zip(("mean", "q05", "q50", "q95"), q, strict=True):
            row[f"{name}_{stat}"] = v
    return row


# ----------------------------------------------------------------------------- simulation


@dataclass(frozen=True)
class NationalTruth:
    """Known parameters of a simulated panel, per series ``"<technology>[<nation>]"``."""

    w: Mapping[str, float]
    m: Mapping[str, float]  # per technology
    lam: Mapping[str, float] = dataclasses.field(default_factory=dict)  # national series only
    sigma: float = 0.03
    rho: float = 0.2
    nu: float = 8.0


def simulate_national_tables(
    truth: NationalTruth,
    years: Sequence[int],
    *,
    national: Sequence[str] = (),
    world_growth: float = 0.25,
    seed: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, NationalCostSeries]]:
    """Tidy ``cost_observations`` and ``production`` tables drawn from the model with known
    parameters, and the series map to build them with :func:`build_national_panel`.

    World cumulative capacity grows by ``world_growth`` in logs per year with a random walk in
    its growth (so ``w`` and ``m`` are separable); national capacity (series in ``national``)
    grows at its own random rates. Costs follow the observation equation with Student-t MA(1)
    noise.
    """
    rng = np.random.default_rng(seed)
    years = list(years)
    techs = sorted({s.split("[")[0] for s in truth.w})
    cost_rows, prod_rows, spec = [], [], {}
    for tech in techs:
        world_id, nat_id, cost_id = f"sim:{tech}_world", f"sim:{tech}_nation", f"sim:{tech}_cost"
        spec[tech] = NationalCostSeries(cost_id, world_id, nat_id)
        g = np.clip(world_growth + 0.12 * rng.standard_normal(len(years)), 0.02, None)
        lw = np.log(1000.0) + np.cumsum(g)
        prod_rows += [
            (world_id, WORLD, y, float(np.exp(v))) for y, v in zip(years, lw, strict=True)
        ]
        for s in sorted(k for k in truth.w if k.startswith(f"{tech}[")):
            nation = s[len(tech) + 1 : -1]
            lam = truth.lam.get(s, 0.0) if s in national else 0.0
            if s in national:
                gn = np.clip(0.3 + 0.2 * rng.standard_normal(len(years)), 0.01, None)
                ln = np.log(100.0) + np.cumsum(gn)
                prod_rows += [(nat_id, nation, y, float(np.exp(v)))
                              for y, v in zip(years, ln, strict=True)]  # fmt: skip
            else:
                ln = np.zeros(len(years))
            x = lam * np.diff(ln) + (1 - lam) * np.diff(lw)
            eps = truth.sigma * rng.standard_t(truth.nu, size=len(years))
            noise = eps[1:] + truth.rho * eps[:-1]
            dlc = -truth.w[s] * x - truth.m[tech] + noise
            lc = np.log(2000.0) + np.concatenate([[0.0], np.cumsum(dlc)])
            cost_rows += [(cost_id, nation, y, float(np.exp(v)), "2019 USD/kW")
                          for y, v in zip(years, lc, strict=True)]  # fmt: skip
    cost = pl.DataFrame(
        cost_rows, schema=["series_id", "nation", "year", "unit_cost", "unit"], orient="row"
    ).with_columns(pl.col("year").cast(pl.Int32))
    prod = pl.DataFrame(
        prod_rows, schema=["series_id", "nation", "year", "cumulative_production"], orient="row"
    ).with_columns(pl.col("year").cast(pl.Int32))
    return cost, prod, spec


def check_posterior(dt: xr.DataTree) -> None:
    """ModelError unless ``dt`` is a national fit (the groups the projector reads)."""
    if dt.attrs.get("model_type") != MODEL_TYPE or "fit_data" not in dt.children:
        raise ModelError(
            f"expected a {MODEL_TYPE} fit with a fit_data group, got {dt.attrs.get('model_type')!r}"
        )
