"""Device planning, detection and per-library GPU parameters, on a machine that may have no GPU.

The device is decided once per run (the backend's ``start`` makes the
:class:`DevicePlan`) and resolved once per process that trains; learners only
map the concrete device they are handed to their library's parameters.  The
tests that assume no GPU skip themselves where one is usable; the mapping and
planning tests hold everywhere.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pickle
import time
import warnings

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from evoens import EvoEnsembleClassifier, devices
from evoens._data import Dataset, make_folds
from evoens._metrics import get_metric
from evoens.backends import LocalBackend, SequentialBackend
from evoens.devices import (
    DevicePlan,
    ResolvedDevices,
    gpu_available,
    lightgbm_gpu_available,
    lightgbm_params,
    plan_devices,
    probe,
    xgboost_params,
)
from evoens.evaluation import Candidate, EvalContext, Status
from evoens.exceptions import DeviceError, DeviceWarning, InvalidInputError
from evoens.learners import LightGBMLearner, XGBoostLearner
from evoens.space import Genome, build_pipeline, load_space

no_gpu = pytest.mark.skipif(gpu_available(), reason="this machine has a usable GPU")

_BOTH = frozenset({"xgboost", "lightgbm"})


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:200], y[:200]


@pytest.fixture
def ctx(data):
    X, y = data
    folds = make_folds(y, "binary", 3, 0)
    dataset = Dataset(X, y, "binary", np.zeros(X.shape[1], dtype=bool), folds, 2)
    metric = get_metric(None, "binary", np.array([0, 1]))
    return EvalContext(dataset, metric, load_space("fast").for_task("binary"))


@pytest.fixture
def fake_gpu(monkeypatch):
    """This process "has" a CUDA GPU and no OpenCL NVIDIA device; returns the detection calls."""
    calls = []
    monkeypatch.setattr(devices, "_CACHE", {})
    monkeypatch.setattr(devices, "gpu_available", lambda: calls.append("cuda") or True)
    monkeypatch.setattr(devices, "lightgbm_gpu_available", lambda: calls.append("opencl") or False)
    return calls


def _learner(ctx, name, build):
    return build_pipeline(Genome.create(name, {}), ctx.space.learner_class(name), build, 0)[-1]


# -- resolution on the process that trains ----------------------------------------------------


def test_cpu_is_always_cpu():
    resolved = plan_devices("cpu", [], "nowhere").resolve()
    assert resolved == ResolvedDevices()
    assert {resolved.device(lib) for lib in ("xgboost", "lightgbm", None)} == {"cpu"}


@no_gpu
def test_auto_resolves_to_cpu_without_a_gpu():
    resolved = DevicePlan("auto", _BOTH).resolve()  # planned where a worker had a GPU; not here
    assert resolved.device("xgboost") == "cpu" and resolved.device("lightgbm") == "cpu"
    assert probe()["cuda"] is False and probe()["lightgbm_gpu"] is False


@no_gpu
def test_cuda_without_a_gpu_is_a_clear_error_for_gpu_learners_only():
    resolved = DevicePlan("cuda", frozenset({"xgboost"})).resolve()
    with pytest.raises(DeviceError, match="device='cuda' but .* has no usable NVIDIA GPU"):
        resolved.device("xgboost")
    assert resolved.device(None) == "cpu"  # a forest still trains here
    assert resolved.device("lightgbm") == "cpu"  # the plan keeps LightGBM on CPU


def test_unknown_device_names_the_parameter():
    rule = r"device must be one of \('auto', 'cpu', 'cuda'\); got 'gpu'"
    with pytest.raises(InvalidInputError, match=rule):
        plan_devices("gpu", [], "nowhere")


def test_plan_is_resolved_once_per_process_and_handed_to_each_learner(ctx, fake_gpu):
    ctx = dataclasses.replace(ctx, device="auto", device_plan=DevicePlan("auto", _BOTH))
    build = ctx.build_context()
    refit_build = ctx.build_context(n_threads=3)  # the driver's refit: the same plan, more threads
    assert fake_gpu == ["cuda", "opencl"]  # probed once in this process, then cached
    assert build.devices == refit_build.devices and refit_build.n_jobs == 3 and build.n_jobs == 1
    assert _learner(ctx, "xgboost", build).device == "cuda"
    assert _learner(ctx, "lightgbm", build).device == "cpu"  # its OpenCL check failed here
    assert _learner(ctx, "extra_trees", build).device == "cpu"


def test_learners_map_the_device_they_are_given_and_never_probe(monkeypatch, data):
    def probing(*args):
        raise AssertionError("a learner probed for a GPU")

    for name in ("gpu_available", "lightgbm_gpu_available", "_cuda_device_count", "probe"):
        monkeypatch.setattr(devices, name, probing)
    assert XGBoostLearner("binary", device="cuda")._settings({}, 2)["device"] == "cuda"
    assert LightGBMLearner("binary", device="cuda")._settings({}, 2)["device_type"] == "gpu"
    X, y = data
    XGBoostLearner("binary", {"n_estimators": 5}, device="cpu").fit(X, y)
    LightGBMLearner("binary", {"n_estimators": 5}, device="cpu").fit(X, y)


# -- the backend decides, at start ----------------------------------------------------------


def test_backend_start_decides_the_plan_and_ships_it_with_the_context(ctx, fake_gpu, monkeypatch):
    monkeypatch.setattr(
        "evoens.backends._base.probe", lambda: {"cuda": True, "lightgbm_gpu": False}
    )
    backend = SequentialBackend()
    backend.start(dataclasses.replace(ctx, device="auto"))
    assert backend.device_plan == DevicePlan("auto", frozenset({"xgboost"}))
    assert backend.ctx.device_plan is backend.device_plan
    assert backend.ctx.build_context().devices.device("xgboost") == "cuda"
    backend.shutdown()


def test_cpu_backend_runs_an_evaluation_without_probing(ctx, monkeypatch):
    monkeypatch.setattr(
        "evoens.backends._base.probe", lambda: pytest.fail("probed for device='cpu'")
    )
    with SequentialBackend() as backend:
        backend.start(ctx)
        assert backend.device_plan == DevicePlan()
        genome = Genome.create("xgboost", {"n_estimators": 5})
        backend.submit(Candidate(0, genome, 0, seed=0), None)
        [record] = backend.wait(10.0)
    assert record.status == Status.OK


@no_gpu
@pytest.mark.parametrize("backend_cls", [SequentialBackend, LocalBackend])
def test_cuda_without_a_gpu_fails_at_start(backend_cls, ctx):
    backend = backend_cls()
    with pytest.raises(DeviceError, match="no usable NVIDIA GPU was found on this machine"):
        backend.start(dataclasses.replace(ctx, device="cuda"))
    assert backend.ctx is None and backend.n_running == 0  # no worker got the data
    assert backend.shutdown() == []


def test_context_without_a_plan_builds_on_cpu_only_when_it_asked_for_cpu(ctx):
    assert ctx.build_context().devices == ResolvedDevices()
    with pytest.raises(InvalidInputError, match="no device_plan; Backend.start"):
        dataclasses.replace(ctx, device="auto").build_context()


# -- each library's own parameters ------------------------------------------------------------


def test_xgboost_takes_device_cuda():
    assert xgboost_params("cuda") == {"device": "cuda"}
    assert xgboost_params("cpu") == {"device": "cpu"}


def test_lightgbm_gpu_means_its_opencl_learner():
    assert lightgbm_params("cuda") == {"device_type": "gpu"}
    assert lightgbm_params("cpu") == {}


def test_installed_lightgbm_wheel_has_no_cuda_learner():
    """Why the mapping is ``device_type="gpu"`` (OpenCL): the wheel's CUDA learner is not built."""
    X = np.random.default_rng(0).normal(size=(60, 3))
    params = {"device_type": "cuda", "objective": "binary", "verbosity": -1}
    with pytest.raises(lgb.basic.LightGBMError, match="CUDA Tree Learner was not enabled"):
        lgb.train(params, lgb.Dataset(X, X[:, 0] > 0), 1)


