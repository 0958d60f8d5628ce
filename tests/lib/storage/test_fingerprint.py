"""Fingerprints of code (import closures in a package tree) and of a source's input files."""

from __future__ import annotations

import os
import shutil

import polars as pl
import pytest

from learnrace_pipeline.lib.storage import fingerprint as fp
from learnrace_pipeline.lib.storage import snapshot


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """A small package tree named like the project's: ``a`` imports ``b`` (relative) and the
    lazily-resolved name ``Thing`` of package ``lazy`` (defined in ``lazy/impl.py``); ``c``
    stands alone; ``lazy/other.py`` and ``vocab/words.csv`` lie beside what ``a`` uses."""
    root = tmp_path / "learnrace_pipeline"
    files = {
        "__init__.py": "",
        "a.py": "from .b import f\nfrom learnrace_pipeline.lazy import Thing\n",
        "b.py": "import learnrace_pipeline.vocab.names\n\ndef f():\n    return 1\n",
        "c.py": "X = 1\n",
        "lazy/__init__.py": "import importlib\n\ndef __getattr__(name):\n    return None\n",
        "lazy/impl.py": "class Thing:\n    pass\n",
        "lazy/other.py": "Y = 2\n",
        "vocab/__init__.py": "",
        "vocab/names.py": "N = 3\n",
        "vocab/words.csv": "word\nsolar\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    monkeypatch.setattr(fp, "_ROOT", root)
    for cached in (fp._module_file, fp._tree, fp._top_level_names, fp._direct_imports):
        cached.cache_clear()
    yield root
    for cached in (fp._module_file, fp._tree, fp._top_level_names, fp._direct_imports):
        cached.cache_clear()


def test_closure_follows_relative_absolute_and_lazy_imports(tree):
    closure = fp.module_closure(["learnrace_pipeline.a"])
    assert closure == {
        "learnrace_pipeline.a",
        "learnrace_pipeline.b",
        "learnrace_pipeline.lazy",
        "learnrace_pipeline.lazy.impl",
        "learnrace_pipeline.vocab",
        "learnrace_pipeline.vocab.names",
    }
    assert fp.module_closure(["learnrace_pipeline.c"]) == {"learnrace_pipeline.c"}


def _fresh(module: str) -> str:
    for cached in (fp._tree, fp._top_level_names, fp._direct_imports):
        cached.cache_clear()
    return fp.code_fingerprint([module])


def test_code_fingerprint_changes_with_the_closure_and_its_data_files_only(tree):
    a, c = _fresh("learnrace_pipeline.a"), _fresh("learnrace_pipeline.c")
    assert len(a) == 64 and a != c
    (tree / "vocab" / "names.py").write_text("N = 4\n")  # imported through b
    a2 = _fresh("learnrace_pipeline.a")
    assert a2 != a and _fresh("learnrace_pipeline.c") == c
    (tree / "vocab" / "words.csv").write_text("word\nwind\n")  # data beside names.py
    a3 = _fresh("learnrace_pipeline.a")
    assert a3 != a2
    (tree / "lazy" / "impl.py").write_text("class Thing:\n    x = 1\n")
    a4 = _fresh("learnrace_pipeline.a")
    assert a4 != a3
    (tree / "c.py").write_text("X = 2\n")  # not imported by a
    assert _fresh("learnrace_pipeline.a") == a4 and _fresh("learnrace_pipeline.c") != c


def test_the_project_closure_of_a_fit_module_resolves_lazy_names_and_leaves_readers_out():
    closure = fp.module_closure(["learnrace_pipeline.defs.calibration.learning"])
    assert "learnrace_pipeline.lib.models.learning.fit" in closure  # lazily resolved name
    assert "learnrace_pipeline.defs.wiring" in closure
    assert not any(m.startswith("learnrace_pipeline.lib.sources.epoch_ai") for m in closure)
    assert not any(m.startswith("learnrace_pipeline.lib.evaluation") for m in closure)


def test_source_fingerprint_follows_its_own_files(tmp_path):
    ds = tmp_path / "datasets"
    for s in ("epoch_ai", "owid_ifr_robots"):
        shutil.copytree(snapshot.DEFAULT_DATASETS / s, ds / s)
    epoch, owid = (
        fp.source_fingerprint(ds, "epoch_ai"),
        fp.source_fingerprint(ds, "owid_ifr_robots"),
    )
    assert epoch == fp.source_fingerprint(snapshot.DEFAULT_DATASETS, "epoch_ai")
    notes = fp.source_fingerprint(ds, "owid_ifr_robots", table="data_notes")
    production = fp.source_fingerprint(ds, "owid_ifr_robots", table="production")
    assert len({owid, notes, production}) == 3
    csv = ds / "owid_ifr_robots" / "production.csv"
    csv.write_bytes(csv.read_bytes() + b"\n")
    assert fp.source_fingerprint(ds, "owid_ifr_robots") != owid
    assert fp.source_fingerprint(ds, "owid_ifr_robots", table="production") != production
    assert fp.source_fingerprint(ds, "owid_ifr_robots", table="data_notes") == notes
    assert fp.source_fingerprint(ds, "epoch_ai") == epoch


def test_source_data_version_follows_code_and_files():
    ds = snapshot.DEFAULT_DATASETS
    v = fp.source_data_version("abc", ds, "epoch_ai", table="ai_models")
    assert v == fp.source_data_version("abc", ds, "epoch_ai", table="ai_models")
    assert v != fp.source_data_version("abd", ds, "epoch_ai", table="ai_models")
    assert v != fp.source_data_version("abc", ds, "epoch_ai", table="data_notes")


def test_raw_fingerprint_follows_file_stats_of_the_source_folder(tmp_path):
    raw = tmp_path / "raw"
    (raw / "epoch_ai").mkdir(parents=True)
    (raw / "chip_dataset").mkdir()
    f = raw / "epoch_ai" / "models.csv"
    f.write_text("a\n1\n")
    before = fp.source_fingerprint("unused", "epoch_ai", raw)
    assert before != fp.source_fingerprint(tmp_path / "datasets", "epoch_ai")
    (raw / "chip_dataset" / "x.csv").write_text("b\n")
    assert fp.source_fingerprint("unused", "epoch_ai", raw) == before
    os.utime(f, ns=(10**18, 10**18))
    assert fp.source_fingerprint("unused", "epoch_ai", raw) != before


def test_tables_and_config_fingerprints():
    t = {"x": pl.DataFrame({"a": [1, 2]}), "y": pl.DataFrame({"b": ["u"]})}
    assert fp.tables_fingerprint(t) == fp.tables_fingerprint(dict(reversed(t.items())))
    assert fp.tables_fingerprint(t) != fp.tables_fingerprint(
        {**t, "x": pl.DataFrame({"a": [1, 3]})}
    )
    assert fp.config_fingerprint({"draws": 2, "tune": 1}) == fp.config_fingerprint(
        {"tune": 1, "draws": 2}
    )
    assert fp.config_fingerprint({"draws": 2}) != fp.config_fingerprint({"draws": 3})
