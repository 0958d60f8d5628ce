"""The race (group ``race``): which nation closes the loop first, per industry.

- ``race`` (one step): from the posteriors the race file needs (``lib.race.compute.FITS``) and
  the harmonized tables, the base case and every declared scenario: tables ``race.race`` (per
  industry and nation: closing-year median and 80% interval, P(closed by the horizon), P(first),
  already closed, the roles it is judged on, the leading strategy; no-data industries as one
  row naming the missing data), ``race.pairwise`` (per ordered pair: P(A first), P(B first),
  P(tie), P(neither by the horizon)), ``race.attribution`` (per industry with a cost metric and
  nation: shares of the projected log-cost decline from own deployment, world deployment through
  spillover and time/research, 5/50/95%), ``race.scenarios`` (every scenario's race rows beside
  the base case's, with the shifts). Checks: ``probabilities_consistent`` (blocking: P(first)
  over the judged nations plus P(none) is 1, pair probabilities sum to 1, every probability in
  [0, 1]) and ``no_data_has_no_numbers`` (blocking: an industry without data carries no
  closing year or probability).
"""

import hashlib
import time
from collections.abc import Iterator

import dagster as dg
import polars as pl
import xarray as xr

from learnrace_pipeline.defs.metadata import REPORT, data_relative, plot
from learnrace_pipeline.defs.resources import CalibrationSettings, WarehouseResource
from learnrace_pipeline.defs.wiring import EAGER, OWNERS, WRITE_POOL, table_out
from learnrace_pipeline.lib.models.base import code_version
from learnrace_pipeline.lib.race import (
    capability,
    closing,
    compute,
    cost,
    ledger,
    ledger_scores,
    rates,
    vintage,
    volume,
)
from learnrace_pipeline.lib.race import draws as draws_mod
from learnrace_pipeline.lib.race.spec import load_spec
from learnrace_pipeline.lib.report.images import save_png
from learnrace_pipeline.lib.report.plots_projection import projection_png
from learnrace_pipeline.lib.report.plots_race import closing_years_png

RACE_KEY = ["race", "race"]
PAIR_KEY = ["race", "pairwise"]
ATTR_KEY = ["race", "attribution"]
SCEN_KEY = ["race", "scenarios"]
QUANT_KEY = ["race", "forecast_quantiles"]
LEDGER_KEY = ["race", "ledger"]
LEDGER_TEXT = (
    "The forecast ledger's vintages, one row per vintage (a copy of the ledger file's list): "
    "when it was recorded (UTC), scenario, data and code versions, seed, forecast rows, and its "
    "latest scores against the observed race metrics: 50%/90% interval coverage (shares), "
    "log-pinball (ln units), closing-year Brier score (in [0, 1])."
)
BASE_SCENARIO = "base"
#: Harmonized tables the race reads (metrics, observed values, experience paths).
TABLES = (
    "cost_observations",
    "production",
    "market_shares",
    "av_testing",
    "ai_models",
    "chip_products",
)
TOLERANCE = 1e-9


def _fit_ins() -> dict[str, dg.AssetIn]:
    return {
        f"fit_{name}": dg.AssetIn(key=dg.AssetKey(key.split("/")))
        for name, key in compute.FITS.items()
    }


def _table_ins() -> dict[str, dg.AssetIn]:
    return {t: dg.AssetIn(key=["harmonized", t]) for t in TABLES}


def probability_problems(race: pl.DataFrame, pairs: pl.DataFrame) -> list[str]:
    """What is inconsistent in a race table and its pair table (empty when all is well)."""
    problems: list[str] = []
    judged = race.filter(pl.col("status") == "data")
    for col in ("p_closed_by_horizon", "p_first"):
        bad = judged.filter((pl.col(col) < -TOLERANCE) | (pl.col(col) > 1 + TOLERANCE))
        if bad.height:
            problems.append(f"{col} outside [0, 1] for {bad.height} rows")
    for ind, grp in judged.group_by("industry"):
        total = grp["p_first"].fill_null(0.0).sum() + grp["p_none_by_horizon"][0]
        if abs(total - 1.0) > 1e-6:
            problems.append(f"{ind[0]}: P(first) + P(none by horizon) = {total:.6f}")
    if pairs.height:
        s = pairs.with_columns(
            total=pl.col("p_a_first") + pl.col("p_b_first") + pl.col("p_tie") + pl.col("p_neither")
        ).filter((pl.col("total") - 1.0).abs() > 1e-6)
        if s.height:
            problems.append(f"{s.height} pairs whose probabilities do not sum to 1")
    return problems


