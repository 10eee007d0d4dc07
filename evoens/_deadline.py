"""Cooperative deadlines: learners ask the clock between boosting rounds.

Two clocks.  The evaluation's *hard* deadline (:func:`deadline_scope`):
:func:`check_deadline` raises :class:`~evoens.exceptions.DeadlineExceeded`
past it and the evaluation is recorded as a timeout.  Each fold's *soft*
deadline (:func:`fold_scope`), its share of the time left: past it,
:func:`should_stop` tells boosters and tree ensembles to stop growing and keep
the model they have, so a tight budget yields smaller models, not failures.
Code that never checks is stopped by the backend killing its worker process.
"""

from __future__ import annotations

import contextlib
import contextvars
import time

from .exceptions import DeadlineExceeded

__all__ = [
    "deadline_scope",
    "fold_scope",
    "check_deadline",
    "should_stop",
    "time_left",
    "fold_time_left",
]

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "evoens_deadline", default=None
)
_FOLD_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "evoens_fold_deadline", default=None
)


@contextlib.contextmanager
def deadline_scope(deadline: float | None):
    """Within the block, :func:`check_deadline` raises after ``deadline``
    (``time.time()`` seconds)."""
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


@contextlib.contextmanager
def fold_scope(deadline: float | None):
    """Within the block, :func:`should_stop` turns true after ``deadline``."""
    token = _FOLD_DEADLINE.set(deadline)
    try:
        yield
    finally:
        _FOLD_DEADLINE.reset(token)


def should_stop() -> bool:
    """True once the current fold has used its share of the time: stop growing, keep the model."""
    soft = _FOLD_DEADLINE.get()
    return soft is not None and time.time() > soft


def fold_time_left() -> float:
    """Seconds until the current fold's soft deadline (``inf`` without one)."""
    soft = _FOLD_DEADLINE.get()
    return float("inf") if soft is None else soft - time.time()
