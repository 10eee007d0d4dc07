"""The search loop: feed the backend from the search until a stopping rule fires."""

from __future__ import annotations

import time

from .._budget import Budget
from ..evaluation import Evaluation

__all__ = ["run_search"]


def run_search(
    engine, backend, budget: Budget, early_stop=None, on_result=None, replay=None
) -> tuple[list[Evaluation], str]:
    """Run until the budget, the generation limit or early stopping.

    Returns every record and why the search stopped.  ``replay`` maps
    candidate ids to evaluations already made (a resumed run's journal): a
    candidate found there with the same genome is told at once, never
    evaluated again.  The search is deterministic, so a resumed run proposes
    the same candidates in the same order.  Evaluations still running at
    ``budget.search_end`` are abandoned (their workers stopped) and recorded;
    near it, the engine proposes only candidates expected to finish in time,
    and throughout, cheap ones first (:meth:`Budget.frugal_cost`).
    """
    records = []
    replay = dict(replay or {})

    def receive(evaluation, breed=True):
        engine.tell(evaluation, breed)
        records.append(evaluation)
        if on_result is not None:
            on_result(evaluation, engine)

    while True:
        if budget.search_over(time.time()):
            reason = "time budget"
            break
        if (
            early_stop is not None
            and engine.completed_generations > early_stop
            and engine.stalled_generations() >= early_stop
        ):
            reason = f"no improvement in {early_stop} generations"
            break
        starved = False  # a worker was free, and nothing was proposed
        while backend.idle > 0:
            end = budget.search_end
            candidate = engine.ask(
                None if end is None else end - time.time(),
                budget.frugal_cost(backend.capacity),
            )
            if candidate is None:
                starved = True
                break
            done = replay.pop(candidate.id, None)
            if done is not None and done.genome == candidate.genome:
                done.candidate = candidate
                engine.tell(done)
                records.append(done)
                continue
            backend.submit(candidate, budget.eval_deadline(time.time()))
        if backend.n_running == 0 and not engine.has_queued():
            reason = "generations" if engine.done else "search space exhausted"
            break
        if backend.n_running == 0 and starved:  # queued, yet none expected to finish in time
            reason = "no candidate fits the time left"
            break
        end = budget.search_end
        wait = 0.5 if end is None else max(0.0, min(0.5, end - time.time()))
        for evaluation in backend.wait(wait):
            receive(evaluation)
    for evaluation in backend.shutdown():
        receive(evaluation, breed=False)
    return records, reason
