"""Device detection and the per-library GPU parameters, on a machine that may have no GPU.

The tests that assume no GPU skip themselves where one is usable; the
parameter mapping and planning tests hold everywhere.
"""

from __future__ import annotations

import json
import logging
import pickle
import time
import warnings

import lightgbm as lgb
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from evoens import EvoEnsembleClassifier
from evoens.devices import (DevicePlan, gpu_available, lightgbm_gpu_available, lightgbm_params, plan_devices, probe,
                            resolve_device, xgboost_params)
from evoens.exceptions import DeviceError, DeviceWarning, InvalidInputError
from evoens.space._learners import LightGBMLearner, XGBoostLearner

no_gpu = pytest.mark.skipif(gpu_available(), reason="this machine has a usable GPU")


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:200], y[:200]


# -- resolution --------------------------------------------------------------------

def test_cpu_is_always_cpu():
    assert resolve_device("cpu") == "cpu"


@no_gpu
def test_auto_resolves_to_cpu_without_a_gpu():
    assert resolve_device("auto") == "cpu"
    assert probe()["cuda"] is False and probe()["lightgbm_gpu"] is False


@no_gpu
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(DeviceError, match="device='cuda' but .* has no usable NVIDIA GPU"):
        resolve_device("cuda")


def test_unknown_device_names_the_parameter():
    with pytest.raises(InvalidInputError, match=r"device must be one of \('auto', 'cpu', 'cuda'\); got 'gpu'"):
        resolve_device("gpu")


# -- each library's own parameters ------------------------------------------------------------

def test_xgboost_takes_device_cuda():
    assert xgboost_params("cuda") == {"device": "cuda"}
    assert xgboost_params("cpu") == {"device": "cpu"}
    with pytest.raises(InvalidInputError, match="resolved device"):
        xgboost_params("auto")


def test_lightgbm_gpu_means_its_opencl_learner_or_cpu():
    assert lightgbm_params("cuda", opencl_gpu=True) == {"device_type": "gpu"}
    assert lightgbm_params("cuda", opencl_gpu=False) == {}
    assert lightgbm_params("cpu") == {}


def test_installed_lightgbm_wheel_has_no_cuda_learner():
    """Why the mapping is ``device_type="gpu"`` (OpenCL): the PyPI wheel's CUDA learner is not built."""
    X = np.random.default_rng(0).normal(size=(60, 3))
    with pytest.raises(lgb.basic.LightGBMError, match="CUDA Tree Learner was not enabled"):
        lgb.train({"device_type": "cuda", "objective": "binary", "verbosity": -1}, lgb.Dataset(X, X[:, 0] > 0), 1)


@no_gpu
def test_lightgbm_opencl_learner_is_not_used_without_an_nvidia_gpu():
    assert lightgbm_gpu_available() is False


def test_xgboost_learner_trains_without_device_warnings_and_predicts_on_cpu(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a CUDA fallback warning would fail here
        model = XGBoostLearner(task="binary", params={"n_estimators": 20}, device=resolve_device("auto")).fit(X, y)
    config = json.loads(model.booster_.save_config())
    assert config["learner"]["generic_param"]["device"] == "cpu"  # set back to CPU after training, GPU or not
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict_proba(X), model.predict_proba(X))


@no_gpu
def test_xgboost_learner_with_cuda_and_no_gpu_fails_before_training(data):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DeviceError):
            XGBoostLearner(task="binary", params={"n_estimators": 5}, device="cuda").fit(X, y)


def test_lightgbm_learner_on_cpu_passes_no_device_type(data):
    X, y = data
    model = LightGBMLearner(task="binary", params={"n_estimators": 5}, device="cpu").fit(X, y)
    assert model.booster_.params.get("device_type", "cpu") == "cpu"


# -- the run's plan -------------------------------------------------------------------------------

def test_auto_with_no_gpu_anywhere_runs_on_cpu_with_one_message(caplog):
    with caplog.at_level(logging.INFO, logger="evoens"):
        plan = plan_devices("auto", [{"cuda": False}, {"cuda": False}], "the 2 workers")
    assert plan == DevicePlan()
    messages = [r.getMessage() for r in caplog.records if r.name == "evoens"]
    assert len(messages) == 1 and "no usable NVIDIA GPU on the 2 workers" in messages[0]


def test_cuda_with_no_gpu_anywhere_fails():
    with pytest.raises(DeviceError, match="device='cuda' but no usable NVIDIA GPU was found on the 2 workers"):
        plan_devices("cuda", [{"cuda": False}, {"cuda": False}], "the 2 workers")


def test_cuda_plan_routes_xgboost_and_warns_once_that_lightgbm_stays_on_cpu():
    with pytest.warns(DeviceWarning, match="LightGBM candidates train on CPU") as record:
        plan = plan_devices("cuda", [{"cuda": True, "lightgbm_gpu": False}], "1 worker")
    assert len(record) == 1
    assert plan.uses_gpu("xgboost") and not plan.uses_gpu("lightgbm") and not plan.uses_gpu("extra_trees")


def test_plan_routes_lightgbm_where_its_opencl_learner_finds_a_gpu():
    plan = plan_devices("auto", [{"cuda": True, "lightgbm_gpu": True}], "1 worker")
    assert plan.device == "auto" and plan.uses_gpu("lightgbm") and plan.uses_gpu("xgboost")


def test_cpu_plan_never_probes():
    assert plan_devices("cpu", [], "nowhere") == DevicePlan()


# -- through the estimator ------------------------------------------------------------------------------

@no_gpu
@pytest.mark.slow
def test_fit_with_cuda_and_no_gpu_fails_before_the_search(data):
    clf = EvoEnsembleClassifier(device="cuda", generations=1, population_size=2, space="fast", cv=3,
                                time_budget=None, random_state=0)
    started = time.time()
    with pytest.raises(DeviceError, match="device='cuda' but no usable NVIDIA GPU was found on this machine"):
        clf.fit(*data)
    assert time.time() - started < 5
    assert not hasattr(clf, "leaderboard_")


@no_gpu
@pytest.mark.slow
def test_fit_with_auto_and_no_gpu_runs_on_cpu_with_a_message(data, caplog):
    clf = EvoEnsembleClassifier(device="auto", generations=1, population_size=2, space="fast", cv=3,
                                time_budget=None, random_state=0)
    with caplog.at_level(logging.INFO, logger="evoens"):
        clf.fit(*data)
    assert (clf.leaderboard_["status"] == "ok").all()
    gpu_messages = [r for r in caplog.records if "no usable NVIDIA GPU" in r.getMessage()]
    assert len(gpu_messages) == 1
