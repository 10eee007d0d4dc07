"""Learners for the backend contract tests (``tests/test_backend_contract.py``).

They live in an importable module of their own because the worker processes
of the local and Dask backends import a learner class by its module (a class
defined in the test module would drag pytest and the fixtures along).
"""

from __future__ import annotations

import os
import time

from sklearn.linear_model import LogisticRegression

from evoens._deadline import check_deadline
from evoens.space import Learner

__all__ = [
    "SlowLearner",
    "SlowToPickleLearner",
    "StallingLearner",
    "CrashingLearner",
    "NeedsAnExtraLearner",
]


class SlowLearner(Learner):
    """Works ``params["seconds"]`` per fit, asking the deadline every 10 ms, then fits a
    logistic regression."""

    def _fit(self, X, y, sample_weight, params):
        end = time.time() + float(params.get("seconds", 1.0))
        while time.time() < end:
            check_deadline()
            time.sleep(0.01)
        self.model_ = LogisticRegression(max_iter=1000).fit(X, y, sample_weight=sample_weight)

    def _predict(self, X):
        return self.model_.predict_proba(X)


class SlowToPickleLearner(Learner):
    """Fits at once, but each fitted model takes ``params["seconds"]`` to pickle: the fold
    models of deep boosters are 100-200 MB, and sending them back takes seconds."""

    def _fit(self, X, y, sample_weight, params):
        self.pickle_seconds_ = float(params.get("seconds", 1.0))
        self.model_ = LogisticRegression(max_iter=1000).fit(X, y, sample_weight=sample_weight)

    def _predict(self, X):
        return self.model_.predict_proba(X)

    def __getstate__(self):
        time.sleep(getattr(self, "pickle_seconds_", 0.0))
        return self.__dict__.copy()


class StallingLearner(Learner):
    """Never finishes, but asks the deadline every 10 ms: a cooperative learner short of time."""

    def _fit(self, X, y, sample_weight, params):
        while True:
            check_deadline()
            time.sleep(0.01)

    def _predict(self, X):  # pragma: no cover - fit never returns
        raise AssertionError("unreachable")


class CrashingLearner(Learner):
    """Ends its own process (``os._exit``), as a crash in native code or the OOM killer would."""

    def _fit(self, X, y, sample_weight, params):
        os._exit(int(params.get("exit_code", 3)))

    def _predict(self, X):  # pragma: no cover - fit never returns
        raise AssertionError("unreachable")


class NeedsAnExtraLearner(Learner):
    """Imports a package no extra installs: a space naming it must not load."""

    requires = ("evoens_no_such_package", "no-such-extra")

    def _fit(self, X, y, sample_weight, params):  # pragma: no cover - never loaded
        raise AssertionError("unreachable")

    def _predict(self, X):  # pragma: no cover - never loaded
        raise AssertionError("unreachable")
