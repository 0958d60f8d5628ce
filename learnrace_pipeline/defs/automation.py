"""Jobs and schedules: the main job materialises every asset; a weekly schedule refreshes it."""

import dagster as dg

main_job = dg.define_asset_job(
    "main",
    selection=dg.AssetSelection.all(),
    description="Every asset: sources -> harmonized tables -> calibration -> evaluation -> forecasts.",
)

weekly_refresh = dg.ScheduleDefinition(
    name="weekly_refresh",
    job=main_job,
    cron_schedule="0 3 * * 1",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Monday 03:00 UTC: reload every source and refit what changed.",
)


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(jobs=[main_job], schedules=[weekly_refresh])
