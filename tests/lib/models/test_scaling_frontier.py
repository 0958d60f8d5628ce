"""AI compute frontier per nation: records, selection, cells, the record-process model, its
forecasts against closed forms, recovery from simulated data, and the real Epoch tables."""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import pymc as pm
import pytest
import xarray as xr
from scipy import stats

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models import frontier as fr
from learnrace_pipeline.lib.models import frontier_data as fd
from learnrace_pipeline.lib.models import frontier_posterior as fp
from learnrace_pipeline.lib.models.base import load, save
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.report.plots_scaling import plot_frontier
from learnrace_pipeline.lib.sources.schema import TABLES

D = dt_.date


def _m(model, nation, date, flop, conf="Confident", frontier=True):
    return {
        "model": model,
        "organization": "org",
        "nations": None,
        "nation": nation,
        "nation_basis": "organization" if nation else None,
        "frontier_scale": frontier,
        "publication_date": date,
        "training_compute_flop": flop,
        "parameters": None,
        "dataset_size": None,
        "confidence": conf,
        "domain": "Language",
        "dataset": "notable",
    }


def _toy() -> pl.DataFrame:
    rows = [
        _m("A0", "USA", D(2014, 6, 1), 1e20),  # before the window: sets the bar
        _m("A1", "USA", D(2015, 3, 1), 5e19),  # below the earlier record: not a record
        _m("A2", "USA", D(2016, 1, 1), 2e20, conf="Speculative"),
        _m("A3", "USA", D(2017, 1, 1), 1e21, conf=None),
        _m("A4", "USA", D(2017, 6, 1), 1e21),  # ties the record: not a record
        _m("A5", "USA", D(2018, 1, 1), None),  # no compute: cannot be on a frontier
        _m("C0", "CHN", D(2016, 5, 1), 1e18, frontier=False),  # catch-up record, not frontier
        _m("C1", "CHN", D(2017, 5, 1), 1e21),  # China's entry
        _m("C2", "CHN", D(2017, 9, 1), 2e21, frontier=False),  # after the entry: counts
        _m("N1", None, D(2018, 2, 1), 1e23),  # no nation credited
    ]
    return pl.DataFrame(rows, schema=TABLES["ai_models"])


def test_running_records_and_selection():
    rec = fd.running_records(_toy())
    got = {n: g["model"].to_list() for (n,), g in rec.group_by("nation", maintain_order=True)}
    assert got == {"CHN": ["C0", "C1", "C2"], "USA": ["A0", "A2", "A3"]}
    usa = rec.filter(pl.col("nation") == "USA")
    assert usa["confidence_class"].to_list() == ["rated", "speculative", "unrated"]
    assert usa["log10_flop"].to_list() == pytest.approx([20.0, np.log10(2e20), 21.0])
    # fitted: from the nation's first frontier-scale record in the window, then every record
    sel = fd.select_frontier(_toy())
    assert sel.filter(pl.col("nation") == "CHN")["model"].to_list() == ["C1", "C2"]
    assert sel.filter(pl.col("nation") == "USA")["model"].to_list() == ["A2", "A3"]
    every = fd.select_frontier(_toy(), fd.FrontierConfig(selection="records"))
    assert every.filter(pl.col("nation") == "CHN")["model"].to_list() == ["C0", "C1", "C2"]
    with pytest.raises(ModelError, match="unknown selection"):
        fd.select_frontier(_toy(), fd.FrontierConfig(selection="median"))


def test_data_end_and_training_window():
    assert fd.data_end(_toy()) == D(2018, 2, 1)
    cfg = fd.FrontierConfig(end="2017-06-01")
    assert fd.data_end(_toy(), cfg) == D(2017, 5, 31)
    rec = fd.running_records(_toy(), cfg)
    assert rec["publication_date"].max() <= D(2017, 5, 31)
    assert "C2" not in rec["model"].to_list()


def test_decimal_year():
    assert fd.to_decimal_year(D(2020, 1, 1)) == 2020.0
    assert fd.to_decimal_year(D(2021, 7, 2)) == pytest.approx(2021 + 182 / 365)
    df = pl.DataFrame({"d": [D(2020, 12, 31), D(2021, 7, 2)]})
    got = df.select(fd.decimal_year(pl.col("d")))["d"].to_list()
    assert got == pytest.approx([2020 + 365 / 366, 2021 + 182 / 365])


