"""The Dask cluster a run talks to: which one, how it is opened, how it is left.

Only an explicit cluster is used: a ``client`` passed to ``fit``, else a
``scheduler`` address, else a ``LocalCluster`` started here.  A global
(default) Dask client is never picked up, and no client opened here becomes
the default.  What evoens opens it closes; what the user passed stays open.
"""

from __future__ import annotations

import logging
import os
import threading
import time

import distributed

from .._budget import GRACE
from ..exceptions import ClusterError, InvalidInputError

__all__ = ["Cluster", "still_executing", "mark_executing"]

logger = logging.getLogger("evoens")

#: settings of the LocalCluster evoens starts (scoped to its creation): one retry
#: of a task whose worker died, no Active Memory Manager dropping the broadcast
#: replicas of the run's context, and no profiler sampling the task's thread
#: every 10 ms (nobody looks at a dashboard there).
LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": 1,
    "distributed.scheduler.active-memory-manager.start": False,
    "distributed.worker.profile.enabled": False,
}

#: settings held for the life of that LocalCluster, restored when it closes: a lost worker's
#: nanny is closed for good when no worker of its name is back ``lost-worker-timeout`` (15 s)
#: later, so a worker restarted twice about 15 s apart (a learner that ignores its deadline,
#: killed each time) can be caught mid-restart and the run goes on one worker short.
LOCAL_CLUSTER_LIFETIME_CONFIG = {"distributed.deploy.lost-worker-timeout": "1h"}

#: keys of the evoens tasks running in this (worker) process
_EXECUTING: set = set()


class mark_executing:
    """Within the block, this worker process counts ``key`` as running
    (see :func:`still_executing`)."""

    def __init__(self, key):
        self.key = key

    def __enter__(self):
        _EXECUTING.add(self.key)

    def __exit__(self, *exc):
        _EXECUTING.discard(self.key)


def still_executing(keys) -> list:
    """Which of ``keys`` this worker process is still running (called through ``client.run``)."""
    return sorted(set(keys) & _EXECUTING)


