"""Capability trajectories (and AV volume) of the race from real fits of the shipped snapshot:
observed years equal the data, paths never go back, the knobs move only their nation and only
one way, and removing a knob restores the base draws exactly."""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models import av, frontier, node_frontier
from learnrace_pipeline.lib.models import frontier_posterior as fp
from learnrace_pipeline.lib.models.av_data import prepare_av_data
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.race import capability as cap
from learnrace_pipeline.lib.race.draws import Knobs
from learnrace_pipeline.lib.race.spec import load_spec, snapshot_tables

pytestmark = pytest.mark.slow

SMALL = SamplerConfig(draws=300, tune=300, chains=2, target_accept=0.95, seed=5)
YEARS = list(range(2012, 2036))
N = 400


@pytest.fixture(scope="module")
def spec():
    return load_spec()


@pytest.fixture(scope="module")
def tables():
    return snapshot_tables(tables=["ai_models", "av_testing", "chip_products"])


@pytest.fixture(scope="module")
def ai_fit(tables):
    return frontier.fit_frontier(tables["ai_models"], sampler=SMALL)


@pytest.fixture(scope="module")
def av_fit(tables):
    return av.fit_av(tables["av_testing"], av.AvConfig(form="saturating"), SMALL)


@pytest.fixture(scope="module")
def node_fit(tables):
    return node_frontier.fit_node_frontier(tables["chip_products"], sampler=SMALL)


def test_ai_observed_years_are_the_records(ai_fit, spec):
    m = cap.ai_capability_draws(ai_fit, spec.industry("ai_foundation_models"), YEARS, seed=1,
                                n_draws=N)  # fmt: skip
    assert m.unit == "FLOP" and m.nations == ["USA", "CHN", "DEU", "JPN", "KOR"]
    end = fp.data_end(ai_fit)
    assert m.observed_through["USA"] == end.year - 1  # the last year ending inside the data
    rec = fp.records(ai_fit)
    for nation in ("USA", "CHN"):
        for year in (2015, 2020, 2023):
            mine = rec.filter((pl.col("nation") == nation) & (pl.col("publication_date")
                              <= dt_.date(year, 12, 31)))  # fmt: skip
            v = m.values.sel(nation=nation, year=year).values
            assert np.all(v == pytest.approx(10.0 ** mine["log10_flop"].max(), rel=1e-12))
    # past MAX_FORECAST_YEARS after the data end: unknown
    limit = fp.as_of_window(end, end)[1]
    late = [y for y in YEARS if dt_.date(y, 12, 31) > limit]
    assert late and np.all(np.isnan(m.values.sel(year=late).values))
    # each draw is a path: the record never falls
    inside = m.values.sel(year=[y for y in YEARS if y not in late]).values
    steps = np.diff(np.log10(inside), axis=-1)
    assert np.isfinite(steps).sum() > 0.9 * steps.size and np.all(steps[np.isfinite(steps)] >= 0)


def test_ai_path_marginal_matches_frontier_draws(ai_fit, spec):
    """At one date beyond the data the path's marginal is frontier_draws' distribution."""
    when = dt_.date(2028, 12, 31)
    paths = cap.ai_record_paths(ai_fit, [when], n_draws=600, seed=3).sel(nation="USA")
    ref = fp.frontier_draws(ai_fit, when, seed=4).sel(nation="USA").values.ravel()
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(paths.values, q) == pytest.approx(np.quantile(ref, q), abs=0.25)


def test_compute_cap_lowers_only_the_capped_nation(ai_fit, spec):
    ind = spec.industry("ai_foundation_models")
    base = cap.ai_capability_draws(ai_fit, ind, YEARS, seed=2, n_draws=N)
    capped = cap.ai_capability_draws(
        ai_fit, ind, YEARS, Knobs(compute_growth_cap={"CHN": 0.3}), seed=2, n_draws=N
    )
    b, c = base.values.sel(nation="CHN").values, capped.values.sel(nation="CHN").values
    ok = np.isfinite(b)
    assert np.all(c[ok] <= b[ok]) and np.any(c[ok] < b[ok])
    # the cap binds: 2030 at most the 2024 data-end record + 0.3 log10 FLOP per year
    end = fp.data_end(ai_fit)
    r_end = fp.record_at(ai_fit, end).filter(pl.col("nation") == "CHN")["log10_flop"][0]
    t = fp.to_decimal_year(dt_.date(2030, 12, 31)) - fp.to_decimal_year(end)
    assert np.all(np.log10(capped.values.sel(nation="CHN", year=2030).values)
                  <= r_end + 0.3 * t + 1e-9)  # fmt: skip
    np.testing.assert_array_equal(
        capped.values.sel(nation="USA").values, base.values.sel(nation="USA").values
    )
    again = cap.ai_capability_draws(ai_fit, ind, YEARS, Knobs(), seed=2, n_draws=N)
    np.testing.assert_array_equal(again.values.values, base.values.values)


