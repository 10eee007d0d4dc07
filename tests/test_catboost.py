"""The CatBoost learner (the ``catboost`` extra) passes what every booster passes:
deadlines, early stopping, categorical columns, NaN, sample weights, pickling, and a
run of the ``catboost`` preset end to end.  Real CatBoost fits throughout."""

import pickle
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.metrics import roc_auc_score

from evoens._deadline import deadline_scope, fold_scope
from evoens.exceptions import DeadlineExceeded
from evoens.learners import CatBoostLearner
from evoens.space import load_space

pytest.importorskip("catboost")


def _categorical(n=600, seed=0):
    """Column 1 holds category codes (NaN where missing) that carry the signal."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 6, size=n).astype(float)
    codes[rng.random(n) < 0.05] = np.nan
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    signal = np.isin(codes, [1.0, 4.0]) * 2.0 + np.nan_to_num(x) * 0.5
    y = (signal + rng.logistic(size=n) * 0.3 > 1.0).astype(int)
    return np.column_stack([x, codes]), y


def test_early_stopping_keeps_the_best_rounds_and_predicts_probabilities():
    X, y = load_breast_cancer(return_X_y=True)
    model = CatBoostLearner("binary", {"learning_rate": 0.3}).fit(X, y)
    assert 1 <= model.n_rounds_ < CatBoostLearner.max_rounds
    proba = model.predict_proba(X)
    assert proba.shape == (len(y), 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y, proba[:, 1]) > 0.97


def test_multiclass_and_regression():
    X, y = load_wine(return_X_y=True)
    proba = CatBoostLearner("multiclass", {"learning_rate": 0.3}).fit(X, y).predict_proba(X)
    assert proba.shape == (len(y), 3) and (proba.argmax(axis=1) == y).mean() > 0.95
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(400, 4))
    yr = 3 * Xr[:, 0] + rng.normal(scale=0.1, size=400)
    pred = CatBoostLearner("regression", {"learning_rate": 0.3}).fit(Xr, yr).predict(Xr)
    assert pred.shape == (400,) and np.corrcoef(pred, yr)[0, 1] > 0.95


def test_native_categorical_codes_with_nan_are_used_as_categories():
    X, y = _categorical()
    native = CatBoostLearner(
        "binary", {"native_categorical": True, "learning_rate": 0.2}, categorical=(1,)
    ).fit(X[:400], y[:400])
    assert native.booster_.get_cat_feature_indices() == [1]
    assert roc_auc_score(y[400:], native.predict_proba(X[400:])[:, 1]) > 0.9
    # without the encoder's "native" choice the codes are plain numbers
    numeric = CatBoostLearner("binary", {"learning_rate": 0.2}, categorical=(1,)).fit(X, y)
    assert numeric.booster_.get_cat_feature_indices() == []


def test_small_separable_data_stops_early_though_its_loss_still_creeps_down():
    X, y = load_wine(return_X_y=True)  # 178 rows: CatBoost's own rule runs 10,000 rounds
    started = time.time()
    model = CatBoostLearner("multiclass", {"learning_rate": 0.3}).fit(X, y)
    assert model.n_rounds_ < 2000 and time.time() - started < 30


def test_sample_weight_changes_the_model():
    X, y = load_breast_cancer(return_X_y=True)
    w = np.where(y == 1, 10.0, 0.1)
    plain = CatBoostLearner("binary", {"learning_rate": 0.3}).fit(X, y).predict_proba(X)[:, 1]
    heavy = (
        CatBoostLearner("binary", {"learning_rate": 0.3})
        .fit(X, y, sample_weight=w)
        .predict_proba(X)[:, 1]
    )
    assert heavy.mean() > plain.mean() + 0.01  # the positive class weighs more


def test_a_one_class_fold_predicts_that_class():
    X = np.arange(40.0).reshape(20, 2)
    model = CatBoostLearner("binary").fit(X, np.zeros(20, dtype=int))
    assert model.predict_proba(X).shape == (20, 1) and (model.predict(X) == 0).all()


def test_the_fold_deadline_stops_growing_and_keeps_a_usable_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20))
    y = (X[:, 0] + np.sin(X[:, 1] * 3) + rng.normal(size=20_000) > 0).astype(int)
    started = time.time()
    with deadline_scope(started + 60.0), fold_scope(started + 1.0):
        model = CatBoostLearner("binary", {"learning_rate": 0.005, "depth": 8}).fit(X, y)
    assert time.time() - started < 10.0
    assert 1 <= model.n_rounds_ < 5000
    assert np.isfinite(model.predict_proba(X[:10])).all()


def test_the_evaluation_deadline_raises():
    X, y = load_breast_cancer(return_X_y=True)
    with deadline_scope(time.time() + 0.3), pytest.raises(DeadlineExceeded):
        CatBoostLearner("binary", {"learning_rate": 0.001, "depth": 10}).fit(X, y)


def _without_callbacks(params, X, y, split):
    """The learner set up as ``fit`` would, its pools, for calling the GPU's path on CPU."""
    learner = CatBoostLearner("binary", params)
    learner.classes_, learner._cats = np.array([0, 1]), []
    full = learner._settings(params, 2)
    return learner, full, learner._pool(X[:split], y[:split]), learner._pool(X[split:], y[split:])


