"""One candidate on the run's fixed folds becomes one :class:`Evaluation`."""

from ._cv import EvalContext, evaluate
from ._leaderboard import LEADERBOARD_COLUMNS, leaderboard_from_evaluations
from ._record import Candidate, Evaluation, Status, finite_or_none

__all__ = [
    "Candidate",
    "EvalContext",
    "Evaluation",
    "Status",
    "evaluate",
    "finite_or_none",
    "leaderboard_from_evaluations",
    "LEADERBOARD_COLUMNS",
]
