"""The partitioned hindcast: on a 2-worker Dask LocalCluster and in-process it gives exactly
the frames of ``run_hindcast``; a failing partition names itself and its origin and leaves no
file behind; partition folders are written whole or not at all."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import cloudpickle
import numpy as np
import polars as pl
import pytest

from learnrace_pipeline.lib.distributed import hindcast as dh
from learnrace_pipeline.lib.distributed.engine import (
    Engine,
    EngineError,
    dask_client,
    engine_from_env,
    parse_engine,
)
from learnrace_pipeline.lib.errors import ModelError
from learnrace_pipeline.lib.evaluation import hindcast as hc
from learnrace_pipeline.lib.forecast.priors import PopulationPrior
from learnrace_pipeline.lib.forecast.types import ForecastConfig
from learnrace_pipeline.lib.models.base import SamplerConfig
from learnrace_pipeline.lib.models.learning.panel import build_panel
from learnrace_pipeline.lib.models.learning.simulate import synthetic_frames

# the fitter doubles below travel to the workers by value (the test module is not importable
# there)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SAMPLER = SamplerConfig(draws=200, tune=200, chains=2, seed=11, target_accept=0.9)
#: Wright refitted at every origin, experience+time at every 2nd: partitions of 2 origins.
CONFIG = hc.HindcastConfig(
    min_train_points=8, origin_step=2, max_horizon=5, min_fit_series=3,
    forecast=ForecastConfig(n_samples=300, max_prior_draws=100, seed=5),
    sampler=SAMPLER, experience_time=True, experience_time_sampler=SAMPLER,
    refit=1, experience_time_refit=2,
)  # fmt: skip


def timing_free(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in frame.columns if c.endswith("seconds")])


@pytest.fixture(scope="module")
def panel():
    """10 series in 2 industries drawn from known exponents (w_all 0.35), 14-22 years each."""
    frames, _ = synthetic_frames(n_industries=2, series_per_industry=5, n_points=(14, 22), seed=3)
    return build_panel(frames["cost_observations"], frames["production"], frames["technologies"])


@pytest.fixture(scope="module")
def client():
    with dask_client(Engine("local", workers=2)) as c:
        yield c


@pytest.fixture(scope="module")
def reference(panel):
    """The in-process run (``run_hindcast``) and its compiled fitters."""
    fitters = hc.origin_fitters(panel, CONFIG)
    frames = hc.run_hindcast(panel, CONFIG, fitter=fitters[0], experience_time_fitter=fitters[1])
    return frames, fitters


def test_partitions_follow_the_refit_period(panel) -> None:
    used = hc.used_origins(panel, CONFIG)
    parts = dh.plan_partitions(panel, CONFIG)
    assert dh.refit_period(CONFIG) == 2
    assert [o for p in parts for o in p.origins] == used
    assert [len(p.origins) for p in parts[:-1]] == [2] * (len(parts) - 1)
    assert len(parts) >= 3
    six = dataclasses.replace(CONFIG, refit=2, experience_time_refit=3)
    assert dh.refit_period(six) == 6
    assert dh.refit_period(dataclasses.replace(six, experience_time=False)) == 2


@pytest.mark.slow
def test_dask_and_in_process_partitions_equal_run_hindcast(
    panel, reference, client, tmp_path
) -> None:
    ref, fitters = reference
    seen: list[str] = []
    on_dask = dh.run_partitions(
        panel, CONFIG, tmp_path / "dask", client=client, progress=seen.append
    )
    # in-process, reusing the reference's compiled fitters (a fresh compile gives the same)
    in_proc = dh.run_partitions(panel, CONFIG, tmp_path / "local", fitters=lambda p, c: fitters)
    parts = dh.plan_partitions(panel, CONFIG)
    assert len(seen) == len(parts)
    assert {line.split(":")[0] for line in seen} == {p.describe() for p in parts}
    # tasks ran in the two worker processes, not here, and each compiled at most once
    pids = {p.pid for p in on_dask.partitions}
    assert len(pids) == 2
    assert sys.modules["os"].getpid() not in pids
    compiled = [p for p in on_dask.partitions if p.compile_seconds > 0]
    assert 1 <= len(compiled) <= 2
    for run in (on_dask, in_proc):
        assert set(run.frames) == set(ref)
        for name, frame in ref.items():
            got = run.frames[name]
            assert got.schema == frame.schema, name
            assert timing_free(got).equals(timing_free(frame)), name
    # the comparison has teeth: real forecasts of every forecaster at every origin
    fc = ref["forecasts"]
    assert set(fc["model"].unique()) >= {
        "pooled_wright", "pooled_experience_time", "pool_wright_experience_time", "ols_wright",
    }  # fmt: skip
    assert sorted(fc["origin"].unique().to_list()) == hc.used_origins(panel, CONFIG)
    assert fc["q50"].is_finite().all() and fc["q50"].n_unique() > 100
    # Wright refitted at every origin, experience+time at each partition's first
    origins = ref["origins"]
    assert origins["fit_origin"].to_list() == origins["origin"].cast(pl.Float64).to_list()
    assert origins["et_fit_origin"].to_list() == [
        float(p.origins[0]) for p in parts for _ in p.origins
    ]
    # every partition's files are whole and nothing temporary is left
    for p in on_dask.partitions:
        assert sorted(f.name for f in p.folder.iterdir()) == [
            "forecasts.parquet", "origins.parquet",
        ]  # fmt: skip
    assert not [f for f in (tmp_path / "dask").iterdir() if f.name.startswith(".")]


class FailingFitters:
    """Fitter factory whose fits return a fixed population prior, except at ``bad_origin``,
    where the fit raises (a stand-in for a sampler failure)."""

    def __init__(self, bad_origin: int) -> None:
        self.bad_origin = bad_origin

    def __call__(self, panel, config):
        rng = np.random.default_rng(0)
        prior = PopulationPrior(
            "all", rng.normal(0.35, 0.02, 100), np.full(100, 0.1), rng.normal(-2.5, 0.05, 100),
            np.full(100, 0.4), np.full(100, 0.2), nu=np.full(100, 5.0),
            m_mu=rng.normal(0.0, 0.005, 100), m_sd=np.full(100, 0.01),
        )  # fmt: skip
        bad = self.bad_origin

        def fit(origin, train, mask):
            if origin == bad:
                raise ModelError(f"sampler failed at {origin}")
            return {"all": prior}, {"divergences": 0.0}

        return fit, fit


def _check_failure(exc: dh.PartitionError, part: dh.HindcastPartition, bad: int, out: Path):
    assert exc.partition == part.index
    assert exc.origin == bad
    assert f"hindcast partition {part.index} (origins {part.origins[0]}-" in str(exc)
    assert f"at origin {bad}" in str(exc) and "sampler failed" in str(exc)
    assert not (out / part.name).exists()
    assert not [f for f in out.iterdir() if f.name.startswith(f".{part.name}")]


@pytest.mark.parametrize("where", ["in_process", "dask"])
def test_a_failing_partition_names_itself_and_leaves_no_file(
    panel, client, tmp_path, where
) -> None:
    parts = dh.plan_partitions(panel, CONFIG)
    part = parts[1]
    bad = part.origins[0]  # the partition's fit fails
    out = tmp_path / where
    with pytest.raises(dh.PartitionError) as info:
        dh.run_partitions(
            panel, CONFIG, out, client=client if where == "dask" else None,
            fitters=FailingFitters(bad),
        )  # fmt: skip
    _check_failure(info.value, part, bad, out)
    if where == "in_process":  # partitions before the failing one finished whole
        assert (out / parts[0].name / "forecasts.parquet").is_file()


def test_partition_error_survives_pickling() -> None:
    exc = dh.PartitionError("hindcast partition 3 (origins 1973-1979) failed", 3, 1975)
    back = cloudpickle.loads(cloudpickle.dumps(exc))
    assert (type(back), str(back), back.partition, back.origin) == (
        dh.PartitionError, str(exc), 3, 1975,
    )  # fmt: skip


def test_write_partition_is_whole_or_absent(tmp_path) -> None:
    target = tmp_path / "part-000"
    good = pl.DataFrame({"origin": [1990, 1992], "q50": [1.5, 2.5]})
    dh.write_partition({"forecasts": good, "origins": good.head(1)}, target)
    assert pl.read_parquet(target / "forecasts.parquet").equals(good)
    # a frame Parquet cannot hold: the write fails, the earlier folder stays as it was
    bad = pl.DataFrame({"x": [object(), object()]}, schema={"x": pl.Object})
    with pytest.raises(Exception):  # noqa: B017 - whatever the Parquet writer raises
        dh.write_partition(
            {"forecasts": good.with_columns(pl.col("q50") * 2), "origins": bad}, target
        )
    assert pl.read_parquet(target / "forecasts.parquet").equals(good)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-000"]
    # a retry replaces the folder whole
    newer = good.with_columns(pl.col("q50") * 3)
    dh.write_partition({"forecasts": newer, "origins": newer}, target)
    assert pl.read_parquet(target / "forecasts.parquet").equals(newer)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["part-000"]


def test_engine_setting() -> None:
    assert parse_engine(None) == Engine("in_process")
    assert parse_engine("  ") == Engine("in_process")
    assert parse_engine("local:2") == Engine("local", workers=2)
    assert parse_engine("tcp://10.0.0.5:8786") == Engine("remote", address="tcp://10.0.0.5:8786")
    assert parse_engine("scheduler.internal:8786").kind == "remote"
    assert engine_from_env({"LEARNRACE_DASK_SCHEDULER": "local:3"}).workers == 3
    assert engine_from_env({}).kind == "in_process"
    for bad in ("local:0", "dask", "local:two"):
        with pytest.raises(EngineError, match="LEARNRACE_DASK_SCHEDULER"):
            parse_engine(bad)
