"""What each warehouse column means, with its unit: the column descriptions shown beside a
table's schema (the Dagster UI's column list, the report).

:func:`column_doc` looks a column up in this order:

1. the table's own entry in :data:`TABLE_COLUMNS` (``"<schema>.<table>"`` or, for the tidy
   tables under both ``raw`` and ``harmonized``, the bare table name);
2. :data:`COLUMNS`, names that mean the same in every table;
3. a statistic of a declared quantity: ``<base>_mean``, ``<base>_sd``, ``<base>_qNN`` (the NN%
   quantile, ``q025`` = 2.5%) and ``<base>`` itself, where ``<base>`` is in :data:`QUANTITIES`;
4. a bare quantile ``qNN`` or ``qNNN`` (of the quantity the table's description names).

Unknown columns have no description (``None``); the caller shows the type alone.
"""

from __future__ import annotations

import re

#: What each tidy table is, with its units (the descriptions of the ``raw`` and ``harmonized``
#: assets).
TABLE_TEXT: dict[str, str] = {
    "technologies": "One row per cost series: technology, industry (from the taxonomy), source, "
    "cost unit (e.g. '2019 USD/W'), production unit (e.g. 'MW'), metric kind (price, cost, lcoe, "
    "installed_cost, input_per_output, performance).",
    "cost_observations": "Unit cost per series, nation and year, in the series' own unit (money "
    "units carry their basis year, e.g. '2019 USD/W'; performance series in their own unit).",
    "production": "Annual production (the series' unit per year) and cumulative production "
    "(the series' unit, through the end of the year) per series, nation and year, with how "
    "cumulative production was derived.",
    "market_shares": "Shares (fractions in [0, 1], never percentages) per industry, technology, "
    "nation and year, with what they are a share of.",
    "av_testing": "California DMV autonomous-vehicle testing per company, reporting year "
    "(December to November) and permit type: autonomous miles, disengagements (count), "
    "vehicles (count), the report's annual total (miles).",
    "ai_models": "Epoch AI models, one row per model: the one nation credited (ultimate parent of "
    "the lead organization, lib/vocab/ai_organizations.csv), Epoch's country list, frontier-scale "
    "flag, publication date, training compute (FLOP), parameters (count), data size "
    "(datapoints).",
    "chip_products": "CPU and GPU products (chip dataset), one row per product row: release "
    "date, process node (nm), TDP (W), die area (mm^2), dies, transistors (millions), clock "
    "(MHz), foundry and vendor with their nations (ISO3), FP16/32/64 throughput (GFLOP/s).",
    "supply_chain_provision": "Who provides each semiconductor supply-chain input or stage "
    "(CSET/ETO, CC BY-NC 4.0: non-commercial use only): provider (country or firm, with its "
    "nation), what it provides, share of the global market (a fraction in [0, 1]; null where "
    "not given), year of the cross-section.",
    "data_notes": "Every deliberate repair made while parsing the upstream files: source, file, "
    "row (header = 1), column, raw value, what was done.",
}

