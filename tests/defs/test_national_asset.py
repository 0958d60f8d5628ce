"""The national learning asset called directly on the snapshot's tables: the fit, its blocking
convergence check and the rates table; a second call reuses the saved fit (slow: one real fit)."""

from __future__ import annotations

import dagster as dg
import polars as pl
import pytest

from learnrace_pipeline.defs.calibration.national import NATIONAL_KEY, national_learning
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.lib.models.learning.panel import load_tables

pytestmark = pytest.mark.slow


def _run(tables: dict[str, pl.DataFrame], settings: CalibrationSettings) -> dict[str, object]:
    out: dict[str, object] = {}
    with dg.build_asset_context() as context:
        for item in national_learning(
            context=context,
            cost_observations=tables["cost_observations"],
            production=tables["production"],
            calibration=settings,
        ):
            out[getattr(item, "output_name", None) or item.check_name] = item
    return out


def test_national_asset_fits_checks_and_reuses(tmp_path) -> None:
    tables = load_tables(["owid_datasets", "helveston_solar_2022"])
    settings = CalibrationSettings(work_dir=str(tmp_path))
    first = _run(tables, settings)
    check = first["converged"]
    assert check.passed, check.description
    assert check.asset_key == dg.AssetKey(NATIONAL_KEY)
    rates = first["national_learning_rates"].value
    assert rates.height == 15 + 9 + 2  # nations of wind and solar, and one ALL row each
    solar = rates.filter((pl.col("technology") == "solar_pv_system") & (pl.col("nation") != "ALL"))
    assert (solar["lr_q05"] < solar["lr_q50"]).all() and (solar["lr_q50"] < solar["lr_q95"]).all()
    assert solar.filter(pl.col("lambda_q50").is_not_null())["nation"].to_list() == [
        "CHN",
        "DEU",
        "USA",
    ]
    assert first["national_learning_fit"].metadata["reused_saved_fit"].value is False
    second = _run(tables, settings)
    assert second["national_learning_fit"].metadata["reused_saved_fit"].value is True
    assert second["national_learning_rates"].value.equals(rates)
