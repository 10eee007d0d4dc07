"""Scoring on folds that lack a class: the fold score may be NaN, the pooled
out-of-fold score decides."""

import numpy as np
import pytest
from sklearn.datasets import load_wine
from sklearn.metrics import log_loss, make_scorer

from evoens import EvoEnsembleClassifier
from evoens._data import Dataset, make_folds
from evoens._metrics import _FAST, get_metric
from evoens.evaluation import Candidate, EvalContext, Status, evaluate
from evoens.space import Genome, load_space

_SPACE = """name = "tiny"
[learners.logistic]
component = "linear"
steps = { scaler = ["standard"] }
[learners.logistic.defaults]
C = 1.0
[learners.logistic.params]
C = { low = 0.01, high = 100.0, log = true }
"""

_MULTICLASS = sorted(n for n, (_, tasks) in _FAST.items() if "multiclass" in tasks)
_SKLEARN = ["roc_auc_ovr_weighted", "roc_auc_ovo", "f1_macro", "top_k_accuracy"]
_CUSTOM = make_scorer(log_loss, greater_is_better=False, response_method="predict_proba")


@pytest.fixture(scope="module")
def wine_with_a_rare_class():
    """Wine with class 2 cut to 5 rows: with 8 folds, some test folds lack it."""
    X, y = load_wine(return_X_y=True)
    keep = np.r_[np.flatnonzero(y != 2), np.flatnonzero(y == 2)[:5]]
    return X[keep], y[keep]


@pytest.mark.parametrize(
    "scoring",
    _MULTICLASS + _SKLEARN + [_CUSTOM],
    ids=_MULTICLASS + _SKLEARN + ["make_scorer(log_loss)"],
)
def test_fold_without_a_class_scores_nan_and_the_pooled_score_decides(
    scoring, wine_with_a_rare_class, tmp_path
):
    X, y = wine_with_a_rare_class
    space = tmp_path / "tiny.toml"
    space.write_text(_SPACE)
    clf = EvoEnsembleClassifier(
        scoring=scoring,
        cv=8,
        space=str(space),
        generations=1,
        population_size=2,
        backend="sequential",
        time_budget=None,
        random_state=0,
        device="cpu",
    )
    clf.fit(X, y)
    ok = clf.leaderboard_[clf.leaderboard_["status"] == "ok"]
    assert len(ok) > 0
    assert np.isfinite(ok["score"]).all() and np.isfinite(clf.best_score_)
    for folds in ok["fold_scores"]:
        assert len(folds) == 8  # NaN allowed where a fold lacks the rare class
    assert clf.predict_proba(X).shape == (len(y), 3)


def _rare_class_context(X, y, scoring, space_path, rare_first):
    folds = make_folds(y, "multiclass", 8, 0)
    lacking = [k for k, (_, te) in enumerate(folds) if not (y[te] == 2).any()]
    first = lacking[0] if rare_first else next(k for k in range(8) if k not in lacking)
    folds = [folds[first]] + [f for k, f in enumerate(folds) if k != first]
    data = Dataset(X, y, "multiclass", np.zeros(X.shape[1], dtype=bool), folds, 3)
    return EvalContext(
        data, get_metric(scoring, "multiclass", np.array([0, 1, 2])), load_space(space_path)
    )


@pytest.mark.parametrize(
    "scoring", ["roc_auc_ovr_weighted", _CUSTOM], ids=["roc_auc_ovr_weighted", "custom"]
)
def test_nan_first_fold_is_never_pruned(scoring, wine_with_a_rare_class, tmp_path):
    X, y = wine_with_a_rare_class
    space = tmp_path / "tiny.toml"
    space.write_text(_SPACE)
    genome = Genome.create("logistic", {"C": 1.0}, {"scaler": ("standard", {})})
    candidate = Candidate(
        0, genome, 0, 0, prune_below=float("inf")
    )  # any finite first fold is pruned
    nan_first = evaluate(
        candidate, _rare_class_context(X, y, scoring, str(space), rare_first=True)
    )
    assert nan_first.status == Status.OK, nan_first.error
    assert np.isnan(nan_first.fold_scores[0]) and np.isfinite(nan_first.score)
    finite_first = evaluate(
        candidate, _rare_class_context(X, y, scoring, str(space), rare_first=False)
    )
    assert finite_first.status == Status.PRUNED
