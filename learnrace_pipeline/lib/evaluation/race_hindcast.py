"""Race hindcast: from past origins, forecast each nation's volume share and capability metric
with models refitted on the data up to the origin, and score the forecasts against what happened.

**The cut** (:mod:`.race_hindcast_fits`). For an origin year O, :func:`cut_tables` keeps the rows of every tidy table dated in
or before O: ``year``/``report_year`` <= O, and ``publication_date`` (``ai_models``) or
``release_date`` (``chip_products``) <= O-12-31. Every fit of the origin sees only the cut tables
(and the frontier and node fits get ``end = (O+1)-01-01``, so their data end T_end is O-12-31);
every projection reads only its fit. Nothing dated after O enters a forecast.

**Models and forecasts** (years O+1 .. O+``max_horizon`` that the full data observes):

- *volume* (industries whose race volume is an annual share of a world total): the deployment
  growth model (:func:`learnrace_pipeline.lib.models.deployment.fit_deployment`, both forms) on
  the panel of the cut tables; per industry the form PSIS-LOO prefers at the origin. Per
  posterior draw and year the volume of every series (the competing nations and ``OTHER``) is
  drawn from the posterior predictive (level series: ``ln v = mu_s(tau) + sigma_s t_nu``; count
  series: ``k ~ NegBinomial(e^mu, alpha)``, as gamma-Poisson) and the nation's share is
  ``v_n / sum_s v_s`` (a fraction). An industry with fewer than the panel's ``min_years`` years
  at the origin is not forecast.
- *capability*: the AI training-compute record (FLOP) from the frontier fit
  (:func:`~learnrace_pipeline.lib.race.capability.ai_capability_draws`), the best company's
  miles per disengagement from the AV fit (``av_capability_draws``) and the leading process node
  (nm) from the node-frontier fit (``node_capability_draws``), each at the end of each year. A
  nation is forecast when the fit models it (frontier and node: enough record setters; AV: a
  fitted company reporting in the origin's last fitted year); a fit with no such nation, or whose
  data cannot be prepared at the origin, forecasts nothing there.

**Observed values.** Volume: the nation's share in the panel of the full tables (the same
definition as the forecast; a partly covered final year of notable AI models is left out).
Capability: :func:`learnrace_pipeline.lib.race.observed.observed_metric` on the full tables.

**Scores** per forecast: the 5/25/50/75/95% quantiles of the draws, ``inside50`` (q25 <= y <=
q75) and ``inside90`` (q05 <= y <= q95), bounds included (a record forecast has an atom at the
record at the origin); ``log_pinball``: the mean pinball loss of ln y against the ln quantiles
over the five levels (natural-log units). :func:`coverage_table` sums them per role and horizon
group (1-2, 3-5, 6-10 years ahead, and all).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.evaluation.race_hindcast_fits import (
    MODEL_SAMPLERS,
    Fitters,
    OriginFit,
    cut_tables,
    make_fitters,
)
from learnrace_pipeline.lib.evaluation.scores import mean_pinball
from learnrace_pipeline.lib.models import deployment as dep
from learnrace_pipeline.lib.models import frontier_posterior as fp
from learnrace_pipeline.lib.models import node_frontier as nf
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.deployment_data import COUNT, DeploymentData
from learnrace_pipeline.lib.models.deployment_data import build_deployment_data as build_panel
from learnrace_pipeline.lib.models.diagnostics import check_fit, coverage_band
from learnrace_pipeline.lib.race import capability as cap
from learnrace_pipeline.lib.race import spec as race_spec
from learnrace_pipeline.lib.race.observed import observed_metric

ORIGINS = (2012, 2015, 2018)
MAX_HORIZON = 10
LEVELS = (0.05, 0.25, 0.5, 0.75, 0.95)
QCOLS = tuple(f"q{round(v * 100):02d}" for v in LEVELS)
#: Horizon groups of the coverage table: (label, first, last year ahead).
HORIZON_GROUPS = (("1-2", 1, 2), ("3-5", 3, 5), ("6-10", 6, 10))
ROLES = ("volume", "capability")
#: Industry -> the model behind its capability forecast (:mod:`.race_hindcast_fits`).
CAPABILITY_MODELS = {
    "ai_foundation_models": "frontier",
    "autonomous_vehicles": "av",
    "semiconductors": "node",
}

SCHEMA = {
    "origin": pl.Int32,
    "industry": pl.String,
    "nation": pl.String,
    "role": pl.String,
    "metric": pl.String,
    "unit": pl.String,
    "model": pl.String,
    "target_year": pl.Int32,
    "horizon": pl.Int32,
    "observed": pl.Float64,
    **{c: pl.Float64 for c in QCOLS},
    "inside50": pl.Boolean,
    "inside90": pl.Boolean,
    "log_pinball": pl.Float64,
}
COVERAGE_SCHEMA = {
    "role": pl.String,
    "horizon_group": pl.String,
    "n": pl.Int64,
    "coverage_50": pl.Float64,
    "coverage_90": pl.Float64,
    "log_pinball": pl.Float64,
}


@dataclass(frozen=True)
class RaceHindcastSettings:
    """Origin years, the furthest horizon (years), the length of every per-origin fit (chains,
    warm-up and kept draws per chain; each model keeps its own seed and target_accept, see
    :data:`MODEL_SAMPLERS`), the number of forecast draws per nation and year, and their seed.
    The fits are short because the hindcast runs in every pipeline run."""

    origins: tuple[int, ...] = ORIGINS
    max_horizon: int = MAX_HORIZON
    chains: int = 2
    tune: int = 500
    draws: int = 500
    n_draws: int = 1000
    seed: int = 20240601

    def sampler(self, model: str) -> SamplerConfig:
        """The sampler of ``model``'s per-origin fits."""
        return dataclasses.replace(
            MODEL_SAMPLERS[model], chains=self.chains, tune=self.tune, draws=self.draws
        )


