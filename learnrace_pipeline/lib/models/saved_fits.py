"""Scaling-law fits (AV capability, AI compute frontier) saved and reused by id.

The Dagster assets and the ``learnrace frontier`` / ``learnrace av`` commands share these, so a
posterior fitted by ``make run`` is what the commands answer from, and a command run on a fresh
machine fits once (from the warehouse, or the shipped snapshot) and reuses the result after.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import xarray as xr

from learnrace_pipeline.lib.models import av, av_data, base, frontier, frontier_data
from learnrace_pipeline.lib.models.cache import fit_or_load

AV_FORMS = ("power", "saturating")


def _input_version(df: pl.DataFrame, *modules) -> str:
    """The table's data version plus the code version of the modules that prepare it (the
    model id only covers the model module itself)."""
    import hashlib

    text = _frame_version(df) + "".join(base.code_version(m.__file__) for m in modules)
    return hashlib.sha256(text.encode()).hexdigest()


def _frame_version(df: pl.DataFrame) -> str:
    """data_version of a table, list columns joined to text (CSV hashing has no nested data)."""
    flat = df.with_columns(
        [pl.col(c).list.join("|") for c, t in df.schema.items() if isinstance(t, pl.List)]
    )
    return base.data_version(flat.sort(flat.columns))


def frontier_fit(
    ai_models: pl.DataFrame,
    fits_dir: Path,
    config: frontier_data.FrontierConfig | None = None,
    sampler: base.SamplerConfig | None = None,
) -> tuple[xr.DataTree, bool]:
    """(posterior, reused) of the compute-frontier model on an ``ai_models`` table (only the
    models published before ``config.end`` when it is set: a hindcast origin's fit is saved
    under its own data version)."""
    config = config or frontier_data.FrontierConfig()
    sampler = sampler or frontier.FRONTIER_SAMPLER
    mid = base.model_id(frontier.MODEL_TYPE, config, sampler, base.code_version(frontier.__file__))
    name = "ai_frontier" if config.end is None else f"ai_frontier_to_{config.end}"
    return fit_or_load(
        fits_dir,
        name,
        mid,
        _input_version(ai_models, frontier_data),
        lambda: frontier.fit_frontier(ai_models, config, sampler),
    )


def av_fit(
    av_testing: pl.DataFrame,
    fits_dir: Path,
    form: str = "power",
    sampler: base.SamplerConfig | None = None,
) -> tuple[xr.DataTree, bool]:
    """(posterior, reused) of the AV capability model of one ``form`` on an ``av_testing`` table."""
    config = av.AvConfig(form=form)
    sampler = sampler or av.AV_SAMPLER
    mid = base.model_id(av.MODEL_TYPE, config, sampler, base.code_version(av.__file__))
    return fit_or_load(
        fits_dir,
        f"av_{form}",
        mid,
        _input_version(av_testing, av_data),
        lambda: av.fit_av(av_testing, config, sampler),
    )
