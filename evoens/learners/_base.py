"""The :class:`Learner` base class and the helpers the built-in learners share."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

from .._deadline import should_stop
from ..exceptions import InvalidInputError

__all__ = ["Learner", "BoosterLearner"]

_MIN_ROWS_FOR_EARLY_STOPPING = 50


class Learner(BaseEstimator):
    """Base of every learner a search space can name: label handling and the shared signature.

    Subclasses implement :meth:`_fit` and :meth:`_predict`; see "Adding a
    learner" in ``CONTRIBUTING.md``.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
    params : dict, optional
        The genome's hyperparameters, under the library's own names.
    categorical : tuple of int
        Indices of columns holding integer category codes.
    n_jobs : int
        Threads the learner may use (always explicit).
    random_state : int
        The candidate's seed.
    device : {"cpu", "cuda"}
        Where a learner with a :attr:`gpu_library` trains, already decided
        for this process by the run's device plan; the others ignore it.
    """

    handles_missing = False
    native_categorical = False
    #: whether ``fit`` honours ``sample_weight``; a weighted run leaves the others out
    supports_sample_weight = True
    #: what a parameter left out of ``params`` means: a genome setting one to this value
    #: is no new pipeline
    param_defaults: dict = {}
    #: at most this many of the learner's seeds in generation 0 (None: no limit)
    first_generation_limit = None
    #: the library whose GPU learner this one uses ("xgboost", "lightgbm"); None: CPU only
    gpu_library = None
    #: ``(module, extra)``: a package the learner imports that evoens does not install
    #: by default; a space naming the learner without it fails to load, naming the extra
    requires = None
    #: boosters refit on the whole training fold (the early-stopping holdout's rows
    #: included) up to this many rows.  Measured on 8 folds, LightGBM and XGBoost
    #: defaults: the refit costs 1.6-2.2x and improved the test score of car (1.1k
    #: rows a fold: log loss 0.022 -> 0.015), wine (3.2k), phoneme and spambase
    #: (3.5k, 3.0k: +0.002, +0.0003 AUC); at 5.4k (197_cpu_act) it did not.  Without
    #: it at 60 s the public suite made median 20-21 evaluations instead of 18, and
    #: scored worse on wine and churn in 2 runs of 2 (-0.002, -0.001 AUC): kept.
    #: The limit was 4,000 rows until 201_pol (9,000 rows a fold, regression) scored
    #: RMSE 4.098-4.100 with the refit (5 runs) against 4.115-4.146 without (6), at
    #: 60 s (issue 8's baseline, which always refit: 4.090-4.092)
    refit_rows = 16_000
    #: fold models whose predictions are averaged; cross-validation sets it before ``fit``
    bag_size = 1

    def __init__(
        self, task="binary", params=None, categorical=(), n_jobs=1, random_state=0, device="cpu"
    ):
        self.task = task
        self.params = params
        self.categorical = categorical
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.device = device

    @property
    def _is_classifier(self):
        return self.task != "regression"

    def fit(self, X, y, sample_weight=None):
        if sample_weight is not None and not self.supports_sample_weight:
            raise InvalidInputError(
                f"{type(self).__name__} cannot take sample_weight (supports_sample_weight=False)"
            )
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        if self._is_classifier:
            self.classes_, y = np.unique(y, return_inverse=True)
        self.n_features_in_ = X.shape[1]
        self._fit(X, y, sample_weight, dict(self.params or {}))
        return self

    def predict(self, X):
        out = self._predict(np.asarray(X, dtype=np.float64))
        if self._is_classifier:
            return self.classes_[out.argmax(axis=1)]
        return out

    def predict_proba(self, X):
        return self._predict(np.asarray(X, dtype=np.float64))

    def _fit(self, X, y, sample_weight, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict(self, X):  # pragma: no cover - abstract
        """Class probabilities over ``classes_`` (one column each), or values."""
        raise NotImplementedError

    # -- shared by the built-in learners ------------------------------------------
    def _holdout(self, y, fraction=0.1):
        """Indices for an inner train / early-stopping split, or None when too small."""
        n = len(y)
        if n < _MIN_ROWS_FOR_EARLY_STOPPING:
            return None
        stratify = None
        if self._is_classifier:
            counts = np.bincount(y)
            if counts.min() >= 2 and int(round(n * fraction)) >= len(counts):
                stratify = y
        idx = np.arange(n)
        return train_test_split(
            idx, test_size=fraction, random_state=self.random_state, stratify=stratify
        )

    def _refit_worthwhile(self, n_rows) -> bool:
        return n_rows <= self.refit_rows and not should_stop()

    def _refit(self, train, rounds_of):
        """Retrain on all rows with the early-stopped round count (+10% for the extra data).

        The holdout only chose the number of rounds; refitting uses the rows it
        held out.  A refit cut short by the fold's soft deadline is dropped.
        """
        target = max(1, int(round(self.n_rounds_ * 1.1)))
        booster = train(target)
        if rounds_of(booster) >= target:
            self.booster_, self.n_rounds_ = booster, target

    def _booster_output(self, raw):
        """A booster's raw predictions as :meth:`_predict` returns them.

        Values for regression; for classification one probability column per
        class of ``classes_`` (a binary booster's single column is expanded,
        a one-class fold predicts that class with certainty).
        """
        if not self._is_classifier:
            return raw
        if len(self.classes_) == 1:
            return np.ones((len(raw), 1))
        return _binary_to_two_columns(raw) if len(self.classes_) == 2 else raw


def _binary_to_two_columns(p):
    p = np.asarray(p, dtype=np.float64).reshape(len(p), -1)
    if p.shape[1] == 1:
        p = np.hstack([1.0 - p, p])
    return p


class BoosterLearner(Learner):
    """A gradient booster that early-stops: its cost grows as its learning rate shrinks.

    Subclasses name their default ``learning_rate`` in :attr:`Learner.param_defaults`.
    """

    @classmethod
    def relative_cost(cls, params) -> float:
        """Cost against the defaults: early-stopped rounds grow as 1 / learning rate."""
        default = cls.param_defaults["learning_rate"]
        return default / float(params.get("learning_rate", default))
