"""Scoring on predictions: one :class:`Metric` per scikit-learn scoring name.

Candidates are scored on their out-of-fold predictions (probabilities for
classifiers), never by re-running a model, so a metric here is a function of
``(y_codes, predictions)`` where larger is better.  Common names have fast
implementations; any other scikit-learn scorer name or scorer callable goes
through :class:`_FixedPredictions`, an estimator that replays the predictions.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer, get_scorer_names, roc_auc_score

from .exceptions import InvalidInputError

__all__ = ["Metric", "get_metric", "default_scoring"]

_EPS = 1e-15


def default_scoring(task: str) -> str:
    """The AutoML Benchmark's metric for each task."""
    return {
        "binary": "roc_auc",
        "multiclass": "neg_log_loss",
        "regression": "neg_root_mean_squared_error",
    }[task]


def _labels(pred):
    return pred.argmax(axis=1) if pred.ndim == 2 else pred


def _roc_auc(y, pred, w):
    if pred.shape[1] == 2 and w is None:
        return _binary_auc(y, pred[:, 1])
    if pred.shape[1] == 2:
        return roc_auc_score(y, pred[:, 1], sample_weight=w)
    p = pred / np.clip(pred.sum(axis=1, keepdims=True), _EPS, None)
    return roc_auc_score(y, p, multi_class="ovr", labels=np.arange(pred.shape[1]), sample_weight=w)


def _binary_auc(y, score):
    """Mann-Whitney AUC from average ranks (ties count one half): 3-10x faster than sklearn's."""
    positives = y == 1
    n_pos = int(positives.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _neg_log_loss(y, pred, w):
    p = np.clip(pred[np.arange(len(y)), y].astype(np.float64), _EPS, None)
    p = p / np.clip(pred.sum(axis=1), _EPS, None)
    return -float(np.average(-np.log(np.clip(p, _EPS, 1.0)), weights=w))


def _accuracy(y, pred, w):
    return float(np.average(_labels(pred) == y, weights=w))


def _balanced_accuracy(y, pred, w):
    labels = _labels(pred)
    w = np.ones(len(y)) if w is None else w
    recalls = [np.average(labels[y == c] == c, weights=w[y == c]) for c in np.unique(y)]
    return float(np.mean(recalls))


def _neg_rmse(y, pred, w):
    return -float(np.sqrt(np.average((y - pred) ** 2, weights=w)))


def _neg_mse(y, pred, w):
    return -float(np.average((y - pred) ** 2, weights=w))


def _neg_mae(y, pred, w):
    return -float(np.average(np.abs(y - pred), weights=w))


def _r2(y, pred, w):
    mean = np.average(y, weights=w)
    ss_tot = np.average((y - mean) ** 2, weights=w)
    ss_res = np.average((y - pred) ** 2, weights=w)
    return float(1.0 - ss_res / ss_tot) if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)


_FAST = {
    "roc_auc": (_roc_auc, ("binary", "multiclass")),
    "roc_auc_ovr": (_roc_auc, ("binary", "multiclass")),
    "neg_log_loss": (_neg_log_loss, ("binary", "multiclass")),
    "accuracy": (_accuracy, ("binary", "multiclass")),
    "balanced_accuracy": (_balanced_accuracy, ("binary", "multiclass")),
    "neg_root_mean_squared_error": (_neg_rmse, ("regression",)),
    "neg_mean_squared_error": (_neg_mse, ("regression",)),
    "neg_mean_absolute_error": (_neg_mae, ("regression",)),
    "r2": (_r2, ("regression",)),
}


class _FixedPredictions(BaseEstimator):
    """Replays stored predictions so any scikit-learn scorer can score them."""

    def __init__(self, pred=None, classes=None):
        self.pred = pred
        self.classes = classes

    def predict(self, X):
        if self.classes is None:
            return self.pred
        return self.classes[self.pred.argmax(axis=1)]


class _FixedClassifier(ClassifierMixin, _FixedPredictions):
    @property
    def classes_(self):
        return self.classes

    def predict_proba(self, X):
        return self.pred


class _FixedRegressor(RegressorMixin, _FixedPredictions):
    pass


class Metric:
    """A score where larger is better, computed on out-of-fold predictions.

    Parameters
    ----------
    scoring : str or callable
        A scikit-learn scoring name or a scorer ``scorer(estimator, X, y)``.
    task : {"binary", "multiclass", "regression"}
    classes : ndarray, optional
        The original class labels (classification), used by generic scorers.
    """

    def __init__(self, scoring, task: str, classes=None):
        self.scoring = scoring
        self.task = task
        self.classes = classes
        self.name = scoring if isinstance(scoring, str) else getattr(scoring, "__name__", "custom")
        self._fast = None
        if isinstance(scoring, str) and scoring in _FAST:
            func, tasks = _FAST[scoring]
            if task not in tasks:
                raise InvalidInputError(f"scoring={scoring!r} does not apply to a {task} task")
            self._fast = func
        elif isinstance(scoring, str):
            if scoring not in get_scorer_names():
                raise InvalidInputError(
                    f"scoring={scoring!r} is not a scikit-learn scoring name; "
                    "see sklearn.metrics.get_scorer_names()"
                )
            self._scorer = get_scorer(scoring)
        elif callable(scoring):
            self._scorer = scoring
        else:
            raise InvalidInputError(
                f"scoring must be a string, a callable or None; got {scoring!r}"
            )

    def __call__(self, y, pred, sample_weight=None) -> float:
        if self._fast is not None:
            return float(self._fast(y, pred, sample_weight))
        if self.task == "regression":
            est, y_true = _FixedRegressor(pred), y
        else:
            est, y_true = _FixedClassifier(pred, self.classes), self.classes[y]
        X_dummy = np.zeros((len(y), 1))
        if sample_weight is not None:
            return float(self._scorer(est, X_dummy, y_true, sample_weight=sample_weight))
        return float(self._scorer(est, X_dummy, y_true))

    def fold_score(self, y, pred, sample_weight=None) -> float:
        """The score on one CV fold, NaN where the fold cannot be scored.

        A fold may lack a class (5 rows of it in 8 folds), and some scorers
        (``roc_auc_ovr_weighted``, ``log_loss`` through ``make_scorer``) then
        raise; others see a zero weight sum.  Fold scores only inform (pruning
        skips a NaN); the score over all out-of-fold rows decides, and a
        scorer that fails there still fails the evaluation.
        """
        try:
            return self(y, pred, sample_weight)
        except (ValueError, ZeroDivisionError):
            return float("nan")

    def __repr__(self):
        return f"Metric({self.name!r}, task={self.task!r})"


def get_metric(scoring, task: str, classes=None) -> Metric:
    """Build the run's :class:`Metric`; ``None`` means the task's default."""
    return Metric(default_scoring(task) if scoring is None else scoring, task, classes)
