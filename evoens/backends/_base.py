"""The backend interface: where evaluations run."""

from __future__ import annotations

import abc
import dataclasses

from ..devices import DevicePlan, plan_devices, probe

__all__ = ["Backend"]


class Backend(abc.ABC):
    """Runs candidate evaluations and hands back finished :class:`Evaluation` records.

    The driver calls :meth:`start` once with the run's shared context: the
    backend decides the run's :class:`~evoens.devices.DevicePlan` there and
    sends the data to the workers, once.  Then it loops: :meth:`submit` while
    :meth:`idle` is positive, :meth:`wait` for finished records.  A backend
    never raises for a failed evaluation: a crash, a hang past the deadline or
    a lost worker comes back as a record with a failure status (``timeout``
    past the deadline, ``killed`` for a lost worker or an abandoned
    evaluation).  Deadlines: the sequential backend only stops learners that
    check theirs; the others also stop one that ignores it, ``grace`` seconds
    late, by killing or restarting its worker.

    Attributes
    ----------
    device_plan : DevicePlan
        The run's device plan, decided by :meth:`start`.
    ctx : EvalContext or None
        The context the workers get (``device_plan`` inside), set by
        :meth:`start`; the driver builds its refits from it
        (``backend.ctx.build_context(n_threads=k)``).
    """

    #: how many evaluations may be submitted at once; it may change during a run (Dask re-reads
    #: its workers; the local backend lowers it inside a joblib worker)
    capacity: int = 1
    device_plan: DevicePlan = DevicePlan()
    ctx = None

    def start(self, ctx) -> None:
        """Decide the run's device plan, then ship ``ctx`` (plan inside) to the workers.

        Parameters
        ----------
        ctx : EvalContext
            The run's context; ``ctx.device`` is the requested device.

        Raises
        ------
        InvalidInputError
            ``ctx.device`` is not one of :data:`evoens.devices.DEVICES`.
        DeviceError
            ``ctx.device="cuda"`` and the processes that would train have no
            usable NVIDIA GPU: before any worker gets the data.
        """
        requested = ctx.device
        probes, where = ([], "nowhere") if requested == "cpu" else self._probe_devices(requested)
        self.device_plan = plan_devices(requested, probes, where)
        self.ctx = dataclasses.replace(ctx, device_plan=self.device_plan)
        self._start(self.ctx)

    def _probe_devices(self, requested: str) -> tuple[list, str]:
        """Probes of the processes that may train GPU candidates, and words for them.

        :func:`~evoens.devices.probe` results; by default of this process, as
        the workers run on this machine.  Never called for ``"cpu"``.
        """
        return [probe()], "this machine"

    @abc.abstractmethod
    def _start(self, ctx) -> None:
        """Ship the run's context (its ``device_plan`` decided) to the workers."""

    @abc.abstractmethod
    def submit(self, candidate, deadline: float | None) -> None:
        """Start evaluating ``candidate``; it must stop by ``deadline`` (``time.time()``)."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> list:
        """Finished evaluations, waiting at most ``timeout`` seconds for the first.

        The sequential backend evaluates inside ``wait``, so it ignores ``timeout``.
        """

    @property
    @abc.abstractmethod
    def n_running(self) -> int:
        """Evaluations submitted and not yet returned by :meth:`wait`."""

    @abc.abstractmethod
    def shutdown(self) -> list:
        """Abandon what is running, release the workers; returns records of the abandoned."""

    @property
    def idle(self) -> int:
        """Evaluations that may be submitted now.

        Can be below ``capacity - n_running`` (even 0 with nothing running)
        while workers start or restart; the driver then keeps calling :meth:`wait`.
        """
        return max(0, self.capacity - self.n_running)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.shutdown()
