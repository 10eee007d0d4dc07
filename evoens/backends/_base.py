"""The backend interface: where evaluations run."""

from __future__ import annotations

import abc

__all__ = ["Backend"]


class Backend(abc.ABC):
    """Runs candidate evaluations and hands back finished :class:`Evaluation` records.

    The driver calls :meth:`start` once with the run's shared context (the
    data goes to the workers there, once), then loops: :meth:`submit` while
    :meth:`idle` is positive, :meth:`wait` for finished records.  A backend
    never raises for a failed evaluation: a crash, a hang past the deadline or
    a lost worker comes back as a record with a failure status.
    """

    #: how many evaluations may run at once
    capacity: int = 1

    @abc.abstractmethod
    def start(self, ctx) -> None:
        """Ship the run's :class:`~evoens.evaluation._cv.EvalContext` to the workers."""

    @abc.abstractmethod
    def submit(self, candidate, deadline: float | None) -> None:
        """Start evaluating ``candidate``; it must stop by ``deadline`` (``time.time()``)."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> list:
        """Finished evaluations, waiting at most ``timeout`` seconds for the first."""

    @property
    @abc.abstractmethod
    def n_running(self) -> int:
        """Evaluations submitted and not yet returned by :meth:`wait`."""

    @abc.abstractmethod
    def shutdown(self) -> list:
        """Abandon what is running, release the workers; returns records of the abandoned."""

    @property
    def idle(self) -> int:
        return max(0, self.capacity - self.n_running)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
