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
        evaluations.append(
            Evaluation(
                Candidate(i, g, 0, 0),
                Status.OK,
                score=metric(y, p),
                oof=p.astype(np.float32),
                models=[],
            )
        )
    folds = make_folds(y, "binary", 5, 0)
    model = EnsembleBuilder(metric).build(evaluations, y, folds, "binary", 2)
    assert set(model.candidates_scores) == {"weighted", "stacked"}
    # the stacker, unless the weighted ensemble beat it on the held-out folds
    assert model.kind == "stacked"
    assert model.oof_score == model.candidates_scores["stacked"]
    assert abs(sum(m.weight for m in model.members) - 1) < 1e-9


def test_the_weighted_ensemble_replaces_the_stacker_only_on_clear_held_out_evidence():
    """The held-out comparison sees one fold model per row where the fitted stacker
    averages k of them: the weighted ensemble needs a fold-by-fold win beyond
    STACKER_MARGIN_SE standard errors, not a better mean alone."""
    from evoens.ensemble._builder import STACKER_MARGIN_SE, _choose

    stacked = np.array([0.80, 0.82, 0.78, 0.81, 0.79])
    noisy = stacked + np.array([0.03, -0.02, 0.02, -0.01, 0.0])  # better mean, within noise
    assert noisy.mean() > stacked.mean()

    def choose(weighted, stacked):
        pooled = {"weighted": np.nanmean(weighted), "stacked": np.nanmean(stacked)}
        return _choose(pooled, {"weighted": list(weighted), "stacked": list(stacked)})

    assert choose(noisy, stacked) == "stacked"
    clear = stacked + 0.01 + np.array([0.001, -0.001, 0.0, 0.001, -0.001])
    assert choose(clear, stacked) == "weighted"
    d = clear - stacked
    assert d.mean() > STACKER_MARGIN_SE * d.std(ddof=1) / np.sqrt(len(d))
    # folds that cannot be scored (a class missing) are left out, pairwise
    assert choose(np.r_[clear[:4], np.nan], np.r_[np.nan, stacked[1:]]) == "weighted"
    # with fewer than two scored folds, the better score on all rows decides
    assert choose(np.r_[np.nan, np.nan, np.nan, np.nan, 0.9], stacked) == "weighted"
    # an option the deadline cut short was not compared: the weighted ensemble stays
    assert _choose({"weighted": 0.8}, {"weighted": list(stacked)}) == "weighted"
    assert _choose({"stacked": 0.9}, {"stacked": list(stacked)}) == "weighted"


class _SlowToCompareWeighted(EnsembleBuilder):
    """A builder whose held-out weighted fits take 1.5 s each: the comparison runs out
    of time there."""

    def _weighted(self, preds, y, w, rows, te, task, n_classes, deadline=None):
        if te is not None:
            import time

            time.sleep(1.5)
        return super()._weighted(preds, y, w, rows, te, task, n_classes, deadline)


def test_an_unfinished_comparison_keeps_the_weighted_ensemble():
    """The stacker was compared, weighted ran out of time: weighted (fitted first) stays."""
    import time

    y, preds = _complementary()
    metric = get_metric("neg_log_loss", "binary")
    evaluations = [
        Evaluation(
            Candidate(i, Genome.create("lightgbm", {"num_leaves": 10 + i}), 0, 0),
            Status.OK,
            score=metric(y, p),
            oof=p.astype(np.float32),
            models=[],
        )
        for i, p in enumerate(preds)
    ]
    folds = make_folds(y, "binary", 5, 0)
    model = _SlowToCompareWeighted(metric).build(
        evaluations, y, folds, "binary", 2, deadline=time.time() + 2.5
    )
    assert "stacked" in model.candidates_scores and "weighted" not in model.candidates_scores
    assert model.kind == "weighted"
    assert len(model.members) >= 2


def _evaluation(i, p, y, metric, predict_time=0.01, folds=(0.80, 0.82, 0.78, 0.81, 0.79)):
    g = Genome.create("lightgbm", {"num_leaves": 10 + i})
    return Evaluation(
        Candidate(i, g, 0, 0),
        Status.OK,
        score=metric(y, p),
        oof=p.astype(np.float32),
        models=[],
        fold_scores=list(folds),
        predict_time=predict_time,
        n_predicted=len(y),
    )


