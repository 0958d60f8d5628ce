"""Rolling-origin hindcast: no future cost ever reaches a fit, and the output tables."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.evaluation import hindcast as hc
from learnrace_pipeline.lib.evaluation.hindcast_fit import PooledFitter
from learnrace_pipeline.lib.evaluation.hindcast_scores import POOLED_PROJECTED, coverage_check
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.types import ForecastConfig
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.learning.panel import build_panel
from learnrace_pipeline.lib.models.learning.simulate import synthetic_frames

QUANTS = ["q025", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "q975"]


def _frames(seed: int = 3, **kw):
    frames, _ = synthetic_frames(
        n_industries=2, series_per_industry=kw.pop("spi", 5), n_points=kw.pop("n", (14, 22)),
        seed=seed, **kw,
    )  # fmt: skip
    return frames


def _panel(frames, poison_after: int | None = None):
    cost = frames["cost_observations"]
    if poison_after is not None:  # future costs 1000x: any leak would move the forecasts
        cost = cost.with_columns(
            pl.when(pl.col("year") > poison_after)
            .then(pl.col("unit_cost") * 1000.0)
            .otherwise(pl.col("unit_cost"))
            .alias("unit_cost")
        )
    return build_panel(cost, frames["production"], frames["technologies"])


class SpyFitter:
    """Records what each fit receives and returns a fixed population prior."""

    def __init__(self, drift: bool = False) -> None:
        self.calls: list[tuple[int, pl.DataFrame, pl.DataFrame, np.ndarray]] = []
        rng = np.random.default_rng(0)
        self.prior = PopulationPrior(
            "all",
            rng.normal(0.35, 0.02, 100),
            np.full(100, 0.1),
            rng.normal(-2.5, 0.05, 100),
            np.full(100, 0.4),
            np.full(100, 0.2),
            nu=np.full(100, 5.0) if drift else None,
            m_mu=rng.normal(0.02, 0.005, 100) if drift else None,
            m_sd=np.full(100, 0.01) if drift else None,
        )

    def __call__(self, origin, train, mask):
        self.calls.append((origin, train.obs, train.levels, mask))
        return {"all": self.prior}, {"divergences": 0.0}


CFG = hc.HindcastConfig(
    min_train_points=8, origin_step=2, max_horizon=5, min_fit_series=3,
    forecast=ForecastConfig(n_samples=300, max_prior_draws=100),
)  # fmt: skip


def test_fits_see_no_future_data_and_poisoned_futures_change_nothing() -> None:
    frames = _frames()
    panel = _panel(frames)
    origin = hc.origins(panel, CFG)[1]
    cfg = hc.HindcastConfig(**{**CFG.__dict__, "first_origin": origin, "last_origin": origin})
    clean_spy, poison_spy = SpyFitter(), SpyFitter()
    clean = hc.run_hindcast(panel, cfg, fitter=clean_spy)
    poisoned = hc.run_hindcast(_panel(frames, poison_after=origin), cfg, fitter=poison_spy)

    ((o, obs, levels, mask),) = clean_spy.calls
    assert o == origin
    assert levels["year"].max() <= origin
    after = obs.filter(pl.col("year") > origin)
    assert after.height > 0
    assert (after["dlogc"] == 0).all() and (after["dlogq"] == 0).all()
    assert np.array_equal(mask, panel.origin_mask(origin))
    # the fit inputs are identical with and without the poisoned future
    (_, obs_p, levels_p, mask_p) = poison_spy.calls[0]
    assert obs.equals(obs_p) and levels.equals(levels_p) and np.array_equal(mask, mask_p)
    # ... and so are all forecasts of all five models; only the outcomes differ
    a, b = clean["forecasts"], poisoned["forecasts"]
    assert set(a["model"]) == {
        "pooled_wright", "ols_wright", "rw_drift", "no_change", "ols_wright_shared_drift",
    }  # fmt: skip
    assert a.select("model", "series", "year", *QUANTS).equals(
        b.select("model", "series", "year", *QUANTS)
    )
    assert (b["log_actual"] - a["log_actual"]).min() == pytest.approx(np.log(1000.0))


def test_the_experience_time_forecaster_sees_no_future_data() -> None:
    frames = _frames()
    panel = _panel(frames)
    origin = hc.origins(panel, CFG)[1]
    cfg = hc.HindcastConfig(
        **{**CFG.__dict__, "first_origin": origin, "last_origin": origin, "experience_time": True}
    )
    runs, spies = [], []
    for poison in (None, origin):
        spy = SpyFitter(drift=True)
        spies.append(spy)
        runs.append(
            hc.run_hindcast(
                _panel(frames, poison_after=poison),
                cfg,
                fitter=SpyFitter(),
                experience_time_fitter=spy,
            )
        )
    ((o, obs, levels, mask),) = spies[0].calls
    assert o == origin and levels["year"].max() <= origin
    assert (obs.filter(pl.col("year") > origin)["dlogc"] == 0).all()
    assert np.array_equal(mask, panel.origin_mask(origin))
    (_, obs_p, levels_p, mask_p) = spies[1].calls[0]
    assert obs.equals(obs_p) and levels.equals(levels_p) and np.array_equal(mask, mask_p)
    a, b = (r["forecasts"].filter(pl.col("model") == "pooled_experience_time") for r in runs)
    assert a.height > 0
    assert a.select("series", "year", *QUANTS).equals(b.select("series", "year", *QUANTS))
    assert (b["log_actual"] - a["log_actual"]).min() == pytest.approx(np.log(1000.0))


def test_hindcast_tables() -> None:
    panel = _panel(_frames(seed=5))
    spy = SpyFitter()
    out = hc.run_hindcast(panel, CFG, fitter=spy)
    f = out["forecasts"]
    assert set(out) == {
        "forecasts", "scores_by_horizon", "scores_by_horizon_group", "scores_by_industry",
        "scores", "pit", "origins",
    }  # fmt: skip
    assert f["horizon"].min() >= 1 and f["horizon"].max() <= CFG.max_horizon
    assert (f["year"] - f["origin"] == f["horizon"]).all()
    # every forecast series had >= min_train_points points up to its origin
    lv = panel.levels
    for o, s in f.select("origin", "series").unique().rows():
        assert lv.filter((pl.col("series") == s) & (pl.col("year") <= o)).height >= 8
    assert [c[0] for c in spy.calls] == hc.origins(panel, CFG)
    assert out["origins"]["origin"].to_list() == hc.origins(panel, CFG)
    q = f.select(QUANTS).to_numpy()
    assert np.all(np.diff(q, axis=1) >= 0)
    sh = out["scores_by_horizon"]
    assert sh.height == 5 * CFG.max_horizon
    assert (
        out["pit"].group_by("model").agg(pl.col("count").sum())["count"].to_list()
        == [f.height // 5] * 5
    )
    # the point-error columns agree with the forecasts they summarise
    e = f.filter(pl.col("model") == "no_change")
    log_err = np.log(e["q50"].to_numpy()) - e["log_actual"].to_numpy()
    assert e["log_error"].to_numpy() == pytest.approx(log_err)
    h1 = sh.filter((pl.col("model") == "no_change") & (pl.col("horizon") == 1))
    err1 = e.filter(pl.col("horizon") == 1)["log_error"].to_numpy()
    assert h1["rmse_log"][0] == pytest.approx(np.sqrt(np.mean(err1**2)))
    s = out["scores"]
    assert s.filter(pl.col("model") == "ols_wright")["log_pinball_ratio_ols"][0] == 1.0
    assert s["rmse_log_growth"].null_count() == 0
    ok, msg = coverage_check(s, "pooled_wright")
    assert "50% intervals cover" in msg and isinstance(ok, bool)


def test_origins_rules() -> None:
    panel = _panel(_frames(seed=7, spi=3, n=(12, 12)))  # 6 series, 1970-1981
    cfg = hc.HindcastConfig(min_train_points=8, origin_step=2, max_horizon=10, min_fit_series=3)
    # last year with an outcome after it is 1980; >= 8 training points from 1977 on
    assert hc.origins(panel, cfg) == [1978, 1980]
    strict = hc.HindcastConfig(min_train_points=8, min_fit_series=7)
    assert hc.origins(panel, strict) == []


def test_projected_mode_adds_a_model() -> None:
    panel = _panel(_frames(seed=9))
    cfg = hc.HindcastConfig(**{**CFG.__dict__, "production": "projected"})
    out = hc.run_hindcast(panel, cfg, fitter=SpyFitter())
    f = out["forecasts"]
    proj = f.filter(pl.col("model") == POOLED_PROJECTED)
    assert proj.height > 0 and set(proj["production"]) == {"projected"}


@pytest.mark.slow
def test_real_pooled_fit_is_blind_to_poisoned_futures() -> None:
    """The compiled pooled model, refitted per origin, gives identical forecasts when every
    future cost is poisoned (one compile serves both runs: the data are swapped)."""
    frames = _frames(seed=11, spi=4, n=(13, 16))
    panel = _panel(frames)
    origin = hc.origins(panel, CFG)[0]
    cfg = hc.HindcastConfig(
        **{**CFG.__dict__, "first_origin": origin, "last_origin": origin,
           "sampler": SamplerConfig(draws=60, tune=60, chains=1, seed=5)},
    )  # fmt: skip
    fitter = PooledFitter(panel, cfg.sampler, max_prior_draws=60)
    a = hc.run_hindcast(panel, cfg, fitter=fitter)["forecasts"]
    b = hc.run_hindcast(_panel(frames, poison_after=origin), cfg, fitter=fitter)["forecasts"]
    assert fitter.fits == 2
    assert a.select("model", "series", "year", *QUANTS).equals(
        b.select("model", "series", "year", *QUANTS)
    )
    assert not a["log_actual"].equals(b["log_actual"])


# --------------------------------------------------------------------------------------------
# the time-only hindcast (pooled time trend vs random walk with drift)
# --------------------------------------------------------------------------------------------


def _time_panel(frames, poison_after: int | None = None):
    from learnrace_pipeline.lib.models.learning.time_panel import build_time_panel

    cost = frames["cost_observations"]
    if poison_after is not None:
        cost = cost.with_columns(
            pl.when(pl.col("year") > poison_after)
            .then(pl.col("unit_cost") * 1000.0)
            .otherwise(pl.col("unit_cost"))
            .alias("unit_cost")
        )
    return build_time_panel(cost, frames["technologies"])


def test_time_only_fits_see_no_future_costs() -> None:
    """The time-only hindcast: every fit sees only costs up to its origin, and poisoning every
    later cost (x1000) moves no forecast of pooled_time, rw_drift or no_change."""
    from learnrace_pipeline.lib.evaluation.hindcast_time import run_time_hindcast

    frames = _frames(seed=13)
    panel = _time_panel(frames)
    assert not panel.has_experience
    cfg = hc.HindcastConfig(**{**CFG.__dict__, "origin_step": 3})
    years = hc.origins(panel, cfg)
    assert len(years) >= 2
    clean_spy, poison_spy = SpyFitter(), SpyFitter()
    clean = run_time_hindcast(panel, cfg, fitter=clean_spy)
    poisoned = run_time_hindcast(_time_panel(frames, poison_after=years[0]), cfg,
                                 fitter=poison_spy)  # fmt: skip
    assert [c[0] for c in clean_spy.calls] == years
    for (o, obs, levels, mask), (_, obs_p, levels_p, mask_p) in zip(
        clean_spy.calls, poison_spy.calls, strict=True
    ):
        assert levels["year"].max() <= o
        after = obs.filter(pl.col("year") > o)
        assert after.height > 0 and (after["dlogc"] == 0).all()
        assert np.array_equal(mask, panel.origin_mask(o)) and np.array_equal(mask, mask_p)
        if o == years[0]:  # the poison starts after the first origin: identical inputs there
            assert obs.equals(obs_p) and levels.equals(levels_p)
    a = clean["forecasts"].filter(pl.col("origin") == years[0])
    b = poisoned["forecasts"].filter(pl.col("origin") == years[0])
    assert set(a["model"]) == {"pooled_time", "rw_drift", "no_change"}
    assert a.select("model", "series", "year", *QUANTS).equals(
        b.select("model", "series", "year", *QUANTS)
    )
    assert (b["log_actual"] - a["log_actual"]).min() == pytest.approx(np.log(1000.0))
    s = clean["scores"]
    assert s.filter(pl.col("model") == "rw_drift")["log_pinball_ratio_rw"][0] == 1.0
    assert set(s["model"]) == {"pooled_time", "rw_drift", "no_change"}
    assert clean["origins"]["origin"].to_list() == years


def test_time_only_series_are_those_without_experience() -> None:
    """time_only_cost keeps the time-panel series whose technology and nation the Wright panel
    lacks: here, one technology's series stripped of production."""
    from learnrace_pipeline.lib.evaluation.hindcast_time import time_only_cost

    frames = _frames(seed=15)
    wright = _panel(frames)
    time_all = _time_panel(frames)
    drop = wright.series["series_id"][0]
    prod = frames["production"].filter(pl.col("series_id") != drop)
    wright_less = build_panel(frames["cost_observations"], prod, frames["technologies"])
    assert time_only_cost(frames["cost_observations"], time_all, wright).height == 0
    only = time_only_cost(frames["cost_observations"], time_all, wright_less)
    assert set(only["series_id"]) == {drop}


@pytest.mark.slow
def test_real_time_fit_is_blind_to_poisoned_futures() -> None:
    """The compiled pooled time-trend model, refitted at one origin, gives identical time-only
    forecasts when every later cost is poisoned."""
    from learnrace_pipeline.lib.evaluation.hindcast_time import run_time_hindcast

    frames = _frames(seed=17, spi=4, n=(13, 16))
    panel = _time_panel(frames)
    origin = hc.origins(panel, CFG)[0]
    cfg = hc.HindcastConfig(
        **{**CFG.__dict__, "first_origin": origin, "last_origin": origin,
           "sampler": SamplerConfig(draws=60, tune=60, chains=1, seed=5)},
    )  # fmt: skip
    fitter = PooledFitter(panel, cfg.sampler, max_prior_draws=60, trend="time")
    a = run_time_hindcast(panel, cfg, fitter=fitter)["forecasts"]
    b = run_time_hindcast(_time_panel(frames, poison_after=origin), cfg, fitter=fitter)
    assert fitter.fits == 2
    assert a.select("model", "series", "year", *QUANTS).equals(
        b["forecasts"].select("model", "series", "year", *QUANTS)
    )
