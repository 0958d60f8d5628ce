"""The learning-curve model id follows every module that makes a fit (learning.py is split).

``LearningCurveModel.code_version`` must hash the facade, the model settings and priors, the
PyMC model, its NumPy mirrors (which compute the stored deterministics, log-likelihood and
predictive groups), the panel builder and the fused likelihood Op; editing any of them must
change the model id, so a stale saved fit is never reused. Modules that only read saved fits
must not.
"""

from __future__ import annotations

import importlib
import inspect
from types import ModuleType

import pytest

from learnrace_pipeline.lib.models import base
from learnrace_pipeline.lib.models import learning as learning_package
from learnrace_pipeline.lib.models.learning import config as learning_config
from learnrace_pipeline.lib.models.learning import fit as learning
from learnrace_pipeline.lib.models.learning import loglik_op, panel, summaries
from learnrace_pipeline.lib.models.learning import model as learning_model
from learnrace_pipeline.lib.models.learning import numpy_mirror as learning_numpy
from learnrace_pipeline.lib.models.learning import posterior as learning_posterior
from learnrace_pipeline.lib.models.learning.config import LearningConfig
from learnrace_pipeline.lib.models.learning.fit import LearningCurveModel

FIT_MODULES = (learning, learning_config, learning_model, learning_numpy, panel, loglik_op)


@pytest.fixture(scope="module")
def model(synthetic_panel: panel.Panel) -> LearningCurveModel:
    # building the PyMC graph is enough: code_version and model_id need no compile
    return LearningCurveModel(synthetic_panel, LearningConfig(trend="wright", noise="normal"))


def test_code_version_hashes_every_module_that_makes_a_fit(model, monkeypatch) -> None:
    seen: list[tuple[ModuleType | str, ...]] = []
    real = base.code_version

    def spy(*modules):
        seen.append(modules)
        return real(*modules)

    monkeypatch.setattr(base, "code_version", spy)
    version = model.code_version
    assert len(seen) == 1
    assert set(seen[0]) == set(FIT_MODULES)
    assert len(seen[0]) == len(FIT_MODULES)
    assert version == real(*seen[0])


def _edited(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``inspect.getsource`` return the source of ``module`` with one line appended."""
    real = inspect.getsource

    def fake(obj):
        src = real(obj)
        return src + "\n# edited\n" if obj is module else src

    monkeypatch.setattr(inspect, "getsource", fake)


@pytest.mark.parametrize("module", FIT_MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_editing_a_fit_module_changes_the_model_id(model, module, monkeypatch) -> None:
    before_version, before_id = model.code_version, model.model_id
    _edited(module, monkeypatch)
    assert model.code_version != before_version
    assert model.model_id != before_id
    monkeypatch.undo()
    assert (model.code_version, model.model_id) == (before_version, before_id)


@pytest.mark.parametrize("module", [learning_posterior, summaries], ids=["posterior", "summaries"])
def test_editing_a_module_that_only_reads_fits_keeps_the_model_id(
    model, module, monkeypatch
) -> None:
    before_id = model.model_id
    _edited(module, monkeypatch)
    assert model.model_id == before_id


def test_the_package_face_resolves_each_name_to_its_defining_module() -> None:
    # the package's public names are the defining modules' own objects, one home per name
    for name, module in learning_package._WHERE.items():
        defining = importlib.import_module(f"learnrace_pipeline.lib.models.learning.{module}")
        assert getattr(learning_package, name) is getattr(defining, name), name
    assert sorted(learning_package.__all__) == sorted(learning_package._WHERE)
    with pytest.raises(AttributeError):
        _ = learning_package.no_such_name
