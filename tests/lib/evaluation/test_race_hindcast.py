"""Race hindcast: the cut at an origin, share draws from known parameters, scoring by hand, and
the real hindcast at one origin on the shipped snapshot (nothing after the origin changes it)."""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.evaluation import race_hindcast as rh
from learnrace_pipeline.lib.evaluation import race_hindcast_fits as rf
from learnrace_pipeline.lib.models.deployment_data import (
    OBS_SCHEMA,
    SERIES_SCHEMA,
    SHARE_SCHEMA,
    DeploymentData,
)
from learnrace_pipeline.lib.race import spec as race_spec


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return race_spec.snapshot_tables()


# ---------------------------------------------------------------------------------------------
# The cut
# ---------------------------------------------------------------------------------------------


def test_cut_keeps_only_rows_dated_in_or_before_the_origin(tables) -> None:
    cut = rf.cut_tables(tables, 2015)
    assert cut["market_shares"]["year"].max() == 2015
    assert cut["av_testing"]["report_year"].max() == 2015
    assert cut["ai_models"]["publication_date"].max() <= dt_.date(2015, 12, 31)
    assert cut["chip_products"]["release_date"].max() <= dt_.date(2015, 12, 31)
    # nothing dated in or before 2015 is lost
    before = tables["production"].filter(pl.col("year") <= 2015)
    assert cut["production"].height == before.height > 0


def test_cut_boundary_is_the_last_day_of_the_origin_year() -> None:
    ai = pl.DataFrame(
        {"publication_date": [dt_.date(2015, 12, 31), dt_.date(2016, 1, 1)], "model": ["a", "b"]}
    )
    tech = pl.DataFrame({"technology": ["t"]})
    cut = rf.cut_tables({"ai_models": ai, "technologies": tech}, 2015)
    assert cut["ai_models"]["model"].to_list() == ["a"]
    assert cut["technologies"].equals(tech)


def _late_changed(tables) -> dict[str, pl.DataFrame]:
    """Every value after 2015 changed: production tripled (shares kept), nodes halved."""
    return {
        **tables,
        "production": tables["production"].with_columns(
            pl.when(pl.col("year") > 2015)
            .then(pl.col("annual_production") * 3)
            .otherwise(pl.col("annual_production"))
        ),
        "chip_products": tables["chip_products"].with_columns(
            pl.when(pl.col("release_date") > dt_.date(2015, 12, 31))
            .then(pl.col("process_nm") / 2)
            .otherwise(pl.col("process_nm"))
        ),
    }


def test_fits_receive_nothing_after_the_origin(tables) -> None:
    """Every fitter gets the same frames whatever the rows after the origin say."""
    seen: dict[str, list[dict[str, pl.DataFrame]]] = {}

    def recorder(name):
        def fit(cut, origin, sampler):
            seen.setdefault(name, []).append(dict(cut))
            return rf.OriginFit(None, "recorded")

        return fit

    fitters = rf.Fitters(*(recorder(n) for n in ("deployment", "frontier", "av", "node")))
    settings = rh.RaceHindcastSettings(origins=(2015,))
    late = _late_changed(tables)
    rh.run_race_hindcast(tables, settings, fitters=fitters)
    rh.run_race_hindcast(late, settings, fitters=fitters)
    for name, calls in seen.items():
        assert len(calls) == 2, name
        first, second = calls
        for t in first:
            assert first[t].equals(second[t]), (name, t)
    # the perturbation is real: the full tables differ after the origin
    assert not late["production"].equals(tables["production"])


def test_origin_panel_leaves_out_industries_without_every_nation(tables) -> None:
    data, notes = rf.origin_panel(race_spec.load_spec(), rf.cut_tables(tables, 2015))
    assert set(data.industries) == {"solar_pv", "batteries_evs"}
    assert any(n.startswith("ai_foundation_models") and "KOR" in n for n in notes)
    assert data.obs["year"].max() == 2015


# ---------------------------------------------------------------------------------------------
# Share draws from known parameters
# ---------------------------------------------------------------------------------------------


