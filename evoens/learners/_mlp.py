"""scikit-learn's multi-layer perceptron, trained epoch by epoch so it can stop when told."""

from __future__ import annotations

import inspect

import numpy as np

from .._deadline import check_deadline, should_stop
from ._base import Learner

__all__ = ["MLPLearner"]


def _mlp_takes_weights() -> bool:
    """scikit-learn's MLP ``partial_fit`` takes ``sample_weight`` from version 1.7."""
    from sklearn.neural_network import MLPClassifier

    return "sample_weight" in inspect.signature(MLPClassifier.partial_fit).parameters


def _copy_weights(model):
    return [c.copy() for c in model.coefs_], [b.copy() for b in model.intercepts_]


class MLPLearner(Learner):
    """scikit-learn's MLP, trained epoch by epoch so it can stop when told.

    ``hidden_size`` x ``num_layers`` units; up to ``max_iter`` epochs of
    ``partial_fit``, early-stopped on a 10% holdout (``patience`` epochs
    without a better holdout loss), keeping the best epoch's weights; stops
    early, keeping its best weights, when the fold's time share is used.
    Regression targets are standardised.
    """

    patience = 10
    supports_sample_weight = _mlp_takes_weights()
    #: slow to fit and rarely best: one in generation 0, the rest as immigrants
    first_generation_limit = 1

    def _make(self, params):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        size = int(params.pop("hidden_size", 128))
        layers = int(params.pop("num_layers", 2))
        params.pop("early_stopping", None)
        common = dict(
            hidden_layer_sizes=(size,) * layers, random_state=int(self.random_state), **params
        )
        return (MLPClassifier if self._is_classifier else MLPRegressor)(**common)

    def _fit(self, X, y, sample_weight, params):
        epochs = int(params.pop("max_iter", 200))
        self.model_ = self._make(params)
        target = y
        if not self._is_classifier:
            self._y_mean, self._y_std = float(np.mean(y)), float(np.std(y) or 1.0)
            target = (y - self._y_mean) / self._y_std
        split = self._holdout(y)
        tr, va = split if split is not None else (np.arange(len(y)), None)
        fit_kw = {"classes": np.arange(len(self.classes_))} if self._is_classifier else {}
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w is not None:
            tr = tr[w[tr] > 0]  # a minibatch of zero weights only would divide by zero
            fit_kw["sample_weight"] = w[tr]
        w_va = None if w is None or va is None or w[va].sum() <= 0 else w[va]
        best, best_loss, since = None, np.inf, 0
        for _ in range(epochs):
            self.model_.partial_fit(X[tr], target[tr], **fit_kw)
            check_deadline()
            if va is not None:
                loss = self._holdout_loss(X[va], target[va], w_va)
                if loss < best_loss - 1e-4:
                    best, best_loss, since = _copy_weights(self.model_), loss, 0
                else:
                    since += 1
            if since >= self.patience or should_stop():
                break
        if best is not None:
            self.model_.coefs_, self.model_.intercepts_ = best

    def _holdout_loss(self, X, y, w=None):
        if self._is_classifier:
            p = np.clip(self.model_.predict_proba(X)[np.arange(len(y)), y], 1e-15, 1.0)
            return float(-np.average(np.log(p), weights=w))
        return float(np.average((self.model_.predict(X) - y) ** 2, weights=w))

    def _predict(self, X):
        if self._is_classifier:
            return self.model_.predict_proba(X)
        return self.model_.predict(X) * self._y_std + self._y_mean
