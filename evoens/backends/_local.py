"""Local worker processes, each fed one candidate at a time.

Workers are started through loky's process context, as joblib starts its
own: a fresh interpreter that never re-imports the user's ``__main__``, so
plain scripts, ``python -``, ``python -c`` and notebooks need no
``if __name__ == "__main__":`` guard, and functions or classes defined there
(a custom scorer, a custom learner) travel by value with cloudpickle.

The run's data is written once to a temporary folder with joblib and
memory-mapped by every worker, so it is not shipped per task.  Each worker
has its own pipe, so the driver knows which candidate a worker holds: when
one runs past its deadline (plus a grace period for the cooperative stop) or
dies, only that worker is killed or replaced and only that candidate is
recorded as failed.

Where this process may not start children (the daemonic worker of a
``multiprocessing.Pool``), the backend evaluates in this process instead,
with cooperative deadlines only, and logs that once.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
import time
from multiprocessing.connection import wait as wait_connections

import cloudpickle
import joblib
from joblib.externals.loky.backend.context import get_context

from .._budget import GRACE
from ..evaluation import Evaluation, Status, evaluate
from ._base import Backend
from ._sequential import SequentialBackend

__all__ = ["LocalBackend"]

logger = logging.getLogger("evoens")


#: seconds a parked worker waits for the next fit before it exits
PARK_TIMEOUT = 300.0
#: a worker's word that its evaluation has ended and its record is on the way
FINISHING = b"\x00"
#: seconds a finished evaluation's record may take to arrive (pickling and sending
#: eight deep boosters' fold models is 100-200 MB and takes seconds) before its
#: worker counts as hung
TRANSFER_LIMIT = 60.0


def _worker_main(conn):
    """Serve one fit's evaluations at a time; between fits, parked, until :data:`PARK_TIMEOUT`.

    Messages (cloudpickled): ``("context", data_path, ctx_bytes)`` starts a
    fit, ``("evaluate", candidate, deadline)`` asks for a record back,
    ``("park",)`` ends the fit, an empty message ends the worker.  The worker
    answers a context with an empty message (ready), an evaluation with
    :data:`FINISHING` as soon as it has ended, then its record.
    """
    ctx = None
    while True:
        if ctx is None and not conn.poll(PARK_TIMEOUT):
            return
        try:
            msg = conn.recv_bytes()
        except EOFError:
            return
        if not msg:
            return
        kind, *args = cloudpickle.loads(msg)
        if kind == "context":
            data_path, ctx_bytes = args
            try:
                data = joblib.load(data_path, mmap_mode="r")
            except OSError:  # the fit that sent it has ended and removed it: nothing to do
                return
            ctx = dataclasses.replace(cloudpickle.loads(ctx_bytes), data=data)
            conn.send_bytes(
                b""
            )  # ready: a candidate's deadline starts when it can run, not while imports load
        elif kind == "park":
            ctx = None
        else:
            candidate, deadline = args
            record = evaluate(candidate, ctx, deadline)
            conn.send_bytes(FINISHING)  # pickling large models may outlast the grace
            conn.send_bytes(cloudpickle.dumps(record))


def _kill(process) -> None:
    """SIGKILL (loky's processes have no ``kill()``); a process already gone is fine."""
    try:
        os.kill(process.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    except (ProcessLookupError, TypeError):
        pass


_SAID = set()


def _say_once(message: str) -> None:
    """A log line, once per process: a warning would break ``-W error`` runs of a
    fallback that works."""
    if message not in _SAID:
        _SAID.add(message)
        logger.warning(message)


def nested_core_share() -> int | None:
    """Cores joblib gave this process when it is a joblib (loky) worker, else None.

    joblib runs each of its ``n_jobs`` workers with its thread pools limited to
    ``cpu_count // n_jobs`` (``OMP_NUM_THREADS``): an evoens fit inside
    ``GridSearchCV(n_jobs=...)`` keeps to that share instead of starting
    ``n_jobs`` workers of its own in each of them.
    """
    from joblib.externals.loky import process_executor

    if (
        getattr(process_executor, "_CURRENT_DEPTH", 0) == 0
    ):  # loky's nesting depth: > 0 in its workers
        return None
    try:
        return max(1, int(os.environ.get("OMP_NUM_THREADS", "")))
    except ValueError:
        return None


def can_start_processes() -> bool:
    """False in a daemonic process (a ``multiprocessing.Pool`` worker), which may not
    have children."""
    return not multiprocessing.current_process().daemon


@dataclasses.dataclass
class _Worker:
    process: object
    conn: object
    task: tuple | None = None  # (candidate, deadline, started)
    ready: bool = False  # has loaded this fit's context

    def send(self, *msg) -> bool:
        try:
            self.conn.send_bytes(cloudpickle.dumps(msg))
            return True
        except OSError:
            return False  # it died; wait() records the loss and replaces it


class _ParkedWorkers:
    """Idle workers kept warm between fits in this process, as joblib's reusable
    executor keeps its own.

    A worker costs an interpreter start and the imports of the learners
    (about 3 s); a ``GridSearchCV`` or a notebook fits many times.  A parked
    worker exits on its own after :data:`PARK_TIMEOUT` seconds unused.  A
    forked child never takes its parent's workers.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._pid = os.getpid()
        atexit.register(self.close)

    def take(self, n: int) -> list[_Worker]:
        with self._lock:
            if self._pid != os.getpid():
                self._workers, self._pid = [], os.getpid()
            alive = [w for w in self._workers if w.process.is_alive()]
            for w in self._workers:
                if w not in alive:
                    w.conn.close()
            taken, self._workers = alive[:n], alive[n:]
            return taken

    def put(self, worker: _Worker) -> None:
        with self._lock:
            if (
                self._pid == os.getpid()
                and len(self._workers) < (os.cpu_count() or 1)
                and worker.send("park")
            ):
                self._workers.append(worker)
                return
        _stop(worker)

    def close(self) -> None:
        with self._lock:
            workers, self._workers = self._workers, []
        for w in workers:
            _stop(w)


def _stop(worker: _Worker) -> None:
    try:
        worker.conn.send_bytes(b"")
    except OSError:
        pass
    worker.process.join(timeout=2)
    if worker.process.is_alive():
        _kill(worker.process)
        worker.process.join(timeout=2)
    worker.conn.close()


_PARKED = _ParkedWorkers()


class LocalBackend(Backend):
    """``n_workers`` processes on this machine.

    Parameters
    ----------
    n_workers : int
        Worker processes (each learner gets ``ctx.n_threads`` threads).
    grace : float
        Seconds past a deadline before a worker that has not stopped on its
        own is killed and replaced.
    """

    def __init__(self, n_workers: int = 1, grace: float = GRACE):
        self.capacity = int(n_workers)
        self.grace = grace
        self._workers: list[_Worker] = []
        self._inline: SequentialBackend | None = None
        self._tmp = None
        self.restarts = 0
        self.returned = 0

    # -- lifecycle --------------------------------------------------------
    def _start(self, ctx) -> None:
        if not can_start_processes():
            _say_once(
                "evoens: this process is daemonic and may not start worker processes; "
                "evaluating in this process (n_jobs=1, deadlines cooperative only)"
            )
            self._inline = SequentialBackend()
            self.capacity = self._inline.capacity
            self._inline.device_plan, self._inline.ctx = self.device_plan, ctx  # decided here
            return
        share = nested_core_share()
        if share is not None and share < self.capacity:
            _say_once(
                f"evoens: inside a joblib worker given {share} core(s); "
                f"starting {share} worker process(es) instead of {self.capacity}"
            )
            self.capacity = share
        self._tmp = tempfile.mkdtemp(prefix="evoens-")
        self._data_path = os.path.join(self._tmp, "data.joblib")
        joblib.dump(ctx.data, self._data_path)
        self._ctx_bytes = cloudpickle.dumps(dataclasses.replace(ctx, data=None))
        self._workers = _PARKED.take(self.capacity)
        self._workers += [self._spawn() for _ in range(self.capacity - len(self._workers))]
        for w in self._workers:
            w.ready = False
            w.send("context", self._data_path, self._ctx_bytes)

    def _spawn(self) -> _Worker:
        mp = get_context("loky")
        parent, child = mp.Pipe()
        proc = mp.Process(target=_worker_main, args=(child,), daemon=True)
        proc.start()
        child.close()
        return _Worker(proc, parent)

    def shutdown(self) -> list:
        """Abandon what runs (those workers are killed); park the idle workers for the next fit."""
        if self._inline is not None:
            return self._inline.shutdown()
        abandoned = []
        for w in self._workers:
            if w.task is not None:
                abandoned.append(
                    self._failed(
                        w, Status.KILLED, "abandoned: the run stopped while it was running"
                    )
                )
                _kill(w.process)
                _stop(w)
            elif not w.ready:  # still loading this fit's data, which goes now: not reusable
                _kill(w.process)
                _stop(w)
            else:
                _PARKED.put(w)
        self._workers = []
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        return abandoned

    # -- work -------------------------------------------------------------
    @property
    def n_running(self) -> int:
        if self._inline is not None:
            return self._inline.n_running
        return sum(w.task is not None for w in self._workers)

    @property
    def idle(self) -> int:
        if self._inline is not None:
            return self._inline.idle
        return sum(w.task is None and w.ready for w in self._workers)

    def submit(self, candidate, deadline) -> None:
        if self._inline is not None:
            return self._inline.submit(candidate, deadline)
        worker = next(w for w in self._workers if w.task is None and w.ready)
        worker.task = (candidate, deadline, time.time())
        worker.send("evaluate", candidate, deadline)

    def wait(self, timeout: float) -> list:
        if self._inline is not None:
            return self._inline.wait(timeout)
        busy = [w for w in self._workers if w.task is not None]
        starting = [w for w in self._workers if not w.ready]
        if not busy and not starting:
            time.sleep(min(timeout, 0.05))
            return []
        now = time.time()
        kill_times = [w.task[1] + self.grace for w in busy if w.task[1] is not None]
        limit = min([timeout] + [max(0.0, t - now) for t in kill_times])
        watched = busy + starting
        ready = set(
            wait_connections(
                [w.conn for w in watched] + [w.process.sentinel for w in watched], timeout=limit
            )
        )
        finished = []
        for i, w in enumerate(self._workers):
            if w.task is None and w.ready:
                continue
            if w.conn in ready:
                try:
                    msg = w.conn.recv_bytes()
                except (EOFError, OSError):
                    msg = None
                if msg == b"":
                    w.ready = True
                    continue
                if msg == FINISHING:  # computed in time: no kill while the record travels
                    candidate, deadline, started = w.task
                    if deadline is not None:
                        deadline = time.time() + TRANSFER_LIMIT - self.grace
                    w.task = (candidate, deadline, started)
                    continue
                if msg is not None:
                    w.task = None
                    self.returned += 1
                    finished.append(cloudpickle.loads(msg))
                    continue
            if not w.process.is_alive():
                code = w.process.exitcode
                if w.task is None:  # died while starting
                    self._replace(i)
                    continue
                finished.append(
                    self._failed(
                        w,
                        Status.KILLED,
                        f"worker process died (exit code {code}): "
                        "killed, out of memory or a crash in native code",
                    )
                )
                self._replace(i)
            elif (
                w.task is not None
                and w.task[1] is not None
                and time.time() > w.task[1] + self.grace
            ):
                finished.append(
                    self._failed(w, Status.TIMEOUT, "killed: still running past its deadline")
                )
                _kill(w.process)
                self._replace(i)
        return finished

    def _failed(self, worker: _Worker, status: Status, reason: str) -> Evaluation:
        candidate, _, started = worker.task
        worker.task = None
        return Evaluation(
            candidate,
            status,
            error=reason,
            wall_time=time.time() - started,
            worker=str(worker.process.pid),
        )

    def _replace(self, i: int) -> None:
        if self.returned == 0 and self.restarts >= 2 * self.capacity + 4:
            raise RuntimeError(
                "evoens worker processes keep dying before finishing any evaluation "
                f"({self.restarts} restarts); the last one exited with code "
                f"{self._workers[i].process.exitcode}. Try backend='sequential' to see the "
                "error in this process."
            )
        old = self._workers[i]
        old.process.join(timeout=1)
        old.conn.close()
        self._workers[i] = self._spawn()
        self._workers[i].send("context", self._data_path, self._ctx_bytes)
        self.restarts += 1
