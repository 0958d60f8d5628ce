"""``learnrace race``: which nation closes the loop first, per industry.

By default the command prints the warehouse's race tables (``race.race``, ``race.scenarios``),
written by the main job. With ``--spec FILE`` it runs the race of that file from the main job's
posteriors (saved beside the warehouse) and the warehouse's harmonized tables, so a user can
change thresholds, horizons or scenarios without re-running the fits.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape

from learnrace_pipeline.commands._common import err, fits_dir, show_waits
from learnrace_pipeline.commands._progress import Progress
from learnrace_pipeline.commands._tables import FORMATS, Col, interval, render, sig3

#: the harmonized tables ``race --spec`` reads, each with the snapshot source used when the
#: warehouse lacks it
SPEC_TABLE_SOURCES = {
    "cost_observations": "pcdb_carnegie",
    "production": "pcdb_carnegie",
    "market_shares": "iea_gevo_2024",
    "av_testing": "ca_dmv_av",
    "ai_models": "epoch_ai",
    "chip_products": "chip_dataset",
}


def register(app: typer.Typer) -> None:
    app.command("race")(race)


def _year(x) -> str:
    return "n/a" if x is None else str(int(x))


def _closing(r: dict) -> str:
    if r["status"] != "data":
        return "no data"
    if not r.get("measured_roles"):
        return "not judged"
    if r.get("already_closed"):
        return f"closed {_year(r['closed_year'])}"
    if r["closing_median"] is None:
        return f"after {r['horizon']}"
    return _year(r["closing_median"])


def _interval(r: dict) -> str:
    if r["status"] != "data" or r.get("already_closed") or not r.get("measured_roles"):
        return ""
    lo, hi = r["closing_q10"], r["closing_q90"]
    if lo is None:
        return f"after {r['horizon']}"
    return interval(_year(lo), _year(hi) if hi is not None else f">{r['horizon']}")


#: Archetypes as printed (the table fits 100 columns).
SHORT_ARCHETYPE = {
    "simulation_frontier": "frontier",
    "deployment_engine": "engine",
    "hybrid": "hybrid",
}


def _p(col: str):
    return lambda r: sig3(r[col]) if r["status"] == "data" and r.get("measured_roles") else ""


#: The default table (100 columns): industry, nation, archetype, closing year, interval, P's.
COLUMNS = [
    Col("industry", lambda r: r["industry"], "left"),
    Col("nation", lambda r: r["nation"] or "", "left"),
    Col("strategy", lambda r: SHORT_ARCHETYPE.get(r.get("archetype") or "", ""), "left"),
    Col("closes (median)", _closing),
    Col("80% interval", _interval),
    Col("P(closed by horizon)", _p("p_closed_by_horizon")),
    Col("P(first)", _p("p_first")),
]

SCENARIO_COLUMNS = [
    *COLUMNS[:4],
    Col("median shift (years)", lambda r: _shift(r)),
    Col("P(closed)", _p("p_closed_by_horizon")),
    Col("P(closed) shift", lambda r: _signed(r.get("p_closed_shift"))),
    Col("P(first) shift", lambda r: _signed(r.get("p_first_shift"))),
]


def _signed(x) -> str:
    if x is None:
        return ""
    return ("+" if x > 0 else "") + sig3(x)


def _shift(r: dict) -> str:
    if r["status"] != "data":
        return ""
    d = r.get("median_shift")
    if d is None:
        return r.get("median_direction") or ""
    return ("+" if d > 0 else "") + str(int(d))


def leaders(race: pl.DataFrame) -> list[str]:
    """One line per industry with data: the nation most likely to close first and its strategy,
    or that none closes by the horizon in most draws."""
    lines = []
    for ind in race["industry"].unique(maintain_order=True).to_list():
        rows = race.filter(pl.col("industry") == ind)
        if rows["status"][0] != "data":
            continue
        top = rows.sort("p_first", descending=True, nulls_last=True).row(0, named=True)
        p_none = rows["p_none_by_horizon"][0]
        lead = str(rows["leading_strategy"][0]).replace("_", " ")
        tied = rows.filter(pl.col("p_first") == top["p_first"])["nation"].to_list()
        if top["p_first"] is None or (p_none is not None and p_none > top["p_first"]):
            lines.append(
                f"{ind}: most likely no nation closes by {top['horizon']} "
                f"(P = {sig3(p_none)}); leading strategy: {lead}"
            )
        elif len(tied) > 1:
            lines.append(
                f"{ind}: {' and '.join(tied)} tie for first (P = {sig3(top['p_first'])} each); "
                f"leading strategies: {lead}"
            )
        else:
            lines.append(
                f"{ind}: {top['nation']} most likely first (P = {sig3(top['p_first'])}); "
                f"leading strategy: {lead}"
            )
    return lines


def judged_notes(race: pl.DataFrame) -> list[str]:
    """Lines naming what each industry or nation is not judged on (a half without data) and
    what the no-data industries miss."""
    lines = []
    for ind in race["industry"].unique(maintain_order=True).to_list():
        rows = race.filter(pl.col("industry") == ind)
        if rows["status"][0] != "data":
            lines.append(f"{ind}: {rows['note'][0]}")
            continue
        partial = rows.filter(pl.col("unmeasured_roles").is_not_null())
        if partial.height == rows.height and partial["unmeasured_roles"].n_unique() == 1:
            lines.append(f"{ind}: every nation judged on {partial['measured_roles'][0]} only")
            continue
        for r in partial.iter_rows(named=True):
            if r["measured_roles"]:
                lines.append(f"{ind} {r['nation']}: judged on {r['measured_roles']} only")
            else:
                lines.append(f"{ind} {r['nation']}: not judged (no half has data for it)")
    return lines


def _warehouse_tables(db: Path | None, scenario: str | None) -> pl.DataFrame | None:
    from learnrace_pipeline.lib.storage.warehouse import connect, default_db_path, fetch_pl

    path = Path(db or default_db_path())
    if not path.exists():
        return None
    table = "scenarios" if scenario else "race"
    with connect(path, read_only=True) as con:
        present = fetch_pl(
            con,
            "SELECT count(*) AS n FROM duckdb_tables() "
            "WHERE schema_name = 'race' AND table_name = ?",
            [table],
        )["n"][0]
        if not present:
            return None
        return fetch_pl(con, f'SELECT * FROM race."{table}"')


def _computed(spec_path: Path, db: Path | None, scenario: str | None) -> pl.DataFrame:
    import xarray as xr

    from learnrace_pipeline.commands._common import load_table
    from learnrace_pipeline.lib.race import compute
    from learnrace_pipeline.lib.race.spec import load_spec

    spec = load_spec(spec_path)
    folder = fits_dir(db) / "assets"
    runs = 1 if scenario is None else 2
    with Progress("learnrace race", len(spec.industries) * runs, unit="industries") as progress:
        fits = {}
        for k, (name, key) in enumerate(compute.FITS.items()):
            progress.update(name=f"loading fit {k + 1}/{len(compute.FITS)}: {key}")
            f = folder / f"{key}.nc"
            if not f.exists():
                raise FileNotFoundError(f"no saved fit {f}: run `learnrace run` first")
            fits[name] = xr.load_datatree(f)
        sources = SPEC_TABLE_SOURCES
        progress.update(name="loading tables")
        tables = {t: load_table(t, s, db)[0] for t, s in sources.items()}
        base = _by_industry(spec, fits, tables, None, progress)
        if scenario is None:
            return base.race
        res = _by_industry(spec, fits, tables, spec.scenario(scenario), progress)
    return compute.scenario_rows(base.race, res)


def _by_industry(spec, fits, tables, scenario, progress: Progress):
    """``compute.run_race`` one industry at a time (each industry's draws are seeded alone, so
    the result is the same as one call), advancing ``progress`` after each."""
    from learnrace_pipeline.lib.race import compute

    parts = []
    for ind in spec.industries:
        progress.update(name=ind.id + (f" ({scenario.name})" if scenario is not None else ""))
        parts.append(compute.run_race(spec, fits, tables, scenario, industries=[ind.id]))
        progress.advance()

    def concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
        frames = [f for f in frames if f.width]
        return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()

    return compute.RaceResult(
        scenario.name if scenario is not None else None,
        concat([p.race for p in parts]),
        concat([p.pairwise for p in parts]),
        {k: v for p in parts for k, v in p.closings.items()},
        {k: v for p in parts for k, v in p.draws.items()},
    )


def race(
    industry: str | None = typer.Option(None, "--industry", help="One industry id (race.yaml)."),
    scenario: str | None = typer.Option(
        None, "--scenario", help="A declared scenario (e.g. export_controls) instead of the base."
    ),
    fmt: str = typer.Option("table", "--format", help="table, json or csv."),
    spec: Path | None = typer.Option(
        None, "--spec", help="Run the race of this race file from the saved posteriors."
    ),
    db: Path | None = typer.Option(None, "--db", help="Warehouse (default $LEARNRACE_DB)."),
) -> None:
    """Per industry and nation: the year it closes the loop (research and volume production
    both past the industry's thresholds), its 80% interval, P(closed by the horizon), P(first)
    and which strategy leads. --format json or csv gives every column. With --spec, on a
    terminal, stderr shows the industries raced so far and the time elapsed on one line
    rewritten in place; in a pipe, nothing."""
    from learnrace_pipeline.lib.errors import LearnraceError

    if fmt not in FORMATS:
        raise typer.BadParameter(f"--format must be one of {', '.join(FORMATS)}")
    show_waits()
    try:
        if spec is not None:
            df = _computed(spec, db, scenario)
        else:
            df = _warehouse_tables(db, scenario)
            if df is None:
                err.print(
                    "error no race table in the warehouse: run `learnrace run` first "
                    "(or pass --spec to run the race from saved posteriors)"
                )
                raise typer.Exit(2)
            if scenario is not None:
                known = df["scenario"].unique().to_list()
                if scenario not in known:
                    err.print(
                        f"error unknown scenario {scenario!r}; declared: {', '.join(sorted(known))}"
                    )
                    raise typer.Exit(2)
                df = df.filter(pl.col("scenario") == scenario)
    except (FileNotFoundError, KeyError) as e:
        err.print(f"error {escape(str(e))}")
        raise typer.Exit(2) from None
    except LearnraceError as e:  # e.g. gave up waiting for a writer's lock
        err.print(f"[red]error[/] {escape(str(e))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    if industry is not None:
        if industry not in df["industry"].to_list():
            err.print(
                f"error unknown industry {industry!r}; known: "
                + ", ".join(df["industry"].unique(maintain_order=True).to_list())
            )
            raise typer.Exit(2)
        df = df.filter(pl.col("industry") == industry)
    show(df, fmt, scenario)


def show(df: pl.DataFrame, fmt: str, scenario: str | None) -> None:
    """Render a race table (base case, or a scenario's rows with their shifts)."""
    title = "The race: the year each nation closes the loop" + (
        f" (scenario {scenario})" if scenario else ""
    )
    caption = "\n".join(
        [
            *leaders(df),
            *judged_notes(df),
            "closes: median year every measured half (capability, volume, cost) passes the "
            "industry's threshold; strategy: simulation frontier, deployment engine or hybrid; "
            "P(first): share of draws the nation closes first (ties split). Every column: "
            "--format json or csv.",
        ]
    )
    # At least 100 columns: piped or logged output (80 by default) would drop P(first).
    console = Console(width=max(Console().width, 100))
    render(df, fmt, SCENARIO_COLUMNS if scenario else COLUMNS, title, caption, console=console)


def print_race(db: Path | None = None) -> bool:
    """Print the warehouse's base-case race table (the end of ``learnrace run``); False when the
    warehouse has none."""
    df = _warehouse_tables(db, None)
    if df is None:
        return False
    show(df, "table", None)
    return True
