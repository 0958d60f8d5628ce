"""The race hindcast's data cut and per-origin fits: what each model may see at an origin.

:func:`cut_tables` keeps the rows of every tidy table dated in or before the origin year O:
``year``/``report_year`` <= O; ``publication_date`` (``ai_models``) and ``release_date``
(``chip_products``) <= O-12-31. Each fitter of :func:`make_fitters` takes the cut tables, the
origin and a sampler and returns an :class:`OriginFit`:

- ``deployment``: both deployment-growth forms (:func:`~learnrace_pipeline.lib.models.deployment.
  fit_deployment`) on the panel of the industries whose panel the cut can build
  (:func:`origin_panel`);
- ``frontier``: the AI frontier model with ``end = (O+1)-01-01`` (its data end T_end is O-12-31);
- ``av``: the AV capability model (default form) on the reporting years up to O;
- ``node``: the node-frontier model with ``end = (O+1)-01-01``.

A model whose data cannot be prepared at the origin (too few records or companies, a nation
without rows) returns no fit and the reason. With ``fits_dir`` every fit is saved by model id and
the data version of its cut (:func:`learnrace_pipeline.lib.models.cache.fit_or_load`) and reused
while both hold, so a rerun on unchanged data samples nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt_
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import xarray as xr

from learnrace_pipeline.lib.errors import DataError, ModelError
from learnrace_pipeline.lib.models import deployment as dep
from learnrace_pipeline.lib.models import node_frontier as nf
from learnrace_pipeline.lib.models import saved_fits
from learnrace_pipeline.lib.models.av import AV_SAMPLER, AvConfig, fit_av
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.deployment_data import DeploymentData
from learnrace_pipeline.lib.models.deployment_data import build_deployment_data as build_panel
from learnrace_pipeline.lib.models.frontier import FRONTIER_SAMPLER, fit_frontier
from learnrace_pipeline.lib.models.frontier_data import FrontierConfig
from learnrace_pipeline.lib.models.node_frontier_data import NodeConfig
from learnrace_pipeline.lib.race import spec as race_spec

#: Tables cut at an origin, with the column that dates each row.
TIME_COLUMNS = {t: c for t, c in race_spec.TIME_COLUMNS.items() if c is not None}

#: Each model's own sampler (its seed and target_accept); the hindcast shortens it.
MODEL_SAMPLERS = {
    "deployment": dep.DEPLOYMENT_SAMPLER,
    "frontier": FRONTIER_SAMPLER,
    "av": AV_SAMPLER,
    "node": nf.NODE_SAMPLER,
}


def cut_tables(tables: Mapping[str, pl.DataFrame], origin: int) -> dict[str, pl.DataFrame]:
    """The rows of every table dated in or before year ``origin`` (module doc); a table without
    a time column (``technologies``) is kept whole; rows with no date are dropped."""
    last = dt_.date(int(origin), 12, 31)
    out = {}
    for name, df in tables.items():
        col = TIME_COLUMNS.get(name)
        if col is None:
            out[name] = df
            continue
        if col not in df.columns:
            raise DataError(
                f"table has no time column {col!r} to cut at {origin}", source=name, column=col
            )
        bound = last if df.schema[col] in (pl.Date, pl.Datetime) else int(origin)
        out[name] = df.filter(pl.col(col) <= bound)
    return out


@dataclass(frozen=True)
class OriginFit:
    """What a fitter returns: the fit (None: nothing to forecast at this origin), a note (why
    not, or what was left out) and the prepared data when the projection needs it (the
    deployment panel)."""

    fit: xr.DataTree | None
    note: str = ""
    data: DeploymentData | None = None


Fitter = Callable[[Mapping[str, pl.DataFrame], int, SamplerConfig], OriginFit]


@dataclass(frozen=True)
class Fitters:
    """The fitter of each model (:func:`make_fitters`; tests substitute their own)."""

    deployment: Fitter
    frontier: Fitter
    av: Fitter
    node: Fitter


def origin_spec(
    spec: race_spec.RaceSpec, tables: Mapping[str, pl.DataFrame]
) -> tuple[race_spec.RaceSpec, list[str]]:
    """(spec, notes): ``spec`` with only the industries whose deployment panel ``tables`` can
    build (at an early origin an industry may lack a nation's rows), and a note per industry left
    out."""
    ok, notes = [], []
    for ind in spec.industries:
        try:
            build_panel(dataclasses.replace(spec, industries=(ind,)), tables)
        except DataError as e:
            notes.append(f"{ind.id}: {e}")
            continue
        ok.append(ind)
    return dataclasses.replace(spec, industries=tuple(ok)), notes


def origin_panel(
    spec: race_spec.RaceSpec, tables: Mapping[str, pl.DataFrame]
) -> tuple[DeploymentData, list[str]]:
    """(panel, notes): the deployment panel of :func:`origin_spec`'s industries."""
    kept, notes = origin_spec(spec, tables)
    return build_panel(kept, tables), notes


def make_fitters(fits_dir: Path | None = None, spec: race_spec.RaceSpec | None = None) -> Fitters:
    """The four per-origin fitters (module doc) for the race file ``spec`` (default: the shipped
    one); with ``fits_dir``, fits saved and reused."""
    race = spec or race_spec.load_spec()

    def deployment(tables, origin, sampler):
        spec, notes = origin_spec(race, tables)
        data = build_panel(spec, tables)
        if not data.industries:
            return OriginFit(None, "; ".join(["no industry has enough years", *notes]))
        if fits_dir is None:
            fit = dep.fit_deployment(data, sampler=sampler)
        else:
            fit = dep.deployment_fit(tables, fits_dir, spec, sampler=sampler)[0]
        return OriginFit(fit, "; ".join(notes), data=data)

    def frontier(tables, origin, sampler):
        cfg = FrontierConfig(end=f"{origin + 1}-01-01")
        ai = tables["ai_models"]
        try:
            if fits_dir is None:
                return OriginFit(fit_frontier(ai, cfg, sampler))
            return OriginFit(saved_fits.frontier_fit(ai, fits_dir, cfg, sampler)[0])
        except (ModelError, DataError) as e:
            return OriginFit(None, f"frontier: {e}")

    def av(tables, origin, sampler):
        cfg = AvConfig()
        table = tables["av_testing"]
        try:
            if fits_dir is None:
                return OriginFit(fit_av(table, cfg, sampler))
            return OriginFit(saved_fits.av_fit(table, fits_dir, cfg.form, sampler)[0])
        except (ModelError, DataError) as e:
            return OriginFit(None, f"av: {e}")

    def node(tables, origin, sampler):
        cfg = NodeConfig(end=f"{origin + 1}-01-01")
        chips = tables["chip_products"]
        try:
            if fits_dir is None:
                return OriginFit(nf.fit_node_frontier(chips, cfg, sampler))
            return OriginFit(nf.node_frontier_fit(chips, fits_dir, cfg, sampler)[0])
        except (ModelError, DataError) as e:
            return OriginFit(None, f"node frontier: {e}")

    return Fitters(deployment=deployment, frontier=frontier, av=av, node=node)