@no_gpu
def test_lightgbm_opencl_learner_is_not_used_without_an_nvidia_gpu():
    assert lightgbm_gpu_available() is False


def test_xgboost_learner_trains_without_device_warnings_and_predicts_on_cpu(data):
    X, y = data
    device = DevicePlan("auto", frozenset({"xgboost"})).resolve().device("xgboost")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a CUDA fallback warning would fail here
        model = XGBoostLearner(task="binary", params={"n_estimators": 20}, device=device).fit(X, y)
    config = json.loads(model.booster_.save_config())
    # set back to CPU after training, GPU or not
    assert config["learner"]["generic_param"]["device"] == "cpu"
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(X), model.predict_proba(X))


@no_gpu
def test_xgboost_pipeline_with_cuda_and_no_gpu_fails_before_training(ctx):
    plan = DevicePlan("cuda", frozenset({"xgboost"}))
    ctx = dataclasses.replace(ctx, device="cuda", device_plan=plan)
    build = ctx.build_context()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeviceError):
            _learner(ctx, "xgboost", build)
    assert _learner(ctx, "extra_trees", build).device == "cpu"


def test_lightgbm_learner_on_cpu_passes_no_device_type(data):
    X, y = data
    model = LightGBMLearner(task="binary", params={"n_estimators": 5}, device="cpu").fit(X, y)
    assert model.booster_.params.get("device_type", "cpu") == "cpu"


