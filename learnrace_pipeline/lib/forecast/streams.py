"""One random stream per series, so that a series' forecast does not depend on the block of
series it is simulated with.

The forecaster's updates (:mod:`.normal`, :mod:`.student_t`, :mod:`.experience_time`) and
:func:`.production.project` draw random numbers for a whole block of series at once, as
``(n_series_block, n_samples)`` arrays from one ``numpy.random.Generator``. Given a
:class:`SeriesStreams` instead, every row of such an array is drawn from that series' own
stream, so the samples of a series are the same whatever other series share its block, however
large the block is and in whatever order the series come.

Each series has three independent streams (PCG64, seeded by ``numpy.random.SeedSequence`` with
entropy ``seed`` and a spawn key from the BLAKE2b hash of the series id and the stream's
purpose):

- ``posterior``: the draws of the series' parameters (cells of the posterior grid, jitter,
  population draws);
- ``noise``: the future innovations, one ``n_samples`` vector per year ahead (a series whose
  block reaches further ahead draws more years, after the ones it uses);
- ``production``: the projected production paths (:func:`.production.project`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

#: the purposes of a series' streams, in spawn-key order
PURPOSES = ("posterior", "noise", "production")


def series_key(series_id: str) -> tuple[int, int]:
    """Two 32-bit words of the BLAKE2b hash of ``series_id`` (stable across runs and
    platforms, unlike Python's ``hash``)."""
    digest = hashlib.blake2b(series_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest[:4], "little"), int.from_bytes(digest[4:], "little")


def series_generator(seed: int, series_id: str, purpose: str) -> np.random.Generator:
    """The ``purpose`` stream (one of :data:`PURPOSES`) of ``series_id`` under ``seed``."""
    key = (*series_key(series_id), PURPOSES.index(purpose))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


class SeriesStreams:
    """The random streams of a block of series; draws ``(n, ...)`` arrays row by row, row ``j``
    from series ``j``'s stream of the current purpose (the methods used by the forecaster:
    ``random``, ``standard_normal``, ``integers``, ``standard_t``)."""

    def __init__(self, streams: dict[str, list[np.random.Generator]], purpose: str) -> None:
        self._streams = streams
        self._purpose = purpose
        self._gens = streams[purpose]

    @classmethod
    def for_series(cls, seed: int, series_ids: Sequence[str]) -> SeriesStreams:
        """The ``posterior`` streams (and the others, by :meth:`noise`/:meth:`production`) of
        ``series_ids`` under ``seed``."""
        streams = {p: [series_generator(seed, s, p) for s in series_ids] for p in PURPOSES}
        return cls(streams, "posterior")

    def __len__(self) -> int:
        return len(self._gens)

    def __getitem__(self, rows: slice) -> SeriesStreams:
        """The streams of a slice of the block's series."""
        return SeriesStreams({p: g[rows] for p, g in self._streams.items()}, self._purpose)

    def noise(self) -> SeriesStreams:
        """The same series' ``noise`` streams."""
        return SeriesStreams(self._streams, "noise")

    def production(self, row: int) -> np.random.Generator:
        """Series ``row``'s ``production`` stream."""
        return self._streams["production"][row]

    def _check(self, size: tuple[int, ...]) -> tuple[int, ...]:
        if size[0] != len(self._gens):
            raise ValueError(f"draws for {size[0]} rows from the streams of {len(self)} series")
        return tuple(size[1:])

    def random(self, size: tuple[int, ...]) -> np.ndarray:
        """Uniform [0, 1) draws of shape ``size`` (``size[0]`` = series)."""
        out = np.empty(size)
        self._check(size)
        for j, g in enumerate(self._gens):
            g.random(out=out[j])
        return out

    def standard_normal(self, size: tuple[int, ...]) -> np.ndarray:
        """Standard normal draws of shape ``size`` (``size[0]`` = series)."""
        out = np.empty(size)
        self._check(size)
        for j, g in enumerate(self._gens):
            g.standard_normal(out=out[j])
        return out

    def integers(self, low: int, high: int, size: tuple[int, ...]) -> np.ndarray:
        """Integers in ``[low, high)`` of shape ``size`` (``size[0]`` = series)."""
        rest = self._check(size)
        out = np.empty(size, dtype=np.int64)
        for j, g in enumerate(self._gens):
            out[j] = g.integers(low, high, size=rest)
        return out

    def standard_t(self, df: np.ndarray) -> np.ndarray:
        """Student-t draws with degrees of freedom ``df`` (``(n, ...)``, per element)."""
        df = np.asarray(df, dtype=float)
        self._check(df.shape)
        out = np.empty(df.shape)
        for j, g in enumerate(self._gens):
            out[j] = g.standard_t(df[j])
        return out


def noise_streams(rng: np.random.Generator | SeriesStreams) -> np.random.Generator | SeriesStreams:
    """The generator of future innovations: ``rng`` itself, or the series' noise streams."""
    return rng.noise() if isinstance(rng, SeriesStreams) else rng


def rows_of(
    rng: np.random.Generator | SeriesStreams, rows: slice
) -> np.random.Generator | SeriesStreams:
    """The generator for a slice of a block's series: ``rng`` itself, or those series'
    streams."""
    return rng[rows] if isinstance(rng, SeriesStreams) else rng


def production_stream(rng: np.random.Generator | SeriesStreams, row: int) -> np.random.Generator:
    """The generator of series ``row``'s projected production: ``rng`` itself, or its
    production stream."""
    return rng.production(row) if isinstance(rng, SeriesStreams) else rng
