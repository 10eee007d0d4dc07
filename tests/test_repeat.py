"""Repeats: a long run evaluates its ensemble's likely members again on a second fold split."""

import time

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from evoens._budget import REPEAT_MIN_SECONDS, Budget
from evoens._data import Dataset, fold_numbers, make_folds
from evoens._metrics import get_metric
from evoens._predict import predict_aligned
from evoens.ensemble import EnsembleBuilder
from evoens.evaluation import Candidate, Evaluation, Status
from evoens.run import Run, RunOptions
from evoens.run._repeat import Repeats
from evoens.space import Genome, load_space


def _data(X, y, task="binary", k=4, seed=0):
    folds = make_folds(y, task, k, seed)
    second = fold_numbers(make_folds(y, task, k, seed + 1), len(y))
    return Dataset(X, y, task, np.zeros(X.shape[1], bool), folds, 2, repeat_fold_of=second)


def test_the_second_split_is_another_stratified_partition_into_as_many_folds():
    X, y = load_breast_cancer(return_X_y=True)
    data = _data(X, y)
    first, second = data.folds_for(0), data.folds_for(1)
    assert first is data.folds and len(second) == len(first)
    tests = np.concatenate([te for _, te in second])
    assert np.array_equal(np.sort(tests), np.arange(len(y)))  # every row once
    for tr, te in second:
        assert np.intersect1d(tr, te).size == 0 and len(tr) + len(te) == len(y)
        assert abs(y[te].mean() - y.mean()) < 0.02  # stratified
    assert not any(np.array_equal(a[1], b[1]) for a, b in zip(first, second))


def test_only_a_long_run_has_a_repeat_phase():
    assert Budget(60.0, started=0.0).repeat_start is None
    assert Budget(None, started=0.0).repeat_start is None
    b = Budget(300.0, started=0.0)
    assert b.search_end - b.repeat_start == pytest.approx(0.15 * b.search_end)
    assert REPEAT_MIN_SECONDS > 60.0


def test_a_merged_record_averages_the_two_splits_and_keeps_both_sets_of_models():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    X = rng.normal(size=(200, 3))
    data = _data(X, y)
    metric = get_metric(None, "binary", np.arange(2))

    def record(oof, seed, repeat=0):
        p = np.column_stack([1 - oof, oof]).astype(np.float32)
        c = Candidate(7, Genome.create("lightgbm", {}), 0, seed, repeat=repeat)
        return Evaluation(
            c,
            Status.OK,
            score=metric(y, p),
            fold_scores=[0.5] * 4,
            oof=p,
            models=[f"m{seed}-{k}" for k in range(4)],
            predict_time=0.2,
            n_predicted=200,
        )

    first = record(np.clip(y + rng.normal(0, 0.6, 200), 0.01, 0.99), 1)
    again = record(np.clip(y + rng.normal(0, 0.6, 200), 0.01, 0.99), 2, repeat=1)
    other = record(np.full(200, 0.5), 3)
    other.candidate = Candidate(8, Genome.create("ridge", {}), 0, 3)
    repeats = Repeats(EnsembleBuilder(metric), data, Budget(300.0, started=time.time()))
    repeats.receive(again)
    merged, untouched = repeats.merged([first, other], metric)
    assert untouched is other
    assert np.allclose(merged.oof, (first.oof + again.oof) / 2, atol=1e-6)
    assert merged.models == first.models + again.models
    assert merged.score == pytest.approx(metric(y, merged.oof.astype(np.float64)))
    assert merged.score > max(first.score, again.score)  # two noisy views average better
    assert merged.predict_per_1k == pytest.approx(2 * first.predict_per_1k)
    assert len(first.models) == 4 and first.score == metric(y, first.oof)  # a copy


def test_a_long_run_repeats_its_ensemble_members_on_the_second_split():
    # a 130 s budget that started 95 s ago: about 26 s of search are left, the last
    # 18 s of them the repeat phase, with real fits of the default space's seeds
    X, y = load_breast_cancer(return_X_y=True)
    data = _data(X, y, k=4, seed=3)
    metric = get_metric(None, "binary", np.arange(2))
    space = load_space("default").for_task("binary")
    budget = Budget(130.0, started=time.time() - 95.0)
    options = RunOptions(time_budget=130.0, backend="local", n_workers=2, seed=3)
    result = Run(options, data, metric, space, budget).execute()

    assert result.repeated, "no ensemble member was repeated"
    assert all(e.candidate.repeat == 0 for e in result.records)  # the search's own records
    members = {m.id: m for m in result.ensemble.members}
    records = {e.id: e for e in result.records}
    for i in result.repeated:
        assert len(members[i].models) == 2 * len(data.folds)
        # the second half was trained on the second split: each model saw 3/4 of the rows,
        # and the two halves' models differ
        first, second = members[i].models[:4], members[i].models[4:]
        p1 = np.mean([predict_aligned(m, X, "binary", 2) for m in first], axis=0)
        p2 = np.mean([predict_aligned(m, X, "binary", 2) for m in second], axis=0)
        assert not np.allclose(p1, p2)
        assert records[i].models is None or len(records[i].models) == 4
    pred = result.ensemble.predict(X)
    assert pred.shape == (len(y), 2) and np.all(np.isfinite(pred))
    assert time.time() - budget.started <= 130.0 * 1.05