# -- the run's plan --------------------------------------------------------------------------


def test_auto_with_no_gpu_anywhere_runs_on_cpu_with_one_message(caplog):
    with caplog.at_level(logging.INFO, logger="evoens"):
        plan = plan_devices("auto", [{"cuda": False}, {"cuda": False}], "the 2 workers")
    assert plan == DevicePlan()
    messages = [r.getMessage() for r in caplog.records if r.name == "evoens"]
    assert len(messages) == 1 and "no usable NVIDIA GPU on the 2 workers" in messages[0]


def test_cuda_with_no_gpu_anywhere_fails():
    with pytest.raises(DeviceError, match="no usable NVIDIA GPU was found on the 2 workers"):
        plan_devices("cuda", [{"cuda": False}, {"cuda": False}], "the 2 workers")


def test_cuda_plan_routes_xgboost_and_warns_once_that_lightgbm_stays_on_cpu():
    with pytest.warns(DeviceWarning, match="LightGBM candidates train on CPU") as record:
        plan = plan_devices("cuda", [{"cuda": True, "lightgbm_gpu": False}], "1 worker")
    assert len(record) == 1
    assert plan.uses_gpu("xgboost")
    assert not plan.uses_gpu("lightgbm") and not plan.uses_gpu("extra_trees")


def test_plan_routes_lightgbm_where_its_opencl_learner_finds_a_gpu():
    plan = plan_devices("auto", [{"cuda": True, "lightgbm_gpu": True}], "1 worker")
    assert plan.device == "auto" and plan.uses_gpu("lightgbm") and plan.uses_gpu("xgboost")


def test_plan_routes_catboost_only_where_it_is_installed_and_sees_the_gpu():
    plan = plan_devices("auto", [{"cuda": True, "catboost_gpu": True}], "1 worker")
    assert plan.uses_gpu("catboost") and plan.uses_gpu("xgboost")
    plan = plan_devices("auto", [{"cuda": True, "lightgbm_gpu": True}], "1 worker")
    assert not plan.uses_gpu("catboost")  # not installed there (probe says no)


def test_plan_routes_realmlp_only_where_torch_sees_the_gpu():
    plan = plan_devices("auto", [{"cuda": True, "torch_gpu": True}], "1 worker")
    assert plan.uses_gpu("realmlp") and not plan.uses_gpu("mlp")  # scikit-learn's: CPU only
    plan = plan_devices("auto", [{"cuda": True}], "1 worker")
    assert not plan.uses_gpu("realmlp")  # torch not installed there (probe says no)


def test_the_probe_says_whether_torch_sees_a_gpu():
    from evoens.devices import probe, torch_gpu_available

    found = probe()
    assert found["torch_gpu"] == (found["cuda"] and torch_gpu_available())


def test_cpu_plan_never_probes():
    assert plan_devices("cpu", [], "nowhere") == DevicePlan()


# -- through the estimator ------------------------------------------------------------------


@no_gpu
@pytest.mark.slow
def test_fit_with_cuda_and_no_gpu_fails_before_the_search(data):
    clf = EvoEnsembleClassifier(
        device="cuda",
        generations=1,
        population_size=2,
        space="fast",
        cv=3,
        time_budget=None,
        random_state=0,
    )
    started = time.time()
    with pytest.raises(DeviceError, match="no usable NVIDIA GPU was found on this machine"):
        clf.fit(*data)
    assert time.time() - started < 5
    assert not hasattr(clf, "leaderboard_")


@no_gpu
@pytest.mark.slow
def test_fit_with_auto_and_no_gpu_runs_on_cpu_with_a_message(data, caplog):
    clf = EvoEnsembleClassifier(
        device="auto",
        generations=1,
        population_size=2,
        space="fast",
        cv=3,
        time_budget=None,
        random_state=0,
    )
    with caplog.at_level(logging.INFO, logger="evoens"):
        clf.fit(*data)
    assert (clf.leaderboard_["status"] == "ok").all()
    assert (clf.leaderboard_["device"] == "cpu").all()  # where each evaluation trained
    gpu_messages = [r for r in caplog.records if "no usable NVIDIA GPU" in r.getMessage()]
    assert len(gpu_messages) == 1
