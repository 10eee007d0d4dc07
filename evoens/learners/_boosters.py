"""The gradient-boosting learners: LightGBM and XGBoost, on their native APIs.

Both early-stop on an inner holdout of each training fold (so the fold's
validation rows stay unseen and the out-of-fold predictions stay honest),
refit on all the fold's rows where that is cheap, and check the evaluation's
deadline between boosting rounds through a callback.  ``device`` arrives
decided ("cpu" or "cuda", by the run's device plan); each learner only maps
it to its library's parameters.
"""

from __future__ import annotations

import numpy as np

from .._deadline import check_deadline, should_stop
from ..devices import lightgbm_params, xgboost_params
from ._base import BoosterLearner

__all__ = ["LightGBMLearner", "XGBoostLearner"]


def _weights(sample_weight, rows=None):
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    return w if rows is None else w[rows]


# -- LightGBM ---------------------------------------------------------------------------


def _lightgbm_deadline_callback(env):
    check_deadline()
    if should_stop():
        import lightgbm as lgb

        raise lgb.callback.EarlyStopException(env.iteration, env.evaluation_result_list)


_lightgbm_deadline_callback.order = 5  # type: ignore[attr-defined]


class LightGBMLearner(BoosterLearner):
    """LightGBM (native API) with early stopping and deadline checks between rounds.

    ``device="cuda"`` selects LightGBM's OpenCL learner (``device_type="gpu"``);
    the run's device plan gives it "cuda" only where OpenCL finds an NVIDIA
    GPU (the PyPI wheel has no CUDA learner); see :mod:`evoens.devices`.
    """

    handles_missing = True
    native_categorical = True
    gpu_library = "lightgbm"
    max_rounds = 10000
    patience = 50
    param_defaults = {
        "learning_rate": 0.05,
        "num_leaves": 31,
        "feature_fraction": 1.0,
        "min_data_in_leaf": 20,
        "extra_trees": False,
        "lambda_l2": 0.0,
    }

    def _settings(self, params, n_classes):
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
        full.update(lightgbm_params(self.device))
        full.update(params)
        return full

    def _fit(self, X, y, sample_weight, params):
        import lightgbm as lgb

        native = params.pop("native_categorical", False)
        n_classes = len(self.classes_) if self._is_classifier else 0
        full = self._settings(params, n_classes)
        rounds = int(full.pop("n_estimators", self.max_rounds))
        cats = list(self.categorical) if native else []
        split = self._holdout(y)
        callbacks = [_lightgbm_deadline_callback]
        w = _weights(sample_weight)
        if split is None or (self._is_classifier and n_classes == 1):
            train = lgb.Dataset(X, y, weight=w, categorical_feature=cats, free_raw_data=True)
            self.booster_ = lgb.train(
                full, train, num_boost_round=min(rounds, 100), callbacks=callbacks
            )
            self.n_rounds_ = self.booster_.best_iteration or self.booster_.current_iteration()
            return
        tr, va = split
        train = lgb.Dataset(X[tr], y[tr], weight=_weights(w, tr), categorical_feature=cats)
        valid = lgb.Dataset(X[va], y[va], weight=_weights(w, va), reference=train)
        callbacks.append(lgb.early_stopping(self.patience, verbose=False))
        self.booster_ = lgb.train(
            full, train, num_boost_round=rounds, valid_sets=[valid], callbacks=callbacks
        )
        self.n_rounds_ = self.booster_.best_iteration or self.booster_.current_iteration()
        if self._refit_worthwhile(len(y)):

            def train_all(n):
                data = lgb.Dataset(X, y, weight=w, categorical_feature=cats)
                return lgb.train(
                    full, data, num_boost_round=n, callbacks=[_lightgbm_deadline_callback]
                )

            self._refit(train_all, lambda b: b.current_iteration())

    def _predict(self, X):
        return self._booster_output(self.booster_.predict(X, num_iteration=self.n_rounds_))


