"""Autonomous-vehicle capability against experience (CA DMV disengagement reports).

Measure: miles per disengagement (MPD) on safety-driver permits, against cumulative autonomous
miles (safety-driver + driverless, counted from each company's first report, through the end of
the reporting year, inclusive).

Model (one PyMC graph; dims ``company``, ``nation``, ``obs``, ``mobs``, ``bridge``, ``year``,
``step``):

- Capability curve, per company ``c`` with nation of headquarters ``n[c]``::

      x = ln(cumulative miles) - ln(1e5)
      power:       ln MPD = a_c + b_c * x
      saturating:  1/MPD  = floor_c + exp(-(a_c + b_c * x))   (irreducible disengagement rate)

  ``a_c, b_c`` are drawn around nation effects (``a_nation``, ``b_nation``), which are drawn
  around global means with fixed prior scales (a handful of nations cannot identify a
  between-nation variance); company scales are learned. The saturating form adds a per-company floor in disengagements per mile,
  ``floor_c = exp(-ceiling_c)``, so MPD can never exceed ``exp(ceiling_c)``.
- Likelihood: disengagements ~ NegativeBinomial(mu = safety-driver miles / MPD, alpha) (or Poisson),
  i.e. a count model with exposure; a company-year with few miles has a small expected count and
  weighs little. Years with zero disengagements are kept (they are information, not infinities).
- Miles submodel: ln(annual total miles) is a random walk with drift per company,
  ``ln m[t2] - ln m[t1] ~ StudentT(4, g_c * (t2 - t1), sigma_miles * sqrt(t2 - t1))`` over
  consecutive reported years, drifts pooled over companies. It does two jobs: it imputes the
  missing reporting year 2020 and it projects miles forward for :func:`av_mpd_forecast`.
- The missing RY2020: for every company with reports both before and after 2020 ("bridging"
  companies), ln RY2020 annual miles are a latent node of that random walk, pinned down by the
  steps from RY2019 (or the last earlier year) and to RY2021 (or the next later year).
  Cumulative miles from 2020 on include it, so its uncertainty flows into every later ``x``.
  Companies first seen after 2020 start their cumulative count at their first report (an
  assumption: their unreported RY2020 miles, if any, are not known).

Partial reporting years (``partial_year``) are excluded from both likelihoods but their miles
count towards the cumulative total.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Literal

import arviz as az
import numpy as np
import polars as pl
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from scipy import stats

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models.base import SamplerConfig, code_version, compile_model, fit
from learnrace_pipeline.lib.models.groups import constant_data, observed_data, quantile_columns

Form = Literal["power", "saturating"]
Likelihood = Literal["negbin", "poisson"]

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
class AvPriors:
    """Prior scales of the AV capability model (natural-log units unless stated)."""

    a_mu: tuple[float, float] = (float(np.log(1e3)), 2.5)  # ln MPD at 1e5 cumulative miles
    a_nation_sd: float = 1.0  # fixed scale of nation deviations from a_mu
    a_company_sd: float = 1.5
    b_mu: tuple[float, float] = (0.7, 0.5)  # power-law slope of ln MPD on ln cumulative miles
    b_nation_sd: float = 0.3  # fixed scale of nation deviations from b_mu
    b_company_sd: float = 0.5
    ceiling_mu: tuple[float, float] = (float(np.log(1e5)), 1.5)  # ln of the MPD ceiling
    ceiling_company_sd: float = 1.0  # fixed scale of company ceilings around ceiling_mu
    overdispersion: float = 1.0  # half-normal scale of 1/sqrt(alpha): CV of the rate noise
    g_mu: tuple[float, float] = (0.3, 0.5)  # drift of ln annual miles per year
    g_sd: float = 0.5
    sigma_miles: float = 1.0  # half-normal scale of the sd of one year's ln-miles step

    def to_dict(self) -> dict:
        return asdict(self)


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


def _nc(name: str, mu, sd, dims: str, z_dims: str | None = None):
    """Non-centred normal: mu + sd * z, registered as a deterministic with ``dims``."""
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims=z_dims or dims)
    return pm.Deterministic(name, mu + sd * z, dims=dims)


def _miles_steps(data: AvData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Consecutive (node_from, node_to, company, years apart) of the miles random walk.

    Nodes are the observed ln annual miles (``miles_obs`` rows, in order) followed by one latent
    RY2020 node per bridging company.
    """
    ci = data.company_index
    n_obs = data.miles_obs.height
    nodes: dict[int, list[tuple[int, int]]] = {}
    for k, (c, y) in enumerate(data.miles_obs.select("company", "report_year").iter_rows()):
        nodes.setdefault(ci[c], []).append((int(y), k))
    for j, c in enumerate(data.bridge):
        nodes[ci[c]].append((MISSING_YEAR, n_obs + j))
    src, dst, comp, gap = [], [], [], []
    for c, seq in nodes.items():
        seq.sort()
        for (y1, k1), (y2, k2) in itertools.pairwise(seq):
            src.append(k1), dst.append(k2), comp.append(c), gap.append(y2 - y1)
    return (np.array(src, dtype=np.int64), np.array(dst, dtype=np.int64),
            np.array(comp, dtype=np.int64), np.array(gap, dtype=float))  # fmt: skip


