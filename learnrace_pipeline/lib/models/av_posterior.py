"""Posterior summaries of a fitted AV capability model (pure xarray/NumPy on the DataTree).

- :func:`log_mpd_curve`: ln MPD at given cumulative miles, per company and draw;
- :func:`av_capability_table`: slope, floor, MPD now and at 10x the miles, per company and nation;
- :func:`av_mpd_forecast`: MPD quantiles per company in a reporting year, miles projected by the
  fitted random walk.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.models.av_data import MISSING_YEAR, X0_MILES
from learnrace_pipeline.lib.models.groups import quantile_columns


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

    One row per company (``level = "company"``) and per nation (``level = "nation"``), with
    ``nation_certain`` (False where the headquarters tagging is uncertain; a nation row is False
    when any of its companies is), ``last_year`` (last fitted reporting year), ``cum_miles_now`` (posterior
    median, miles), ``leader_company`` (nation rows: the company with the highest median MPD
    now) and the 5/25/50/75/95 % posterior quantiles of:

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
        "nation_certain": const["company_nation_certain"].values.astype(bool),
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
        "nation_certain": [
            bool(const["company_nation_certain"].values[cn == i].all()) for i in range(len(nations))
        ],
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
