"""Jobs and schedules: the main job materialises every asset; a weekly schedule refreshes the
sources from upstream and then runs everything downstream of them.

``weekly_refresh`` launches the ``main`` job with the run tag ``learnrace/refresh=fetch``: each
source step downloads its upstream files into the raw cache (conditional GETs; see
:mod:`learnrace_pipeline.lib.storage.refresh`), checks them with the source's reader and loads the
current version; a failed refresh keeps the last good data and says so in the step's metadata
(``refresh_status``, ``refresh_error``). Everything downstream then follows in the same run; a
fit whose data version did not change is loaded from its saved file, not sampled again. The
schedule ships stopped (turn it on in the UI's Automation tab or with ``dagster schedule
start weekly_refresh``).
"""

import dagster as dg

from learnrace_pipeline.lib.storage.refresh import TAG as REFRESH_TAG

main_job = dg.define_asset_job(
    "main",
    selection=dg.AssetSelection.all(),
    description="Every asset: sources -> harmonized tables -> calibration -> evaluation -> forecasts.",
)

weekly_refresh = dg.ScheduleDefinition(
    name="weekly_refresh",
    job=main_job,
    cron_schedule="0 3 * * 1",
    execution_timezone="UTC",
    tags={REFRESH_TAG: "fetch"},
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Monday 03:00 UTC: refresh every refreshable source from upstream (last good data "
    "kept on failure), then run everything downstream; unchanged fits are reused.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[main_job], schedules=[weekly_refresh])
