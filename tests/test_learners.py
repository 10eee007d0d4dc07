"""Learners under the soft per-fold deadline: stop growing, keep a usable model."""

import time

import numpy as np
import pytest

from evoens._deadline import deadline_scope, fold_scope
from evoens.space._learners import ExtraTreesLearner, RandomForestLearner


def _regression(n=20_000, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    return X, X[:, 0] * 3 + np.sin(X[:, 1] * 5) + rng.normal(scale=0.1, size=n)


@pytest.mark.parametrize("cls", [ExtraTreesLearner, RandomForestLearner])
def test_forest_sizes_its_chunks_to_end_near_the_fold_deadline(cls):
    X, y = _regression()
    started = time.time()
    soft, hard = started + 0.5, started + 30.0
    with deadline_scope(hard), fold_scope(soft):
        model = cls("regression", {"n_estimators": 2000}).fit(X, y)
    trees = len(model.model_.estimators_)
    assert 1 <= trees < 2000
    # one first chunk of 10 trees may overrun; later chunks are sized to fit
    assert time.time() - soft < 5.0
    assert np.isfinite(model.predict(X[:10])).all()


def test_forest_without_deadline_grows_every_tree():
    X, y = _regression(n=300, d=5)
    model = ExtraTreesLearner("regression", {"n_estimators": 73}).fit(X, y)
    assert len(model.model_.estimators_) == 73