def _company_arrays(data: AvData) -> dict[str, np.ndarray]:
    """Per-company constants: last fitted year, cumulative miles then, last miles node."""
    obs, mo = data.obs, data.miles_obs
    last_year = np.array(
        [int(obs.filter(pl.col("company") == c)["report_year"].max()) for c in data.companies]
    )
    mlast = np.array(
        [int(mo.filter(pl.col("company") == c)["report_year"].max()) for c in data.companies]
    )
    mlast_val = np.array(
        [
            float(
                mo.filter((pl.col("company") == c) & (pl.col("report_year") == y))["total_miles"][0]
            )
            for c, y in zip(data.companies, mlast, strict=True)
        ]
    )
    col = [data.years.index(int(y)) for y in last_year]
    xbar = np.array(
        [
            float(np.mean(np.log(obs.filter(pl.col("company") == c)["cum_obs"].to_numpy())))
            for c in data.companies
        ]
    ) - np.log(X0_MILES)
    return {
        "company_last_year": last_year,
        "company_cum_last": data.cum_grid[np.arange(len(data.companies)), col],
        "company_miles_last_year": mlast,
        "company_log_miles_last": np.log(mlast_val),
        "company_xbar": xbar,
    }


def build_av_model(
    data: AvData,
    *,
    form: Form = "power",
    likelihood: Likelihood = "negbin",
    priors: AvPriors | None = None,
) -> pm.Model:
    """The AV capability-vs-experience PyMC model (see module docstring for the equations)."""
    if form not in ("power", "saturating"):
        raise ModelError(f"unknown form {form!r}: use 'power' or 'saturating'")
    if likelihood not in ("negbin", "poisson"):
        raise ModelError(f"unknown likelihood {likelihood!r}: use 'negbin' or 'poisson'")
    p = priors or AvPriors()
    ci = data.company_index
    obs = data.obs
    n_c = len(data.companies)
    o_comp = np.array([ci[c] for c in obs["company"]], dtype=np.int64)
    o_year = obs["report_year"].to_numpy()
    bridge_idx = np.array([ci[c] for c in data.bridge], dtype=np.int64)
    # position of each company in the bridge vector (len(bridge) = "no latent")
    bpos = np.full(n_c, len(data.bridge), dtype=np.int64)
    bpos[bridge_idx] = np.arange(len(data.bridge))
    src, dst, s_comp, s_gap = _miles_steps(data)
    arrays = _company_arrays(data)
    coords = {
        "company": data.companies,
        "nation": data.nations,
        "obs": np.arange(obs.height),
        "mobs": np.arange(data.miles_obs.height),
        "bridge": data.bridge,
        "year": data.years,
        "step": np.arange(len(src)),
    }
    with pm.Model(coords=coords) as model:
        safety_miles = pm.Data("safety_miles", obs["safety_miles"].to_numpy(), dims="obs")
        cum_obs = pm.Data("cum_obs", obs["cum_obs"].to_numpy(), dims="obs")
        pm.Data("obs_company", o_comp, dims="obs")
        pm.Data("obs_year", o_year, dims="obs")
        pm.Data("company_nation", data.company_nation, dims="company")
        for name, arr in arrays.items():
            pm.Data(name, arr, dims="company")
        pm.Data("company_bridge", (bpos < len(data.bridge)).astype(np.int64), dims="company")
        pm.Data("cum_grid", data.cum_grid, dims=("company", "year"))
        log_miles = pm.Data(
            "log_miles", np.log(data.miles_obs["total_miles"].to_numpy()), dims="mobs"
        )

        # --- miles submodel: random walk with drift on ln annual miles; latent RY2020 ---------
        g_mu = pm.Normal("g_mu", *p.g_mu)
        g_sd = pm.HalfNormal("g_sd", p.g_sd)
        g = _nc("g", g_mu, g_sd, "company")  # drift of ln annual miles per year (noisy steps)
        s = pm.HalfNormal("sigma_miles", p.sigma_miles)  # sd of one year's step
        if len(data.bridge):
            # flat-ish start; the two random-walk steps around 2020 pin it down
            log_m20 = pm.Normal("log_miles_2020", float(np.log(1e4)), 5.0, dims="bridge")
            m20 = pm.Deterministic("miles_2020", pt.exp(log_m20), dims="bridge")
            nodes = pt.concatenate([log_miles, log_m20])
            m20_pad = pt.concatenate([m20, pt.zeros((1,))])
        else:
            nodes = log_miles
            m20_pad = pt.zeros((1,))
        step = nodes[dst] - nodes[src]
        pm.Potential(
            "miles_steps",
            pm.logp(
                pm.StudentT.dist(nu=4, mu=g[s_comp] * s_gap, sigma=s * np.sqrt(s_gap)), step
            ).sum(),
        )
        latent = m20_pad[bpos[o_comp]] * (o_year >= MISSING_YEAR)
        cum = pm.Deterministic("cum_miles", cum_obs + latent, dims="obs")
        x = pt.log(cum) - np.log(X0_MILES)

        # --- capability curve ------------------------------------------------------------------
        a_mu = pm.Normal("a_mu", *p.a_mu)
        # nation effects: fixed prior scale (a few nations cannot identify a between-nation sd);
        # centred: with a fixed scale there is no funnel, and the nation means are data-rich
        a_nat = pm.Normal("a_nation", a_mu, p.a_nation_sd, dims="nation")
        b_mu = pm.Normal("b_mu", *p.b_mu)
        b_nat = pm.Normal("b_nation", b_mu, p.b_nation_sd, dims="nation")
        b_sd = pm.HalfNormal("b_company_sd", p.b_company_sd)
        b = _nc("b", b_nat[data.company_nation], b_sd, "company")
        # a_c (ln MPD at 1e5 cumulative miles) ~ Normal(a_nation, a_sd), sampled through the
        # company's ln MPD at its own mean experience xbar_c (a_c = a_mid_c - b_c * xbar_c,
        # unit Jacobian) to remove the a-b posterior correlation.
        a_sd = pm.HalfNormal("a_company_sd", p.a_company_sd)
        xbar = arrays["company_xbar"]
        a_mid = pm.Normal("a_mid", a_nat[data.company_nation] + b * xbar, a_sd, dims="company")
        a = pm.Deterministic("a", a_mid - b * xbar, dims="company")
        log_mpd = a[o_comp] + b[o_comp] * x
        if form == "saturating":
            c_mu = pm.Normal("ceiling_mu", *p.ceiling_mu)
            # fixed company scale: the data barely identify the ceilings (a learned scale
            # made a funnel with hundreds of divergences on the CA DMV data)
            ceiling = _nc("log_ceiling", c_mu, p.ceiling_company_sd, "company")
            log_mpd = -pt.logaddexp(-log_mpd, -ceiling[o_comp])
        log_mpd = pm.Deterministic("log_mpd", log_mpd, dims="obs")
        mu = safety_miles * pt.exp(-log_mpd)
        if likelihood == "negbin":
            inv_sqrt_alpha = pm.HalfNormal("inv_sqrt_alpha", p.overdispersion)
            alpha = pm.Deterministic("alpha", 1.0 / pt.sqr(inv_sqrt_alpha))
            pm.NegativeBinomial(
                "disengagements",
                mu=mu,
                alpha=alpha,
                observed=obs["disengagements"].to_numpy(),
                dims="obs",
            )
        else:
            pm.Poisson(
                "disengagements", mu=mu, observed=obs["disengagements"].to_numpy(), dims="obs"
            )
    return model


