"""Loss scaling law of the Chinchilla form, fitted in a Bayesian way.

    L(N, D) = E + A / N^alpha + B / D^beta

``N`` parameters, ``D`` training tokens, ``L`` final loss (nats per token). The likelihood is on
log L (as in Hoffmann et al. 2022 and the Besiroglu et al. 2024 replication), normal or
Student-t (a robust analogue of their Huber loss)::

    ln L_i ~ Normal(ln(E + exp(a_ref - alpha * ln(N_i / N0)) + exp(b_ref - beta * ln(D_i / D0))), sigma)

``a_ref = ln A - alpha ln N0`` and ``b_ref = ln B - beta ln D0`` are the log terms at the data's
geometric-mean ``N0``/``D0``: this reparametrisation removes most of the A-alpha and B-beta
posterior correlation. Priors are weakly informative (see :class:`ChinchillaPriors`), so the
interval widths come from the data: with a few hundred runs they are of the width the Fisher
information allows (tested), not the implausibly narrow intervals Besiroglu et al. criticised.

Compute-optimal allocation under ``C = 6 N D`` (closed form, minimising L at fixed C)::

    G = (alpha A / (beta B))^(1 / (alpha + beta))
    N_opt = G (C/6)^(beta / (alpha + beta)),   D_opt = (C/6)^(alpha / (alpha + beta)) / G
    D_opt / N_opt = G^-2 (C/6)^((alpha - beta) / (alpha + beta))   tokens per parameter
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np
import polars as pl
import pymc as pm
import pytensor.tensor as pt
import xarray as xr

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, compile_model, fit
from learnrace_pipeline.lib.models.groups import constant_data, observed_data, quantile_columns

SOURCE = "chinchilla_runs"
COLUMNS = ("n_params", "n_tokens", "loss")
PARAMS = ("E", "A", "B", "alpha", "beta")

#: Besiroglu, Erdil, Barnett & You (2024), "Chinchilla Scaling: A replication attempt", refit.
BESIROGLU_2024 = {"E": 1.82, "A": 482.0, "B": 2085.0, "alpha": 0.348, "beta": 0.366}

Likelihood = Literal["normal", "student_t"]


@dataclass(frozen=True)
class ChinchillaPriors:
    """Weakly informative priors (natural logs of loss terms)."""

    log_E: tuple[float, float] = (0.5, 0.7)  # ln E: E in ~[0.4, 6.5] (95 %)
    a_ref: tuple[float, float] = (float(np.log(0.3)), 1.5)  # ln(A / N0^alpha)
    b_ref: tuple[float, float] = (float(np.log(0.3)), 1.5)  # ln(B / D0^beta)
    exponent: tuple[float, float] = (0.4, 0.3)  # alpha, beta ~ Normal(., .) truncated at 0
    sigma: float = 0.1  # half-normal scale of the residual sd of ln L

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ChinchillaConfig:
    likelihood: Likelihood = "normal"
    priors: ChinchillaPriors = field(default_factory=ChinchillaPriors)


CHINCHILLA_SAMPLER = SamplerConfig(
    draws=1000, tune=1000, chains=4, target_accept=0.9, seed=20240601
)
MODEL_TYPE = "chinchilla_loss"


def loss(n_params, n_tokens, E: float, A: float, B: float, alpha: float, beta: float):
    """Chinchilla loss L = E + A / N^alpha + B / D^beta (nats per token); array-friendly."""
    return E + A / np.power(n_params, alpha) + B / np.power(n_tokens, beta)


def compute_optimal(compute_flop, E: float, A: float, B: float, alpha: float, beta: float):
    """Closed-form compute-optimal (N_opt, D_opt, D_opt / N_opt) at compute C = 6 N D (FLOP).

    ``E`` does not enter (it is the irreducible loss). Arrays broadcast.
    """
    s = alpha + beta
    g = np.power(alpha * A / (beta * B), 1.0 / s)
    c6 = (
        compute_flop if isinstance(compute_flop, xr.DataArray) else np.asarray(compute_flop, float)
    ) / 6.0
    n_opt = g * np.power(c6, beta / s)
    d_opt = np.power(c6, alpha / s) / g
    return n_opt, d_opt, d_opt / n_opt


def check_runs(runs: pl.DataFrame) -> pl.DataFrame:
    """Validate a runs table (n_params, n_tokens, loss): DataError naming the row if bad."""
    missing = [c for c in COLUMNS if c not in runs.columns]
    if missing:
        raise DataError(f"missing columns {missing}", source=SOURCE, column=missing[0])
    if runs.height < 10:
        raise DataError(
            f"only {runs.height} runs; the five-parameter law needs >= 10", source=SOURCE
        )
    df = runs.select(COLUMNS).with_row_index("_i", offset=1)
    for c in COLUMNS:
        bad = df.filter(
            pl.col(c).is_null() | ~pl.col(c).cast(pl.Float64).is_finite() | (pl.col(c) <= 0)
        )
        if bad.height:
            v = bad[c][0]
            raise DataError(
                f"{c} must be a positive finite number, got {v!r} ({bad.height} such rows)",
                source=SOURCE,
                row=int(bad["_i"][0]),
                column=c,
            )
    return runs.select(pl.col(c).cast(pl.Float64) for c in COLUMNS)


def simulate_runs(
    *,
    seed: int,
    params: dict[str, float] | None = None,
    budgets: np.ndarray | None = None,
    per_budget: int = 25,
    sigma: float = 0.02,
) -> pl.DataFrame:
    """IsoFLOP-style synthetic runs: for each compute budget (FLOP), ``per_budget`` model sizes
    spanning 1.5 decades around the optimum, D = C / (6 N), ln L with normal noise ``sigma``.

    Defaults: the Besiroglu et al. (2024) refit and 9 budgets from 6e18 to 3e21 FLOP (the span
    of Hoffmann et al.'s isoFLOP grid), i.e. 225 runs with N ~ 5e7 .. 2e10.
    """
    p = params or BESIROGLU_2024
    rng = np.random.default_rng(seed)
    budgets = np.geomspace(6e18, 3e21, 9) if budgets is None else np.asarray(budgets)
    rows = []
    for c in budgets:
        n_opt, _, _ = compute_optimal(c, **p)
        for n in n_opt * np.geomspace(10**-0.75, 10**0.75, per_budget):
            d = c / (6.0 * n)
            mean = np.log(loss(n, d, **p))
            rows.append((n, d, float(np.exp(mean + sigma * rng.standard_normal()))))
    return pl.DataFrame(rows, schema=list(COLUMNS), orient="row")


def _refs(runs: pl.DataFrame) -> tuple[float, float]:
    return (
        float(np.exp(np.log(runs["n_params"].to_numpy()).mean())),
        float(np.exp(np.log(runs["n_tokens"].to_numpy()).mean())),
    )


def build_chinchilla_model(
    runs: pl.DataFrame, priors: ChinchillaPriors | None = None, likelihood: Likelihood = "normal"
) -> pm.Model:
    """The Bayesian Chinchilla model (module docstring); dims ``run``."""
    runs = check_runs(runs)
    p = priors or ChinchillaPriors()
    n0, d0 = _refs(runs)
    with pm.Model(coords={"run": np.arange(runs.height)}) as model:
        ln_n = pm.Data("ln_n_rel", np.log(runs["n_params"].to_numpy() / n0), dims="run")
        ln_d = pm.Data("ln_d_rel", np.log(runs["n_tokens"].to_numpy() / d0), dims="run")
        ln_n0 = pm.Data("ln_n0", np.log(n0))
        ln_d0 = pm.Data("ln_d0", np.log(d0))
        y = pm.Data("ln_loss_obs", np.log(runs["loss"].to_numpy()), dims="run")
        log_e = pm.Normal("log_E", *p.log_E)
        a_ref = pm.Normal("a_ref", *p.a_ref)
        b_ref = pm.Normal("b_ref", *p.b_ref)
        alpha = pm.TruncatedNormal("alpha", *p.exponent, lower=0.0)
        beta = pm.TruncatedNormal("beta", *p.exponent, lower=0.0)
        sigma = pm.HalfNormal("sigma", p.sigma)
        e = pm.Deterministic("E", pt.exp(log_e))
        pm.Deterministic("A", pt.exp(a_ref + alpha * ln_n0))
        pm.Deterministic("B", pt.exp(b_ref + beta * ln_d0))
        mu = pt.log(e + pt.exp(a_ref - alpha * ln_n) + pt.exp(b_ref - beta * ln_d))
        if likelihood == "student_t":
            nu = pm.Gamma("nu", 2.0, 0.1)
            pm.StudentT("ln_loss", nu=nu, mu=mu, sigma=sigma, observed=y, dims="run")
        else:
            pm.Normal("ln_loss", mu=mu, sigma=sigma, observed=y, dims="run")
    return model


def fit_chinchilla(
    runs: pl.DataFrame,
    config: ChinchillaConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    compiled=None,
) -> xr.DataTree:
    """Fit the Chinchilla law to a runs table; return a provenance-stamped DataTree.

    ``compiled`` (from :func:`compile_chinchilla` on runs with the same N and D) is reused:
    only the losses are swapped in, so refits need no compile.
    """
    cfg = config or ChinchillaConfig()
    runs = check_runs(runs)
    model = build_chinchilla_model(runs, cfg.priors, cfg.likelihood)
    const, observed = constant_data(model), observed_data(model)
    updates = None
    if compiled is not None:
        updates = {
            "ln_n_rel": const["ln_n_rel"].values,
            "ln_d_rel": const["ln_d_rel"].values,
            "ln_n0": const["ln_n0"].values,
            "ln_d0": const["ln_d0"].values,
            "ln_loss_obs": const["ln_loss_obs"].values,
        }
    return fit(
        compiled if compiled is not None else model,
        sampler or CHINCHILLA_SAMPLER,
        model_type=MODEL_TYPE,
        model_config=cfg,
        data=runs,
        code_version=code_version(__file__),
        data_updates=updates,
        postprocess=lambda dt: {"constant_data": const, "observed_data": observed},
    )


def compile_chinchilla(runs: pl.DataFrame, config: ChinchillaConfig | None = None):
    """Compile the Chinchilla model once for many fits on runs of the same size."""
    cfg = config or ChinchillaConfig()
    return compile_model(build_chinchilla_model(runs, cfg.priors, cfg.likelihood))


def chinchilla_summary(dt: xr.DataTree) -> pl.DataFrame:
    """Posterior quantiles (q05..q95), mean and sd of E, A, B, alpha, beta: one row each."""
    post = dt["posterior"].to_dataset()
    rows = []
    for name in PARAMS:
        da = post[name]
        q = quantile_columns(da, "v")
        rows.append(
            {"parameter": name, "mean": float(da.mean()), "sd": float(da.std())}
            | {k.removeprefix("v_"): float(v) for k, v in q.items()}
        )
    return pl.DataFrame(rows)


def tokens_per_parameter(dt: xr.DataTree, compute_flop: float | list[float]) -> pl.DataFrame:
    """Posterior compute-optimal allocation at each compute (FLOP): quantiles of N_opt
    (parameters), D_opt (tokens) and D_opt / N_opt (tokens per parameter)."""
    post = dt["posterior"].to_dataset()
    cs = np.atleast_1d(np.asarray(compute_flop, dtype=float))
    c = xr.DataArray(cs, dims="compute", coords={"compute": cs})
    n, d, r = compute_optimal(c, *(post[k] for k in PARAMS))
    out = {"compute_flop": cs}
    for name, da in (("n_opt", n), ("d_opt", d), ("tokens_per_param", r)):
        out |= quantile_columns(da.transpose("chain", "draw", "compute"), name)
    return pl.DataFrame(out)


def laplace_sd(runs: pl.DataFrame, params: dict[str, float], sigma: float) -> dict[str, float]:
    """Asymptotic (Fisher-information) s.d. of E, alpha, beta for normal noise ``sigma`` on
    ln L at the true ``params``: the narrowest honest interval scale for this design.

    Computed by the delta method on the parametrisation (ln E, ln A, ln B, alpha, beta).
    """
    runs = check_runs(runs)
    n, d = runs["n_params"].to_numpy(), runs["n_tokens"].to_numpy()
    E, A, B, a, b = (params[k] for k in PARAMS)
    ta, tb = A / n**a, B / d**b
    L = E + ta + tb
    # d ln L / d (ln E, ln A, ln B, alpha, beta)
    jac = np.column_stack([E / L, ta / L, tb / L, -np.log(n) * ta / L, -np.log(d) * tb / L])
    cov = np.linalg.inv(jac.T @ jac / sigma**2)
    sd = np.sqrt(np.diag(cov))
    return {"E": float(E * sd[0]), "alpha": float(sd[3]), "beta": float(sd[4])}