#: The tidy tables (schema ``raw``, one per source, and ``harmonized``), declared in
#: :mod:`learnrace_pipeline.lib.sources.schema`.
TIDY: dict[str, dict[str, str]] = {
    "technologies": {
        "series_id": "series id, 'source:name', unique across the warehouse",
        "technology": "canonical technology name (lib/vocab/taxonomy.csv)",
        "industry": "industry of the technology (the taxonomy's)",
        "unit": "unit of unit_cost, e.g. '2019 USD/W' (money units carry their basis year)",
        "production_unit": "unit of the series' production, e.g. 'MW'; null if none",
        "metric_kind": "price | cost | lcoe | installed_cost | input_per_output | performance",
        "description": "the source's description of the series",
    },
    "cost_observations": {
        "unit_cost": "unit cost (or performance), > 0, in `unit`",
        "unit": "unit of unit_cost, e.g. '2019 USD/W'",
        "price_basis_year": "year of the constant money in `unit`; null for nominal or non-money",
    },
    "production": {
        "annual_production": "production in the year, in `unit` per year; null if only "
        "cumulative is known",
        "cumulative_production": "production through the end of `year`, in `unit`",
        "unit": "unit of production, e.g. 'MW'",
        "cumulative_method": "how cumulative production was derived (reported, "
        "reported_previous_plus_annual, initial_stock_lafond2018, sum_from_first_year)",
    },
    "market_shares": {
        "share": "share, a fraction in [0, 1]",
        "basis": "what the share is of, e.g. 'ev_car_sales_of_world'",
    },
    "av_testing": {
        "company": "company testing autonomous vehicles (normalised name)",
        "nation": "nation of headquarters (ISO 3166 alpha-3)",
        "nation_certain": "False where the headquarters tagging is uncertain",
        "report_year": "CA DMV reporting year y: December y-1 to November y",
        "permit_type": "safety_driver | driverless",
        "autonomous_miles": "autonomous miles driven in the reporting year (sum of months), miles",
        "disengagements": "disengagements reported in the reporting year, count",
        "n_vehicles": "distinct vehicles reported, count (null for the 2014-19 workbook)",
        "reported_annual_total": "the report's ANNUAL TOTAL column, miles (null if absent)",
        "partial_year": "True where the reporting year is only partly covered",
        "source_file": "the CA DMV file the row was read from",
    },
    "ai_models": {
        "model": "model name (Epoch AI)",
        "organization": "developing organization(s), as Epoch lists them",
        "nations": "Epoch's countries of the organizations, ISO3 (reference only)",
        "nation": "the one nation credited (ultimate parent of the lead organization); null: none",
        "nation_basis": "organization (declared map) | epoch_country | null",
        "frontier_scale": ">= 1e23 FLOP or within 10x of the running record",
        "publication_date": "publication date",
        "training_compute_flop": "training compute, FLOP",
        "parameters": "parameters, count",
        "dataset_size": "training data size, datapoints",
        "confidence": "Epoch's confidence in the compute figure: Confident | Likely | Speculative",
        "domain": "model domain (Epoch)",
        "dataset": "notable | large_scale | both: the Epoch list(s) the model is on",
    },
    "chip_products": {
        "product": "CPU or GPU product name",
        "chip_type": "CPU | GPU",
        "variant": "1, 2, ... in file order among rows sharing product and chip_type",
        "release_date": "release date; null where not given",
        "process_nm": "process node, nm",
        "tdp_w": "thermal design power, W",
        "die_mm2": "area of one die, mm^2",
        "n_dies": "dies per package, count",
        "transistors_million": "transistors, millions",
        "freq_mhz": "clock frequency, MHz",
        "foundry": "foundry that made the chip",
        "foundry_nation": "nation of the foundry's headquarters, ISO3",
        "vendor": "vendor of the chip",
        "vendor_nation": "nation of the vendor's headquarters, ISO3",
        "fp16_gflops": "half-precision throughput, GFLOP/s",
        "fp32_gflops": "single-precision throughput, GFLOP/s",
        "fp64_gflops": "double-precision throughput, GFLOP/s",
    },
    "supply_chain_provision": {
        "provider_id": "provider id (CSET/ETO)",
        "provider_name": "provider: a country or a firm",
        "provider_type": "country | organization",
        "provider_nation": "ISO3 (or OTHER) of the country or the firm's headquarters",
        "provided_id": "id of the input or stage provided (CSET/ETO)",
        "provided_name": "the input or stage provided",
        "provided_kind": "stage | process | tool_resource | material_resource | ...",
        "stage": "supply-chain stage, where the source gives one",
        "share": "share of the global market, a fraction in [0, 1]; null where not given",
        "negligible": "the source flags the provider's share as negligible",
        "year": "year the cross-section is dated to",
    },
    "data_notes": {
        "file": "file inside the source's raw folder",
        "row": "row in the file (header = 1)",
        "column": "column in the file",
        "raw_value": "the value as found in the file",
        "note": "what was done with it and why",
    },
}

