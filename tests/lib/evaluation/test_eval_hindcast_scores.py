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


def _rows(
    model: str, horizons: list[int], errors: list[float], covered: list[bool]
) -> pl.DataFrame:
    n = len(horizons)
    return pl.DataFrame(
        {
            "model": [model] * n,
            "series_id": [f"s{i % 3}" for i in range(n)],
            "horizon": horizons,
            "cover50": covered,
            "cover80": [True] * n,
            "cover90": [True] * n,
            "cover95": [True] * n,
            "log_pinball": [0.1] * n,
            "crps": [0.2] * n,
            "log_error": errors,
            "pit": [0.5] * n,
        }
    )


def test_horizon_groups_label_and_score_each_group_by_hand() -> None:
    labels = pl.select(hs.horizon_group(pl.Series("h", [1, 2, 3, 5, 6, 10, 11]))).to_series()
    assert labels.to_list() == ["1-2", "1-2", "3-5", "3-5", "6-10", "6-10", ">10"]
    f = _rows(
        "pooled_wright", [1, 2, 4, 7, 9], [0.0, 0.02, 0.1, 0.3, 0.1], [True, False] * 2 + [True]
    )
    g = score_table(f.with_columns(hs.horizon_group(pl.col("horizon")).alias("horizon_group")),
                    ["model", "horizon_group"])  # fmt: skip
    assert g["horizon_group"].to_list() == ["1-2", "3-5", "6-10"]
    assert g["n"].to_list() == [2, 1, 2]
    assert g["coverage50"].to_list() == [0.5, 1.0, 0.5]
    assert g["bias_log"].to_list() == pytest.approx([0.01, 0.1, 0.2])


def test_horizon_group_check_names_every_group_outside_its_band() -> None:
    good = pl.DataFrame(
        {
            "model": ["pooled_wright"] * 3,
            "horizon_group": ["1-2", "3-5", "6-10"],
            "coverage50": [0.5, 0.45, 0.55],
            "coverage90": [0.9, 0.88, 0.86],
            "bias_log": [0.01, -0.04, 0.03],
        }
    )
    ok, msg = hs.horizon_group_check(good)
    assert ok and "OUTSIDE" not in msg
    bad = good.with_columns(
        pl.Series("coverage90", [0.9, 0.88, 0.80]), pl.Series("bias_log", [0.01, 0.06, 0.2])
    )
    ok, msg = hs.horizon_group_check(bad)
    assert not ok
    assert "h1-2: 50% 50.0%, 90% 90.0%, bias +0.010 |" in msg
    assert "h3-5" in msg and "bias +0.060 log (limit +-0.05)" in msg
    assert "90% cover 80.0% (band 85%-95%); bias +0.200 log" in msg
    assert not hs.horizon_group_check(good, model="other")[0]


def test_auto_model_check_names_the_best_forecaster_at_long_horizons() -> None:
    models = ["pooled_wright", "pooled_experience_time", "pool_wright_experience_time"]
    by_group = pl.DataFrame(
        {
            "model": [*models, "ols_wright", *models],
            "horizon_group": ["6-10"] * 4 + ["1-2"] * 3,
            # the 1-2 year scores would pick another model: only 6-10 counts
            "log_pinball": [0.099, 0.113, 0.098, 0.1005, 0.01, 0.03, 0.05],
        }
    )
    ok, msg = hs.auto_model_check(by_group, "pool")
    assert ok
    assert msg.startswith("auto = pool; 6-10 year log-pinball: pool 0.0980 (0.975 of ols_wright)")
    assert msg.endswith("experience_time 0.1130 (1.124 of ols_wright)")
    ok, msg = hs.auto_model_check(by_group, "wright")
    assert not ok and msg.startswith("auto = wright, but pool scores best")
    ok, msg = hs.auto_model_check(by_group.filter(pl.col("model") != "pooled_wright"), "wright")
    assert not ok and "no 6-10 year scores" in msg
