"""The learners a search space can name, each a small scikit-learn estimator.

Every learner takes the same constructor arguments, so the search space can
build any of them from a genome:

``task``           "binary", "multiclass" or "regression"
``params``         the genome's hyperparameters (the library's own names)
``categorical``    indices of columns holding integer category codes
``n_jobs``         threads the learner may use (always explicit)
``random_state``   the candidate's seed
``device``         "cpu" or "cuda" (tree boosters only)

Boosters early-stop on an inner holdout of each training fold (so the fold's
validation rows stay unseen and the out-of-fold predictions stay honest) and
check the evaluation's deadline between boosting rounds; tree ensembles grow
in chunks and check it between chunks.  Classifiers re-encode the labels they
see, so a fold that lacks a class still trains; ``classes_`` says which.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

from .._deadline import check_deadline, fold_time_left, should_stop
from ..devices import lightgbm_params, resolve_device, xgboost_params
from ..exceptions import InvalidInputError

__all__ = [
    "Learner",
    "LightGBMLearner",
    "XGBoostLearner",
    "ExtraTreesLearner",
    "RandomForestLearner",
    "MLPLearner",
    "LinearLearner",
    "KNNLearner",
]

_MIN_ROWS_FOR_EARLY_STOPPING = 50


class Learner(BaseEstimator):
    """Base of the built-in learners: label handling and the shared signature."""

    handles_missing = False
    native_categorical = False
    #: whether ``fit`` honours ``sample_weight``; a weighted run leaves the others out of its space
    supports_sample_weight = True
    #: what a parameter left out of ``params`` means: a genome setting one to this value is no new pipeline
    param_defaults: dict = {}
    #: at most this many of the learner's seeds in generation 0 (None: no limit), for costly learners
    first_generation_limit = None

    def __init__(self, task="binary", params=None, categorical=(), n_jobs=1, random_state=0, device="cpu"):
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
            raise InvalidInputError(f"{type(self).__name__} cannot take sample_weight (supports_sample_weight=False)")
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
        raise NotImplementedError

    #: boosters refit on the whole training fold up to this many rows
    refit_rows = 20_000

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
        return train_test_split(idx, test_size=fraction, random_state=self.random_state, stratify=stratify)


def _binary_to_two_columns(p):
    p = np.asarray(p, dtype=np.float64).reshape(len(p), -1)
    if p.shape[1] == 1:
        p = np.hstack([1.0 - p, p])
    return p


class LightGBMLearner(Learner):
    """LightGBM (native API) with early stopping and deadline checks between rounds.

    ``device="cuda"`` selects LightGBM's OpenCL learner (``device_type="gpu"``)
    where it finds an NVIDIA GPU, else CPU (the PyPI wheel has no CUDA learner);
    see :func:`evoens.devices.lightgbm_params`.
    """

    handles_missing = True
    native_categorical = True
    max_rounds = 10000
    patience = 50
    param_defaults = {"learning_rate": 0.05, "num_leaves": 31, "feature_fraction": 1.0, "min_data_in_leaf": 20,
                      "extra_trees": False, "lambda_l2": 0.0}

    def _fit(self, X, y, sample_weight, params):
        import lightgbm as lgb

        native = params.pop("native_categorical", False)
        n_classes = len(self.classes_) if self._is_classifier else 0
        objective = "regression"
        if self._is_classifier:
            objective = "binary" if n_classes <= 2 else "multiclass"
        full = {
            "objective": objective,
            "verbosity": -1,
            "num_threads": int(self.n_jobs),
            "seed": int(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "learning_rate": 0.05,
        }
        if objective == "multiclass":
            full["num_class"] = n_classes
        full.update(lightgbm_params(resolve_device(self.device)))  # decided before fitting
        full.update(params)
        rounds = int(full.pop("n_estimators", self.max_rounds))
        cats = list(self.categorical) if native else []
        split = self._holdout(y)
        callbacks = [_lightgbm_deadline_callback]
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if split is None or (self._is_classifier and n_classes == 1):
            train = lgb.Dataset(X, y, weight=w, categorical_feature=cats, free_raw_data=True)
            self.booster_ = lgb.train(full, train, num_boost_round=min(rounds, 100), callbacks=callbacks)
        else:
            tr, va = split
            train = lgb.Dataset(X[tr], y[tr], weight=None if w is None else w[tr], categorical_feature=cats)
            valid = lgb.Dataset(X[va], y[va], weight=None if w is None else w[va], reference=train)
            callbacks.append(lgb.early_stopping(self.patience, verbose=False))
            self.booster_ = lgb.train(full, train, num_boost_round=rounds, valid_sets=[valid], callbacks=callbacks)
            self.n_rounds_ = self.booster_.best_iteration or self.booster_.current_iteration()
            if self._refit_worthwhile(len(y)):
                self._refit(lambda n: lgb.train(full, lgb.Dataset(X, y, weight=w, categorical_feature=cats),
                                                num_boost_round=n, callbacks=[_lightgbm_deadline_callback]),
                            lambda b: b.current_iteration())
            return
        self.n_rounds_ = self.booster_.best_iteration or self.booster_.current_iteration()

    def _predict(self, X):
        p = self.booster_.predict(X, num_iteration=self.n_rounds_)
        if not self._is_classifier:
            return p
        if len(self.classes_) == 1:
            return np.ones((len(X), 1))
        return _binary_to_two_columns(p) if len(self.classes_) == 2 else p


def _lightgbm_deadline_callback(env):
    check_deadline()
    if should_stop():
        import lightgbm as lgb

        raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)


_lightgbm_deadline_callback.order = 5  # type: ignore[attr-defined]


def _xgboost_deadline_callback():
    import xgboost as xgb

    class DeadlineCallback(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            check_deadline()
            return should_stop()  # True ends training, keeping the rounds so far

    return DeadlineCallback()


class XGBoostLearner(Learner):
    """XGBoost (native API, ``hist``) with early stopping and deadline checks.

    ``device="cuda"`` trains on the GPU (:class:`~evoens.exceptions.DeviceError`
    where there is none, decided before fitting); the fitted booster is set
    back to CPU, so it predicts on machines without a GPU.
    """

    handles_missing = True
    native_categorical = True
    max_rounds = 10000
    patience = 50
    param_defaults = {"learning_rate": 0.1, "max_depth": 6, "min_child_weight": 1.0, "colsample_bytree": 1.0,
                      "subsample": 1.0, "reg_lambda": 1.0}

    def _fit(self, X, y, sample_weight, params):
        import xgboost as xgb

        native = params.pop("native_categorical", False) and len(self.categorical) > 0
        n_classes = len(self.classes_) if self._is_classifier else 0
        full = {"tree_method": "hist", "nthread": int(self.n_jobs), "seed": int(self.random_state),
                "learning_rate": 0.1, "verbosity": 0, **xgboost_params(resolve_device(self.device))}
        if not self._is_classifier:
            full["objective"] = "reg:squarederror"
        elif n_classes <= 2:
            full["objective"] = "binary:logistic"
        else:
            full.update(objective="multi:softprob", num_class=n_classes)
        full.update(params)
        rounds = int(full.pop("n_estimators", self.max_rounds))
        self._feature_types = None
        if native:
            cats = set(int(i) for i in self.categorical)
            self._feature_types = ["c" if j in cats else "q" for j in range(X.shape[1])]
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        split = self._holdout(y)
        callbacks = [_xgboost_deadline_callback()]
        if split is None or (self._is_classifier and n_classes == 1):
            dtrain = self._matrix(X, y, w)
            self.booster_ = xgb.train(full, dtrain, num_boost_round=min(rounds, 100), callbacks=callbacks)
            self.n_rounds_ = self.booster_.num_boosted_rounds()
        else:
            tr, va = split
            dtrain = self._matrix(X[tr], y[tr], None if w is None else w[tr])
            dvalid = self._matrix(X[va], y[va], None if w is None else w[va])
            callbacks.append(xgb.callback.EarlyStopping(rounds=self.patience, save_best=False))
            self.booster_ = xgb.train(full, dtrain, num_boost_round=rounds, evals=[(dvalid, "valid")],
                                      callbacks=callbacks, verbose_eval=False)
            best = getattr(self.booster_, "best_iteration", None)
            self.n_rounds_ = (best + 1) if best is not None else self.booster_.num_boosted_rounds()
            if self._refit_worthwhile(len(y)):
                self._refit(lambda n: xgb.train(full, self._matrix(X, y, w), num_boost_round=n,
                                                callbacks=[_xgboost_deadline_callback()]),
                            lambda b: b.num_boosted_rounds())
        self.booster_.set_param({"device": "cpu", "nthread": int(self.n_jobs)})

    def _matrix(self, X, y=None, w=None):
        import xgboost as xgb

        return xgb.DMatrix(X, label=y, weight=w, feature_types=self._feature_types,
                           enable_categorical=self._feature_types is not None, nthread=int(self.n_jobs))

    def _predict(self, X):
        p = self.booster_.predict(self._matrix(X), iteration_range=(0, self.n_rounds_))
        if not self._is_classifier:
            return p
        if len(self.classes_) == 1:
            return np.ones((len(X), 1))
        return _binary_to_two_columns(p) if len(self.classes_) == 2 else p


class _ForestLearner(Learner):
    """Tree ensembles grown in chunks, checking the deadline between chunks.

    The first chunk is small; later ones are sized from the measured time per
    tree so that a chunk ends before the fold's soft deadline, rather than
    overrunning it (and then the evaluation's hard one) by a whole chunk.
    """

    chunk = 50
    first_chunk = 10
    param_defaults = {"min_samples_leaf": 1, "max_leaf_nodes": None}

    def _make(self, params):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit(self, X, y, sample_weight, params):
        total = int(params.pop("n_estimators", 300))
        criterion = params.get("criterion")
        if criterion is not None and (criterion in ("gini", "entropy", "log_loss")) != self._is_classifier:
            params.pop("criterion")  # a portfolio entry for the other task
        self.model_ = self._make(params)
        self.model_.set_params(n_jobs=int(self.n_jobs), random_state=int(self.random_state), warm_start=True)
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

    #: fewest trees a fold model keeps in :meth:`shrink_for_bag`
    min_bag_trees = 25

    def shrink_for_bag(self, n_models: int) -> None:
        """Keep 1/``n_models`` of the trees, once this fold model's out-of-fold predictions are made.

        Predictions average the run's ``n_models`` fold models, so the bag
        still averages about as many trees as one forest (each grown on
        (k-1)/k of the rows), while memory and predict time drop k-fold: a
        full-depth forest can take 100+ MB per fold.
        """
        trees = self.model_.estimators_
        keep = min(len(trees), max(self.min_bag_trees, -(-len(trees) // int(n_models))))
        self.model_.estimators_ = trees[:keep]
        self.model_.n_estimators = keep

    def _predict(self, X):
        if self._is_classifier:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)


class ExtraTreesLearner(_ForestLearner):
    def _make(self, params):
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

        return (ExtraTreesClassifier if self._is_classifier else ExtraTreesRegressor)(**params)


class RandomForestLearner(_ForestLearner):
    def _make(self, params):
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        return (RandomForestClassifier if self._is_classifier else RandomForestRegressor)(**params)


def _mlp_takes_weights() -> bool:
    """scikit-learn's MLP ``partial_fit`` takes ``sample_weight`` from version 1.7."""
    import inspect

    from sklearn.neural_network import MLPClassifier

    return "sample_weight" in inspect.signature(MLPClassifier.partial_fit).parameters


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
    first_generation_limit = 1  # slow to fit and rarely best: one in generation 0, the rest as immigrants

    def _fit(self, X, y, sample_weight, params):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        size = int(params.pop("hidden_size", 128))
        layers = int(params.pop("num_layers", 2))
        epochs = int(params.pop("max_iter", 200))
        params.pop("early_stopping", None)
        common = dict(hidden_layer_sizes=(size,) * layers, random_state=int(self.random_state), **params)
        if self._is_classifier:
            self.model_, target = MLPClassifier(**common), y
        else:
            self._y_mean, self._y_std = float(np.mean(y)), float(np.std(y) or 1.0)
            self.model_, target = MLPRegressor(**common), (y - self._y_mean) / self._y_std
        split = self._holdout(y)
        tr, va = split if split is not None else (np.arange(len(y)), None)
        fit_kw = {} if not self._is_classifier else {"classes": np.arange(len(self.classes_))}
        w = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        if w is not None:
            tr = tr[w[tr] > 0]  # a minibatch of zero weights only would divide by zero
            fit_kw["sample_weight"] = w[tr]
        best, best_loss, since = None, np.inf, 0
        for _ in range(epochs):
            self.model_.partial_fit(X[tr], target[tr], **fit_kw)
            check_deadline()
            if va is not None:
                loss = self._holdout_loss(X[va], target[va], None if w is None or w[va].sum() <= 0 else w[va])
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


def _copy_weights(model):
    return [c.copy() for c in model.coefs_], [b.copy() for b in model.intercepts_]


class LinearLearner(Learner):
    """Logistic regression (classification) or ridge regression; strength ``C`` / ``alpha``."""

    def _fit(self, X, y, sample_weight, params):
        from sklearn.linear_model import LogisticRegression, Ridge

        if self._is_classifier:
            if len(self.classes_) == 1:
                self.model_ = None
                return
            self.model_ = LogisticRegression(C=params.get("C", 1.0), max_iter=params.get("max_iter", 1000))
        else:
            self.model_ = Ridge(alpha=params.get("alpha", 1.0), random_state=int(self.random_state))
        self.model_.fit(X, y, sample_weight=sample_weight)

    def _predict(self, X):
        if self._is_classifier:
            if self.model_ is None:
                return np.ones((len(X), 1))
            return self.model_.predict_proba(X)
        return self.model_.predict(X)


class KNNLearner(Learner):
    """k nearest neighbours: cheap, and its errors differ from the trees'; takes no sample weights."""

    supports_sample_weight = False

    def _fit(self, X, y, sample_weight, params):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        k = min(int(params.get("n_neighbors", 15)), len(y))
        cls = KNeighborsClassifier if self._is_classifier else KNeighborsRegressor
        self.model_ = cls(n_neighbors=k, weights=params.get("weights", "distance"), n_jobs=int(self.n_jobs))
        self.model_.fit(X, y)

    def _predict(self, X):
        if self._is_classifier:
            return self.model_.predict_proba(X)
        return self.model_.predict(X)
