"""Randomised tree ensembles: extra trees and random forests, grown in chunks."""

from __future__ import annotations

import time

from .._deadline import check_deadline, fold_time_left, should_stop
from ._base import Learner

__all__ = ["ExtraTreesLearner", "RandomForestLearner"]


class _ForestLearner(Learner):
    """Tree ensembles grown in chunks, checking the deadline between chunks.

    A fold model grows the trees its share of the bag needs (``n_estimators /
    bag_size``), but at least :attr:`min_fold_trees` for its out-of-fold
    predictions: 64 trees a fold instead of 300 at 5 or 8 folds, with the same
    bag (the first trees of a forest do not depend on how many follow) at a
    fifth of the cost.  Not on multiclass data: there the out-of-fold log loss
    of a forest needs its trees (wine, ExtraTrees: 0.85 with 300, 0.92 with
    128, 1.03 with 64), and a worse one costs the forest its ensemble weight.
    The first chunk is small; later ones are sized from the measured time per
    tree so that a chunk ends before the fold's soft deadline, rather than
    overrunning it (and then the evaluation's hard one) by a whole chunk.
    """

    chunk = 50
    first_chunk = 10
    param_defaults = {"min_samples_leaf": 1, "max_leaf_nodes": None}
    #: fewest trees a fold model keeps in :meth:`shrink_for_bag`
    min_bag_trees = 25
    #: fewest trees a fold model grows: enough for steady out-of-fold predictions
    min_fold_trees = 64

    def _make(self, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X, y, sample_weight, params):
        total = self.n_requested_ = int(params.pop("n_estimators", 300))
        multiclass = self._is_classifier and len(self.classes_) > 2
        if self.bag_size > 1 and not multiclass:  # a fold model: the bag keeps 1/bag_size
            total = min(total, max(self.min_fold_trees, -(-total // self.bag_size)))
        criterion = params.get("criterion")
        classifying = criterion in ("gini", "entropy", "log_loss")
        if criterion is not None and classifying != self._is_classifier:
            params.pop("criterion")  # a portfolio entry for the other task
        self.model_ = self._make(params)
        self.model_.set_params(
            n_jobs=int(self.n_jobs), random_state=int(self.random_state), warm_start=True
        )
        grown, step = 0, min(total, self.first_chunk)
        while step > 0:
            started = time.perf_counter()
            self.model_.set_params(n_estimators=grown + step)
            self.model_.fit(X, y, sample_weight=sample_weight)
            per_tree = (time.perf_counter() - started) / step
            grown += step
            check_deadline()
            if should_stop():
                break  # keep the trees grown so far
            step = int(min(total - grown, self.chunk, fold_time_left() / max(per_tree, 1e-6)))

    def shrink_for_bag(self, n_models: int) -> None:
        """Keep 1/``n_models`` of the trees, once this fold model's out-of-fold predictions exist.

        Predictions average the run's ``n_models`` fold models, so the bag
        still averages about as many trees as one forest (each grown on
        (k-1)/k of the rows), while memory and predict time drop k-fold: a
        full-depth forest can take 100+ MB per fold.
        """
        trees = self.model_.estimators_
        requested = max(len(trees), getattr(self, "n_requested_", 0))
        keep = min(len(trees), max(self.min_bag_trees, -(-requested // int(n_models))))
        self.model_.estimators_ = trees[:keep]
        self.model_.n_estimators = keep

    def _predict(self, X):
        if self._is_classifier:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)


class ExtraTreesLearner(_ForestLearner):
    """scikit-learn's extra trees (classifier or regressor), grown in chunks."""

    def _make(self, params):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        return (ExtraTreesClassifier if self._is_classifier else ExtraTreesRegressor)(**params)


class RandomForestLearner(_ForestLearner):
    """scikit-learn's random forest (classifier or regressor), grown in chunks."""

    def _make(self, params):
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return (RandomForestClassifier if self._is_classifier else RandomForestRegressor)(**params)
