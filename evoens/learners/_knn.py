"""k nearest neighbours."""

from __future__ import annotations

from ._base import Learner

__all__ = ["KNNLearner"]


class KNNLearner(Learner):
    """k nearest neighbours: cheap, and its errors differ from the trees'.

    Takes no sample weights (a weighted run leaves it out).
    """

    supports_sample_weight = False

    def _fit(self, X, y, sample_weight, params):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        k = min(int(params.get("n_neighbors", 15)), len(y))
        cls = KNeighborsClassifier if self._is_classifier else KNeighborsRegressor
        self.model_ = cls(
            n_neighbors=k, weights=params.get("weights", "distance"), n_jobs=int(self.n_jobs)
        )
        self.model_.fit(X, y)

    def _predict(self, X):
        if self._is_classifier:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)
