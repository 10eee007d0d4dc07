"""Cooperative deadlines: learners ask the clock between boosting rounds.

The evaluator opens a :func:`deadline_scope`; booster callbacks call
:func:`check_deadline`, which raises :class:`~evoens.exceptions.DeadlineExceeded`
once the wall clock passes it.  Code that never checks is stopped by the
backend terminating its worker process (the last resort).
"""

from __future__ import annotations

import contextlib
import contextvars
import time

from .exceptions import DeadlineExceeded

__all__ = ["deadline_scope", "check_deadline", "time_left"]

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("evoens_deadline", default=None)


@contextlib.contextmanager
def deadline_scope(deadline: float | None):
    """Within the block, :func:`check_deadline` raises after ``deadline`` (``time.time()`` seconds)."""
    token = _DEADLINE.set(deadline)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def time_left() -> float:
    deadline = _DEADLINE.get()
    return float("inf") if deadline is None else deadline - time.time()


def check_deadline() -> None:
    if time_left() <= 0:
        raise DeadlineExceeded("the evaluation passed its deadline")
