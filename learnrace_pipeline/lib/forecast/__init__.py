"""The forecaster users call: distributional unit-cost forecasts of a series from Wright's law
with MA(1) noise (normal or Student-t) and a population prior from the pooled learning-curve fit.

Public face (import from here in commands and assets; tests import from the defining module):

- :mod:`.types`: :class:`ForecastTask`, :class:`ForecastConfig`, :class:`ForecastSamples`, the
  output quantile levels ``LEVELS`` and their column names ``qname``;
- :mod:`.priors`: :class:`PopulationPrior`, the shipped prior file and its loading/saving;
- :mod:`.forecaster`: :func:`simulate` and the output table;
- :mod:`.inputs`: ``learnrace forecast`` input files (:func:`read_input`);
- :mod:`.outputs`: its output paths (refusals), CSV/JSON rendering and writes;
- :mod:`.normal`, :mod:`.student_t`: the per-series posterior update for each noise;
- :mod:`.experience_time`: the update with experience and a time drift together
  (``--model experience_time``) and the split of the forecast decline by channel;
- :mod:`.pool`: the equal-weight mixture of the Wright and experience+time forecasters
  (``--model pool``), and :func:`pool_summary`, the same summarised block by block of series
  with one random stream per series (:mod:`.streams`), which ``learnrace forecast`` uses;
- :mod:`.production`: given, interpolated and projected production paths;
- :mod:`.series`: each series' posterior Wright exponent and learning rate;
- :mod:`.time_trend`: the time-trend forecaster (the same update with the year in place of log
  cumulative production; ``learnrace forecast --model time``).
"""

from learnrace_pipeline.lib.forecast.forecaster import (
    check_finite,
    model_name,
    quantile_frame,
    simulate,
)
from learnrace_pipeline.lib.forecast.inputs import ForecastInput, check_industry, read_input
from learnrace_pipeline.lib.forecast.outputs import (
    STDOUT,
    check_finite_output,
    check_output_path,
    is_stdout,
    render_forecasts,
    write_forecasts,
)
from learnrace_pipeline.lib.forecast.pool import POOL_MODEL_NAME, pool_summary, simulate_pool
from learnrace_pipeline.lib.forecast.priors import (
    ALL,
    SHIPPED_EXPERIENCE_TIME_PRIOR,
    SHIPPED_PRIOR,
    SHIPPED_PRIOR_META,
    SHIPPED_TIME_PRIOR,
    PopulationPrior,
    choose_prior,
    load_priors,
    population_prior,
    population_priors,
    priors_from_posterior_file,
    save_priors,
)
from learnrace_pipeline.lib.forecast.series import attribution_summary
from learnrace_pipeline.lib.forecast.tables import result_tables
from learnrace_pipeline.lib.forecast.time_trend import (
    check_time_prior,
    drift_summary,
    time_model_name,
    time_quantile_frame,
    time_task,
)
from learnrace_pipeline.lib.forecast.types import (
    AUTO_MODEL,
    LEVELS,
    MODEL_NAME,
    MODEL_NAME_T,
    ForecastConfig,
    ForecastSamples,
    ForecastSummary,
    ForecastTask,
    qname,
)

__all__ = [
    "ALL",
    "AUTO_MODEL",
    "LEVELS",
    "MODEL_NAME",
    "MODEL_NAME_T",
    "POOL_MODEL_NAME",
    "SHIPPED_EXPERIENCE_TIME_PRIOR",
    "SHIPPED_PRIOR",
    "SHIPPED_PRIOR_META",
    "SHIPPED_TIME_PRIOR",
    "STDOUT",
    "ForecastConfig",
    "ForecastInput",
    "ForecastSamples",
    "ForecastSummary",
    "ForecastTask",
    "PopulationPrior",
    "attribution_summary",
    "check_finite",
    "check_finite_output",
    "check_industry",
    "check_output_path",
    "check_time_prior",
    "choose_prior",
    "drift_summary",
    "is_stdout",
    "load_priors",
    "model_name",
    "pool_summary",
    "population_prior",
    "population_priors",
    "priors_from_posterior_file",
    "qname",
    "quantile_frame",
    "read_input",
    "render_forecasts",
    "result_tables",
    "save_priors",
    "simulate",
    "simulate_pool",
    "time_model_name",
    "time_quantile_frame",
    "time_task",
    "write_forecasts",
]