def test_without_callbacks_as_on_a_gpu_catboost_early_stops_in_one_fit():
    """A GPU takes no callbacks: a timed first chunk, then one fit (run here on CPU)."""
    from catboost import CatBoost

    X, y = load_breast_cancer(return_X_y=True)
    learner, full, train, valid = _without_callbacks({"learning_rate": 0.3}, X, y, 450)
    learner.gpu_chunk = 40
    model = learner._train_capped(full, train, valid, rounds=2000)
    whole = CatBoost({**full, "iterations": 2000})
    whole.fit(train, eval_set=valid, early_stopping_rounds=learner.patience, use_best_model=True)
    assert learner.gpu_chunk < model.tree_count_ == whole.tree_count_ < 2000


def test_without_callbacks_as_on_a_gpu_the_rounds_fit_the_fold_time():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20))
    y = (X[:, 0] + np.sin(X[:, 1] * 3) + rng.normal(size=20_000) > 0).astype(int)
    params = {"learning_rate": 0.002, "depth": 8}
    learner, full, train, valid = _without_callbacks(params, X, y, 18_000)
    learner.gpu_chunk = 20
    started = time.time()
    with deadline_scope(started + 60.0), fold_scope(started + 3.0):
        model = learner._train_capped(full, train, valid, rounds=10_000)
    assert time.time() - started < 6.0
    assert learner.gpu_chunk < model.tree_count_ < 10_000


def test_device_cuda_means_task_type_gpu_and_cpu_passes_none():
    assert CatBoostLearner("binary", device="cuda")._settings({}, 2)["task_type"] == "GPU"
    assert "task_type" not in CatBoostLearner("binary", device="cpu")._settings({}, 2)


def test_a_fitted_learner_pickles_and_predicts_the_same():
    X, y = _categorical()
    model = CatBoostLearner(
        "binary", {"native_categorical": True, "learning_rate": 0.3}, categorical=(1,)
    ).fit(X, y)
    back = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


def test_the_catboost_preset_runs_end_to_end(mixed_frame):
    from evoens import EvoEnsembleClassifier

    space = load_space("catboost")
    assert "catboost" in space.learners and "lightgbm" in space.learners  # extends default
    seeds = [s for s in space.seeds("binary") if s.genome.learner == "catboost"]
    assert len(seeds) == 7 and seeds[1].source.endswith("CatBoost_r177")
    X, y = mixed_frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = EvoEnsembleClassifier(
            space="catboost",
            generations=1,
            population_size=20,
            cv=3,
            random_state=0,
            backend="sequential",
            device="cpu",
        ).fit(X, y)
    board = clf.leaderboard_
    cat = board[board["learner"] == "catboost"]
    assert len(cat) >= 1 and (cat["status"] == "ok").all()
    assert set(clf.predict(X)) <= {"yes", "no"}