@dg.multi_asset(
    name="race",
    outs={
        "race": table_out(
            RACE_KEY,
            "Per industry and nation: the year it closes the loop (median, 80% interval; "
            "calendar years), P(closed by the horizon), P(first), already closed, the roles "
            "it is judged on, the leading strategy; no-data industries named with what is "
            "missing.",
        ),
        "pairwise": table_out(
            PAIR_KEY,
            "Per industry and ordered pair of nations: P(A closes first), P(B first), P(tie), "
            "P(neither by the horizon).",
        ),
        "attribution": table_out(
            ATTR_KEY,
            "Per industry with a cost metric and nation: the projected log-cost decline to the "
            "horizon and the shares from own deployment, world deployment (spillover) and "
            "time/research (5/50/95%).",
        ),
        "forecast_quantiles": table_out(
            QUANT_KEY,
            "The race's forecasts as the ledger keeps them: per scenario (base = 'base'), "
            "industry, nation and quantity (capability, volume, cost in the metric's unit; "
            "closing_year) and target year, the 5..95% quantiles; P(closed by the horizon).",
        ),
        "scenarios": table_out(
            SCEN_KEY,
            "Every declared scenario's race rows with the shift against the base case: "
            "closing-year median (years), P(closed by the horizon), P(first).",
        ),
    },
    ins={**_fit_ins(), **_table_ins()},
    check_specs=[
        dg.AssetCheckSpec("probabilities_consistent", asset=RACE_KEY, blocking=True),
        dg.AssetCheckSpec("no_data_has_no_numbers", asset=RACE_KEY, blocking=True),
        dg.AssetCheckSpec("pair_probabilities_sum_to_one", asset=PAIR_KEY, blocking=True),
        dg.AssetCheckSpec("shares_are_fractions", asset=ATTR_KEY, blocking=True),
        dg.AssetCheckSpec("every_scenario_present", asset=SCEN_KEY, blocking=True),
    ],
)
def race(
    context: dg.AssetExecutionContext,
    calibration: CalibrationSettings,
    fit_solar_nation: xr.DataTree,
    fit_deployment: xr.DataTree,
    fit_national_learning: xr.DataTree,
    fit_wright: xr.DataTree,
    fit_ai_frontier: xr.DataTree,
    fit_av: xr.DataTree,
    fit_node_frontier: xr.DataTree,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    market_shares: pl.DataFrame,
    av_testing: pl.DataFrame,
    ai_models: pl.DataFrame,
    chip_products: pl.DataFrame,
):
    """The race of every industry in the shipped race file, base case and scenarios.

    Closing years are calendar years; probabilities are shares of the race's joint draws
    (``lib.race.compute.N_DRAWS``, seed ``RACE_SEED``)."""
    spec = load_spec()
    fits: dict[str, xr.DataTree] = {
        "solar_nation": fit_solar_nation,
        "deployment": fit_deployment,
        "national_learning": fit_national_learning,
        "wright": fit_wright,
        "ai_frontier": fit_ai_frontier,
        "av": fit_av,
        "node_frontier": fit_node_frontier,
    }
    tables = dict(
        zip(
            TABLES,
            (cost_observations, production, market_shares, av_testing, ai_models, chip_products),
            strict=True,
        )
    )
    start = time.perf_counter()
    base = compute.run_race(spec, fits, tables)
    secs_base = time.perf_counter() - start
    context.log.info(f"race: base case in {secs_base:.1f} s")

    quantiles = [
        vintage.forecast_rows(base.draws, base.closings).with_columns(
            scenario=pl.lit(BASE_SCENARIO)
        )
    ]
    scen_rows = []
    for sc in spec.scenarios:
        t0 = time.perf_counter()
        res = compute.run_race(spec, fits, tables, sc)
        scen_rows.append(compute.scenario_rows(base.race, res))
        quantiles.append(
            vintage.forecast_rows(res.draws, res.closings).with_columns(scenario=pl.lit(sc.name))
        )
        context.log.info(f"race: scenario {sc.name} in {time.perf_counter() - t0:.1f} s")
    scen = pl.concat(scen_rows, how="diagonal_relaxed") if scen_rows else pl.DataFrame()

    attr_rows = []
    for ind in spec.industries:
        if ind.status != "data" or ind.cost is None:
            continue
        route = compute.route(ind, "cost")
        if route is None or route.fit not in fits:
            continue
        why = compute.unavailable(route, fits[route.fit], ind.cost)
        if why is not None:
            context.log.warning(f"race: no attribution for {ind.id}: {why}")
            continue
        attr_rows.append(
            cost.attribution(
                ind, fits[route.fit], tables, seed=compute.RACE_SEED, n_draws=compute.N_DRAWS
            )
        )
    attribution = pl.concat(attr_rows, how="diagonal_relaxed") if attr_rows else pl.DataFrame()

    meta: dict[str, dg.MetadataValue] = {
        "seconds_base_case": dg.MetadataValue.float(round(secs_base, 2)),
        "full_view": dg.MetadataValue.text(REPORT),
    }
    for ind in spec.industries:
        if ind.id not in base.closings:
            continue
        rows = base.race.filter(pl.col("industry") == ind.id)
        png = closing_years_png(rows, ind.horizon, f"{ind.name}: year each nation closes the loop")
        save_png(png, calibration.plots_dir, f"race_closing_{ind.id}")
        meta[f"plot_closing_{ind.id}"] = plot(
            png, f"{ind.name}: the year each nation closes the loop (median, 80% interval)"
        )
        for role, d in base.draws[ind.id].items():
            metric = getattr(ind, role)
            png = projection_png(d, metric, f"{ind.name}: {metric.name}, observed and projected")
            save_png(png, calibration.plots_dir, f"race_{ind.id}_{role}")
            meta[f"plot_{role}_{ind.id}"] = plot(
                png, f"{ind.name}: {metric.name}, observed and projected"
            )
    yield dg.Output(base.race, output_name="race", metadata=meta)
    problems = probability_problems(base.race, base.pairwise)
    yield dg.AssetCheckResult(
        asset_key=dg.AssetKey(RACE_KEY),
        check_name="probabilities_consistent",
        passed=not problems,
        description="; ".join(problems) or "P(first) + P(none) = 1 per industry; pairs sum to 1",
    )
    nodata = base.race.filter(pl.col("status") != "data")
    leaked = nodata.filter(
        pl.any_horizontal(
            pl.col(c).is_not_null() for c in ("closing_median", "p_first", "p_closed_by_horizon")
        )
    )
    yield dg.AssetCheckResult(
        asset_key=dg.AssetKey(RACE_KEY),
        check_name="no_data_has_no_numbers",
        passed=leaked.height == 0,
        description=(
            f"{nodata.height} no-data industries, none with a number"
            if leaked.height == 0
            else f"no-data industries with numbers: {leaked['industry'].to_list()}"
        ),
    )
    yield dg.Output(base.pairwise, output_name="pairwise")
    pair_bad = (
        base.pairwise.with_columns(
            total=pl.col("p_a_first") + pl.col("p_b_first") + pl.col("p_tie") + pl.col("p_neither")
        ).filter((pl.col("total") - 1.0).abs() > 1e-6)  # null: a nation not judged, no pair
        if base.pairwise.height
        else base.pairwise
    )
    yield dg.AssetCheckResult(
        asset_key=dg.AssetKey(PAIR_KEY),
        check_name="pair_probabilities_sum_to_one",
        passed=pair_bad.height == 0,
        description=(
            f"{base.pairwise.height} pairs ({base.pairwise['p_a_first'].null_count()} with a "
            f"nation not judged), {pair_bad.height} not summing to 1"
        ),
    )
    yield dg.Output(attribution, output_name="attribution")
    share_cols = [c for c in attribution.columns if c.startswith("share_")]
    outside = (
        attribution.filter(
            pl.any_horizontal((pl.col(c) < -1e-9) | (pl.col(c) > 1 + 1e-9) for c in share_cols)
        ).height
        if share_cols
        else 0
    )
    yield dg.AssetCheckResult(
        asset_key=dg.AssetKey(ATTR_KEY),
        check_name="shares_are_fractions",
        passed=outside == 0,
        description=f"{attribution.height} rows; {outside} with a channel share outside [0, 1]",
    )
    yield dg.Output(scen, output_name="scenarios")
    declared = {sc.name for sc in spec.scenarios}
    present = set(scen["scenario"].unique().to_list()) if scen.height else set()
    yield dg.AssetCheckResult(
        asset_key=dg.AssetKey(SCEN_KEY),
        check_name="every_scenario_present",
        passed=present == declared,
        description=f"declared {sorted(declared)}; present {sorted(present)}",
    )
    h = hashlib.sha256(load_spec().path.encode())
    for t in TABLES:  # nested columns (lists) rule out CSV: hash the tables as NDJSON
        h.update(tables[t].write_ndjson().encode())
    for name, f in sorted(fits.items()):
        h.update(f"{name}:{f.attrs.get('data_version', '?')}".encode())
    yield dg.Output(
        pl.concat(quantiles, how="diagonal_relaxed").with_columns(
            data_version=pl.lit(h.hexdigest()[:16]),
            code_version=pl.lit(
                code_version(compute, closing, cost, capability, volume, rates, draws_mod)
            ),
            seed=pl.lit(compute.RACE_SEED),
        ),
        output_name="forecast_quantiles",
    )


