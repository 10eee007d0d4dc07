"""Train an ensemble member's booster on every training partition with
``xgboost.dask``.

XGBoost members keep their hyperparameters.  LightGBM members are
re-expressed as XGBoost boosters grown leaf-wise (:func:`lightgbm_as_xgboost`,
which states the mapping), so both early-stop on held-out partitions:
``lightgbm.dask`` has no early stopping, and each of its fits opens its own
network ports between workers.

The member's preprocessing (the run's column encoder, then its pipeline's
steps, fitted on the search sample) is applied partition by partition on the
workers; a ``DaskQuantileDMatrix`` holds the training partitions where they
lie.  Boosting runs in two calls: the first, of a few rounds, measures what a round
costs; the second is sized to the time left and early-stops on the held-out
"stop" rows (every worker takes the same decision: the rounds are fixed on
the client and the stop loss is reduced across workers).  When fewer rounds
fit the time than the member needed on the sample, the second call raises the
learning rate (:func:`faster_rate`).  There is no third call: each call
builds the workers' quantile matrices again (35 s and a memory peak on 17M
rows), which the rounds of a third call, sized from the second's time per
round, did not leave time for.  A lost worker fails the call: it is
retried once on rebuilt matrices (new task keys: the lost ones may wait for
their dead worker), keeping the rounds already boosted.  No call waits
past the member's deadline by more than :data:`LATE`: then its partitions are
cancelled, which fails the tasks waiting on them (``xgboost.dask`` would wait
forever for a training task whose inputs wait for a dead worker).  After a
failed call, the workers whose threads still run its task are restarted: a
worker whose peer died waits in the collective for minutes, holding its
thread, and the retry and the check would wait with it (tasks cannot be
interrupted; a shorter collective timeout aborted the client's process, where
``LocalCluster`` runs the scheduler and XGBoost's tracker).
"""

from __future__ import annotations

import copy
import itertools
import pickle
import time

import numpy as np
import pandas as pd

__all__ = ["DataParallelTrainer", "features", "lightgbm_as_xgboost", "trainable"]

#: rounds without a better held-out loss before boosting stops (as the fold fits)
PATIENCE = 50
#: rounds of the first call: it measures a round's cost (building the matrices included)
FIRST_CHUNK = 10
#: share of the time left that the rounds of the second call are sized to fill
ROUNDS_SHARE = 0.85
#: the learning rate is raised at most this many times (and never past MAX_RATE) when
#: the rounds that fit the time are fewer than the member used on the sample
MAX_RATE_SCALE, MAX_RATE = 4.0, 0.3
#: seconds a worker waits on the others in one collective operation before it fails
#: (a worker whose peer died waits that long, holding its thread: it is restarted)
COLLECTIVE_TIMEOUT = 120
#: tries of a chunk whose workers failed (a lost worker): the first and one retry
TRIES = 2
#: the label column of the partitions the boosters train on
LABEL = "__evoens_label__"
#: the key name of ``xgboost.dask``'s per-worker tasks (building a worker's matrix,
#: training on it)
PER_WORKER = "fn"
#: distinguishes each build of the partitions (its tasks get new keys)
_BUILDS = itertools.count()
#: seconds past the member's deadline before a call to xgboost.dask is abandoned
LATE = 10.0


def trainable(member) -> bool:
    """Whether a member can train data-parallel: a LightGBM or XGBoost learner."""
    from ..learners import LightGBMLearner, XGBoostLearner

    learner = member.models[0].steps[-1][1] if member.models else None
    return isinstance(learner, (LightGBMLearner, XGBoostLearner))


