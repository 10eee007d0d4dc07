"""CatBoost: ordered boosting with native categorical columns (the ``catboost`` extra).

Like the other boosters it early-stops on an inner holdout of each training
fold, refits on all the fold's rows where that is cheap, and checks the
evaluation's deadline between boosting rounds.  On CPU the check is a
training callback.  CatBoost takes no user callbacks on a GPU, nor continues
a model's training there, so a GPU fit times a first chunk of rounds and then
fits once with as many rounds as the fold's time allows
(:meth:`CatBoostLearner._train_capped`).
The fitted model predicts on any machine: a CatBoost model holds no device.

Categorical columns reach the learner as integer codes in a float matrix
(NaN where missing); CatBoost wants integers or strings there, so they go in
as integers with missing as -1.

Install it with ``pip install "evoens[catboost]"``.
"""

from __future__ import annotations

import math
import time

import numpy as np

from .._deadline import check_deadline, fold_time_left, should_stop, time_left
from ._base import BoosterLearner
from ._boosters import _weights

__all__ = ["CatBoostLearner"]


class _Stall:
    """Early stopping with a tolerance: the holdout's loss must improve by more than
    ``tolerance`` x its first value within ``patience`` rounds.

    CatBoost's own early stopping counts any improvement; on small, separable
    data the loss creeps towards zero for ever (178 rows of wine: 10,000
    rounds, 5 minutes a fold).
    """

    def __init__(self, patience: int, tolerance: float = 1e-4):
        self.patience, self.tolerance = patience, tolerance
        self.best, self.since, self.scale = np.inf, 0, None

    def stalled(self, loss: float) -> bool:
        if self.scale is None:
            self.scale = abs(loss) * self.tolerance
        if loss < self.best - self.scale:
            self.best, self.since = loss, 0
        else:
            self.since += 1
        return self.since >= self.patience


class _Callback:
    """Ends training (keeping the rounds so far) when the holdout's loss stalls or past
    the fold's soft deadline or the evaluation's hard one; the hard one is raised once
    CatBoost has returned."""

    def __init__(self, stall: _Stall | None):
        self.stall = stall

    def after_iteration(self, info) -> bool:
        if should_stop() or time_left() <= 0:
            return False
        validation = info.metrics.get("validation") if self.stall is not None else None
        if validation:
            return not self.stall.stalled(next(iter(validation.values()))[-1])
        return True