_HINDCAST_FORECASTS = {
    "series": "series index in the hindcast panel",
    "actual": "observed unit cost at `year`, in the series' cost unit",
    "log_actual": "ln of actual",
    "cover50": "the central 50% interval holds the outcome",
    "cover80": "the central 80% interval holds the outcome",
    "cover90": "the central 90% interval holds the outcome",
    "cover95": "the central 95% interval holds the outcome",
    "log_pinball": "mean quantile (pinball) loss of ln cost over the 7 quantiles, ln units",
    "log_error": "ln(median forecast) - ln(actual)",
    "crps": "continuous ranked probability score of ln cost, ln units",
    "pit": "probability integral transform of the outcome, in [0, 1]",
    "production": "cumulative production at the target year used by the forecast, the "
    "series' production unit",
}
_QUANTILE_UNITS = {
    "evaluation.forecasts": "of unit cost, in the series' cost unit",
    "evaluation.time_only_forecasts": "of unit cost, in the series' cost unit",
    "calibration.ai_frontier_hindcast": "of the nation's record, log10 FLOP",
    "evaluation.race_hindcast": "of the forecast quantity, in `unit`",
    "race.forecast_quantiles": "of the quantity, in `unit` (closing_year: calendar year)",
}

#: Per-table meanings that differ from :data:`COLUMNS` (keys ``schema.table``).
TABLE_COLUMNS: dict[str, dict[str, str]] = {
    "evaluation.forecasts": _HINDCAST_FORECASTS,
    "evaluation.time_only_forecasts": _HINDCAST_FORECASTS,
    "evaluation.pit": {
        "bin": "PIT bin index (10 equal bins)",
        "bin_lo": "lower edge of the bin, in [0, 1]",
        "bin_hi": "upper edge of the bin, in [0, 1]",
        "count": "forecasts in the bin",
        "density": "share of forecasts in the bin divided by the bin width (1 = uniform)",
    },
    "calibration.solar_lambda": {
        "quantity": "lambda (the spillover share)",
        "source": "prior | posterior",
        "value": "one draw of lambda, a share in [0, 1]",
    },
    "calibration.ai_frontier_hindcast": {
        "record_at_origin": "the nation's record at the origin, log10 FLOP",
        "actual_log10_flop": "the nation's actual record at the target date, log10 FLOP",
        "actual_model": "the model holding that record",
        "new_record": "a new record was set between origin and target date",
        "target_date": "origin + horizon",
        "in_50": "the 50% interval holds the actual record",
        "in_90": "the 90% interval holds the actual record",
    },
    "calibration.ai_frontier_hindcast_coverage": {
        "horizon": "years ahead (1, 2) or 'all'",
        "n": "forecasts scored",
        "new_records": "forecasts whose target saw a new record",
    },
    "evaluation.race_hindcast": {
        "role": "volume (share of world volume) | capability",
        "metric": "the race metric forecast",
        "observed": "observed value at the target year, in `unit`",
        "inside50": "the central 50% interval holds the observed value",
        "inside90": "the central 90% interval holds the observed value",
        "log_pinball": "mean pinball loss of the ln quantiles, ln units",
        "model": "the model behind the forecast",
    },
    "evaluation.race_hindcast_coverage": {
        "role": "volume | capability",
        "horizon_group": "1-2, 3-5, 6-10 years ahead, or all",
        "n": "forecasts scored",
        "log_pinball": "mean pinball loss of the ln quantiles, ln units",
    },
    "race.forecast_quantiles": {
        "quantity": "capability | volume | cost (in `unit`) | closing_year",
        "p_closed": "P(the loop is closed by target_year)",
        "log_scale": "the quantity is forecast on a log scale",
        "scenario": "scenario name (base = the base case)",
        "data_version": "hash of the input tables and fits",
        "code_version": "hash of the race code",
        "seed": "seed of the race's draws",
    },
    "race.ledger": {
        "vintage_id": "id of a recorded forecast vintage",
        "created_at": "when the vintage was recorded (UTC)",
        "n_rows": "forecast rows in the vintage",
        "n_scored": "forecast rows scored against observations",
        "cov50": "coverage of the 50% intervals, a share",
        "cov90": "coverage of the 90% intervals, a share",
        "pinball": "mean pinball loss (ln units)",
        "brier": "Brier score of P(closed), in [0, 1]",
        "observed_version": "hash of the observations scored against",
        "scored_at": "when the scores were computed (UTC)",
    },
    **{
        key: {"horizon": "the industry's horizon, calendar year"}
        for key in ("race.race", "race.scenarios", "race.pairwise")
    },
    "calibration.excluded_series": {
        "fit": "wright (the Wright and experience+time panel) | time_all | performance",
        "reason": "why the series is left out",
    },
}

