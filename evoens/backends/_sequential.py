"""In-process, one at a time: for tiny fits, debugging and scikit-learn's checks."""

from __future__ import annotations

from collections import deque

from ..evaluation import Evaluation, Status, evaluate
from ._base import Backend

__all__ = ["SequentialBackend"]


class SequentialBackend(Backend):
    """Evaluates in the calling process.  Deadlines are cooperative only."""

    capacity = 1

    def __init__(self):
        self._queue = deque()

    def _start(self, ctx) -> None:
        pass  # the context stays here, as self.ctx

    def submit(self, candidate, deadline) -> None:
        self._queue.append((candidate, deadline))

    def wait(self, timeout: float) -> list:
        if not self._queue:
            return []
        candidate, deadline = self._queue.popleft()
        return [evaluate(candidate, self.ctx, deadline)]

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def shutdown(self) -> list:
        """Drop what was submitted and not evaluated; returns its records (``killed``)."""
        abandoned = [
            Evaluation(
                candidate,
                Status.KILLED,
                error="abandoned: the run stopped before it was evaluated",
            )
            for candidate, _ in self._queue
        ]
        self._queue.clear()
        return abandoned