def test_research_rate_scale_raises_only_its_nation(ai_fit, spec):
    ind = spec.industry("ai_foundation_models")
    base = cap.ai_capability_draws(ai_fit, ind, YEARS, seed=2, n_draws=N)
    fast = cap.ai_capability_draws(
        ai_fit, ind, YEARS, Knobs(research_rate_scale={"USA": 1.5}), seed=2, n_draws=N
    )
    b, f = base.values.sel(nation="USA").values, fast.values.sel(nation="USA").values
    ok = np.isfinite(b)
    assert np.all(f[ok] >= b[ok]) and np.median(f[:, -3]) > np.median(b[:, -3])
    np.testing.assert_array_equal(
        fast.values.sel(nation="CHN").values, base.values.sel(nation="CHN").values
    )


def test_av_observed_years_and_gaps(av_fit, spec, tables):
    ind = spec.industry("autonomous_vehicles")
    c = cap.av_capability_draws(av_fit, ind, YEARS, seed=1, n_draws=N)
    v = cap.av_volume_draws(av_fit, ind, YEARS, seed=1, n_draws=N)
    assert c.unit == "mile/disengagement" and v.unit == "mile"
    assert c.observed_through == {"USA": 2022, "CHN": 2022, "DEU": 2022, "JPN": 2022}
    assert np.all(np.isnan(c.values.sel(nation="KOR").values))  # no KOR company in the fit
    data = prepare_av_data(tables["av_testing"])
    obs = data.obs.filter((pl.col("nation") == "USA") & (pl.col("report_year") == 2019)
                          & (pl.col("disengagements") > 0))  # fmt: skip
    best = (obs["safety_miles"] / obs["disengagements"]).max()
    assert np.all(c.values.sel(nation="USA", year=2019).values == pytest.approx(best))
    usa = [i for i, n in enumerate(data.company_nation) if data.nations[n] == "USA"]
    cum19 = data.cum_grid[usa, data.years.index(2019)].sum()
    assert np.all(v.values.sel(nation="USA", year=2019).values == pytest.approx(cum19))
    # RY2020 is missing from the data: drawn from the model, so it varies by draw
    assert np.std(v.values.sel(nation="USA", year=2020).values) > 0
    vol = v.values.sel(nation=["USA", "CHN", "DEU", "JPN"], year=list(range(2016, 2036))).values
    assert np.all(np.diff(vol, axis=-1) >= 0)


def test_av_capability_and_volume_are_joint(av_fit, spec):
    """Both come from the same mile paths: a draw with more CHN miles has a better CHN MPD."""
    ind = spec.industry("autonomous_vehicles")
    c = cap.av_capability_draws(av_fit, ind, YEARS, seed=4, n_draws=N)
    v = cap.av_volume_draws(av_fit, ind, YEARS, seed=4, n_draws=N)
    x = v.values.sel(nation="CHN", year=2030).values
    y = c.values.sel(nation="CHN", year=2030).values
    rank = np.corrcoef(np.argsort(np.argsort(x)), np.argsort(np.argsort(y)))[0, 1]
    assert rank > 0.1  # about 4 standard errors (0.05 at 400 draws) above no relation


def test_deployment_growth_scale_moves_only_its_nation(av_fit, spec):
    ind = spec.industry("autonomous_vehicles")
    base = cap.av_volume_draws(av_fit, ind, YEARS, seed=6, n_draws=N)
    slow = cap.av_volume_draws(
        av_fit, ind, YEARS, Knobs(deployment_growth_scale={"CHN": 0.5}), seed=6, n_draws=N
    )
    b = base.values.sel(nation="CHN", year=list(range(2023, 2036))).values
    s = slow.values.sel(nation="CHN", year=list(range(2023, 2036))).values
    assert np.all(s <= b * (1 + 1e-12)) and np.median(s[:, -1]) < np.median(b[:, -1])
    np.testing.assert_array_equal(
        slow.values.sel(nation=["USA", "DEU", "JPN"]).values,
        base.values.sel(nation=["USA", "DEU", "JPN"]).values,
    )
    again = cap.av_volume_draws(av_fit, ind, YEARS, Knobs(), seed=6, n_draws=N)
    np.testing.assert_array_equal(again.values.values, base.values.values)


def test_node_capability(node_fit, spec):
    ind = spec.industry("semiconductors")
    m = cap.node_capability_draws(node_fit, ind, YEARS, seed=1, n_draws=N)
    assert m.unit == "nm" and m.observed_through == {"USA": 2023, "TWN": 2023, "KOR": 2023,
                                                     "JPN": 2023}  # fmt: skip
    assert np.all(np.isnan(m.values.sel(nation="CHN").values))  # no Chinese foundry
    assert np.all(m.values.sel(nation="TWN", year=2023).values == 4.0)
    assert np.all(m.values.sel(nation="USA", year=2016).values == 14.0)
    assert np.all(m.values.sel(nation="JPN", year=2035).values == 40.0)  # held at its record
    fast = cap.node_capability_draws(
        node_fit, ind, YEARS, Knobs(research_rate_scale={"TWN": 1.5}), seed=1, n_draws=N
    )
    b, f = m.values.sel(nation="TWN").values, fast.values.sel(nation="TWN").values
    assert np.all(f <= b) and np.median(f[:, -1]) < np.median(b[:, -1])
    np.testing.assert_array_equal(
        fast.values.sel(nation="USA").values, m.values.sel(nation="USA").values
    )


def test_industry_without_capability_is_refused(node_fit, spec):
    with pytest.raises(ModelError, match="no capability metric"):
        cap.node_capability_draws(
            node_fit, spec.industry("industrial_robots"), YEARS, seed=1, n_draws=10
        )
