"""AV capability data: the ``av_testing`` table checked, aggregated and made model-ready.

Conventions (CA DMV reports): a reporting year (RY) y runs from December y-1 to November y.
Rows are summed over source files per company, RY and permit (``safety_driver`` /
``driverless``). MPD (miles per disengagement) uses safety-driver miles and disengagements only.
Cumulative miles = safety-driver + driverless miles from the company's first report through the
end of the RY (inclusive). Partial reporting years (``partial_year``) are kept for the
cumulative total but excluded from the likelihoods. RY2020 is missing from the public copy
(handled as a latent quantity by the model in :mod:`.av`).

Also here: :func:`simulate_av_testing`, an ``av_testing``-shaped frame simulated from the model
with known parameters, for recovery tests and benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from learnrace_pipeline.lib.errors import DataError, ModelError

SOURCE = "av_testing"
MISSING_YEAR = 2020
X0_MILES = 1e5  # reference cumulative miles of the intercept a_c

REQUIRED = {
    "company": pl.String,
    "nation": pl.String,
    "report_year": pl.Int32,
    "permit_type": pl.String,
    "autonomous_miles": pl.Float64,
    "disengagements": pl.Int64,
    "partial_year": pl.Boolean,
}
PERMITS = ("safety_driver", "driverless")


@dataclass(frozen=True)
class AvData:
    """Model-ready arrays built by :func:`prepare_av_data` (all miles in miles)."""

    companies: list[str]
    nations: list[str]  # nations present, sorted
    company_nation: np.ndarray  # index into nations, per company
    nation_certain: np.ndarray  # bool per company
    years: list[int]  # report years of the cumulative grid
    obs: pl.DataFrame  # fit rows: company, report_year, safety_miles, disengagements, cum_obs
    miles_obs: pl.DataFrame  # miles-submodel rows: company, report_year, total_miles
    cum_grid: np.ndarray  # observed cumulative miles, company x year (through the year)
    bridge: list[str]  # companies with a latent RY2020
    panel: pl.DataFrame  # the whole company x year panel after aggregation (for plots, tests)
    excluded: pl.DataFrame = field(default_factory=pl.DataFrame)  # companies left out and why

    @property
    def company_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.companies)}


def _check_input(av: pl.DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in av.columns]
    if missing:
        raise DataError(f"missing columns {missing}", source=SOURCE, column=missing[0])
    df = av.with_row_index("_i", offset=1)

    def fail(mask: pl.Expr, column: str, problem: str) -> None:
        bad = df.filter(mask)
        if bad.height:
            r = bad.row(0, named=True)
            where = f"{r['company']!r}, report year {r['report_year']}, permit {r['permit_type']!r}"
            raise DataError(
                f"{problem} ({where}; {bad.height} such rows)",
                source=SOURCE,
                file=r.get("source_file"),
                row=int(r["_i"]),
                column=column,
            )

    for col in REQUIRED:
        fail(pl.col(col).is_null(), col, f"{col} is missing")
    fail(~pl.col("permit_type").is_in(PERMITS), "permit_type", f"permit_type not one of {PERMITS}")
    fail(~pl.col("autonomous_miles").is_finite(), "autonomous_miles", "miles are not finite")
    fail(pl.col("autonomous_miles") < 0, "autonomous_miles", "negative miles")
    fail(pl.col("disengagements") < 0, "disengagements", "negative disengagements")
    fail(
        (pl.col("disengagements") > 0) & (pl.col("autonomous_miles") == 0),
        "disengagements",
        "disengagements reported with zero miles",
    )
    nat = av.group_by("company").agg(pl.col("nation").n_unique().alias("k"))
    multi = nat.filter(pl.col("k") > 1)
    if multi.height:
        c = multi["company"][0]
        raise DataError(
            f"company {c!r} has several nations of headquarters", source=SOURCE, column="nation"
        )


def prepare_av_data(av_testing: pl.DataFrame, *, min_years: int = 3) -> AvData:
    """Aggregate the ``av_testing`` table to a company x report-year panel and pick the fit set.

    Rows are summed over source files per company, report year and permit. A company enters the
    fit when it has at least ``min_years`` non-partial reporting years with safety-driver miles
    > 0 (zero-disengagement years count). Raises :class:`DataError` naming the row for negative
    miles or disengagements, disengagements with zero miles, nulls, unknown permit types, and a
    company with several nations.
    """
    _check_input(av_testing)
    if "nation_certain" not in av_testing.columns:
        av_testing = av_testing.with_columns(pl.lit(True).alias("nation_certain"))
    agg = av_testing.group_by("company", "nation", "report_year", "permit_type").agg(
        pl.col("autonomous_miles").sum().alias("miles"),
        pl.col("disengagements").sum().alias("dis"),
        pl.col("partial_year").any().alias("partial"),
        pl.col("nation_certain").all().alias("nation_certain"),
    )
    sd = agg.filter(pl.col("permit_type") == "safety_driver").select(
        "company",
        "report_year",
        pl.col("miles").alias("safety_miles"),
        pl.col("dis").alias("disengagements"),
        pl.col("partial").alias("safety_partial"),
    )
    tot = agg.group_by("company", "nation", "report_year").agg(
        pl.col("miles").sum().alias("total_miles"),
        pl.col("partial").any().alias("partial"),
        pl.col("nation_certain").all().alias("nation_certain"),
    )
    panel = (
        tot.join(sd, on=["company", "report_year"], how="left")
        .with_columns(
            pl.col("safety_miles").fill_null(0.0),
            pl.col("disengagements").fill_null(0),
            pl.col("safety_partial").fill_null(False),
        )
        .sort("company", "report_year")
        .with_columns(pl.col("total_miles").cum_sum().over("company").alias("cum_obs"))
    )
    fit_rows = panel.filter(
        (pl.col("safety_miles") > 0) & ~pl.col("safety_partial") & ~pl.col("partial")
    )
    counts = fit_rows.group_by("company").agg(pl.len().alias("n_years"))
    keep = counts.filter(pl.col("n_years") >= min_years)["company"].sort().to_list()
    if len(keep) < 2:
        raise ModelError(f"only {len(keep)} companies have >= {min_years} fit years; need 2")
    excluded = (
        panel.select("company")
        .unique()
        .join(counts, on="company", how="left")
        .with_columns(pl.col("n_years").fill_null(0))
        .filter(~pl.col("company").is_in(keep))
        .with_columns(
            pl.lit(f"fewer than {min_years} non-partial safety-driver years").alias("reason")
        )
        .sort("company")
    )
    fit_rows = fit_rows.filter(pl.col("company").is_in(keep))
    panel_k = panel.filter(pl.col("company").is_in(keep))
    comp_info = (
        panel_k.group_by("company")
        .agg(
            pl.col("nation").first(),
            pl.col("nation_certain").all(),
            pl.col("report_year").min().alias("y0"),
        )
        .sort("company")
    )
    nations = sorted(set(comp_info["nation"].to_list()))
    nidx = {n: i for i, n in enumerate(nations)}
    years = list(range(int(panel_k["report_year"].min()), int(panel_k["report_year"].max()) + 1))
    cidx = {c: i for i, c in enumerate(keep)}
    grid = np.zeros((len(keep), len(years)))
    for r in panel_k.iter_rows(named=True):
        grid[cidx[r["company"]], years.index(r["report_year"])] += r["total_miles"]
    grid = np.cumsum(grid, axis=1)
    full = panel_k.filter(~pl.col("partial"))
    before = set(full.filter(pl.col("report_year") < MISSING_YEAR)["company"].to_list())
    after = set(full.filter(pl.col("report_year") > MISSING_YEAR)["company"].to_list())
    has_2020 = set(full.filter(pl.col("report_year") == MISSING_YEAR)["company"].to_list())
    bridge = sorted((before & after) - has_2020)
    miles_obs = full.filter(pl.col("total_miles") > 0).select(
        "company", "report_year", "total_miles"
    )
    return AvData(
        companies=keep,
        nations=nations,
        company_nation=np.array([nidx[n] for n in comp_info["nation"]], dtype=np.int64),
        nation_certain=comp_info["nation_certain"].to_numpy(),
        years=years,
        obs=fit_rows.select(
            "company", "nation", "report_year", "safety_miles", "disengagements", "cum_obs"
        ),
        miles_obs=miles_obs,
        cum_grid=grid,
        bridge=bridge,
        panel=panel,
        excluded=excluded,
    )


@dataclass(frozen=True)
class AvTruth:
    """True parameters behind :func:`simulate_av_testing` (natural logs, miles)."""

    a: dict[str, float]
    b: dict[str, float]
    b_nation: dict[str, float]
    log_ceiling: dict[str, float] | None
    alpha: float
    miles_2020: dict[str, float]


def simulate_av_testing(
    *,
    seed: int,
    companies_per_nation: dict[str, int] | None = None,
    years: tuple[int, int] = (2015, 2022),
    b_nation: dict[str, float] | None = None,
    b_company_sd: float = 0.2,
    a_mu: float = float(np.log(1e3)),
    a_sd: float = 1.0,
    log_ceiling: float | None = None,
    alpha: float = 4.0,
    growth: float = 0.35,
) -> tuple[pl.DataFrame, AvTruth]:
    """An ``av_testing``-shaped frame simulated from the model, with RY2020 rows removed.

    Each company starts in a random year of the first half of ``years`` with ~1e3-1e5 annual
    miles growing about ``growth`` in ln per year; from 2021 a tenth of the miles of US companies
    are driverless. Disengagements ~ NB(miles / MPD, ``alpha``). ``log_ceiling`` (ln MPD) switches
    on the saturating form. The RY2020 reports are dropped, as in the real data.
    """
    rng = np.random.default_rng(seed)
    cpn = companies_per_nation or {"USA": 6, "CHN": 5, "DEU": 3}
    bn = b_nation or {"USA": 0.85, "CHN": 1.0, "DEU": 0.7}
    y0, y1 = years
    rows = []
    truth_a, truth_b, truth_c, truth_m20 = {}, {}, {}, {}
    for nation, k in cpn.items():
        for j in range(k):
            name = f"{nation}-{j + 1}"
            start = int(rng.integers(y0, y0 + (y1 - y0) // 2))
            log_m = rng.normal(np.log(1e4), 1.0)
            g = rng.normal(growth, 0.15)
            a = rng.normal(a_mu, a_sd)
            b = rng.normal(bn[nation], b_company_sd)
            truth_a[name], truth_b[name] = a, b
            if log_ceiling is not None:
                truth_c[name] = log_ceiling + rng.normal(0, 0.3)
            cum = 0.0
            for y in range(start, y1 + 1):
                if y > start:
                    log_m += g + rng.normal(0, 0.3)
                total = float(np.exp(log_m))
                cum += total
                if y == MISSING_YEAR:
                    truth_m20[name] = total
                    continue
                driverless = 0.1 * total if (y >= 2021 and nation == "USA") else 0.0
                safety = total - driverless
                lm = a + b * (np.log(cum) - np.log(X0_MILES))
                if log_ceiling is not None:
                    lm = -np.logaddexp(-lm, -truth_c[name])
                mu = safety * np.exp(-lm)
                dis = int(rng.negative_binomial(alpha, alpha / (alpha + mu)))
                for permit, miles, d in (
                    ("safety_driver", safety, dis),
                    ("driverless", driverless, 0),
                ):
                    if miles > 0:
                        rows.append(
                            {
                                "company": name,
                                "nation": nation,
                                "nation_certain": True,
                                "report_year": y,
                                "permit_type": permit,
                                "autonomous_miles": round(miles, 1),
                                "disengagements": d,
                                "n_vehicles": None,
                                "reported_annual_total": None,
                                "partial_year": False,
                                "source_file": "simulated",
                            }
                        )
    schema = {
        "company": pl.String, "nation": pl.String, "nation_certain": pl.Boolean,
        "report_year": pl.Int32, "permit_type": pl.String, "autonomous_miles": pl.Float64,
        "disengagements": pl.Int64, "n_vehicles": pl.Int64, "reported_annual_total": pl.Float64,
        "partial_year": pl.Boolean, "source_file": pl.String,
    }  # fmt: skip
    frame = pl.DataFrame(rows, schema=schema)
    truth = AvTruth(truth_a, truth_b, dict(bn), truth_c or None, alpha, truth_m20)
    return frame, truth