@pytest.mark.parametrize(
    ("i", "column", "value", "problem"),
    [
        (3, "training_compute_flop", 0.0, "compute is not positive"),
        (8, "training_compute_flop", -1e20, "compute is not positive"),
        (2, "training_compute_flop", float("inf"), "compute is not finite"),
        (4, "publication_date", None, "no date"),
    ],
)
def test_bad_rows_are_named(i, column, value, problem):
    df = _toy().with_row_index("_k")
    df = df.with_columns(
        pl.when(pl.col("_k") == i - 1).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    ).drop("_k")
    with pytest.raises(DataError, match=problem) as err:
        fd.select_frontier(df)
    assert err.value.row == i and err.value.column == column and err.value.source == "ai_models"
    assert repr(df["model"][i - 1]) in err.value.problem


def test_modelled_and_insufficient_nations():
    data = fd.prepare_frontier_data(_toy())
    assert data.nations == ["CHN", "USA"]
    assert data.points["event"].to_list() == [False, True, False, True]
    data = fd.prepare_frontier_data(_toy(), fd.FrontierConfig(start="2016-12-01"))
    assert data.nations == ["CHN"]  # the USA has one record setter from Dec 2016: A3
    assert dict(data.insufficient.iter_rows()) == {"USA": 1}
    with pytest.raises(ModelError, match="no nation"):
        fd.prepare_frontier_data(_toy(), fd.FrontierConfig(min_records=3))


def test_cells_cover_each_window_with_the_record_in_force():
    data = fd.prepare_frontier_data(_toy())
    t_end = fd.to_decimal_year(D(2018, 2, 2))
    for nation, first in (("USA", D(2016, 1, 1)), ("CHN", D(2017, 5, 1))):
        c = data.cells.filter(pl.col("nation") == nation)
        assert c["width_years"].sum() == pytest.approx(t_end - fd.to_decimal_year(first))
        assert c["width_years"].max() <= 31 / 365 + 1e-9  # about a month at most
    chn = data.cells.filter(pl.col("nation") == "CHN")
    before = chn.filter(pl.col("t") < fd.to_decimal_year(D(2017, 9, 1)))
    after = chn.filter(pl.col("t") > fd.to_decimal_year(D(2017, 9, 1)))
    assert before["record"].to_numpy() == pytest.approx(np.full(before.height, 21.0))
    assert after["record"].to_numpy() == pytest.approx(np.full(after.height, np.log10(2e21)))


@pytest.fixture(scope="module")
def sim_data():
    return fd.simulate_frontier_data(seed=4)


@pytest.mark.filterwarnings("ignore:The effect of Potentials")
def test_prior_predictive_shapes(sim_data):
    model = fr.build_frontier_model(sim_data)
    with model:
        pri = pm.sample_prior_predictive(draws=6, random_seed=2)
    y = pri["prior_predictive"]["log10_flop"]
    assert y.dims == ("chain", "draw", "obs") and y.shape == (1, 6, sim_data.points.height)
    assert list(pri["prior"]["beta"]["nation"].values) == ["CHN", "GBR", "USA"]
    np.testing.assert_allclose(
        pri["prior"]["doubling_months"].values, 12 * np.log10(2) / pri["prior"]["beta"].values
    )


@pytest.mark.filterwarnings("ignore:The effect of Potentials")
def test_record_process_term_matches_pymc(sim_data):
    """The Potential of the PyMC model equals the NumPy record-process term, at prior draws."""
    model = fr.build_frontier_model(sim_data)
    fn = model.compile_fn(model["record_process"], inputs=model.free_RVs, on_unused_input="ignore")
    with model:
        pri = pm.sample_prior_predictive(draws=3, random_seed=5)["prior"]
    for k in range(3):
        point = {v: pri[v].values[0, k] for v in pri.data_vars}
        got = fn({rv.name: point[rv.name] for rv in model.free_RVs})
        assert float(got) == pytest.approx(fr.record_process_term(point, sim_data), rel=1e-9)


END = D(2020, 1, 1)