# --------------------------------------------------------------------------------------------
# posterior summaries (pure xarray on a fitted DataTree)
# --------------------------------------------------------------------------------------------


def _post(dt) -> xr.Dataset:
    return dt["posterior"].to_dataset()


def _const(dt) -> xr.Dataset:
    return dt["constant_data"].to_dataset()


def log_mpd_curve(dt, log_cum: xr.DataArray) -> xr.DataArray:
    """ln MPD at ln cumulative miles ``log_cum`` (broadcast over company / draws)."""
    post = _post(dt)
    x = log_cum - np.log(X0_MILES)
    lm = post["a"] + post["b"] * x
    if "log_ceiling" in post:
        lm = -np.logaddexp(-lm, -post["log_ceiling"])
    return lm


def current_cum_miles(dt) -> xr.DataArray:
    """Cumulative miles (incl. latent RY2020) through each company's last fitted year."""
    post, const = _post(dt), _const(dt)
    cum = const["company_cum_last"]
    if "miles_2020" in post:
        m20 = (
            post["miles_2020"]
            .rename(bridge="company")
            .reindex(company=cum["company"], fill_value=0.0)
        )
        cum = cum + m20 * (const["company_last_year"] >= MISSING_YEAR)
    return cum


def av_capability_table(dt) -> pl.DataFrame:
    """AV capability per company and per nation, from a fitted AV DataTree.

    One row per company (``level = "company"``) and per nation (``level = "nation"``), with the
    5/50/95 % posterior quantiles of:

    - ``slope``: b, the elasticity of MPD to cumulative miles (doubling miles multiplies MPD by 2^b);
      nation rows give the nation mean slope ``b_nation``;
    - ``floor_per_million``: the irreducible disengagement rate (disengagements per 1e6 safety-driver
      miles) of the saturating form; 0 for the power law; nation rows use the pooled mean ceiling;
    - ``mpd_now``: MPD (miles per disengagement) at the cumulative miles through the company's last
      fitted reporting year (incl. the latent RY2020); nation rows give the best company per draw;
    - ``mpd_10x``: MPD at ten times those cumulative miles (nation rows: best company per draw).
    """
    post, const = _post(dt), _const(dt)
    form = dt.attrs.get("form") or ("saturating" if "log_ceiling" in post else "power")
    cum = current_cum_miles(dt)
    lm_now = log_mpd_curve(dt, np.log(cum))
    lm_10 = log_mpd_curve(dt, np.log(cum * 10.0))
    companies = [str(c) for c in post["company"].values]
    nations = [str(n) for n in post["nation"].values]
    cn = const["company_nation"].values
    zero = xr.zeros_like(post["b"])
    floor_c = np.exp(-post["log_ceiling"]) * 1e6 if "log_ceiling" in post else zero
    rows = {
        "level": ["company"] * len(companies),
        "company": companies,
        "nation": [nations[i] for i in cn],
        "form": [form] * len(companies),
        "last_year": const["company_last_year"].values.astype(np.int32),
        "cum_miles_now": cum.median(("chain", "draw")).values
        if "chain" in cum.dims
        else cum.values,
    }
    rows |= quantile_columns(post["b"], "slope") | quantile_columns(floor_c, "floor_per_million")
    rows |= quantile_columns(lm_now, "mpd_now", transform=np.exp) | quantile_columns(
        lm_10, "mpd_10x", transform=np.exp
    )
    comp = pl.DataFrame(rows).with_columns(pl.lit(None, dtype=pl.String).alias("leader_company"))

    # nation rows
    best_now = xr.concat(
        [lm_now.isel(company=np.where(cn == i)[0]).max("company") for i in range(len(nations))],
        dim="nation",
    ).assign_coords(nation=nations)
    best_10 = xr.concat(
        [lm_10.isel(company=np.where(cn == i)[0]).max("company") for i in range(len(nations))],
        dim="nation",
    ).assign_coords(nation=nations)
    med_now = lm_now.median(("chain", "draw")).values
    leaders = [
        companies[np.where(cn == i)[0][np.argmax(med_now[cn == i])]] for i in range(len(nations))
    ]
    if "ceiling_mu" in post:
        floor_n = (np.exp(-post["ceiling_mu"]) * 1e6).expand_dims(nation=nations)
    else:
        floor_n = xr.zeros_like(post["b_nation"])
    nrows = {
        "level": ["nation"] * len(nations),
        "company": [None] * len(nations),
        "nation": nations,
        "form": [form] * len(nations),
        "last_year": [
            int(const["company_last_year"].values[cn == i].max()) for i in range(len(nations))
        ],
        "cum_miles_now": [
            float(np.median(cum.isel(company=np.where(cn == i)[0]).sum("company").values))
            for i in range(len(nations))
        ],
    }
    nrows |= quantile_columns(post["b_nation"], "slope") | quantile_columns(
        floor_n.transpose("nation", ...), "floor_per_million"
    )
    nrows |= quantile_columns(best_now, "mpd_now", transform=np.exp) | quantile_columns(
        best_10, "mpd_10x", transform=np.exp
    )
    nat = pl.DataFrame(nrows, schema_overrides={"company": pl.String}).with_columns(
        pl.Series("leader_company", leaders, dtype=pl.String)
    )
    out = pl.concat([comp, nat.select(comp.columns)], how="vertical_relaxed")
    return out.with_columns(pl.col("last_year").cast(pl.Int32))