class Cluster:
    """A client to the run's cluster, and the cluster itself when evoens started it.

    Parameters are those of :class:`~evoens.backends.DaskBackend`.
    """

    def __init__(
        self,
        n_workers=1,
        scheduler=None,
        client=None,
        security=None,
        memory_limit=None,
        worker_timeout=60.0,
    ):
        self.n_workers = n_workers
        self.scheduler = scheduler
        self.user_client = client
        self.security = security
        self.memory_limit = memory_limit
        self.worker_timeout = worker_timeout
        self.client = None
        self.local = None  # the LocalCluster started here
        self._environ = None
        self._lifetime_config = None

    @property
    def address(self) -> str:
        return self.client.scheduler.address

    # -- opening ----------------------------------------------------------------
    def open(self) -> distributed.Client:
        """Connect (or start a ``LocalCluster``) and wait for a first worker."""
        if self.user_client is not None:
            self._check_same_scheduler()
            self.client = self.user_client
        elif self.scheduler is not None:
            try:
                self.client = distributed.Client(
                    self.scheduler, security=self.security, set_as_default=False
                )
            except (OSError, TimeoutError) as exc:
                raise ClusterError(
                    f"cannot connect to the Dask scheduler at scheduler={self.scheduler!r}: {exc}"
                ) from exc
        else:
            self._start_local_cluster()
        self._await_workers()
        return self.client

    def _check_same_scheduler(self) -> None:
        if self.scheduler is None:
            return
        theirs = self.user_client.scheduler.address
        if _resolve(self.scheduler) != _resolve(theirs):
            raise InvalidInputError(
                f"scheduler={self.scheduler!r} and the client passed to fit (connected to "
                f"{theirs!r}) name different clusters; give one of them"
            )

    def _start_local_cluster(self) -> None:
        import dask

        self._environ = dict(os.environ)
        self._lifetime_config = dask.config.set(LOCAL_CLUSTER_LIFETIME_CONFIG)
        kwargs = {} if self.security is None else {"security": self.security}
        try:
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self.local = distributed.LocalCluster(
                    n_workers=self.n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",
                    memory_limit="auto" if self.memory_limit is None else self.memory_limit,
                    **kwargs,
                )
        except BaseException:
            self._lifetime_config.__exit__(None, None, None)
            raise
        self.client = distributed.Client(self.local, set_as_default=False, **kwargs)

    def _await_workers(self) -> None:
        if self.client.nthreads():
            return
        logger.info(
            "evoens: waiting up to %.0fs for a Dask worker to join %s",
            self.worker_timeout,
            self.address,
        )
        try:
            self.client.wait_for_workers(1, timeout=self.worker_timeout)
        except TimeoutError:
            raise ClusterError(
                f"no Dask worker joined the scheduler at {self.address} "
                f"within worker_timeout={self.worker_timeout}s"
            ) from None

    # -- workers ------------------------------------------------------------------
    def threads(self) -> int:
        """Worker threads in the cluster now."""
        return sum(self.client.nthreads().values())

    def restart_worker(self, addr: str) -> None:
        """Stop a worker stuck in a task: kill its process (our cluster; its nanny starts a
        fresh one) or ask its nanny to restart it (in the background: that takes seconds)."""
        if self.local is not None and self._kill_worker_processes(
            lambda nanny: nanny.worker_address == addr
        ):
            return
        threading.Thread(target=_restart_workers, args=(self.client, [addr]), daemon=True).start()

    def _kill_worker_processes(self, which) -> bool:
        import psutil

        killed = False
        for nanny in list(self.local.workers.values()):
            pid = getattr(nanny, "pid", None)
            if pid and which(nanny):
                try:
                    psutil.Process(pid).kill()
                    killed = True
                except psutil.Error:
                    pass
        return killed

    # -- closing ------------------------------------------------------------------
    def close(self, abandoned: dict, grace: float = GRACE) -> None:
        """Close what was opened here.

        ``abandoned`` maps the keys of tasks still running to their deadlines;
        on a cluster evoens did not start, workers still running one ``grace``
        seconds past its deadline are restarted.
        """
        if self.client is None:
            return
        client, self.client = self.client, None
        if self.local is not None:
            if abandoned:
                self._kill_worker_processes(
                    lambda nanny: True
                )  # a graceful close waits on stuck tasks
            client.close()
            self.local.close()
            self.local = None
            _restore_environ(self._environ)
            self._lifetime_config.__exit__(None, None, None)
            return
        timed = {k: d for k, d in abandoned.items() if d is not None}
        if timed:  # stop stragglers in the background, so fit returns at once
            threading.Thread(
                target=self._stop_stragglers, args=(client, timed, grace), daemon=True
            ).start()
        elif client is not self.user_client:
            client.close()

    def _stop_stragglers(self, client, deadlines: dict, grace: float) -> None:
        """Restart the workers still running abandoned tasks ``grace`` seconds past
        their deadlines.

        A task that honours its deadline has stopped by then and costs nothing.
        """
        try:
            time.sleep(min(60.0, max(0.0, max(deadlines.values()) + grace - time.time())))
            busy = [
                a
                for a, running in client.run(
                    still_executing, list(deadlines), on_error="return"
                ).items()
                if isinstance(running, list) and running
            ]
            if busy:
                _restart_workers(client, busy)
        except Exception as exc:
            logger.debug("evoens: stopping abandoned tasks failed: %s", exc)
        finally:
            if client is not self.user_client:
                client.close()


def _restart_workers(client, addresses) -> None:
    """Ask the workers' nannies to restart them; a cluster closing meanwhile is no error."""
    try:
        client.restart_workers(addresses, timeout=60, raise_for_error=False)
    except Exception as exc:
        logger.debug("evoens: restarting workers %s failed: %s", addresses, exc)


def _resolve(address: str) -> str:
    try:
        return distributed.comm.resolve_address(address)
    except Exception:
        return address


def _restore_environ(before) -> None:
    """Undo what starting a LocalCluster changed in this process's environment.

    A Dask nanny sets ``OMP_NUM_THREADS=1`` and friends in the parent process
    too; they would outlive ``fit`` and slow every later library call.
    """
    if before is None:
        return
    for name in [k for k in os.environ if k not in before]:
        del os.environ[name]
    for name, value in before.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