def _panel(kind: str) -> DeploymentData:
    nations = ["A", "B", "OTHER"]
    series = pl.DataFrame(
        {
            "series": [f"x:{n}" for n in nations],
            "industry": ["x"] * 3,
            "nation": nations,
            "data_nation": nations,
            "kind": [kind] * 3,
            "unit": ["u"] * 3,
        },
        schema=SERIES_SCHEMA,
    )
    obs = pl.DataFrame(
        {
            "series": [f"x:{n}" for n in nations for _ in range(3)],
            "industry": ["x"] * 9,
            "nation": [n for n in nations for _ in range(3)],
            "year": [2009, 2010, 2011] * 3,
            "volume": [5.0] * 9,
        },
        schema=OBS_SCHEMA,
    )
    return DeploymentData(series, obs, pl.DataFrame(schema=SHARE_SCHEMA), ("x",), (), {"x": 2010.0})


def _fit(level, growth, *, sigma=None, inv_sqrt_alpha=None, n=400) -> xr.DataTree:
    def const(v, dims=()):
        v = np.asarray(v, float)
        return (("chain", "draw", *dims), np.broadcast_to(v, (1, n, *v.shape)).copy())

    post = {"level": const(level, ("series",)), "growth": const(growth, ("series",))}
    if sigma is not None:
        post["sigma"] = const([sigma] * 3, ("level_series",))
    if inv_sqrt_alpha is not None:
        post["inv_sqrt_alpha"] = const([inv_sqrt_alpha], ("count_industry",))
    root = xr.DataTree()
    root["loglinear"] = xr.DataTree(children={"posterior": xr.DataTree(xr.Dataset(post))})
    root["model_comparison"] = xr.DataTree(
        dataset=xr.Dataset({"preferred": ("industry", ["loglinear"])}, coords={"industry": ["x"]})
    )
    return root


def test_share_draws_recover_the_shares_of_known_levels_and_growth() -> None:
    level, growth = np.log([3.0, 1.0, 6.0]), np.array([0.1, 0.3, 0.0])
    fit = _fit(level, growth, sigma=1e-9)
    years = [2011, 2015]
    d = rh.share_draws(fit, _panel("level"), "x", years, n_draws=50, seed=1)
    assert d.dims == ("draw", "nation", "year") and d.nation.values.tolist() == ["A", "B"]
    for k, y in enumerate(years):
        v = np.exp(level + growth * (y - 2010))
        np.testing.assert_allclose(d.values[:, :, k], np.broadcast_to(v[:2] / v.sum(), (50, 2)))


def test_share_draws_carry_the_noise_scale() -> None:
    """With normal noise of sd sigma on each ln volume, ln(share_A / share_B) has sd
    sqrt(2) sigma around the mean difference."""
    fit = _fit(np.log([2.0, 1.0, 4.0]), np.zeros(3), sigma=0.3)
    d = rh.share_draws(fit, _panel("level"), "x", [2012], n_draws=400, seed=2)
    r = np.log(d.sel(nation="A").values[:, 0] / d.sel(nation="B").values[:, 0])
    assert abs(r.mean() - np.log(2.0)) < 0.06
    assert abs(r.std() - np.sqrt(2) * 0.3) < 0.04


def test_share_draws_of_counts() -> None:
    fit = _fit(np.log([3000.0, 1000.0, 6000.0]), np.zeros(3), inv_sqrt_alpha=1e-3)
    d = rh.share_draws(fit, _panel("count"), "x", [2012], n_draws=200, seed=3)
    np.testing.assert_allclose(d.mean("draw").values[:, 0], [0.3, 0.1], atol=0.005)


# ---------------------------------------------------------------------------------------------
# Scoring by hand
# ---------------------------------------------------------------------------------------------


def test_score_rows_by_hand() -> None:
    x = np.linspace(1.0, 2.0, 101)  # quantiles 1.05, 1.25, 1.5, 1.75, 1.95
    arr = np.stack([x, x], axis=1)[:, None, :]  # (draw, nation, year)
    draws = xr.DataArray(
        arr, dims=("draw", "nation", "year"), coords={"nation": ["A"], "year": [2019, 2020]}
    )
    obs = pl.DataFrame(
        {"nation": ["A", "A", "B"], "year": [2019, 2020, 2019], "value": [1.2, 1.6, 1.0]}
    )
    base = {"industry": "x", "role": "capability", "metric": "m", "unit": "u", "model": "t"}
    rows = rh.score_rows(draws, obs, ["A"], 2018, base)
    assert [(r["target_year"], r["horizon"]) for r in rows] == [(2019, 1), (2020, 2)]
    r1, r2 = rows
    np.testing.assert_allclose([r1[c] for c in rh.QCOLS], [1.05, 1.25, 1.5, 1.75, 1.95])
    assert (r1["inside50"], r1["inside90"]) == (False, True)
    assert (r2["inside50"], r2["inside90"]) == (True, True)
    q = np.log([1.05, 1.25, 1.5, 1.75, 1.95])
    y = np.log(1.2)
    lv = np.array(rh.LEVELS)
    expected = np.mean(np.where(y >= q, lv * (y - q), (1 - lv) * (q - y)))
    assert r1["log_pinball"] == pytest.approx(expected)


