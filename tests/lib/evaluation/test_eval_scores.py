"""Scores against hand computations and closed forms."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from learnrace_pipeline.lib.evaluation import scores as sc


def test_pinball_by_hand() -> None:
    # y above q: tau * (y - q); y below q: (1 - tau) * (q - y)
    assert sc.pinball(1.0, 0.9, 3.0) == pytest.approx(1.8)
    assert sc.pinball(3.0, 0.9, 1.0) == pytest.approx(0.2)
    assert sc.pinball(2.0, 0.5, 2.0) == 0.0
    q = np.array([[-1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    # y = 2: losses 3*.05, 2*.10, 1*.25, 0, 1*.25, 2*.10, 3*.05 -> mean 1.2/7
    assert sc.mean_pinball(q, np.array([2.0]))[0] == pytest.approx(1.2 / 7)


def test_crps_normal_known_values() -> None:
    # CRPS(N(0,1), 0) = 2 phi(0) - 1/sqrt(pi) = 0.2336950
    assert sc.crps_normal(0.0, 1.0, 0.0) == pytest.approx(0.2336950, abs=1e-7)
    # scale equivariance and the value at y = mu + sigma
    z1 = 1 * (2 * stats.norm.cdf(1) - 1) + 2 * stats.norm.pdf(1) - 1 / np.sqrt(np.pi)
    assert z1 == pytest.approx(0.6024414, abs=1e-7)
    assert sc.crps_normal(2.0, 0.5, 2.5) == pytest.approx(0.5 * z1)


def test_crps_student_t_matches_samples_and_normal_limit() -> None:
    rng = np.random.default_rng(3)
    loc, scale, df, y = 0.3, 0.7, 4.0, 1.4
    x = loc + scale * rng.standard_t(df, size=(1, 200_000))
    mc = sc.crps_samples(x, np.array([y]))[0]
    exact = sc.crps_student_t(loc, scale, df, y)
    assert exact == pytest.approx(mc, rel=0.01)
    assert sc.crps_student_t(0.0, 1.0, 1e7, 0.0) == pytest.approx(0.2336950, abs=1e-5)
    assert sc.crps_student_t(0.0, 1.0, np.inf, 0.0) == pytest.approx(0.2336950, abs=1e-7)


def test_crps_samples_small_exact() -> None:
    # samples {0, 1}, y = 0: E|X - y| = 0.5, E|X - X'| over distinct pairs = 1 -> 0.5 - 0.5 = 0
    assert sc.crps_samples(np.array([[0.0, 1.0]]), np.array([0.0]))[0] == pytest.approx(0.0)
    # samples {0, 2, 4}, y = 1: E|X-y| = (1+1+3)/3; pairs |.| = 2,4,2 -> mean 8/3
    got = sc.crps_samples(np.array([[4.0, 0.0, 2.0]]), np.array([1.0]))[0]
    assert got == pytest.approx(5 / 3 - 0.5 * 8 / 3)


def test_student_t_quantiles_cdf_roundtrip() -> None:
    d = sc.StudentT(np.array([0.0, 1.0]), np.array([1.0, 2.0]), np.array([5.0, np.inf]))
    q = d.quantiles(sc.LEVELS)
    assert np.all(np.diff(q, axis=1) > 0)
    assert q[0, 3] == 0.0 and q[1, 3] == 1.0
    assert q[1, 6] == pytest.approx(1 + 2 * 1.6448536, abs=1e-6)
    assert d.cdf(q[:, 0]) == pytest.approx([0.05, 0.05])


def test_qnames() -> None:
    assert [sc.qname(v) for v in sc.HINDCAST_LEVELS] == [
        "q025", "q05", "q10", "q25", "q50", "q75", "q90", "q95", "q975",
    ]  # fmt: skip


def test_forecast_scores_and_tables_by_hand() -> None:
    levels = sc.HINDCAST_LEVELS
    # two forecasts with the same quantiles 1..9; outcomes 5 (centre) and 8.5
    logq = np.tile(np.arange(1.0, 10.0), (2, 1))
    y = np.array([5.0, 8.5])
    s = sc.forecast_scores(logq, levels, y)
    assert s["cover50"].tolist() == [True, False]  # [q25, q75] = [4, 6]
    assert s["cover80"].tolist() == [True, False]  # [3, 7]
    assert s["cover90"].tolist() == [True, False]  # [2, 8]
    assert s["cover95"].tolist() == [True, True]  # [1, 9]
    assert s["log_error"].tolist() == [0.0, -3.5]  # q50 = 5
    frame = pl.DataFrame(
        {
            "model": ["m", "m"],
            "horizon": [1, 2],
            "series_id": ["a", "b"],
            **{k: v for k, v in s.items()},
            "crps": [0.1, 0.3],
            "pit": [0.5, 0.93],
        }
    )
    t = sc.score_table(frame, ["model"])
    assert t["n"][0] == 2 and t["coverage50"][0] == 0.5 and t["coverage95"][0] == 1.0
    assert t["crps"][0] == pytest.approx(0.2)
    assert t["bias_log"][0] == pytest.approx(-1.75)
    assert t["rmse_log"][0] == pytest.approx(np.sqrt(3.5**2 / 2))
    h = sc.pit_histogram(frame, ["model"], bins=10)
    assert h["count"].to_list() == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1]
    assert h["density"].sum() == pytest.approx(10.0)


def test_sample_pit_and_quantiles() -> None:
    x = np.arange(1.0, 101.0)[None, :]
    assert sc.sample_pit(x, np.array([50.0]))[0] == pytest.approx(0.495)
    assert sc.sample_quantiles(x, [0.5])[0, 0] == pytest.approx(50.5)