# ---------------------------------------------------------------------------------------------
# Forecast draws
# ---------------------------------------------------------------------------------------------


def share_draws(
    fit: xr.DataTree,
    data: DeploymentData,
    industry: str,
    years: Sequence[int],
    *,
    n_draws: int,
    seed: int,
) -> xr.DataArray:
    """Posterior predictive share of world volume, dims ``(draw, nation, year)`` (fractions), of
    every competing nation of ``industry`` in a deployment fit (module doc)."""
    form = dep.preferred_form(fit, industry)
    p = dep.stacked_params(fit, form)
    ix = dep.indices(data)
    rng = np.random.default_rng(seed)
    total = p["level"].shape[0]
    pick = rng.choice(total, size=n_draws, replace=total < n_draws)
    p = {k: v[pick] for k, v in p.items()}
    rows = data.series.with_row_index("s").filter(pl.col("industry") == industry)
    s = rows["s"].to_numpy().astype(np.int64)
    tau = np.asarray(years, float) - data.centre_year[industry]
    mu = dep.mean_log_volume(p, form, s[:, None], tau[None, :])  # (draw, series, year)
    if rows["kind"][0] == COUNT:
        alpha = 1.0 / p["inv_sqrt_alpha"][:, ix.count_pos[s]] ** 2  # (draw, series)
        mean = np.exp(mu)
        lam = rng.gamma(alpha[..., None], mean / alpha[..., None])
        vol = rng.poisson(lam).astype(float)
    else:
        sd = p["sigma"][:, ix.level_pos[s]][..., None]
        if "nu" in p:
            noise = rng.standard_t(np.broadcast_to(p["nu"][:, None, None], mu.shape))
        else:
            noise = rng.standard_normal(mu.shape)
        vol = np.exp(mu + sd * noise)
    world = vol.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(world > 0, vol / world, np.nan)
    nations = rows["nation"].to_list()
    keep = [k for k, n in enumerate(nations) if n != "OTHER"]
    return xr.DataArray(
        share[:, keep, :],
        dims=("draw", "nation", "year"),
        coords={
            "draw": np.arange(n_draws),
            "nation": [nations[k] for k in keep],
            "year": list(years),
        },
    )