#: Names meaning the same in every table.
COLUMNS: dict[str, str] = {
    "series_id": "series id, 'source:name'",
    "technology": "canonical technology name",
    "industry": "industry",
    "industry_name": "industry's display name",
    "nation": "ISO 3166 alpha-3, WLD (world) or a region (EUROPE, EU27, ROW, OTHER, ALL)",
    "year": "calendar year",
    "source": "source (a folder under the raw data)",
    "unit": "unit of the row's quantity",
    "level": "all | industry | series | nation | company: the level of the hierarchy",
    "name": "the level's member (industry or series id)",
    "model": "the model or forecaster",
    "form": "model form",
    "origin": "hindcast origin: the last year (or date) of training data",
    "horizon": "years ahead of the origin",
    "target_year": "calendar year forecast",
    "n": "forecasts scored",
    "n_series": "series, count",
    "n_points": "observations fitted, count",
    "n_obs": "observations, count",
    "n_draws": "posterior draws used, count",
    "draws": "posterior draws, count",
    "status": "data | no data | forecast | observed | insufficient data",
    "note": "what the numbers rest on",
    "data_end": "last date of the data fitted",
    "as_of": "date the row describes",
    "first_year": "first observed year",
    "last_year": "last observed year",
    "rank": "rank by expected log predictive density (0 = best)",
    "elpd_loo": "PSIS-LOO expected log predictive density, nats",
    "se": "standard error of elpd_loo, nats",
    "p_loo": "effective number of parameters (PSIS-LOO)",
    "elpd_diff": "elpd_loo difference to the best model, nats",
    "se_diff": "standard error of elpd_diff, nats",
    "dse": "standard error of the elpd difference, nats",
    "weight": "stacking weight, a share",
    "n_high_pareto_k": "observations with Pareto k > 0.7, count",
    "n_pareto_k_gt_0_7": "observations with Pareto k > 0.7, count",
    "preferred": "the form PSIS-LOO prefers",
    "corr_w_m": "posterior correlation of w and m",
    "halving_or_doubling_years": "ln 2 / m_mean: cost halving (or performance doubling) time, years",
    "coverage50": "share of outcomes inside the central 50% interval",
    "coverage80": "share of outcomes inside the central 80% interval",
    "coverage90": "share of outcomes inside the central 90% interval",
    "coverage95": "share of outcomes inside the central 95% interval",
    "coverage_50": "share of outcomes inside the central 50% interval",
    "coverage_90": "share of outcomes inside the central 90% interval",
    "log_pinball": "mean quantile (pinball) loss of ln cost, ln units",
    "crps": "continuous ranked probability score of ln cost, ln units",
    "bias_log": "mean ln(median / outcome): > 0 forecasts too high",
    "rmse_log": "root mean square ln error of the median",
    "pit_mean": "mean PIT (0.5 if calibrated)",
    "pit_sd": "sd of PIT (0.289 if calibrated)",
    "log_pinball_ratio_ols": "log_pinball / that of baseline (a), per-series OLS Wright",
    "crps_ratio_ols": "crps / that of baseline (a), per-series OLS Wright",
    "log_pinball_ratio_rw": "log_pinball / that of the random walk with drift",
    "crps_ratio_rw": "crps / that of the random walk with drift",
    "rmse_log_growth": "growth of rmse_log per year of horizon, ln units per year",
    "rmse_log_growth_intercept": "rmse_log at horizon 0 of that line, ln units",
    "rmse_log_growth_r2": "R^2 of that line",
    "horizon_group": "1-2, 3-5 or 6-10 years ahead",
    "n_series_fit": "series fitted at the origin",
    "n_series_forecast": "series forecast from the origin",
    "n_series_projected": "series whose production was projected",
    "n_targets": "forecast targets",
    "theta_rw": "MA(1) theta of the random walk with drift",
    "shared_drift": "the time drift shared by all series (baseline d), ln cost per year",
    "divergences": "divergent transitions of the per-origin fit",
    "max_rhat": "largest rank-normalised split R-hat of the per-origin fit",
    "min_ess_bulk": "smallest bulk effective sample size of the per-origin fit",
    "sample_seconds": "seconds sampling",
    "fit_seconds": "seconds fitting",
    "seconds": "seconds",
    "total_seconds": "seconds in all",
    "archetype": "the nation's strategy archetype (race file)",
    "closing_q10": "10% quantile of the year the nation closes the loop (null: after the horizon)",
    "closing_median": "median closing year, calendar year (null: after the horizon)",
    "closing_q90": "90% quantile of the closing year (null: after the horizon)",
    "p_closed_by_horizon": "P(closes the loop by the horizon)",
    "already_closed": "the loop is closed in the data",
    "closed_year": "year the data show it closed",
    "measured_roles": "roles the nation is judged on, e.g. volume+cost",
    "unmeasured_roles": "roles without data; null when none",
    "p_first": "P(first to close among the judged nations), ties split evenly",
    "p_none_by_horizon": "P(no judged nation closes by the horizon), the industry's",
    "leading_nation": "nation with the highest P(first)",
    "leading_strategy": "archetype of the highest P(first), or 'none by horizon'",
    "median_shift": "scenario's closing-year median minus the base case's, years",
    "median_direction": "earlier | later | same",
    "p_closed_shift": "scenario's P(closed by the horizon) minus the base case's",
    "p_first_shift": "scenario's P(first) minus the base case's",
    "scenario": "scenario name (base = the base case)",
    "nation_a": "nation A of the pair",
    "nation_b": "nation B of the pair",
    "p_a_first": "P(A closes first)",
    "p_b_first": "P(B closes first)",
    "p_tie": "P(both close in the same year, by the horizon)",
    "p_neither": "P(neither closes by the horizon)",
    "unmeasured_a": "roles of A without data",
    "unmeasured_b": "roles of B without data",
    "from_year": "first year of the projected decline",
    "to_year": "last year of the projected decline (the horizon)",
    "n_draws_positive": "draws with a positive projected decline (shares computed on these)",
    "leader": "nation with the highest P(leader)",
    "p_leader": "P(the nation holds the frontier record)",
    "record_model": "model holding the nation's record",
    "record_date": "date of the record",
    "record_log10_flop": "the nation's record training compute, log10 FLOP",
    "record_product": "product holding the nation's record node",
    "record_nm": "the nation's smallest process node, nm",
    "leader_company": "company with the highest median MPD now (nation rows)",
    "company": "company",
    "nation_certain": "False where the headquarters tagging is uncertain",
    "cum_miles_now": "cumulative autonomous miles through the last reporting year, miles",
    "series": "series",
    "centre_year": "the industry's centre year (growth is measured there)",
    "ci_kind": "interval kind (eti: equal-tailed)",
    "ci_prob": "interval probability",
    "quantity": "what is forecast",
    "role": "volume | capability | cost",
    "metric": "race metric",
}

