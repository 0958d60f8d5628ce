"""``learnrace refresh``: download the sources' upstream files into the versioned raw cache."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from learnrace_pipeline.commands._common import err
from learnrace_pipeline.commands._tables import FORMATS, render

CAPTION = (
    "new: a new version of the upstream files passed the source's reader and is now current; "
    "unchanged: the upstream files are the cached ones (HTTP 304 or equal bytes); failed: "
    "nothing changed, the last good data stays in use; not refreshable: no stable direct file "
    "URL. Runs read the refreshed files only in refresh mode: LEARNRACE_REFRESH=1."
)


def register(app: typer.Typer) -> None:
    app.command("refresh")(refresh)


def _table(df: pl.DataFrame, title: str) -> Table:
    """Source and result on one line each; the detail wraps between words and folds a long URL
    over lines (never cut)."""
    t = Table(
        title=title,
        caption=CAPTION,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        title_justify="left",
        caption_justify="left",
    )
    t.add_column("source", no_wrap=True)
    t.add_column("result", no_wrap=True)
    t.add_column("detail", overflow="fold", ratio=1)
    for r in df.iter_rows(named=True):
        t.add_row(r["source"], r["status"], r["detail"])
    return t


def _detail(o) -> str:
    if o.status == "new":
        rows = ", ".join(f"{t} {n:,}" for t, n in o.rows.items())
        return f"version {o.version[:12]}, {o.downloaded} file(s) downloaded; rows: {rows}"
    if o.status == "unchanged":
        return f"version {o.version[:12]}"
    return o.message


def refresh(
    source: list[str] = typer.Option(
        None, "--source", "-s", help="A source to refresh (repeatable; default every source)."
    ),
    db: Path | None = typer.Option(
        None,
        "--db",
        help="Warehouse file; the cache is raw_cache/ beside it (default $LEARNRACE_DB).",
    ),
    cache: Path | None = typer.Option(
        None,
        "--cache",
        help="The raw cache folder (default $LEARNRACE_RAW_CACHE, else beside --db).",
    ),
    datasets: Path | None = typer.Option(
        None,
        "--datasets",
        help="The snapshot whose sidecars give the allowed hosts (default $LEARNRACE_DATASETS).",
    ),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
) -> None:
    """Download each source's upstream files (conditional GETs: ETag / Last-Modified), check them
    with the source's own reader, and make them the current version of the raw cache. Prints one
    row per source: new, unchanged, failed (with the reason, naming the URL) or not refreshable
    (with the reason). Nothing else changes: runs keep loading the shipped snapshot unless
    LEARNRACE_REFRESH=1 (or the schedule's run tag) turns refresh mode on.

    Hosts come only from the snapshot sidecars' upstream URLs; LEARNRACE_REFRESH_URL_MAP
    ('<declared prefix>=<replacement>' pairs) redirects downloads to a mirror on purpose.

    On a terminal, stderr shows the sources done of those asked and the one being fetched, on
    one line rewritten in place; in a pipe, nothing.

    Exit code: 0 when no source failed (not refreshable is not a failure), 1 when one or more
    failed, 2 on bad usage (unknown source, bad URL map).
    """
    import os

    from learnrace_pipeline.commands._progress import Progress
    from learnrace_pipeline.lib.errors import LearnraceError
    from learnrace_pipeline.lib.sources import SOURCES
    from learnrace_pipeline.lib.storage import raw_cache, snapshot
    from learnrace_pipeline.lib.storage.refresh import FAILED
    from learnrace_pipeline.lib.storage.refresh import refresh as run_refresh

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    cache_dir = cache or raw_cache.default_cache_dir(db)
    dataset_dir = Path(datasets or os.environ.get("LEARNRACE_DATASETS", snapshot.DEFAULT_DATASETS))
    names = list(source) if source else list(SOURCES)
    try:
        with Progress("learnrace refresh", total=len(names), unit="sources") as bar:
            started: list[str] = []

            def _step(name: str) -> None:  # called as each source starts
                bar.update(done=len(started), name=name)
                started.append(name)

            outcomes = run_refresh(
                names, cache_dir=cache_dir, dataset_dir=dataset_dir, progress=_step
            )
            bar.update(done=len(outcomes), name="")
    except LearnraceError as e:
        err.print(f"[red]error[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    df = pl.DataFrame(
        {
            "source": [o.source for o in outcomes],
            "status": [o.status for o in outcomes],
            "version": [o.version for o in outcomes],
            "downloaded": [o.downloaded for o in outcomes],
            "detail": [_detail(o) for o in outcomes],
        },
        schema={
            "source": pl.String,
            "status": pl.String,
            "version": pl.String,
            "downloaded": pl.Int64,
            "detail": pl.String,
        },
    )
    if fmt == "table":
        Console().print(_table(df, f"Refresh into {cache_dir}"))
    else:
        render(df, fmt, [], "", None)
    if any(o.status == FAILED for o in outcomes):
        raise typer.Exit(1)
