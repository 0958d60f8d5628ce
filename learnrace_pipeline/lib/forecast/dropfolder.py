"""The drop folder: users' series files forecast as they arrive (no Dagster here; the sensor and
job that drive it live in :mod:`learnrace_pipeline.defs.sensors`).

Layout (``root`` = ``$LEARNRACE_DROP_DIR``, default ``drop/`` beside the warehouse file, i.e.
``.learnrace/drop/``):

==============================  ==============================================================
``<root>/<name>.csv``           a user's series file in the ``learnrace forecast`` CSV format
                                (:mod:`learnrace_pipeline.lib.forecast.inputs`)
``<root>/forecasts/<name>.csv`` its forecasts (one row per series and year to forecast:
                                q05..q95 in the input's cost units, model, production)
``<root>/forecasts/<name>.summary.csv``  its per-series summary (``learnrace forecast --summary``)
``<root>/processed/<name>.csv`` the input, moved here once forecast
``<root>/rejected/<name>.csv``  a file that could not be forecast, moved here ...
``<root>/rejected/<name>.error.txt``  ... beside the error: source, file, row, column, problem
==============================  ==============================================================

**Which files are read.** Regular files directly in ``root`` (never in sub-folders). Names
starting with ``.`` and names ending in a temporary suffix (:data:`TEMPORARY_SUFFIXES`:
``.part``, ``.tmp``, ``.partial``, ``.crdownload``, ``.download``, ``.swp``, ``~``) are in-progress
copies and are skipped. Any other name not ending in ``.csv`` is rejected with the reason.

**A half-written file is not read.** :func:`scan` runs once per sensor tick and requests a file
only when its size and modification time (ns) are the same as at the previous tick, so a file
still being written (growing, or rewritten) waits until it has been left alone for a whole tick.
A writer that wants no doubt writes ``<name>.csv.part`` (or a dotfile) and renames it to
``<name>.csv`` when done: a rename is atomic, and the temporary name is never read.

**Nothing is picked up twice.** :class:`ScanState` (the sensor's cursor) records every file
requested, by name, size, modification time and sha256 of its bytes; a requested file is not
requested again while it stays as it was (the run moves it out of ``root``). The run key is
name + sha256 + modification time, so Dagster also refuses a repeated request; a file dropped
again later (a copy: a new modification time) or changed is forecast again. :func:`process`
forecasts the file only if its bytes still have the sha256 that was requested (a file changed
since is left for the next request).

**Forecasts** are those of ``learnrace forecast --input <file> --output ... --summary ...`` with
the same defaults (:class:`DropSettings`: model ``auto``, seed 20240601, 2000 samples per
year, production damping 1): the same rows and numbers. Outputs are written atomically
(:func:`~learnrace_pipeline.lib.forecast.outputs.write_forecasts`), then the input is moved.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from learnrace_pipeline.lib.errors import DataError, LearnraceError
from learnrace_pipeline.lib.forecast import forecaster, outputs, pool, priors, time_trend
from learnrace_pipeline.lib.forecast.inputs import read_input
from learnrace_pipeline.lib.forecast.tables import result_tables
from learnrace_pipeline.lib.forecast.types import AUTO_MODEL, ForecastConfig
from learnrace_pipeline.lib.storage.files import write_atomic_bytes
from learnrace_pipeline.lib.storage.snapshot import sha256_file
from learnrace_pipeline.lib.storage.warehouse import default_db_path

#: Environment variable naming the drop folder.
DROP_DIR_ENV = "LEARNRACE_DROP_DIR"
#: Suffixes of files still being written (skipped, never read).
TEMPORARY_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload", ".download", ".swp", "~")
#: Models a drop-folder run may use (as ``learnrace forecast --model``; shipped priors only).
MODELS = ("auto", "pool", "wright", "experience_time", "time")

Status = Literal["forecast", "rejected", "gone", "changed"]


def drop_dir() -> Path:
    """The drop folder: ``$LEARNRACE_DROP_DIR``, else ``drop/`` beside the warehouse file
    (``$LEARNRACE_DB``, default ``.learnrace/learnrace.duckdb``), as an absolute path."""
    env = os.environ.get(DROP_DIR_ENV, "")
    return Path(env).resolve() if env else default_db_path().resolve().parent / "drop"


@dataclass(frozen=True)
class DropFolder:
    """Paths of a drop folder rooted at ``root`` (see the module docstring)."""

    root: Path

    @property
    def forecasts(self) -> Path:
        return self.root / "forecasts"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def rejected(self) -> Path:
        return self.root / "rejected"

    def ensure(self) -> DropFolder:
        """Create the folder and its sub-folders if absent; returns self."""
        for d in (self.root, self.forecasts, self.processed, self.rejected):
            d.mkdir(parents=True, exist_ok=True)
        return self

    def forecast_path(self, name: str) -> Path:
        """``forecasts/<stem>.csv`` of input file ``name``."""
        return self.forecasts / f"{Path(name).stem}.csv"

    def summary_path(self, name: str) -> Path:
        """``forecasts/<stem>.summary.csv`` of input file ``name``."""
        return self.forecasts / f"{Path(name).stem}.summary.csv"

    def error_path(self, name: str) -> Path:
        """``rejected/<stem>.error.txt`` of input file ``name``."""
        return self.rejected / f"{Path(name).stem}.error.txt"


def is_temporary(name: str) -> bool:
    """Whether ``name`` is an in-progress copy never read: a dotfile or a temporary suffix."""
    return name.startswith(".") or name.lower().endswith(TEMPORARY_SUFFIXES)


def candidates(root: Path) -> dict[str, tuple[int, int]]:
    """Name -> (size in bytes, modification time in ns) of every regular file directly in
    ``root`` that is not temporary (:func:`is_temporary`); symbolic links are skipped."""
    found: dict[str, tuple[int, int]] = {}
    if not root.is_dir():
        return found
    with os.scandir(root) as it:
        for entry in it:
            if is_temporary(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed meanwhile
                continue
            found[entry.name] = (st.st_size, st.st_mtime_ns)
    return found


@dataclass(frozen=True)
class Ready:
    """A settled file to forecast: its name in the drop folder, size (bytes), modification time
    (ns) and the sha256 of its bytes."""

    name: str
    size: int
    mtime_ns: int
    sha256: str

    @property
    def run_key(self) -> str:
        """:func:`run_key` of this file."""
        return run_key(self.name, self.sha256, self.mtime_ns)


def run_key(name: str, sha256: str, mtime_ns: int) -> str:
    """``<name>:<sha256>:<mtime_ns>``: one run per version of a dropped file."""
    return f"{name}:{sha256}:{mtime_ns}"


@dataclass
class ScanState:
    """What :func:`scan` remembers between ticks (the sensor's cursor, as JSON).

    Attributes:
        seen: name -> (size, mtime_ns) of files seen at the last tick, not yet settled.
        requested: name -> (size, mtime_ns, sha256) of files requested and still in the folder.
    """

    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    requested: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"seen": self.seen, "requested": self.requested}, sort_keys=True, separators=(",", ":")
        )

    @classmethod
    def from_json(cls, text: str | None) -> ScanState:
        """The state in ``text`` (a cursor); empty for None, ``""`` or a cursor it cannot read."""
        if not text:
            return cls()
        try:
            raw = json.loads(text)
            return cls(
                seen={k: (int(v[0]), int(v[1])) for k, v in raw.get("seen", {}).items()},
                requested={
                    k: (int(v[0]), int(v[1]), str(v[2]))
                    for k, v in raw.get("requested", {}).items()
                },
            )
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            return cls()


def scan(
    root: Path, state: ScanState, max_ready: int | None = None
) -> tuple[list[Ready], ScanState]:
    """One tick: the files of ``root`` to forecast now (at most ``max_ready``, in name order),
    and the state for the next tick.

    A file is ready when its (size, mtime_ns) equals what the previous tick saw and it was not
    requested as it is now; its sha256 is then computed, and it is ready only if its size and
    modification time did not change while it was hashed. A settled file beyond ``max_ready``
    stays settled for a later tick. Files gone from ``root`` are forgotten.
    """
    now = candidates(root)
    ready: list[Ready] = []
    nxt = ScanState()
    for name, key in sorted(now.items()):
        req = state.requested.get(name)
        if req is not None and (req[0], req[1]) == key:
            nxt.requested[name] = req  # requested as it is: its run moves it
            continue
        if state.seen.get(name) != key or (max_ready is not None and len(ready) >= max_ready):
            nxt.seen[name] = key  # new, still changing, or over the limit: next tick
            continue
        path = root / name
        try:
            digest = sha256_file(path)
            st = path.stat()
        except FileNotFoundError:
            continue
        if (st.st_size, st.st_mtime_ns) != key:
            nxt.seen[name] = (st.st_size, st.st_mtime_ns)
            continue
        ready.append(Ready(name, key[0], key[1], digest))
        nxt.requested[name] = (key[0], key[1], digest)
    return ready, nxt


# ------------------------------------------------------------------------------------------
# forecasting one file
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DropSettings:
    """How a dropped file is forecast: the defaults of ``learnrace forecast`` (model ``auto``,
    the whole-population prior, 2000 Monte Carlo samples per year, seed 20240601, production
    damping phi = 1)."""

    model: str = "auto"
    seed: int = 20240601
    samples: int = 2000
    production_damping: float = 1.0

    def __post_init__(self) -> None:
        """Refuse settings ``learnrace forecast`` would refuse (DataError naming the field)."""
        if self.model not in MODELS:
            raise DataError(
                f"unknown model {self.model!r}: use {', '.join(MODELS)}", source="model"
            )
        if self.samples < 200:
            raise DataError(f"samples {self.samples} < 200 per year", source="samples")
        if not 0.0 <= self.production_damping <= 1.0:
            raise DataError(
                f"production_damping {self.production_damping} is outside [0, 1]",
                source="production_damping",
            )


def forecast_tables(
    path: Path, settings: DropSettings = DropSettings()
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The forecast table and per-series summary of series file ``path`` under ``settings``
    with the shipped priors, as ``learnrace forecast --summary`` computes them; a
    :class:`~learnrace_pipeline.lib.errors.LearnraceError` on bad input or a non-finite
    forecast."""
    model = AUTO_MODEL if settings.model == "auto" else settings.model
    inp = read_input(path, "time" if model == "time" else "wright")
    shipped = {
        "time": priors.SHIPPED_TIME_PRIOR,
        "experience_time": priors.SHIPPED_EXPERIENCE_TIME_PRIOR,
    }.get(model, priors.SHIPPED_PRIOR)
    prior, _ = priors.choose_prior(priors.load_priors(shipped), None)
    config = ForecastConfig(
        n_samples=settings.samples,
        seed=settings.seed,
        production_damping=settings.production_damping,
    )
    if model == "time":
        time_trend.check_time_prior(prior)
    if model == "pool":
        et_prior, _ = priors.choose_prior(
            priors.load_priors(priors.SHIPPED_EXPERIENCE_TIME_PRIOR), None
        )
        result = pool.pool_summary(inp.task, prior, et_prior, config=config)
    else:
        result = forecaster.simulate(inp.task, prior, config=config)
    table, per_series = result_tables(result, model, prior)
    if per_series is not None:
        outputs.check_finite_output(per_series)
    return table, per_series


@dataclass(frozen=True)
class Outcome:
    """What :func:`process` did with one file.

    ``status``: ``forecast`` (outputs written, input in ``processed/``), ``rejected`` (input in
    ``rejected/`` beside its error text), ``gone`` (no such file any more) or ``changed`` (its
    bytes no longer have the requested sha256: left in place for the next request).
    ``error`` is the exception of a rejection (a
    :class:`~learnrace_pipeline.lib.errors.LearnraceError` for bad input, anything else for a
    fault of learnrace's own).
    """

    name: str
    status: Status
    message: str
    paths: Mapping[str, Path] = field(default_factory=dict)
    n_series: int = 0
    n_rows: int = 0
    error: BaseException | None = None


def error_text(name: str, error: BaseException, sha256: str, when: _dt.datetime) -> str:
    """The text of ``rejected/<stem>.error.txt``: the error's one-line form, then its parts
    (source, file, row, column, problem for a DataError), the file's sha256 and the time."""
    lines = [f"learnrace drop folder: {name} was not forecast.", ""]
    if isinstance(error, LearnraceError):
        lines.append(f"error: {error}")
    else:
        lines.append(
            f"error: learnrace failed on this file ({type(error).__name__}: {error}); "
            "this is a fault of learnrace, not of the file: please report it"
        )
    if isinstance(error, DataError):
        lines += [
            "",
            f"source: {error.source}",
            f"file: {error.file if error.file is not None else name}",
            f"row: {error.row if error.row is not None else '-'} (header = row 1)",
            f"column: {error.column if error.column is not None else '-'}",
            f"problem: {error.problem}",
        ]
    lines += [
        "",
        f"sha256: {sha256}",
        f"at: {when.astimezone(_dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        "Fix the file and drop it into the folder again to forecast it.",
    ]
    return "\n".join(lines) + "\n"


def reject(folder: DropFolder, name: str, error: BaseException, sha256: str) -> Outcome:
    """Write ``rejected/<stem>.error.txt`` (atomically), then move the input to
    ``rejected/<name>``."""
    folder.ensure()
    text = error_text(name, error, sha256, _dt.datetime.now(_dt.UTC))
    error_file = write_atomic_bytes(text.encode(), folder.error_path(name))
    moved = folder.rejected / name
    os.replace(folder.root / name, moved)
    return Outcome(
        name,
        "rejected",
        str(error) if isinstance(error, LearnraceError) else f"{type(error).__name__}: {error}",
        {"input": moved, "error": error_file},
        error=error,
    )


def process(
    folder: DropFolder, name: str, sha256: str, settings: DropSettings = DropSettings()
) -> Outcome:
    """Forecast dropped file ``name`` if its bytes still have ``sha256``: outputs written
    atomically to ``forecasts/``, then the input moved to ``processed/``; on any error the
    input moved to ``rejected/`` beside its error text (see :class:`Outcome`)."""
    folder.ensure()
    src = folder.root / name
    if not src.is_file():
        return Outcome(name, "gone", f"{name} is no longer in {folder.root}")
    actual = sha256_file(src)
    if actual != sha256:
        return Outcome(
            name,
            "changed",
            f"{name} changed since it was requested (sha256 {actual[:12]}, requested "
            f"{sha256[:12]}); the new version is forecast when it settles",
        )
    if not name.lower().endswith(".csv"):
        problem = DataError(
            "not a .csv file: the drop folder reads series files in the `learnrace forecast` "
            "CSV format, named <name>.csv",
            source="drop folder",
            file=name,
        )
        return reject(folder, name, problem, sha256)
    try:
        table, per_series = forecast_tables(src, settings)
        paths = {"forecasts": folder.forecast_path(name)}
        outputs.write_forecasts(table, paths["forecasts"], "csv")
        if per_series is not None:
            paths["summary"] = folder.summary_path(name)
            outputs.write_forecasts(per_series, paths["summary"], "csv")
    except Exception as e:  # every failure rejects the file, so that none stays stuck
        return reject(folder, name, e, sha256)
    paths["input"] = folder.processed / name
    os.replace(src, paths["input"])
    n_series = int(table["series_id"].n_unique())
    return Outcome(
        name,
        "forecast",
        f"{name}: {n_series} series, {table.height} forecast rows -> {paths['forecasts']}",
        paths,
        n_series=n_series,
        n_rows=table.height,
    )
