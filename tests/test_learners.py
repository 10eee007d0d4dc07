"""Learners under the soft per-fold deadline: stop growing, keep a usable model."""

import time

import numpy as np
import pytest

from evoens._deadline import deadline_scope, fold_scope
from evoens.learners import ExtraTreesLearner, RandomForestLearner


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


def test_forest_fold_model_keeps_its_share_of_the_trees_for_the_bag():
    X, y = _regression(n=400, d=5)
    full = ExtraTreesLearner("regression", {"n_estimators": 400}).fit(X, y)
    expected = full.predict(X[:50])
    full.shrink_for_bag(8)
    assert len(full.model_.estimators_) == 50 and full.model_.n_estimators == 50
    # 50 of the 400 trees: close to the full forest's predictions, not equal
    shrunk = full.predict(X[:50])
    assert 0 < np.abs(shrunk - expected).mean() < 0.2 * np.abs(expected).mean()
    small = RandomForestLearner("regression", {"n_estimators": 30}).fit(X, y)
    small.shrink_for_bag(8)
    assert len(small.model_.estimators_) == 25  # never below min_bag_trees


def test_forest_fold_model_grows_only_what_the_bag_keeps_and_enough_for_its_oof():
    X, y = _regression(n=400, d=5)
    fold = ExtraTreesLearner("regression", {"n_estimators": 1000})
    fold.bag_size = 8
    assert len(fold.fit(X, y).model_.estimators_) == 125  # 1000 / 8
    fold = RandomForestLearner("regression", {"n_estimators": 300})
    fold.bag_size = 8
    assert len(fold.fit(X, y).model_.estimators_) == 64  # 300 / 8, but min_fold_trees
    three = np.digitize(y, np.quantile(y, [1 / 3, 2 / 3]))
    fold = RandomForestLearner("multiclass", {"n_estimators": 300})
    fold.bag_size = 8
    assert len(fold.fit(X, three).model_.estimators_) == 300  # multiclass: every tree
    whole = RandomForestLearner("regression", {"n_estimators": 100})  # not a fold model
    assert len(whole.fit(X, y).model_.estimators_) == 100


def test_forest_members_keep_their_share_of_trees_for_the_bag(binary_data, tmp_path):
    from sklearn.metrics import roc_auc_score

    from evoens import EvoEnsembleClassifier

    space = tmp_path / "forest.toml"
    space.write_text(
        'name = "forest"\n[learners.extra_trees]\ncomponent = "extra_trees"\n'
        "[learners.extra_trees.defaults]\nn_estimators = 200\n"
    )
    X, y = binary_data
    clf = EvoEnsembleClassifier(
        space=str(space),
        generations=1,
        population_size=1,
        cv=4,
        random_state=0,
        backend="sequential",
        device="cpu",
    ).fit(X, y)
    (member,) = clf.ensemble_.members
    assert [len(pipe[-1].model_.estimators_) for pipe in member.models] == [50] * 4
    fold_scores = clf.leaderboard_["fold_scores"].iloc[0]
    assert len(fold_scores) == 4 and all(s > 0.9 for s in fold_scores)
    assert roc_auc_score(y, clf.predict_proba(X)[:, 1]) > 0.95


def test_importing_evoens_and_its_default_space_imports_no_optional_extra():
    """CatBoost and PyTorch are extras: evoens, its learners and the default space load
    without importing them (they are imported where their learner trains)."""
    import subprocess
    import sys

    code = (
        "import sys, evoens\n"
        "from evoens.learners import LEARNERS\n"
        "from evoens.space import load_space\n"
        "load_space('default')\n"
        "print(sorted(m for m in ('torch', 'catboost') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_learners_package_imports_nothing_from_the_space():
    """``evoens.space`` builds pipelines from learners; the learners never import the space."""
    import ast
    from pathlib import Path

    import evoens.learners

    for path in Path(evoens.learners.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [f"{'.' * node.level}{node.module or ''}"]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                module = name.replace("..", "evoens.", 1) if name.startswith("..") else name
                assert module.split(".")[:2] != ["evoens", "space"], f"{path.name}: {name}"


def test_custom_learners_written_against_evoens_space_still_import():
    import evoens.learners
    import evoens.space

    assert evoens.space.Learner is evoens.learners.Learner


@pytest.mark.parametrize("rows, refits", [(6_000, True), (17_000, False)])
def test_booster_refits_on_the_whole_fold_up_to_refit_rows(rows, refits):
    from evoens.learners import LightGBMLearner

    assert LightGBMLearner.refit_rows == 16_000  # 201_pol's 9,000-row folds refit
    X, y = _regression(n=rows, d=5)
    model = LightGBMLearner("regression", {"learning_rate": 0.3}).fit(X, y)
    booster = model.booster_
    if refits:  # retrained on every row, no holdout, for 1.1x the early-stopped rounds
        assert booster.best_iteration == 0 and model.n_rounds_ == booster.current_iteration()
    else:  # the early-stopped booster, trained on the rows the holdout left
        assert 0 < booster.best_iteration == model.n_rounds_
