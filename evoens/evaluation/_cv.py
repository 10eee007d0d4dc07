"""Cross-validate one candidate on the run's fixed folds."""

from __future__ import annotations

import os
import time
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from .._budget import fold_deadline
from .._data import Dataset
from .._deadline import check_deadline, deadline_scope, fold_scope
from .._metrics import Metric
from .._predict import predict_aligned
from ..devices import DevicePlan
from ..exceptions import DeadlineExceeded, InvalidInputError
from ..space import BuildContext, SearchSpace, build_pipeline
from ._record import Candidate, Evaluation, Status

__all__ = ["EvalContext", "evaluate"]


@dataclass
class EvalContext:
    """What every evaluation of a run shares; shipped to each worker once.

    ``device`` is the device the run asked for; :meth:`Backend.start
    <evoens.backends.Backend.start>` decides the run's ``device_plan`` from it
    and ships the context, plan included, to the workers.
    """

    data: Dataset
    metric: Metric
    space: SearchSpace
    n_threads: int = 1
    device: str = "cpu"  # as requested: "auto" | "cpu" | "cuda"
    device_plan: DevicePlan | None = None  # the run's plan, set by Backend.start

    def build_context(self, n_threads: int | None = None) -> BuildContext:
        """The pipelines' build settings on this process, with the run's plan resolved here.

        The plan is resolved once per process (:meth:`DevicePlan.resolve
        <evoens.devices.DevicePlan.resolve>`), so a driver that refits
        builds with the same plan as the workers.

        Parameters
        ----------
        n_threads : int, optional
            Threads per learner instead of the context's ``n_threads``.
        """
        plan = self.device_plan
        if plan is None:
            if self.device != "cpu":
                raise InvalidInputError(
                    f"EvalContext(device={self.device!r}) has no device_plan; "
                    "Backend.start(ctx) makes it"
                )
            plan = DevicePlan()
        threads = self.n_threads if n_threads is None else int(n_threads)
        return BuildContext(
            self.data.task,
            tuple(bool(b) for b in self.data.categorical_mask),
            threads,
            plan.resolve(),
            tuple(bool(b) for b in self.data.low_cardinality),
        )


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


def _cross_validate(
    candidate: Candidate, ctx: EvalContext, record: Evaluation, deadline=None
) -> Status:
    data = ctx.data
    X, y, w = data.X, data.y, data.sample_weight
    shape = (len(y), data.n_classes) if data.is_classification else (len(y),)
    oof = np.zeros(shape, dtype=np.float64)
    component = ctx.space.learner_class(candidate.genome.learner)
    build = ctx.build_context()
    record.models = []
    for k, (tr, te) in enumerate(data.folds):
        pipe = build_pipeline(
            candidate.genome, component, build, candidate.seed, n_rows_hint=len(tr)
        )
        record.device = getattr(pipe[-1], "device", "cpu")
        if getattr(pipe[-1], "bag_size", None) is not None:
            pipe[-1].bag_size = len(data.folds)  # forests grow only the trees the bag keeps
        fit_params = {} if w is None else {"learner__sample_weight": w[tr]}
        t0 = time.perf_counter()
        with fold_scope(fold_deadline(deadline, len(data.folds) - k)):
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
        if (
            k == 0
            and candidate.prune_below is not None
            and record.fold_scores[0] < candidate.prune_below
        ):
            record.error = (
                f"first fold scored {record.fold_scores[0]:.5g}, "
                f"below the population's {candidate.prune_below:.5g}"
            )
            return Status.PRUNED
    record.score = ctx.metric(y, oof, w)
    if not np.isfinite(record.score):
        raise ValueError(f"the score is {record.score}")
    record.oof = oof.astype(np.float32)
    return Status.OK
