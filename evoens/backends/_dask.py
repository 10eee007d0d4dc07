"""Evaluations on a Dask ``distributed`` cluster.

The run's context (data, folds, metric, space) is scattered once; every task
depends on that one future, so the data never rides in a task.  Each
candidate is one task with a unique key.  Failures come back as records:

* a task still running ``grace`` seconds past its deadline (a learner that
  ignores the cooperative deadline) is abandoned as a ``timeout``, its future
  cancelled and its worker restarted (``Future.cancel`` cannot stop a running
  task);
* a worker that dies while running a task (killed, out of memory, a crash in
  native code) makes the scheduler retry the task elsewhere; when it has died
  on too many workers (``distributed.scheduler.allowed-failures``; 1 retry on
  the ``LocalCluster`` evoens starts) it is recorded as ``killed``;
* scattered data lost with its last worker is sent again, once per loss.

GPU candidates (XGBoost, and LightGBM where its OpenCL learner finds an
NVIDIA GPU) go only to workers advertising a ``GPU`` resource; see
:mod:`evoens.devices`.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import time
import uuid

import distributed

from .._budget import GRACE
from ..devices import probe
from ..evaluation import Evaluation, Status, evaluate
from ._base import Backend
from ._dask_cluster import Cluster, mark_executing

__all__ = ["DaskBackend"]

logger = logging.getLogger("evoens")

_KILLED_REASON = (
    "its worker died while running it (killed, out of memory or a crash in native code)"
)


def _evaluate_task(ctx, candidate, deadline):
    """The task run on a worker: ``ctx`` is the scattered context, resolved by Dask."""
    worker = distributed.get_worker()
    with mark_executing(worker.get_current_task()):
        record = evaluate(candidate, ctx, deadline)
    record.worker = f"{worker.address} (pid {record.worker})"
    return record


@dataclasses.dataclass
class _Task:
    candidate: object
    deadline: float | None
    submitted: float
    attempt: int = 1
    key: str = ""
    future: object = None


class DaskBackend(Backend):
    """Evaluate candidates on a Dask cluster.

    Only an explicit cluster is used: ``client``, else ``scheduler``, else a
    ``LocalCluster`` started here and closed by :meth:`shutdown`.  A global
    (default) Dask client is never picked up.

    Parameters
    ----------
    n_workers : int, default=1
        Worker processes of the ``LocalCluster`` started when neither
        ``scheduler`` nor ``client`` is given (one thread each).
    scheduler : str, optional
        Address of a running scheduler (``"tcp://host:8786"``); the cluster is
        left running, the client evoens opens to it is closed.
    client : distributed.Client, optional
        A client of the cluster to use; left open.  With ``scheduler`` too,
        both must name the same scheduler.
    security : distributed.security.Security, optional
        TLS settings for the client (and the ``LocalCluster``).
    memory_limit : str, float or None, default=None
        Per-worker memory limit of the ``LocalCluster`` (``None``: Dask's
        ``"auto"``, the machine's memory shared out); a task that breaks it is
        killed by the worker's nanny and recorded as ``killed``.
    grace : float, default=2.0
        Seconds past a deadline before a task that has not stopped on its own
        is abandoned and its worker restarted.
    worker_timeout : float, default=60.0
        Seconds :meth:`start` waits for a first worker to join.

    Attributes
    ----------
    n_scatters : int
        Times the run's context was sent to the cluster: 1, plus 1 for each
        loss of every copy of it.
    restarts : int
        Workers restarted to stop abandoned tasks.

    Examples
    --------
    >>> from evoens import EvoEnsembleClassifier
    >>> clf = EvoEnsembleClassifier(  # doctest: +SKIP
    ...     backend="dask", scheduler="tcp://scheduler:8786"
    ... )
    >>> clf.fit(X, y)  # doctest: +SKIP
    """

    def __init__(
        self,
        n_workers=1,
        scheduler=None,
        client=None,
        security=None,
        memory_limit=None,
        grace=GRACE,
        worker_timeout=60.0,
    ):
        self.grace = float(grace)
        self.n_scatters = 0
        self.restarts = 0
        self._cluster = Cluster(
            int(n_workers), scheduler, client, security, memory_limit, float(worker_timeout)
        )
        self._client = None
        self._ctx_future = None
        self._route_gpu = False  # GPU candidates go to workers advertising a GPU resource
        self._running: dict[str, _Task] = {}
        self._done: list = []
        self._finished: queue.Queue = queue.Queue()
        self._token = uuid.uuid4().hex[:10]
        self._capacity = max(1, int(n_workers)) + 1
        self._capacity_checked = 0.0
        self._closed = False

    # -- lifecycle ------------------------------------------------------------
    def start(self, ctx) -> None:
        """Connect (or start a ``LocalCluster``), decide the devices, scatter ``ctx`` once."""
        try:
            self._client = self._cluster.open()  # the device probes run on its workers
            super().start(ctx)
        except BaseException:
            self.shutdown()
            raise

    def _start(self, ctx) -> None:
        self._scatter()

    def _probe_devices(self, requested) -> tuple[list, str]:
        """Probes of the workers that may train GPU candidates, and words for them.

        Workers advertising a ``GPU`` resource, when any does: GPU candidates
        then go only to them.  Else every worker, if every one has a GPU; else
        none (``"cuda"`` then fails, saying how to advertise the GPUs).
        """
        workers = self._client.scheduler_info(n_workers=-1)["workers"]
        advertised = sorted(
            a for a, w in workers.items() if (w.get("resources") or {}).get("GPU", 0) >= 1
        )
        probes = {
            a: p if isinstance(p, dict) else {}
            for a, p in self._client.run(probe, on_error="return").items()
        }
        address = self._cluster.address
        self._route_gpu = bool(advertised)
        if advertised:
            where = (
                f"the {len(advertised)} worker(s) with a 'GPU' resource of the cluster "
                f"at {address}"
            )
            return [probes.get(a, {}) for a in advertised], where
        if probes and all(p.get("cuda") for p in probes.values()):
            return list(probes.values()), f"the cluster at {address}"
        with_gpu = sum(bool(p.get("cuda")) for p in probes.values())
        where = f"any of the {len(probes)} workers of the cluster at {address}"
        if with_gpu:
            where = (
                f"a worker advertising a 'GPU' resource at {address} ({with_gpu} of "
                f"{len(probes)} workers have a GPU but no resource: start them with "
                "`dask worker ADDRESS --resources GPU=1`)"
            )
        return [], where

    def _scatter(self, timeout=None) -> None:
        kwargs = {} if timeout is None else {"timeout": timeout}
        self._ctx_future = self._client.scatter(self.ctx, broadcast=True, hash=False, **kwargs)
        self.n_scatters += 1

    def shutdown(self) -> list:
        """Cancel what is running, release the data, close what evoens started.

        Returns records (``killed``, "abandoned ...") for the candidates in flight.
        """
        if self._closed:
            return []
        self._closed = True
        tasks = list(self._running.values())
        abandoned = self._done + [
            self._failed(t, Status.KILLED, "abandoned: the run stopped while it was running")
            for t in tasks
        ]
        self._running, self._done = {}, []
        try:
            self._release(tasks)
        finally:
            self._cluster.close({t.key: t.deadline for t in tasks}, self.grace)
        return abandoned

    def _release(self, tasks) -> None:
        if self._client is None or self._client.status in ("closing", "closed"):
            return
        futures = [t.future for t in tasks] + (
            [self._ctx_future] if self._ctx_future is not None else []
        )
        try:
            self._client.cancel(futures, force=True)
        except Exception as exc:  # the scheduler is gone: nothing left to release
            logger.debug("evoens: cancelling on shutdown failed: %s", exc)
        self._ctx_future = None

    # -- capacity -------------------------------------------------------------
    @property
    def capacity(self) -> int:
        """Worker threads in the cluster now, plus one task kept queued.

        The queued task starts as soon as a worker frees up, instead of after
        the round trip through the driver (result, search, next submission).
        With no worker, one task waits.  Read about once a second, so an
        adaptive cluster's growth and shrinkage are followed.
        """
        now = time.monotonic()
        if self._client is not None and not self._closed and now - self._capacity_checked > 1.0:
            self._capacity_checked = now
            try:
                threads = self._cluster.threads()
                self._capacity = threads + 1 if threads else 1
            except Exception as exc:
                logger.debug("evoens: could not read the cluster's threads: %s", exc)
        return self._capacity

    @property
    def n_running(self) -> int:
        return len(self._running) + len(self._done)

    # -- work -----------------------------------------------------------------
    def submit(self, candidate, deadline) -> None:
        self._launch(_Task(candidate, deadline, time.time()))

    def _launch(self, task: _Task) -> None:
        task.key = f"evoens-eval-{self._token}-{task.candidate.id}-{task.attempt}"
        resources = {"GPU": 1} if self._needs_gpu(task.candidate) else None
        try:
            task.future = self._client.submit(
                _evaluate_task,
                self._ctx_future,
                task.candidate,
                task.deadline,
                key=task.key,
                pure=False,
                resources=resources,
            )
        except Exception as exc:  # the client lost its scheduler
            self._done.append(
                self._failed(task, Status.KILLED, f"could not be submitted to the cluster: {exc}")
            )
            return
        self._running[task.key] = task
        task.future.add_done_callback(lambda future, q=self._finished: q.put(future.key))

    def _needs_gpu(self, candidate) -> bool:
        component = self.ctx.space.component(candidate.genome.learner)
        return self._route_gpu and self.device_plan.uses_gpu(component)

    def wait(self, timeout: float) -> list:
        if self._done:
            finished, self._done = self._done, []
            return finished + self._collect(self._ready_keys(0.0))
        if not self._running:
            time.sleep(min(timeout, 0.05))
            return []
        kill_times = [
            t.deadline + self.grace for t in self._running.values() if t.deadline is not None
        ]
        limit = min([timeout] + [max(0.0, k - time.time()) for k in kill_times])
        finished = self._collect(self._ready_keys(limit))
        return finished + self._abandon_overdue()

    def _ready_keys(self, timeout: float) -> list:
        keys = []
        try:
            keys.append(
                self._finished.get(timeout=timeout) if timeout > 0 else self._finished.get_nowait()
            )
            while True:
                keys.append(self._finished.get_nowait())
        except queue.Empty:
            pass
        return keys

    def _collect(self, keys) -> list:
        records = []
        for key in keys:
            task = self._running.pop(key, None)
            if task is None:
                continue  # abandoned already
            future = task.future
            record = self._receive(task)  # may send the task again, with a new future
            future.release()
            if record is not None:
                records.append(record)
        return records

    def _receive(self, task: _Task):
        """The record of a finished task, or None when it was sent again."""
        future = task.future
        if future.status == "finished":
            try:
                return future.result()
            except Exception as exc:  # the result was lost on its way back
                return self._failed(task, Status.KILLED, f"its result could not be fetched: {exc}")
        if future.status == "error":
            exc = future.exception()
            if isinstance(exc, distributed.KilledWorker):
                return self._failed(task, Status.KILLED, f"{_KILLED_REASON}: {exc}")
            return self._failed(task, Status.ERROR, f"{type(exc).__name__}: {exc}"[:2000])
        # cancelled by the cluster: its worker died with the last copy of the run's data,
        # or the cluster restarted
        if task.attempt == 1 and self._resend_context():
            task.attempt += 1
            self._launch(task)
            return None
        return self._failed(
            task,
            Status.KILLED,
            f"the cluster dropped it twice ({future.status}): a worker "
            "running it died, or the run's data was lost with a worker",
        )

    def _resend_context(self) -> bool:
        """Scatter the context again if every copy of it was lost; whether it is there now."""
        if self._ctx_future is not None and self._ctx_future.status == "finished":
            return True
        try:
            self._scatter(timeout=max(5.0, self.grace))
        except Exception as exc:
            logger.warning(
                "evoens: the run's data was lost on the cluster and could not be sent again: %s",
                exc,
            )
            return False
        logger.warning("evoens: the run's data was lost with its workers; sent it again")
        return True

    def _abandon_overdue(self) -> list:
        now = time.time()
        overdue = [
            t
            for t in self._running.values()
            if t.deadline is not None and now > t.deadline + self.grace and not t.future.done()
        ]
        if not overdue:
            return []
        keys = {t.key for t in overdue}
        where = {
            key: addr
            for addr, running in self._client.processing().items()
            for key in running
            if key in keys
        }
        records = []
        for task in overdue:
            del self._running[task.key]
            addr = where.get(task.key)
            reason = (
                f"abandoned: still running {now - task.deadline:.1f}s past its deadline; "
                f"its worker {addr} was restarted"
                if addr
                else (
                    f"abandoned: not started {now - task.deadline:.1f}s past its deadline "
                    "(no free worker)"
                )
            )
            records.append(self._failed(task, Status.TIMEOUT, reason))
        self._client.cancel([t.future for t in overdue], force=True)
        for addr in sorted(set(where.values())):
            self.restarts += 1
            self._cluster.restart_worker(addr)
        return records

    def _failed(self, task: _Task, status: Status, reason: str) -> Evaluation:
        return Evaluation(
            task.candidate, status, error=reason, wall_time=time.time() - task.submitted
        )
