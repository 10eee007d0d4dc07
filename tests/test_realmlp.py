"""The RealMLP learner (the ``torch`` extra) passes what every learner passes: deadlines,
early stopping on the holdout keeping the best epoch, categorical columns, NaN, sample
weights, pickling, prediction on CPU, and a run of the ``realmlp`` preset end to end.
Real PyTorch training throughout (small epochs where the test is not about them)."""

import pickle
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.metrics import log_loss, roc_auc_score

from evoens._deadline import deadline_scope, fold_scope
from evoens.exceptions import DeadlineExceeded
from evoens.learners import RealMLPLearner
from evoens.learners._realmlp import _batch_size, _epochs, _Inputs
from evoens.space import load_space

torch = pytest.importorskip("torch")

QUICK = {"max_epochs": 24}


def _categorical(n=800, seed=0):
    """Column 1: 5 categories (one-hot), column 2: 30 (embedded); NaN in all three."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 5, size=n).astype(float)
    large = rng.integers(0, 30, size=n).astype(float)
    small[rng.random(n) < 0.05] = np.nan
    large[rng.random(n) < 0.05] = np.nan
    x = rng.normal(size=n)
    x[rng.random(n) < 0.1] = np.nan
    signal = np.isin(small, [1.0, 4.0]) * 1.5 + (large % 3 == 0) * 1.5 + np.nan_to_num(x) * 0.5
    y = (signal + rng.logistic(size=n) * 0.3 > 1.5).astype(int)
    return np.column_stack([x, small, large]), y


def test_binary_multiclass_and_regression_learn():
    X, y = load_breast_cancer(return_X_y=True)
    model = RealMLPLearner("binary", QUICK).fit(X[:400], y[:400])
    proba = model.predict_proba(X[400:])
    assert proba.shape == (len(X) - 400, 2) and np.allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y[400:], proba[:, 1]) > 0.97
    Xw, yw = load_wine(return_X_y=True)
    wine = RealMLPLearner("multiclass", QUICK).fit(Xw, yw)
    assert wine.predict_proba(Xw).shape == (len(yw), 3) and (wine.predict(Xw) == yw).mean() > 0.9
    rng = np.random.default_rng(0)
    Xr = rng.normal(size=(600, 4))
    yr = 3 * Xr[:, 0] + np.sin(2 * Xr[:, 1]) + rng.normal(scale=0.1, size=600)
    pred = RealMLPLearner("regression", QUICK).fit(Xr[:500], yr[:500]).predict(Xr[500:])
    assert pred.shape == (100,) and np.corrcoef(pred, yr[500:])[0, 1] > 0.95
    assert pred.min() >= yr[:500].min() and pred.max() <= yr[:500].max()  # clamped


def test_the_best_epoch_on_the_holdout_is_kept_not_the_last():
    X, y = load_breast_cancer(return_X_y=True)
    losses = []
    learner = RealMLPLearner("binary", {"max_epochs": 40, "lr": 0.3, "p_drop": 0.0})
    original = learner._holdout_loss

    def recording(net, holdout):
        losses.append(original(net, holdout))
        return losses[-1]

    learner._holdout_loss = recording
    learner.fit(X, y)
    codes = np.unique(y, return_inverse=True)[1]
    _, va = learner._holdout(codes)
    holdout = (learner._tensors(X, va, "cpu"), torch.as_tensor(codes[va]), None)
    kept = learner._holdout_loss(learner._network(), holdout)
    assert len(losses) >= 2 and kept == pytest.approx(min(losses[: learner.n_epochs_]), rel=1e-5)


def test_label_smoothing_is_undone_by_the_holdout_temperature():
    """Label smoothing pulls probabilities towards uniform; the temperature fitted on the
    holdout sharpens them again (T < 1), and the log loss is better for it."""
    X, y = load_breast_cancer(return_X_y=True)
    model = RealMLPLearner("binary", {**QUICK, "ls_eps": 0.2}).fit(X[:450], y[:450])
    assert model.temperature_ < 1.0
    scaled = model.predict_proba(X[450:])
    T, model.temperature_ = model.temperature_, 1.0
    raw = model.predict_proba(X[450:])
    model.temperature_ = T
    assert log_loss(y[450:], scaled) < log_loss(y[450:], raw)


def test_categorical_columns_one_hot_or_embedded_with_nan_and_unseen_categories():
    X, y = _categorical()
    inputs = _Inputs(X[:600], categorical=(1, 2))
    assert inputs.onehot == [1] and inputs.embedded == [2]
    assert inputs.embedding_sizes == (31,) and inputs.n_onehot == 5
    unseen = X[600:605].copy()
    unseen[:, 2] = [99.0, np.nan, 0.0, 1.0, 2.0]
    numeric, onehot, codes = inputs.transform(unseen)
    assert codes[:2, 0].tolist() == [0, 0] and codes[2:, 0].tolist() == [1, 2, 3]
    assert numeric.dtype == np.float32 and np.isfinite(numeric).all()
    native = RealMLPLearner("binary", {**QUICK, "native_categorical": True}, categorical=(1, 2))
    native.fit(X[:600], y[:600])
    plain = RealMLPLearner("binary", QUICK, categorical=(1, 2)).fit(X[:600], y[:600])
    assert native.inputs_.embedded == [2] and plain.inputs_.numeric == [0, 1, 2]
    auc = roc_auc_score(y[600:], native.predict_proba(X[600:])[:, 1])
    assert auc > roc_auc_score(y[600:], plain.predict_proba(X[600:])[:, 1]) and auc > 0.85


def test_numeric_inputs_are_robust_scaled_and_smoothly_clipped():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(5, 2, 1000), np.full(1000, 3.0), np.full(1000, np.nan)])
    X[0, 0] = 1e9  # an outlier
    numeric, _, _ = _Inputs(X, ()).transform(X)
    assert np.abs(numeric).max() < 3.0 + 1e-6  # x / sqrt(1 + (x/3)^2) stays below 3
    assert abs(np.median(numeric[:, 0])) < 0.01 and np.isfinite(numeric).all()
    assert (numeric[:, 1:] == 0).all()  # constant and all-missing columns


def test_sample_weight_changes_the_model():
    X, y = load_breast_cancer(return_X_y=True)
    w = np.where(y == 1, 10.0, 0.1)
    plain = RealMLPLearner("binary", QUICK).fit(X, y).predict_proba(X)[:, 1]
    heavy = RealMLPLearner("binary", QUICK).fit(X, y, sample_weight=w).predict_proba(X)[:, 1]
    assert heavy.mean() > plain.mean() + 0.01  # the positive class weighs more


def test_the_same_seed_gives_the_same_model_and_leaves_torch_global_state_alone():
    X, y = load_breast_cancer(return_X_y=True)
    torch.manual_seed(123)
    before = torch.rand(1).item()
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    a = RealMLPLearner("binary", {"max_epochs": 4}, random_state=5, n_jobs=1).fit(X, y)
    assert torch.rand(1).item() == before and torch.get_num_threads() == threads
    b = RealMLPLearner("binary", {"max_epochs": 4}, random_state=5, n_jobs=1).fit(X, y)
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-6)


def test_a_one_class_fold_predicts_that_class():
    X = np.arange(40.0).reshape(20, 2)
    model = RealMLPLearner("binary").fit(X, np.zeros(20, dtype=int))
    assert model.predict_proba(X).shape == (20, 1) and (model.predict(X) == 0).all()


def test_the_fold_deadline_stops_training_and_keeps_a_usable_model():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20))
    y = (X[:, 0] + np.sin(X[:, 1] * 3) + rng.normal(size=20_000) > 0).astype(int)
    started = time.time()
    with deadline_scope(started + 60.0), fold_scope(started + 3.0):
        model = RealMLPLearner("binary").fit(X, y)
    assert time.time() - started < 10.0
    assert 1 <= model.n_epochs_ < _epochs(18_000, 256)
    assert roc_auc_score(y[:2000], model.predict_proba(X[:2000])[:, 1]) > 0.75


def test_the_evaluation_deadline_raises_when_not_even_an_epoch_fits():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 20))
    y = (X[:, 0] > 0).astype(int)
    with deadline_scope(time.time() + 0.2), pytest.raises(DeadlineExceeded):
        RealMLPLearner("binary").fit(X, y)


def test_the_epochs_shrink_to_fit_the_evaluation_deadline_and_the_schedule_completes():
    X, y = load_breast_cancer(return_X_y=True)
    started = time.time()
    with deadline_scope(started + 2.0):
        model = RealMLPLearner("binary").fit(X, y)
    assert time.time() - started < 2.0 and 2 <= model.n_epochs_ < 256
    assert roc_auc_score(y, model.predict_proba(X)[:, 1]) > 0.97


def test_batch_and_epochs_scale_with_the_rows():
    assert _batch_size(1_000) == 256 and _batch_size(8_192) == 256
    assert _batch_size(40_000) == 1024 and _batch_size(10**7) == 1024
    assert _epochs(1_000, 256) == 256 and _epochs(16_384, 256) == 64
    assert _epochs(10**6, 256) == 32 and _epochs(10**6, 8) == 8


def test_a_pickled_model_holds_arrays_not_torch_and_predicts_the_same():
    """A model trained on a GPU must predict on a machine without one: its pickle holds
    NumPy arrays only, and the network is rebuilt on CPU."""
    X, y = _categorical()
    model = RealMLPLearner(
        "binary", {**QUICK, "native_categorical": True}, categorical=(1, 2)
    ).fit(X, y)
    blob = pickle.dumps(model)
    assert b"torch" not in blob
    back = pickle.loads(blob)
    np.testing.assert_allclose(back.predict_proba(X), model.predict_proba(X), rtol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trained_on_a_gpu_it_predicts_on_cpu():
    X, y = load_breast_cancer(return_X_y=True)
    model = RealMLPLearner("binary", QUICK, device="cuda").fit(X, y)
    assert next(model._network().parameters()).device.type == "cpu"
    back = pickle.loads(pickle.dumps(model))
    assert roc_auc_score(y, back.predict_proba(X)[:, 1]) > 0.97


def test_the_realmlp_preset_runs_end_to_end(mixed_frame):
    from evoens import EvoEnsembleClassifier

    space = load_space("realmlp")
    assert "realmlp" in space.learners and "lightgbm" in space.learners  # extends default
    assert [s.source for s in space.seeds("binary") if s.genome.learner == "realmlp"] == [
        "realmlp default"
    ]
    X, y = mixed_frame
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf = EvoEnsembleClassifier(
            space="realmlp",
            generations=1,
            population_size=20,
            cv=3,
            random_state=0,
            backend="sequential",
            device="cpu",
        ).fit(X, y)
    board = clf.leaderboard_
    mlp = board[board["learner"] == "realmlp"]
    assert len(mlp) >= 1 and (mlp["status"] == "ok").all()
    assert set(clf.predict(X)) <= {"yes", "no"}
