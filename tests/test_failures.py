"""A failing or hanging pipeline costs only itself; the budget holds whatever pipelines do."""

import time

import numpy as np
import pytest

from evoens import AllCandidatesFailedError, EvoEnsembleClassifier

SPACE = """
name = "with-misfits"
[learners.lightgbm]
component = "lightgbm"
[learners.lightgbm.defaults]
n_estimators = 50
[learners.lightgbm.params]
num_leaves = { low = 4, high = 32 }

[learners.failing]
component = "evoens.testing:FailingLearner"

[learners.hanging]
component = "evoens.testing:HangingLearner"
"""


@pytest.fixture
def misfit_space(tmp_path):
    path = tmp_path / "misfits.toml"
    path.write_text(SPACE)
    return str(path)


@pytest.mark.slow
def test_failing_and_hanging_learners_are_recorded_and_the_run_finishes(binary_data, misfit_space):
    X, y = binary_data
    clf = EvoEnsembleClassifier(
        space=misfit_space,
        generations=2,
        population_size=4,
        n_jobs=2,
        cv=3,
        max_eval_time=2.0,
        time_budget=None,
        random_state=0,
        device="cpu",
    )
    with pytest.warns(UserWarning, match="failed with an error"):
        clf.fit(X, y)
    board = clf.leaderboard_
    statuses = dict(zip(board.learner, board.status))
    assert statuses["failing"] == "error" and statuses["hanging"] == "timeout"
    assert "FailingLearner always fails" in board.loc[board.learner == "failing", "error"].iloc[0]
    assert (board.loc[board.learner == "lightgbm", "status"] == "ok").all()
    assert clf.score(X, y) > 0.8
    assert all(m.genome.learner == "lightgbm" for m in clf.ensemble_.members)


@pytest.mark.slow
def test_time_budget_holds_when_a_pipeline_hangs_in_native_code(binary_data, misfit_space):
    X, y = binary_data
    budget = 8.0
    clf = EvoEnsembleClassifier(
        space=misfit_space,
        time_budget=budget,
        population_size=4,
        n_jobs=2,
        cv=3,
        random_state=0,
        device="cpu",
    )
    start = time.time()
    with pytest.warns(UserWarning):
        clf.fit(X, y)
    elapsed = time.time() - start
    assert elapsed <= budget * 1.05 + 0.5, elapsed
    assert "timeout" in set(clf.leaderboard_.status) or "killed" in set(clf.leaderboard_.status)


def test_every_candidate_failing_raises_one_clear_error(binary_data, tmp_path):
    path = tmp_path / "only-failing.toml"
    path.write_text('[learners.failing]\ncomponent = "evoens.testing:FailingLearner"\n')
    X, y = binary_data
    clf = EvoEnsembleClassifier(
        space=str(path),
        generations=1,
        population_size=2,
        backend="sequential",
        time_budget=None,
        cv=3,
        random_state=0,
        device="cpu",
    )
    with pytest.raises(AllCandidatesFailedError, match="FailingLearner always fails"):
        clf.fit(X, y)


def test_nan_predictions_are_a_recorded_failure(binary_data, tmp_path):
    path = tmp_path / "nan.toml"
    path.write_text(
        '[learners.nan]\ncomponent = "tests.test_failures:NaNLearner"\n'
        '[learners.lin]\ncomponent = "linear"\nsteps = { scaler = ["standard"] }\n'
    )
    X, y = binary_data
    clf = EvoEnsembleClassifier(
        space=str(path),
        generations=1,
        population_size=2,
        backend="sequential",
        time_budget=None,
        cv=3,
        random_state=0,
        device="cpu",
    )
    with pytest.warns(UserWarning):
        clf.fit(X, y)
    row = clf.leaderboard_.set_index("learner").loc["nan"]
    assert row.status == "error" and "NaN" in row.error


from evoens.learners import Learner  # noqa: E402


class NaNLearner(Learner):
    """Predicts NaN probabilities (a broken model that does not raise)."""

    def _fit(self, X, y, sample_weight, params):
        pass

    def _predict(self, X):
        return np.full((len(X), len(self.classes_)), np.nan)
