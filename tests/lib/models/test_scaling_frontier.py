"""AI compute frontier per nation: selection, bad input, model shapes, recovery, summaries."""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import pymc as pm
import pytest
import xarray as xr

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models import frontier as fr
from learnrace_pipeline.lib.models.base import load, save
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.models.groups import constant_data, observed_data
from learnrace_pipeline.lib.report.plots_scaling import plot_frontier
from learnrace_pipeline.lib.sources.schema import TABLES

D = dt_.date


def _m(model, nations, date, flop, conf="Confident", dataset="notable"):
    return {
        "model": model,
        "organization": "org",
        "nations": nations,
        "publication_date": date,
        "training_compute_flop": flop,
        "parameters": None,
        "dataset_size": None,
        "confidence": conf,
        "domain": "Language",
        "dataset": dataset,
    }


def _toy() -> pl.DataFrame:
    rows = [
        _m("A0", ["USA"], D(2014, 6, 1), 1e20),  # before the window: sets the bar
        _m("A1", ["USA"], D(2015, 3, 1), 5e19),  # below the earlier record: not a record
        _m("A2", ["USA"], D(2016, 1, 1), 2e20, conf="Speculative"),
        _m("A3", ["USA", "GBR"], D(2017, 1, 1), 1e21, conf=None),  # counts for both
        _m("A4", ["USA"], D(2017, 6, 1), 1e21),  # ties the record: not a record
        _m("A5", ["USA"], D(2018, 1, 1), None),  # no compute: cannot be on a frontier
        _m("H1", ["HKG"], D(2016, 5, 1), 1e18),  # Hong Kong folded into China
        _m("C1", ["CHN", "HKG"], D(2017, 5, 1), 1e19),  # counted once for China
        _m("M1", ["MULTI"], D(2018, 1, 1), 1e22),  # not a nation
        _m("N1", None, D(2018, 2, 1), 1e23),  # no country
        _m("A3", ["USA", "GBR"], D(2017, 1, 1), 1e21, dataset="large_scale"),  # overlap
    ]
    return pl.DataFrame(rows, schema=TABLES["ai_models"])


def test_records_per_nation():
    sel = fr.select_frontier(_toy())
    got = {n: g["model"].to_list() for (n,), g in sel.group_by("nation", maintain_order=True)}
    assert got == {"CHN": ["H1", "C1"], "GBR": ["A3"], "USA": ["A2", "A3"]}
    usa = sel.filter(pl.col("nation") == "USA")
    assert usa["confidence_class"].to_list() == ["speculative", "unrated"]
    assert usa["log10_flop"].to_list() == pytest.approx([np.log10(2e20), 21.0])
    # the overlapping large-scale row does not double-count under the union
    union = fr.select_frontier(_toy(), fr.FrontierConfig(dataset="union"))
    assert union.filter(pl.col("nation") == "USA")["model"].to_list() == ["A2", "A3"]
    # the whole history sets the bar: with the window from 2014 A0 is a record too
    early = fr.select_frontier(_toy(), fr.FrontierConfig(start="2014-01-01"))
    assert early.filter(pl.col("nation") == "USA")["model"].to_list() == ["A0", "A2", "A3"]


def test_top_k_per_year():
    sel = fr.select_frontier(_toy(), fr.FrontierConfig(selection="top_k", top_k=1))
    usa = sel.filter(pl.col("nation") == "USA")
    assert usa["model"].to_list() == ["A1", "A2", "A3"]  # 2015, 2016, 2017 (A3 beats A4 by name)
    with pytest.raises(ModelError, match="unknown selection"):
        fr.select_frontier(_toy(), fr.FrontierConfig(selection="median"))


def test_decimal_year():
    assert fr.to_decimal_year(D(2020, 1, 1)) == 2020.0
    assert fr.to_decimal_year(D(2021, 7, 2)) == pytest.approx(2021 + 182 / 365)
    df = pl.DataFrame({"d": [D(2020, 12, 31), D(2021, 7, 2)]})
    got = df.select(fr.decimal_year(pl.col("d")))["d"].to_list()
    assert got == pytest.approx([2020 + 365 / 366, 2021 + 182 / 365])


