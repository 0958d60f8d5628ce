"""Incremental runs: each asset's code version, and which assets a run must compute.

Versions (recorded by Dagster on every materialization, as the tags ``dagster/code_version``,
``dagster/data_version`` and ``dagster/input_data_version/<upstream key>``):

- **code version** of an asset (:func:`code_versions`, set on every asset by
  :func:`with_code_versions`): the first 16 hex digits of sha256 over the code fingerprint of
  the module defining the asset's step (its source and the package modules it imports, directly
  or not, with the data files beside them:
  :func:`~learnrace_pipeline.lib.storage.fingerprint.code_fingerprint`; a source's step also
  counts its reader module) and, for steps using the ``calibration`` resource, the sampler
  settings (draws, tune, chains, target_accept, seed, industries).
- **data version** of a source table: a hash of its code version and the fingerprint of its
  input files (its snapshot CSV and sidecar, or the source's raw files:
  :func:`~learnrace_pipeline.lib.storage.fingerprint.source_data_version`), given by the source
  asset; of every other asset: Dagster's hash of its code version and its inputs' data versions.

A selected asset is **stale** (:func:`plan_run`), with the first reason that holds, when:
``--force``; it was never materialised; its recorded code version differs from the current
one; its table (kind ``duckdb``) is missing from the warehouse or its fit (kind ``netcdf``) from
``<work_dir>/fits/assets``; the step that wrote its latest materialization failed (e.g. a
blocking check failed after the write); a source's recorded data version differs from its
input files' fingerprint, or the sources are in refresh mode; another asset of its step runs
(a step computes all of its assets); an upstream asset runs in this run, unless it is a source
table whose coming data version (from its code version and files' fingerprint) is the one this asset recorded as its
input; or an upstream asset's latest data version differs from the one recorded as this
asset's input (an upstream left out of the selection counts with the data it has now). Everything else is up
to date and is not run; its checks keep their last results.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from learnrace_pipeline.lib.storage.fingerprint import (
    code_fingerprint,
    config_fingerprint,
    source_data_version,
)

log = logging.getLogger(__name__)

CODE_VERSION_TAG = "dagster/code_version"
DATA_VERSION_TAG = "dagster/data_version"
INPUT_VERSION_PREFIX = "dagster/input_data_version/"
#: What Dagster records as the data version of an input never materialised.
NO_VERSION = frozenset({"INITIAL", "NULL"})

#: Fields of ``CalibrationSettings`` that change what a fit computes (not where it is stored).
_SAMPLER_FIELDS = ("draws", "tune", "chains", "target_accept", "seed", "industries")


def _step_module(assets_def: dg.AssetsDefinition) -> str:
    """The module defining the function of an asset's step."""
    fn = assets_def.op.compute_fn
    fn = getattr(fn, "decorated_fn", fn)
    return fn.__module__


def step_modules(assets_def: dg.AssetsDefinition) -> list[str]:
    """The modules whose code an asset's step runs, as far as imports show: the module defining
    it, and for a source's step its reader (loaded by name at run time)."""
    modules = [_step_module(assets_def)]
    name = assets_def.op.name
    if modules[0].endswith(".defs.sources.assets") and name.startswith("source_"):
        modules.append(f"learnrace_pipeline.lib.sources.{name.removeprefix('source_')}")
    return modules


def code_versions(
    assets: Iterable[dg.AssetsDefinition], calibration: object | None = None
) -> dict[dg.AssetKey, str]:
    """Each asset's code version (see the module docstring): 16 hex digits."""
    sampler = (
        {f: getattr(calibration, f) for f in _SAMPLER_FIELDS} if calibration is not None else {}
    )
    out = {}
    for assets_def in assets:
        parts = {"code": code_fingerprint(step_modules(assets_def))}
        if "calibration" in assets_def.required_resource_keys:
            parts["sampler"] = sampler
        version = config_fingerprint(parts)[:16]
        out.update(dict.fromkeys(assets_def.keys, version))
    return out


def with_code_versions(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with every asset's code version set (:func:`code_versions`)."""
    versions = code_versions(
        [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)],
        (defs.resources or {}).get("calibration"),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return defs.map_resolved_asset_specs(
            func=lambda spec: (
                spec.replace_attributes(code_version=versions[spec.key])
                if spec.key in versions
                else spec
            )
        )


@dataclass
class Plan:
    """What a run computes: ``to_run`` (stale assets, whole steps) and ``up_to_date`` (the
    other selected assets), with each stale asset's reason and each asset's group."""

    to_run: dict[dg.AssetKey, str] = field(default_factory=dict)
    up_to_date: list[dg.AssetKey] = field(default_factory=list)
    groups: dict[dg.AssetKey, str] = field(default_factory=dict)

    def _by_group(self, keys: Iterable[dg.AssetKey]) -> str:
        counts: dict[str, int] = {}
        for k in keys:
            counts[self.groups.get(k, "default")] = counts.get(self.groups.get(k, "default"), 0) + 1
        return ", ".join(f"{g} {n}" for g, n in sorted(counts.items()))

    def summary(self) -> list[str]:
        """Lines for the console: counts per group, and each asset to run with its reason."""
        n = len(self.to_run) + len(self.up_to_date)
        lines = [
            f"incremental run: {len(self.to_run)} of {n} selected assets to run, "
            f"{len(self.up_to_date)} up to date (skipped)"
        ]
        if self.up_to_date:
            lines.append(f"  up to date: {self._by_group(self.up_to_date)}")
        if self.to_run:
            lines.append(f"  to run: {self._by_group(self.to_run)}")
            reasons: dict[str, list[str]] = {}
            for k, why in self.to_run.items():
                reasons.setdefault(why, []).append(k.to_user_string())
            for why, keys in sorted(reasons.items(), key=lambda kv: -len(kv[1])):
                shown = ", ".join(sorted(keys)[:6]) + (" ..." if len(keys) > 6 else "")
                lines.append(f"    {len(keys)} {why}: {shown}")
        return lines

    def selection_string(self) -> str:
        """The assets to run as a Dagster selection string."""
        return " or ".join(f'key:"{k.to_user_string()}"' for k in sorted(self.to_run, key=str))


def _warehouse_tables(db_path: Path) -> set[tuple[str, str]]:
    if not Path(db_path).is_file():
        return set()
    from learnrace_pipeline.lib.storage.warehouse import connect

    with connect(str(db_path), read_only=True) as con:
        return {
            (s, t)
            for s, t in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables()"
            ).fetchall()
        }


