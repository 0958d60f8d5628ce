"""Code versions of the real definitions (what decides which assets a run recomputes)."""

from __future__ import annotations

import dagster as dg
import pytest

from learnrace_pipeline.definitions import defs
from learnrace_pipeline.defs.resources import CalibrationSettings
from learnrace_pipeline.incremental import code_versions, step_modules
from learnrace_pipeline.lib.sources import SOURCES
from learnrace_pipeline.lib.storage.fingerprint import module_closure


@pytest.fixture(scope="module")
def definitions() -> dg.Definitions:
    return defs()


def _assets(definitions: dg.Definitions) -> list[dg.AssetsDefinition]:
    return [a for a in definitions.assets if isinstance(a, dg.AssetsDefinition)]


def test_every_asset_has_one_code_version_per_step_and_each_source_its_own(definitions):
    graph = definitions.resolve_asset_graph()
    versions = {k: graph.get(k).code_version for k in graph.get_all_asset_keys()}
    assert all(v is not None and len(v) == 16 for v in versions.values())
    for a in _assets(definitions):
        assert len({versions[k] for k in a.keys}) == 1, a.op.name
    sources = {
        a.op.name.removeprefix("source_"): a
        for a in _assets(definitions)
        if a.op.name.startswith("source_")
    }
    assert sorted(sources) == sorted(SOURCES)
    for source, a in sources.items():  # each step counts its reader (loaded by name)
        closure = module_closure(step_modules(a))
        assert f"learnrace_pipeline.lib.sources.{source}" in closure, source
    assert len({versions[next(iter(a.keys))] for a in sources.values()}) > 1


def test_sampler_settings_change_the_fits_versions_only(definitions):
    assets = _assets(definitions)
    base = code_versions(assets, CalibrationSettings(work_dir="/a"))
    assert code_versions(assets, CalibrationSettings(work_dir="/elsewhere")) == base
    fewer = code_versions(assets, CalibrationSettings(work_dir="/a", draws=500))
    changed = {k for k in base if fewer[k] != base[k]}
    assert dg.AssetKey(["calibration", "wright_fit"]) in changed
    assert changed and not any(k.path[0] in ("raw", "harmonized") for k in changed)
