"""Repeats: late in a long run, the ensemble's likely members cross-validated again.

Every candidate of a search is judged on the same out-of-fold predictions,
and the ensemble's members are the ones that did best on them among hundreds:
part of their lead is luck on those folds (the winner's curse), and a longer
search selects harder on the same rows.  So from :attr:`Budget.repeat_start
<evoens._budget.Budget.repeat_start>` on, the members the greedy ensemble
would take now, and then the best by score, are evaluated once more on a
second split of the rows into as many folds (``Dataset.repeat_fold_of``),
ahead of any new candidate.  A repeated member's record for the ensemble
averages its two OOF predictions (each row predicted by two models that did
not see it, one of them on folds the search never selected on) and keeps both
sets of fold models, so its predictions average twice as many models: repeated
bagging, as AutoGluon's ``num_bag_sets`` does.  The search's own records, its
breeding and the leaderboard are left as they were.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..ensemble._greedy import greedy_weights
from ..evaluation import Candidate, Evaluation

__all__ = ["Repeats", "MAX_REPEATS"]

#: members repeated at most (the stacker's ``max_stack``: what an ensemble here uses)
MAX_REPEATS = 8
#: a member is repeated only if its first evaluation's wall time, times this, fits the
#: time left (a repeat costs what the first evaluation cost: the same learner, rows, folds)
COST_MARGIN = 1.2


class Repeats:
    """The repeat phase of one search: what to submit, and the ensemble's merged records.

    Parameters
    ----------
    builder : EnsembleBuilder
        Gives the pool and the greedy selection's settings.
    data : Dataset
    budget : Budget
    """

    def __init__(self, builder, data, budget):
        self.builder, self.data, self.budget = builder, data, budget
        self.queue: list | None = None  # planned when the phase starts
        self.results: dict = {}  # original id -> its repeat's Evaluation

    @property
    def enabled(self) -> bool:
        return self.data.repeat_fold_of is not None and self.budget.repeat_start is not None

    def next(self, evaluations, now: float) -> Candidate | None:
        """The next repeat to submit, or None (not started, done, or none fits the time left).

        ``evaluations`` is the search's archive: the members are planned from it
        once, when the phase starts.
        """
        if not self.enabled or now < self.budget.repeat_start:
            return None
        if self.queue is None:
            self.queue = self._plan(list(evaluations))  # None until something succeeded
            if self.queue is None:
                return None
        left = self.budget.search_end - now
        while self.queue:
            e = self.queue.pop(0)
            if COST_MARGIN * e.wall_time <= left:
                c = e.candidate
                return dataclasses.replace(
                    c,
                    seed=(c.seed + 1) % 2**31,
                    operator="repeat",
                    parents=(c.id,),
                    source="a second fold split",
                    prune_below=None,
                    repeat=1,
                )
        return None

    def _plan(self, evaluations) -> list[Evaluation] | None:
        """The members the ensemble would take now (greedy weight first), then the best by
        score, at most :data:`MAX_REPEATS`."""
        pool = [e for e in self.builder.pool(evaluations) if e.models is not None]
        if not pool:
            return None
        data, b = self.data, self.builder
        weights = greedy_weights(
            [e.oof.astype(np.float64) for e in pool],
            data.y,
            b.metric,
            b.n_iter,
            data.sample_weight,
            b._rows(len(data.y)),
        )
        order = sorted(range(len(pool)), key=lambda j: (-weights[j], -pool[j].score, pool[j].id))
        return [pool[j] for j in order][:MAX_REPEATS]

    def receive(self, evaluation: Evaluation) -> None:
        if evaluation.ok:
            self.results[evaluation.id] = evaluation

    def merged(self, evaluations: list, metric) -> list:
        """``evaluations`` with each repeated one's record merged with its repeat (a copy:
        the search's records are unchanged).

        The OOF predictions are averaged, the fold models, fold scores and
        prediction costs added up, and the score computed again on the
        averaged predictions.  A record whose fold models were dropped (it left
        the pool since) stays as it is.
        """
        out = []
        data = self.data
        for e in evaluations:
            r = self.results.get(e.id)
            if r is None or e.models is None or not e.ok:
                out.append(e)
                continue
            oof = (e.oof.astype(np.float64) + r.oof.astype(np.float64)) / 2
            out.append(
                dataclasses.replace(
                    e,
                    oof=oof.astype(np.float32),
                    models=list(e.models) + list(r.models),
                    fold_scores=list(e.fold_scores) + list(r.fold_scores),
                    score=metric(data.y, oof, data.sample_weight),
                    fit_time=e.fit_time + r.fit_time,
                    predict_time=e.predict_time + r.predict_time,
                    n_predicted=e.n_predicted + r.n_predicted,
                )
            )
        return out