def plan_run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    *,
    db_path: Path,
    selection: Collection[dg.AssetKey] | None = None,
    force: bool = False,
) -> Plan:
    """Which of the ``selection`` (default: every asset) must be computed, and why; see the
    module docstring for the rules. Reads the instance's latest materializations, the
    warehouse's table list, the fit files and the sources' input files; runs nothing."""
    from learnrace_pipeline.lib.storage.refresh import refresh_mode

    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    versions = code_versions(assets, (defs.resources or {}).get("calibration"))
    warehouse = (defs.resources or {}).get("warehouse")
    calibration = (defs.resources or {}).get("calibration")
    fits = Path(calibration.work_dir) / "fits" / "assets" if calibration is not None else None
    step_of, specs, source_of = {}, {}, {}
    for a in assets:
        for spec in a.specs:
            step_of[spec.key], specs[spec.key] = a, spec
            if a.op.name.startswith("source_") and _step_module(a).endswith(".sources.assets"):
                source_of[spec.key] = a.op.name.removeprefix("source_")
    keys = sorted(specs, key=lambda k: k.to_user_string())
    selected = set(keys) if selection is None else set(selection) & set(keys)
    plan = Plan(groups={k: specs[k].group_name or "default" for k in keys})

    stale: dict[dg.AssetKey, str] = {}
    latest = {k: instance.get_latest_materialization_event(k) for k in keys}
    tables = _warehouse_tables(db_path)
    failed_steps: dict[str, set[str]] = {}
    refreshing = refresh_mode({}) != "off"
    expected = (  # a source table's data version, known before it runs
        {}
        if refreshing
        else {
            k: source_data_version(
                versions.get(k),
                warehouse.dataset_dir,
                source,
                warehouse.raw_dir,
                k.path[-1].removeprefix(f"{source}__"),
            )
            for k, source in source_of.items()
        }
    )
    for k in keys:
        entry = latest[k]
        tags = (entry.asset_materialization.tags or {}) if entry is not None else {}
        kinds = specs[k].kinds
        if force:
            stale[k] = "forced (--force)"
        elif entry is None:
            stale[k] = "never materialised"
        elif tags.get(CODE_VERSION_TAG) != versions.get(k):
            stale[k] = "code or settings changed"
        elif "duckdb" in kinds and len(k.path) == 2 and tuple(k.path) not in tables:
            stale[k] = "table missing from the warehouse"
        elif (
            "netcdf" in kinds
            and fits is not None
            and not fits.joinpath(*k.path).with_suffix(".nc").is_file()
        ):
            stale[k] = "fit file missing"
        elif k in source_of and refreshing:
            stale[k] = "sources in refresh mode"
        elif k in expected and tags.get(DATA_VERSION_TAG) != expected[k]:
            stale[k] = "input files changed"
        else:
            if entry.run_id not in failed_steps:
                records = instance.get_records_for_run(
                    entry.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
                ).records
                failed_steps[entry.run_id] = {r.event_log_entry.step_key for r in records}
            if entry.step_key in failed_steps[entry.run_id]:
                stale[k] = "its last step failed"

    def data_version(u: dg.AssetKey, run: set[dg.AssetKey]) -> str | None:
        if u in run and u in expected:
            return expected[u]
        if latest.get(u) is None:
            return None
        return (latest[u].asset_materialization.tags or {}).get(DATA_VERSION_TAG)

    def running() -> set[dg.AssetKey]:
        run = {k for k in stale if k in selected}
        for k in list(run):  # a step computes all of its assets
            run.update(step_of[k].keys)
        return run

    def upstream_reason(k: dg.AssetKey, run: set[dg.AssetKey]) -> str | None:
        if k in run:
            return "its step reruns"
        tags = latest[k].asset_materialization.tags or {}
        for dep in specs[k].deps:
            u = dep.asset_key
            if u in run and u not in expected:
                return "upstream reruns"
            recorded = tags.get(INPUT_VERSION_PREFIX + u.to_user_string())
            if recorded in NO_VERSION:
                recorded = None
            if recorded != data_version(u, run):
                return "upstream changed since"
        return None

    changed = True
    while changed:
        changed = False
        run = running()
        for k in keys:
            if k not in stale:
                why = upstream_reason(k, run)
                if why is not None:
                    stale[k], changed = why, True
    run = running()
    plan.to_run = {k: stale[k] for k in keys if k in run}
    plan.up_to_date = [k for k in keys if k in selected and k not in run]
    for k in plan.up_to_date:
        log.info("up to date, skipped: %s", k.to_user_string())
    return plan
