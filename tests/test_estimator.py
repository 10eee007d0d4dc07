"""The estimators as scikit-learn users use them."""

import inspect
import pickle
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import make_scorer, roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from evoens import EvoEnsembleClassifier, EvoEnsembleRegressor

from .conftest import FAST

SEQ = dict(backend="sequential", time_budget=None, **FAST)


@pytest.mark.slow
def test_same_seed_same_leaderboard_and_predictions(binary_data):
    """Six generations, five of them bred, two workers: nothing measured by a clock
    decides what is bred."""
    X, y = binary_data
    params = dict(generations=6, population_size=4, n_jobs=2, time_budget=None, **FAST)
    a = EvoEnsembleClassifier(**params).fit(X, y)
    b = EvoEnsembleClassifier(**params).fit(X, y)
    cols = [
        "id",
        "generation",
        "pipeline",
        "score",
        "fold_scores",
        "status",
        "operator",
        "parents",
        "ensemble_weight",
    ]
    pd.testing.assert_frame_equal(a.leaderboard_[cols], b.leaderboard_[cols])
    board = a.leaderboard_
    assert sorted(board.generation.unique()) == [0, 1, 2, 3, 4, 5]
    bred = board[board.operator.isin(["perturb", "tpe", "crossover", "step", "swap"])]
    assert bred.generation.nunique() >= 4
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = EvoEnsembleClassifier(**{**params, "random_state": 1}).fit(X, y)
    assert list(c.leaderboard_.pipeline) != list(a.leaderboard_.pipeline)


def test_string_labels_and_mixed_columns(mixed_frame):
    X, y = mixed_frame
    clf = EvoEnsembleClassifier(generations=2, population_size=3, **SEQ).fit(X, y)
    assert list(clf.classes_) == ["no", "yes"]
    assert list(clf.feature_names_in_) == list(X.columns)
    assert clf.n_features_in_ == 5
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2) and np.allclose(proba.sum(axis=1), 1)
    majority = y.value_counts(normalize=True).max()
    assert clf.score(X, y) > majority + 0.05


def test_non_contiguous_integer_labels_multiclass(wine_data):
    X, y = wine_data
    y = y.map({0: 3, 1: 5, 2: 9})
    clf = EvoEnsembleClassifier(generations=1, population_size=3, **SEQ).fit(X, y)
    assert list(clf.classes_) == [3, 5, 9]
    assert set(clf.predict(X)) <= {3, 5, 9}
    assert clf.scoring_ == "neg_log_loss" and clf.best_score_ > -0.5


def test_regression_with_r2_scoring(diabetes_data):
    X, y = diabetes_data
    reg = EvoEnsembleRegressor(generations=1, population_size=3, scoring="r2", **SEQ).fit(X, y)
    assert reg.scoring_ == "r2" and 0.2 < reg.best_score_ < 0.8
    assert reg.predict(X).shape == (len(X),)


def test_scoring_by_name_and_by_callable(binary_data):
    X, y = binary_data
    by_name = EvoEnsembleClassifier(
        generations=1, population_size=2, scoring="accuracy", **SEQ
    ).fit(X, y)
    assert 0.8 < by_name.best_score_ <= 1
    scorer = make_scorer(roc_auc_score, response_method="predict_proba")
    by_callable = EvoEnsembleClassifier(
        generations=1, population_size=2, scoring=scorer, **SEQ
    ).fit(X, y)
    default = EvoEnsembleClassifier(generations=1, population_size=2, **SEQ).fit(X, y)
    assert by_callable.best_score_ == pytest.approx(default.best_score_)


def test_sample_weight_changes_the_fit(binary_data):
    X, y = binary_data
    w = np.where(y == 1, 5.0, 1.0)
    plain = EvoEnsembleClassifier(generations=1, population_size=2, **SEQ).fit(X, y)
    weighted = EvoEnsembleClassifier(generations=1, population_size=2, **SEQ).fit(
        X, y, sample_weight=w
    )
    assert not np.allclose(plain.predict_proba(X), weighted.predict_proba(X))


def test_leaderboard_records_every_evaluation(binary_data):
    X, y = binary_data
    clf = EvoEnsembleClassifier(generations=3, population_size=3, **SEQ).fit(X, y)
    board = clf.leaderboard_
    assert (
        len(board) == clf.n_evaluations_ == 2 + 3 + 3
    )  # generation 0 is half a population (at least 2)
    assert {
        "rank",
        "genome",
        "score",
        "fold_scores",
        "fit_time",
        "status",
        "generation",
        "parents",
        "operator",
        "ensemble_weight",
    } <= set(board.columns)
    assert board.score.iloc[0] == clf.best_score_
    assert board.ensemble_weight.sum() == pytest.approx(1.0) or clf.ensemble_.kind == "stacked"


