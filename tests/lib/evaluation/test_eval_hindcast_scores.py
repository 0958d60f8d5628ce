"""Score tables of a hindcast: the growth of the point error with the horizon."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.evaluation import hindcast_scores as hs
from learnrace_pipeline.lib.evaluation.scores import score_table


def test_error_growth_is_the_line_through_rmse_by_horizon() -> None:
    h = np.arange(1, 11)
    frame = pl.DataFrame(
        {
            "model": ["exact"] * 10 + ["single"],
            "horizon": [*h.tolist(), 3],
            "rmse_log": [*(0.08 + 0.03 * h).tolist(), 0.2],
        }
    )
    g = hs.error_growth(frame).sort("model")
    exact = g.row(0, named=True)
    assert exact["rmse_log_growth"] == pytest.approx(0.03)
    assert exact["rmse_log_growth_intercept"] == pytest.approx(0.08)
    assert exact["rmse_log_growth_r2"] == pytest.approx(1.0)
    single = g.row(1, named=True)
    assert single["model"] == "single" and single["rmse_log_growth"] is None


def test_error_growth_recovers_a_random_walks_error_from_forecast_rows() -> None:
    """Median errors of a driftless random walk with step sd s have RMS s sqrt(h): the table's
    rmse_log by horizon recovers it, and the fitted line's slope matches the line fitted to
    s sqrt(h) itself."""
    rng = np.random.default_rng(11)
    s, n = 0.1, 4000
    rows = []
    for h in range(1, 11):
        err = rng.normal(0.0, s * np.sqrt(h), n)
        rows.append(
            pl.DataFrame(
                {
                    "model": "rw",
                    "horizon": h,
                    "series_id": "x",
                    **{f"cover{k}": True for k in (50, 80, 90, 95)},
                    "log_pinball": 0.0,
                    "log_error": err,
                    "crps": 0.0,
                    "pit": 0.5,
                }
            )
        )
    by_h = score_table(pl.concat(rows), ["model", "horizon"])
    hs_ = np.arange(1, 11)
    assert by_h["rmse_log"].to_numpy() == pytest.approx(s * np.sqrt(hs_), rel=0.04)
    assert by_h["bias_log"].abs().max() < 0.02
    expected = np.polyfit(hs_, s * np.sqrt(hs_), 1)[0]
    got = hs.error_growth(by_h)["rmse_log_growth"][0]
    assert got == pytest.approx(expected, rel=0.15)
