"""The shipped snapshot equals what the readers derive from the raw files today."""

from __future__ import annotations

import pytest

from learnrace_pipeline.lib.sources import SOURCES, reader
from learnrace_pipeline.lib.storage import snapshot


@pytest.mark.raw
@pytest.mark.parametrize("source", SOURCES)
def test_snapshot_rebuild_equals_committed(source, raw_dir, tmp_path):
    tables = reader(source).read(raw_dir)
    snapshot.write_source(tmp_path, source, tables)
    committed = snapshot.metadata(snapshot.DEFAULT_DATASETS, source)
    rebuilt = snapshot.metadata(tmp_path, source)
    assert sorted(rebuilt) == sorted(committed)
    for table in committed:
        # Byte-identical CSVs: same sha256 as the committed sidecar.
        assert rebuilt[table]["sha256"] == committed[table]["sha256"], (
            f"{source}/{table} differs: run `make datasets`"
        )
        assert rebuilt[table]["rows"] == committed[table]["rows"]
    # And the committed files load back to exactly the reader's frames.
    loaded = snapshot.load(snapshot.DEFAULT_DATASETS, source)
    for table, df in tables.items():
        cols = loaded[table].columns
        assert loaded[table].sort(cols).equals(df.select(cols).sort(cols)), f"{source}/{table}"