def test_score_rows_skip_years_the_projection_does_not_reach() -> None:
    arr = np.ones((10, 1, 1))
    arr[3, 0, 0] = np.nan
    draws = xr.DataArray(
        arr, dims=("draw", "nation", "year"), coords={"nation": ["A"], "year": [2019]}
    )
    obs = pl.DataFrame({"nation": ["A"], "year": [2019], "value": [1.0]})
    assert rh.score_rows(draws, obs, ["A"], 2018, {}) == []


def _forecasts(role, horizons, in50, in90) -> pl.DataFrame:
    n = len(horizons)
    return pl.DataFrame(
        {
            "role": [role] * n,
            "horizon": horizons,
            "inside50": in50,
            "inside90": in90,
            "log_pinball": [0.1 * (k + 1) for k in range(n)],
        }
    )


def test_coverage_table_and_check() -> None:
    fc = pl.concat(
        [
            _forecasts("volume", [1, 2, 4, 7], [True, False, True, False], [True] * 4),
            _forecasts("capability", [1, 1], [False, False], [False, False]),
        ]
    )
    cov = rh.coverage_table(fc)
    v = {
        r["horizon_group"]: r for r in cov.filter(pl.col("role") == "volume").iter_rows(named=True)
    }
    assert v["1-2"]["n"] == 2 and v["1-2"]["coverage_50"] == 0.5
    assert v["3-5"]["n"] == 1 and v["6-10"]["n"] == 1
    assert v["all"]["n"] == 4 and v["all"]["coverage_90"] == 1.0
    assert v["all"]["log_pinball"] == pytest.approx(0.25)
    ok, message = rh.coverage_check(cov)
    assert not ok and "capability 90%: 0.00" in message and "OUT" in message
    ok_v, _ = rh.coverage_check(cov.filter(pl.col("role") == "volume"))
    assert ok_v  # 4 forecasts: the binomial band is wide


# ---------------------------------------------------------------------------------------------
# The real hindcast at one origin (slow)
# ---------------------------------------------------------------------------------------------

SMALL = rh.RaceHindcastSettings(origins=(2015,), chains=2, tune=300, draws=300, n_draws=400)


@pytest.fixture(scope="module")
def runs(tables):
    return (
        rh.run_race_hindcast(tables, SMALL),
        rh.run_race_hindcast(_late_changed(tables), SMALL),
    )


@pytest.mark.slow
def test_real_hindcast_at_2015(runs) -> None:
    (fc, fits), _ = runs
    assert set(fc["origin"].to_list()) == {2015}
    got = set(zip(fc["industry"], fc["role"], strict=True))
    assert got == {
        ("solar_pv", "volume"),
        ("batteries_evs", "volume"),
        ("semiconductors", "capability"),
    }
    assert fc["horizon"].min() == 1 and fc["horizon"].max() <= 10
    assert (fc["target_year"] == fc["origin"] + fc["horizon"]).all()
    vol = fc.filter(pl.col("role") == "volume")
    assert vol["q05"].min() >= 0 and vol["q95"].max() <= 1
    ordered = pl.concat_list(list(rh.QCOLS)).list.eval(pl.element().diff().drop_nulls().min())
    assert (fc.select(ordered.alias("d"))["d"].explode() >= 0).all()
    f = {r["model"]: r for r in fits.iter_rows(named=True)}
    assert f["deployment"]["fitted"] and f["node"]["fitted"]
    assert not f["frontier"]["fitted"] and not f["av"]["fitted"]  # no data enough at 2015
    cov = rh.coverage_table(fc)
    assert cov.filter(pl.col("horizon_group") == "all")["n"].sum() == fc.height


@pytest.mark.slow
def test_values_after_the_origin_change_no_forecast(runs) -> None:
    (fc, _), (fc_late, _) = runs
    assert fc.height == fc_late.height
    assert fc.select(rh.QCOLS).equals(fc_late.select(rh.QCOLS))
    # but the observed nodes after 2015 did change, and with them the scores
    node = pl.col("industry") == "semiconductors"
    assert not fc.filter(node)["observed"].equals(fc_late.filter(node)["observed"])