def av_mpd_forecast(
    dt, report_year: int, *, active_only: bool = True, seed: int = 0
) -> pl.DataFrame:
    """Posterior quantiles of MPD (miles per disengagement) per company in ``report_year``.

    Up to a company's last reported year the cumulative miles are the observed ones (+ the
    latent RY2020 where it applies). Beyond it, ln annual miles continue the fitted random walk
    (the company's drift ``g`` plus Student-t(4) steps of scale ``sigma_miles``, seeded with
    ``seed``), and the projected miles are added up to ``report_year``. The MPD is the
    capability curve at those cumulative miles: the expected MPD, without the count noise of
    one year's disengagements. ``active_only`` keeps companies that reported in the latest
    fitted year. Columns: company, nation, report_year, last_year, extrapolated (report_year
    beyond the company's data), cum_miles_q50 (miles), mpd_q05 .. mpd_q95.
    """
    post, const = _post(dt), _const(dt)
    companies = [str(c) for c in post["company"].values]
    nations = [str(n) for n in post["nation"].values]
    last = const["company_last_year"].values.astype(int)
    mlast = const["company_miles_last_year"].values.astype(int)
    years = [int(y) for y in const["year"].values]
    if report_year < years[0]:
        raise ModelError(f"report year {report_year} is before the first report year {years[0]}")
    rng = np.random.default_rng(seed)
    n_chain, n_draw = post.sizes["chain"], post.sizes["draw"]
    m20 = np.zeros((n_chain, n_draw, len(companies)))
    if "miles_2020" in post:
        m20 = (
            post["miles_2020"]
            .rename(bridge="company")
            .reindex(company=companies, fill_value=0.0)
            .transpose("chain", "draw", "company")
            .values
        )
    g = post["g"].transpose("chain", "draw", "company").values
    sig = post["sigma_miles"].values
    grid = const["cum_grid"].values
    keep = [i for i in range(len(companies)) if not active_only or last[i] == last.max()]
    cum = np.full((n_chain, n_draw, len(companies)), np.nan)
    for i in keep:
        y_base = min(report_year, int(mlast[i]))
        total = grid[i, years.index(y_base)] + m20[..., i] * (y_base >= MISSING_YEAR)
        v = np.full((n_chain, n_draw), const["company_log_miles_last"].values[i])
        for _ in range(y_base + 1, report_year + 1):
            v = v + g[..., i] + sig * rng.standard_t(4, size=(n_chain, n_draw))
            total = total + np.exp(v)
        cum[..., i] = total
    cum_da = xr.DataArray(
        cum[..., keep],
        dims=("chain", "draw", "company"),
        coords={"company": [companies[i] for i in keep]},
    )
    with np.errstate(divide="ignore"):
        lm = log_mpd_curve(dt, np.log(cum_da)).sel(company=cum_da["company"])
    rows = {
        "company": [companies[i] for i in keep],
        "nation": [nations[const["company_nation"].values[i]] for i in keep],
        "report_year": [report_year] * len(keep),
        "last_year": [int(last[i]) for i in keep],
        "extrapolated": [bool(report_year > mlast[i]) for i in keep],
        "cum_miles_q50": np.median(cum[..., keep], axis=(0, 1)),
    }
    rows |= quantile_columns(lm.transpose("chain", "draw", "company"), "mpd", transform=np.exp)
    return pl.DataFrame(rows).with_columns(pl.col("report_year", "last_year").cast(pl.Int32))


