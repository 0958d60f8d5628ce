"""The population prior of a new series: from a fit (normal and Student-t), the CSV file format
(round trip, files written before ``nu`` existed), validation, and the prior shipped in the
package."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.forecast import priors as pr


def _fake_fit(noise: str = "normal", trend: str = "wright") -> xr.DataTree:
    rng = np.random.default_rng(0)
    c, d = 2, 50
    p = "m" if trend == "time" else "w"  # the time trend's slope is m (per year)

    def v(*shape):
        return rng.normal(size=(c, d, *shape))

    post = xr.Dataset(
        {
            f"{p}_all": (("chain", "draw"), 0.3 + 0.01 * v()),
            f"tau_{p}_industry": (("chain", "draw"), np.abs(0.1 + 0.01 * v())),
            f"tau_{p}_series": (("chain", "draw"), np.abs(0.2 + 0.01 * v())),
            f"z_{p}_industry": (("chain", "draw", "industry"), v(2)),
            "log_sigma_all": (("chain", "draw"), -2.5 + 0.01 * v()),
            "tau_log_sigma": (("chain", "draw"), np.abs(0.6 + 0.01 * v())),
            "rho": (("chain", "draw"), 0.2 + 0.01 * v()),
        },
        coords={"industry": ["solar", "wind"]},
    )
    if noise == "student_t":
        post["nu"] = (("chain", "draw"), 4.0 + np.abs(v()))
    cfg = {"trend": trend, "noise": noise, "level": "pooled", "ma1": True}
    dt = xr.DataTree.from_dict({"posterior": post})
    dt.attrs.update({"model_config": json.dumps(cfg), "model_id": "abc", "data_version": "d1"})
    return dt


def test_population_prior_from_a_fit() -> None:
    dt = _fake_fit()
    post = dt["posterior"].to_dataset()
    priors = pr.population_priors(dt)
    assert set(priors) == {"all", "solar", "wind"}
    a = priors["all"]
    assert a.n_draws == 100 and a.attrs["model_id"] == "abc"
    flat = lambda da: da.stack(s=("chain", "draw")).values  # noqa: E731
    assert a.w_mu == pytest.approx(flat(post["w_all"]))
    assert a.w_sd == pytest.approx(
        np.sqrt(flat(post["tau_w_industry"]) ** 2 + flat(post["tau_w_series"]) ** 2)
    )
    s = priors["solar"]
    w_solar = post["w_all"] + post["tau_w_industry"] * post["z_w_industry"].sel(industry="solar")
    assert s.w_mu == pytest.approx(flat(w_solar))
    assert s.w_sd == pytest.approx(flat(post["tau_w_series"]))
    assert pr.population_prior(dt, max_draws=10).n_draws == 10
    with pytest.raises(ModelError, match="not in the fit"):
        pr.population_prior(dt, "robotics")
    assert a.nu == pytest.approx(np.full(100, np.inf)) and not a.student_t
    with pytest.raises(ModelError, match="pooled Wright or time-trend fit"):
        pr.population_prior(_fake_fit(trend="experience_time"))
    t_fit = _fake_fit("student_t")
    t_prior = pr.population_prior(t_fit)
    assert t_prior.student_t
    assert t_prior.nu == pytest.approx(flat(t_fit["posterior"].to_dataset()["nu"]))


def test_population_prior_from_a_time_trend_fit() -> None:
    """A time-trend fit's prior holds the drift m (log cost per year) where Wright's holds w."""
    dt = _fake_fit(trend="time")
    post = dt["posterior"].to_dataset()
    flat = lambda da: da.stack(s=("chain", "draw")).values  # noqa: E731
    priors = pr.population_priors(dt)
    assert priors["all"].attrs["trend"] == "time"
    assert priors["all"].w_mu == pytest.approx(flat(post["m_all"]))
    assert priors["all"].w_sd == pytest.approx(
        np.sqrt(flat(post["tau_m_industry"]) ** 2 + flat(post["tau_m_series"]) ** 2)
    )
    m_wind = post["m_all"] + post["tau_m_industry"] * post["z_m_industry"].sel(industry="wind")
    assert priors["wind"].w_mu == pytest.approx(flat(m_wind))
    assert priors["wind"].w_sd == pytest.approx(flat(post["tau_m_series"]))


def test_student_t_prior_save_load_roundtrip(tmp_path) -> None:
    priors = pr.population_priors(_fake_fit("student_t"))
    back = pr.load_priors(pr.save_priors(priors, tmp_path / "t.csv", {}))
    assert back["all"].student_t
    assert back["all"].nu == pytest.approx(priors["all"].nu, rel=1e-5)
    # a file written before nu existed (no column) reads as normal noise
    frame = pl.read_csv(tmp_path / "t.csv").drop("nu")
    frame.write_csv(tmp_path / "old.csv")
    assert not pr.load_priors(tmp_path / "old.csv")["all"].student_t


def test_draws_with_nu_at_most_one_are_dropped_and_counted() -> None:
    def with_nu(nu: np.ndarray) -> xr.DataTree:
        fit = _fake_fit("student_t")
        post = fit["posterior"].to_dataset()
        post["nu"] = (("chain", "draw"), nu)
        out = xr.DataTree.from_dict({"posterior": post})
        out.attrs.update(fit.attrs)
        return out

    nu = _fake_fit("student_t")["posterior"]["nu"].values.copy()
    nu[0, :7] = 0.8  # a small panel's posterior can put nu below 1 under its Gamma prior
    dt = with_nu(nu)
    full = pr.population_prior(_fake_fit("student_t"))
    prior = pr.population_prior(dt)
    assert prior.n_draws == full.n_draws - 7
    assert prior.attrs["nu_draws_dropped"] == f"7 of {full.n_draws}"
    assert np.all(prior.nu > 1)
    # the kept draws are the same draws of every parameter, in order
    assert prior.w_mu == pytest.approx(full.w_mu[7:])
    assert prior.rho == pytest.approx(full.rho[7:])
    with pytest.raises(ModelError, match="every posterior draw has nu <= 1"):
        pr.population_prior(with_nu(np.full_like(nu, 0.9)))


def test_prior_save_load_roundtrip_and_fallback(tmp_path) -> None:
    priors = pr.population_priors(_fake_fit())
    path = pr.save_priors(priors, tmp_path / "p.csv", {"made_by": "test"})
    back = pr.load_priors(path)
    assert set(back) == set(priors)
    assert back["wind"].w_mu == pytest.approx(priors["wind"].w_mu, abs=1e-6)  # 6 decimals
    assert back["all"].attrs["data_version"] == "d1"
    assert json.loads((tmp_path / "p.meta.json").read_text())["made_by"] == "test"
    p, note = pr.choose_prior(back, "robotics")
    assert p.level == "all" and "no series in the fitted data" in note
    assert pr.choose_prior(back, "wind") == (back["wind"], "")


def test_shipped_prior_has_provenance() -> None:
    priors = pr.load_priors()
    meta = json.loads(pr.SHIPPED_PRIOR_META.read_text())
    assert "all" in priors and priors["all"].n_draws >= 400
    assert meta["made_by"] == "learnrace forecast-prior"
    assert meta["diagnostics"]["max_rhat"] <= 1.01
    assert meta["diagnostics"]["divergences"] == 0
    assert set(meta["levels"]) == set(priors)
    # the pooled PCDB Wright exponent sits in the published range (issue 3: 0.30-0.50 is the
    # mean of the pooled all-technology exponent; the new-series prior mean is that mean)
    assert 0.2 <= priors["all"].w_mu.mean() <= 0.5


def test_shipped_prior_matches_the_current_model_and_snapshot() -> None:
    """The shipped prior names the model code and the snapshot data it was fitted to; both must
    still be the current ones (editing the model or the PCDB snapshot means re-running
    ``learnrace forecast-prior``, which re-stamps this provenance)."""
    from learnrace_pipeline.lib.models import base
    from learnrace_pipeline.lib.models.learning.config import LearningConfig
    from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
    from learnrace_pipeline.lib.models.learning.panel import load_panel

    meta = json.loads(pr.SHIPPED_PRIOR_META.read_text())
    attrs = meta["attrs"]
    panel = load_panel(meta["sources"])
    sampler = base.SamplerConfig(**json.loads(attrs["sampler_config"]))
    config = LearningConfig(trend="wright", noise="student_t", ma1=True, level="pooled")
    lcm = LearningCurveModel(panel, config, sampler)
    stale = "re-run `learnrace forecast-prior` to refit and re-stamp the shipped prior"
    assert attrs["code_version"] == lcm.code_version, stale
    assert attrs["model_id"] == lcm.model_id, stale
    mask = np.ones(panel.n_obs)
    frame = panel.frame().with_columns(pl.Series("mask", lcm.data(mask)["mask"]))
    assert attrs["data_version"] == base.data_version(frame), stale
    assert meta["n_series"] == panel.n_series and meta["n_differences"] == panel.n_obs


def test_shipped_time_prior_matches_the_current_model_and_snapshot() -> None:
    """The shipped time-trend prior (``learnrace forecast-prior --model time``) is from a
    converged pooled time-trend fit of the current code and snapshot (every source's cost
    series with >= 6 years); its drift m is a cost decline of a few percent a year."""
    from learnrace_pipeline.lib.models import base
    from learnrace_pipeline.lib.models.learning.config import LearningConfig
    from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
    from learnrace_pipeline.lib.models.learning.panel import load_tables
    from learnrace_pipeline.lib.models.learning.time_panel import build_time_panel

    priors = pr.load_priors(pr.SHIPPED_TIME_PRIOR)
    meta = json.loads(pr.SHIPPED_TIME_PRIOR.with_suffix(".meta.json").read_text())
    assert priors["all"].attrs["trend"] == "time"
    assert meta["diagnostics"]["max_rhat"] <= 1.01 and meta["diagnostics"]["divergences"] == 0
    assert 0.02 <= priors["all"].w_mu.mean() <= 0.2
    t = load_tables(meta["sources"])
    panel = build_time_panel(t["cost_observations"], t["technologies"])
    sampler = base.SamplerConfig(**json.loads(meta["attrs"]["sampler_config"]))
    config = LearningConfig(trend="time", noise="student_t", ma1=True, level="pooled")
    lcm = LearningCurveModel(panel, config, sampler)
    stale = "re-run `learnrace forecast-prior --model time` to refit the shipped time prior"
    assert meta["attrs"]["model_id"] == lcm.model_id, stale
    assert meta["attrs"]["code_version"] == lcm.code_version, stale
    assert meta["n_series"] == panel.n_series and meta["n_differences"] == panel.n_obs


def test_prior_validation() -> None:
    with pytest.raises(ModelError, match="unequal"):
        pr.PopulationPrior("all", [0.1, 0.2], [0.1], [0.0], [0.1], [0.0])
    with pytest.raises(ModelError, match="not invertible"):
        pr.PopulationPrior("all", [0.1], [0.1], [0.0], [0.1], [1.0])


def test_priors_from_a_saved_fit_and_cli_posterior(tmp_path) -> None:
    """A fit saved by models.base.save (Zarr here; .nc needs h5py) feeds the forecaster and
    `learnrace forecast --posterior`."""
    from typer.testing import CliRunner

    from learnrace_pipeline.cli import app
    from learnrace_pipeline.lib.models import base

    dt = _fake_fit()
    dt.attrs.update({"model_type": "learning_curve", "code_version": "x", "sampler_config": "{}"})
    path = base.save(dt, tmp_path / "fit.zarr")
    priors = pr.priors_from_posterior_file(path, max_draws=40)
    assert set(priors) == {"all", "solar", "wind"} and priors["wind"].n_draws == 40
    src = tmp_path / "in.csv"
    src.write_text(
        "series_id,year,unit_cost,cumulative_production\n"
        "a,2000,10,100\na,2001,9,130\na,2002,8.5,170\na,2003,,220\n"
    )
    dest = tmp_path / "out.csv"
    result = CliRunner().invoke(
        app,
        ["forecast", "--input", str(src), "--output", str(dest), "--posterior", str(path),
         "--industry", "wind", "--samples", "300"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = pl.read_csv(dest)
    assert out["model"].to_list() == ["pooled_wright_ma1[wind]"]
    assert out["q05"][0] < out["q50"][0] < out["q95"][0]