# -- XGBoost ----------------------------------------------------------------------------


def _xgboost_deadline_callback():
    import xgboost as xgb

    class DeadlineCallback(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            check_deadline()
            return should_stop()  # True ends training, keeping the rounds so far

    return DeadlineCallback()


class XGBoostLearner(BoosterLearner):
    """XGBoost (native API, ``hist``) with early stopping and deadline checks.

    ``device="cuda"`` trains on the GPU (the run's device plan gives it
    "cuda" only where this process has one); the fitted booster is set back
    to CPU, so it predicts on machines without a GPU.
    """

    handles_missing = True
    native_categorical = True
    gpu_library = "xgboost"
    max_rounds = 10000
    patience = 50
    param_defaults = {
        "learning_rate": 0.1,
        "max_depth": 6,
        "min_child_weight": 1.0,
        "colsample_bytree": 1.0,
        "subsample": 1.0,
        "reg_lambda": 1.0,
    }

    def _settings(self, params, n_classes):
        full = {
            "tree_method": "hist",
            "nthread": int(self.n_jobs),
            "seed": int(self.random_state),
            "learning_rate": 0.1,
            "verbosity": 0,
            **xgboost_params(self.device),
        }
        if not self._is_classifier:
            full["objective"] = "reg:squarederror"
        elif n_classes <= 2:
            full["objective"] = "binary:logistic"
        else:
            full.update(objective="multi:softprob", num_class=n_classes)
        full.update(params)
        return full

    def _fit(self, X, y, sample_weight, params):
        import xgboost as xgb

        native = params.pop("native_categorical", False) and len(self.categorical) > 0
        n_classes = len(self.classes_) if self._is_classifier else 0
        full = self._settings(params, n_classes)
        rounds = int(full.pop("n_estimators", self.max_rounds))
        self._feature_types = None
        if native:
            cats = set(int(i) for i in self.categorical)
            self._feature_types = ["c" if j in cats else "q" for j in range(X.shape[1])]
        w = _weights(sample_weight)
        split = self._holdout(y)
        callbacks = [_xgboost_deadline_callback()]
        if split is None or (self._is_classifier and n_classes == 1):
            self.booster_ = xgb.train(
                full, self._matrix(X, y, w), num_boost_round=min(rounds, 100), callbacks=callbacks
            )
            self.n_rounds_ = self.booster_.num_boosted_rounds()
        else:
            tr, va = split
            dtrain = self._matrix(X[tr], y[tr], _weights(w, tr))
            dvalid = self._matrix(X[va], y[va], _weights(w, va))
            callbacks.append(xgb.callback.EarlyStopping(rounds=self.patience, save_best=False))
            self.booster_ = xgb.train(
                full,
                dtrain,
                num_boost_round=rounds,
                evals=[(dvalid, "valid")],
                callbacks=callbacks,
                verbose_eval=False,
            )
            best = getattr(self.booster_, "best_iteration", None)
            self.n_rounds_ = self.booster_.num_boosted_rounds() if best is None else best + 1
            if self._refit_worthwhile(len(y)):
                self._refit(
                    lambda n: xgb.train(
                        full,
                        self._matrix(X, y, w),
                        num_boost_round=n,
                        callbacks=[_xgboost_deadline_callback()],
                    ),
                    lambda b: b.num_boosted_rounds(),
                )
        self.booster_.set_param({"device": "cpu", "nthread": int(self.n_jobs)})

    def _matrix(self, X, y=None, w=None):
        import xgboost as xgb

        return xgb.DMatrix(
            X,
            label=y,
            weight=w,
            feature_types=self._feature_types,
            enable_categorical=self._feature_types is not None,
            nthread=int(self.n_jobs),
        )

    def _predict(self, X):
        raw = self.booster_.predict(self._matrix(X), iteration_range=(0, self.n_rounds_))
        return self._booster_output(raw)
