"""Content fingerprints that decide whether an asset must be computed again.

- :func:`code_fingerprint`: sha256 over the source text of a set of modules of the package and
  of every package module they import, directly or not (import statements read from the syntax
  tree, never executed), plus the data files (``.csv``, ``.yaml``, ``.json``, ``.toml``,
  ``.txt``) lying beside any of those modules. A change to any of them changes the fingerprint;
  a change elsewhere does not. A name imported from a package that resolves it lazily (PEP 562)
  counts the package module defining it. Modules imported by a name computed at run time (the
  source readers, through ``lib.sources.reader``) are not seen: callers name them.
- :func:`source_fingerprint`: sha256 over one source's input files: the snapshot CSVs and their
  sidecars in ``datasets/<source>/`` (read in full: 2.7 MB for the whole snapshot; one table's
  pair when a table is named), or, with a raw folder, the path, size and modification time (ns)
  of every file under ``<raw>/<source>``.
- :func:`source_data_version`: a source table's data version, from its step's code version and
  its files' fingerprint.
- :func:`tables_fingerprint`: sha256 over tables' contents (as loaded, in refresh mode).
- :func:`config_fingerprint`: sha256 of a JSON-serialisable mapping (keys sorted).

Fingerprints are 64 hex characters.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import pkgutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl

PACKAGE = "learnrace_pipeline"

#: Suffixes of the data files that count as code when they lie beside a module.
DATA_SUFFIXES = frozenset({".csv", ".yaml", ".yml", ".json", ".toml", ".txt"})


_ROOT = Path(__file__).resolve().parents[2]


@functools.cache
def _module_file(module: str) -> Path | None:
    """The file of a package module (``pkg/__init__.py`` for a package), found without
    importing anything."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = _ROOT.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


@functools.cache
def _tree(module: str) -> ast.Module:
    path = _module_file(module)
    return ast.parse(path.read_bytes(), filename=str(path))


@functools.cache
def _top_level_names(module: str) -> frozenset[str]:
    names = set()
    for node in _tree(module).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def _lazy_definers(package: str, name: str) -> set[str]:
    """Modules of ``package`` defining ``name`` when its ``__init__`` does not (a package that
    resolves its names lazily, PEP 562)."""
    path = _module_file(package)
    if path is None or path.name != "__init__.py" or name in _top_level_names(package):
        return set()
    found = set()
    for info in pkgutil.iter_modules([str(path.parent)]):
        sub = f"{package}.{info.name}"
        if _module_file(sub) is not None and name in _top_level_names(sub):
            found.add(sub)
    return found


@functools.cache
def _direct_imports(module: str) -> frozenset[str]:
    """Package modules named by ``module``'s import statements (anywhere in the file), the
    packages holding them (their ``__init__`` runs on import) and, for a name a package
    resolves lazily, the module defining it."""
    if _module_file(module) is None:
        return frozenset()
    is_package = _module_file(module).name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node, is_package)
            names.add(base)
            for alias in node.names:
                names.add(f"{base}.{alias.name}")
                if _module_file(f"{base}.{alias.name}") is None:
                    names.update(_lazy_definers(base, alias.name))
    found = set()
    for name in names:
        parts = name.split(".")
        for i in range(2, len(parts) + 1):
            candidate = ".".join(parts[:i])
            if _module_file(candidate) is not None:
                found.add(candidate)
    return frozenset(found)


def module_closure(modules: Iterable[str]) -> frozenset[str]:
    """``modules`` and every package module they import, directly or through others."""
    seen: set[str] = set()
    todo = [m for m in modules if _module_file(m) is not None]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        todo.extend(_direct_imports(m) - seen)
    return frozenset(seen)


def _sha_file(h, path: Path, label: str) -> None:
    h.update(label.encode() + b"\0")
    h.update(hashlib.sha256(path.read_bytes()).digest())


def code_fingerprint(modules: Iterable[str]) -> str:
    """sha256 over the source of ``modules``' import closure within the package and the data
    files beside those modules (see the module docstring)."""
    closure = module_closure(modules)
    files: dict[str, Path] = {}
    for m in closure:
        path = _module_file(m)
        files[m] = path
        for sibling in path.parent.iterdir():
            if sibling.suffix in DATA_SUFFIXES and sibling.is_file():
                files[f"{path.parent.name}/{sibling.name}"] = sibling
    h = hashlib.sha256()
    for label in sorted(files):
        _sha_file(h, files[label], label)
    return h.hexdigest()


def source_fingerprint(
    dataset_dir: Path | str, source: str, raw_dir: Path | str = "", table: str | None = None
) -> str:
    """sha256 over one source's input files (snapshot contents, or raw files' stats); with
    ``table``, in snapshot mode, over that table's CSV and sidecar only (each table loads from
    its own files; raw files feed every table of their source)."""
    h = hashlib.sha256()
    if raw_dir:
        folder = Path(raw_dir) / source
        h.update(b"raw\0")
        if folder.is_dir():
            for p in sorted(folder.rglob("*")):
                if p.is_file():
                    st = p.stat()
                    h.update(f"{p.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
    folder = Path(dataset_dir) / source
    h.update(b"snapshot\0")
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.is_file() and (table is None or p.name in (f"{table}.csv", f"{table}.meta.json")):
                _sha_file(h, p, p.name)
    return h.hexdigest()


def source_data_version(
    code_version: str | None,
    dataset_dir: Path | str,
    source: str,
    raw_dir: Path | str = "",
    table: str | None = None,
) -> str:
    """A source table's data version: sha256 over its step's code version and
    :func:`source_fingerprint` of its files (new code or new files, new data)."""
    files = source_fingerprint(dataset_dir, source, raw_dir, table)
    return config_fingerprint({"code": code_version or "", "files": files})


def tables_fingerprint(tables: Mapping[str, pl.DataFrame]) -> str:
    """sha256 over tables' contents (name, then the table as CSV), tables in name order."""
    h = hashlib.sha256()
    for name in sorted(tables):
        h.update(name.encode() + b"\0")
        h.update(hashlib.sha256(tables[name].write_csv().encode()).digest())
    return h.hexdigest()


def config_fingerprint(config: Mapping) -> str:
    """sha256 of ``config`` as canonical JSON (keys sorted, no spaces)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()
