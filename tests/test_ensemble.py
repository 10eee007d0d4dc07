"""Ensemble selection and stacking on OOF predictions: pure math over arrays."""

import numpy as np

from evoens._data import make_folds
from evoens._metrics import get_metric
from evoens.ensemble import EnsembleBuilder, greedy_weights, marginal_gains
from evoens.evaluation import Candidate, Evaluation, Status
from evoens.space import Genome


def _complementary(n=600, seed=0):
    """Two models right on different halves of the rows, and a copy of the first."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    half = np.arange(n) < n // 2
    good_a = np.where(half, y, rng.random(n))
    good_b = np.where(~half, y, rng.random(n))
    as_proba = lambda p: np.column_stack([1 - p, p])  # noqa: E731
    a = as_proba(np.clip(0.8 * good_a + 0.1, 0, 1))
    b = as_proba(np.clip(0.8 * good_b + 0.1, 0, 1))
    return y, [a, a.copy() + 1e-6, b]


def test_greedy_selection_combines_complementary_members_not_copies():
    y, preds = _complementary()
    metric = get_metric("neg_log_loss", "binary")
    weights = greedy_weights(preds, y, metric, n_iter=20)
    assert weights[2] > 0.3
    assert weights[0] + weights[1] > 0.3


def test_marginal_gain_rewards_the_complement_over_the_copy():
    y, preds = _complementary()
    metric = get_metric("roc_auc", "binary")
    gains = marginal_gains(preds[0], 1, preds, y, metric)
    assert gains[2] > gains[1]


def test_builder_chooses_on_held_out_evidence_and_predicts():
    y, preds = _complementary()
    metric = get_metric("neg_log_loss", "binary")
    evaluations = []
    for i, p in enumerate(preds):
        g = Genome.create("lightgbm", {"num_leaves": 10 + i})
        evaluations.append(Evaluation(Candidate(i, g, 0, 0), Status.OK, score=metric(y, p), oof=p.astype(np.float32),
                                      models=[]))
    folds = make_folds(y, "binary", 5, 0)
    model = EnsembleBuilder(metric).build(evaluations, y, folds, "binary", 2)
    assert set(model.candidates_scores) == {"single", "weighted", "stacked"}
    assert model.kind in ("weighted", "stacked")
    assert model.candidates_scores[model.kind] > model.candidates_scores["single"]
    assert abs(sum(m.weight for m in model.members) - 1) < 1e-9
