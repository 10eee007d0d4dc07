"""Linear models: logistic regression for classification, ridge for regression."""

from __future__ import annotations

import numpy as np

from ._base import Learner

__all__ = ["LinearLearner"]


class LinearLearner(Learner):
    """Logistic regression (classification) or ridge regression; strength ``C`` / ``alpha``."""

    def _fit(self, X, y, sample_weight, params):
        from sklearn.linear_model import LogisticRegression, Ridge

        if self._is_classifier:
            if len(self.classes_) == 1:
                self.model_ = None
                return
            self.model_ = LogisticRegression(
                C=params.get("C", 1.0), max_iter=params.get("max_iter", 1000)
            )
        else:
            self.model_ = Ridge(
                alpha=params.get("alpha", 1.0), random_state=int(self.random_state)
            )
        self.model_.fit(X, y, sample_weight=sample_weight)

    def _predict(self, X):
        if self._is_classifier:
            if self.model_ is None:
                return np.ones((len(X), 1))
            return self.model_.predict_proba(X)
        return self.model_.predict(X)