def test_a_costly_member_without_a_real_gain_is_left_out():
    """A member 500x slower to predict whose gain is below the fold-to-fold noise does
    not get in."""
    y, (a, _, b) = _complementary()
    metric = get_metric("roc_auc", "binary")
    better_a = np.column_stack([1 - a[:, 1] * 0.999, a[:, 1] * 0.999 + 0.0005 * (y == 1)])
    evaluations = [
        _evaluation(0, a, y, metric),
        _evaluation(1, b, y, metric),
        _evaluation(2, better_a, y, metric, predict_time=5.0),
        _evaluation(3, b * 0.99 + 0.005, y, metric),
    ]
    folds = make_folds(y, "binary", 5, 0)
    model = EnsembleBuilder(metric).build(evaluations, y, folds, "binary", 2)
    assert 2 not in {m.id for m in model.members}
    assert model.predict_per_1k < evaluations[2].predict_per_1k


def test_a_costly_member_with_a_real_gain_stays():
    y, (a, _, b) = _complementary()
    metric = get_metric("roc_auc", "binary")
    evaluations = [
        _evaluation(0, a, y, metric),
        _evaluation(1, a * 0.99 + 0.005, y, metric),
        _evaluation(2, b, y, metric, predict_time=5.0),
    ]
    model = EnsembleBuilder(metric).build(
        evaluations, y, make_folds(y, "binary", 5, 0), "binary", 2
    )
    assert 2 in {m.id for m in model.members}


def test_the_stacker_takes_the_greedy_selection_not_near_copies_of_the_best():
    """A search that bred one model five times fills the top by score with copies; the
    stacker's members are the greedy selection's, so the complementary model is among them."""
    y, (a, _, b) = _complementary()
    metric = get_metric("neg_log_loss", "binary")
    rng = np.random.default_rng(1)
    copies = [np.clip(a + rng.normal(0, 1e-4, a.shape), 1e-6, 1) for _ in range(5)]
    copies = [c / c.sum(axis=1, keepdims=True) for c in copies]
    noise = rng.random(len(y))
    worse_b = 0.7 * b + 0.3 * np.column_stack([1 - noise, noise])
    preds = copies + [worse_b]
    evaluations = [_evaluation(i, p, y, metric) for i, p in enumerate(preds)]
    assert max(e.score for e in evaluations[:5]) > evaluations[5].score  # b ranks last
    folds = make_folds(y, "binary", 5, 0)
    model = EnsembleBuilder(metric, max_stack=3).build(evaluations, y, folds, "binary", 2)
    scores = model.candidates_scores
    # stacking two complementary models beats blending them (on copies alone it would not)
    assert scores["stacked"] > scores["weighted"] + 0.1
    assert model.kind == "stacked" and model.option == "stacked"
    assert 5 in {m.id for m in model.members}


def test_a_stacker_predicts_fold_by_fold_as_it_was_fitted():
    """Its inputs at predict time are single fold models' predictions, as the OOF ones
    it learnt on were; the outputs are averaged.  (On the fold average it sees smoother
    inputs than it was fitted to.)"""
    from sklearn.ensemble import ExtraTreesClassifier

    from evoens.ensemble import EnsembleModel, Member
    from evoens.ensemble._stacking import Stacker

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=300) > 0).astype(int)
    folds = make_folds(y, "binary", 3, 0)
    members, oof = [], []
    for j, depth in enumerate((2, None)):
        models, p = [], np.zeros((len(y), 2))
        for k, (tr, te) in enumerate(folds):
            m = ExtraTreesClassifier(20, max_depth=depth, random_state=k).fit(X[tr], y[tr])
            models.append(m)
            p[te] = m.predict_proba(X[te])
        members.append(Member(j, None, models, 0.5, 0.0))
        oof.append(p)
    stacker = Stacker("binary").fit(oof, y, n_classes=2)
    model = EnsembleModel("stacked", members, "binary", 2, stacker)
    X_new = rng.normal(size=(50, 4))
    by_fold = [[mb.models[k].predict_proba(X_new) for mb in members] for k in range(3)]
    expected = np.mean([stacker.predict(f) for f in by_fold], axis=0)
    np.testing.assert_allclose(model.predict(X_new), expected)
    np.testing.assert_allclose(model.predict(X_new, n_jobs=2), expected)
    averaged = stacker.predict([mb.predict(X_new, "binary", 2) for mb in members])
    assert np.abs(averaged - expected).max() > 1e-3  # the two differ: the test can fail
    model.stack_per_fold = False
    np.testing.assert_allclose(model.predict(X_new), averaged)
