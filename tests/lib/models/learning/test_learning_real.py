"""External sanity checks on real data (need ../shared/data/raw; slow MCMC).

- Solar PV module price against cumulative capacity, 1976-2019 (OWID; Lafond et al. 2017 and
  IRENA): the 90% interval of the Wright exponent must overlap [0.32, 0.45] (published estimates
  run from 0.32, Way et al. 2022, to about 0.42 in first differences).
- The pooled fit of the PCDB series (the expCurveData files, one series per technology) passes
  every blocking check, and its all-technology exponent (the mean of the series exponents) has a
  posterior mean in [0.30, 0.50]. Nine PCDB files sum production from their first row with no
  earlier stock; the reader adds the Lafond et al. (2018) initial stock to those (before that
  correction the mean was 0.293, just below the range).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.models import diagnostics
from learnrace_pipeline.lib.models.learning import summaries
from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel
from learnrace_pipeline.lib.models.learning.panel import build_panel

SOLAR_SERIES = "owid_datasets:solar_pv_module_lafond_irena"


@pytest.fixture(scope="module")
def pcdb_panel(raw_dir):
    from learnrace_pipeline.lib.sources import pcdb_carnegie

    t = pcdb_carnegie.read(raw_dir)
    ids = t["technologies"].filter(pl.col("description").str.starts_with("PCDB "))["series_id"]
    return build_panel(t["cost_observations"], t["production"], t["technologies"], series_ids=ids)


@pytest.mark.raw
@pytest.mark.slow
def test_solar_pv_wright_exponent(raw_dir) -> None:
    from learnrace_pipeline.lib.sources import owid_datasets

    t = owid_datasets.read(raw_dir)
    panel = build_panel(
        t["cost_observations"], t["production"], t["technologies"], series_ids=[SOLAR_SERIES]
    )
    assert panel.levels["year"].min() == 1976 and panel.levels["year"].max() == 2019
    assert panel.n_obs == 43
    lcm = LearningCurveModel(panel, LearningConfig())
    dt = lcm.fit()
    w = dt.posterior["w_series"].sel(series=SOLAR_SERIES).values.ravel()
    lo, hi = np.quantile(w, [0.05, 0.95])
    print(f"solar PV w: mean {w.mean():.3f}, 90% interval [{lo:.3f}, {hi:.3f}]")
    assert lo <= 0.45 and hi >= 0.32
    assert diagnostics.check_fit(dt).passed


@pytest.fixture(scope="module")
def pcdb_fit(pcdb_panel):
    lcm = LearningCurveModel(pcdb_panel, LearningConfig())  # default sampler, 4 x 2000
    return lcm.fit()


@pytest.mark.raw
@pytest.mark.slow
def test_pcdb_pooled_fit_passes_every_check(pcdb_panel, pcdb_fit) -> None:
    assert pcdb_panel.n_series == 73
    assert pcdb_panel.n_obs == 1403
    check = diagnostics.check_fit(pcdb_fit)
    print(check.describe())
    assert check.passed, check.describe()
    rho = float(pcdb_fit.posterior["rho"].mean())
    assert 0.05 < rho < 0.3  # Lafond et al. 2018: about 0.19


@pytest.mark.raw
@pytest.mark.slow
def test_pcdb_pooled_exponent_in_published_range(pcdb_fit) -> None:
    table = summaries.learning_rates(pcdb_fit)
    pooled = table.filter(pl.col("level") == "all_technologies").row(0, named=True)
    population = table.filter(pl.col("level") == "all").row(0, named=True)
    print(
        f"PCDB mean of series exponents {pooled['w_mean']:.3f} "
        f"[{pooled['w_q05']:.3f}, {pooled['w_q95']:.3f}]; population w_all "
        f"{population['w_mean']:.3f} [{population['w_q05']:.3f}, {population['w_q95']:.3f}]"
    )
    assert 0.30 <= pooled["w_mean"] <= 0.50
