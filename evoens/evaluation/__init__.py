"""One candidate on the run's fixed folds becomes one :class:`Evaluation`."""

from .._deadline import check_deadline, deadline_scope, time_left
from ._record import Candidate, Evaluation, Status
from ._cv import evaluate

__all__ = ["Candidate", "Evaluation", "Status", "evaluate", "deadline_scope", "check_deadline", "time_left"]
