"""Prior predictive draws: shapes, named dims and plausible scales, for every model variant."""

from __future__ import annotations

import numpy as np
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel

VARIANTS = [
    LearningConfig(trend="wright", noise="normal", ma1=True),
    LearningConfig(trend="time", noise="student_t", ma1=False),
    LearningConfig(trend="both", noise="student_t", ma1=True),
]


@pytest.mark.parametrize("config", VARIANTS, ids=lambda c: c.name)
def test_prior_predictive_shapes_and_dims(synthetic_panel, config) -> None:
    draws = 12
    pp = LearningCurveModel(synthetic_panel, config).prior_predictive(draws=draws, seed=4)
    y = pp["prior_predictive"]["dlogc"]
    assert y.dims == ("chain", "draw", "obs")
    assert y.shape == (1, draws, synthetic_panel.n_obs)
    assert np.isfinite(y.values).all()
    prior = pp["prior"]
    assert prior["sigma_series"].dims == ("chain", "draw", "series")
    assert list(prior["series"].values) == synthetic_panel.coords()["series"]
    if config.has_w:
        assert prior["w_industry"].dims == ("chain", "draw", "industry")
        assert list(prior["industry"].values) == list(synthetic_panel.industries)
        assert "w_series" in prior
    else:
        assert "w_series" not in prior
    assert ("m_series" in prior) == config.has_m
    assert ("rho" in prior) == config.ma1
    assert ("nu" in prior) == (config.noise == "student_t")
    # log cost changes of a few tens of percent a year, not orders of magnitude
    assert 0.01 < float(np.median(np.abs(y.values))) < 1.0


def test_nation_prior_predictive_and_lambda_range(nation_panel) -> None:
    config = LearningConfig(trend="wright", noise="normal", level="nation")
    pp = LearningCurveModel(nation_panel, config).prior_predictive(draws=10, seed=2)
    prior = pp["prior"]
    assert prior["lambda_nation"].dims == ("chain", "draw", "nation")
    assert list(prior["nation"].values) == ["CHN", "DEU", "USA"]
    lam = prior["lambda_nation"].values
    assert ((lam > 0) & (lam < 1)).all()
    assert pp["prior_predictive"]["dlogc"].shape == (1, 10, nation_panel.n_obs)


def test_config_validation(synthetic_panel) -> None:
    with pytest.raises(ModelError):
        LearningConfig(trend="moore")  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="experience term"):
        LearningConfig(trend="time", level="nation")
    with pytest.raises(ModelError, match="nation panel"):
        LearningCurveModel(synthetic_panel, LearningConfig(level="nation"))
    assert LearningConfig().name == "wright_student_t_ma1"
    assert LearningConfig(trend="both", noise="normal", ma1=False, level="nation").name == (
        "both_normal_iid_nation"
    )


def test_single_member_levels_are_left_out(synthetic) -> None:
    import xarray as xr

    from learnrace_pipeline.lib.models.learning.numpy_mirror import add_deterministics
    from learnrace_pipeline.lib.models.learning.panel import build_panel

    frames, _ = synthetic
    one = build_panel(
        frames["cost_observations"], frames["production"], frames["technologies"],
        series_ids=["synthetic:industry_0_s1"],
    )  # fmt: skip
    config = LearningConfig(trend="both", noise="student_t")
    lcm = LearningCurveModel(one, config)
    free = {rv.name for rv in lcm.model.free_RVs}
    assert free == {"w_all", "m_all", "log_sigma_all", "nu", "rho", "z_e0"}
    prior = lcm.prior_draws(5, seed=1)
    rebuilt = add_deterministics(xr.Dataset({k: prior[k] for k in free}), config, lcm.data())
    for name in ("w_series", "w_industry", "m_series", "sigma_series"):
        np.testing.assert_allclose(
            rebuilt[name].transpose(*prior[name].dims).values, prior[name].values
        )
    np.testing.assert_allclose(prior["w_series"].values[..., 0], prior["w_all"].values)