def _fake_fit(*, alpha=24.0, beta=0.0, sigma=0.5, nu=2.0, draws=20000, end=END) -> xr.DataTree:
    """A one-nation 'posterior' with fixed parameters: USA record 23.5 (2019-06-01) and a
    second nation, FRA, with one record (insufficient data)."""
    shape = (1, draws)
    post = xr.Dataset(
        {
            "alpha": (("chain", "draw", "nation"), np.full((*shape, 1), alpha)),
            "beta": (("chain", "draw", "nation"), np.full((*shape, 1), beta)),
            "doubling_months": (("chain", "draw", "nation"), np.full((*shape, 1), 7.0)),
            "runs_per_year": (("chain", "draw", "nation"), np.full((*shape, 1), nu)),
            "sigma": (("chain", "draw"), np.full(shape, sigma)),
            "tau_speculative": (("chain", "draw"), np.full(shape, 0.3)),
            "tau_unrated": (("chain", "draw"), np.full(shape, 0.3)),
        },
        coords={"chain": [0], "draw": np.arange(draws), "nation": ["USA"]},
    )
    records = xr.Dataset(
        {
            "nation": ("record", np.array(["USA", "USA", "FRA"])),
            "model": ("record", np.array(["U1", "U2", "F1"])),
            "publication_date": ("record", np.array(["2018-01-01", "2019-06-01", "2019-01-01"])),
            "log10_flop": ("record", np.array([23.0, 23.5, 22.0])),
        }
    )
    fit_data = xr.Dataset(
        {
            "nation": ("obs", np.array(["USA", "USA"])),
            "model": ("obs", np.array(["U1", "U2"])),
            "publication_date": ("obs", np.array(["2018-01-01", "2019-06-01"])),
            "confidence_class": ("obs", np.array(["rated", "rated"])),
        }
    )
    ins = xr.Dataset({"n_points": ("other", np.array([1]))}, coords={"other": ["FRA"]})
    dt = xr.DataTree.from_dict(
        {"posterior": post, "records": records, "fit_data": fit_data, "insufficient": ins}
    )
    dt.attrs["end"] = end.isoformat()
    return dt


def test_frontier_inside_the_data_is_the_record():
    dt = _fake_fit(beta=0.5)
    f = fp.frontier_draws(dt, D(2019, 3, 1))
    assert list(f["nation"].values) == ["USA", "FRA"]
    assert np.all(f.sel(nation="USA").values == 23.0)  # U2 comes later
    tab = fp.frontier_at(dt, D(2019, 12, 31))
    assert tab["nation"].to_list() == ["USA", "FRA"]
    assert tab["status"].to_list() == ["observed", "observed"]
    assert tab["p_leader"].to_list() == [1.0, 0.0]
    assert tab["log10_flop_q05"].to_list() == tab["record_log10_flop"].to_list() == [23.5, 22.0]
    assert tab["record_model"].to_list() == ["U2", "F1"]
    assert tab["gap_years_q50"].to_list() == [0.0, None]  # FRA has no trend
    assert fp.frontier_at(dt, D(2018, 1, 1))["nation"].to_list() == ["USA"]  # the first record


def test_as_of_outside_the_data_window_is_refused():
    """From the first record (2018-01-01) to 10 years past the data end (2020-01-01): before it
    there is no frontier, after it the record process would be extrapolated unchecked."""
    dt = _fake_fit(beta=0.5, draws=200)
    assert fp.data_window(dt) == (D(2018, 1, 1), END)
    assert fp.as_of_window(D(2018, 1, 1), END) == (D(2018, 1, 1), D(2030, 1, 1))
    allowed = (
        "the frontier is given from 2018-01-01 (the first model with known compute) to "
        "2030-01-01 (10 years past the data end, 2020-01-01)"
    )
    with pytest.raises(ModelError) as e:
        fp.frontier_at(dt, D(2017, 12, 31))
    assert str(e.value) == f"as-of date 2017-12-31 is before the first model in the data: {allowed}"
    for late in (D(2030, 1, 2), D(9999, 12, 31)):
        with pytest.raises(ModelError) as e:
            fp.frontier_at(dt, late)
        assert str(e.value) == (
            f"as-of date {late} is more than 10 years past the data end: {allowed}"
        )
    edge = fp.frontier_at(dt, D(2030, 1, 1))  # the last date allowed: a forecast
    assert edge.filter(pl.col("nation") == "USA")["status"].to_list() == ["forecast"]
    # 29 February plus 10 years is 28 February; the window is capped at the last date
    assert fp.as_of_window(D(2000, 1, 1), D(2024, 2, 29))[1] == D(2034, 2, 28)
    assert fp.as_of_window(D(2000, 1, 1), D(9995, 1, 1))[1] == D(9999, 1, 1)


