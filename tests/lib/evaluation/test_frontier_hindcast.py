"""Frontier hindcast: nothing after an origin reaches its fit, the scoring by hand, and the real
hindcast on the shipped snapshot."""

from __future__ import annotations

import datetime as dt_

import numpy as np
import polars as pl
import pytest
import xarray as xr

from learnrace_pipeline.lib.evaluation import frontier_hindcast as fh
from learnrace_pipeline.lib.models import frontier as fr
from learnrace_pipeline.lib.models import frontier_data as fd
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.storage import snapshot

D = dt_.date


def _m(model, nation, date, flop):
    return {
        "model": model,
        "organization": "org",
        "nations": None,
        "nation": nation,
        "nation_basis": "organization",
        "frontier_scale": True,
        "publication_date": date,
        "training_compute_flop": flop,
        "parameters": None,
        "dataset_size": None,
        "confidence": "Confident",
        "domain": "Language",
        "dataset": "notable",
    }


def _table() -> pl.DataFrame:
    rows = []
    for k, year in enumerate(range(2015, 2025)):
        rows.append(_m(f"U{k}", "USA", D(year, 3, 1), 10 ** (20 + 0.6 * k)))
        rows.append(_m(f"C{k}", "CHN", D(year, 9, 1), 10 ** (19 + 0.7 * k)))
    return pl.DataFrame(rows, schema=TABLES["ai_models"])


def _fixed_fit(ai: pl.DataFrame, config: fd.FrontierConfig) -> xr.DataTree:
    """The data groups of a real fit on ``ai`` with a fixed 'posterior' (no sampling)."""
    data = fd.prepare_frontier_data(ai, config)
    n, draws = len(data.nations), 400
    dims = ("chain", "draw", "nation")
    post = xr.Dataset(
        {
            "alpha": (dims, np.full((1, draws, n), 23.0)),
            "beta": (dims, np.full((1, draws, n), 0.6)),
            "doubling_months": (dims, np.full((1, draws, n), 6.0)),
            "runs_per_year": (dims, np.full((1, draws, n), 2.0)),
            "sigma": (("chain", "draw"), np.full((1, draws), 0.5)),
            "tau_speculative": (("chain", "draw"), np.full((1, draws), 0.3)),
            "tau_unrated": (("chain", "draw"), np.full((1, draws), 0.3)),
        },
        coords={"nation": data.nations},
    )
    rng = np.random.default_rng(0)
    stats = xr.Dataset(
        {
            "diverging": (("chain", "draw"), np.zeros((1, draws), dtype=bool)),
            "energy": (("chain", "draw"), rng.standard_normal((1, draws))),
        }
    )
    groups = {"posterior": post, "sample_stats": stats, **fr._data_groups(data)}
    dt = xr.DataTree.from_dict(groups)
    dt.attrs["end"] = data.end.isoformat()
    return dt


def test_no_data_after_an_origin_reaches_its_fit():
    seen = []

    def fitter(train, config, sampler):
        seen.append((config.end, train["publication_date"].max(), train.height))
        return _fixed_fit(train, config)

    ai = _table()
    forecasts, origins = fh.run_frontier_hindcast(ai, fh.FrontierHindcastSettings(), fitter)
    assert [s[0] for s in seen] == list(fh.ORIGINS)
    for end, last, _ in seen:
        assert last < D.fromisoformat(end)
    # the records a forecast starts from are those before the origin, never later ones
    for r in forecasts.iter_rows(named=True):
        before = ai.filter(
            (pl.col("nation") == r["nation"]) & (pl.col("publication_date") < r["origin"])
        )
        assert r["record_at_origin"] == pytest.approx(
            np.log10(before["training_compute_flop"].max())
        )
    assert origins["last_date_seen"].to_list() == [s[1] for s in seen]


def test_training_view_and_actual_records():
    ai = _table()
    view = fh.training_view(ai, D(2018, 3, 1))
    assert view["publication_date"].max() == D(2017, 9, 1)  # 2018-03-01 itself is left out
    actual = fh.actual_records(ai, D(2018, 3, 1)).sort("nation")
    assert actual["actual_model"].to_list() == ["C2", "U3"]
    assert actual["actual_log10_flop"].to_list() == pytest.approx([20.4, 21.8])


def test_scores_and_coverage_by_hand():
    forecasts, _ = fh.run_frontier_hindcast(
        _table(), fh.FrontierHindcastSettings(), lambda ai, c, s: _fixed_fit(ai, c)
    )
    assert forecasts.height == 2 * 3 * 2  # nations x origins x horizons
    for r in forecasts.iter_rows(named=True):
        assert r["in_90"] == (r["q05"] <= r["actual_log10_flop"] <= r["q95"])
        assert r["in_50"] == (r["q25"] <= r["actual_log10_flop"] <= r["q75"])
        assert r["new_record"] == (r["actual_log10_flop"] > r["record_at_origin"])
        assert r["q05"] >= r["record_at_origin"] - 1e-12
    table = pl.DataFrame(
        {
            "horizon_years": [1, 1, 2, 2],
            "new_record": [True, False, True, True],
            "in_50": [True, False, False, True],
            "in_90": [True, True, False, True],
        }
    )
    cov = fh.coverage_table(table)
    assert cov["horizon"].to_list() == ["1", "2", "all"]
    assert cov["n"].to_list() == [2, 2, 4]
    assert cov["new_records"].to_list() == [1, 2, 3]
    assert cov["coverage_50"].to_list() == [0.5, 0.5, 0.5]
    assert cov["coverage_90"].to_list() == [1.0, 0.5, 0.75]


@pytest.mark.slow
def test_real_hindcast_on_the_snapshot():
    ai = snapshot.load(snapshot.DEFAULT_DATASETS, "epoch_ai")["ai_models"]
    fits = {}

    def fitter(train, config, sampler):
        fits[config.end] = fr.fit_frontier(train, config, sampler)
        return fits[config.end]

    forecasts, origins = fh.run_frontier_hindcast(ai, fh.FrontierHindcastSettings(), fitter)
    for end, dt in fits.items():
        assert D.fromisoformat(dt.attrs["end"]) < D.fromisoformat(end)
        dates = dt["records"]["publication_date"].values
        assert max(D.fromisoformat(d) for d in dates) < D.fromisoformat(end)
    assert origins["divergences"].to_list() == [0, 0, 0]
    assert origins["nations"].to_list() == ["USA", "USA", "CHN,KOR,USA"]
    cov = fh.coverage_table(forecasts).filter(pl.col("horizon") == "all").row(0, named=True)
    assert cov["n"] == 10 and cov["new_records"] == 4
    assert cov["coverage_90"] >= 0.8
    usa = forecasts.filter((pl.col("nation") == "USA") & (pl.col("origin") == D(2022, 1, 1)))
    assert usa["actual_model"].to_list() == ["Minerva (540B)", "Gemini 1.0 Ultra"]


def test_targets_after_the_data_are_not_scored():
    settings = fh.FrontierHindcastSettings(origins=("2023-06-01",), horizons=(1, 2))
    forecasts, _ = fh.run_frontier_hindcast(_table(), settings, lambda ai, c, s: _fixed_fit(ai, c))
    # the table ends on 2024-09-01: one year ahead is scored, two years ahead is not
    assert forecasts["horizon_years"].unique().to_list() == [1]
    assert forecasts["target_date"].max() == D(2024, 6, 1)
