"""In-process, one at a time: for tiny fits, debugging and scikit-learn's checks."""

from __future__ import annotations

from collections import deque

from ..evaluation import evaluate
from ._base import Backend

__all__ = ["SequentialBackend"]


class SequentialBackend(Backend):
    """Evaluates in the calling process.  Deadlines are cooperative only."""

    capacity = 1

    def __init__(self):
        self._queue = deque()
        self._ctx = None

    def start(self, ctx) -> None:
        self._ctx = ctx

    def submit(self, candidate, deadline) -> None:
        self._queue.append((candidate, deadline))

    def wait(self, timeout: float) -> list:
        if not self._queue:
            return []
        candidate, deadline = self._queue.popleft()
        return [evaluate(candidate, self._ctx, deadline)]

    @property
    def n_running(self) -> int:
        return len(self._queue)

    def shutdown(self) -> list:
        self._queue.clear()
        return []