def test_forecast_matches_the_poisson_closed_form():
    """Flat trend mu, rate nu, sd s: P(F(t) <= x) = exp(-nu h (1 - Phi((x - mu) / s))) for x at
    or above the record, the atom at the record included."""
    mu, s, nu = 24.0, 0.5, 2.0
    dt = _fake_fit(alpha=mu, beta=0.0, sigma=s, nu=nu, draws=40000)
    when = D(2021, 1, 1)
    h = fd.to_decimal_year(when) - fd.to_decimal_year(D(2020, 1, 1))
    f = fp.frontier_draws(dt, when, seed=3).sel(nation="USA").values.ravel()
    for x in (23.5, 24.0, 24.5, 25.0):
        expected = np.exp(-nu * h * stats.norm.sf(x, mu, s))
        assert np.mean(f <= x) == pytest.approx(expected, abs=0.01), x
    assert f.min() == 23.5  # never below the record
    tab = fp.frontier_at(dt, when, seed=3)
    usa, fra = (tab.filter(pl.col("nation") == n).row(0, named=True) for n in ("USA", "FRA"))
    assert usa["status"] == "forecast" and fra["status"] == "insufficient data"
    assert fra["log10_flop_q50"] is None and fra["record_log10_flop"] == 22.0
    assert usa["p_leader"] == 1.0  # FRA keeps its record, below the USA's
    # the same seed gives the same draws; another seed other draws
    again = fp.frontier_draws(dt, when, seed=3).sel(nation="USA").values.ravel()
    assert np.array_equal(f, again)
    assert not np.array_equal(f, fp.frontier_draws(dt, when, seed=4).sel(nation="USA").values)


def test_gap_years_by_hand():
    dt = _fake_fit(beta=0.5)
    f = xr.DataArray(
        np.array([[[25.0, 24.0], [24.0, 25.0]]]),
        dims=("chain", "draw", "nation"),
        coords={"chain": [0], "draw": [0, 1], "nation": ["USA", "FRA"]},
    )
    post = dt["posterior"].to_dataset().isel(draw=[0, 1])
    dt2 = xr.DataTree.from_dict({"posterior": post})
    gap = fp.gap_years(dt2, f)
    assert gap.sel(nation="USA").values.ravel().tolist() == [0.0, 2.0]  # (25 - 24) / 0.5
    p = fp.leader_probability(f)
    assert p.sel(nation="USA").item() == 0.5


TRUTH = {"USA": (23.0, 0.62, 3.0), "CHN": (21.8, 0.70, 2.5), "GBR": (22.6, 0.55, 2.0)}


@pytest.fixture(scope="module")
def sim_fit(sim_data):
    return fr.fit_frontier_data(sim_data)


@pytest.mark.slow
def test_simulation_recovery(sim_fit, sim_data):
    check = check_fit(sim_fit)
    assert check.passed, check.describe()
    post = sim_fit["posterior"].to_dataset()
    q = post[["alpha", "beta", "runs_per_year"]].quantile(
        [0.005, 0.05, 0.95, 0.995], dim=("chain", "draw")
    )
    hits = []
    for n, (a, b, nu) in TRUTH.items():
        for name, v in (("alpha", a), ("beta", b), ("runs_per_year", nu)):
            qq = q[name].sel(nation=n).values
            assert qq[0] <= v <= qq[3], (name, n, qq)  # always inside the 99 % interval
            hits.append(qq[1] <= v <= qq[2])
    assert sum(hits) >= 7, hits  # nine nominal-90 % intervals: one or two misses are common
    qs = post["sigma"].quantile([0.05, 0.95]).values
    assert qs[0] <= 0.4 <= qs[1]
    assert sim_data.points.height >= 25  # enough record setters to say anything


