"""Process-node frontier per foundry nation: records and selection from chip rows, the
record-process model (its Potential against NumPy), forecast paths, recovery from simulated data
and the real chip table."""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import pymc as pm
import pytest

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.models import node_frontier as nf
from learnrace_pipeline.lib.models import node_frontier_data as nfd
from learnrace_pipeline.lib.models import node_frontier_posterior as nfp
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.diagnostics import check_fit
from learnrace_pipeline.lib.race.spec import snapshot_tables

D = dt_.date
SMALL = SamplerConfig(draws=500, tune=500, chains=2, target_accept=0.99, seed=3)


def _chips(rows: list[tuple[str, str | None, dt_.date | None, float | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {"product": p, "chip_type": "GPU", "variant": 1, "release_date": d,
             "process_nm": nm, "foundry_nation": n}
            for p, n, d, nm in rows
        ],
        schema={"product": pl.String, "chip_type": pl.String, "variant": pl.Int32,
                "release_date": pl.Date, "process_nm": pl.Float64, "foundry_nation": pl.String},
    )  # fmt: skip


def _toy() -> pl.DataFrame:
    return _chips(
        [
            ("T0", "TWN", D(2008, 1, 1), 45.0),  # before the window: sets the bar
            ("T1", "TWN", D(2010, 6, 1), 50.0),  # above the record: not a record
            ("T2", "TWN", D(2011, 1, 1), 28.0),  # TWN's entry
            ("T3", "TWN", D(2014, 1, 1), 16.0),
            ("T4", "TWN", D(2014, 1, 1), 20.0),  # same day, larger: not a record
            ("U1", "USA", D(2010, 3, 1), 32.0),  # USA's entry (world best then)
            ("U2", "USA", D(2012, 4, 1), 22.0),
            ("J1", "JPN", D(2012, 1, 1), 90.0),  # a record but 90 > 2 x 28: not leading
            ("J2", "JPN", D(2013, 1, 1), 40.0),  # leading (<= 2 x 22): JPN's entry
            ("X1", None, D(2015, 1, 1), 7.0),  # no foundry nation
        ]
    )


def test_records_leading_flag_and_selection():
    rec = nfd.running_records(_toy())
    assert rec.filter(pl.col("nation") == "TWN")["product"].to_list() == ["T0", "T2", "T3"]
    lead = dict(zip(rec["product"], rec["leading"], strict=True))
    assert lead["J1"] is False and lead["J2"] is True and lead["U1"] is True
    sel = nfd.select_records(_toy())
    assert sel["product"].to_list() == ["J2", "T2", "T3", "U1", "U2"]
    data = nfd.prepare_node_data(_toy())
    assert data.nations == ["TWN", "USA"]
    assert data.insufficient.rows() == [("JPN", 1)]
    assert data.end == D(2014, 1, 1)  # last release date of a product with a foundry nation
    # TWN's window opens at its entry with the record in force then (28 nm, log2)
    twn = data.cells.filter(pl.col("nation") == "TWN").sort("t")
    assert twn["record"][0] == pytest.approx(np.log2(28.0))
    assert twn["record"][-1] == pytest.approx(np.log2(16.0))
    assert twn["width_years"].sum() == pytest.approx(
        2014 + 1 / 365 - nfd.to_decimal_year(D(2011, 1, 1)), abs=1e-9
    )


@pytest.mark.parametrize("value, problem", [(0.0, "not positive"), (float("inf"), "not finite")])
def test_bad_node_names_row_and_column(value, problem):
    bad = _toy().with_columns(
        pl.when(pl.col("product") == "U2").then(value).otherwise(pl.col("process_nm"))
        .alias("process_nm")
    )  # fmt: skip
    with pytest.raises(DataError, match=problem) as err:
        nfd.running_records(bad)
    assert err.value.row == 7 and err.value.column == "process_nm"


@pytest.fixture(scope="module")
def sim_data():
    return nfd.simulate_node_data(seed=7)


@pytest.mark.filterwarnings("ignore:The effect of Potentials")
def test_record_process_term_matches_pymc(sim_data):
    model = nf.build_node_model(sim_data)
    fn = model.compile_fn(model["record_process"], inputs=model.free_RVs, on_unused_input="ignore")
    with model:
        pri = pm.sample_prior_predictive(draws=3, random_seed=5)["prior"]
    for k in range(3):
        point = {v: pri[v].values[0, k] for v in pri.data_vars}
        got = fn({rv.name: point[rv.name] for rv in model.free_RVs})
        assert float(got) == pytest.approx(nf.record_process_term(point, sim_data), rel=1e-9)
    np.testing.assert_allclose(pri["halving_years"].values, 1.0 / pri["rate"].values)


@pytest.fixture(scope="module")
def sim_fit(sim_data):
    return nf.fit_node_data(sim_data, sampler=SMALL)


@pytest.mark.slow
def test_simulation_recovery(sim_fit, sim_data):
    """The shrink rates (what the forecasts and halving times rest on) inside their 90%
    intervals; levels and introduction rates inside their 99% intervals: these two lie on a
    ridge (more introductions with a trend further behind the record, or fewer further ahead),
    along which the Gamma(2, 1) prior on the introductions pulls them low."""
    truth = {"TWN": (2.9, 0.26, 3.0), "USA": (3.4, 0.18, 3.0), "KOR": (3.2, 0.22, 2.0)}
    post = sim_fit["posterior"].to_dataset()
    q = post[["alpha", "rate", "runs_per_year"]].quantile(
        [0.005, 0.05, 0.95, 0.995], dim=("chain", "draw")
    )
    for n, (a, r, nu) in truth.items():
        for name, v in (("alpha", a), ("rate", r), ("runs_per_year", nu)):
            qq = q[name].sel(nation=n).values
            assert qq[0] <= v <= qq[3], (name, n, qq)
        qr = q["rate"].sel(nation=n).values
        assert qr[1] <= r <= qr[2], (n, qr)
    qs = post["sigma"].quantile([0.005, 0.995]).values
    assert qs[0] <= 0.3 <= qs[1]
    assert int(sim_fit["sample_stats"]["diverging"].sum()) == 0


@pytest.mark.slow
def test_paths_never_rise_and_rate_scale_only_lowers(sim_fit, sim_data):
    dates = [D(y, 12, 31) for y in range(2022, 2037)]
    base = nfp.node_paths(sim_fit, dates, n_draws=400, seed=11)
    v = base.values
    assert np.all(np.isnan(v[..., -1]))  # 2036-12-31 is past MAX_FORECAST_YEARS from T_end
    inside = v[..., :-1]
    assert np.all(np.diff(inside, axis=-1) <= 0)
    # the data end holds each nation's record in every draw
    rec = sim_data.records.group_by("nation").agg(pl.col("process_nm").min())
    for n, nm in rec.iter_rows():
        assert np.all(base.sel(nation=n).values[:, 1] == pytest.approx(nm))  # 2023-12-31
    fast = nfp.node_paths(sim_fit, dates, rate_scale={"USA": 2.0}, n_draws=400, seed=11)
    usa_b, usa_f = base.sel(nation="USA").values, fast.sel(nation="USA").values
    ok = np.isfinite(usa_b)
    assert np.all(usa_f[ok] <= usa_b[ok]) and np.any(usa_f[ok] < usa_b[ok])
    np.testing.assert_array_equal(fast.sel(nation="TWN").values, base.sel(nation="TWN").values)
    again = nfp.node_paths(sim_fit, dates, rate_scale={}, n_draws=400, seed=11)
    np.testing.assert_array_equal(again.values, base.values)


@pytest.fixture(scope="module")
def chips():
    return snapshot_tables(tables=["chip_products"])["chip_products"]


def test_real_records_and_modelled_nations(chips):
    data = nfd.prepare_node_data(chips)
    assert data.nations == ["KOR", "TWN", "USA"]
    assert data.insufficient.rows() == [("JPN", 1)]  # Japan's last record: 40 nm in 2012
    assert data.end == D(2024, 1, 8)
    best = data.records.group_by("nation").agg(pl.col("process_nm").min()).sort("nation")
    assert best.rows() == [("JPN", 40.0), ("KOR", 8.0), ("TWN", 4.0), ("USA", 7.0)]
    twn = data.points.filter(pl.col("nation") == "TWN")["process_nm"].to_list()
    assert twn == [32.0, 28.0, 20.0, 16.0, 12.0, 7.0, 6.0, 5.0, 4.0]


@pytest.fixture(scope="module")
def real_fit(chips):
    return nf.fit_node_frontier(chips, sampler=SMALL)


@pytest.mark.slow
def test_real_fit_rates_and_table(real_fit):
    # 2 x 500 draws here: the asset's blocking check runs on the default 4 x 2,000 (R-hat max
    # 1.002, bulk ESS min 1,827, no divergences on the shipped snapshot)
    diag = check_fit(real_fit, ess_min=100)
    assert diag.divergences == 0 and diag.rhat_max < 1.05, diag.describe()
    halving = real_fit["posterior"]["halving_years"].median(("chain", "draw"))
    # measured with the default sampler: TWN 4.2 y, KOR 4.7 y, USA 6.0 y (medians)
    assert 3.0 < float(halving.sel(nation="TWN")) < 6.0
    assert float(halving.sel(nation="USA")) > float(halving.sel(nation="TWN"))
    table = nfp.node_frontier_table(real_fit)
    rows = {r["nation"]: r for r in table.iter_rows(named=True)}
    assert table["nation"][0] == "TWN"  # smallest median node at 2030-12-31
    assert rows["TWN"]["record_nm"] == 4.0 and rows["TWN"]["record_product"] == "AMD Phoenix"
    assert rows["TWN"]["nm_q95"] <= 4.0 and rows["TWN"]["nm_q50"] < 4.0
    assert rows["JPN"]["status"] == "insufficient data" and rows["JPN"]["nm_q05"] == 40.0
    assert rows["USA"]["n_points"] == 6 and rows["KOR"]["n_points"] == 3