def _capability_draws(
    kind: str,
    fit: xr.DataTree,
    industry: race_spec.IndustrySpec,
    years: Sequence[int],
    *,
    n_draws: int,
    seed: int,
) -> tuple[xr.DataArray, list[str]]:
    """(draws (draw, nation, year) in the metric's unit, the nations the fit models)."""
    if kind == "frontier":
        m = cap.ai_capability_draws(fit, industry, years, seed=seed, n_draws=n_draws)
        modelled = fp.modelled_nations(fit)
    elif kind == "node":
        m = cap.node_capability_draws(fit, industry, years, seed=seed, n_draws=n_draws)
        modelled = nf.modelled_nations(fit)
    else:
        m = cap.av_capability_draws(fit, industry, years, seed=seed, n_draws=n_draws)
        const = fit["constant_data"]
        fit_nations = [str(x) for x in fit["posterior"]["nation"].values]
        last = const["company_last_year"].values.astype(int)
        cn = const["company_nation"].values.astype(int)
        modelled = sorted(
            {fit_nations[c] for c, y in zip(cn, last, strict=True) if y == last.max()}
        )
    return m.values, [n for n in m.nations if n in modelled]


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def score_rows(
    draws: xr.DataArray,
    observed: pl.DataFrame,
    nations: Sequence[str],
    origin: int,
    base: Mapping[str, str],
) -> list[dict]:
    """One scored row per nation and target year with an observed value (``observed``: nation,
    year, value) and a finite forecast; ``base`` holds the row's industry, role, metric, unit
    and model."""
    rows = []
    years = [int(y) for y in draws["year"].values]
    obs = {
        (n, int(y)): float(v)
        for n, y, v in observed.select("nation", "year", "value").iter_rows()
        if v is not None and np.isfinite(v)
    }
    for n in nations:
        x = draws.sel(nation=n).values  # (draw, year)
        for k, y in enumerate(years):
            if (n, y) not in obs:
                continue
            col = x[:, k]
            col = col[np.isfinite(col)]
            if col.size < x.shape[0]:  # the projection does not reach this year
                continue
            q = np.quantile(col, LEVELS)
            v = obs[(n, y)]
            lp = float("nan")
            if v > 0 and q[0] > 0:
                lp = float(mean_pinball(np.log(q)[None, :], np.array([np.log(v)]), LEVELS)[0])
            rows.append(
                {
                    "origin": origin,
                    **base,
                    "nation": n,
                    "target_year": y,
                    "horizon": y - origin,
                    "observed": v,
                    **{c: float(a) for c, a in zip(QCOLS, q, strict=True)},
                    "inside50": bool(q[1] <= v <= q[3]),
                    "inside90": bool(q[0] <= v <= q[4]),
                    "log_pinball": lp,
                }
            )
    return rows


def _diag(name: str, origin: int, fit: OriginFit, seconds: float) -> dict:
    out = {"origin": origin, "model": name, "fitted": fit.fit is not None, "note": fit.note}
    out["seconds"] = seconds
    trees = []
    if fit.fit is not None:
        trees = [fit.fit[f] for f in dep.FORMS] if name == "deployment" else [fit.fit]
    checks = [check_fit(t) for t in trees]
    out["rhat_max"] = max((c.rhat_max for c in checks), default=float("nan"))
    out["ess_bulk_min"] = min((c.ess_bulk_min for c in checks), default=float("nan"))
    out["divergences"] = int(sum(c.divergences for c in checks))
    return out