#: Quantities summarised by ``_mean``, ``_sd`` and ``_qNN`` columns: meaning and unit.
QUANTITIES: dict[str, str] = {
    "w": "Wright exponent w, unit-free (cost ∝ Q^-w)",
    "lr": "learning rate 1 - 2^-w per doubling of cumulative production, a fraction",
    "m": "time trend m, ln cost decline (performance gain) per year",
    "rho": "MA(1) coefficient of the noise, unit-free",
    "sigma": "innovation sd of ln cost per step, ln units",
    "lambda": "spillover share lambda (weight of national experience), in [0, 1]",
    "log10_flop": "the nation's frontier training compute, log10 FLOP",
    "doubling_months": "doubling time of the frontier trend, months",
    "gap_years": "gap to the leader at the nation's own rate, years",
    "runs_per_year": "frontier runs (record attempts) per year",
    "slope": "elasticity b of miles per disengagement to cumulative miles (2^b per doubling)",
    "floor_per_million": "irreducible disengagements per 1e6 miles (saturating form; 0 for power)",
    "mpd_now": "miles per disengagement at the cumulative miles now",
    "mpd_10x": "miles per disengagement at 10x the cumulative miles now",
    "growth": "volume growth rate at the centre year, ln per year",
    "growth_at_end": "volume growth rate at the last observed year, ln per year",
    "rate": "logistic rate r, ln per year",
    "ceiling": "logistic ceiling K, in `unit` per year",
    "midpoint_year": "logistic midpoint year t0",
    "nm": "projected leading process node at as_of, nm",
    "halving_years": "halving time of the trend node, years",
    "decline_log": "projected ln cost decline from from_year to to_year, ln units",
    "share_own_deployment": "share of the decline from own deployment, a fraction",
    "share_world_spillover": "share of the decline from world deployment (spillover), a fraction",
    "share_time_research": "share of the decline from time/research, a fraction",
    "w_mu": "population mean of a new series' Wright exponent, unit-free",
    "w_sd": "population sd of a new series' Wright exponent, unit-free",
    "log_sigma_mu": "population mean of ln sigma (sigma: noise sd of ln cost per step)",
    "log_sigma_sd": "population sd of ln sigma",
    "nu": "Student-t degrees of freedom",
}

