"""The worked example of "Adding a learner" in CONTRIBUTING.md runs as written.

The example's fenced blocks are read from CONTRIBUTING.md, each starting with
a comment naming its file (``# my_learners.py``, ``# histgb.toml``), written to
real files, and used the way the section says: the space file names the
learner as ``component = "module:Class"``.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from evoens import EvoEnsembleClassifier
from evoens.learners import Learner
from evoens.space import BuildContext, Genome, build_pipeline, load_space

CONTRIBUTING = Path(__file__).resolve().parents[1] / "CONTRIBUTING.md"
_BLOCK = re.compile(r"^```(python|toml)\n# (\S+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def _example_files() -> dict:
    """File name -> text of the example's blocks (the comment naming the file kept)."""
    text = CONTRIBUTING.read_text()
    section = text[text.index("### Worked example") :]
    section = section[: section.index("\n## ")]
    return {name: f"# {name}\n{body}" for _, name, body in _BLOCK.findall(section)}


@pytest.fixture
def space_file(tmp_path, monkeypatch):
    files = _example_files()
    assert sorted(files) == ["histgb.toml", "my_learners.py"]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_learners", raising=False)
    yield tmp_path / "histgb.toml"
    sys.modules.pop("my_learners", None)


def test_example_space_names_the_example_learner(space_file):
    space = load_space(space_file)
    cls = space.learner_class("histgb")
    assert cls.__name__ == "HistGBLearner" and issubclass(cls, Learner)
    assert space.component("histgb") == "my_learners:HistGBLearner"
    assert set(space.learners["histgb"].params) == {
        "learning_rate",
        "max_leaf_nodes",
        "l2_regularization",
        "max_iter",
    }


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_example_learner_builds_fits_and_predicts(space_file, task):
    X, y = (load_breast_cancer if task == "binary" else load_diabetes)(return_X_y=True)
    X = X.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.02] = np.nan  # it takes NaN
    space = load_space(space_file).for_task(task)
    context = BuildContext(task, (False,) * X.shape[1])
    spec = space.learners["histgb"]
    for genome in (
        Genome.create("histgb", spec.defaults),
        space.sample(np.random.default_rng(0), "histgb"),
    ):
        pipe = build_pipeline(genome, space.learner_class("histgb"), context, 0)
        pipe.fit(X[:300], y[:300])
        if task == "binary":
            assert pipe.predict_proba(X[300:]).shape == (len(X) - 300, 2)
            assert (pipe.predict(X[300:]) == y[300:]).mean() > 0.85
        else:
            assert np.isfinite(pipe.predict(X[300:])).all()


def test_example_learner_stops_growing_at_the_fold_deadline(space_file):
    from evoens._deadline import fold_scope

    X, y = load_breast_cancer(return_X_y=True)
    space = load_space(space_file)
    learner_cls = space.learner_class("histgb")
    with fold_scope(time.time() - 1.0):  # the fold's share of the time is already used
        model = learner_cls("binary", {"max_iter": 300}).fit(X, y)
    assert model.model_.n_iter_ == 20  # the first chunk, kept


def test_estimator_searches_the_example_space(space_file, binary_data):
    X, y = binary_data
    started = time.time()
    clf = EvoEnsembleClassifier(
        space=str(space_file),
        backend="sequential",
        generations=1,
        population_size=2,
        cv=3,
        random_state=0,
        device="cpu",
        time_budget=None,
    ).fit(X, y)
    assert time.time() - started < 30
    assert (clf.leaderboard_["learner"] == "histgb").all()
    assert (clf.leaderboard_["status"] == "ok").all()
    assert clf.predict_proba(X[:5]).shape == (5, 2)
