"""PNG bytes -> files and markdown images for asset metadata."""

from __future__ import annotations

import base64
from pathlib import Path


def save_png(png: bytes, folder: Path, name: str) -> Path:
    """Write ``png`` to ``folder/name.png`` and return the path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    path.write_bytes(png)
    return path


def markdown_image(png: bytes, alt: str) -> str:
    """A markdown image with the PNG inlined as a data URI (shown by the Dagster UI)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"