@dg.asset(
    key=LEDGER_KEY,
    check_specs=[dg.AssetCheckSpec("this_forecast_is_recorded", asset=LEDGER_KEY)],
    group_name="race",
    ins={
        "forecast_quantiles": dg.AssetIn(key=QUANT_KEY),
        **{t: dg.AssetIn(key=["harmonized", t]) for t in TABLES},
    },
    kinds={"duckdb", "polars"},
    automation_condition=EAGER,
    pool=WRITE_POOL,
    owners=OWNERS,
    description=LEDGER_TEXT,
)
def race_ledger(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    forecast_quantiles: pl.DataFrame,
    cost_observations: pl.DataFrame,
    production: pl.DataFrame,
    market_shares: pl.DataFrame,
    av_testing: pl.DataFrame,
    ai_models: pl.DataFrame,
    chip_products: pl.DataFrame,
) -> Iterator[dg.Output | dg.AssetCheckResult]:
    """The forecast ledger's vintages and their scores (a copy of the ledger file's list).

    Each materialization appends one vintage per scenario of the race's forecast quantiles to
    the ledger file beside the warehouse (``ledger.duckdb``, append-only, its own file: it
    survives a rebuild of the warehouse; a repeat of the same forecast adds nothing), then
    scores every vintage against the observed race metrics of these tables (50%/90% coverage,
    log-pinball, closing-year Brier) and records the scores as events."""
    path = ledger.default_ledger_path(warehouse.db_path)
    tables = dict(
        zip(
            TABLES,
            (cost_observations, production, market_shares, av_testing, ai_models, chip_products),
            strict=True,
        )
    )
    added = []
    for (scen,), rows in forecast_quantiles.group_by("scenario", maintain_order=True):
        v = ledger.make_vintage(
            rows.select(list(ledger.FORECAST_SCHEMA)),
            data_version=str(rows["data_version"][0]),
            code_version=str(rows["code_version"][0]),
            scenario=str(scen),
            seed=int(rows["seed"][0]),
        )
        if ledger.append_vintage(path, v):
            added.append(v.vintage_id)
    observed = vintage.observed_rows(load_spec(), tables)
    scored = ledger_scores.record_scores(path, observed)
    listing = ledger.list_vintages(path)
    context.log.info(
        f"ledger {path}: {len(added)} vintage(s) added, {scored.height} score row(s) recorded, "
        f"{listing.height} vintage(s) in all"
    )
    recorded = ledger.read_vintages(path)["scenario"].unique().to_list()
    missing = sorted(set(forecast_quantiles["scenario"].unique().to_list()) - set(recorded))
    yield dg.Output(
        listing,
        metadata={
            "ledger_file": dg.MetadataValue.path(data_relative(path, warehouse.db_path)),
            "vintages_added": dg.MetadataValue.int(len(added)),
            "vintages": dg.MetadataValue.int(listing.height),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=dg.AssetKey(LEDGER_KEY),
        check_name="this_forecast_is_recorded",
        passed=not missing,
        description=(
            "every scenario of this race has a vintage in the ledger"
            if not missing
            else f"no vintage for {missing}"
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(assets=[race, race_ledger])
