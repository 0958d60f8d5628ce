"""``learnrace av``: miles per disengagement per company in a reporting year."""

from __future__ import annotations

from pathlib import Path

import typer

from learnrace_pipeline.commands._common import emit, err, fits_dir, load_table


def register(app: typer.Typer) -> None:
    app.command("av")(av)


def av(
    report_year: int = typer.Option(
        ..., "--report-year", help="CA DMV reporting year (Dec y-1 .. Nov y)."
    ),
    fmt: str = typer.Option("table", "--format", help="json or table."),
    form: str = typer.Option("power", "--form", help="power or saturating capability curve."),
    db: Path | None = typer.Option(None, "--db", help="Warehouse (default $LEARNRACE_DB)."),
) -> None:
    """Per company with enough history: q05..q95 of miles per disengagement in --report-year,
    with cumulative miles growing as the company's posterior says beyond its last report."""
    from learnrace_pipeline.lib.models.av_posterior import av_mpd_forecast
    from learnrace_pipeline.lib.models.saved_fits import AV_FORMS, av_fit

    if fmt not in ("json", "table"):
        raise typer.BadParameter("--format must be json or table")
    if form not in AV_FORMS:
        raise typer.BadParameter(f"--form must be one of {AV_FORMS}")
    if not 2015 <= report_year <= 2100:
        raise typer.BadParameter("--report-year must be between 2015 (the first report) and 2100")
    av_testing, origin = load_table("av_testing", "ca_dmv_av", db)
    with err.status(f"AV capability posterior (data: {origin})"):
        fit, reused = av_fit(av_testing, fits_dir(db), form)
    err.print(
        f"AV model ({form}): {'saved fit reused' if reused else 'fitted and saved'}; data: {origin}"
    )
    emit(av_mpd_forecast(fit, report_year), fmt, f"Miles per disengagement, RY{report_year}")
