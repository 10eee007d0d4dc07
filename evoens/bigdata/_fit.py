"""``fit`` on a Dask DataFrame: sample, search on the sample, train the chosen
boosters on all rows, check on held-out partitions.

The phases share the one ``time_budget``::

    sampling -- search (a Run on the sample, its own Budget) -- data-parallel
             -- check -- end

Sampling takes what it takes (two passes over the data: row and class
counts, then the sample); of the time left, :data:`~evoens._budget.CHECK_SHARE`
of ``T`` is kept for the check, :data:`~evoens._budget.DATA_PARALLEL_SHARE`
goes to the data-parallel phase, and the rest to the search.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import dask
import numpy as np
import pandas as pd

from .._budget import CHECK_SHARE, DATA_PARALLEL_SHARE, Budget
from .._metrics import get_metric
from ..exceptions import InvalidInputError
from ._collection import Collection, auto_search_rows
from ._train import LATE, DataParallelTrainer, _known, trainable

__all__ = ["fit_collection", "predict_collection"]

#: seconds kept for the check whatever the budget: it reads and predicts the held-out rows
CHECK_MIN = 5.0
#: a member starts its data-parallel training only with at least this many seconds left
MIN_MEMBER_SECONDS = 5.0
#: share of the time left that predicting the check rows may take (reading them,
#: scattering the ensembles and scoring take the rest)
CHECK_USE = 0.5
#: held-out rows the check scores at least (all where there are fewer), whatever the
#: time left: fewer cannot tell the two ensembles apart
CHECK_MIN_ROWS = 2000


def fit_collection(estimator, X, y, sample_weight, client) -> None:
    """Fit ``estimator`` on the Dask DataFrame ``X`` (see the module docstring)."""
    from ..backends._dask_cluster import Cluster

    budget = Budget.starting_now(estimator.time_budget, estimator.max_eval_time)
    if sample_weight is not None:
        raise InvalidInputError(
            "sample_weight is not supported with a Dask DataFrame X; pass a pandas DataFrame"
        )
    if estimator.backend != "dask" and client is None:
        raise InvalidInputError(
            f"a Dask DataFrame X needs backend='dask' (a client, a scheduler or a LocalCluster "
            f"started by fit); got backend={estimator.backend!r}"
        )
    Collection.joined(X, y)
    log = _logger(estimator.verbose)
    cluster = Cluster(
        estimator._n_workers(),
        estimator.scheduler,
        client,
        estimator.security,
        estimator.memory_limit,
    )
    client = cluster.open()
    try:
        with client.as_current():  # xgboost.dask and dask's collections find it
            _fit(estimator, X, y, client, budget, log)
    finally:
        cluster.close({})


def _fit(estimator, X, y, client, budget, log) -> None:
    seed = estimator._seed()
    log("phase: sampling (counting rows and classes on the workers)")
    coll = Collection.from_input(X, y, client, seed)
    regression = estimator._task_kind == "regression"
    counts = None if regression else coll.class_counts(client)
    n_search = estimator.search_rows
    if n_search == "auto":
        n_cat = coll.n_categorical
        n_search = auto_search_rows(len(coll.columns) - n_cat, n_cat, _worker_memory(client))
    sample = coll.sample(client, int(n_search), counts, seed)
    log(
        f"phase: search on a sample of {len(sample):,} of {coll.n_train_rows:,} training rows "
        f"({len(coll.train)} partitions; {len(coll.holdout)} held out)"
    )
    search_budget, dp_end = _phases(budget)
    estimator._fit_frame(
        sample[coll.columns], sample[coll.target], None, client, search_budget, seed
    )

    classes = getattr(estimator, "classes_", None)
    codes = None if classes is None else {c: i for i, c in enumerate(classes)}
    n_classes = 0 if classes is None else len(classes)
    trainer = DataParallelTrainer(
        client, coll, estimator.encoder_, codes, n_classes, sample[coll.columns].head(64)
    )
    sampled = estimator.ensemble_
    # the heaviest first, with all the time left: it early-stops once it has its
    # rounds and the next one gets the rest (with the time shared out by weight, on
    # 17M rows no member of six had the time to build its matrices)
    chosen = sorted((m for m in sampled.members if trainable(m)), key=_weight, reverse=True)
    try:
        members, outcome = _train_members(sampled, chosen, trainer, dp_end, log)
    finally:
        trainer.close()
    trained = dataclasses.replace(sampled, members=members)

    log("phase: checking on the held-out partitions")
    metric = get_metric(estimator.scoring, estimator.task_, classes)
    per_row = (sampled.predict_per_1k + trained.predict_per_1k) / 1000
    every = _check_every(budget, coll.n_holdout_rows / 2, per_row, client)
    ensembles = {"sample": sampled, "all": trained}
    end = None if budget.end is None else budget.end + LATE
    try:
        scores = _check(client, coll, estimator.encoder_, codes, ensembles, metric, every, end)
    except TimeoutError as exc:
        log(f"the check did not finish: {exc}")
        scores = {"rows": 0}
    n_check = scores.pop("rows")
    use = "all"
    if scores and scores["sample"] > scores["all"]:
        use = "sample"
    estimator.ensemble_ = trained if use == "all" else sampled
    estimator.data_parallel_ = {
        "rows": coll.n_rows,
        "partitions": int(coll.frame.npartitions),
        "train_partitions": len(coll.train),
        "holdout_partitions": len(coll.holdout),
        "train_rows": coll.n_train_rows,
        "search_rows": len(sample),
        "check_rows": n_check,
        "members": outcome,
        "check_score_sample": scores.get("sample"),
        "check_score_all": scores.get("all"),
        "used": "data-parallel members" if use == "all" else "sample-trained members",
        "scoring": metric.name,
    }
    estimator.fit_time_ = time.time() - budget.started
    log(
        f"check on {n_check:,} held-out rows ({metric.name}): sample-trained "
        f"{scores.get('sample', float('nan')):.5g}, data-parallel "
        f"{scores.get('all', float('nan')):.5g}; using the {estimator.data_parallel_['used']}"
    )


def _train_members(sampled, chosen, trainer, dp_end, log) -> tuple[list, dict]:
    """Train ``chosen`` in turn until ``dp_end``: every member of ``sampled``, trained
    or as it was, and member id -> what happened to it."""
    members, outcome = [], {}
    for m in sorted(sampled.members, key=lambda m: m not in chosen):
        if m not in chosen:
            outcome[m.id] = "kept its sample-trained fold models (cannot train data-parallel)"
            members.append(m)
            continue
        if dp_end is not None and dp_end - time.time() < MIN_MEMBER_SECONDS:
            outcome[m.id] = "kept its sample-trained fold models (no time left to train it)"
            members.append(m)
            continue
        log(f"phase: data-parallel training of member #{m.id} ({m.genome.learner})")
        try:
            fitted, info = trainer.fit(m, dp_end, log)
        except Exception as exc:
            outcome[m.id] = f"kept its sample-trained fold models: {type(exc).__name__}: {exc}"
            outcome[m.id] = outcome[m.id][:300]
            log(f"member #{m.id}: {outcome[m.id]}")
            members.append(m)
            continue
        how = "as XGBoost, " if info["translated"] else ""
        rate = info["learning_rate"]
        if rate[1] != rate[0]:
            how += f"learning rate {rate[0]:g} -> {rate[1]:g}, "
        outcome[m.id] = f"trained on all training rows ({how}{info['rounds']} rounds)"
        k = max(1, len(m.models))
        members.append(
            dataclasses.replace(m, models=[fitted], predict_per_1k=m.predict_per_1k / k)
        )
    return members, outcome


def _weight(member) -> float:
    """A member's place in the data-parallel order: its ensemble weight, at least 0.05."""
    return max(0.05, float(member.weight or 0.0))


