"""What every benchmark shares: where results go (``bench/results/``, gitignored) and how."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def save_json(name: str, out: Any) -> Path:
    """Write ``out`` as indented JSON to ``bench/results/<name>`` (values JSON cannot hold are
    written as strings); returns the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8")
    return path
