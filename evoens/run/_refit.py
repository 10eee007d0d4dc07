"""Refit the ensemble's members on all rows, inside what is left of the budget."""

from __future__ import annotations

import time
import warnings

from .._budget import Budget
from .._deadline import deadline_scope, fold_scope
from ..space import build_pipeline

__all__ = ["refit_members"]


def refit_members(ensemble, records, data, space, build, budget: Budget) -> dict:
    """Refit each member on all rows, with its candidate's own seed; returns id -> outcome.

    A member refits only if its expected cost (one fold fit of its
    evaluation, scaled to all rows) fits the time left; it refits under a
    soft deadline (its share of the time left: boosters and forests stop
    growing) and a hard one (:attr:`Budget.refit_deadline`).  A member whose
    refit would not finish, or fails, keeps its fold models.

    ``build`` is the :class:`~evoens.space.BuildContext` of the run's device
    plan, resolved on this process, as the workers resolved theirs.
    """
    hard = budget.refit_deadline
    k = len(data.folds)
    outcome = {}
    members = ensemble.members
    for i, member in enumerate(members):
        record = records[member.id]
        expected = record.fit_time / max(1, len(record.fold_scores)) * k / max(1, k - 1)
        left = float("inf") if hard is None else hard - time.time()
        if expected > left:
            outcome[member.id] = (
                f"kept fold models: refit expected {expected:.1f}s, {max(0, left):.1f}s left"
            )
            continue
        soft = budget.refit_soft_deadline(time.time(), len(members) - i)
        params = (
            {} if data.sample_weight is None else {"learner__sample_weight": data.sample_weight}
        )
        try:  # building fails too where this process lacks the plan's GPU (device="cuda")
            pipe = build_pipeline(
                member.genome,
                space.learner_class(member.genome.learner),
                build,
                member.seed,
                len(data.y),
            )
            with deadline_scope(hard), fold_scope(soft), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pipe.fit(data.X, data.y, **params)
        except Exception as exc:  # a refit that cannot finish (or fails) keeps the fold models
            outcome[member.id] = f"kept fold models: {type(exc).__name__}: {exc}"[:300]
            continue
        member.models = [pipe]
        member.predict_per_1k /= k  # one model where there were k
        outcome[member.id] = "refit on all rows"
    return outcome
