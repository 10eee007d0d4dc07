"""The scikit-learn estimators: validate parameters and input, run, expose the result.

The run itself (backend, journal, search, ensemble, refit) is a
:class:`~evoens.run.Run`; every clock it keeps comes from one
:class:`~evoens._budget.Budget`.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from ._budget import DEFAULT_TIME_BUDGET, Budget
from ._data import (
    Dataset,
    TabularEncoder,
    auto_folds,
    check_2d,
    check_sample_weight,
    encode_target,
    make_folds,
)
from ._docstrings import ATTRIBUTES, PARAMETERS
from ._metrics import get_metric
from ._params import check_params
from .evaluation import leaderboard_from_evaluations
from .exceptions import InvalidInputError
from .run import Run, RunOptions
from .space import load_space

__all__ = ["EvoEnsembleClassifier", "EvoEnsembleRegressor"]


class _EvoEnsembleBase(BaseEstimator):
    _task_kind = "classification"

    def __init__(
        self,
        *,
        time_budget=DEFAULT_TIME_BUDGET,
        generations=None,
        population_size=20,
        scoring=None,
        cv="auto",
        n_jobs=1,
        space="default",
        random_state=None,
        early_stop=None,
        max_eval_time=None,
        refit=False,
        backend="local",
        scheduler=None,
        security=None,
        device="auto",
        memory_limit=None,
        search_rows="auto",
        run_dir=None,
        verbose=0,
    ):
        self.time_budget = time_budget
        self.generations = generations
        self.population_size = population_size
        self.scoring = scoring
        self.cv = cv
        self.n_jobs = n_jobs
        self.space = space
        self.random_state = random_state
        self.early_stop = early_stop
        self.max_eval_time = max_eval_time
        self.refit = refit
        self.backend = backend
        self.scheduler = scheduler
        self.security = security
        self.device = device
        self.memory_limit = memory_limit
        self.search_rows = search_rows
        self.run_dir = run_dir
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = self.random_state is None
        return tags

    def _prepare(self, X, y, sample_weight):
        check_2d(X)
        validate_data(self, X, reset=True, skip_check_array=True)
        self.encoder_ = TabularEncoder().fit(X)
        Xe = self.encoder_.transform(X)
        if y is None:
            raise InvalidInputError("requires y to be passed, but the target y is None")
        y_arr = y if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
        if len(y_arr) != Xe.shape[0]:
            raise InvalidInputError(
                f"X and y have inconsistent numbers of samples: X has "
                f"{Xe.shape[0]} rows, y has {len(y_arr)}"
            )
        regression = self._task_kind == "regression"
        codes, classes = encode_target(y_arr, "regression" if regression else "classification")
        task = (
            "regression" if classes is None else ("binary" if len(classes) == 2 else "multiclass")
        )
        w = check_sample_weight(sample_weight, Xe.shape[0], None if classes is None else codes)
        return Xe, codes, classes, task, w

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0] % (2**31))
        return int(self.random_state) % (2**32)

    def _n_workers(self) -> int:
        return (os.cpu_count() or 1) if self.n_jobs == -1 else int(self.n_jobs)

    def _settings(self, seed) -> dict:
        """What a resumed run must share with the run it continues."""
        return {
            "estimator": type(self).__name__,
            "random_state": seed,
            "cv": self.cv,
            "population_size": self.population_size,
            "scoring": str(self.scoring),
            "space": str(self.space),
            "params": {k: repr(v) for k, v in self.get_params().items()},
        }

    # -- fit ------------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, client=None):
        """Search pipelines, then build the ensemble.

        Parameters
        ----------
        X : array-like, DataFrame or dask DataFrame of shape (n_samples, n_features)
            Numeric, categorical, string, boolean columns; missing values allowed.
            A Dask DataFrame (with ``backend="dask"``) stays on the cluster: the
            search runs on a sample of ``search_rows`` rows and the ensemble's
            XGBoost members then train on all rows, data-parallel
            (:mod:`evoens.bigdata`; see ``data_parallel_``).
        y : array-like of shape (n_samples,)
            With a Dask DataFrame: a Dask Series of the same partitions, or
            the name of a column of ``X``.
        sample_weight : array-like of shape (n_samples,), optional
        client : distributed.Client, optional
            Evaluate on this Dask cluster (left running afterwards).  It is a
            ``fit`` argument, not a parameter, so the estimator stays
            clone-able and picklable.

        Returns
        -------
        self
        """
        from .bigdata import fit_collection, is_dask_collection

        check_params(self.get_params())
        if is_dask_collection(X):
            fit_collection(self, X, y, sample_weight, client)
            return self
        budget = Budget.starting_now(self.time_budget, self.max_eval_time)
        return self._fit_frame(X, y, sample_weight, client, budget, self._seed())

    def _fit_frame(self, X, y, sample_weight, client, budget, seed):
        """``fit`` on in-memory data, within ``budget``."""
        Xe, y_codes, classes, task, w = self._prepare(X, y, sample_weight)
        k = auto_folds(len(y_codes), budget.seconds) if isinstance(self.cv, str) else self.cv
        folds = make_folds(y_codes, task, k, seed)
        n_classes = 0 if classes is None else len(classes)
        data = Dataset(Xe, y_codes, task, self.encoder_.categorical_mask, folds, n_classes, w)
        metric = get_metric(self.scoring, task, classes)
        space = load_space(self.space).for_task(task)
        space = space if w is None else space.for_sample_weight()  # warns naming those left out
        result = Run(self._options(seed), data, metric, space, budget).execute(client)

        self.search_time_ = result.search_time
        self.ensemble_ = result.ensemble
        if result.refit is not None:
            self.refit_ = result.refit
        self.task_, self.scoring_ = task, metric.name
        if classes is not None:
            self.classes_ = classes
        best = max(result.ok, key=lambda e: (e.score, -e.id))
        self.best_score_, self.best_pipeline_ = best.score, best.genome.describe()
        self.n_evaluations_ = len(result.records)
        self.stop_reason_ = result.stop_reason
        weights = {m.id: m.weight for m in self.ensemble_.members}
        self.leaderboard_ = leaderboard_from_evaluations(result.records, weights)
        self.fit_time_ = time.time() - budget.started
        if self.verbose:
            print(
                f"[evoens] search {self.search_time_:.1f}s, fit {self.fit_time_:.1f}s, "
                f"{self.n_evaluations_} evaluations, stopped on {self.stop_reason_}; "
                f"ensemble: {self.ensemble_.kind}",
                file=sys.stderr,
            )
        return self

    def _options(self, seed) -> RunOptions:
        """The run's options: the parameters a run shares by name, plus what fit derives."""
        params = self.get_params()
        shared = {
            f.name: params[f.name] for f in dataclasses.fields(RunOptions) if f.name in params
        }
        return RunOptions(
            **shared, n_workers=self._n_workers(), seed=seed, settings=self._settings(seed)
        )

    # -- predict ----------------------------------------------------------------
    def _predict_raw(self, X):
        check_is_fitted(self, "ensemble_")
        check_2d(X)
        try:
            validate_data(self, X, reset=False, skip_check_array=True)
        except ValueError as exc:
            fitted = getattr(self, "feature_names_in_", None)
            if (
                fitted is None
                or not hasattr(X, "columns")
                or sorted(map(str, X.columns)) != sorted(fitted)
            ):
                raise
            raise InvalidInputError(
                f"{exc}Reorder the columns as at fit: X[model.feature_names_in_]"
            ) from exc
        # columns by position, as scikit-learn; n_jobs threads, one per fold model at a time
        return self.ensemble_.predict(self.encoder_.transform(X), n_jobs=self._n_workers())


