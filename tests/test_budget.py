"""Every clock of a run comes from one Budget: one test per margin."""

import time

import numpy as np
import pytest

from evoens import _budget
from evoens._budget import GRACE, Budget, fold_deadline
from evoens._data import make_folds
from evoens._metrics import get_metric
from evoens.ensemble import EnsembleBuilder
from evoens.evaluation import Candidate, Evaluation, Status
from evoens.run import RunOptions, make_backend
from evoens.space import Genome


def test_the_search_ends_before_the_budget_by_the_reserve():
    b = Budget(60.0, started=100.0)
    assert b.end == 160.0
    assert b.reserve == pytest.approx(0.07 * 60)
    assert b.search_end == pytest.approx(160.0 - 0.07 * 60)
    assert Budget(5.0, 0.0).reserve == _budget.RESERVE_MIN  # a short run still keeps 1 s
    assert Budget(3600.0, 0.0).reserve == _budget.RESERVE_MAX  # a long one no more than 30 s
    assert Budget(None, 0.0).search_end is None and not Budget(None, 0.0).search_over(1e12)
    assert b.search_over(b.search_end) and not b.search_over(b.search_end - 0.01)


def _pool(n_candidates, n_rows, n_classes, rng):
    """Out-of-fold predictions of a full pool: weak, noisy probabilities around the truth."""
    y = rng.integers(0, n_classes, n_rows)
    evaluations = []
    for i in range(n_candidates):
        logits = rng.normal(size=(n_rows, n_classes)) + 1.5 * np.eye(n_classes)[y] * rng.uniform(
            0.3, 1
        )
        p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        genome = Genome.create(["lightgbm", "xgboost", "extra_trees", "mlp"][i % 4], {"i": i})
        e = Evaluation(
            Candidate(i, genome, 0, i),
            Status.OK,
            score=-float(i),
            oof=p.astype(np.float32),
            fold_scores=[-float(i)] * 8,
            n_predicted=n_rows,
            predict_time=0.01,
        )
        evaluations.append(e)
    return evaluations, y


def test_the_ensemble_reserve_covers_the_measured_ensemble_cost():
    # a 60 s run on 2 cores makes 10-40 evaluations of data like the public suite's
    # (up to ~5,000 rows): a full pool (20 by score plus each learner's best), 3 classes,
    # 8 folds.  (At 10,000 rows and 5 classes the step takes about 4 s, more than a 60 s
    # run keeps; the builder's deadline then drops the options it cannot finish.)
    rng = np.random.default_rng(0)
    builder = EnsembleBuilder(get_metric(None, "multiclass", np.arange(3)))
    evaluations, y = _pool(builder.max_pool + 2, 5000, 3, rng)
    folds = make_folds(y, "multiclass", 8, 0)
    started = time.perf_counter()
    model = builder.build(evaluations, y, folds, "multiclass", 3)  # no deadline: its full cost
    cost = time.perf_counter() - started
    budget = Budget(60.0, 0.0)
    # the weighted ensemble and the stacker were both compared
    assert set(model.candidates_scores) == {"weighted", "stacked"}
    assert cost < budget.reserve - _budget.ENSEMBLE_MARGIN, (
        f"the ensemble step took {cost:.1f}s; a 60 s run keeps {budget.reserve:.1f}s for it"
    )


def test_an_evaluation_may_take_a_third_of_the_budget_but_never_past_the_search():
    b = Budget(60.0, started=0.0)
    assert b.eval_time == pytest.approx(20.0)
    assert b.eval_deadline(now=10.0) == pytest.approx(30.0)
    assert (
        b.eval_deadline(now=50.0) == b.search_end
    )  # late in the run the search's end comes first
    assert Budget(6.0, 0.0).eval_time == _budget.EVAL_MIN
    assert Budget(60.0, 0.0, max_eval_time=2.0).eval_time == 2.0  # the user's cap wins
    assert Budget(None, 0.0, max_eval_time=2.0).eval_deadline(now=1.0) == 3.0
    assert Budget(None, 0.0).eval_deadline(now=1.0) is None


def test_the_ensemble_and_the_refit_stop_before_the_end():
    b = Budget(60.0, started=0.0)
    assert b.ensemble_deadline == 60.0 - _budget.ENSEMBLE_MARGIN
    assert b.refit_deadline == 60.0 - _budget.REFIT_MARGIN
    assert b.ensemble_deadline < b.end and b.refit_deadline < b.ensemble_deadline + 1.0
    # each member's refit gets its share of what is left, evenly, with room to spare
    soft = b.refit_soft_deadline(now=50.0, members_left=3)
    assert soft == pytest.approx(50.0 + _budget.REFIT_SHARE * 9.0 / 3)
    assert Budget(None, 0.0).refit_soft_deadline(now=1.0, members_left=2) is None


def test_a_fold_gets_its_share_of_the_evaluation_time_left():
    assert fold_deadline(None, 3) is None
    assert fold_deadline(110.0, folds_left=4, now=100.0) == pytest.approx(100.0 + 0.85 * 10.0 / 4)
    assert fold_deadline(90.0, folds_left=2, now=100.0) == 100.0  # already late: stop at once


def test_workers_are_killed_a_grace_period_after_their_deadline():
    for name in ("local", "dask"):
        backend = make_backend(RunOptions(backend=name, n_workers=1))
        assert backend.grace == GRACE