def lightgbm_as_xgboost(params: dict, regression: bool) -> dict:
    """A LightGBM member's parameters as XGBoost's, growing trees leaf-wise as LightGBM does.

    ``num_leaves`` -> ``max_leaves`` (``grow_policy="lossguide"``, no depth
    limit); ``feature_fraction`` -> ``colsample_bytree``; ``lambda_l2`` ->
    ``reg_lambda`` (0 when unset: LightGBM's default); ``min_data_in_leaf``
    -> ``min_child_weight``, a hessian sum: the same number for squared error
    (a row's hessian is 1), a tenth of it for log loss (a row's hessian
    p(1-p) is at most 1/4 and shrinks as the fit improves).  ``extra_trees``
    has no XGBoost counterpart and is dropped.

    >>> lightgbm_as_xgboost({"num_leaves": 63, "min_data_in_leaf": 20}, regression=False)
    {'learning_rate': 0.05, 'grow_policy': 'lossguide', 'max_depth': 0, 'reg_lambda': 0.0, \
'max_leaves': 63, 'min_child_weight': 2.0}
    """
    out = {"learning_rate": 0.05, "grow_policy": "lossguide", "max_depth": 0, "reg_lambda": 0.0}
    out["max_leaves"] = int(params.get("num_leaves", 31))
    leaf = float(params.get("min_data_in_leaf", 20))
    out["min_child_weight"] = leaf if regression else leaf / 10
    names = {
        "learning_rate": "learning_rate",
        "feature_fraction": "colsample_bytree",
        "lambda_l2": "reg_lambda",
        "n_estimators": "n_estimators",
        "native_categorical": "native_categorical",
    }
    out.update({names[k]: v for k, v in params.items() if k in names})
    return out


def faster_rate(rate: float, sample_rounds: int | None, affordable: int) -> float:
    """The learning rate for ``affordable`` rounds when the member needed ``sample_rounds``
    on the sample: shrinkage times rounds held constant (Friedman, 2001), within limits.

    More rows need at least as many rounds as the sample did; when fewer fit the
    time left, each round takes a proportionally larger step.

    >>> faster_rate(0.05, 400, 200)
    0.1
    >>> faster_rate(0.05, 400, 1000), faster_rate(0.1, 4000, 100)
    (0.05, 0.3)
    """
    if not sample_rounds or affordable >= sample_rounds:
        return rate
    scale = min(MAX_RATE_SCALE, sample_rounds / max(1, affordable))
    return float(max(rate, min(MAX_RATE, rate * scale)))


def _sample_rounds(member) -> int | None:
    """The median rounds the member's fold boosters kept on the sample."""
    rounds = [getattr(m.steps[-1][1], "n_rounds_", None) for m in member.models]
    rounds = [int(r) for r in rounds if r]
    return int(np.median(rounds)) if rounds else None


def _as_xgboost(learner):
    """An unfitted XGBoost learner with the member's settings (translated for LightGBM)."""
    from ..learners import XGBoostLearner

    if isinstance(learner, XGBoostLearner):
        return copy.deepcopy(learner)
    params = lightgbm_as_xgboost(dict(learner.params or {}), learner.task == "regression")
    return XGBoostLearner(
        task=learner.task,
        params=params,
        categorical=learner.categorical,
        n_jobs=1,
        random_state=learner.random_state,
        device="cpu",
    )


def features(part, columns, encoder, pre, names) -> pd.DataFrame:
    """A raw partition as the member's learner sees it: float32, one column per feature."""
    X = encoder.transform(part[columns]) if len(part) else np.empty((0, len(columns)))
    if pre is not None and len(part):
        X = pre.transform(X)
    return pd.DataFrame(np.asarray(X, dtype=np.float32), index=part.index, columns=names)


def _known(part, target, codes):
    """The rows whose class the run knows (a held-out partition may hold one it does not)."""
    return part if codes is None else part[part[target].isin(list(codes))]


def _labels(part, target, codes) -> pd.Series:
    s = part[target]
    return (s if codes is None else s.map(codes)).astype(np.float32)


