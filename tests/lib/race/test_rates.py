import numpy as np
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.race.rates import learning_rate_draws
from learnrace_pipeline.lib.race.spec import load_spec


def _fit(w: np.ndarray, nations: list[str]) -> xr.DataTree:
    post = xr.Dataset(
        {"w_nation": (("chain", "draw", "nation"), w)},
        coords={"chain": [0, 1], "draw": np.arange(w.shape[1]), "nation": nations},
    )
    return xr.DataTree.from_dict({"posterior": post})


def test_rates_are_one_minus_two_to_minus_w_per_draw_and_nation():
    spec = load_spec()
    solar = spec.industry("solar_pv")
    rng = np.random.default_rng(3)
    w = rng.uniform(0.1, 0.6, size=(2, 50, 2))
    fit = _fit(w, ["CHN", "USA"])
    years = [2020, 2021, 2022]
    d = learning_rate_draws(fit, solar, years, seed=1, n_draws=100, observed_through={"USA": 2019})
    assert d.values.dims == ("draw", "nation", "year")
    assert d.nations == ["USA", "CHN", "DEU"]
    # every draw of a nation is one of its posterior rates, constant over years
    usa = d.values.sel(nation="USA").values
    assert np.allclose(usa[:, 0], usa[:, 2])
    possible = 1 - 2.0 ** (-w[..., 1].ravel())
    assert np.all(np.isin(np.round(usa[:, 0], 12), np.round(possible, 12)))
    # nations stay joint: the same posterior draw gives USA and CHN
    flat = w.reshape(-1, 2)
    chn = d.values.sel(nation="CHN").values[:, 0]
    for u, c in zip(usa[:, 0], chn, strict=True):
        k = int(np.argmin(np.abs(1 - 2.0 ** (-flat[:, 1]) - u)))
        assert c == pytest.approx(1 - 2.0 ** (-flat[k, 0]))
    # a nation the fit does not cover is unknown, never zero
    assert np.isnan(d.values.sel(nation="DEU").values).all()
    assert d.observed_through == {"USA": 2019}
    # seeded: the same seed gives identical draws
    again = learning_rate_draws(fit, solar, years, seed=1, n_draws=100)
    assert np.array_equal(d.values.values, again.values.values, equal_nan=True)


def test_refuses_an_industry_whose_capability_is_not_a_learning_rate():
    spec = load_spec()
    fit = _fit(np.full((2, 5, 1), 0.3), ["USA"])
    with pytest.raises(ModelError, match="not a learning rate"):
        learning_rate_draws(fit, spec.industry("semiconductors"), [2020], seed=0, n_draws=4)