def _phases(budget: Budget):
    """The search's own Budget from now, and when the data-parallel phase must end."""
    now = time.time()
    if budget.seconds is None:
        return Budget(None, now, budget.max_eval_time), None
    check = max(CHECK_MIN, CHECK_SHARE * budget.seconds)
    left = max(0.0, budget.end - now - check)
    search = (1.0 - DATA_PARALLEL_SHARE) * left
    return Budget(max(1.0, search), now, budget.max_eval_time), budget.end - check


def _worker_memory(client) -> float:
    """The smallest worker memory limit (the machine's memory shared out where unset)."""
    import psutil

    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    limits = [w.get("memory_limit") or 0 for w in workers]
    if limits and min(limits) > 0:
        return float(min(limits))
    return psutil.virtual_memory().total / max(1, len(limits))


def _check_every(budget: Budget, rows: float, seconds_per_row: float, client) -> int:
    """Check one row in this many, so that predicting them takes at most
    :data:`CHECK_USE` of the time left (on every worker thread)."""
    if budget.seconds is None or seconds_per_row <= 0:
        return 1
    threads = max(1, sum(client.nthreads().values()))
    can = CHECK_USE * max(0.0, budget.end - time.time()) * threads / seconds_per_row
    return max(1, int(np.ceil(rows / max(can, CHECK_MIN_ROWS))))