@pytest.mark.slow
def test_frontier_at_on_a_fit(sim_fit, sim_data):
    end = sim_data.end
    tab = fp.frontier_at(sim_fit, end)
    assert tab["p_leader"].sum() == pytest.approx(1.0)
    rec = sim_data.points.sort("log10_flop").group_by("nation").last()
    best = rec.sort("log10_flop")["nation"][-1]
    assert tab["leader"][0] == best == tab["nation"][0]
    for r in tab.iter_rows(named=True):
        assert r["log10_flop_q05"] == r["log10_flop_q95"] == r["record_log10_flop"]
        assert r["gap_years_q05"] >= 0
    later = fp.frontier_at(sim_fit, end.replace(year=end.year + 2))
    assert (later["log10_flop_q05"] >= later["record_log10_flop"] - 1e-12).all()
    assert (later["log10_flop_q95"] > later["record_log10_flop"]).all()
    cols = [f"log10_flop_q{q}" for q in ("05", "25", "50", "75", "95")]
    assert (np.diff(later.select(cols).to_numpy(), axis=1) >= 0).all()


@pytest.mark.slow
def test_save_load_round_trip(sim_fit, tmp_path):
    back = load(
        save(sim_fit, tmp_path / "frontier.nc"), expected_model_id=sim_fit.attrs["model_id"]
    )
    when = D(2025, 6, 1)
    assert fp.frontier_at(back, when).equals(fp.frontier_at(sim_fit, when))


@pytest.mark.slow
def test_plot_is_png(sim_fit):
    png = plot_frontier(sim_fit, until=D(2025, 6, 1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


# ------------------------------------------------------------------------------------------
# the real Epoch AI tables (one nation per model)
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def epoch(raw_dir):
    from learnrace_pipeline.lib.sources import epoch_ai

    return epoch_ai.read(raw_dir)["ai_models"]


@pytest.mark.raw
def test_real_records(epoch):
    rec = fd.running_records(epoch)
    usa, chn = (rec.filter(pl.col("nation") == n) for n in ("USA", "CHN"))
    assert usa["model"][-1] == "Gemini 1.0 Ultra"
    assert usa["log10_flop"][-1] == pytest.approx(np.log10(5e25))
    assert chn["model"][-1] == "GLM-4 (0116)"  # large-scale file: one row per model now
    assert chn["log10_flop"][-1] == pytest.approx(np.log10(1.2e25))
    sel = fd.select_frontier(epoch)
    assert sel.filter(pl.col("nation") == "USA").height == 10
    assert sel.filter(pl.col("nation") == "CHN")["model"].to_list() == [
        "PLUG",
        "Yuan 1.0",
        "ERNIE 3.0 Titan",
        "SenseChat",
        "GLM-4 (0116)",
    ]
    assert {"CHE", "CAN"}.isdisjoint(
        fd.prepare_frontier_data(epoch).nations
    )  # no Google models credited to them


@pytest.fixture(scope="module")
def real_fit(epoch):
    return fr.fit_frontier(epoch)


@pytest.mark.raw
@pytest.mark.slow
def test_real_fit_leader_and_records(real_fit):
    check = check_fit(real_fit)
    assert check.passed, check.describe()
    for when in (D(2023, 1, 1), D(2024, 6, 30)):
        tab = fp.frontier_at(real_fit, when)
        usa = tab.filter(pl.col("nation") == "USA").row(0, named=True)
        assert tab["leader"][0] == "USA" and usa["p_leader"] >= 0.8, when
        # inside the data no median sits above the nation's own record
        inside = tab.filter(pl.col("status") == "observed")
        assert (inside["log10_flop_q50"] <= inside["record_log10_flop"] + 1e-9).all()
    # every nation with >= 5 record setters: its 90% interval at its last data date holds its
    # record
    pts = real_fit["fit_data"].to_dataset()
    nations, counts = np.unique(pts["nation"].values, return_counts=True)
    for n in nations[counts >= 5]:
        last = max(
            D.fromisoformat(d) for d in pts["publication_date"].values[pts["nation"].values == n]
        )
        row = fp.frontier_at(real_fit, last).filter(pl.col("nation") == n).row(0, named=True)
        assert row["log10_flop_q05"] <= row["record_log10_flop"] <= row["log10_flop_q95"], n
    assert set(nations[counts >= 5]) == {"CHN", "USA"}
    tab = fp.frontier_at(real_fit, D(2024, 6, 25))
    usa, chn = (tab.filter(pl.col("nation") == n).row(0, named=True) for n in ("USA", "CHN"))
    assert 5.0 <= usa["doubling_months_q50"] <= 9.0
    assert 0.5 <= chn["gap_years_q50"] <= 2.5  # China about a year behind at its own rate