@pytest.mark.parametrize(
    ("i", "column", "value", "problem"),
    [
        (3, "training_compute_flop", 0.0, "compute is not positive"),
        (7, "training_compute_flop", -1e20, "compute is not positive"),
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
        fr.select_frontier(df)
    assert err.value.row == i and err.value.column == column and err.value.source == "ai_models"
    assert repr(df["model"][i - 1]) in err.value.problem


def test_min_points():
    data = fr.prepare_frontier_data(_toy(), fr.FrontierConfig(min_points=2))
    assert data.nations == ["CHN", "USA"]
    assert data.excluded["nation"].to_list() == ["GBR"]
    with pytest.raises(ModelError, match="no nation"):
        fr.prepare_frontier_data(_toy(), fr.FrontierConfig(min_points=5))


@pytest.fixture(scope="module")
def sim_data():
    return fr.simulate_frontier_data(seed=4)


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


def test_numpy_log_likelihood_equals_pymc(sim_data):
    model = fr.build_frontier_model(sim_data)
    with model:
        pri = pm.sample_prior_predictive(draws=4, random_seed=3)
    dt = xr.DataTree.from_dict(
        {
            "posterior": pri["prior"].to_dataset(),
            "constant_data": constant_data(model),
            "observed_data": observed_data(model),
        }
    )
    ours = fr.frontier_log_likelihood(dt)["log10_flop"].values
    ref = pm.compute_log_likelihood(dt, model=model, extend_inferencedata=False, progressbar=False)
    np.testing.assert_allclose(ours, ref["log10_flop"].values, rtol=1e-9)


TRUTH = {"USA": (23.0, 0.62), "CHN": (21.8, 0.70), "GBR": (22.6, 0.55)}


@pytest.fixture(scope="module")
def sim_fit(sim_data):
    return fr.fit_frontier_data(sim_data)


@pytest.mark.slow
def test_simulation_recovery(sim_fit):
    check = check_fit(sim_fit)
    assert check.passed, check.describe()
    post = sim_fit["posterior"]
    q = post.to_dataset()[["alpha", "beta"]].quantile(
        [0.005, 0.05, 0.95, 0.995], dim=("chain", "draw")
    )
    hits = []
    for n, (a, b) in TRUTH.items():
        for name, v in (("alpha", a), ("beta", b)):
            qq = q[name].sel(nation=n).values
            assert qq[0] <= v <= qq[3], (name, n, qq)  # always inside the 99 % interval
            hits.append(qq[1] <= v <= qq[2])
    assert sum(hits) >= 5, hits  # six nominal-90 % intervals: one miss is common
    qs = post["sigma"].quantile([0.05, 0.95]).values
    assert qs[0] <= 0.4 <= qs[1]
    # Speculative points get an extra noise term (true 0.5; weakly identified by ~7 points)
    qt = post["tau_speculative"].quantile([0.05, 0.5, 0.95]).values
    assert qt[0] <= 0.5 <= qt[2] and qt[1] > 0.15


@pytest.mark.slow
def test_frontier_at_and_gap(sim_fit):
    as_of = D(2024, 6, 30)
    tab = fr.frontier_at(sim_fit, as_of)
    assert tab["nation"].to_list() == ["CHN", "GBR", "USA"]
    assert tab["leader"].unique().to_list() == ["USA"]  # holds the largest simulated run
    assert tab["p_leader"].sum() == pytest.approx(1.0)
    usa = tab.filter(pl.col("nation") == "USA").row(0, named=True)
    assert usa["p_leader"] > 0.5
    assert usa["gap_years_q05"] == usa["gap_years_q95"] == 0.0
    # gap of China: (F_usa - F_chn) / beta_chn, per draw; the truth is ~1.8 years
    chn = tab.filter(pl.col("nation") == "CHN").row(0, named=True)
    t = fr.to_decimal_year(as_of) - fr.T0
    true_gap = ((23.0 + 0.62 * t) - (21.8 + 0.70 * t)) / 0.70
    assert chn["gap_years_q05"] <= true_gap <= chn["gap_years_q95"]
    post = sim_fit["posterior"]
    f = post["alpha"] + post["beta"] * t
    manual = ((f.sel(nation="USA") - f.sel(nation="CHN")) / post["beta"].sel(nation="CHN")).median()
    assert chn["gap_years_q50"] == pytest.approx(float(manual), rel=1e-9)
    pts = fr.simulate_frontier_data(seed=4).points
    top = pts.sort("log10_flop")["nation"][-1]
    assert fr.record_leader(sim_fit, as_of) == top == "USA"
    # before any point exists, the fitted medians decide
    assert fr.record_leader(sim_fit, D(2014, 1, 1)) is None
    assert fr.gap_years(sim_fit, D(2014, 1, 1))[0] in ("CHN", "GBR", "USA")
    # a fixed reference nation
    ref = fr.frontier_at(sim_fit, as_of, leader="CHN")
    assert ref.filter(pl.col("nation") == "USA")["gap_years_q50"][0] < 0
    with pytest.raises(ModelError, match="not a fitted nation"):
        fr.frontier_at(sim_fit, as_of, leader="FRA")
    # the observed record up to the date
    pts = fr.simulate_frontier_data(seed=4).points.filter(pl.col("nation") == "USA")
    assert usa["record_log10_flop"] == pytest.approx(pts["log10_flop"].max())
    cols = [f"log10_flop_q{q}" for q in ("05", "25", "50", "75", "95")]
    assert (np.diff(tab.select(cols).to_numpy(), axis=1) > 0).all()


@pytest.mark.slow
def test_save_load_round_trip(sim_fit, tmp_path):
    back = load(
        save(sim_fit, tmp_path / "frontier.nc"), expected_model_id=sim_fit.attrs["model_id"]
    )
    as_of = D(2023, 1, 1)
    assert fr.frontier_at(back, as_of).equals(fr.frontier_at(sim_fit, as_of))


@pytest.mark.slow
def test_plot_is_png(sim_fit):
    png = plot_frontier(sim_fit, until=D(2025, 1, 1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


# ------------------------------------------------------------------------------------------
# the real Epoch AI tables
# ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def epoch(raw_dir):
    from learnrace_pipeline.lib.sources import epoch_ai

    return epoch_ai.read(raw_dir)["ai_models"]


@pytest.mark.raw
def test_real_records(epoch):
    sel = fr.select_frontier(epoch)
    usa, chn = (sel.filter(pl.col("nation") == n) for n in ("USA", "CHN"))
    assert usa.height == 13 and chn.height == 11
    assert usa["model"][-1] == "Gemini 1.0 Ultra" and usa["log10_flop"][-1] == pytest.approx(
        np.log10(5e25)
    )
    assert chn["model"][-1] == "MegaScale (Production)"
    assert chn["log10_flop"][-1] == pytest.approx(np.log10(3.9e24), abs=1e-3)
    assert "GPT-3 175B (davinci)" in usa["model"].to_list()
    assert "ERNIE 3.0 Titan" in chn["model"].to_list()
    union = fr.select_frontier(epoch, fr.FrontierConfig(dataset="union"))
    assert union.filter(pl.col("nation") == "CHN")["model"][-1] == "GLM-4 (0116)"


@pytest.mark.raw
@pytest.mark.slow
def test_real_fit(epoch):
    dt = fr.fit_frontier(epoch)
    check = check_fit(dt)
    assert check.passed, check.describe()
    tab = fr.frontier_at(dt, D(2024, 6, 25), leader="USA")
    usa = tab.filter(pl.col("nation") == "USA").row(0, named=True)
    chn = tab.filter(pl.col("nation") == "CHN").row(0, named=True)
    assert 4.5 <= usa["doubling_months_q50"] <= 7.0  # OLS reference 5.8
    assert 4.0 <= chn["doubling_months_q50"] <= 7.0  # OLS reference 5.2
    assert 0.8 <= chn["gap_years_q50"] <= 2.5  # OLS reference 1.0-1.6 (1.63 +- 0.91)
    assert chn["gap_years_q05"] > 0  # China is behind the US with high probability
    assert chn["p_leader"] < 0.05
