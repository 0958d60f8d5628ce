"""Fits on small synthetic panels: provenance, save/load, compile-once refits, diagnostics,
summaries, model comparison, forecasts and plots."""

from __future__ import annotations

import json
import warnings

import arviz_stats as azs
import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError, ProvenanceError
from learnrace_pipeline.lib.models import base, diagnostics
from learnrace_pipeline.lib.models.learning import summaries
from learnrace_pipeline.lib.models.learning.fit import MODEL_TYPE
from learnrace_pipeline.lib.models.learning.panel import build_panel
from learnrace_pipeline.lib.models.learning.posterior import (
    forecast_log_cost,
    lambda_prior_posterior,
    population_priors,
)
from learnrace_pipeline.lib.models.learning.simulate import synthetic_frames
from learnrace_pipeline.lib.report import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_fit_groups_and_provenance(wright_model, wright_fit, synthetic_panel) -> None:
    dt = wright_fit
    assert {
        "posterior", "sample_stats", "log_likelihood", "posterior_predictive", "observed_data",
        "fit_data",
    } <= set(dt.children)  # fmt: skip
    assert dt.attrs["model_id"] == wright_model.model_id
    assert dt.attrs["model_type"] == MODEL_TYPE
    assert dt.attrs["model_name"] == "wright_normal_ma1"
    frame = synthetic_panel.frame().with_columns(pl.Series("mask", np.ones(synthetic_panel.n_obs)))
    assert dt.attrs["data_version"] == base.data_version(frame)
    assert json.loads(dt.attrs["sampler_config"])["draws"] == 300
    assert json.loads(dt.attrs["model_config"])["trend"] == "wright"
    assert dt.attrs["code_version"].startswith("0.1.0+")
    post = dt.posterior
    assert post["w_series"].dims == ("chain", "draw", "series")
    assert list(post["series"].values) == synthetic_panel.coords()["series"]
    assert dt.log_likelihood["dlogc"].shape == (2, 300, synthetic_panel.n_obs)
    assert dt.fit_data["dlogc"].shape == (synthetic_panel.n_obs,)
    assert dt.fit_data["point_log_cost"].shape == (synthetic_panel.levels.height,)


def test_posterior_is_near_the_truth(wright_fit, synthetic) -> None:
    _, truth = synthetic
    post = wright_fit.posterior
    lo, hi = np.quantile(post["w_all"].values, [0.01, 0.99])
    assert lo < truth.w_all < hi
    w_hat = post["w_series"].mean(("chain", "draw")).to_series()
    w_true = np.array([truth.w_series[s] for s in w_hat.index])
    assert float(np.abs(w_hat.values - w_true).mean()) < 0.1
    lo, hi = post["w_series"].quantile([0.05, 0.95], dim=("chain", "draw")).values
    assert int(((lo < w_true) & (w_true < hi)).sum()) >= 9  # of 12


def test_save_load_round_trip_and_refusal(wright_fit, tmp_path) -> None:
    path = base.save(wright_fit, tmp_path / "wright.zarr")
    back = base.load(path, expected_model_id=wright_fit.attrs["model_id"])
    for group in ("posterior", "log_likelihood", "fit_data", "sample_stats"):
        xr.testing.assert_allclose(back[group].to_dataset(), wright_fit[group].to_dataset())
    assert back.attrs["data_version"] == wright_fit.attrs["data_version"]
    with pytest.raises(ProvenanceError, match="expected"):
        base.load(path, expected_model_id="0123456789abcdef")


def test_refits_reuse_the_compiled_model(wright_model, wright_fit, synthetic_panel) -> None:
    compiled = wright_model.compile()
    again = wright_model.fit()
    assert wright_model.compile() is compiled
    assert again.attrs["compile_seconds"] == 0.0
    np.testing.assert_array_equal(
        again.posterior["w_all"].values, wright_fit.posterior["w_all"].values
    )
    mask = synthetic_panel.origin_mask(1978)
    held = wright_model.fit(mask=mask, log_likelihood=False, predictive=False)
    assert held.attrs["compile_seconds"] == 0.0
    assert held.attrs["data_version"] != wright_fit.attrs["data_version"]
    assert "log_likelihood" not in held.children
    assert np.array_equal(held.fit_data["mask"].values, mask)
    # less data, wider posterior
    assert float(held.posterior["w_all"].std()) > float(wright_fit.posterior["w_all"].std())


