"""sample_weight is honoured by the learners that accept it; the others are left out of
a weighted run, out loud."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from evoens import EvoEnsembleClassifier
from evoens.exceptions import IgnoredLearnersWarning, InvalidInputError, InvalidSpaceError
from evoens.learners import KNNLearner, Learner, LinearLearner, MLPLearner

from .conftest import FAST

_SPACE = """name = "with_knn"
[learners.logistic]
component = "linear"
steps = { scaler = ["standard"] }
[learners.logistic.defaults]
C = 1.0
[learners.knn]
component = "knn"
steps = { scaler = ["standard"] }
[learners.knn.defaults]
n_neighbors = 15
"""

_SEQ = dict(FAST, backend="sequential", time_budget=None, generations=1, population_size=2)


def test_each_learner_says_whether_it_takes_sample_weight():
    assert Learner.supports_sample_weight and LinearLearner.supports_sample_weight
    assert (
        MLPLearner.supports_sample_weight
    )  # scikit-learn >= 1.7: MLP partial_fit takes sample_weight
    assert not KNNLearner.supports_sample_weight
    X, y = np.arange(20.0).reshape(10, 2), np.arange(10) % 2
    with pytest.raises(InvalidInputError, match="KNNLearner cannot take sample_weight"):
        KNNLearner("binary").fit(X, y, sample_weight=np.ones(10))


def test_mlp_honours_sample_weight():
    X, y = load_wine(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    w = np.where(y == 0, 0.0, 1.0)  # zero out class 0's rows
    params = {"hidden_size": 16, "num_layers": 1, "max_iter": 100, "learning_rate_init": 0.01}
    plain = MLPLearner("multiclass", params).fit(X, y).predict_proba(X)
    weighted = MLPLearner("multiclass", params).fit(X, y, sample_weight=w).predict_proba(X)
    assert plain[y == 0, 0].mean() > 0.8
    assert weighted[y == 0, 0].mean() < 0.3  # class 0 is never seen with weight: it loses its rows


def test_weighted_fit_leaves_out_knn_with_one_warning(binary_data, tmp_path):
    X, y = binary_data
    space = tmp_path / "with_knn.toml"
    space.write_text(_SPACE)
    w = np.where(np.asarray(y) == 1, 2.0, 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        weighted = EvoEnsembleClassifier(**{**_SEQ, "space": str(space)}).fit(
            X, y, sample_weight=w
        )
    ignored = [c for c in caught if issubclass(c.category, IgnoredLearnersWarning)]
    assert len(ignored) == 1 and "knn" in str(ignored[0].message)
    assert "knn" not in set(weighted.leaderboard_["learner"])
    assert (weighted.leaderboard_["status"] == "ok").any()
    with warnings.catch_warnings():
        warnings.simplefilter("error", IgnoredLearnersWarning)
        plain = EvoEnsembleClassifier(**{**_SEQ, "space": str(space)}).fit(X, y)
    assert "knn" in set(plain.leaderboard_["learner"])


def test_weighted_fit_with_only_learners_that_refuse_weights_raises(binary_data, tmp_path):
    X, y = binary_data
    space = tmp_path / "knn_only.toml"
    space.write_text('name = "knn_only"\n[learners.knn]\ncomponent = "knn"\n')
    with pytest.raises(InvalidSpaceError, match="no learner that takes sample_weight.*knn"):
        EvoEnsembleClassifier(**{**_SEQ, "space": str(space)}).fit(
            X, y, sample_weight=np.ones(len(y))
        )
