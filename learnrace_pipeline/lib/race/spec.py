"""The race specification: a declarative YAML file loaded safely and validated.

:func:`load_spec` reads the file with ``yaml.safe_load`` into frozen dataclasses and checks its
structure (nations, archetypes, metric keys, threshold kinds and types, horizons, scenario
targets). :func:`check_data` checks it against tidy tables (the ``datasets/`` snapshot through
:func:`snapshot_tables`, or the warehouse's): every metric's table and filter select rows, units
agree with the table's ``unit`` column, and every nation has rows for every metric unless the
spec declares the gap. Every failure raises :class:`~learnrace_pipeline.lib.errors.DataError`
naming the file, the key path (``column``, e.g. ``industries[2].volume.threshold``) and the
offending value. Nothing here writes anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from learnrace_pipeline.lib.errors import DataError
from learnrace_pipeline.lib.sources import SOURCE_TABLES, SOURCES
from learnrace_pipeline.lib.sources.schema import TABLES
from learnrace_pipeline.lib.storage import snapshot
from learnrace_pipeline.lib.vocab import nations as nation_vocab
from learnrace_pipeline.lib.vocab.taxonomy import INDUSTRIES as TAXONOMY_INDUSTRIES

SPEC_FILE = Path(__file__).with_name("race.yaml")
SOURCE = "race specification"

ARCHETYPES = ("simulation_frontier", "deployment_engine", "hybrid")
#: USA and CHN compete in every industry with data.
REQUIRED_NATIONS = ("USA", "CHN")
#: Aggregates that cannot compete (a proxy may still point at a region such as EUROPE).
NOT_COMPETITORS = ("WLD", "ROW", "OTHER", "MULTI", "OECD")
ROLES = ("capability", "volume", "cost")
STATUSES = ("data", "no_data")
SCOPES = ("national", "world")
#: How a nation's yearly figure is formed from the selected rows.
MEASURES = (
    "value",  # the value column as it is (one row per nation and year)
    "learning_rate",  # the learning rate of the nation's cost series (from the learning fits)
    "running_max",  # the nation's record to date
    "running_min",  # the nation's smallest value to date (e.g. the leading process node)
    "ratio_best_company",  # value / per, the nation's best company each year
    "cumulative_sum",  # sum of the value column through each year
    "count",  # rows per nation and year (share: of all nations' rows that year)
)
#: Threshold kinds allowed per role.
THRESHOLD_KINDS: dict[str, tuple[str, ...]] = {
    "capability": ("within_of_leader", "at_least", "at_most"),
    "volume": ("share_at_least", "cumulative_at_least", "at_least"),
    "cost": ("parity", "at_most"),
}
WITHIN_UNITS = ("factor", "years", "points")
PARITY_REFERENCES = ("leader", "level")
NATION_COLUMNS = {
    "technologies": None,
    "cost_observations": "nation",
    "production": "nation",
    "market_shares": "nation",
    "av_testing": "nation",
    "ai_models": "nation",
    "chip_products": "foundry_nation",
    "supply_chain_provision": "provider_nation",
}
TIME_COLUMNS = {
    "technologies": None,
    "cost_observations": "year",
    "production": "year",
    "market_shares": "year",
    "av_testing": "report_year",
    "ai_models": "publication_date",
    "chip_products": "release_date",
    "supply_chain_provision": "year",
}
SCENARIO_PARAMETERS = ("compute_growth", "deployment_growth", "spillover_lambda", "research_rate")
SCENARIO_OPERATIONS = ("cap", "scale", "set")
ALL = "all"
MIN_HORIZON, MAX_HORIZON = 2025, 2100


@dataclass(frozen=True)
class Threshold:
    kind: str
    value: float
    unit: str | None = None
    reference: str | None = None  # parity: "leader", "level" or a nation code
    level: float | None = None  # parity against a level


@dataclass(frozen=True)
class Metric:
    role: str
    name: str
    table: str
    filter: tuple[tuple[str, tuple[Any, ...]], ...]  # (column, allowed values)
    value: str
    unit: str | tuple[tuple[str, str], ...]  # one unit, or (nation, unit) pairs
    measure: str
    threshold: Threshold
    scope: str = "national"
    per: str | None = None
    nation_column: str | None = None
    time_column: str | None = None
    description: str = ""

    def unit_of(self, nation: str) -> str | None:
        if isinstance(self.unit, str):
            return self.unit
        return dict(self.unit).get(nation)


@dataclass(frozen=True)
class MissingMetric:
    """A role the data cannot measure, with the missing data named."""

    role: str
    missing: str


@dataclass(frozen=True)
class NationEntry:
    code: str
    archetype: str
    proxy: tuple[tuple[str, str], ...] = ()  # (role, code whose rows stand in)
    missing: tuple[tuple[str, str], ...] = ()  # (role, why the nation has no rows)

    def data_code(self, role: str) -> str:
        return dict(self.proxy).get(role, self.code)


@dataclass(frozen=True)
class IndustrySpec:
    id: str
    name: str
    status: str
    taxonomy: tuple[str, ...] = ()
    horizon: int | None = None
    nations: tuple[NationEntry, ...] = ()
    capability: Metric | MissingMetric | None = None
    volume: Metric | MissingMetric | None = None
    cost: Metric | None = None
    missing: str | None = None  # no_data industries: what data is missing

    def metrics(self) -> tuple[Metric, ...]:
        return tuple(m for m in (self.capability, self.volume, self.cost) if isinstance(m, Metric))


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    industry: str  # an industry id or "all"
    nation: str  # a nation code or "all"
    parameter: str
    operation: str
    value: float
    unit: str | None = None


@dataclass(frozen=True)
class RaceSpec:
    path: str
    version: int
    industries: tuple[IndustrySpec, ...]
    scenarios: tuple[Scenario, ...]

    def industry(self, industry_id: str) -> IndustrySpec:
        for ind in self.industries:
            if ind.id == industry_id:
                return ind
        raise KeyError(industry_id)

    def scenario(self, name: str) -> Scenario:
        for sc in self.scenarios:
            if sc.name == name:
                return sc
        raise KeyError(name)


class SpecError(DataError):
    """A :class:`DataError` of the race file: ``column`` holds the key path (e.g.
    ``industries[2].volume.threshold``), said as ``key`` in the message."""

    @property
    def key(self) -> str | None:
        return self.column

    def describe(self) -> str:
        where = [f"file {self.file!r}"]
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.column is not None:
            where.append(f"key {self.column}")
        return f"race specification, {', '.join(where)}: {self.problem}"


# --------------------------------------------------------------------------------------------
# Structural validation
# --------------------------------------------------------------------------------------------


class _Checker:
    """Reads the parsed document, raising :class:`DataError` at the first fault."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, key: str, problem: str, value: Any = None, *, show: bool = True) -> DataError:
        text = f"{problem} (value {value!r})" if show else problem
        return SpecError(text, source=SOURCE, file=self.file, column=key)

    def mapping(self, obj: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(obj, Mapping):
            raise self.fail(key, f"expected a mapping, got {type(obj).__name__}", obj)
        return obj

    def keys(self, obj: Mapping[str, Any], key: str, allowed: Sequence[str]) -> None:
        for k in obj:
            if k not in allowed:
                raise self.fail(
                    f"{key}.{k}" if key else str(k),
                    f"unknown key; expected one of {', '.join(allowed)}",
                    k,
                )

    def required(self, obj: Mapping[str, Any], name: str, key: str) -> Any:
        if name not in obj or obj[name] is None:
            raise self.fail(
                f"{key}.{name}" if key else name, "required key missing", None, show=False
            )
        return obj[name]

    def string(self, obj: Any, key: str) -> str:
        if not isinstance(obj, str) or not obj.strip():
            raise self.fail(key, "expected a non-empty string", obj)
        return obj

    def number(self, obj: Any, key: str) -> float:
        if isinstance(obj, bool) or not isinstance(obj, int | float):
            raise self.fail(key, f"expected a number, got {type(obj).__name__}", obj)
        return float(obj)

    def integer(self, obj: Any, key: str) -> int:
        if isinstance(obj, bool) or not isinstance(obj, int):
            raise self.fail(key, f"expected an integer, got {type(obj).__name__}", obj)
        return obj

    def choice(self, obj: Any, key: str, allowed: Sequence[str], what: str) -> str:
        if not isinstance(obj, str) or obj not in allowed:
            raise self.fail(key, f"unknown {what}; expected one of {', '.join(allowed)}", obj)
        return obj

    def sequence(self, obj: Any, key: str) -> list[Any]:
        if not isinstance(obj, list):
            raise self.fail(key, f"expected a list, got {type(obj).__name__}", obj)
        return obj

    def nation(self, obj: Any, key: str, *, competitor: bool = True) -> str:
        if not isinstance(obj, str) or obj not in nation_vocab.known_codes():
            raise self.fail(key, "unknown nation (ISO 3166 alpha-3 or a declared region)", obj)
        if competitor and obj in NOT_COMPETITORS:
            raise self.fail(key, "an aggregate cannot compete; name a nation or EU27", obj)
        return obj


def _threshold(c: _Checker, obj: Any, key: str, role: str) -> Threshold:
    obj = c.mapping(obj, key)
    c.keys(obj, key, ("kind", "value", "unit", "reference", "level"))
    kind = c.choice(
        c.required(obj, "kind", key), f"{key}.kind", THRESHOLD_KINDS[role], f"{role} threshold"
    )
    value = c.number(c.required(obj, "value", key), f"{key}.value")
    unit = obj.get("unit")
    if unit is not None:
        unit = c.string(unit, f"{key}.unit")
    reference = level = None
    if kind == "within_of_leader":
        unit = c.choice(c.required(obj, "unit", key), f"{key}.unit", WITHIN_UNITS, "unit")
        if value <= 0:
            raise c.fail(f"{key}.value", "must be positive", obj["value"])
    elif kind == "share_at_least":
        if not 0 < value <= 1:
            raise c.fail(f"{key}.value", "a share is a fraction in (0, 1]", obj["value"])
    elif kind == "cumulative_at_least" and value <= 0:
        raise c.fail(f"{key}.value", "must be positive", obj["value"])
    elif kind == "parity":
        if value < 0:
            raise c.fail(f"{key}.value", "a parity tolerance is a fraction >= 0", obj["value"])
        reference = c.string(c.required(obj, "reference", key), f"{key}.reference")
        if reference not in PARITY_REFERENCES:
            c.nation(reference, f"{key}.reference", competitor=False)
        if reference == "level":
            level = c.number(c.required(obj, "level", key), f"{key}.level")
            if level <= 0:
                raise c.fail(f"{key}.level", "must be positive", obj["level"])
        elif "level" in obj:
            raise c.fail(f"{key}.level", "only a parity with reference: level has a level", obj)
    for extra in ("reference", "level"):
        if kind != "parity" and extra in obj:
            raise c.fail(f"{key}.{extra}", f"only parity thresholds have {extra}", obj[extra])
    return Threshold(kind, value, unit, reference, level)


_METRIC_KEYS = (
    "name",
    "description",
    "table",
    "filter",
    "value",
    "per",
    "unit",
    "measure",
    "scope",
    "nation_column",
    "time_column",
    "threshold",
)


def _filter_value(c: _Checker, v: Any, key: str, dtype: pl.DataType) -> Any:
    if isinstance(dtype, pl.Boolean):
        ok = isinstance(v, bool)
    elif dtype.is_numeric():
        ok = isinstance(v, int | float) and not isinstance(v, bool)
    elif isinstance(dtype, pl.String):
        ok = isinstance(v, str)
    else:
        ok = False
    if not ok:
        raise c.fail(key, f"filter value does not match the column's type {dtype}", v)
    return v


def _column(c: _Checker, obj: Any, key: str, table: str) -> str:
    name = c.string(obj, key)
    if name not in TABLES[table]:
        raise c.fail(key, f"no such column in table {table!r}", name)
    return name


def _metric(c: _Checker, obj: Any, key: str, role: str) -> Metric | MissingMetric:
    obj = c.mapping(obj, key)
    if "missing" in obj:
        if role == "cost":
            raise c.fail(f"{key}.missing", "leave cost out where no learning curve exists", obj)
        if len(obj) != 1:
            extra = sorted(k for k in obj if k != "missing")
            raise c.fail(key, "a missing metric has only a `missing` text", extra)
        return MissingMetric(role, c.string(obj["missing"], f"{key}.missing"))
    c.keys(obj, key, _METRIC_KEYS)
    name = c.string(c.required(obj, "name", key), f"{key}.name")
    table = c.choice(c.required(obj, "table", key), f"{key}.table", tuple(TABLES), "table")
    filters: list[tuple[str, tuple[Any, ...]]] = []
    raw_filter = c.mapping(obj.get("filter") or {}, f"{key}.filter")
    for col, values in raw_filter.items():
        fkey = f"{key}.filter.{col}"
        col = _column(c, col, fkey, table)
        items = values if isinstance(values, list) else [values]
        if not items:
            raise c.fail(fkey, "an empty list selects nothing", values)
        dtype = TABLES[table][col]
        filters.append(
            (col, tuple(_filter_value(c, v, f"{fkey}[{i}]", dtype) for i, v in enumerate(items)))
        )
    value = _column(c, c.required(obj, "value", key), f"{key}.value", table)
    per = obj.get("per")
    if per is not None:
        per = _column(c, per, f"{key}.per", table)
    measure = c.choice(c.required(obj, "measure", key), f"{key}.measure", MEASURES, "measure")
    if (measure == "ratio_best_company") != (per is not None):
        raise c.fail(f"{key}.per", "a ratio measure needs `per`, and only it has one", per)
    raw_unit = c.required(obj, "unit", key)
    if isinstance(raw_unit, Mapping):
        unit: str | tuple[tuple[str, str], ...] = tuple(
            (
                c.nation(n, f"{key}.unit.{n}", competitor=False),
                c.string(u, f"{key}.unit.{n}"),
            )
            for n, u in raw_unit.items()
        )
    else:
        unit = c.string(raw_unit, f"{key}.unit")
    scope = c.choice(obj.get("scope", "national"), f"{key}.scope", SCOPES, "scope")
    default_nation = NATION_COLUMNS[table]
    nation_column = obj.get("nation_column", default_nation)
    if nation_column is not None:
        nation_column = _column(c, nation_column, f"{key}.nation_column", table)
    elif scope == "national":
        raise c.fail(f"{key}.table", "a national metric needs a table with a nation", table)
    time_column = obj.get("time_column", TIME_COLUMNS[table])
    if time_column is not None:
        time_column = _column(c, time_column, f"{key}.time_column", table)
    threshold = _threshold(c, c.required(obj, "threshold", key), f"{key}.threshold", role)
    description = obj.get("description", "")
    if description:
        description = c.string(description, f"{key}.description")
    return Metric(
        role=role,
        name=name,
        table=table,
        filter=tuple(filters),
        value=value,
        unit=unit,
        measure=measure,
        threshold=threshold,
        scope=scope,
        per=per,
        nation_column=nation_column,
        time_column=time_column,
        description=description,
    )


def _nation_entry(c: _Checker, obj: Any, key: str) -> NationEntry:
    obj = c.mapping(obj, key)
    c.keys(obj, key, ("code", "archetype", "proxy", "missing"))
    code = c.nation(c.required(obj, "code", key), f"{key}.code")
    archetype = c.choice(
        c.required(obj, "archetype", key), f"{key}.archetype", ARCHETYPES, "archetype"
    )
    proxy = tuple(
        (
            c.choice(role, f"{key}.proxy.{role}", ROLES, "role"),
            c.nation(other, f"{key}.proxy.{role}", competitor=False),
        )
        for role, other in c.mapping(obj.get("proxy") or {}, f"{key}.proxy").items()
    )
    missing = tuple(
        (
            c.choice(role, f"{key}.missing.{role}", ROLES, "role"),
            c.string(why, f"{key}.missing.{role}"),
        )
        for role, why in c.mapping(obj.get("missing") or {}, f"{key}.missing").items()
    )
    return NationEntry(code, archetype, proxy, missing)


_INDUSTRY_KEYS = (
    "id",
    "name",
    "status",
    "taxonomy",
    "horizon",
    "nations",
    "capability",
    "volume",
    "cost",
    "missing",
)


def _industry(c: _Checker, obj: Any, key: str) -> IndustrySpec:
    obj = c.mapping(obj, key)
    c.keys(obj, key, _INDUSTRY_KEYS)
    ident = c.string(c.required(obj, "id", key), f"{key}.id")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", ident):
        raise c.fail(f"{key}.id", "an id is lower_snake_case", ident)
    name = c.string(c.required(obj, "name", key), f"{key}.name")
    status = c.choice(obj.get("status", "data"), f"{key}.status", STATUSES, "status")
    taxonomy = tuple(
        c.choice(t, f"{key}.taxonomy[{i}]", TAXONOMY_INDUSTRIES, "taxonomy industry")
        for i, t in enumerate(c.sequence(obj.get("taxonomy") or [], f"{key}.taxonomy"))
    )
    if status == "no_data":
        for role in ROLES:
            if role in obj:
                raise c.fail(
                    f"{key}.{role}",
                    "a no_data industry declares no metrics or thresholds",
                    obj[role],
                )
        missing = c.string(c.required(obj, "missing", key), f"{key}.missing")
        horizon = obj.get("horizon")
        if horizon is not None:
            horizon = _horizon(c, horizon, f"{key}.horizon")
        return IndustrySpec(ident, name, status, taxonomy, horizon, missing=missing)
    if "missing" in obj:
        raise c.fail(
            f"{key}.missing", "only a no_data industry has a `missing` text", obj["missing"]
        )
    if not taxonomy:
        raise c.fail(f"{key}.taxonomy", "an industry with data names its taxonomy industries", [])
    horizon = _horizon(c, c.required(obj, "horizon", key), f"{key}.horizon")
    raw_nations = c.sequence(c.required(obj, "nations", key), f"{key}.nations")
    entries: list[NationEntry] = []
    for i, n in enumerate(raw_nations):
        entry = _nation_entry(c, n, f"{key}.nations[{i}]")
        if any(e.code == entry.code for e in entries):
            raise c.fail(f"{key}.nations[{i}].code", "nation listed twice", entry.code)
        entries.append(entry)
    codes = [e.code for e in entries]
    for req in REQUIRED_NATIONS:
        if req not in codes:
            raise c.fail(f"{key}.nations", f"{req} competes in every industry", codes)
    capability = _metric(c, c.required(obj, "capability", key), f"{key}.capability", "capability")
    volume = _metric(c, c.required(obj, "volume", key), f"{key}.volume", "volume")
    cost = None
    if obj.get("cost") is not None:
        cost_metric = _metric(c, obj["cost"], f"{key}.cost", "cost")
        assert isinstance(cost_metric, Metric)
        cost = cost_metric
    if isinstance(capability, MissingMetric) and isinstance(volume, MissingMetric):
        raise c.fail(key, "both halves missing: declare the industry status: no_data", ident)
    for i, e in enumerate(entries):
        for role, _ in e.missing:
            if not isinstance(
                {"capability": capability, "volume": volume, "cost": cost}[role], Metric
            ):
                raise c.fail(
                    f"{key}.nations[{i}].missing.{role}",
                    "the industry has no such metric to be missing",
                    role,
                )
    return IndustrySpec(
        ident, name, status, taxonomy, horizon, tuple(entries), capability, volume, cost
    )


def _horizon(c: _Checker, obj: Any, key: str) -> int:
    year = c.integer(obj, key)
    if not MIN_HORIZON <= year <= MAX_HORIZON:
        raise c.fail(key, f"a horizon year is within {MIN_HORIZON}..{MAX_HORIZON}", year)
    return year


def _scenario(c: _Checker, obj: Any, key: str, industries: Sequence[IndustrySpec]) -> Scenario:
    obj = c.mapping(obj, key)
    c.keys(
        obj,
        key,
        ("name", "description", "industry", "nation", "parameter", "operation", "value", "unit"),
    )
    name = c.string(c.required(obj, "name", key), f"{key}.name")
    description = c.string(c.required(obj, "description", key), f"{key}.description")
    with_data = {i.id: i for i in industries if i.status == "data"}
    industry = c.string(c.required(obj, "industry", key), f"{key}.industry")
    if industry != ALL and industry not in with_data:
        raise c.fail(
            f"{key}.industry",
            f"unknown scenario target: an industry with data or {ALL!r} ({', '.join(with_data)})",
            industry,
        )
    nation = c.string(c.required(obj, "nation", key), f"{key}.nation")
    if nation != ALL:
        scope = [with_data[industry]] if industry != ALL else list(with_data.values())
        competing = sorted({e.code for ind in scope for e in ind.nations})
        if nation not in competing:
            raise c.fail(
                f"{key}.nation",
                f"unknown scenario target: a nation competing in {industry!r} or {ALL!r} "
                f"({', '.join(competing)})",
                nation,
            )
    parameter = c.choice(
        c.required(obj, "parameter", key), f"{key}.parameter", SCENARIO_PARAMETERS, "parameter"
    )
    operation = c.choice(
        c.required(obj, "operation", key), f"{key}.operation", SCENARIO_OPERATIONS, "operation"
    )
    value = c.number(c.required(obj, "value", key), f"{key}.value")
    if operation == "scale" and value < 0:
        raise c.fail(f"{key}.value", "a scale factor is >= 0", obj["value"])
    if parameter == "spillover_lambda" and not 0 <= value <= 1:
        raise c.fail(f"{key}.value", "lambda is a weight in [0, 1]", obj["value"])
    unit = obj.get("unit")
    if unit is not None:
        unit = c.string(unit, f"{key}.unit")
    return Scenario(name, description, industry, nation, parameter, operation, value, unit)


def parse_spec(document: Any, file: str) -> RaceSpec:
    """A :class:`RaceSpec` from an already parsed YAML document (``file`` names it in errors)."""
    c = _Checker(file)
    if not isinstance(document, Mapping):
        raise SpecError(
            f"the race specification must be a mapping at the top level, got "
            f"{type(document).__name__} (value {_short(document)!r})",
            source=SOURCE,
            file=file,
            column="<document>",
        )
    c.keys(document, "", ("version", "industries", "scenarios"))
    version = c.integer(c.required(document, "version", ""), "version")
    if version != 1:
        raise c.fail("version", "only version 1 is known", version)
    raw_industries = c.sequence(c.required(document, "industries", ""), "industries")
    industries: list[IndustrySpec] = []
    for i, obj in enumerate(raw_industries):
        ind = _industry(c, obj, f"industries[{i}]")
        if any(other.id == ind.id for other in industries):
            raise c.fail(f"industries[{i}].id", "duplicate industry", ind.id)
        industries.append(ind)
    raw_scenarios = c.sequence(document.get("scenarios") or [], "scenarios")
    scenarios: list[Scenario] = []
    for i, obj in enumerate(raw_scenarios):
        sc = _scenario(c, obj, f"scenarios[{i}]", industries)
        if any(other.name == sc.name for other in scenarios):
            raise c.fail(f"scenarios[{i}].name", "duplicate scenario", sc.name)
        scenarios.append(sc)
    return RaceSpec(file, version, tuple(industries), tuple(scenarios))


def _short(obj: Any, limit: int = 60) -> Any:
    text = repr(obj)
    return obj if len(text) <= limit else text[: limit - 3] + "..."


def load_spec(path: str | Path | None = None) -> RaceSpec:
    """Read and validate the race file (default: the shipped ``race.yaml``)."""
    p = Path(path) if path is not None else SPEC_FILE
    file = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read: {exc.strerror}", source=SOURCE, file=file) from exc
    except UnicodeDecodeError as exc:
        raise SpecError(f"not UTF-8 text: {exc.reason}", source=SOURCE, file=file) from exc
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise SpecError(
            f"not valid YAML{where}: {exc.problem or exc.context}",
            source=SOURCE,
            file=file,
            row=mark.line + 1 if mark else None,
        ) from exc
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {exc}", source=SOURCE, file=file) from exc
    return parse_spec(document, file)


# --------------------------------------------------------------------------------------------
# Validation against the tables
# --------------------------------------------------------------------------------------------


def snapshot_tables(
    datasets: str | Path | None = None, tables: Sequence[str] | None = None
) -> dict[str, pl.DataFrame]:
    """Tidy tables stacked over every source of the ``datasets/`` snapshot (default: those the
    race reads), each file's sha256 and schema checked by :func:`snapshot.load`."""
    folder = Path(datasets) if datasets is not None else snapshot.DEFAULT_DATASETS
    wanted = (
        tuple(tables) if tables is not None else tuple(t for t in TABLES if t != "technologies")
    )
    parts: dict[str, list[pl.DataFrame]] = {t: [] for t in wanted}
    for source in SOURCES:
        if not any(t in SOURCE_TABLES[source] for t in wanted):
            continue
        loaded = snapshot.load(folder, source)
        for t in wanted:
            if t in loaded:
                df = loaded[t]
                parts[t].append(df.select([c for c in df.columns if not c.startswith("_")]))
    return {
        t: pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame(schema=TABLES[t])
        for t, frames in parts.items()
    }


def select_rows(metric: Metric, tables: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """The rows of ``metric``'s table that its filter selects and whose value is known."""
    df = tables[metric.table]
    cond = pl.col(metric.value).is_not_null()
    for col, values in metric.filter:
        cond = cond & pl.col(col).is_in(list(values))
    if metric.per is not None:
        cond = cond & pl.col(metric.per).is_not_null()
    if metric.scope == "world" and metric.nation_column is not None:
        cond = cond & (pl.col(metric.nation_column) == "WLD")
    return df.filter(cond)


@dataclass(frozen=True)
class Coverage:
    """Rows each (industry, role, nation) selects; nations with none were declared missing."""

    rows: pl.DataFrame  # industry, role, nation, data_nation, n_rows, first, last

    def of(self, industry: str, role: str, nation: str) -> int:
        hit = self.rows.filter(
            (pl.col("industry") == industry)
            & (pl.col("role") == role)
            & (pl.col("nation") == nation)
        )
        return int(hit["n_rows"].sum())


def check_data(spec: RaceSpec, tables: Mapping[str, pl.DataFrame]) -> Coverage:
    """Check every metric of ``spec`` against ``tables`` (e.g. :func:`snapshot_tables`).

    Raises :class:`DataError` where a metric selects no rows, a selected row's unit differs from
    the declared one, or a nation has no rows for a metric its entry does not declare missing
    (or has rows for one it does)."""
    c = _Checker(spec.path)
    out: list[dict[str, Any]] = []
    for i, ind in enumerate(spec.industries):
        for metric in ind.metrics():
            key = f"industries[{i}].{metric.role}"
            if metric.table not in tables:
                raise c.fail(f"{key}.table", "table not among the tables given", metric.table)
            rows = select_rows(metric, tables)
            if rows.height == 0:
                raise c.fail(
                    f"{key}.filter",
                    f"the metric has no data: no rows of {metric.table!r} with a "
                    f"{metric.value!r} value match",
                    {col: list(v) for col, v in metric.filter},
                )
            _check_units(c, metric, rows, key)
            time_col = metric.time_column
            for j, entry in enumerate(ind.nations):
                code = "WLD" if metric.scope == "world" else entry.data_code(metric.role)
                mine = rows.filter(pl.col(metric.nation_column) == code)
                declared = dict(entry.missing).get(metric.role)
                nkey = f"industries[{i}].nations[{j}]"
                if mine.height == 0 and declared is None:
                    raise c.fail(
                        f"{nkey}.missing.{metric.role}",
                        f"nation has no rows for the {metric.role} metric {metric.name!r}: "
                        "declare it missing, with why",
                        entry.code,
                    )
                if mine.height > 0 and declared is not None and metric.scope == "national":
                    raise c.fail(
                        f"{nkey}.missing.{metric.role}",
                        f"declared missing but {mine.height} rows select for {code}",
                        declared,
                    )
                first = last = None
                if mine.height and time_col is not None:
                    first, last = str(mine[time_col].min()), str(mine[time_col].max())
                out.append(
                    {
                        "industry": ind.id,
                        "role": metric.role,
                        "nation": entry.code,
                        "data_nation": code,
                        "n_rows": mine.height,
                        "first": first,
                        "last": last,
                    }
                )
    schema = {
        "industry": pl.String,
        "role": pl.String,
        "nation": pl.String,
        "data_nation": pl.String,
        "n_rows": pl.Int64,
        "first": pl.String,
        "last": pl.String,
    }
    return Coverage(pl.DataFrame(out, schema=schema))


def _check_units(c: _Checker, metric: Metric, rows: pl.DataFrame, key: str) -> None:
    if "unit" not in rows.columns:
        return
    pairs = rows.select(metric.nation_column, "unit").unique().sort(metric.nation_column, "unit")
    for nation, unit in pairs.iter_rows():
        want = metric.unit_of(nation)
        if want is None:
            raise c.fail(f"{key}.unit", f"no unit declared for {nation}'s rows ({unit!r})", nation)
        if unit != want:
            raise c.fail(
                f"{key}.unit", f"the rows for {nation} are in {unit!r}, not the declared unit", want
            )


def load_and_check(
    path: str | Path | None = None, tables: Mapping[str, pl.DataFrame] | None = None
) -> tuple[RaceSpec, Coverage]:
    """:func:`load_spec` then :func:`check_data` (default tables: the snapshot)."""
    spec = load_spec(path)
    return spec, check_data(spec, tables if tables is not None else snapshot_tables())