class DataParallelTrainer:
    """Trains members on a :class:`~evoens.bigdata._collection.Collection`.

    Parameters
    ----------
    client : distributed.Client
    collection : Collection
    encoder : TabularEncoder
        The run's column encoder (fitted on the sample).
    codes : dict or None
        Class label -> code for a classifier; None for regression.
    n_classes : int
    head : pandas.DataFrame
        A few raw rows (to learn the width of each member's features).
    """

    def __init__(self, client, collection, encoder, codes, n_classes, head):
        self.client, self.collection, self.encoder = client, collection, encoder
        self.codes, self.n_classes, self.head = codes, n_classes, head
        self.threads = max(1, min(client.nthreads().values(), default=1))
        self._inputs: list = []  # futures of the partitions the current matrices read
        self._built: tuple = (None, None)  # (what the matrices hold, the matrices)

    def fit(self, member, deadline: float | None, log=None):
        """A copy of the member's first fold model whose booster trained on all training
        partitions; raises when no round could be trained (the caller keeps the member).

        The matrices stay on the workers for the next member whose features are the
        same (the same steps before its booster): it reads no partition again.
        """
        try:
            return self._fit(member, deadline, log)
        except BaseException:
            self._drop_inputs()
            self._restart_stuck(log)
            raise

    def close(self):
        """Free the workers' copies of the features."""
        self._drop_inputs()

    def _drop_inputs(self):
        inputs, self._inputs = self._inputs, []
        self._built = (None, None)
        if inputs:
            try:
                self.client.cancel(inputs, force=True)
            except Exception:  # the cluster is gone: nothing is held
                pass

    def _restart_stuck(self, log=None):
        """Restart the workers whose threads still run an abandoned ``xgboost.dask`` task."""
        try:
            busy = self.client.run(_running_xgboost)
            stuck = sorted(addr for addr, running in busy.items() if running)
            if stuck:
                if log:
                    log(f"restarting {len(stuck)} worker(s) left waiting in xgboost.dask")
                self.client.restart_workers(stuck, timeout=60, raise_for_error=False)
        except Exception as exc:  # the workers are lost already: nothing to free
            if log:
                log(f"could not restart the workers left waiting: {exc!r:.200}")

    def _in_client(self, fn):
        with self.client.as_current():  # dask's collections find it from this thread too
            return fn()

    def _bounded(self, fn, deadline):
        """``fn()``, abandoned :data:`LATE` seconds past ``deadline`` (its inputs
        cancelled, so that the tasks waiting on them fail and its thread ends)."""
        if deadline is None:
            return fn()
        from concurrent.futures import ThreadPoolExecutor
        from concurrent.futures import TimeoutError as Late

        pool = ThreadPoolExecutor(1, thread_name_prefix="evoens-xgboost-dask")
        try:
            call = pool.submit(self._in_client, fn)
            try:
                return call.result(timeout=max(0.0, deadline - time.time()) + LATE)
            except Late:
                self._drop_inputs()
                raise TimeoutError(
                    f"xgboost.dask did not answer {LATE:g} s past the member's deadline"
                ) from None
        finally:
            pool.shutdown(wait=False)

    def _fit(self, member, deadline, log):
        from xgboost import dask as dxgb

        model = member.models[0]
        translated = type(model.steps[-1][1]).__name__ != "XGBoostLearner"
        learner = _as_xgboost(model.steps[-1][1])
        pre = copy.deepcopy(model[:-1]) if len(model.steps) > 1 else None
        width = features(self.head, self.collection.columns, self.encoder, pre, None).shape[1]
        names = [f"f{j}" for j in range(width)]
        params = dict(learner.params or {})
        native = params.pop("native_categorical", False) and len(learner.categorical) > 0
        full = learner._settings(params, self.n_classes)
        cap = int(full.pop("n_estimators", learner.max_rounds))
        full.update(nthread=self.threads, seed=int(learner.random_state))
        types = None
        if native:
            cats = {int(i) for i in learner.categorical}
            types = ["c" if j in cats else "q" for j in range(width)]

        eta = float(full.get("learning_rate", 0.3))
        full["learning_rate"] = eta
        sample_rounds = _sample_rounds(member)
        booster, history, tries = None, [], 0
        holds = (pickle.dumps(pre), tuple(names), None if types is None else tuple(types))
        per_round, matrices = None, self._built[1] if self._built[0] == holds else None
        if matrices is None:
            self._drop_inputs()
        while len(history) < cap:
            left = None if deadline is None else deadline - time.time()
            chunk = FIRST_CHUNK if booster is None else cap - len(history)
            if per_round is not None and left is not None:
                chunk = min(chunk, int(ROUNDS_SHARE * left / per_round))
                if len(history) == FIRST_CHUNK:
                    full["learning_rate"] = faster_rate(eta, sample_rounds, FIRST_CHUNK + chunk)
            if chunk < 1 or (left is not None and left <= 0):
                break
            try:
                if matrices is None:
                    matrices = self._bounded(
                        lambda: self._matrices(pre, names, types, dxgb), deadline
                    )
                    self._built = (holds, matrices)
                dtrain, dstop = matrices
                started = time.time()
                out = self._bounded(
                    lambda: dxgb.train(
                        self.client,
                        full,
                        dtrain,
                        num_boost_round=chunk,
                        evals=[(dstop, "stop")],
                        early_stopping_rounds=None if booster is None else PATIENCE,
                        xgb_model=booster,
                        verbose_eval=False,
                        coll_cfg=_collective_config(),
                    ),
                    deadline,
                )
            except Exception as exc:  # a lost worker, most likely: rebuild and retry once
                tries += 1
                if tries >= TRIES:
                    if booster is None:
                        raise
                    if log:
                        log(f"member #{member.id}: stopped at round {len(history)}: {exc!r:.200}")
                    break
                if log:
                    log(f"member #{member.id}: boosting failed ({exc!r:.200}); retrying")
                matrices = None
                self._drop_inputs()
                self._restart_stuck(log)
                continue
            booster = out["booster"]
            got = list(next(iter(out["history"]["stop"].values())))
            history += got
            per_round = (time.time() - started) / max(1, len(got))
            if len(got) < chunk or len(history) - 1 - int(np.argmin(history)) >= PATIENCE:
                break  # stopped early
            if len(history) > FIRST_CHUNK:
                break  # the second call had the time: each call builds the matrices again
        if booster is None:
            raise TimeoutError("no boosting round fitted before the deadline")
        best = int(np.argmin(history))
        booster.set_param({"device": "cpu", "nthread": 1})
        booster.feature_names = None  # the fold models predict from arrays
        learner.booster_, learner.n_rounds_ = booster, best + 1
        learner.n_features_in_, learner._feature_types = width, types
        if self.codes is not None:
            learner.classes_ = np.arange(self.n_classes)
        fitted = copy.deepcopy(model)
        fitted.steps[-1] = (fitted.steps[-1][0], learner)
        info = {"rounds": best + 1, "loss": float(history[best]), "translated": translated}
        info["learning_rate"] = (eta, float(full["learning_rate"]))
        return fitted, info

    def _matrices(self, pre, names, types, dxgb):
        c = self.collection
        stop_rows, _ = c.holdout_halves()
        kwargs = {"feature_types": types, "enable_categorical": types is not None}
        X, y = self._placed(c.part(c.train), pre, names)
        dtrain = dxgb.DaskQuantileDMatrix(self.client, X, y, **kwargs)
        X, y = self._placed(stop_rows, pre, names)
        dstop = dxgb.DaskQuantileDMatrix(self.client, X, y, ref=dtrain, **kwargs)
        return dtrain, dstop

    def _placed(self, rows, pre, names):
        """The member's features and labels of ``rows``, computed on the workers in turn.

        The scheduler would place the partitions where it likes (sibling tasks
        that read data go to one worker together), and a worker without rows
        would idle through every round: each partition is computed on the next
        worker, round robin.  Features and labels are one partition, so
        ``xgboost.dask`` finds them on the same worker.

        Each build has its own task keys: after a worker is lost, the tasks of
        an earlier build that were placed on it can wait for it forever (the
        scheduler kept them as ``no-worker`` when every worker left at once),
        and a build reusing their keys would wait with them.  The futures are
        kept in ``_inputs``, to be cancelled when the member is done or abandoned.
        """
        import dask.dataframe as dd

        c = self.collection
        meta = pd.DataFrame({n: pd.Series(dtype=np.float32) for n in [*names, LABEL]})
        rows = rows.map_partitions(_known, c.target, self.codes, meta=c.frame._meta)
        build = next(_BUILDS)
        table = rows.map_partitions(
            _table, c.columns, c.target, self.encoder, pre, names, self.codes, build, meta=meta
        )
        workers = sorted(self.client.scheduler_info(n_workers=-1)["workers"])
        futures = [
            self.client.compute(
                part, workers=[workers[i % len(workers)]], allow_other_workers=True
            )
            for i, part in enumerate(table.to_delayed())
        ]
        self._inputs += futures
        table = dd.from_delayed(futures, meta=meta, verify_meta=False)
        return table[names], table[LABEL]


def _table(part, columns, target, encoder, pre, names, codes, build=0) -> pd.DataFrame:
    """A partition's features and labels (``build`` only makes the task's key)."""
    out = features(part, columns, encoder, pre, names)
    out[LABEL] = _labels(part, target, codes).to_numpy()
    return out


def _collective_config():
    from xgboost.collective import Config

    return Config(timeout=COLLECTIVE_TIMEOUT)


def _running_xgboost(dask_worker) -> bool:
    """Whether a thread of this worker runs a task of ``xgboost.dask`` (cancelled or not)."""
    from dask.utils import key_split

    return any(key_split(k) == PER_WORKER for k in dask_worker.active_threads.values())