def test_clone_pickle_and_use_inside_pipeline_and_grid_search(binary_data):
    X, y = binary_data
    est = EvoEnsembleClassifier(generations=1, population_size=2, **SEQ)
    assert clone(est).get_params() == est.get_params()
    pipe = make_pipeline(FunctionTransformer(), est).fit(X, y)
    restored = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_array_equal(restored.predict_proba(X), pipe.predict_proba(X))
    grid = GridSearchCV(est, {"population_size": [1, 2]}, cv=2).fit(X, y)
    assert grid.best_params_["population_size"] in (1, 2)


@pytest.mark.parametrize("cls", [EvoEnsembleClassifier, EvoEnsembleRegressor])
def test_documented_parameters_match_the_signature(cls):
    documented = re.findall(r"^    (\w+) : ", cls.__doc__, flags=re.M)
    params = list(inspect.signature(cls.__init__).parameters)[1:]
    attributes_start = documented.index("ensemble_")
    assert documented[:attributes_start] == params


def test_refit_replaces_fold_models_with_one_model_per_member(binary_data):
    X, y = binary_data
    clf = EvoEnsembleClassifier(generations=1, population_size=2, refit=True, **SEQ).fit(X, y)
    assert all(len(m.models) == 1 for m in clf.ensemble_.members)
    assert clf.score(X, y) > 0.85


def test_early_stop_ends_a_stalled_search(binary_data):
    X, y = binary_data
    clf = EvoEnsembleClassifier(generations=30, population_size=2, early_stop=1, **SEQ).fit(X, y)
    assert clf.stop_reason_.startswith("no improvement")
    assert clf.leaderboard_.generation.max() < 29


def test_cv_auto_takes_eight_folds_on_small_data_and_five_on_large(binary_data):
    from evoens._data import auto_folds

    assert (auto_folds(9_999), auto_folds(10_000)) == (8, 5)  # no budget: by rows
    assert (auto_folds(4_799, 60), auto_folds(4_800, 60)) == (8, 5)  # rows against the budget
    assert (auto_folds(9_999, 300), auto_folds(10_000, 300)) == (8, 5)
    X, y = binary_data
    params = {
        **FAST,
        "cv": "auto",
        "generations": 1,
        "population_size": 2,
        "backend": "sequential",
    }
    clf = EvoEnsembleClassifier(**params).fit(X, y)
    assert {len(f) for f in clf.leaderboard_["fold_scores"]} == {8}
    assert len(clf.ensemble_.members[0].models) == 8


BIG_FOREST = """
name = "big-forest"
[learners.extra_trees]
component = "extra_trees"
[learners.extra_trees.defaults]
n_estimators = 4000
"""


@pytest.mark.slow
def test_refit_holds_the_budget_and_uses_each_candidates_seed(tmp_path):
    """A refit of 4,000 trees on all rows would take far longer than the budget left:
    it stops early."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=4000, n_features=20, random_state=0)
    path = tmp_path / "forest.toml"
    path.write_text(BIG_FOREST)
    budget = 8.0
    clf = EvoEnsembleClassifier(
        space=str(path),
        time_budget=budget,
        refit=True,
        n_jobs=2,
        cv=3,
        random_state=0,
        device="cpu",
    ).fit(X, y)
    assert clf.fit_time_ <= budget * 1.05 + 0.5, clf.fit_time_
    assert set(clf.refit_) == {m.id for m in clf.ensemble_.members}
    for member in clf.ensemble_.members:
        if clf.refit_[member.id] == "refit on all rows":
            (pipe,) = member.models
            assert pipe[-1].random_state == member.seed
            assert 0 < len(pipe[-1].model_.estimators_) < 4000
        else:
            assert len(member.models) == 3
    assert clf.predict(X[:5]).shape == (5,)


def test_predicting_on_threads_gives_the_same_predictions(binary_data):
    X, y = binary_data
    clf = EvoEnsembleClassifier(generations=2, population_size=4, **SEQ).fit(X, y)
    assert sum(len(m.models) for m in clf.ensemble_.members) > 1
    Xe = clf.encoder_.transform(X)
    np.testing.assert_array_equal(
        clf.ensemble_.predict(Xe, n_jobs=1), clf.ensemble_.predict(Xe, n_jobs=2)
    )