class CatBoostLearner(BoosterLearner):
    """CatBoost (``CatBoost`` with a ``Pool``) with early stopping and deadline checks.

    ``device="cuda"`` maps to ``task_type="GPU"`` on the first visible device.
    Parameters are CatBoost's own names (``depth``, ``l2_leaf_reg``,
    ``grow_policy``, ``max_ctr_complexity``, ``one_hot_max_size``, ...).
    """

    handles_missing = True
    native_categorical = True
    gpu_library = "catboost"
    requires = ("catboost", "catboost")
    max_rounds = 10000
    patience = 50
    #: rounds of the timed first fit where training cannot take a callback (on a GPU)
    gpu_chunk = 200
    #: AutoGluon's CatBoost baseline (learning rate 0.05, up to 10,000 rounds with early
    #: stopping); the rest are CatBoost's own CPU defaults
    param_defaults = {
        "learning_rate": 0.05,
        "depth": 6,
        "l2_leaf_reg": 3.0,
        "grow_policy": "SymmetricTree",
        "max_ctr_complexity": 4,
        "one_hot_max_size": 2,
    }

    def _settings(self, params, n_classes) -> dict:
        if not self._is_classifier:
            loss = "RMSE"
        else:
            loss = "Logloss" if n_classes <= 2 else "MultiClass"
        full = {
            "loss_function": loss,
            "learning_rate": self.param_defaults["learning_rate"],
            "random_seed": int(self.random_state),
            "thread_count": int(self.n_jobs),
            "logging_level": "Silent",
            "allow_writing_files": False,
        }
        if self.device == "cuda":
            full.update(task_type="GPU", devices="0")
        full.update(params)
        return full

    def _fit(self, X, y, sample_weight, params):
        native = params.pop("native_categorical", False) and len(self.categorical) > 0
        self._cats = sorted(int(i) for i in self.categorical) if native else []
        n_classes = len(self.classes_) if self._is_classifier else 0
        full = self._settings(params, n_classes)
        rounds = int(full.pop("iterations", full.pop("n_estimators", self.max_rounds)))
        w = _weights(sample_weight)
        self.booster_, self.n_rounds_ = None, 0
        if self._is_classifier and n_classes == 1:
            return  # one class in this fold: predicted with certainty
        split = self._holdout(y)
        if split is None:
            self.booster_ = self._train(full, X, y, w, min(rounds, 100))
        else:
            tr, va = split
            valid = (X[va], y[va], _weights(w, va))
            self.booster_ = self._train(full, X[tr], y[tr], _weights(w, tr), rounds, valid)
        self.n_rounds_ = self.booster_.tree_count_
        if split is not None and self._refit_worthwhile(len(y)):
            self._refit(lambda n: self._train(full, X, y, w, n), lambda m: m.tree_count_)

    def _pool(self, X, y=None, w=None):
        from catboost import Pool

        if not self._cats:
            return Pool(X, label=y, weight=w)
        import pandas as pd

        frame = pd.DataFrame(X)
        for j in self._cats:
            codes = frame[j].to_numpy()
            frame[j] = np.where(np.isnan(codes), -1, codes).astype(np.int64)
        return Pool(frame, label=y, weight=w, cat_features=self._cats)

    def _train(self, full, X, y, w, rounds, valid=None):
        """A model of at most ``rounds`` rounds, early-stopped on ``valid`` when given."""
        from catboost import CatBoost

        train = self._pool(X, y, w)
        evals = None if valid is None else self._pool(*valid)
        if full.get("task_type") != "GPU":
            model = CatBoost({**full, "iterations": rounds})
            model.fit(
                train,
                eval_set=evals,
                use_best_model=evals is not None,
                callbacks=[_Callback(None if evals is None else _Stall(self.patience))],
            )
            check_deadline()
            return model
        return self._train_capped(full, train, evals, rounds)

    def _train_capped(self, full, train, evals, rounds):
        """Training without callbacks (on a GPU): time a first :attr:`gpu_chunk` rounds,
        then fit once more with as many rounds as the fold's time left allows.

        A GPU model cannot continue another's training (CatBoost: "Training
        continuation for GPU is not yet supported"), so the second fit starts
        afresh; CatBoost's own early stopping runs inside each fit.  The clock
        is checked between the two; a fit that overruns the evaluation's hard
        deadline is stopped by the backend, which kills its worker.
        """
        from catboost import CatBoost

        def fit(n):
            model = CatBoost({**full, "iterations": n})
            model.fit(
                train,
                eval_set=evals,
                early_stopping_rounds=None if evals is None else self.patience,
                use_best_model=evals is not None,
            )
            check_deadline()
            return model

        first = min(self.gpu_chunk, rounds)
        started = time.perf_counter()
        model = fit(first)
        ran = len(next(iter(model.get_evals_result().get("validation", {0: []}).values())))
        if first >= rounds or (evals is not None and ran < first) or should_stop():
            return model  # early-stopped within the first chunk, or out of time
        per_round = (time.perf_counter() - started) / max(ran if evals is not None else first, 1)
        left = min(fold_time_left(), time_left())
        n = rounds if math.isinf(left) else min(rounds, int(0.8 * left / per_round))
        return fit(n) if n > first else model

    def _predict(self, X):
        n = len(X)
        if self.booster_ is None:
            return np.ones((n, 1))
        pool = self._pool(X)
        if not self._is_classifier:
            return np.asarray(self.booster_.predict(pool, prediction_type="RawFormulaVal"))
        proba = np.asarray(self.booster_.predict(pool, prediction_type="Probability"))
        return self._booster_output(proba)
