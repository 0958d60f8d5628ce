"""The experience+time model's (drift, w | drift) parameterisation: same prior, same data.

Each level below the top samples the drift ``d = m + g w`` and the standardised deviation of
``w`` given ``d`` instead of the independent ``w`` and ``m`` offsets. These tests check that
this is a change of variables only: the model's log density of the new free parameters equals
the independent Normal prior density of (w, m) plus the log Jacobian of the map, exactly.
"""

from __future__ import annotations

import numpy as np
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import stats

from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
from learnrace_pipeline.lib.models.learning.model import _mean_growth_pt, drift_names, mean_growth


def _loop_growth(dlogq, dt, mask, group, n):
    out = np.zeros(n)
    for k in range(n):
        sel = (group == k) & (mask > 0)
        if dt[sel].sum() > 0:
            out[k] = dlogq[sel].sum() / dt[sel].sum()
    return out


def test_mean_growth_matches_a_loop_and_the_graph() -> None:
    rng = np.random.default_rng(3)
    group = np.repeat([0, 1, 2, 3], [5, 1, 7, 4])
    dlogq = rng.uniform(0.0, 0.5, group.size)
    dt = rng.integers(1, 4, group.size).astype(float)
    mask = np.ones(group.size)
    mask[group == 3] = 0.0  # a group with no fitted difference has growth 0
    mask[[0, 8]] = 0.0
    want = _loop_growth(dlogq, dt, mask, group, 4)
    got = mean_growth(dlogq, dt, mask, group, 4)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    assert got[3] == 0.0
    assert got[1] == pytest.approx(dlogq[5] / dt[5])
    graph = _mean_growth_pt(pt.as_tensor(dlogq), pt.as_tensor(dt), pt.as_tensor(mask),
                              pt.as_tensor(group), 4).eval()  # fmt: skip
    np.testing.assert_allclose(graph, want, rtol=1e-12)


@pytest.mark.parametrize("trend_param", ["centred", "non_centred"])
def test_joint_levels_keep_the_independent_normal_prior(synthetic_panel, trend_param) -> None:
    """log p(drift, z_w) = log N(w; w_parent, tau_w) + log N(m; m_parent, tau_m) + log|J|.

    |J| of (drift, z_w) -> (w, m) is ``tau_w tau_m / sd_d`` with a centred drift and
    ``tau_w tau_m`` with a standardised one (``sd_d = sqrt(tau_m^2 + g^2 tau_w^2)``); it does not
    depend on (w, m), so the posterior of (w, m) is the original model's.
    """
    config = LearningConfig(trend="both", noise="normal", trend_param=trend_param)
    lcm = LearningCurveModel(synthetic_panel, config)
    model = lcm.model
    prior = lcm.prior_draws(5, seed=9)
    data = lcm.data()
    ind_of_obs = data["industry_of_series"][data["series_idx"]]
    levels = {
        "industry": ("w_all", "m_all", ind_of_obs, len(synthetic_panel.industries)),
        "series": ("w_industry", "m_industry", data["series_idx"], synthetic_panel.n_series),
    }
    values = [model.rvs_to_values[rv] for rv in model.free_RVs]
    for level, (w_par, m_par, group, n) in levels.items():
        names = drift_names(level, trend_param == "centred")
        rvs = [model[name] for name in names]
        terms = model.logp(vars=rvs, jacobian=False, sum=True)
        fn = pytensor.function(values, terms, on_unused_input="ignore")
        g = mean_growth(data["dlogq"], data["dt"], data["mask"], group, n)
        for d in range(5):
            draw = prior.isel(chain=0, draw=d)
            point = []
            for rv in model.free_RVs:
                x = draw[rv.name].values
                transform = model.rvs_to_transforms.get(rv)
                if rv.name.startswith("tau_"):
                    x = np.log(x)  # HalfNormal: log-transformed value
                elif transform is not None:
                    x = np.zeros_like(x)  # rho, nu: not in these terms
                point.append(x)
            got = float(fn(*point))
            if level == "industry":
                w_p, m_p = float(draw[w_par]), float(draw[m_par])
            else:
                idx = data["industry_of_series"]
                w_p, m_p = draw[w_par].values[idx], draw[m_par].values[idx]
            tau_w, tau_m = float(draw[f"tau_w_{level}"]), float(draw[f"tau_m_{level}"])
            w, m = draw[f"w_{level}"].values, draw[f"m_{level}"].values
            sd_d = np.sqrt(tau_m**2 + (g * tau_w) ** 2)
            jac = tau_w * tau_m / sd_d if trend_param == "centred" else tau_w * tau_m * np.ones(n)
            want = (stats.norm.logpdf(w, w_p, tau_w).sum() + stats.norm.logpdf(m, m_p, tau_m).sum()
                    + np.log(jac).sum())  # fmt: skip
            assert got == pytest.approx(want, rel=1e-10, abs=1e-9), (level, d)


def test_drift_prior_moments(synthetic_panel) -> None:
    """Forward draws of the joint levels: standardised w and m offsets are independent N(0, 1)
    (pooled over 400 prior draws of 12 series and 3 industries)."""
    config = LearningConfig(trend="both", noise="normal", trend_param="centred")
    prior = LearningCurveModel(synthetic_panel, config).prior_draws(400, seed=21)
    idx = LearningCurveModel(synthetic_panel, config).data()["industry_of_series"]
    zw = ((prior["w_series"].values - prior["w_industry"].values[..., idx])
          / prior["tau_w_series"].values[..., None]).ravel()  # fmt: skip
    zm = ((prior["m_series"].values - prior["m_industry"].values[..., idx])
          / prior["tau_m_series"].values[..., None]).ravel()  # fmt: skip
    for z in (zw, zm):
        assert abs(z.mean()) < 0.06
        assert z.std() == pytest.approx(1.0, abs=0.05)
    assert abs(np.corrcoef(zw, zm)[0, 1]) < 0.05
    zi = ((prior["m_industry"].values - prior["m_all"].values[..., None])
          / prior["tau_m_industry"].values[..., None]).ravel()  # fmt: skip
    assert zi.std() == pytest.approx(1.0, abs=0.08)