def run_race_hindcast(
    tables: Mapping[str, pl.DataFrame],
    settings: RaceHindcastSettings | None = None,
    *,
    spec: race_spec.RaceSpec | None = None,
    fitters: Fitters | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(forecasts, fits): every scored forecast (:data:`SCHEMA`) of every origin of the race file
    ``spec`` (default: the shipped one; ``fitters`` default: unsaved fits), and one row per
    origin and model with whether it was fitted (and why not), seconds, max R-hat, min bulk ESS
    and divergences."""
    s = settings or RaceHindcastSettings()
    spec = spec or race_spec.load_spec()
    f = fitters or make_fitters(spec=spec)
    industries = {i.id: i for i in spec.industries if i.status == "data"}
    full_panel = build_panel(spec, tables)
    truth_share = full_panel.shares.rename({"share": "value"})
    rows: list[dict] = []
    diag: list[dict] = []
    for origin in s.origins:
        cut = cut_tables(tables, origin)
        years = list(range(origin + 1, origin + s.max_horizon + 1))
        t0 = time.perf_counter()
        vol = f.deployment(cut, origin, s.sampler("deployment"))
        diag.append(_diag("deployment", origin, vol, time.perf_counter() - t0))
        if vol.fit is not None:
            data = vol.data
            for ind in data.industries:
                d = share_draws(vol.fit, data, ind, years, n_draws=s.n_draws, seed=s.seed)
                metric = industries[ind].volume
                base = {
                    "industry": ind, "role": "volume", "metric": metric.name,
                    "unit": "fraction", "model": f"deployment_{dep.preferred_form(vol.fit, ind)}",
                }  # fmt: skip
                obs = truth_share.filter(pl.col("industry") == ind)
                rows += score_rows(d, obs, d.nation.values.tolist(), origin, base)
        for ind_id, kind in CAPABILITY_MODELS.items():
            ind = industries.get(ind_id)
            if ind is None or not isinstance(ind.capability, race_spec.Metric):
                continue
            t0 = time.perf_counter()
            res = getattr(f, kind)(cut, origin, s.sampler(kind))
            diag.append(_diag(kind, origin, res, time.perf_counter() - t0))
            if res.fit is None:
                continue
            d, modelled = _capability_draws(
                kind, res.fit, ind, years, n_draws=s.n_draws, seed=s.seed
            )
            metric = ind.capability
            base = {
                "industry": ind_id, "role": "capability", "metric": metric.name,
                "unit": str(metric.unit_of(modelled[0]) if modelled else ""), "model": kind,
            }  # fmt: skip
            obs = observed_metric(ind, metric, tables)
            rows += score_rows(d, obs, modelled, origin, base)
        if progress:
            progress(f"race hindcast: origin {origin} done, {len(rows)} forecasts so far")
    forecasts = pl.DataFrame(rows, schema=SCHEMA).sort(
        "origin", "industry", "role", "nation", "target_year"
    )
    return forecasts, pl.DataFrame(diag)


def coverage_table(forecasts: pl.DataFrame) -> pl.DataFrame:
    """Per role and horizon group (and ``all``): n forecasts, coverage of the 50% and 90%
    intervals (shares), mean log-pinball (natural-log units, forecasts with positive values)."""
    out = []
    groups = [*HORIZON_GROUPS, ("all", 1, 10**6)]
    for role in ROLES:
        for label, lo, hi in groups:
            df = forecasts.filter((pl.col("role") == role) & pl.col("horizon").is_between(lo, hi))
            lp = df["log_pinball"].drop_nans().drop_nulls()
            out.append(
                {
                    "role": role,
                    "horizon_group": label,
                    "n": df.height,
                    "coverage_50": float(df["inside50"].mean()) if df.height else None,
                    "coverage_90": float(df["inside90"].mean()) if df.height else None,
                    "log_pinball": float(lp.mean()) if lp.len() else None,
                }
            )
    return pl.DataFrame(out, schema=COVERAGE_SCHEMA)


def coverage_check(coverage: pl.DataFrame, tolerance: float = 0.05) -> tuple[bool, str]:
    """(every role's overall 50% and 90% coverage within its
    :func:`~learnrace_pipeline.lib.models.diagnostics.coverage_band`, message)."""
    ok, parts = True, []
    for r in coverage.filter(pl.col("horizon_group") == "all").iter_rows(named=True):
        if not r["n"]:
            parts.append(f"{r['role']}: no forecasts")
            continue
        for nominal, col in ((0.5, "coverage_50"), (0.9, "coverage_90")):
            band = coverage_band(nominal, r["n"], tolerance)
            good = abs(r[col] - nominal) <= band
            ok &= good
            parts.append(
                f"{r['role']} {round(nominal * 100)}%: {r[col]:.2f} (n={r['n']}, "
                f"band +/-{band:.2f}){'' if good else ' OUT'}"
            )
    return ok, "; ".join(parts)


__all__ = [
    "ORIGINS",
    "RaceHindcastSettings",
    "coverage_check",
    "coverage_table",
    "run_race_hindcast",
    "score_rows",
    "share_draws",
]
