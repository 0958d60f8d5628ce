"""``learnrace av``: miles per disengagement per company in a reporting year."""

from __future__ import annotations

from pathlib import Path

import typer

from learnrace_pipeline.commands._common import err, fits_dir, table_or_exit
from learnrace_pipeline.commands._tables import FORMATS, Col, interval, render, sci


def register(app: typer.Typer) -> None:
    app.command("av")(av)


#: The default table: company, nation, last report, miles so far, MPD median and 90% interval.
COLUMNS = [
    Col("company", lambda r: r["company"], "left"),
    Col("nation", lambda r: r["nation"], "left"),
    Col("last report (RY)", lambda r: str(r["last_year"])),
    Col("cumulative miles (median)", lambda r: sci(r["cum_miles_q50"])),
    Col("MPD median (miles)", lambda r: sci(r["mpd_q50"])),
    Col("MPD 90% interval (miles)", lambda r: interval(sci(r["mpd_q05"]), sci(r["mpd_q95"]))),
    Col("beyond data", lambda r: "yes" if r["extrapolated"] else "no"),
]


def av(
    report_year: int = typer.Option(
        ..., "--report-year", help="CA DMV reporting year (Dec y-1 .. Nov y)."
    ),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    form: str = typer.Option("power", "--form", help="power or saturating capability curve."),
    db: Path | None = typer.Option(None, "--db", help="Warehouse (default $LEARNRACE_DB)."),
) -> None:
    """Per company with enough history: the median and 90% interval of miles per disengagement
    (MPD) in --report-year, with cumulative miles growing as the company's posterior says beyond
    its last report. --format json or csv gives every column (MPD q05..q95)."""
    from learnrace_pipeline.lib.models.av_posterior import av_mpd_forecast
    from learnrace_pipeline.lib.models.saved_fits import AV_FORMS, av_fit

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    if form not in AV_FORMS:
        raise typer.BadParameter(f"--form must be one of {AV_FORMS}")
    if not 2015 <= report_year <= 2100:
        raise typer.BadParameter("--report-year must be between 2015 (the first report) and 2100")
    av_testing, origin = table_or_exit("av_testing", "ca_dmv_av", db)
    with err.status(f"AV capability posterior (data: {origin})"):
        fit, reused = av_fit(av_testing, fits_dir(db), form)
    err.print(
        f"AV model ({form}): {'saved fit reused' if reused else 'fitted and saved'}; data: {origin}"
    )
    title = f"Miles per disengagement (MPD) in CA DMV reporting year {report_year} ({form} curve)"
    caption = (
        "MPD: the capability curve at the company's cumulative CA autonomous miles; beyond its "
        "last report the miles grow as its posterior says. Every column: --format json or csv."
    )
    render(av_mpd_forecast(fit, report_year), fmt, COLUMNS, title, caption)
