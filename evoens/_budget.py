"""Every clock of a run, from its one ``time_budget``.

A fit given ``T`` seconds spends them in this order::

    started -- search -- search_end -- ensemble -- ensemble_deadline
            -- refit -- refit_deadline -- end

Each margin is a named constant below, with the reason for its size.  The
search loop, the evaluations, the ensemble and the refit read their
deadlines from a :class:`Budget`; nothing else does time arithmetic.

Examples
--------
>>> b = Budget(60.0, started=0.0)
>>> b.end, b.search_end, b.eval_time
(60.0, 55.8, 20.0)
>>> round(b.frugal_cost(workers=2), 2)  # an eighth of 2 x 55.8 worker-seconds
13.95
>>> Budget(None, started=0.0).search_end is None
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass

__all__ = [
    "Budget",
    "fold_deadline",
    "DEFAULT_TIME_BUDGET",
    "GRACE",
    "DATA_PARALLEL_SHARE",
    "CHECK_SHARE",
]

#: seconds for a whole fit when none is given (the estimators' and the command's default)
DEFAULT_TIME_BUDGET = 60.0

#: share of T kept after the search for the ensemble and the refit
RESERVE_SHARE = 0.07
#: the reserve never drops below 1 s (the ensemble of a small pool takes about that)
RESERVE_MIN = 1.0
#: nor exceeds 30 s: the ensemble step costs seconds, not minutes, at any budget
RESERVE_MAX = 30.0
#: one evaluation may take a third of T, so a run always sees several
EVAL_SHARE = 1 / 3
#: but never less than 5 s: below that even a default booster times out on mid-size data
EVAL_MIN = 5.0
#: a candidate expected to cost more than this share of the search's worker-seconds
#: (workers x search time) waits while cheaper ones can run: at 60 s on 2 cores, 14 s.
#: Cheap and strong first, as FLAML's cost-frugal search does; a run that has only
#: expensive candidates left still runs them
FRUGAL_SHARE = 1 / 8
#: the ensemble stops this long before the end: room to return from ``fit``
ENSEMBLE_MARGIN = 0.5
#: the refit stops this long before the end: room to release its memory and return
REFIT_MARGIN = 1.0
#: a fold may use this share of its even split of the evaluation's time left; the rest predicts
FOLD_SHARE = 0.85
#: a member's refit may use this share of its even split of the refit's time left
REFIT_SHARE = 0.85
#: seconds past its deadline before a worker that has not stopped on its own is killed
GRACE = 2.0
#: with a Dask DataFrame (:mod:`evoens.bigdata`), the share of the time left after
#: sampling that trains the chosen boosters on all rows: one data-parallel fit costs
#: what a few dozen fold fits on the sample cost, and the search needs most of T
DATA_PARALLEL_SHARE = 0.4
#: and the share of T kept after that to check the final model on held-out partitions
#: (at least 5 s: it reads those partitions again and predicts them with every member)
CHECK_SHARE = 0.05


@dataclass(frozen=True)
class Budget:
    """The run's clocks, all wall-clock times (``time.time()``); ``None`` means no limit.

    Parameters
    ----------
    seconds : float or None
        The whole fit's ``time_budget``; ``None`` for a run bounded by generations.
    started : float
        When the fit started.
    max_eval_time : float or None
        The user's cap on one evaluation; ``None``: :data:`EVAL_SHARE` of the budget.
    """

    seconds: float | None
    started: float
    max_eval_time: float | None = None

    @classmethod
    def starting_now(cls, seconds=None, max_eval_time=None) -> Budget:
        return cls(
            None if seconds is None else float(seconds),
            time.time(),
            None if max_eval_time is None else float(max_eval_time),
        )

    @property
    def end(self) -> float | None:
        return None if self.seconds is None else self.started + self.seconds

    @property
    def reserve(self) -> float:
        """Seconds kept after the search for the ensemble and the refit."""
        if self.seconds is None:
            return 0.0
        return min(RESERVE_MAX, max(RESERVE_MIN, RESERVE_SHARE * self.seconds))

    @property
    def search_end(self) -> float | None:
        """No evaluation starts after this, and the running ones are stopped by it."""
        return None if self.end is None else self.end - self.reserve

    @property
    def eval_time(self) -> float | None:
        """Seconds one evaluation may take."""
        if self.max_eval_time is not None:
            return self.max_eval_time
        return None if self.seconds is None else max(EVAL_MIN, EVAL_SHARE * self.seconds)

    def eval_deadline(self, now: float) -> float | None:
        """The deadline of an evaluation submitted at ``now``: its cap, or the search's end."""
        limits = [
            t
            for t in (self.search_end, None if self.eval_time is None else now + self.eval_time)
            if t is not None
        ]
        return min(limits) if limits else None

    def frugal_cost(self, workers: int) -> float | None:
        """Seconds above which a candidate waits while cheaper ones can run
        (:data:`FRUGAL_SHARE` of the search's worker-seconds); None without a budget."""
        if self.search_end is None:
            return None
        return FRUGAL_SHARE * max(1, int(workers)) * (self.search_end - self.started)

    def search_over(self, now: float) -> bool:
        return self.search_end is not None and now >= self.search_end

    @property
    def ensemble_deadline(self) -> float | None:
        return None if self.end is None else self.end - ENSEMBLE_MARGIN

    @property
    def refit_deadline(self) -> float | None:
        return None if self.end is None else self.end - REFIT_MARGIN

    def refit_soft_deadline(self, now: float, members_left: int) -> float | None:
        """When one member's refit should stop growing: its share of the refit's time left."""
        if self.refit_deadline is None:
            return None
        return now + REFIT_SHARE * max(0.0, self.refit_deadline - now) / max(1, members_left)


def fold_deadline(
    deadline: float | None, folds_left: int, now: float | None = None
) -> float | None:
    """When a fold should stop growing: its share of the evaluation's time left."""
    if deadline is None:
        return None
    now = time.time() if now is None else now
    return now + FOLD_SHARE * max(0.0, deadline - now) / max(1, folds_left)