# --------------------------------------------------------------------------------------------
# simulation (for recovery tests and benchmarks)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------

MODEL_TYPE = "av_capability"

#: Sampler defaults for the AV model: enough draws for ESS >= 400 on every parameter.
AV_SAMPLER = SamplerConfig(draws=1000, tune=1000, chains=4, target_accept=0.95, seed=20240601)


@dataclass(frozen=True)
class AvConfig:
    """What defines an AV capability fit (hashed into the model id)."""

    form: Form = "power"
    likelihood: Likelihood = "negbin"
    min_years: int = 3
    priors: AvPriors = field(default_factory=AvPriors)


def av_log_likelihood(dt: xr.DataTree) -> xr.Dataset:
    """Pointwise log-likelihood of the disengagement counts (dims chain, draw, obs), in NumPy."""
    post = dt["posterior"].to_dataset()
    y = dt["observed_data"]["disengagements"]
    miles = dt["constant_data"]["safety_miles"]
    mu = miles * np.exp(-post["log_mpd"])
    if "alpha" in post:
        alpha = post["alpha"]
        ll = xr.apply_ufunc(
            lambda k, n, p: stats.nbinom.logpmf(k, n, p), y, alpha, alpha / (alpha + mu)
        )
    else:
        ll = xr.apply_ufunc(stats.poisson.logpmf, y, mu)
    return xr.Dataset({"disengagements": ll.transpose("chain", "draw", "obs")})


