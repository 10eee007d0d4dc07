"""One candidate on the run's fixed folds becomes one :class:`Evaluation`."""

from .._deadline import check_deadline, deadline_scope, time_left
from ._record import Candidate, Evaluation, Status
from ._cv import evaluate
from ._leaderboard import LEADERBOARD_COLUMNS, leaderboard_from_evaluations

__all__ = ["Candidate", "Evaluation", "Status", "evaluate", "leaderboard_from_evaluations", "LEADERBOARD_COLUMNS", "deadline_scope", "check_deadline", "time_left"]