_STAT = re.compile(r"^(?P<base>.+)_(?P<stat>mean|sd|q\d{2,3})$")
_QUANTILE = re.compile(r"^q(?P<digits>\d{2,3})$")


def quantile_label(digits: str) -> str:
    """``"05"`` -> ``"5%"``, ``"025"`` -> ``"2.5%"``, ``"975"`` -> ``"97.5%"``."""
    value = int(digits) / (10 ** (len(digits) - 2))
    return f"{value:g}%"


def _stat_text(stat: str) -> str:
    if stat == "mean":
        return "posterior mean"
    if stat == "sd":
        return "posterior sd"
    return f"{quantile_label(stat[1:])} quantile"


def column_doc(schema: str, table: str, column: str) -> str | None:
    """What ``column`` of warehouse table ``schema.table`` holds, with its unit (None: unknown).

    Raw tables are named ``<source>__<table>``; their columns are the tidy table's.
    """
    tidy = table.split("__", 1)[1] if schema == "raw" and "__" in table else table
    own = TABLE_COLUMNS.get(f"{schema}.{table}", {})
    if column in own:
        return own[column]
    if schema in ("raw", "harmonized") and column in TIDY.get(tidy, {}):
        return TIDY[tidy][column]
    if column in COLUMNS:
        return COLUMNS[column]
    if column in QUANTITIES:
        return QUANTITIES[column]
    match = _STAT.match(column)
    if match and match["base"] in QUANTITIES:
        return f"{_stat_text(match['stat'])} of {QUANTITIES[match['base']]}"
    match = _QUANTILE.match(column)
    if match:
        of = _QUANTILE_UNITS.get(f"{schema}.{table}", "of the forecast")
        return f"{quantile_label(match['digits'])} quantile {of}"
    return None
