"""In-process, one at a time: for tiny fits, debugging and scikit-learn's checks."""

from __future__ import annotations

import dataclasses
from collections import deque

from ..devices import plan_devices, probe
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
        # device="cuda" without a GPU fails here, before the search, as on the other backends
        plan = plan_devices(ctx.device, [probe()] if ctx.device != "cpu" else [], "this machine")
        self._ctx = dataclasses.replace(ctx, device=plan.device)

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