def test_refit_on_another_panel_of_the_same_layout(wright_model, synthetic) -> None:
    frames, _ = synthetic
    renamed = {
        name: df.with_columns(pl.col("series_id").str.replace("synthetic:", "other:"))
        if "series_id" in df.columns else df
        for name, df in frames.items()
    }  # fmt: skip
    panel2 = build_panel(
        renamed["cost_observations"], renamed["production"], renamed["technologies"]
    )
    dt = wright_model.fit(panel=panel2, log_likelihood=False, predictive=False)
    assert list(dt.posterior["series"].values) == panel2.coords()["series"]
    assert str(dt.posterior["series"].values[0]).startswith("other:")
    small, _ = synthetic_frames(n_industries=2, series_per_industry=2, seed=9)
    panel3 = build_panel(small["cost_observations"], small["production"], small["technologies"])
    with pytest.raises(ModelError, match="layout"):
        wright_model.fit(panel=panel3)


def test_diagnostics_pass_and_name_failures(wright_fit) -> None:
    res = diagnostics.check_fit(wright_fit, ess_min=100)
    assert res.divergences == 0
    assert res.rhat_max < 1.05
    assert set(res.coverage) == {"50%", "90%"}
    assert 0.8 < res.coverage["90%"] <= 1.0
    assert res.n_parameters > 3 * 12
    strict = diagnostics.check_fit(wright_fit, ess_min=1e9, rhat_max=0.5, bfmi_min=10.0)
    assert not strict.passed
    checks = {f.check for f in strict.failures}
    assert {"rhat", "ess_bulk", "ess_tail", "bfmi"} <= checks
    assert "w_all" in strict.failing_parameters
    assert any(f.parameter.startswith("w_series[synthetic:") for f in strict.failures)
    assert "checks failed" in strict.describe()
    assert strict.to_dict()["failing_parameters"] == strict.failing_parameters
    with pytest.raises(ModelError):
        diagnostics.check_fit(xr.DataTree())