def _check(client, coll, encoder, codes, ensembles, metric, every=1, end=None) -> dict:
    """Each ensemble's score on the held-out "check" rows, predicted on the workers;
    a :class:`TimeoutError` when they are not predicted by ``end``."""
    _, check = coll.holdout_halves(every)
    check = check.map_partitions(_known, coll.target, codes, meta=coll.frame._meta)
    names = list(ensembles)
    n_out = {n: 1 if e.task == "regression" else e.n_classes for n, e in ensembles.items()}
    cols = ["y"] + [f"{n}{j}" for n in names for j in range(n_out[n])]
    meta = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in cols})
    # each ensemble travels to the workers once, not inside the graph
    models = [client.scatter(e, hash=False) for e in ensembles.values()]
    future = client.compute(
        check.map_partitions(
            _predict_check, coll.columns, coll.target, encoder, codes, cols, *models, meta=meta
        )
    )
    try:
        out = future.result(timeout=None if end is None else max(0.0, end - time.time()))
    except TimeoutError:
        client.cancel([future, *models], force=True)
        raise TimeoutError(f"no prediction {LATE:g} s past the time budget") from None
    scores = {"rows": len(out)}
    if len(out) == 0:
        return scores
    y = out["y"].to_numpy()
    if codes is not None:
        y = y.astype(np.int64)
    for n, e in ensembles.items():
        p = out[[f"{n}{j}" for j in range(n_out[n])]].to_numpy()
        scores[n] = float(metric(y, p[:, 0] if e.task == "regression" else p, None))
    return scores


def _predict_check(part, columns, target, encoder, codes, cols, *ensembles):
    if len(part) == 0:
        return pd.DataFrame({c: pd.Series(dtype=np.float64) for c in cols})
    X = encoder.transform(part[columns])
    y = part[target]
    y = (y if codes is None else y.map(codes)).to_numpy(dtype=np.float64)
    blocks = [y[:, None]]
    for e in ensembles:
        p = e.predict(X)
        blocks.append(p.reshape(len(part), -1))
    return pd.DataFrame(np.hstack(blocks), index=part.index, columns=cols)


def predict_collection(estimator, X, method: str):
    """``estimator.<method>`` on each partition of the Dask DataFrame ``X``, lazily."""
    if method == "predict_proba":
        cols = [str(c) for c in estimator.classes_]
        meta = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in cols})
    elif hasattr(estimator, "classes_"):
        meta = pd.Series(dtype=estimator.classes_.dtype, name="prediction")
    else:
        meta = pd.Series(dtype=np.float64, name="prediction")
    return X.map_partitions(_predict_part, _on_workers(estimator), method, meta=meta)


def _on_workers(obj):
    """``obj`` scattered to the workers of the current client (a future the lazy result
    holds), or, with no client, a delayed object: either way one copy, not one per task."""
    from distributed import get_client

    try:
        return get_client().scatter(obj, hash=False)
    except ValueError:  # no client: the default scheduler runs the graph in this process
        return dask.delayed(obj, pure=True)


def _predict_part(part, estimator, method):
    if len(part) == 0:
        out = np.empty((0, len(estimator.classes_))) if method == "predict_proba" else []
    else:
        out = getattr(estimator, method)(part)
    if method == "predict_proba":
        return pd.DataFrame(out, index=part.index, columns=[str(c) for c in estimator.classes_])
    return pd.Series(out, index=part.index, name="prediction")


def _logger(verbose):
    def log(message):
        if verbose:
            print(f"[evoens] {message}", file=sys.stderr, flush=True)

    return log
