"""The volume projector on a real deployment-growth fit (small draws; slow)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import base, deployment
from learnrace_pipeline.lib.models.deployment_data import build_deployment_data, volume_metrics
from learnrace_pipeline.lib.models.deployment_posterior import comparison_table, growth_table
from learnrace_pipeline.lib.race.draws import Knobs
from learnrace_pipeline.lib.race.spec import RaceSpec, load_spec, snapshot_tables
from learnrace_pipeline.lib.race.volume import volume_draws

pytestmark = pytest.mark.slow

YEARS = list(range(2008, 2036))
GROWTH = ("solar_pv", "batteries_evs", "industrial_robots", "ai_foundation_models")


@pytest.fixture(scope="module")
def spec() -> RaceSpec:
    return load_spec()


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return snapshot_tables(tables=("production", "market_shares", "ai_models"))


@pytest.fixture(scope="module")
def fit(spec, tables) -> xr.DataTree:
    data = build_deployment_data(volume_metrics(spec), tables)
    sampler = base.SamplerConfig(draws=300, tune=300, chains=2, seed=7, target_accept=0.95)
    return deployment.fit_deployment(data, sampler=sampler)


def test_shares_are_fractions_with_observed_years_exact(fit, spec, tables):
    for industry in GROWTH:
        m = volume_draws(fit, spec.industry(industry), YEARS, seed=1, n_draws=200)
        v = m.values.values
        assert m.unit == "fraction" and m.role == "volume"
        finite = v[np.isfinite(v)]
        assert finite.size and (finite >= 0).all() and (finite <= 1).all()
        total = np.nansum(v, axis=1)
        assert (total <= 1 + 1e-12).all()
        # years before the data: unknown, not zero
        assert np.isnan(m.values.sel(year=2008).values).all()
        # beyond the data: varies across draws
        last = max(m.observed_through.values())
        assert float(m.values.sel(year=last + 5).std("draw").max()) > 0
    solar = volume_draws(fit, spec.industry("solar_pv"), YEARS, seed=1, n_draws=50)
    want = (
        tables["market_shares"]
        .filter(
            (pl.col("basis") == "pv_module_production_of_world")
            & (pl.col("nation") == "CHN")
            & (pl.col("year") == 2021)
        )["share"]
        .item()
    )
    assert solar.observed_through["CHN"] == 2021
    chn = solar.values.sel(nation="CHN", year=2021).values
    assert np.allclose(chn, want, atol=1e-12)


def test_same_seed_same_draws_other_seed_other_draws(fit, spec):
    ind = spec.industry("batteries_evs")
    a = volume_draws(fit, ind, YEARS, seed=3, n_draws=100)
    b = volume_draws(fit, ind, YEARS, seed=3, n_draws=100)
    c = volume_draws(fit, ind, YEARS, seed=4, n_draws=100)
    assert a.values.equals(b.values)
    assert not np.allclose(a.values.sel(year=2030), c.values.sel(year=2030))


@pytest.mark.parametrize("industry", GROWTH)
def test_halving_growth_lowers_the_share_in_every_later_year(fit, spec, industry):
    ind = spec.industry(industry)
    base_ = volume_draws(fit, ind, YEARS, seed=11, n_draws=400)
    slow = volume_draws(
        fit, ind, YEARS, Knobs(deployment_growth_scale={"CHN": 0.5}), seed=11, n_draws=400
    )
    last = base_.observed_through["CHN"]
    later = [y for y in YEARS if y > last]
    before = [y for y in YEARS if y <= last]
    b = base_.values.sel(nation="CHN")
    s = slow.values.sel(nation="CHN")
    # common random numbers: identical up to the last observed year
    assert np.array_equal(b.sel(year=before).values, s.sel(year=before).values, equal_nan=True)
    lower = (s.sel(year=later).mean("draw") < b.sel(year=later).mean("draw")).values
    assert lower.all(), dict(zip(later, lower, strict=True))
    # the other nations' own volumes are untouched, so on average their shares rise
    usa_b = base_.values.sel(nation="USA", year=later).mean("draw")
    usa_s = slow.values.sel(nation="USA", year=later).mean("draw")
    assert (usa_s > usa_b).all()


def test_cross_section_is_observed_once_and_unknown_after(fit, spec):
    m = volume_draws(fit, spec.industry("semiconductors"), YEARS, seed=1, n_draws=20)
    assert m.observed_through == {n: 2019 for n in m.nations}
    assert float(m.values.sel(nation="TWN", year=2019).min()) == pytest.approx(0.47)
    assert np.isnan(m.values.sel(year=[y for y in YEARS if y != 2019]).values).all()


def test_a_volume_metric_that_is_not_an_annual_share_is_refused(fit, spec):
    with pytest.raises(ModelError, match="autonomous_vehicles"):
        volume_draws(fit, spec.industry("autonomous_vehicles"), YEARS, seed=1, n_draws=10)


def test_fit_tables(fit):
    cmp = comparison_table(fit)
    assert cmp["industry"].to_list() == list(GROWTH)
    assert set(cmp["preferred"].to_list()) <= set(deployment.FORMS)
    diff = cmp["elpd_loo_logistic"] - cmp["elpd_loo_loglinear"]
    assert np.allclose(diff.to_numpy(), cmp["elpd_diff_logistic_minus_loglinear"].to_numpy())
    growth = growth_table(fit)
    assert growth.height == 2 * 22
    chn = growth.filter(
        (pl.col("industry") == "batteries_evs")
        & (pl.col("nation") == "CHN")
        & (pl.col("form") == "loglinear")
    )
    # Chinese EV sales grew several-fold between 2010 and 2023: a growth rate well above zero
    assert chn["growth_q05"][0] > 0.3
    assert (growth["ci_kind"] == "eti").all() and (growth["ci_prob"] == 0.9).all()
    logistic = growth.filter(pl.col("form") == "logistic")
    assert (logistic["ceiling_q05"] > 0).all()
