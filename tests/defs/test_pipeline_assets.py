"""The whole asset graph materialised on a small panel in a temporary warehouse (the session
fixture ``pipeline`` of ``tests/conftest.py``, shared with ``learnrace race --spec``'s test).

Real Dagster instance, real DuckDB file, real samplers with the default sampler settings of
``make run`` (small pooled learning panel: the energy, solar and wind series; every other fit
on its full data, as the race needs them, so the race judges batteries without its cost half). Checks what the calibration,
hindcast and prior assets write, that their checks ran, that every warehouse table is owned by
an asset, and that posteriors travel between assets through the fit IO manager.
"""

from __future__ import annotations

import polars as pl
import pytest

from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.storage.warehouse import query, read_table
from tests.pipeline_run import INDUSTRIES

pytestmark = pytest.mark.slow


def _checks(result) -> dict[str, tuple[bool, str]]:
    return {
        f"{e.event_specific_data.asset_key.to_user_string()}:{e.event_specific_data.check_name}": (
            e.event_specific_data.passed,
            str(e.event_specific_data.severity),
        )
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def test_every_step_succeeds(pipeline) -> None:
    result, *_ = pipeline
    failed = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert result.success, failed


def test_every_warehouse_table_is_owned_by_an_asset(pipeline) -> None:
    _, db, _, definitions = pipeline
    tables = query(
        db,
        "SELECT table_schema || '/' || table_name AS key FROM information_schema.tables ORDER BY 1",
    )["key"].to_list()
    keys = {k.to_user_string() for k in definitions.resolve_asset_graph().get_all_asset_keys()}
    unowned = [t for t in tables if t not in keys]
    assert not unowned, f"tables no asset owns: {unowned}"
    # and every asset that names a warehouse schema left its table
    table_assets = sorted(
        k for k in keys if k.split("/")[0] in ("raw", "harmonized", "evaluation", "forecasts")
    )
    assert set(table_assets) <= set(tables)


def test_fits_pass_their_checks_and_write_their_tables(pipeline) -> None:
    result, db, work, _ = pipeline
    checks = _checks(result)
    for fit in ("wright", "time", "wright_normal", "experience_time", "solar_nation"):
        assert checks[f"calibration/{fit}_fit:converged"][0], fit
    rates = read_table(db, "calibration", "learning_rates")
    industries = set(rates.filter(pl.col("level") == "industry")["name"].to_list())
    assert industries == set(INDUSTRIES)
    assert set(rates["model"].unique().to_list()) == {
        "wright_student_t_ma1",
        "time_student_t_ma1",
        "wright_normal_ma1",
    }
    pooled = rates.filter((pl.col("level") == "all") & pl.col("w_mean").is_not_null())
    assert pooled.height >= 1 and 0.05 < pooled["w_mean"][0] < 0.8
    both = read_table(db, "calibration", "experience_time_rates")
    assert both.filter(pl.col("level") == "all").height == 1
    assert read_table(db, "calibration", "model_comparison_all")["model"].n_unique() == 4
    lam = read_table(db, "calibration", "solar_lambda")
    assert set(lam["source"].unique().to_list()) == {"prior", "posterior"}
    assert lam["value"].is_between(0, 1).all()
    # the posteriors are asset outputs: netCDF files under the work dir, with provenance
    wright = base.load(work / "fits" / "assets" / "calibration" / "wright_fit.nc")
    assert wright.attrs["model_type"] == "learning_curve"


def test_prior_comes_from_the_wright_fit_asset(pipeline) -> None:
    _, db, work, _ = pipeline
    prior = read_table(db, "forecasts", "population_prior")
    assert set(prior["level"].to_list()) == {"all", *INDUSTRIES}
    wright = base.load(work / "fits" / "assets" / "calibration" / "wright_fit.nc")
    import json

    meta = json.loads((work / "population_prior.meta.json").read_text())
    assert meta["model_id"] == wright.attrs["model_id"]
    assert meta["data_version"] == wright.attrs["data_version"]


def test_hindcast_scores_every_model(pipeline) -> None:
    result, db, _, _ = pipeline
    scores = read_table(db, "evaluation", "scores")
    forecasters = {"pooled_wright", "pooled_experience_time", "pool_wright_experience_time"}
    assert set(scores["model"].to_list()) >= forecasters | {"ols_wright", "rw_drift"}
    assert scores["coverage90"].is_between(0, 1).all()
    forecasts = read_table(db, "evaluation", "forecasts")
    assert forecasts["horizon"].min() == 1 and forecasts["horizon"].max() <= 10
    # every forecaster scores the same forecasts (same origins, series and target years)
    keys = [
        set(forecasts.filter(pl.col("model") == m).select("origin", "series", "year").rows())
        for m in sorted(forecasters)
    ]
    assert keys[0] == keys[1] == keys[2] and keys[0]
    # the pool is the union of both forecasters' samples: its median lies between theirs
    wide = forecasts.filter(pl.col("model").is_in(list(forecasters))).pivot(
        "model", index=["origin", "series", "year"], values="q50"
    )
    lo = pl.min_horizontal("pooled_wright", "pooled_experience_time")
    hi = pl.max_horizontal("pooled_wright", "pooled_experience_time")
    pool = pl.col("pool_wright_experience_time")
    assert wide.select(((pool >= lo * 0.999) & (pool <= hi * 1.001)).all()).item()
    origins = read_table(db, "evaluation", "origins")
    # the population models are refitted at every 4th origin, never after the origin they serve
    assert (origins["fit_origin"] <= origins["origin"]).all()
    assert origins["fit_origin"].n_unique() == (origins.height + 3) // 4
    assert (origins["et_fit_origin"] <= origins["origin"]).all()
    checks = _checks(result)
    assert "evaluation/scores:coverage_in_band" in checks
    for name in ("horizon_groups_in_band", "pool_horizon_groups_in_band",
                 "experience_time_horizon_groups_in_band", "auto_model_scores_best"):  # fmt: skip
        assert f"evaluation/scores_by_horizon_group:{name}" in checks


def test_race_tables_checks_scenarios_ledger_and_reproducibility(pipeline) -> None:
    import xarray as xr

    from learnrace_pipeline.defs.race.assets import TABLES
    from learnrace_pipeline.lib.race import compute, ledger
    from learnrace_pipeline.lib.race.spec import load_spec

    result, db, work, _ = pipeline
    checks = _checks(result)
    assert checks["race/race:probabilities_consistent"][0]
    assert checks["race/race:no_data_has_no_numbers"][0]
    spec = load_spec()
    race = read_table(db, "race", "race")
    assert set(race["industry"].to_list()) == {i.id for i in spec.industries}
    batteries = race.filter(pl.col("industry") == "batteries_evs")
    # the small Wright panel has no battery series: that half is named as unmeasured
    assert batteries["unmeasured_roles"].str.contains("cost").all()
    for ind in spec.industries:
        rows = race.filter(pl.col("industry") == ind.id)
        if ind.status == "data":
            assert rows["nation"].to_list() == [e.code for e in ind.nations], ind.id
        else:  # one row, no number, the missing data named
            assert rows.height == 1 and rows["p_first"].is_null().all(), ind.id
            assert ind.missing and ind.missing in rows["note"][0]
    # sensitivity, same seed and random numbers as the base case
    scen = read_table(db, "race", "scenarios")
    ai_cap = scen.filter(
        (pl.col("scenario") == "export_controls")
        & (pl.col("industry") == "ai_foundation_models")
        & (pl.col("nation") == "CHN")
    )
    assert ai_cap["p_closed_shift"][0] < 0  # the cap delays China; lifting it brings it earlier
    slow = scen.filter(
        (pl.col("scenario") == "deployment_slowdown")
        & (pl.col("nation") == "CHN")
        & (pl.col("status") == "data")
    )
    later = slow.filter((pl.col("median_direction") == "later") | (pl.col("p_closed_shift") < 0))
    assert later.height >= 1, slow
    assert slow["p_closed_shift"].max() <= 0.02  # halving growth never brings China on
    # the ledger file beside the warehouse holds one vintage per scenario and the base case
    vintages = ledger.read_vintages(ledger.default_ledger_path(db))
    assert sorted(vintages["scenario"].to_list()) == sorted(
        ["base", *(s.name for s in spec.scenarios)]
    )
    # reproducible: the same fits, data and seed give the same race table, twice
    fits = {
        n: xr.load_datatree(work / "fits" / "assets" / f"{k}.nc") for n, k in compute.FITS.items()
    }
    tables = {t: read_table(db, "harmonized", t) for t in TABLES}
    a = compute.run_race(spec, fits, tables).race
    b = compute.run_race(spec, fits, tables).race
    assert a.equals(b)
    assert a.select(race.columns).cast(race.schema).equals(race)