def fit_av(
    av_testing: pl.DataFrame,
    config: AvConfig | None = None,
    sampler: SamplerConfig | None = None,
    *,
    compiled=None,
    data: AvData | None = None,
) -> xr.DataTree:
    """Fit the AV capability model to an ``av_testing`` table; return a provenance-stamped tree.

    Groups: ``posterior``, ``sample_stats``, ``constant_data``, ``observed_data``,
    ``log_likelihood`` (of ``disengagements``, for PSIS-LOO). Root attrs add ``form`` and
    ``likelihood``. Pass ``compiled`` (from :func:`compile_av`) to reuse a compiled model for the
    same data.
    """
    config = config or AvConfig()
    sampler = sampler or AV_SAMPLER
    data = data or prepare_av_data(av_testing, min_years=config.min_years)
    model = build_av_model(
        data, form=config.form, likelihood=config.likelihood, priors=config.priors
    )
    const, observed = constant_data(model), observed_data(model)

    def post(dt: xr.DataTree) -> dict[str, xr.Dataset]:
        tmp = dt.copy()
        tmp["constant_data"] = xr.DataTree(dataset=const)
        tmp["observed_data"] = xr.DataTree(dataset=observed)
        return {
            "constant_data": const,
            "observed_data": observed,
            "log_likelihood": av_log_likelihood(tmp),
        }

    frame = av_testing.sort(av_testing.columns)
    dt = fit(
        compiled if compiled is not None else model,
        sampler,
        model_type=MODEL_TYPE,
        model_config=config,
        data=frame,
        code_version=code_version(__file__),
        postprocess=post,
    )
    dt.attrs["form"] = config.form
    dt.attrs["likelihood"] = config.likelihood
    return dt


def compile_av(data: AvData, config: AvConfig | None = None):
    """Compile the AV model once (nutpie, numba) for repeated fits on the same data."""
    config = config or AvConfig()
    return compile_model(
        build_av_model(data, form=config.form, likelihood=config.likelihood, priors=config.priors)
    )


def compare_av_forms(fits: dict[str, xr.DataTree]) -> pl.DataFrame:
    """PSIS-LOO comparison of AV fits (e.g. ``{"power": dt1, "saturating": dt2}``).

    Returns one row per fit: rank, elpd_loo, p_loo, elpd_diff, dse (s.e. of the difference),
    weight (stacking), n_high_pareto_k (k > 0.7: PSIS unreliable for those points).
    """
    cmp = az.compare(fits, var_name="disengagements", round_to="none")
    cmp = cmp.reset_index(names="model") if "model" not in cmp.columns else cmp
    out = []
    for name in cmp["model"]:
        loo = az.loo(fits[name], var_name="disengagements")
        r = cmp[cmp["model"] == name].iloc[0]
        out.append(
            {
                "model": str(name),
                "rank": int(r["rank"]),
                "elpd_loo": float(r["elpd"] if "elpd" in r else r["elpd_loo"]),
                "p_loo": float(r["p"] if "p" in r else r["p_loo"]),
                "elpd_diff": float(r["elpd_diff"]),
                "dse": float(r["dse"]),
                "weight": float(r["weight"]),
                "n_high_pareto_k": int((np.asarray(loo.pareto_k) > 0.7).sum()),
            }
        )
    return pl.DataFrame(out).sort("rank")
