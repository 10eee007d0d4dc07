"""Cross-validate one candidate on the run's fixed folds."""

from __future__ import annotations

import os
import time
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .._data import Dataset
from .._deadline import check_deadline, deadline_scope, fold_scope
from .._metrics import Metric
from ..devices import resolve_device
from ..exceptions import DeadlineExceeded
from .._predict import predict_aligned
from ..space import BuildContext, SearchSpace, build_pipeline
from ._record import Candidate, Evaluation, Status

__all__ = ["EvalContext", "evaluate"]


@dataclass
class EvalContext:
    """What every evaluation of a run shares; shipped to each worker once."""

    data: Dataset
    metric: Metric
    space: SearchSpace
    n_threads: int = 1
    device: str = "cpu"  # "auto" | "cpu" | "cuda"; resolved by each worker, see evoens.devices

    def build_context(self) -> BuildContext:
        """The pipelines' build settings, with ``device`` resolved on this process (cached per process)."""
        return BuildContext(self.data.task, tuple(bool(b) for b in self.data.categorical_mask),
                            self.n_threads, resolve_device(self.device),
                            tuple(bool(b) for b in self.data.low_cardinality))


def evaluate(candidate: Candidate, ctx: EvalContext, deadline: float | None = None) -> Evaluation:
    """Fit and score ``candidate`` on every fold; failures come back as records.

    Parameters
    ----------
    candidate : Candidate
    ctx : EvalContext
    deadline : float, optional
        Wall-clock time (``time.time()``) after which the evaluation stops at
        the learners' next deadline check and is recorded as a timeout.
    """
    start = time.time()
    record = Evaluation(candidate, Status.OK, worker=str(os.getpid()))
    try:
        with deadline_scope(deadline), warnings.catch_warnings(), threadpool_limits(ctx.n_threads):
            warnings.simplefilter("ignore")
            status = _cross_validate(candidate, ctx, record, deadline)
        record.status = status
    except DeadlineExceeded:
        record.status, record.error = Status.TIMEOUT, "stopped at its deadline"
    except MemoryError:
        record.status, record.error = Status.ERROR, "MemoryError: the pipeline ran out of memory"
    except Exception as exc:  # a failing pipeline is a result, never a crash of the run
        record.status = Status.ERROR
        record.error = f"{type(exc).__name__}: {exc}"[:2000]
        record.error += "\n" + "".join(traceback.format_exc(limit=-3))[-1500:]
    if record.status != Status.OK:
        record.oof, record.models = None, None
    record.wall_time = time.time() - start
    return record


def _fold_deadline(deadline, folds_left, share=0.85):
    """This fold's share of the time left (with room for predicting)."""
    if deadline is None:
        return None
    now = time.time()
    return now + share * max(0.0, deadline - now) / folds_left


def _cross_validate(candidate: Candidate, ctx: EvalContext, record: Evaluation, deadline=None) -> Status:
    data = ctx.data
    X, y, w = data.X, data.y, data.sample_weight
    shape = (len(y), data.n_classes) if data.is_classification else (len(y),)
    oof = np.zeros(shape, dtype=np.float64)
    component = ctx.space.learner_class(candidate.genome.learner)
    build = ctx.build_context()
    record.models = []
    for k, (tr, te) in enumerate(data.folds):
        pipe = build_pipeline(candidate.genome, component, build, candidate.seed, n_rows_hint=len(tr))
        fit_params = {} if w is None else {"learner__sample_weight": w[tr]}
        t0 = time.perf_counter()
        with fold_scope(_fold_deadline(deadline, len(data.folds) - k)):
            pipe.fit(X[tr], y[tr], **fit_params)
        t1 = time.perf_counter()
        check_deadline()
        pred = predict_aligned(pipe, X[te], data.task, data.n_classes)
        record.fit_time += t1 - t0
        record.predict_time += time.perf_counter() - t1
        record.n_predicted += len(te)
        if not np.all(np.isfinite(pred)):
            raise ValueError("the pipeline predicted NaN or infinite values")
        oof[te] = pred
        record.fold_scores.append(ctx.metric.fold_score(y[te], pred, None if w is None else w[te]))
        shrink = getattr(pipe[-1], "shrink_for_bag", None)
        if shrink is not None:
            shrink(len(data.folds))  # its OOF predictions are made; predictions average the bag
        record.models.append(pipe)
        # a NaN first fold (it lacks a class the metric needs) compares False: never pruned
        if k == 0 and candidate.prune_below is not None and record.fold_scores[0] < candidate.prune_below:
            record.error = f"first fold scored {record.fold_scores[0]:.5g}, below the population's {candidate.prune_below:.5g}"
            return Status.PRUNED
    record.score = ctx.metric(y, oof, w)
    if not np.isfinite(record.score):
        raise ValueError(f"the score is {record.score}")
    record.oof = oof.astype(np.float32)
    return Status.OK
