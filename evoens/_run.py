"""The driver loop: feed the backend from the search until a stopping rule fires."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import optuna

from .evaluation import Evaluation

__all__ = ["SearchLimits", "run_search"]


@dataclass
class SearchLimits:
    """When the search stops and how long one evaluation may take.

    ``search_end`` is a wall-clock time (``time.time()``); evaluations still
    running then are abandoned (their workers stopped) and recorded.
    """

    search_end: float | None = None
    max_eval_time: float | None = None
    early_stop: int | None = None
    stop_reason: str = field(default="", init=False)


@contextlib.contextmanager
def quiet_optuna():
    """Optuna logs every told trial at INFO; silence it for the run, then restore."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


def _deadline(limits: SearchLimits, now: float):
    candidates = [t for t in (limits.search_end, None if limits.max_eval_time is None else now + limits.max_eval_time)
                  if t is not None]
    return min(candidates) if candidates else None


def run_search(engine, backend, limits: SearchLimits, on_result=None, replay=None) -> list[Evaluation]:
    """Run until the budget, the generation limit or early stopping; returns every record.

    ``replay`` maps candidate ids to evaluations already made (a resumed run's
    journal): a candidate found there with the same genome is told at once,
    never evaluated again.  The search is deterministic, so a resumed run
    proposes the same candidates in the same order.
    """
    records = []
    replay = dict(replay or {})

    def receive(evaluation, breed=True):
        engine.tell(evaluation, breed)
        records.append(evaluation)
        if on_result is not None:
            on_result(evaluation, engine)

    while True:
        now = time.time()
        if limits.search_end is not None and now >= limits.search_end:
            limits.stop_reason = "time budget"
            break
        if limits.early_stop is not None and engine.completed_generations > limits.early_stop \
                and engine.stalled_generations() >= limits.early_stop:
            limits.stop_reason = f"no improvement in {limits.early_stop} generations"
            break
        while backend.idle > 0:
            candidate = engine.ask()
            if candidate is None:
                break
            done = replay.pop(candidate.id, None)
            if done is not None and done.genome == candidate.genome:
                done.candidate = candidate
                engine.tell(done)
                records.append(done)
                continue
            backend.submit(candidate, _deadline(limits, time.time()))
        if backend.n_running == 0 and not engine.has_queued():
            limits.stop_reason = "generations" if engine.done else "search space exhausted"
            break
        wait = 0.5 if limits.search_end is None else max(0.0, min(0.5, limits.search_end - time.time()))
        for evaluation in backend.wait(wait):
            receive(evaluation)
    for evaluation in backend.shutdown():
        receive(evaluation, breed=False)
    return records