@pytest.mark.parametrize("fit", ["wright_fit", "both_fit"])
def test_diagnostics_and_loo_equal_arviz_on_a_fit(request, fit) -> None:
    """The vectorised R-hat/ESS and PSIS-LOO give ArviZ's values on real (small) fits."""
    dt = request.getfixturevalue(fit)
    post = dt.posterior.to_dataset()
    table = diagnostics.per_parameter(dt)
    want = {
        "rhat": azs.rhat(post, sample_dims=["chain", "draw"], method="rank"),
        "ess_bulk": azs.ess(post, sample_dims=["chain", "draw"], method="bulk"),
        "ess_tail": azs.ess(post, sample_dims=["chain", "draw"], method="tail"),
    }
    for col, res in want.items():
        values = np.concatenate([res[v].values.ravel() for v in post.data_vars])
        np.testing.assert_allclose(table[col].to_numpy(), values, rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = azs.loo(dt, pointwise=True, var_name="dlogc")
    elpd_i, p_loo_i, k = summaries.pointwise_loo(dt)
    np.testing.assert_allclose(elpd_i, loo.elpd_i.values, rtol=1e-12)
    np.testing.assert_allclose(k, loo.pareto_k.values, rtol=1e-12)
    assert float(p_loo_i.sum()) == pytest.approx(float(loo.p), rel=1e-9)


def test_coverage_check_fails_on_a_miscalibrated_predictive(wright_fit) -> None:
    bad = wright_fit.copy()
    pp = bad.posterior_predictive.to_dataset()
    centre = pp["dlogc"].mean(("chain", "draw"))
    bad["posterior_predictive"] = xr.DataTree(
        dataset=xr.Dataset({"dlogc": centre + 0.1 * (pp["dlogc"] - centre)})
    )
    res = diagnostics.check_fit(bad, ess_min=100)
    assert not res.passed
    assert any(f.check == "coverage" for f in res.failures)
    assert res.coverage["90%"] < 0.6


def test_learning_rates_table(wright_fit, both_fit, synthetic_panel) -> None:
    t = summaries.learning_rates(wright_fit)
    assert t.schema == pl.Schema(summaries.LEARNING_RATE_SCHEMA)
    assert t.height == 2 + 3 + 12
    assert t.group_by("level").len().sort("level").rows() == [
        ("all", 1), ("all_technologies", 1), ("industry", 3), ("series", 12),
    ]  # fmt: skip
    assert t["m_mean"].is_null().all() and t["corr_w_m"].is_null().all()
    all_row = t.filter(pl.col("level") == "all").row(0, named=True)
    w = wright_fit.posterior["w_all"].values.ravel()
    assert all_row["w_mean"] == pytest.approx(w.mean())
    assert all_row["lr_mean"] == pytest.approx(np.mean(1 - 2.0**-w))
    assert all_row["w_q05"] < all_row["w_q50"] < all_row["w_q95"]
    assert all_row["n_points"] == synthetic_panel.n_obs
    series_rows = t.filter(pl.col("level") == "series")
    assert series_rows["n_points"].sum() == synthetic_panel.n_obs
    ind = t.filter(pl.col("level") == "industry")
    assert ind["n_series"].to_list() == [4, 4, 4]
    tb = summaries.learning_rates(both_fit)
    assert tb["model"][0] == "both_student_t_ma1"
    corr = tb["corr_w_m"].to_numpy()
    assert np.all((corr >= -1) & (corr <= 1))
    assert tb.filter(pl.col("level") == "industry")["m_mean"].is_not_null().all()
    joint = summaries.joint_w_m(both_fit)
    assert joint.height == 600
    assert joint.select(pl.corr("w", "m")).item() == pytest.approx(
        tb.filter(pl.col("level") == "all")["corr_w_m"].item()
    )


def test_model_comparison(wright_fit, both_fit) -> None:
    t = summaries.model_comparison({"wright": wright_fit, "both": both_fit})
    assert t.schema == pl.Schema(summaries.MODEL_COMPARISON_SCHEMA)
    assert t.height == 2 * 4
    for _, grp in t.group_by("industry"):
        assert sorted(grp["rank"].to_list()) == [0, 1]
        assert grp.filter(pl.col("rank") == 0)["elpd_diff"].item() == 0.0
    by_model = t.filter(pl.col("industry") != "all").group_by("model").agg(pl.col("elpd_loo").sum())
    for model, total in by_model.rows():
        assert total == pytest.approx(
            t.filter((pl.col("industry") == "all") & (pl.col("model") == model))["elpd_loo"].item()
        )
    assert (t["se"] > 0).all()
    assert (
        t.filter(pl.col("industry") == "all")["n_points"].to_list()
        == [wright_fit.fit_data.sizes["obs"]] * 2
    )


def test_forecast_and_population_priors(wright_fit) -> None:
    series = str(wright_fit.posterior["series"].values[0])
    dq = np.full(5, 0.2)
    paths = forecast_log_cost(wright_fit, series, dq, seed=1)
    assert paths.shape == (600, 5)
    w = wright_fit.posterior["w_series"].sel(series=series).values.ravel()
    # the mean path follows -w * cumulative log Q growth (noise and the MA term average out)
    mean = paths.mean(axis=0)
    np.testing.assert_allclose(mean, -w.mean() * np.cumsum(dq), atol=0.06)
    # spread grows with the horizon
    sd = paths.std(axis=0)
    assert np.all(np.diff(sd) > 0)
    with pytest.raises(ModelError, match="unknown series"):
        forecast_log_cost(wright_fit, "nope", dq)
    pri = population_priors(wright_fit)
    assert pri.w_mu == pytest.approx(float(wright_fit.posterior["w_all"].mean()))
    assert pri.w_sd == pytest.approx(float(wright_fit.posterior["w_all"].std()))
    ind = population_priors(wright_fit, industry="industry_1")
    assert ind.w_mu == pytest.approx(
        float(wright_fit.posterior["w_industry"].sel(industry="industry_1").mean())
    )
    with pytest.raises(ModelError):
        population_priors(wright_fit, industry="steel")


def test_nation_fit_lambda_prior_and_posterior(nation_fit) -> None:
    assert "prior" in nation_fit.children
    t = lambda_prior_posterior(nation_fit)
    assert set(t["source"].unique()) == {"prior", "posterior"}
    assert set(t.filter(pl.col("nation").is_not_null())["nation"].unique()) == {"CHN", "DEU", "USA"}
    assert (
        t.filter((pl.col("source") == "posterior") & (pl.col("quantity") == "lambda_all")).height
        == 600
    )
    lr = summaries.learning_rates(nation_fit)
    nat = lr.filter(pl.col("level") == "nation")
    assert nat["name"].to_list() == ["CHN", "DEU", "USA"]
    assert nat["lambda_mean"].is_not_null().all()
    post_w = float(nation_fit.posterior["w_all"].mean())
    assert 0.1 < post_w < 0.7  # truth 0.35


def test_plots_are_png(wright_fit, both_fit, nation_fit) -> None:
    table = pl.concat([summaries.learning_rates(wright_fit), summaries.learning_rates(both_fit)])
    for png in (
        plots.forest_learning_rates(table),
        plots.experience_curves(wright_fit),
        plots.experience_curves(both_fit, series=[str(both_fit.posterior["series"].values[1])]),
        plots.experience_curves(nation_fit),
        plots.lambda_prior_posterior_plot(nation_fit),
        plots.joint_w_m_plot(both_fit),
    ):
        assert png.startswith(PNG) and len(png) > 5_000
    with pytest.raises(ModelError):
        plots.joint_w_m_plot(wright_fit)
    with pytest.raises(ModelError):
        plots.forest_learning_rates(table.filter(pl.col("level") == "series"), level="nation")
