"""A one-line progress display for long commands, on a terminal only.

``Progress`` shows ``<what>  <done>/<total> <unit>  <elapsed>  <name>`` on standard error, rewritten in
place with a carriage return, when standard error is a terminal (``TERM`` not ``dumb``); in a
pipe, a file or a log it writes nothing, so piped and logged output is as without it.
``LEARNRACE_PROGRESS=1`` or ``0`` forces it on or off.

While a display is open, other writes to ``sys.stderr`` (log lines, warnings, rich consoles
writing to standard error) go through :class:`_Above`: the progress line is cleared first and
drawn again below the new text once it ends a line, so the line never mixes with other output.
Standard output is never touched.

Usage::

    with Progress("forecast", total=n_series, unit="series") as p:
        for block in blocks:
            ...
            p.advance(len(block))
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

ENV = "LEARNRACE_PROGRESS"
CLEAR = "\r\x1b[K"


def progress_enabled(stream: TextIO | None = None) -> bool:
    """Whether a display belongs on ``stream`` (default standard error): ``$LEARNRACE_PROGRESS``
    when set to 0/1, else whether the stream is a terminal that is not ``TERM=dumb``."""
    forced = os.environ.get(ENV, "").strip()
    if forced in ("0", "1"):
        return forced == "1"
    stream = sys.stderr if stream is None else stream
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced stream
        return False
    return tty and os.environ.get("TERM", "") != "dumb"


def elapsed_text(seconds: float) -> str:
    """``12s``, ``3m05s`` or ``1h02m03s``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m{s % 60:02d}s"


class Progress:
    """Progress of ``what`` (``done`` of ``total`` ``unit``), drawn on ``stream`` (default
    standard error) when :func:`progress_enabled`; a no-op otherwise. Thread-safe: a watcher
    thread may call :meth:`update` while the main thread works. Redraws at most every
    ``min_interval`` seconds, except the last step."""

    def __init__(
        self,
        what: str,
        total: int | None = None,
        *,
        unit: str = "",
        stream: TextIO | None = None,
        enabled: bool | None = None,
        min_interval: float = 0.1,
    ) -> None:
        self.what, self.total, self.unit = what, total, unit
        self.done, self.name = 0, ""
        self._real: TextIO = sys.stderr if stream is None else stream
        self.enabled = progress_enabled(self._real) if enabled is None else enabled
        self.min_interval = min_interval
        self.start = time.monotonic()
        self._lock = threading.RLock()
        self._shown = False  # our line is on the screen
        self._line_start = True  # the cursor is at the start of a line
        self._last_draw = 0.0
        self._swapped: TextIO | None = None

    # --- context -------------------------------------------------------------------------
    def __enter__(self) -> Progress:
        self.start = time.monotonic()
        if self.enabled and self._real is sys.stderr:
            self._swapped = sys.stderr
            sys.stderr = _Above(self, self._real)  # type: ignore[assignment]
        self._draw(force=True)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self._clear()
            if self._swapped is not None:
                sys.stderr = self._swapped
                self._swapped = None
            self.enabled = False

    # --- state ---------------------------------------------------------------------------
    def update(self, done: int | None = None, name: str | None = None,
               total: int | None = None) -> None:  # fmt: skip
        """Set the count done (and the item's name, the total) and redraw."""
        with self._lock:
            if done is not None:
                self.done = done
            if name is not None:
                self.name = name
            if total is not None:
                self.total = total
            self._draw(force=self.total is not None and self.done >= self.total)

    def advance(self, n: int = 1, name: str | None = None) -> None:
        """``n`` more done."""
        with self._lock:
            self.update(self.done + n, name)

    def line(self) -> str:
        """The text of the display (without control characters)."""
        count = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
        parts = [self.what, count + (f" {self.unit}" if self.unit else "")]
        parts.append(elapsed_text(time.monotonic() - self.start))
        if self.name:
            parts.append(self.name)
        return "  ".join(parts)

    # --- drawing -------------------------------------------------------------------------
    def _width(self) -> int:
        try:
            return os.get_terminal_size(self._real.fileno()).columns or 80
        except (AttributeError, OSError, ValueError):
            return 80

    def _draw(self, force: bool = False) -> None:
        with self._lock:
            if not self.enabled or not self._line_start:
                return
            now = time.monotonic()
            if not force and now - self._last_draw < self.min_interval:
                return
            text = self.line()[: max(self._width() - 1, 10)]
            self._real.write(CLEAR + text)
            self._real.flush()
            self._shown, self._last_draw = True, now

    def _clear(self) -> None:
        if self._shown:
            self._real.write(CLEAR)
            self._real.flush()
            self._shown = False


class _Above:
    """``sys.stderr`` while a display is open: text written here appears above the line."""

    def __init__(self, progress: Progress, real: TextIO) -> None:
        self._progress, self._real = progress, real

    def write(self, text: str) -> int:
        p = self._progress
        with p._lock:
            if text:
                p._clear()
            n = self._real.write(text)
            if text:
                p._line_start = text.endswith("\n")
                if p._line_start:
                    self._real.flush()
                    p._draw(force=True)
            return n

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str):
        return getattr(self._real, name)
