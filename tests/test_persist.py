"""Model files: identical predictions in a fresh process, version warnings, safe loading."""

import importlib.util
import os
import subprocess
import sys
import warnings
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest

from evoens import EvoEnsembleClassifier
from evoens.exceptions import InvalidInputError, UntrustedModelError, VersionMismatchWarning
from evoens.persist import library_versions, load_model, read_model, save_model

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fitted(mixed_frame):
    X, y = mixed_frame
    model = EvoEnsembleClassifier(
        generations=1,
        population_size=4,
        space="fast",
        cv=3,
        random_state=0,
        device="cpu",
        backend="sequential",
        time_budget=None,
    ).fit(X, y)
    return model, X


def test_a_saved_model_predicts_identically_in_a_fresh_process(fitted, tmp_path):
    model, X = fitted
    path = save_model(model, tmp_path / "model.joblib", metadata={"target": "target"})
    X.to_pickle(tmp_path / "X.pkl")
    script = (
        "import sys, numpy as np, pandas as pd\n"
        "from evoens.persist import load_model\n"
        "m = load_model(sys.argv[1])\n"
        "np.save(sys.argv[3], m.predict_proba(pd.read_pickle(sys.argv[2])))\n"
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error::UserWarning",
            "-c",
            script,
            str(path),
            str(tmp_path / "X.pkl"),
            str(tmp_path / "p.npy"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "p.npy"), model.predict_proba(X))


def test_the_file_records_versions_and_metadata(fitted, tmp_path):
    model, _ = fitted
    save_model(model, tmp_path / "m.joblib", metadata={"target": "target"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = read_model(tmp_path / "m.joblib")
    assert info.metadata == {"target": "target"}
    assert set(info.versions) >= {
        "evoens",
        "scikit-learn",
        "lightgbm",
        "xgboost",
        "numpy",
        "python",
    }
    assert info.versions == library_versions()


def test_other_library_versions_warn_on_load(fitted, tmp_path):
    model, X = fitted
    path = save_model(model, tmp_path / "m.joblib")
    payload = joblib.load(path)
    payload["versions"]["scikit-learn"] = "0.0.1"
    payload["versions"]["lightgbm"] = "1.0.0"
    joblib.dump(payload, path)
    with pytest.warns(
        VersionMismatchWarning, match=r"scikit-learn 0\.0\.1 \(now .*\), lightgbm 1\.0\.0"
    ):
        loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_a_bare_pickled_estimator_still_loads(fitted, tmp_path):
    model, X = fitted
    joblib.dump(model, tmp_path / "bare.joblib")
    np.testing.assert_array_equal(
        load_model(tmp_path / "bare.joblib").predict(X), model.predict(X)
    )


def test_a_missing_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(InvalidInputError, match="model file .* not found"):
        load_model(tmp_path / "nope.joblib")


def test_the_safe_format_round_trips_boosters_and_the_leaderboard(fitted, tmp_path):
    pytest.importorskip("skops")
    model, X = fitted
    assert {"lightgbm", "xgboost"} <= set(model.leaderboard_["learner"])
    save_model(model, tmp_path / "model.skops", metadata={"target": "target"})
    info = read_model(tmp_path / "model.skops")
    np.testing.assert_array_equal(info.estimator.predict_proba(X), model.predict_proba(X))
    assert isinstance(info.estimator.leaderboard_, pd.DataFrame)
    assert (
        info.estimator.leaderboard_["pipeline"].tolist() == model.leaderboard_["pipeline"].tolist()
    )
    assert info.metadata == {"target": "target"}
    assert hasattr(model, "leaderboard_")  # saving did not strip the caller's estimator


def test_every_learner_survives_the_safe_format(tmp_path):
    pytest.importorskip("skops")
    from sklearn.datasets import load_breast_cancer

    from evoens.learners import (
        ExtraTreesLearner,
        KNNLearner,
        LightGBMLearner,
        LinearLearner,
        MLPLearner,
        RandomForestLearner,
        XGBoostLearner,
    )

    X, y = load_breast_cancer(return_X_y=True)
    catboost = []
    if importlib.util.find_spec("catboost") is not None:
        from evoens.learners import CatBoostLearner

        catboost = [CatBoostLearner]
    realmlp = []
    if importlib.util.find_spec("torch") is not None:
        from evoens.learners import RealMLPLearner

        realmlp = [RealMLPLearner]
    for cls in (
        *catboost,
        *realmlp,
        LightGBMLearner,
        XGBoostLearner,
        ExtraTreesLearner,
        RandomForestLearner,
        MLPLearner,
        LinearLearner,
        KNNLearner,
    ):
        params = (
            {"n_estimators": 20}
            if cls
            in (LightGBMLearner, XGBoostLearner, ExtraTreesLearner, RandomForestLearner, *catboost)
            else {"max_iter": 50}
        )
        if cls in realmlp:
            params = {"max_epochs": 4, "native_categorical": True}
        if cls is MLPLearner:
            params.update(hidden_size=8, num_layers=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            categorical = (3,) if cls in realmlp else ()  # 3: a categorical column
            Xc = X.copy()
            if categorical:
                Xc[:, 3] = np.round(Xc[:, 3] / 100)
            learner = cls(task="binary", params=params, categorical=categorical).fit(Xc, y)
        save_model(learner, tmp_path / f"{cls.__name__}.skops")
        back = load_model(tmp_path / f"{cls.__name__}.skops")
        np.testing.assert_array_equal(
            back.predict_proba(Xc), learner.predict_proba(Xc), err_msg=cls.__name__
        )


def test_the_safe_loader_refuses_a_file_that_names_a_function(tmp_path):
    sio = pytest.importorskip("skops.io")
    from sklearn.preprocessing import FunctionTransformer

    payload = {
        "format": "evoens-model",
        "format_version": 1,
        "versions": {},
        "metadata": {},
        "estimator": FunctionTransformer(func=os.system),
    }
    sio.dump(payload, tmp_path / "evil.skops")
    with pytest.raises(UntrustedModelError, match="not trusted: .*system"):
        load_model(tmp_path / "evil.skops")
