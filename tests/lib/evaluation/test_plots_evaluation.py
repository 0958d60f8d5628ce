"""Hindcast plots render to PNG bytes."""

from __future__ import annotations

import polars as pl

from learnrace_pipeline.lib.report import plots_evaluation as pe

PNG = b"\x89PNG\r\n\x1a\n"


def _scores() -> pl.DataFrame:
    rows = []
    for m, c in (("pooled_wright", 0.5), ("ols_wright", 0.45)):
        for h in (1, 2, 3):
            rows.append(
                {"model": m, "horizon": h, "coverage50": c, "coverage80": c + 0.3,
                 "coverage90": c + 0.4, "coverage95": c + 0.45, "log_pinball": 0.02 * h,
                 "rmse_log": 0.1 + c * 0.05 * h}
            )  # fmt: skip
    return pl.DataFrame(rows)


def _pit() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": ["pooled_wright"] * 2 + ["ols_wright"] * 2,
            "bin": [0, 1, 0, 1],
            "bin_lo": [0.0, 0.5, 0.0, 0.5],
            "bin_hi": [0.5, 1.0, 0.5, 1.0],
            "count": [5, 5, 7, 3],
            "density": [1.0, 1.0, 1.4, 0.6],
        }
    )


def test_plots_are_png() -> None:
    plots = pe.hindcast_plots({"scores_by_horizon": _scores(), "pit": _pit()})
    assert set(plots) == {
        "coverage_by_horizon", "pit_histogram", "pinball_by_horizon", "rmse_by_horizon",
    }  # fmt: skip
    for data in plots.values():
        assert data.startswith(PNG) and len(data) > 5000
    assert pe.pit_histogram_png(_pit(), ["ols_wright"]).startswith(PNG)