class EvoEnsembleClassifier(ClassifierMixin, _EvoEnsembleBase):
    __doc__ = (
        """Evolutionary search over pipelines, ensembled, as a classifier.
"""
        + PARAMETERS
        + ATTRIBUTES
        + """    classes_ : ndarray
        The class labels.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from evoens import EvoEnsembleClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = EvoEnsembleClassifier(generations=1, population_size=2, space="fast",
    ...                             backend="sequential", random_state=0).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
"""
    )

    _task_kind = "classification"

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        On a Dask DataFrame: a lazy Dask DataFrame, one column per class
        (named ``str(class)``), computed partition by partition on the workers.
        """
        if _is_dask(X):
            return _on_partitions(self, X, "predict_proba")
        return self._predict_raw(X)

    def predict(self, X):
        """Predicted class labels (on a Dask DataFrame: a lazy Dask Series)."""
        if _is_dask(X):
            return _on_partitions(self, X, "predict")
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]


class EvoEnsembleRegressor(RegressorMixin, _EvoEnsembleBase):
    __doc__ = (
        """Evolutionary search over pipelines, ensembled, as a regressor.
"""
        + PARAMETERS
        + ATTRIBUTES
        + """
    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from evoens import EvoEnsembleRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = EvoEnsembleRegressor(generations=1, population_size=2, space="fast",
    ...                            backend="sequential", random_state=0).fit(X, y)
    >>> reg.predict(X[:2]).shape
    (2,)
"""
    )

    _task_kind = "regression"

    def predict(self, X):
        """Predicted values (on a Dask DataFrame: a lazy Dask Series)."""
        if _is_dask(X):
            return _on_partitions(self, X, "predict")
        return self._predict_raw(X)


def _is_dask(X) -> bool:
    from .bigdata import is_dask_collection

    return is_dask_collection(X)


def _on_partitions(estimator, X, method):
    from .bigdata import predict_collection

    check_is_fitted(estimator, "ensemble_")
    return predict_collection(estimator, X, method)
